//! Protocol 7 messages: the client → server decoder and the server → client encoder.
//!
//! The "data is a JSON-encoded string" rule (protocol doc, "Double encoding") is applied in
//! exactly one place each way: [`ClientMessage::decode`] accepts `pusher:*` data as an object or
//! as a string holding an object, and [`ServerMessage::encode`] decides per message whether
//! `data` is written as a string. Client-event and API payloads stay raw JSON text throughout.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::{
    error_code::ErrorCode,
    json::{is_string, push_str_literal},
    socket_id::SocketId,
};

/// Why a client frame could not be decoded. Each kind answers with a `pusher:error`; none
/// closes the connection (spec §2.1: never close for malformed input).
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The frame is larger than the configured limit.
    #[error("Frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Frame size in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The frame is not a JSON object with a string `event`.
    #[error("Invalid JSON frame: {0}")]
    Json(String),
    /// A `pusher:*` message lacks a field or has one of the wrong type.
    #[error("Invalid {event} message: {reason}")]
    InvalidData {
        /// The event name.
        event: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A `client-` event without a channel.
    #[error("Client event without a channel")]
    MissingChannel,
}

/// A message from a client, borrowing from the frame text.
#[derive(Clone, Debug)]
pub enum ClientMessage<'a> {
    /// `pusher:subscribe`.
    Subscribe {
        /// The channel name, not yet validated.
        channel: Cow<'a, str>,
        /// The `auth` token (`""` for public channels).
        auth: Option<Cow<'a, str>>,
        /// Presence `channel_data`, the exact string signed by the app server.
        channel_data: Option<Cow<'a, str>>,
    },
    /// `pusher:unsubscribe`.
    Unsubscribe {
        /// The channel name.
        channel: Cow<'a, str>,
    },
    /// `pusher:ping`.
    Ping,
    /// `pusher:pong`.
    Pong,
    /// `pusher:signin`.
    Signin {
        /// The `auth` token.
        auth: Cow<'a, str>,
        /// The `user_data` JSON string, exactly as sent.
        user_data: Cow<'a, str>,
    },
    /// A `client-*` event.
    ClientEvent {
        /// The event name.
        event: Cow<'a, str>,
        /// The channel name, not yet validated.
        channel: Cow<'a, str>,
        /// The payload exactly as sent (`null` when absent).
        data: &'a RawValue,
    },
    /// Any other event name: ignored by the server (spec §2.1 [DECISION]).
    Other {
        /// The event name.
        event: Cow<'a, str>,
    },
}

#[derive(Deserialize)]
struct RawFrame<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(borrow, default)]
    channel: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct SubscribeData<'a> {
    #[serde(borrow)]
    channel: Cow<'a, str>,
    #[serde(borrow, default)]
    auth: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    channel_data: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct UnsubscribeData<'a> {
    #[serde(borrow)]
    channel: Cow<'a, str>,
}

#[derive(Deserialize)]
struct SigninData<'a> {
    #[serde(borrow)]
    auth: Cow<'a, str>,
    #[serde(borrow)]
    user_data: Cow<'a, str>,
}

const NULL: &str = "null";

impl<'a> ClientMessage<'a> {
    /// Decodes one text frame. `max_len` bounds the frame size.
    pub fn decode(text: &'a str, max_len: usize) -> Result<ClientMessage<'a>, DecodeError> {
        if text.len() > max_len {
            return Err(DecodeError::TooLarge {
                len: text.len(),
                max: max_len,
            });
        }
        if !text.trim_start().starts_with('{') {
            // serde would read an array positionally; a frame is always an object.
            return Err(DecodeError::Json("a frame must be a JSON object".into()));
        }
        let frame: RawFrame<'a> =
            serde_json::from_str(text).map_err(|e| DecodeError::Json(e.to_string()))?;
        Ok(match &*frame.event {
            event @ ("pusher:subscribe" | "pusher:unsubscribe" | "pusher:signin") => {
                let event = match event {
                    "pusher:subscribe" => "pusher:subscribe",
                    "pusher:unsubscribe" => "pusher:unsubscribe",
                    _ => "pusher:signin",
                };
                let raw = frame.data.ok_or_else(|| DecodeError::InvalidData {
                    event,
                    reason: "missing data".into(),
                })?;
                if is_string(raw) {
                    // Data given as a JSON string holding the object (Reverb's leniency for
                    // third-party clients): decode the string, then the object, owned.
                    let inner: String =
                        serde_json::from_str(raw.get()).map_err(|e| invalid(event, &e))?;
                    pusher_data(event, &inner)?.into_owned()
                } else {
                    pusher_data(event, raw.get())?
                }
            }
            "pusher:ping" => ClientMessage::Ping,
            "pusher:pong" => ClientMessage::Pong,
            name if name.starts_with("client-") => ClientMessage::ClientEvent {
                channel: frame.channel.ok_or(DecodeError::MissingChannel)?,
                data: frame.data.unwrap_or(null_raw()),
                event: frame.event,
            },
            _ => ClientMessage::Other { event: frame.event },
        })
    }

    /// Detaches a subscribe, unsubscribe or sign-in message from the frame text.
    fn into_owned(self) -> ClientMessage<'static> {
        let own = |c: Cow<'_, str>| Cow::Owned(c.into_owned());
        match self {
            ClientMessage::Subscribe {
                channel,
                auth,
                channel_data,
            } => ClientMessage::Subscribe {
                channel: own(channel),
                auth: auth.map(own),
                channel_data: channel_data.map(own),
            },
            ClientMessage::Unsubscribe { channel } => ClientMessage::Unsubscribe {
                channel: own(channel),
            },
            ClientMessage::Signin { auth, user_data } => ClientMessage::Signin {
                auth: own(auth),
                user_data: own(user_data),
            },
            ClientMessage::Ping => ClientMessage::Ping,
            ClientMessage::Pong => ClientMessage::Pong,
            ClientMessage::ClientEvent { event, .. } | ClientMessage::Other { event } => {
                ClientMessage::Other { event: own(event) }
            }
        }
    }
}

fn invalid(event: &'static str, e: &serde_json::Error) -> DecodeError {
    DecodeError::InvalidData {
        event,
        reason: e.to_string(),
    }
}

fn null_raw() -> &'static RawValue {
    // unwrap: "null" is valid JSON.
    serde_json::from_str(NULL).unwrap()
}

/// Decodes the object `data` of a `pusher:subscribe`, `pusher:unsubscribe` or `pusher:signin`.
fn pusher_data<'t>(event: &'static str, text: &'t str) -> Result<ClientMessage<'t>, DecodeError> {
    Ok(match event {
        "pusher:subscribe" => {
            let d: SubscribeData<'t> =
                serde_json::from_str(text).map_err(|e| invalid(event, &e))?;
            ClientMessage::Subscribe {
                channel: d.channel,
                auth: d.auth,
                channel_data: d.channel_data,
            }
        }
        "pusher:unsubscribe" => {
            let d: UnsubscribeData<'t> =
                serde_json::from_str(text).map_err(|e| invalid(event, &e))?;
            ClientMessage::Unsubscribe { channel: d.channel }
        }
        _ => {
            let d: SigninData<'t> = serde_json::from_str(text).map_err(|e| invalid(event, &e))?;
            ClientMessage::Signin {
                auth: d.auth,
                user_data: d.user_data,
            }
        }
    })
}

/// The `data` of an application event sent to clients.
#[derive(Clone, Copy, Debug)]
pub enum EventData<'a> {
    /// Raw JSON written verbatim: an API `data` string token, or a client event's payload.
    Raw(&'a RawValue),
    /// Text to be written as a JSON string (an API payload that arrived as an object is
    /// stringified this way, spec §10 item 16).
    Text(&'a str),
}

/// One `pusher_internal:watchlist_events` entry.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum WatchlistEvent<'a> {
    /// These users came online.
    Online(&'a [&'a str]),
    /// These users went offline.
    Offline(&'a [&'a str]),
}

/// A message from the server, ready to be encoded.
#[derive(Clone, Copy, Debug)]
pub enum ServerMessage<'a> {
    /// `pusher:connection_established`, data as a string.
    ConnectionEstablished {
        /// The new connection's socket id.
        socket_id: SocketId,
        /// Seconds of inactivity after which the client pings.
        activity_timeout: u32,
    },
    /// `pusher:error`, data as an object (the documented exception to double encoding).
    Error {
        /// The code, or `null`.
        code: Option<ErrorCode>,
        /// A human-readable message.
        message: &'a str,
        /// The channel the error concerns, if any.
        channel: Option<&'a str>,
    },
    /// soketi-style `pusher:subscription_error` (optional compatibility switch).
    SubscriptionError {
        /// The channel.
        channel: &'a str,
        /// The error text.
        error: &'a str,
        /// An HTTP-like status (401 for auth errors).
        status: u16,
    },
    /// `pusher:ping` from the server.
    Ping,
    /// `pusher:pong` in reply to a client ping.
    Pong,
    /// `pusher_internal:subscription_succeeded`; `presence` is the roster JSON for presence
    /// channels (see [`crate::presence::roster_json`]), `None` gives `"{}"`.
    SubscriptionSucceeded {
        /// The channel.
        channel: &'a str,
        /// The roster JSON text, for presence channels.
        presence: Option<&'a str>,
    },
    /// `pusher_internal:member_added`, data as a string.
    MemberAdded {
        /// The channel.
        channel: &'a str,
        /// The new member's id.
        user_id: &'a str,
        /// The member's info JSON, if any.
        user_info: Option<&'a RawValue>,
    },
    /// `pusher_internal:member_removed`, data as a string.
    MemberRemoved {
        /// The channel.
        channel: &'a str,
        /// The departed member's id.
        user_id: &'a str,
    },
    /// `pusher_internal:subscription_count`, data as a string.
    SubscriptionCount {
        /// The channel.
        channel: &'a str,
        /// The number of subscribed connections.
        count: usize,
    },
    /// `pusher:cache_miss` for a cache channel with nothing cached.
    CacheMiss {
        /// The channel.
        channel: &'a str,
    },
    /// `pusher:signin_success`, data as an object holding the exact `user_data` string.
    SigninSuccess {
        /// The `user_data` string as the client sent it.
        user_data: &'a str,
    },
    /// `pusher_internal:watchlist_events` with `data.events[]` (spec §5.9).
    Watchlist {
        /// The events, in order.
        events: &'a [WatchlistEvent<'a>],
    },
    /// An application or client event.
    Event {
        /// The event name.
        event: &'a str,
        /// The channel (absent only for channel-less server events).
        channel: Option<&'a str>,
        /// The payload.
        data: EventData<'a>,
        /// The sender's user id, for client events on presence channels (top level).
        user_id: Option<&'a str>,
    },
}

impl ServerMessage<'_> {
    /// Encodes the message as one JSON text frame.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(96);
        self.encode_into(&mut out);
        out
    }

    /// Appends the encoded frame to `out`.
    pub fn encode_into(&self, out: &mut String) {
        match *self {
            ServerMessage::ConnectionEstablished {
                socket_id,
                activity_timeout,
            } => {
                let data = format!(
                    r#"{{"socket_id":"{socket_id}","activity_timeout":{activity_timeout}}}"#
                );
                head(out, "pusher:connection_established", None);
                string_data(out, &data);
            }
            ServerMessage::Error {
                code,
                message,
                channel,
            } => {
                head(out, "pusher:error", channel);
                out.push_str(r#","data":{"code":"#);
                match code {
                    Some(code) => out.push_str(&code.code().to_string()),
                    None => out.push_str(NULL),
                }
                out.push_str(r#","message":"#);
                push_str_literal(out, message);
                out.push_str("}}");
            }
            ServerMessage::SubscriptionError {
                channel,
                error,
                status,
            } => {
                head(out, "pusher:subscription_error", Some(channel));
                out.push_str(r#","data":{"type":"AuthError","error":"#);
                push_str_literal(out, error);
                out.push_str(&format!(r#","status":{status}}}}}"#));
            }
            ServerMessage::Ping => out.push_str(r#"{"event":"pusher:ping","data":{}}"#),
            ServerMessage::Pong => out.push_str(r#"{"event":"pusher:pong","data":{}}"#),
            ServerMessage::SubscriptionSucceeded { channel, presence } => {
                head(out, "pusher_internal:subscription_succeeded", Some(channel));
                string_data(out, presence.unwrap_or("{}"));
            }
            ServerMessage::MemberAdded {
                channel,
                user_id,
                user_info,
            } => {
                let mut data = String::from(r#"{"user_id":"#);
                push_str_literal(&mut data, user_id);
                data.push_str(r#","user_info":"#);
                data.push_str(user_info.map_or("{}", |raw| raw.get()));
                data.push('}');
                head(out, "pusher_internal:member_added", Some(channel));
                string_data(out, &data);
            }
            ServerMessage::MemberRemoved { channel, user_id } => {
                let mut data = String::from(r#"{"user_id":"#);
                push_str_literal(&mut data, user_id);
                data.push('}');
                head(out, "pusher_internal:member_removed", Some(channel));
                string_data(out, &data);
            }
            ServerMessage::SubscriptionCount { channel, count } => {
                head(out, "pusher_internal:subscription_count", Some(channel));
                string_data(out, &format!(r#"{{"subscription_count":{count}}}"#));
            }
            ServerMessage::CacheMiss { channel } => {
                head(out, "pusher:cache_miss", Some(channel));
                out.push('}');
            }
            ServerMessage::SigninSuccess { user_data } => {
                head(out, "pusher:signin_success", None);
                out.push_str(r#","data":{"user_data":"#);
                push_str_literal(out, user_data);
                out.push_str("}}");
            }
            ServerMessage::Watchlist { events } => {
                head(out, "pusher_internal:watchlist_events", None);
                out.push_str(r#","data":{"events":["#);
                for (i, event) in events.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let (name, ids) = match event {
                        WatchlistEvent::Online(ids) => ("online", ids),
                        WatchlistEvent::Offline(ids) => ("offline", ids),
                    };
                    out.push_str(&format!(r#"{{"name":"{name}","user_ids":["#));
                    for (j, id) in ids.iter().enumerate() {
                        if j > 0 {
                            out.push(',');
                        }
                        push_str_literal(out, id);
                    }
                    out.push_str("]}");
                }
                out.push_str("]}}");
            }
            ServerMessage::Event {
                event,
                channel,
                data,
                user_id,
            } => {
                head(out, event, channel);
                out.push_str(r#","data":"#);
                match data {
                    EventData::Raw(raw) => out.push_str(raw.get()),
                    EventData::Text(text) => push_str_literal(out, text),
                }
                if let Some(user_id) = user_id {
                    out.push_str(r#","user_id":"#);
                    push_str_literal(out, user_id);
                }
                out.push('}');
            }
        }
    }
}

/// `{"event":…` and `,"channel":…` when present; the caller continues with `,"data"` or `}`.
fn head(out: &mut String, event: &str, channel: Option<&str>) {
    out.push_str(r#"{"event":"#);
    push_str_literal(out, event);
    if let Some(channel) = channel {
        out.push_str(r#","channel":"#);
        push_str_literal(out, channel);
    }
}

/// `,"data":"<json text as a string>"}`: the one place where double encoding happens.
fn string_data(out: &mut String, json_text: &str) {
    out.push_str(r#","data":"#);
    push_str_literal(out, json_text);
    out.push('}');
}
