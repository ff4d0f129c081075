//! Pusher event names and their reserved prefixes.

use std::fmt;

/// The longest event name accepted (the node and python SDK limit).
pub const MAX_EVENT_NAME_LENGTH: usize = 200;

/// Why an event name is not acceptable.
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EventNameError {
    /// The name is empty.
    #[error("event name is empty")]
    Empty,
    /// The name is longer than 200 characters.
    #[error("event name is {len} characters long, the limit is {max}")]
    TooLong {
        /// Length of the name in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The name uses the reserved `pusher_internal:` prefix (or `pusher:` where not allowed).
    #[error("event names starting with 'pusher_internal:' or 'pusher:' are reserved")]
    Reserved,
    /// A client event that does not start with `client-`.
    #[error("client event names must start with 'client-'")]
    NotClientEvent,
}

/// The class of an event name, by prefix.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum EventNameKind {
    /// `pusher:` protocol events.
    Pusher,
    /// `pusher_internal:` protocol events.
    PusherInternal,
    /// `client-` events sent by clients.
    Client,
    /// Any other name: application events published through the HTTP API.
    App,
}

impl EventNameKind {
    /// Classifies a name by its prefix.
    pub fn of(name: &str) -> EventNameKind {
        if name.starts_with("pusher_internal:") {
            EventNameKind::PusherInternal
        } else if name.starts_with("pusher:") {
            EventNameKind::Pusher
        } else if name.starts_with("client-") {
            EventNameKind::Client
        } else {
            EventNameKind::App
        }
    }
}

/// An event name fit to publish: non-empty, at most 200 characters, not `pusher_internal:`.
#[derive(Clone, Eq, Hash, PartialEq)]
pub struct EventName(Box<str>);

impl EventName {
    /// Validates a name published through the HTTP API (any name but `pusher_internal:*`).
    pub fn for_api(name: &str) -> Result<EventName, EventNameError> {
        validate_length(name)?;
        if EventNameKind::of(name) == EventNameKind::PusherInternal {
            return Err(EventNameError::Reserved);
        }
        Ok(EventName(name.into()))
    }

    /// Validates a client event name (`client-` prefix).
    pub fn for_client(name: &str) -> Result<EventName, EventNameError> {
        validate_length(name)?;
        if EventNameKind::of(name) != EventNameKind::Client {
            return Err(EventNameError::NotClientEvent);
        }
        Ok(EventName(name.into()))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The class of this name.
    pub fn kind(&self) -> EventNameKind {
        EventNameKind::of(&self.0)
    }
}

fn validate_length(name: &str) -> Result<(), EventNameError> {
    if name.is_empty() {
        return Err(EventNameError::Empty);
    }
    if name.len() > MAX_EVENT_NAME_LENGTH {
        return Err(EventNameError::TooLong {
            len: name.len(),
            max: MAX_EVENT_NAME_LENGTH,
        });
    }
    Ok(())
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl AsRef<str> for EventName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert!(EventName::for_api("my-event").is_ok());
        assert!(EventName::for_api("pusher:cache_miss").is_ok());
        assert_eq!(
            EventName::for_api("pusher_internal:member_added"),
            Err(EventNameError::Reserved)
        );
        assert_eq!(EventName::for_api(""), Err(EventNameError::Empty));
        assert!(matches!(
            EventName::for_api(&"e".repeat(201)),
            Err(EventNameError::TooLong { len: 201, .. })
        ));
        assert!(EventName::for_client("client-typing").is_ok());
        assert_eq!(
            EventName::for_client("typing"),
            Err(EventNameError::NotClientEvent)
        );
    }
}
