//! Subscriber patterns over event names.

use std::{fmt, str::FromStr};

use crate::{event_name::validate_segments, EventName, PatternError, Vertical};

/// A subscriber's choice of events: `*` (every event), `prefix.*` (every event whose name
/// starts with the dotted `prefix`, such as `backup.*`, `network_layer.firewall.*` or a plugin
/// namespace like `fluent_community.*`), or one exact name.
///
/// A one-segment prefix that names a vertical matches by vertical, so `firewall_layer.*` and
/// `network_layer.*` both match `network_layer.firewall.attacks.blocked`.
///
/// ```
/// use relay_core::EventPattern;
/// let p: EventPattern = "firewall_layer.*".parse().unwrap();
/// assert!(p.matches("network_layer.firewall.toggled.on"));
/// assert!(!p.matches("backup.backup.started"));
/// assert!("*".parse::<EventPattern>().unwrap().matches("anything.at.all"));
/// ```
#[derive(Clone, Eq, Hash, PartialEq)]
pub struct EventPattern(Repr);

#[derive(Clone, Eq, Hash, PartialEq)]
enum Repr {
    All,
    Prefix(Box<str>),
    Exact(EventName),
}

/// What an [`EventPattern`] selects.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum PatternKind<'a> {
    /// `*`: every event.
    All,
    /// `prefix.*`: the prefix, without the trailing `.*`.
    Prefix(&'a str),
    /// One exact event name.
    Exact(&'a EventName),
}

impl EventPattern {
    /// The pattern that matches every event.
    pub const ALL: EventPattern = EventPattern(Repr::All);

    /// What this pattern selects.
    pub fn kind(&self) -> PatternKind<'_> {
        match &self.0 {
            Repr::All => PatternKind::All,
            Repr::Prefix(prefix) => PatternKind::Prefix(prefix),
            Repr::Exact(name) => PatternKind::Exact(name),
        }
    }

    /// Whether the event `name` is selected. `name` is compared as given, not validated.
    pub fn matches(&self, name: &str) -> bool {
        match &self.0 {
            Repr::All => true,
            Repr::Exact(exact) => exact.as_str() == name,
            Repr::Prefix(prefix) => {
                let by_text = name
                    .strip_prefix(&**prefix)
                    .is_some_and(|rest| rest.starts_with('.'));
                by_text || Self::same_vertical(prefix, name)
            }
        }
    }

    /// Whether a one-segment prefix and the name's first segment are spellings of the same
    /// known vertical (`firewall_layer` and `network_layer`).
    fn same_vertical(prefix: &str, name: &str) -> bool {
        if prefix.contains('.') {
            return false;
        }
        let vertical = Vertical::from(prefix);
        let Some((first, _)) = name.split_once('.') else {
            return false;
        };
        vertical.is_known() && Vertical::from(first) == vertical
    }
}

impl FromStr for EventPattern {
    type Err = PatternError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(PatternError::Empty);
        }
        if s == "*" {
            return Ok(EventPattern(Repr::All));
        }
        if let Some(prefix) = s.strip_suffix(".*") {
            validate_segments(prefix, 1)?;
            return Ok(EventPattern(Repr::Prefix(prefix.into())));
        }
        Ok(EventPattern(Repr::Exact(EventName::try_from(s)?)))
    }
}

impl TryFrom<&str> for EventPattern {
    type Error = PatternError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<EventName> for EventPattern {
    fn from(name: EventName) -> Self {
        EventPattern(Repr::Exact(name))
    }
}

impl fmt::Display for EventPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::All => f.write_str("*"),
            Repr::Prefix(prefix) => write!(f, "{prefix}.*"),
            Repr::Exact(name) => f.write_str(name.as_str()),
        }
    }
}

impl fmt::Debug for EventPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventPattern({self})")
    }
}
