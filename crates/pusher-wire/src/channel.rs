//! Channel names and their kinds.
//!
//! See <https://pusher.com/docs/channels/using_channels/channels> ("Channel naming conventions")
//! and spec §3: one character set, one length limit, the kind derived from the prefix.

use std::{fmt, sync::Arc};

/// The official maximum length of a channel name, prefixes included.
pub const DEFAULT_MAX_CHANNEL_NAME_LENGTH: usize = 164;

/// The prefix of the per-user channels used by `sendToUser`.
pub const SERVER_TO_USER_PREFIX: &str = "#server-to-user-";

/// Why a string is not a valid channel name.
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelNameError {
    /// The name is empty (or only a prefix); the caller should send a non-empty name.
    #[error("channel name is empty")]
    Empty,
    /// The name is longer than the limit.
    #[error("channel name is {len} characters long, the limit is {max}")]
    TooLong {
        /// Length of the offered name, in bytes.
        len: usize,
        /// The limit in force.
        max: usize,
    },
    /// The name holds a character outside `A-Z a-z 0-9 _ - = @ , . ;`.
    #[error("channel name has an invalid character {ch:?} at byte {at}")]
    InvalidChar {
        /// The offending character.
        ch: char,
        /// Its byte offset.
        at: usize,
    },
    /// The name starts with `#` but is not a `#server-to-user-` channel.
    #[error("channel names starting with '#' are reserved")]
    Reserved,
}

/// The kind of a channel, derived from its name's prefix (most specific prefix first).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum ChannelKind {
    /// No prefix: anyone may subscribe.
    Public,
    /// `cache-`: public, with a cached last event.
    PublicCache,
    /// `private-`: subscription needs a signature.
    Private,
    /// `private-cache-`.
    PrivateCache,
    /// `private-encrypted-`: private, payloads end-to-end encrypted by the SDKs.
    Encrypted,
    /// `private-encrypted-cache-`.
    EncryptedCache,
    /// `presence-`: private with a member roster.
    Presence,
    /// `presence-cache-`.
    PresenceCache,
    /// `#server-to-user-{id}`: only a connection signed in as `{id}` may subscribe.
    ServerToUser,
}

impl ChannelKind {
    /// The kind of a (valid) channel name.
    pub fn of(name: &str) -> ChannelKind {
        const PREFIXES: [(&str, ChannelKind); 8] = [
            ("private-encrypted-cache-", ChannelKind::EncryptedCache),
            ("private-encrypted-", ChannelKind::Encrypted),
            ("private-cache-", ChannelKind::PrivateCache),
            ("private-", ChannelKind::Private),
            ("presence-cache-", ChannelKind::PresenceCache),
            ("presence-", ChannelKind::Presence),
            ("cache-", ChannelKind::PublicCache),
            (SERVER_TO_USER_PREFIX, ChannelKind::ServerToUser),
        ];
        PREFIXES
            .iter()
            .find(|(prefix, _)| name.starts_with(prefix))
            .map_or(ChannelKind::Public, |&(_, kind)| kind)
    }

    /// Whether subscribing needs an `auth` signature (private, encrypted and presence kinds).
    pub fn requires_auth(self) -> bool {
        !matches!(
            self,
            ChannelKind::Public | ChannelKind::PublicCache | ChannelKind::ServerToUser
        )
    }

    /// Whether the channel has a presence roster.
    pub fn is_presence(self) -> bool {
        matches!(self, ChannelKind::Presence | ChannelKind::PresenceCache)
    }

    /// Whether the channel keeps its last event for new subscribers.
    pub fn is_cache(self) -> bool {
        matches!(
            self,
            ChannelKind::PublicCache
                | ChannelKind::PrivateCache
                | ChannelKind::EncryptedCache
                | ChannelKind::PresenceCache
        )
    }

    /// Whether payloads are end-to-end encrypted (`private-encrypted-`).
    pub fn is_encrypted(self) -> bool {
        matches!(self, ChannelKind::Encrypted | ChannelKind::EncryptedCache)
    }

    /// Whether subscribers may send `client-` events on it (private and presence, not encrypted).
    pub fn allows_client_events(self) -> bool {
        matches!(
            self,
            ChannelKind::Private
                | ChannelKind::PrivateCache
                | ChannelKind::Presence
                | ChannelKind::PresenceCache
        )
    }
}

/// A valid channel name. Cheap to clone (shared string).
#[derive(Clone, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct ChannelName(Arc<str>);

impl ChannelName {
    /// Parses a channel name with the default length limit (164).
    pub fn parse(name: &str) -> Result<ChannelName, ChannelNameError> {
        ChannelName::parse_with_limit(name, DEFAULT_MAX_CHANNEL_NAME_LENGTH)
    }

    /// Parses a channel name with a configured length limit.
    pub fn parse_with_limit(name: &str, max_len: usize) -> Result<ChannelName, ChannelNameError> {
        validate(name, max_len)?;
        Ok(ChannelName(Arc::from(name)))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The shared string behind the name.
    pub fn as_arc(&self) -> &Arc<str> {
        &self.0
    }

    /// The channel's kind.
    pub fn kind(&self) -> ChannelKind {
        ChannelKind::of(&self.0)
    }

    /// For a `#server-to-user-{id}` channel, the user id.
    pub fn server_to_user_id(&self) -> Option<&str> {
        self.0.strip_prefix(SERVER_TO_USER_PREFIX)
    }

    /// The `#server-to-user-` channel of a user, if the user id makes a valid name.
    pub fn for_user(user_id: &str, max_len: usize) -> Result<ChannelName, ChannelNameError> {
        ChannelName::parse_with_limit(&format!("{SERVER_TO_USER_PREFIX}{user_id}"), max_len)
    }
}

/// The one rule set for channel names (spec §3.1).
fn validate(name: &str, max_len: usize) -> Result<(), ChannelNameError> {
    if name.len() > max_len {
        return Err(ChannelNameError::TooLong {
            len: name.len(),
            max: max_len,
        });
    }
    let (offset, rest) = if let Some(rest) = name.strip_prefix(SERVER_TO_USER_PREFIX) {
        (SERVER_TO_USER_PREFIX.len(), rest)
    } else if name.starts_with('#') {
        return Err(ChannelNameError::Reserved);
    } else {
        (0, name)
    };
    if rest.is_empty() {
        return Err(ChannelNameError::Empty);
    }
    match rest.char_indices().find(|&(_, ch)| !is_channel_char(ch)) {
        Some((at, ch)) => Err(ChannelNameError::InvalidChar {
            ch,
            at: at + offset,
        }),
        None => Ok(()),
    }
}

fn is_channel_char(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '=' | '@' | ',' | '.' | ';')
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl std::str::FromStr for ChannelName {
    type Err = ChannelNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ChannelName::parse(s)
    }
}

impl TryFrom<&str> for ChannelName {
    type Error = ChannelNameError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        ChannelName::parse(s)
    }
}

impl AsRef<str> for ChannelName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for ChannelName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for ChannelName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_most_specific_prefix() {
        let cases = [
            ("my-channel", ChannelKind::Public),
            ("cache-x", ChannelKind::PublicCache),
            ("private-x", ChannelKind::Private),
            ("private-cache-x", ChannelKind::PrivateCache),
            ("private-encrypted-x", ChannelKind::Encrypted),
            ("private-encrypted-cache-x", ChannelKind::EncryptedCache),
            ("presence-x", ChannelKind::Presence),
            ("presence-cache-x", ChannelKind::PresenceCache),
            ("#server-to-user-42", ChannelKind::ServerToUser),
            ("privatex", ChannelKind::Public),
        ];
        for (name, kind) in cases {
            assert_eq!(ChannelName::parse(name).unwrap().kind(), kind, "{name}");
        }
    }

    #[test]
    fn character_set_and_limits() {
        assert!(ChannelName::parse("a_b-c=d@e,f.g;h").is_ok());
        assert_eq!(
            ChannelName::parse("a:b"),
            Err(ChannelNameError::InvalidChar { ch: ':', at: 1 })
        );
        assert_eq!(ChannelName::parse(""), Err(ChannelNameError::Empty));
        assert_eq!(ChannelName::parse("#foo"), Err(ChannelNameError::Reserved));
        assert_eq!(
            ChannelName::parse("#server-to-user-"),
            Err(ChannelNameError::Empty)
        );
        let long = "a".repeat(165);
        assert_eq!(
            ChannelName::parse(&long),
            Err(ChannelNameError::TooLong { len: 165, max: 164 })
        );
        assert!(ChannelName::parse(&long[..164]).is_ok());
        assert!(ChannelName::parse_with_limit(&long, 200).is_ok());
        assert_eq!(
            ChannelName::parse("#server-to-user-4 2"),
            Err(ChannelNameError::InvalidChar { ch: ' ', at: 17 })
        );
    }
}
