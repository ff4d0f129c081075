//! HTTP API request and response types (spec §7), with their validation.
//!
//! Request bodies are decoded borrowing from the raw body; `data` stays raw JSON text so that a
//! publisher's string reaches subscribers byte for byte.

use std::{borrow::Cow, collections::BTreeMap};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::{
    channel::{ChannelKind, ChannelName, ChannelNameError},
    event_name::{EventName, EventNameError},
    json::is_string,
    message::EventData,
    socket_id::SocketId,
};

/// Limits applied to HTTP API requests of one app.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct ApiLimits {
    /// Largest event `data`, in bytes (Pusher: 10 KB).
    pub max_event_bytes: usize,
    /// Most channels in one trigger (Pusher: 100).
    pub max_channels: usize,
    /// Most events in one batch (Pusher: 10).
    pub max_batch: usize,
    /// Longest channel name.
    pub max_channel_name_len: usize,
}

impl Default for ApiLimits {
    fn default() -> Self {
        ApiLimits {
            max_event_bytes: 10 * 1024,
            max_channels: 100,
            max_batch: 10,
            max_channel_name_len: crate::channel::DEFAULT_MAX_CHANNEL_NAME_LENGTH,
        }
    }
}

/// Why an HTTP API request was refused. [`ApiError::status`] gives the HTTP status.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The body is not JSON of the expected shape.
    #[error("Invalid JSON body: {0}")]
    Json(String),
    /// A required field is missing.
    #[error("Missing required field: {0}")]
    Missing(&'static str),
    /// Too many channels in a trigger.
    #[error("Too many channels: {len}, the limit is {max}")]
    TooManyChannels {
        /// Channels given.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Too many events in a batch.
    #[error("Too many events in batch: {len}, the limit is {max}")]
    BatchTooLarge {
        /// Events given.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An invalid channel name.
    #[error("Invalid channel name {channel:?}: {error}")]
    ChannelName {
        /// The name (cut to 200 characters).
        channel: String,
        /// Why.
        error: ChannelNameError,
    },
    /// An invalid event name.
    #[error("Invalid event name: {0}")]
    EventName(EventNameError),
    /// `socket_id` is not `digits.digits`.
    #[error("Invalid socket_id {0:?}")]
    SocketId(String),
    /// Event data over the limit (HTTP 413).
    #[error("Event data is {len} bytes, the limit is {max}")]
    DataTooLarge {
        /// Size in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// `info=user_count` asked for channels that are not (all) presence channels.
    #[error("user_count is only available for presence channels")]
    UserCountNotPresence,
    /// A users query on a channel that is not a presence channel.
    #[error("Users can only be listed for presence channels")]
    NotPresence,
}

impl ApiError {
    /// The HTTP status for this error: 413 for oversize data, 400 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::DataTooLarge { .. } => 413,
            ApiError::Json(_)
            | ApiError::Missing(_)
            | ApiError::TooManyChannels { .. }
            | ApiError::BatchTooLarge { .. }
            | ApiError::ChannelName { .. }
            | ApiError::EventName(_)
            | ApiError::SocketId(_)
            | ApiError::UserCountNotPresence
            | ApiError::NotPresence => 400,
        }
    }
}

/// The attributes requested with `info=` (comma-separated; unknown ones are ignored).
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct Info {
    /// `user_count` (presence channels only).
    pub user_count: bool,
    /// `subscription_count`.
    pub subscription_count: bool,
    /// `cache` (the cached event of a cache channel).
    pub cache: bool,
}

impl Info {
    /// Parses `user_count,subscription_count`.
    pub fn parse(info: Option<&str>) -> Info {
        let mut out = Info::default();
        for attr in info.unwrap_or("").split(',').map(str::trim) {
            match attr {
                "user_count" => out.user_count = true,
                "subscription_count" => out.subscription_count = true,
                "cache" => out.cache = true,
                _ => {}
            }
        }
        out
    }

    /// Whether anything was requested.
    pub fn any(&self) -> bool {
        self.user_count || self.subscription_count || self.cache
    }
}

/// The `data` of a published event: raw JSON text as received.
#[derive(Clone, Copy, Debug)]
pub struct Payload<'a>(&'a RawValue);

impl<'a> Payload<'a> {
    /// The event data as it goes to subscribers: a string token verbatim, anything else
    /// stringified (spec §10 item 16).
    pub fn event_data(&self) -> EventData<'a> {
        if is_string(self.0) {
            EventData::Raw(self.0)
        } else {
            EventData::Text(self.0.get())
        }
    }

    /// The raw JSON text.
    pub fn raw(&self) -> &'a RawValue {
        self.0
    }

    /// The payload as the string subscribers decode (unescaped for string tokens).
    pub fn text(&self) -> Cow<'a, str> {
        if is_string(self.0) {
            serde_json::from_str(self.0.get()).unwrap_or(Cow::Borrowed(self.0.get()))
        } else {
            Cow::Borrowed(self.0.get())
        }
    }
}

/// One validated event to publish.
#[derive(Clone, Debug)]
pub struct Trigger<'a> {
    /// The event name.
    pub name: EventName,
    /// The payload.
    pub data: Payload<'a>,
    /// The channels (one or more).
    pub channels: Vec<ChannelName>,
    /// A connection that must not receive the event.
    pub socket_id: Option<SocketId>,
    /// Attributes to answer with.
    pub info: Info,
}

#[derive(Deserialize)]
struct RawTrigger<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
    #[serde(borrow, default)]
    channels: Option<Vec<Cow<'a, str>>>,
    #[serde(borrow, default)]
    channel: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    socket_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    info: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawBatch<'a> {
    #[serde(borrow)]
    batch: Vec<RawTrigger<'a>>,
}

impl<'a> Trigger<'a> {
    /// Decodes and validates a `POST /events` body.
    pub fn parse(body: &'a str, limits: &ApiLimits) -> Result<Trigger<'a>, ApiError> {
        require_object(body)?;
        let raw: RawTrigger<'a> =
            serde_json::from_str(body).map_err(|e| ApiError::Json(e.to_string()))?;
        Trigger::validate(raw, limits)
    }

    fn validate(raw: RawTrigger<'a>, limits: &ApiLimits) -> Result<Trigger<'a>, ApiError> {
        let name = raw.name.ok_or(ApiError::Missing("name"))?;
        let name = EventName::for_api(&name).map_err(ApiError::EventName)?;
        let data = Payload(raw.data.ok_or(ApiError::Missing("data"))?);
        let len = data.text().len();
        if len > limits.max_event_bytes {
            return Err(ApiError::DataTooLarge {
                len,
                max: limits.max_event_bytes,
            });
        }
        let names: Vec<Cow<'a, str>> = match (raw.channels, raw.channel) {
            (Some(channels), _) => channels,
            (None, Some(channel)) => vec![channel],
            (None, None) => return Err(ApiError::Missing("channels")),
        };
        if names.is_empty() {
            return Err(ApiError::Missing("channels"));
        }
        if names.len() > limits.max_channels {
            return Err(ApiError::TooManyChannels {
                len: names.len(),
                max: limits.max_channels,
            });
        }
        let channels = names
            .iter()
            .map(|c| parse_channel(c, limits))
            .collect::<Result<Vec<_>, _>>()?;
        let socket_id = match raw.socket_id {
            Some(id) => {
                Some(SocketId::parse(&id).map_err(|_| ApiError::SocketId(id.into_owned()))?)
            }
            None => None,
        };
        let info = Info::parse(raw.info.as_deref());
        if info.user_count && channels.iter().any(|c| !c.kind().is_presence()) {
            return Err(ApiError::UserCountNotPresence);
        }
        Ok(Trigger {
            name,
            data,
            channels,
            socket_id,
            info,
        })
    }

    /// Decodes and validates a `POST /batch_events` body; every item is validated before any
    /// is published.
    pub fn parse_batch(body: &'a str, limits: &ApiLimits) -> Result<Vec<Trigger<'a>>, ApiError> {
        require_object(body)?;
        let raw: RawBatch<'a> =
            serde_json::from_str(body).map_err(|e| ApiError::Json(e.to_string()))?;
        if raw.batch.len() > limits.max_batch {
            return Err(ApiError::BatchTooLarge {
                len: raw.batch.len(),
                max: limits.max_batch,
            });
        }
        let batch_limits = ApiLimits {
            max_channels: 1,
            ..*limits
        };
        raw.batch
            .into_iter()
            .map(|item| {
                if item.channel.is_none() {
                    return Err(ApiError::Missing("channel"));
                }
                Trigger::validate(item, &batch_limits)
            })
            .collect()
    }
}

/// serde would read a JSON array positionally into a struct; request bodies are objects.
fn require_object(body: &str) -> Result<(), ApiError> {
    if body.trim_start().starts_with('{') {
        Ok(())
    } else {
        Err(ApiError::Json("the body must be a JSON object".into()))
    }
}

/// Validates a channel name from an API request.
pub fn parse_channel(name: &str, limits: &ApiLimits) -> Result<ChannelName, ApiError> {
    ChannelName::parse_with_limit(name, limits.max_channel_name_len).map_err(|error| {
        ApiError::ChannelName {
            channel: name.chars().take(200).collect(),
            error,
        }
    })
}

/// Attributes of one channel in API responses; absent fields are left out.
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub struct ChannelInfo {
    /// Whether the channel has subscribers (single-channel queries only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occupied: Option<bool>,
    /// Distinct presence users.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_count: Option<usize>,
    /// Subscribed connections.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_count: Option<usize>,
    /// The cached event of a cache channel (`info=cache`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<CachedEvent>,
}

/// A cache channel's stored event, as shown by `info=cache`.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct CachedEvent {
    /// The event name.
    pub event: String,
    /// The event data string.
    pub data: String,
    /// Seconds until it expires.
    pub ttl: u64,
}

/// `GET /channels` response.
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub struct ChannelsResponse {
    /// Occupied channels and their requested attributes.
    pub channels: BTreeMap<String, ChannelInfo>,
}

/// `POST /events` response with `info`: `{"channels":{…}}`; without it the body is `{}`.
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub struct TriggerResponse {
    /// Attributes per channel published to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<BTreeMap<String, ChannelInfo>>,
}

/// `POST /batch_events` response with `info`: element *i* belongs to item *i*.
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub struct BatchResponse {
    /// Attributes per item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<Vec<ChannelInfo>>,
}

/// One user of a presence channel.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct User {
    /// The user id.
    pub id: String,
}

/// `GET /channels/{name}/users` response.
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub struct UsersResponse {
    /// Distinct users.
    pub users: Vec<User>,
}

/// Checks the `info` of a channel list query: `user_count` needs a `presence-` prefix filter.
pub fn check_channels_query(filter_by_prefix: Option<&str>, info: &Info) -> Result<(), ApiError> {
    if info.user_count && !filter_by_prefix.is_some_and(|p| p.starts_with("presence-")) {
        return Err(ApiError::UserCountNotPresence);
    }
    Ok(())
}

/// Checks the `info` of a single channel query: `user_count` only on presence channels.
pub fn check_channel_query(channel: &ChannelName, info: &Info) -> Result<(), ApiError> {
    if info.user_count && !channel.kind().is_presence() {
        return Err(ApiError::UserCountNotPresence);
    }
    Ok(())
}

/// Checks a users query: presence channels only.
pub fn check_users_query(channel: &ChannelName) -> Result<(), ApiError> {
    match channel.kind() {
        ChannelKind::Presence | ChannelKind::PresenceCache => Ok(()),
        _ => Err(ApiError::NotPresence),
    }
}
