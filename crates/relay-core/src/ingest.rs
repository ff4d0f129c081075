//! The body of `POST /api/events/create`.

use std::borrow::Cow;

use serde_json::value::RawValue;

use crate::{
    json::Fields, payload::validate_at, Event, EventName, Path, PayloadError, Result, UnknownEvents,
};

/// The body of `POST /api/events/create`: `{"domain": ..., "event": ..., "data": ...}`,
/// borrowing from the body text.
///
/// ```
/// use relay_core::{IngestRequest, UnknownEvents};
/// let body = r#"{"domain":"example.com","event":"operator.action.started",
///   "data":{"origin":"wpfort_server","vertical":"operator","status":"success","message":"Go"}}"#;
/// let request = IngestRequest::parse(body).unwrap();
/// let event = request.validate(UnknownEvents::Reject).unwrap();
/// assert_eq!(request.domain(), "example.com");
/// assert!(event.data().get().starts_with(r#"{"origin":"wpfort_server""#));
/// ```
#[derive(Clone, Debug)]
pub struct IngestRequest<'a> {
    domain: Cow<'a, str>,
    event: EventName,
    data: &'a RawValue,
}

impl<'a> IngestRequest<'a> {
    /// The longest `domain` accepted, in bytes (it may still carry a scheme, port or path that
    /// the server normalizes away).
    pub const MAX_DOMAIN_LEN: usize = 2048;

    /// Parses the body: it must be a JSON object with a non-empty string `domain`, a
    /// well-formed `event` name and a `data` field (checked by [`IngestRequest::validate`]).
    /// Other fields are ignored.
    pub fn parse(body: &'a str) -> Result<Self> {
        let fields = Fields::parse(body, Path::root())?;
        let domain = fields.required_text("domain", Self::MAX_DOMAIN_LEN)?;
        let event_text = fields.required_str("event")?;
        let event =
            EventName::try_from(&*event_text).map_err(|source| PayloadError::InvalidEventName {
                path: fields.path_of("event"),
                source,
            })?;
        let data = fields
            .raw("data")
            .ok_or_else(|| PayloadError::MissingField {
                path: fields.path_of("data"),
            })?;
        Ok(IngestRequest {
            domain,
            event,
            data,
        })
    }

    /// `domain`, as sent.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// `event`.
    pub fn event(&self) -> &EventName {
        &self.event
    }

    /// `data`, exactly as received: what to broadcast.
    pub fn data(&self) -> &'a RawValue {
        self.data
    }

    /// Validates the event name against the catalog and `data` against its data structure.
    /// See [`validate`](crate::validate).
    pub fn validate(&self, unknown: UnknownEvents) -> Result<Event<'a>> {
        let root = Path::root();
        validate_at(
            &self.event,
            &root.child("event"),
            self.data,
            root.child("data"),
            unknown,
        )
    }
}
