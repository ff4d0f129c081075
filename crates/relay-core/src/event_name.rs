//! `EventName`: a validated `vertical.subject.action`.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{EventNameError, KnownEvent, Vertical};

/// A validated event name: dot-separated segments `vertical.subject.action`.
///
/// The first segment names the vertical (`network_layer` for the firewall), the last is the
/// action (`started`, `completed`, `on`...), and everything between is the subject, which may
/// itself hold dots (`application_layer.plugins.update.started` has subject `plugins.update`).
///
/// Built only through [`TryFrom`]/[`FromStr`], which run [`EventName::validate`]: at least
/// three non-empty segments, characters `a-z`, `0-9`, `_`, `-`, at most 200 bytes (Pusher's
/// limit for event names). A valid name need not be in the catalog: see [`EventName::known`].
///
/// ```
/// use relay_core::{EventName, KnownEvent, Vertical};
/// let name = EventName::try_from("network_layer.firewall.toggled.on").unwrap();
/// assert_eq!(name.prefix(), "network_layer");
/// assert_eq!(name.vertical(), Vertical::FirewallLayer);
/// assert_eq!(name.subject(), "firewall.toggled");
/// assert_eq!(name.action(), "on");
/// assert_eq!(name.known(), Some(KnownEvent::FirewallToggledOn));
/// ```
#[derive(Clone, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct EventName {
    name: Box<str>,
    /// Byte offset of the first dot.
    first_dot: usize,
    /// Byte offset of the last dot.
    last_dot: usize,
}

impl EventName {
    /// The longest name accepted, in bytes (Pusher's limit for event names).
    pub const MAX_LEN: usize = 200;

    /// The fewest segments a name has: `vertical.subject.action`.
    pub const MIN_SEGMENTS: usize = 3;

    /// Checks that `name` is a well-formed event name; the one place the rules live.
    pub fn validate(name: &str) -> Result<(), EventNameError> {
        validate_segments(name, Self::MIN_SEGMENTS)
    }

    /// The whole name.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The first segment, as written (`network_layer` for firewall events).
    pub fn prefix(&self) -> &str {
        &self.name[..self.first_dot]
    }

    /// The vertical this name belongs to, from its first segment: `network_layer` gives
    /// [`Vertical::FirewallLayer`]; an unknown prefix gives an unknown vertical.
    pub fn vertical(&self) -> Vertical {
        Vertical::from(self.prefix())
    }

    /// The segments between the first and the last one, dots included.
    pub fn subject(&self) -> &str {
        &self.name[self.first_dot + 1..self.last_dot]
    }

    /// The last segment: what happened (`started`, `completed`, `failed`, `updated`, `on`...).
    pub fn action(&self) -> &str {
        &self.name[self.last_dot + 1..]
    }

    /// The dot-separated segments.
    pub fn segments(&self) -> impl Iterator<Item = &str> + '_ {
        self.name.split('.')
    }

    /// The catalog entry for this name, `None` when the name is not in the catalog.
    pub fn known(&self) -> Option<KnownEvent> {
        KnownEvent::from_name(self.as_str())
    }

    fn new(name: Box<str>) -> Result<Self, EventNameError> {
        Self::validate(&name)?;
        // unwrap: `validate` guarantees at least three segments, hence two dots.
        let first_dot = name.find('.').expect("validated name has a dot");
        let last_dot = name.rfind('.').expect("validated name has a dot");
        Ok(EventName {
            name,
            first_dot,
            last_dot,
        })
    }
}

/// Checks the characters and segments of a dotted name with at least `min_segments` segments.
pub(crate) fn validate_segments(name: &str, min_segments: usize) -> Result<(), EventNameError> {
    if name.is_empty() {
        return Err(EventNameError::Empty);
    }
    if name.len() > EventName::MAX_LEN {
        return Err(EventNameError::TooLong {
            len: name.len(),
            max: EventName::MAX_LEN,
        });
    }
    if let Some((at, ch)) = name
        .char_indices()
        .find(|&(_, ch)| !matches!(ch, 'a'..='z' | '0'..='9' | '_' | '-' | '.'))
    {
        return Err(EventNameError::InvalidChar { ch, at });
    }
    let mut found = 0;
    for (index, segment) in name.split('.').enumerate() {
        if segment.is_empty() {
            return Err(EventNameError::EmptySegment { index });
        }
        found += 1;
    }
    if found < min_segments {
        return Err(EventNameError::TooFewSegments {
            found,
            min: min_segments,
        });
    }
    Ok(())
}

impl TryFrom<&str> for EventName {
    type Error = EventNameError;

    fn try_from(name: &str) -> Result<Self, Self::Error> {
        Self::new(name.into())
    }
}

impl TryFrom<String> for EventName {
    type Error = EventNameError;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        Self::new(name.into_boxed_str())
    }
}

impl FromStr for EventName {
    type Err = EventNameError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::try_from(name)
    }
}

impl From<KnownEvent> for EventName {
    fn from(known: KnownEvent) -> Self {
        known.name()
    }
}

impl AsRef<str> for EventName {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for EventName {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for EventName {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for EventName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        EventName::try_from(name).map_err(serde::de::Error::custom)
    }
}
