//! Validation of an event's payload, on borrowed raw JSON.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::{
    error::excerpt, events::Payload, json::Fields, suggestions, EventName, KnownEvent, Path,
    PayloadError, Result,
};

/// What to do with a well-formed event name that is not in the catalog.
///
/// The server's `[ingest] unknown_events` setting: `"reject"` (the default) or `"relay"`.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, Hash, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownEvents {
    /// Refuse it with [`PayloadError::UnknownEvent`], which suggests the closest known names.
    #[default]
    Reject,
    /// Let it through, marked by [`Event::known`] returning `None`. Its payload is still
    /// validated against its vertical's data structure when its first segment names a known
    /// vertical (`wpcore_layer.new_thing.started`); otherwise (a namespace such as
    /// `fluent_community.*`) it only has to be a JSON object.
    Relay,
}

impl UnknownEvents {
    /// `reject` or `relay`.
    pub fn as_str(self) -> &'static str {
        match self {
            UnknownEvents::Reject => "reject",
            UnknownEvents::Relay => "relay",
        }
    }
}

impl fmt::Display for UnknownEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is neither `reject` nor `relay`.
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
#[error("expected `reject` or `relay`")]
pub struct UnknownEventsError;

impl FromStr for UnknownEvents {
    type Err = UnknownEventsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "reject" => Ok(UnknownEvents::Reject),
            "relay" => Ok(UnknownEvents::Relay),
            _ => Err(UnknownEventsError),
        }
    }
}

/// A validated event: its name, and its payload still as the bytes received.
///
/// Broadcast [`Event::data`] as is: validation never re-serializes it.
#[derive(Clone, Debug)]
pub struct Event<'a> {
    name: EventName,
    known: Option<KnownEvent>,
    data: &'a RawValue,
    inner: &'a RawValue,
    wrapped: bool,
    payload: Option<Payload<'a>>,
}

impl<'a> Event<'a> {
    /// The event name.
    pub fn name(&self) -> &EventName {
        &self.name
    }

    /// The catalog entry; `None` marks an unknown name let through by [`UnknownEvents::Relay`].
    pub fn known(&self) -> Option<KnownEvent> {
        self.known
    }

    /// Whether this is an unknown name let through by [`UnknownEvents::Relay`].
    pub fn is_relayed_unknown(&self) -> bool {
        self.known.is_none()
    }

    /// The payload exactly as received (wrapper included): what to broadcast.
    pub fn data(&self) -> &'a RawValue {
        self.data
    }

    /// The payload object that was validated: [`Event::data`] itself, or its `data` field
    /// when the payload arrived wrapped as `{"event": ..., "data": {...}}`.
    pub fn inner(&self) -> &'a RawValue {
        self.inner
    }

    /// Whether the payload arrived wrapped as `{"event": ..., "data": {...}}`.
    pub fn is_wrapped(&self) -> bool {
        self.wrapped
    }

    /// The typed payload; `None` only for a relayed unknown name outside the known verticals.
    pub fn payload(&self) -> Option<&Payload<'a>> {
        self.payload.as_ref()
    }
}

/// Validates the payload `data` of the event `name`, borrowing from `data`.
///
/// `data` is the request's `data` field: either the payload object itself
/// (`{"origin": ..., "vertical": ..., ...}`) or, as in the seed's curl example, a wrapper
/// `{"event": "<name>", "data": {...payload...}}`. An object with a `data` field and no
/// `origin` is a wrapper; its `event`, when present, must equal `name`.
///
/// Errors name the field relative to the request body: `event`, `data.origin`,
/// `data.data.check_status_endpoint`...
///
/// ```
/// use relay_core::{validate, EventName, UnknownEvents};
/// use serde_json::value::RawValue;
///
/// let name = EventName::try_from("backup.backup.started").unwrap();
/// let text = r#"{"origin":"wpsec","vertical":"backup","status":"success","message":"Backup started"}"#;
/// let data: &RawValue = serde_json::from_str(text).unwrap();
/// let event = validate(&name, data, UnknownEvents::Reject).unwrap();
/// assert_eq!(event.data().get(), text);
/// ```
pub fn validate<'a>(
    name: &EventName,
    data: &'a RawValue,
    unknown: UnknownEvents,
) -> Result<Event<'a>> {
    validate_at(
        name,
        &Path::root().child("event"),
        data,
        Path::root().child("data"),
        unknown,
    )
}

/// [`validate`], with the paths of the name and of the data given.
pub(crate) fn validate_at<'a>(
    name: &EventName,
    name_path: &Path,
    data: &'a RawValue,
    data_path: Path,
    unknown: UnknownEvents,
) -> Result<Event<'a>> {
    let known = name.known();
    if known.is_none() && unknown == UnknownEvents::Reject {
        return Err(PayloadError::UnknownEvent {
            path: name_path.clone(),
            name: name.clone(),
            suggestions: suggestions(name.as_str()),
        });
    }
    let outer = Fields::new(data, data_path)?;
    let wrapped = !outer.contains("origin") && outer.contains("data");
    let fields = if wrapped {
        if outer.contains("event") {
            let found = outer.required_str("event")?;
            if found != name.as_str() {
                return Err(PayloadError::EventMismatch {
                    path: outer.path_of("event"),
                    expected: name.clone(),
                    found: excerpt(&found),
                });
            }
        }
        // unwrap-free: `contains("data")` was checked above.
        let inner = outer
            .raw("data")
            .ok_or_else(|| PayloadError::MissingField {
                path: outer.path_of("data"),
            })?;
        Fields::new(inner, outer.path_of("data"))?
    } else {
        outer
    };
    let payload = if known.is_some() || name.vertical().is_known() {
        Some(Payload::decode(&fields, name)?)
    } else {
        None
    };
    Ok(Event {
        name: name.clone(),
        known,
        data,
        inner: fields.as_raw(),
        wrapped,
        payload,
    })
}
