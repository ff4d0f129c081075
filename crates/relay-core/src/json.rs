//! Borrowing JSON access with path-aware errors.
//!
//! Objects are decoded in one pass into `(key, &RawValue)` pairs that point into the input, and
//! each field is then decoded on its own, so an error names the field and nothing is
//! re-serialized.

use std::{borrow::Cow, collections::BTreeSet, fmt};

use serde::{
    de::{self, MapAccess, Visitor},
    Deserialize, Deserializer,
};
use serde_json::value::RawValue;
use url::Url;

use crate::{error::excerpt, Expected, JsonType, Path, PayloadError, Result, Timestamp, UrlError};

/// Unknown fields of an object, kept as received: each key with its raw value.
pub type Extra<'a> = Vec<(Cow<'a, str>, &'a RawValue)>;

/// The JSON type of a raw value, from its first byte.
pub(crate) fn json_type(raw: &RawValue) -> JsonType {
    match raw.get().trim_start().as_bytes().first() {
        Some(b'{') => JsonType::Object,
        Some(b'[') => JsonType::Array,
        Some(b'"') => JsonType::String,
        Some(b't' | b'f') => JsonType::Bool,
        Some(b'n') => JsonType::Null,
        _ => JsonType::Number,
    }
}

/// A string that borrows from the input when it has no escapes.
struct Str<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct StrVisitor;

        impl<'de> Visitor<'de> for StrVisitor {
            type Value = Str<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: de::Error>(
                self,
                v: &'de str,
            ) -> std::result::Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E: de::Error>(self, v: String) -> std::result::Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }

        deserializer.deserialize_str(StrVisitor)
    }
}

/// The entries of a JSON object, in document order.
struct Entries<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct EntriesVisitor;

        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }

            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
                    let value: &'de RawValue = map.next_value()?;
                    entries.push((key, value));
                }
                Ok(Entries(entries))
            }
        }

        deserializer.deserialize_map(EntriesVisitor)
    }
}

fn invalid_json(path: &Path, e: &serde_json::Error) -> PayloadError {
    PayloadError::InvalidJson {
        path: path.clone(),
        line: e.line(),
        column: e.column(),
    }
}

/// Checks that `text` is one well-formed JSON value and returns it, borrowed.
pub(crate) fn raw_value<'a>(text: &'a str, path: &Path) -> Result<&'a RawValue> {
    serde_json::from_str::<&RawValue>(text).map_err(|e| invalid_json(path, &e))
}

/// A JSON object being decoded, with the path of the object for errors.
pub(crate) struct Fields<'a> {
    raw: &'a RawValue,
    path: Path,
    entries: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl<'a> Fields<'a> {
    /// Decodes the object `raw` found at `path`.
    pub(crate) fn new(raw: &'a RawValue, path: Path) -> Result<Self> {
        let found = json_type(raw);
        if found != JsonType::Object {
            return Err(PayloadError::WrongType {
                path,
                expected: Expected::Object,
                found,
            });
        }
        let Entries(entries) =
            serde_json::from_str(raw.get()).map_err(|e| invalid_json(&path, &e))?;
        let mut seen = BTreeSet::new();
        for (key, _) in &entries {
            if !seen.insert(&**key) {
                return Err(PayloadError::DuplicateField {
                    path: path.child(key),
                });
            }
        }
        Ok(Fields { raw, path, entries })
    }

    /// Decodes the JSON text `text`, which must be an object; `path` is where the text is.
    pub(crate) fn parse(text: &'a str, path: Path) -> Result<Self> {
        let raw = raw_value(text, &path)?;
        Fields::new(raw, path)
    }

    /// The object as received.
    pub(crate) fn as_raw(&self) -> &'a RawValue {
        self.raw
    }

    /// The path of `key` in this object.
    pub(crate) fn path_of(&self, key: &str) -> Path {
        self.path.child(key)
    }

    /// Whether `key` is present (even as `null`).
    pub(crate) fn contains(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k == key)
    }

    /// The raw value of `key`, if present (even as `null`).
    pub(crate) fn raw(&self, key: &str) -> Option<&'a RawValue> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// The raw value of `key`; `None` when absent or `null`.
    fn present(&self, key: &str) -> Option<&'a RawValue> {
        self.raw(key).filter(|raw| json_type(raw) != JsonType::Null)
    }

    fn wrong_type(&self, key: &str, expected: Expected, raw: &RawValue) -> PayloadError {
        PayloadError::WrongType {
            path: self.path_of(key),
            expected,
            found: json_type(raw),
        }
    }

    fn string_at(&self, key: &str, raw: &'a RawValue) -> Result<Cow<'a, str>> {
        match serde_json::from_str::<Str<'a>>(raw.get()) {
            Ok(Str(s)) => Ok(s),
            Err(_) => Err(self.wrong_type(key, Expected::String, raw)),
        }
    }

    /// A required string; `null` counts as the wrong type.
    pub(crate) fn required_str(&self, key: &str) -> Result<Cow<'a, str>> {
        match self.raw(key) {
            None => Err(PayloadError::MissingField {
                path: self.path_of(key),
            }),
            Some(raw) => self.string_at(key, raw),
        }
    }

    /// A required string that is not empty or blank and at most `max` bytes long.
    pub(crate) fn required_text(&self, key: &str, max: usize) -> Result<Cow<'a, str>> {
        let s = self.required_str(key)?;
        self.check_text(key, &s, max)?;
        Ok(s)
    }

    fn check_text(&self, key: &str, s: &str, max: usize) -> Result<()> {
        if s.trim().is_empty() {
            return Err(PayloadError::Empty {
                path: self.path_of(key),
            });
        }
        if s.len() > max {
            return Err(PayloadError::TooLong {
                path: self.path_of(key),
                len: s.len(),
                max,
            });
        }
        Ok(())
    }

    /// An optional string (absent or `null` is `None`).
    pub(crate) fn optional_str(&self, key: &str) -> Result<Option<Cow<'a, str>>> {
        self.present(key)
            .map(|raw| self.string_at(key, raw))
            .transpose()
    }

    /// An optional string that, when present, is not empty or blank and at most `max` bytes.
    pub(crate) fn optional_text(&self, key: &str, max: usize) -> Result<Option<Cow<'a, str>>> {
        let s = self.optional_str(key)?;
        if let Some(s) = &s {
            self.check_text(key, s, max)?;
        }
        Ok(s)
    }

    /// An optional number.
    pub(crate) fn optional_number(&self, key: &str) -> Result<Option<f64>> {
        let Some(raw) = self.present(key) else {
            return Ok(None);
        };
        if json_type(raw) != JsonType::Number {
            return Err(self.wrong_type(key, Expected::Number, raw));
        }
        serde_json::from_str::<f64>(raw.get())
            .map(Some)
            .map_err(|_| self.wrong_type(key, Expected::Number, raw))
    }

    /// An optional number within `min..=max`.
    pub(crate) fn optional_number_in(&self, key: &str, min: f64, max: f64) -> Result<Option<f64>> {
        let value = self.optional_number(key)?;
        match value {
            Some(v) if !(min..=max).contains(&v) => Err(PayloadError::OutOfRange {
                path: self.path_of(key),
                value: v,
                min,
                max,
            }),
            _ => Ok(value),
        }
    }

    /// An optional string or number, kept raw.
    pub(crate) fn optional_string_or_number(&self, key: &str) -> Result<Option<&'a RawValue>> {
        let Some(raw) = self.present(key) else {
            return Ok(None);
        };
        match json_type(raw) {
            JsonType::String | JsonType::Number => Ok(Some(raw)),
            _ => Err(self.wrong_type(key, Expected::StringOrNumber, raw)),
        }
    }

    /// An optional date-time string.
    pub(crate) fn optional_timestamp(&self, key: &str) -> Result<Option<Timestamp>> {
        let Some(s) = self.optional_str(key)? else {
            return Ok(None);
        };
        s.parse::<Timestamp>()
            .map(Some)
            .map_err(|_| PayloadError::InvalidTimestamp {
                path: self.path_of(key),
                found: excerpt(&s),
            })
    }

    /// An optional absolute `http(s)` URL with a host.
    pub(crate) fn optional_url(&self, key: &str) -> Result<Option<Url>> {
        let Some(s) = self.optional_str(key)? else {
            return Ok(None);
        };
        let invalid = |reason| PayloadError::InvalidUrl {
            path: self.path_of(key),
            reason,
        };
        let url = Url::parse(s.trim()).map_err(|e| invalid(UrlError::Parse(e)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(UrlError::Scheme));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid(UrlError::NoHost));
        }
        Ok(Some(url))
    }

    /// An optional nested object.
    pub(crate) fn optional_object(&self, key: &str) -> Result<Option<Fields<'a>>> {
        self.present(key)
            .map(|raw| Fields::new(raw, self.path_of(key)))
            .transpose()
    }

    /// The entries whose key is not in `known`, as received.
    pub(crate) fn extra(&self, known: &[&str]) -> Extra<'a> {
        self.entries
            .iter()
            .filter(|(k, _)| !known.contains(&&**k))
            .cloned()
            .collect()
    }
}
