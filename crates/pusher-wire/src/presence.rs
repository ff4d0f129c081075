//! Presence channel data: the `channel_data` a subscriber presents, the sign-in `user_data`,
//! and the roster sent in `subscription_succeeded` (spec §4.2, §4.4, §5.4).

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::json::push_str_literal;

/// Limits on presence members (presence doc: 100 members, 1 KB user info, 128-character ids).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct PresenceLimits {
    /// Maximum distinct users in one presence channel.
    pub max_members: usize,
    /// Maximum size of a member's `user_info` JSON text, in bytes.
    pub max_user_info_bytes: usize,
    /// Maximum length of a user id, in bytes.
    pub max_user_id_len: usize,
}

impl Default for PresenceLimits {
    fn default() -> Self {
        PresenceLimits {
            max_members: 100,
            max_user_info_bytes: 1024,
            max_user_id_len: 128,
        }
    }
}

/// The most watchlist ids a user may have (more are cut, with a 4302 error).
pub const MAX_WATCHLIST: usize = 100;

/// Why `channel_data` or `user_data` was refused.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PresenceError {
    /// A presence subscription came without `channel_data`.
    #[error("Missing channel_data for a presence channel")]
    MissingChannelData,
    /// The data is not a JSON object of the expected shape.
    #[error("Invalid {what}: {reason}")]
    Malformed {
        /// `channel_data` or `user_data`.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The user id is missing, empty, not a string or number, or not a safe integer.
    #[error("Invalid user id: must be a non-empty string")]
    InvalidUserId,
    /// The user id is too long.
    #[error("User id is {len} characters long, the limit is {max}")]
    UserIdTooLong {
        /// Length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// `user_info` is too large.
    #[error("user_info is {len} bytes, the limit is {max}")]
    UserInfoTooLarge {
        /// Size in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The channel already has the maximum number of distinct members.
    #[error("Presence channel is full: the limit is {max} members")]
    TooManyMembers {
        /// The limit.
        max: usize,
    },
}

/// One presence member as a subscriber declared it.
#[derive(Clone, Debug)]
pub struct PresenceMember {
    /// The user id, as a string (numbers are kept in their decimal form).
    pub user_id: Box<str>,
    /// The `user_info` JSON text exactly as received, if any.
    pub user_info: Option<Box<RawValue>>,
}

impl PartialEq for PresenceMember {
    fn eq(&self, other: &Self) -> bool {
        self.user_id == other.user_id
            && self.user_info.as_ref().map(|r| r.get()) == other.user_info.as_ref().map(|r| r.get())
    }
}

impl Eq for PresenceMember {}

#[derive(Deserialize)]
struct RawMember<'a> {
    #[serde(borrow)]
    user_id: Option<&'a RawValue>,
    #[serde(borrow)]
    user_info: Option<&'a RawValue>,
}

impl PresenceMember {
    /// Parses a presence subscription's `channel_data` (`{"user_id", "user_info"?}`).
    pub fn parse(
        channel_data: &str,
        limits: &PresenceLimits,
    ) -> Result<PresenceMember, PresenceError> {
        let raw: RawMember<'_> =
            serde_json::from_str(channel_data).map_err(|e| PresenceError::Malformed {
                what: "channel_data",
                reason: e.to_string(),
            })?;
        let user_id = user_id(raw.user_id.ok_or(PresenceError::InvalidUserId)?, limits)?;
        let user_info = user_info(raw.user_info, limits)?;
        Ok(PresenceMember { user_id, user_info })
    }
}

fn user_id(raw: &RawValue, limits: &PresenceLimits) -> Result<Box<str>, PresenceError> {
    let text = raw.get();
    let id: String = if text.starts_with('"') {
        serde_json::from_str(text).map_err(|_| PresenceError::InvalidUserId)?
    } else {
        // Numbers are tolerated (spec §4.2), as long as they are safe integers.
        let n: i64 = text.parse().map_err(|_| PresenceError::InvalidUserId)?;
        if n.unsigned_abs() > (1 << 53) {
            return Err(PresenceError::InvalidUserId);
        }
        n.to_string()
    };
    if id.is_empty() {
        return Err(PresenceError::InvalidUserId);
    }
    if id.len() > limits.max_user_id_len {
        return Err(PresenceError::UserIdTooLong {
            len: id.len(),
            max: limits.max_user_id_len,
        });
    }
    Ok(id.into_boxed_str())
}

fn user_info(
    raw: Option<&RawValue>,
    limits: &PresenceLimits,
) -> Result<Option<Box<RawValue>>, PresenceError> {
    match raw {
        None => Ok(None),
        Some(raw) if raw.get() == "null" => Ok(None),
        Some(raw) if raw.get().len() > limits.max_user_info_bytes => {
            Err(PresenceError::UserInfoTooLarge {
                len: raw.get().len(),
                max: limits.max_user_info_bytes,
            })
        }
        Some(raw) => Ok(Some(raw.to_owned())),
    }
}

/// A signed-in user, from `pusher:signin`'s `user_data` (`{"id", "user_info"?, "watchlist"?}`).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct UserData {
    /// The user's id (a non-empty string).
    pub id: Box<str>,
    /// The user's `user_info`, used as presence info when presence auth has none.
    pub user_info: Option<PresenceMember>,
    /// The watched user ids, at most [`MAX_WATCHLIST`].
    pub watchlist: Vec<Box<str>>,
    /// Whether the offered watchlist was longer and got cut (send a 4302 error).
    pub watchlist_truncated: bool,
}

#[derive(Deserialize)]
struct RawUser<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    user_info: Option<&'a RawValue>,
    #[serde(default)]
    watchlist: Option<Vec<serde_json::Value>>,
}

impl UserData {
    /// Parses sign-in `user_data`. The id must be a non-empty string, as pusher-js requires.
    pub fn parse(user_data: &str, limits: &PresenceLimits) -> Result<UserData, PresenceError> {
        let raw: RawUser<'_> =
            serde_json::from_str(user_data).map_err(|e| PresenceError::Malformed {
                what: "user_data",
                reason: e.to_string(),
            })?;
        let id_raw = raw.id.ok_or(PresenceError::InvalidUserId)?;
        if !id_raw.get().starts_with('"') {
            return Err(PresenceError::InvalidUserId);
        }
        let id = user_id(id_raw, limits)?;
        let info = user_info(raw.user_info, limits)?;
        let mut watchlist = Vec::new();
        let mut truncated = false;
        for entry in raw.watchlist.unwrap_or_default() {
            let id = match entry {
                serde_json::Value::String(s) if !s.is_empty() => s,
                serde_json::Value::Number(n) => n.to_string(),
                _ => {
                    return Err(PresenceError::Malformed {
                        what: "user_data",
                        reason: "watchlist entries must be user ids".into(),
                    })
                }
            };
            if watchlist.len() == MAX_WATCHLIST {
                truncated = true;
                break;
            }
            watchlist.push(id.into_boxed_str());
        }
        Ok(UserData {
            user_info: info.map(|user_info| PresenceMember {
                user_id: id.clone(),
                user_info: Some(user_info),
            }),
            id,
            watchlist,
            watchlist_truncated: truncated,
        })
    }
}

/// The JSON text `{"presence":{"ids":[…],"hash":{…},"count":n}}` of a roster, in the order given.
/// Members without `user_info` get `{}`, as other servers send.
pub fn roster_json<'a>(
    members: impl IntoIterator<Item = (&'a str, Option<&'a RawValue>)>,
) -> String {
    let mut ids = String::from("[");
    let mut hash = String::from("{");
    let mut count = 0usize;
    for (id, info) in members {
        if count > 0 {
            ids.push(',');
            hash.push(',');
        }
        push_str_literal(&mut ids, id);
        push_str_literal(&mut hash, id);
        hash.push(':');
        hash.push_str(info.map_or("{}", |raw| raw.get()));
        count += 1;
    }
    ids.push(']');
    hash.push('}');
    format!(r#"{{"presence":{{"ids":{ids},"hash":{hash},"count":{count}}}}}"#)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_data_forms() {
        let l = PresenceLimits::default();
        let m = PresenceMember::parse(
            r#"{"user_id": 10, "user_info": {"name": "Mr. Channels"}}"#,
            &l,
        )
        .unwrap();
        assert_eq!(&*m.user_id, "10");
        assert_eq!(m.user_info.unwrap().get(), r#"{"name": "Mr. Channels"}"#);
        let m = PresenceMember::parse(r#"{"user_id":"a"}"#, &l).unwrap();
        assert!(m.user_info.is_none());
        assert_eq!(
            PresenceMember::parse(r#"{"user_id":""}"#, &l),
            Err(PresenceError::InvalidUserId)
        );
        assert_eq!(
            PresenceMember::parse(r#"{"user_id":1.5}"#, &l),
            Err(PresenceError::InvalidUserId)
        );
        assert_eq!(
            PresenceMember::parse(r#"{"user_id":true}"#, &l),
            Err(PresenceError::InvalidUserId)
        );
        assert_eq!(
            PresenceMember::parse(r#"{}"#, &l),
            Err(PresenceError::InvalidUserId)
        );
        assert_eq!(
            PresenceMember::parse(r#"{"user_id":9007199254740993}"#, &l),
            Err(PresenceError::InvalidUserId)
        );
        let long = format!(r#"{{"user_id":"{}"}}"#, "x".repeat(129));
        assert!(matches!(
            PresenceMember::parse(&long, &l),
            Err(PresenceError::UserIdTooLong { len: 129, max: 128 })
        ));
        let big = format!(r#"{{"user_id":"1","user_info":"{}"}}"#, "x".repeat(1100));
        assert!(matches!(
            PresenceMember::parse(&big, &l),
            Err(PresenceError::UserInfoTooLarge { .. })
        ));
        assert!(matches!(
            PresenceMember::parse("[1]", &l),
            Err(PresenceError::Malformed { .. })
        ));
    }

    #[test]
    fn user_data_and_watchlist() {
        let l = PresenceLimits::default();
        let u = UserData::parse(
            r#"{"id":"12345","user_info":{"name":"Alice"},"watchlist":["2","3"]}"#,
            &l,
        )
        .unwrap();
        assert_eq!(&*u.id, "12345");
        assert_eq!(u.watchlist.len(), 2);
        assert!(!u.watchlist_truncated);
        assert_eq!(
            UserData::parse(r#"{"id":12345}"#, &l),
            Err(PresenceError::InvalidUserId)
        );
        let many: Vec<String> = (0..150).map(|i| format!("\"{i}\"")).collect();
        let u = UserData::parse(
            &format!(r#"{{"id":"1","watchlist":[{}]}}"#, many.join(",")),
            &l,
        )
        .unwrap();
        assert_eq!(u.watchlist.len(), 100);
        assert!(u.watchlist_truncated);
    }

    #[test]
    fn roster() {
        let info = RawValue::from_string(r#"{"name":"me"}"#.into()).unwrap();
        assert_eq!(
            roster_json([("1", Some(&*info)), ("2", None)]),
            r#"{"presence":{"ids":["1","2"],"hash":{"1":{"name":"me"},"2":{}},"count":2}}"#
        );
        assert_eq!(
            roster_json([]),
            r#"{"presence":{"ids":[],"hash":{},"count":0}}"#
        );
    }
}
