//! The errors of this crate: small, comparable, carrying data.

use std::fmt;

use crate::{EventName, KnownEvent, Path, Vertical};

/// Why a string is not a valid [`EventName`] (or [`EventPattern`](crate::EventPattern) prefix).
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EventNameError {
    /// The name is empty. Send a name such as `backup.backup.started`.
    #[error("the event name is empty")]
    Empty,
    /// The name is longer than Pusher allows. Shorten it.
    #[error("the event name is {len} bytes long, at most {max} are allowed")]
    TooLong {
        /// The length found, in bytes.
        len: usize,
        /// The maximum length, in bytes.
        max: usize,
    },
    /// The name holds a character outside `a-z`, `0-9`, `_`, `-` and `.`. Remove it.
    #[error("the event name has {ch:?} at byte {at}; only a-z, 0-9, `_`, `-` and `.` are allowed")]
    InvalidChar {
        /// The offending character.
        ch: char,
        /// Its byte offset.
        at: usize,
    },
    /// Two dots follow each other, or the name starts or ends with a dot.
    #[error("segment {index} of the event name is empty")]
    EmptySegment {
        /// The 0-based index of the empty segment.
        index: usize,
    },
    /// The name has too few dot-separated segments; names are `vertical.subject.action`.
    #[error("the event name has {found} segment(s), at least {min} are needed (vertical.subject.action)")]
    TooFewSegments {
        /// How many segments the name has.
        found: usize,
        /// How many are needed.
        min: usize,
    },
}

/// Why a string is not a valid [`EventPattern`](crate::EventPattern).
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PatternError {
    /// The pattern is empty. Use `*` for every event.
    #[error("the pattern is empty; use `*` for every event")]
    Empty,
    /// The prefix of a `prefix.*` pattern, or the exact name, is not well formed.
    #[error("invalid pattern: {0}")]
    Invalid(#[from] EventNameError),
}

/// The JSON type of a value, as found in a payload.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum JsonType {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool,
    /// A number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

impl fmt::Display for JsonType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JsonType::Null => "null",
            JsonType::Bool => "a boolean",
            JsonType::Number => "a number",
            JsonType::String => "a string",
            JsonType::Array => "an array",
            JsonType::Object => "an object",
        })
    }
}

/// What a field should have held.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum Expected {
    /// A JSON string.
    String,
    /// A JSON number.
    Number,
    /// A JSON object.
    Object,
    /// A JSON string or number.
    StringOrNumber,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expected::String => "a string",
            Expected::Number => "a number",
            Expected::Object => "an object",
            Expected::StringOrNumber => "a string or a number",
        })
    }
}

/// Why a URL field is not an absolute `http(s)` URL.
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// The text does not parse as an absolute URL.
    #[error("{0}")]
    Parse(url::ParseError),
    /// The scheme is neither `http` nor `https`.
    #[error("the scheme must be http or https")]
    Scheme,
    /// The URL has no host.
    #[error("the URL has no host")]
    NoHost,
}

/// Why a request body or event payload was refused. Every variant says where (a [`Path`] such
/// as `data.check_status_endpoint`) and what is wrong; the server answers 400 with its
/// `Display`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// The text is not well-formed JSON. The sender must fix its encoder.
    #[error("{path}: invalid JSON at line {line}, column {column}")]
    InvalidJson {
        /// Where the JSON text is (the root for a request body).
        path: Path,
        /// 1-based line of the syntax error.
        line: usize,
        /// 1-based column of the syntax error.
        column: usize,
    },
    /// A required field is absent. The sender must add it.
    #[error("{path}: missing required field")]
    MissingField {
        /// The missing field.
        path: Path,
    },
    /// A field has the wrong JSON type.
    #[error("{path}: expected {expected}, found {found}")]
    WrongType {
        /// The field.
        path: Path,
        /// What it must hold.
        expected: Expected,
        /// What it holds.
        found: JsonType,
    },
    /// A string field that must not be empty is empty (or only whitespace).
    #[error("{path}: must not be empty")]
    Empty {
        /// The field.
        path: Path,
    },
    /// A string field is too long.
    #[error("{path}: {len} bytes long, at most {max} are allowed")]
    TooLong {
        /// The field.
        path: Path,
        /// Its length in bytes.
        len: usize,
        /// The maximum, in bytes.
        max: usize,
    },
    /// An object has the same key twice; receivers would disagree on which one counts.
    #[error("{path}: the field appears more than once")]
    DuplicateField {
        /// The repeated field.
        path: Path,
    },
    /// The event name is not of the form `vertical.subject.action`.
    #[error("{path}: {source}")]
    InvalidEventName {
        /// Where the name is (`event`, or `data.event` in a wrapped payload).
        path: Path,
        /// What is wrong with it.
        source: EventNameError,
    },
    /// The event name is well formed but not in the catalog, and unknown events are rejected.
    /// The sender probably made a typo: `suggestions` lists the closest known names.
    #[error("{path}: unknown event `{name}`{}", did_you_mean(.suggestions))]
    UnknownEvent {
        /// Where the name is (`event`).
        path: Path,
        /// The unknown name.
        name: EventName,
        /// The closest known names, best first (possibly none).
        suggestions: Vec<KnownEvent>,
    },
    /// The payload's `vertical` does not belong to the event.
    #[error("{path}: `{found}` does not match event `{event}`, whose vertical is `{expected}`")]
    VerticalMismatch {
        /// The `vertical` field.
        path: Path,
        /// The event.
        event: EventName,
        /// The event's vertical.
        expected: Vertical,
        /// The `vertical` as sent (truncated if long).
        found: String,
    },
    /// A wrapped payload names another event than the request does.
    #[error("{path}: `{found}` differs from the request's event `{expected}`")]
    EventMismatch {
        /// The wrapper's `event` field.
        path: Path,
        /// The request's event.
        expected: EventName,
        /// The wrapper's event as sent (truncated if long).
        found: String,
    },
    /// A URL field is not an absolute `http(s)` URL.
    #[error("{path}: must be an absolute http(s) URL: {reason}")]
    InvalidUrl {
        /// The field.
        path: Path,
        /// What is wrong with it.
        reason: UrlError,
    },
    /// A date-time field is neither `YYYY-MM-DD HH:MM:SS` nor RFC 3339.
    #[error("{path}: `{found}` is not a date and time like `2025-06-26 02:10:37` or RFC 3339")]
    InvalidTimestamp {
        /// The field.
        path: Path,
        /// The value as sent (truncated if long).
        found: String,
    },
    /// A number is outside its range.
    #[error("{path}: {value} is outside {min}..={max}")]
    OutOfRange {
        /// The field.
        path: Path,
        /// The value sent.
        value: f64,
        /// The smallest allowed value.
        min: f64,
        /// The largest allowed value.
        max: f64,
    },
    /// A field of a closed set holds a value outside it.
    #[error("{path}: `{found}` is not one of {}", one_of(.expected))]
    InvalidValue {
        /// The field.
        path: Path,
        /// The value as sent (truncated if long).
        found: String,
        /// The allowed values.
        expected: &'static [&'static str],
    },
}

impl PayloadError {
    /// Where the problem is.
    pub fn path(&self) -> &Path {
        match self {
            PayloadError::InvalidJson { path, .. }
            | PayloadError::MissingField { path }
            | PayloadError::WrongType { path, .. }
            | PayloadError::Empty { path }
            | PayloadError::TooLong { path, .. }
            | PayloadError::DuplicateField { path }
            | PayloadError::InvalidEventName { path, .. }
            | PayloadError::UnknownEvent { path, .. }
            | PayloadError::VerticalMismatch { path, .. }
            | PayloadError::EventMismatch { path, .. }
            | PayloadError::InvalidUrl { path, .. }
            | PayloadError::InvalidTimestamp { path, .. }
            | PayloadError::OutOfRange { path, .. }
            | PayloadError::InvalidValue { path, .. } => path,
        }
    }
}

/// The longest excerpt of a sent value kept in an error.
const EXCERPT_LEN: usize = 100;

/// `s`, cut to at most [`EXCERPT_LEN`] bytes on a character boundary, for an error message.
pub(crate) fn excerpt(s: &str) -> String {
    if s.len() <= EXCERPT_LEN {
        return s.to_owned();
    }
    let mut end = EXCERPT_LEN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn did_you_mean(suggestions: &[KnownEvent]) -> String {
    match suggestions {
        [] => String::new(),
        [one] => format!("; did you mean `{one}`?"),
        [init @ .., last] => {
            let init: Vec<String> = init.iter().map(|s| format!("`{s}`")).collect();
            format!("; did you mean {} or `{last}`?", init.join(", "))
        }
    }
}

fn one_of(values: &[&str]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
    quoted.join(", ")
}
