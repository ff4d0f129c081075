//! Sans-I/O per-connection protocol state (spec §2, §5, §6, §9).
//!
//! The server's session loop feeds frames in with [`Connection::handle_frame`] and timer expiries
//! with [`Connection::handle_timeout`], asks [`Connection::poll_timeout`] when to wake up next,
//! and carries out the returned [`Action`]s. Time is a parameter: nothing here reads a clock.

use std::time::{Duration, Instant};

use serde_json::value::RawValue;

use crate::{
    auth::{self, AuthError},
    channel::{ChannelKind, ChannelName, ChannelNameError},
    error_code::ErrorCode,
    event_name::{EventName, EventNameError},
    message::{ClientMessage, DecodeError, ServerMessage},
    presence::{PresenceError, PresenceLimits, PresenceMember, UserData},
    socket_id::SocketId,
};

/// The longest `message` of a `pusher:error` built from a [`ProtocolError`], in bytes.
pub const MAX_ERROR_MESSAGE_BYTES: usize = 512;

/// An application's credentials and switches, as the connection needs them.
#[derive(Clone, Copy, Debug)]
pub struct AppPolicy<'a> {
    /// The app key (the part before `:` in `auth` tokens).
    pub key: &'a str,
    /// The app secret.
    pub secret: &'a str,
    /// Whether `client-` events are allowed (Pusher default: no).
    pub client_events: bool,
    /// Whether `pusher:signin` is accepted.
    pub user_authentication: bool,
    /// Client events per second per connection.
    pub client_events_per_second: u32,
    /// Largest client event `data`, in bytes of JSON text.
    pub max_event_bytes: usize,
    /// Longest channel name.
    pub max_channel_name_len: usize,
    /// Largest frame accepted.
    pub max_frame_bytes: usize,
    /// Presence limits.
    pub presence: PresenceLimits,
}

/// Timers of a connection.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Timers {
    /// The `activity_timeout` advertised to the client.
    pub activity_timeout: Duration,
    /// Extra silence tolerated after `activity_timeout` before the server pings, so the
    /// client's own ping does not race the server's (spec §9.2).
    pub ping_grace: Duration,
    /// How long to wait for any frame after a server ping before closing with 4201.
    pub pong_timeout: Duration,
    /// If set, a connection that neither signs in nor subscribes to an authorized channel within
    /// it is closed with 4009 (authorized connections, spec §5.8).
    pub user_authentication_timeout: Option<Duration>,
}

/// A protocol rule the client broke. Each maps to a `pusher:error` (and never a close).
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The frame could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// An invalid channel name.
    #[error("Invalid channel name {channel:?}: {error}")]
    ChannelName {
        /// The name offered (cut to 200 characters).
        channel: String,
        /// Why it is invalid.
        error: ChannelNameError,
    },
    /// Subscribing twice to one channel.
    #[error("Existing subscription to channel {0}")]
    AlreadySubscribed(ChannelName),
    /// A subscription's `auth` was missing or wrong.
    #[error("{error}")]
    SubscriptionAuth {
        /// The channel.
        channel: ChannelName,
        /// Why.
        error: AuthError,
    },
    /// A private, encrypted or presence subscription without `auth`.
    #[error("Missing auth for channel {0}")]
    MissingAuth(ChannelName),
    /// Presence `channel_data` was missing or invalid.
    #[error("{error}")]
    Presence {
        /// The channel.
        channel: ChannelName,
        /// Why.
        error: PresenceError,
    },
    /// A `#server-to-user-` subscription by a connection not signed in as that user.
    #[error("Connection is not signed in as the user of {0}")]
    NotThatUser(ChannelName),
    /// A client event while client events are disabled for the app.
    #[error("Client events are not enabled for this app")]
    ClientEventsDisabled,
    /// A client event with an invalid name.
    #[error("Invalid client event name: {0}")]
    ClientEventName(EventNameError),
    /// A client event on a channel the socket is not subscribed to.
    #[error("Client event rejected: not subscribed to channel {0}")]
    ClientEventNotSubscribed(String),
    /// A client event on a channel kind that does not allow them.
    #[error("Client events are not allowed on channel {0}")]
    ClientEventChannel(ChannelName),
    /// A client event whose data is too large.
    #[error("Client event data is {len} bytes, the limit is {max}")]
    ClientEventTooLarge {
        /// Size in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Client events over the per-second limit.
    #[error("Client event rejected due to rate limit ({0} per second)")]
    ClientEventRateLimit(u32),
    /// Sign-in is disabled for this app.
    #[error("User authentication is not enabled for this app")]
    SigninDisabled,
    /// Sign-in `auth` was wrong.
    #[error("{0}")]
    SigninAuth(AuthError),
    /// Sign-in `user_data` was invalid.
    #[error("{0}")]
    SigninUserData(PresenceError),
    /// The connection is already signed in as another user.
    #[error("Connection is already signed in as a different user")]
    SigninOtherUser,
}

impl ProtocolError {
    /// The code sent in the `pusher:error` for this rule; `None` is `"code": null`, as real
    /// Pusher sends for subscription errors (spec §5.3). The match is exhaustive on purpose.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ProtocolError::Decode(_)
            | ProtocolError::ChannelName { .. }
            | ProtocolError::AlreadySubscribed(_)
            | ProtocolError::SubscriptionAuth { .. }
            | ProtocolError::MissingAuth(_)
            | ProtocolError::Presence { .. }
            | ProtocolError::NotThatUser(_) => None,
            ProtocolError::ClientEventsDisabled
            | ProtocolError::ClientEventName(_)
            | ProtocolError::ClientEventNotSubscribed(_)
            | ProtocolError::ClientEventChannel(_)
            | ProtocolError::ClientEventTooLarge { .. }
            | ProtocolError::ClientEventRateLimit(_) => Some(ErrorCode::ClientEventRejected),
            ProtocolError::SigninDisabled
            | ProtocolError::SigninAuth(_)
            | ProtocolError::SigninUserData(_)
            | ProtocolError::SigninOtherUser => Some(ErrorCode::Unauthorized),
        }
    }

    /// The channel the error concerns, for the `channel` field of `pusher:error`.
    pub fn channel(&self) -> Option<&str> {
        match self {
            ProtocolError::AlreadySubscribed(c)
            | ProtocolError::SubscriptionAuth { channel: c, .. }
            | ProtocolError::MissingAuth(c)
            | ProtocolError::Presence { channel: c, .. }
            | ProtocolError::NotThatUser(c)
            | ProtocolError::ClientEventChannel(c) => Some(c.as_str()),
            ProtocolError::ChannelName { channel, .. }
            | ProtocolError::ClientEventNotSubscribed(channel) => Some(channel),
            ProtocolError::Decode(_)
            | ProtocolError::ClientEventsDisabled
            | ProtocolError::ClientEventName(_)
            | ProtocolError::ClientEventTooLarge { .. }
            | ProtocolError::ClientEventRateLimit(_)
            | ProtocolError::SigninDisabled
            | ProtocolError::SigninAuth(_)
            | ProtocolError::SigninUserData(_)
            | ProtocolError::SigninOtherUser => None,
        }
    }

    /// Whether this is a failed subscription (for the soketi-style `pusher:subscription_error`).
    pub fn is_subscription_error(&self) -> bool {
        matches!(
            self,
            ProtocolError::SubscriptionAuth { .. }
                | ProtocolError::MissingAuth(_)
                | ProtocolError::Presence { .. }
                | ProtocolError::NotThatUser(_)
        )
    }

    /// The `pusher:error` frame for this error.
    pub fn to_frame(&self) -> String {
        let mut message = self.to_string();
        // Messages may quote client input; never echo more than a few hundred bytes of it.
        if message.len() > MAX_ERROR_MESSAGE_BYTES {
            let mut end = MAX_ERROR_MESSAGE_BYTES;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
            message.push('…');
        }
        ServerMessage::Error {
            code: self.code(),
            message: &message,
            channel: self.channel(),
        }
        .encode()
    }
}

/// What the server must do after a client frame.
#[derive(Debug)]
pub enum Action {
    /// Nothing (a pong, an unknown event, an unsubscribe from an unknown channel).
    None,
    /// Send this frame back to the client.
    Reply(String),
    /// Join the channel (the connection already counts it as subscribed; call
    /// [`Connection::remove_subscription`] if the join fails). Then send `subscription_succeeded`.
    Subscribe {
        /// The channel.
        channel: ChannelName,
        /// The presence member, for presence channels.
        member: Option<PresenceMember>,
    },
    /// Leave the channel.
    Unsubscribe {
        /// The channel.
        channel: ChannelName,
        /// The presence user id the socket had there, if any.
        user_id: Option<Box<str>>,
    },
    /// Relay a client event to the channel's other subscribers.
    ClientEvent {
        /// The channel.
        channel: ChannelName,
        /// The event name.
        event: EventName,
        /// The payload exactly as sent.
        data: Box<RawValue>,
        /// The sender's presence user id (presence channels only).
        user_id: Option<Box<str>>,
    },
    /// The connection signed in: send `signin_success` (with `user_data`), register the user,
    /// start its watchlist, and send 4302 if the watchlist was cut.
    Signin {
        /// The parsed user.
        user: UserData,
        /// The exact `user_data` string for `signin_success`.
        user_data: Box<str>,
    },
}

/// What the server must do when [`Connection::poll_timeout`] expires.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum TimeoutAction {
    /// Nothing yet (woken early).
    None,
    /// Send `pusher:ping` (and optionally a WebSocket ping).
    Ping,
    /// Send `pusher:error` with the code, then close with it.
    Close(ErrorCode),
}

#[derive(Debug)]
struct Subscription {
    channel: ChannelName,
    user_id: Option<Box<str>>,
}

/// The protocol state of one connection.
#[derive(Debug)]
pub struct Connection {
    socket_id: SocketId,
    timers: Timers,
    subscriptions: Vec<Subscription>,
    user: Option<Box<str>>,
    last_seen: Instant,
    ping_sent: Option<Instant>,
    auth_deadline: Option<Instant>,
    rate_window: Instant,
    rate_count: u32,
}

impl Connection {
    /// A new connection, opened at `now`.
    pub fn new(socket_id: SocketId, timers: Timers, now: Instant) -> Connection {
        Connection {
            socket_id,
            timers,
            subscriptions: Vec::new(),
            user: None,
            last_seen: now,
            ping_sent: None,
            auth_deadline: timers.user_authentication_timeout.map(|t| now + t),
            rate_window: now,
            rate_count: 0,
        }
    }

    /// The socket id.
    pub fn socket_id(&self) -> SocketId {
        self.socket_id
    }

    /// The `pusher:connection_established` frame. `activity_timeout` is whole seconds and at
    /// least 1: pusher-js refuses a handshake without a positive value (spec §1.3, §10.2).
    pub fn established_frame(&self) -> String {
        ServerMessage::ConnectionEstablished {
            socket_id: self.socket_id,
            activity_timeout: u32::try_from(self.timers.activity_timeout.as_secs())
                .unwrap_or(u32::MAX)
                .max(1),
        }
        .encode()
    }

    /// The signed-in user id, if any.
    pub fn user_id(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The subscribed channels with the presence user id held in each.
    pub fn subscriptions(&self) -> impl Iterator<Item = (&ChannelName, Option<&str>)> {
        self.subscriptions
            .iter()
            .map(|s| (&s.channel, s.user_id.as_deref()))
    }

    /// The presence user id this connection holds in `channel`, if any.
    pub fn presence_user(&self, channel: &str) -> Option<&str> {
        self.subscriptions
            .iter()
            .find(|s| s.channel.as_str() == channel)
            .and_then(|s| s.user_id.as_deref())
    }

    /// Whether the connection is subscribed to `channel`.
    pub fn is_subscribed(&self, channel: &str) -> bool {
        self.subscriptions
            .iter()
            .any(|s| s.channel.as_str() == channel)
    }

    /// Forgets a subscription (after a failed join, or when the server removes it).
    pub fn remove_subscription(&mut self, channel: &str) {
        self.subscriptions.retain(|s| s.channel.as_str() != channel);
    }

    /// Any inbound traffic (including WebSocket ping/pong frames) proves liveness.
    pub fn handle_activity(&mut self, now: Instant) {
        self.last_seen = now;
        self.ping_sent = None;
    }

    /// When the server must next call [`Connection::handle_timeout`].
    pub fn poll_timeout(&self) -> Instant {
        let liveness = match self.ping_sent {
            Some(sent) => sent + self.timers.pong_timeout,
            None => self.last_seen + self.timers.activity_timeout + self.timers.ping_grace,
        };
        match self.auth_deadline {
            Some(deadline) => deadline.min(liveness),
            None => liveness,
        }
    }

    /// Handles a timer expiry.
    pub fn handle_timeout(&mut self, now: Instant) -> TimeoutAction {
        if self.auth_deadline.is_some_and(|d| now >= d) {
            return TimeoutAction::Close(ErrorCode::Unauthorized);
        }
        match self.ping_sent {
            Some(sent) if now >= sent + self.timers.pong_timeout => {
                TimeoutAction::Close(ErrorCode::PongNotReceived)
            }
            None if now
                >= self.last_seen + self.timers.activity_timeout + self.timers.ping_grace =>
            {
                self.ping_sent = Some(now);
                TimeoutAction::Ping
            }
            _ => TimeoutAction::None,
        }
    }

    /// Handles one text frame from the client.
    pub fn handle_frame(
        &mut self,
        now: Instant,
        text: &str,
        app: &AppPolicy<'_>,
    ) -> Result<Action, ProtocolError> {
        self.handle_activity(now);
        match ClientMessage::decode(text, app.max_frame_bytes)? {
            ClientMessage::Ping => Ok(Action::Reply(ServerMessage::Pong.encode())),
            ClientMessage::Pong | ClientMessage::Other { .. } => Ok(Action::None),
            ClientMessage::Subscribe {
                channel,
                auth,
                channel_data,
            } => self.subscribe(&channel, auth.as_deref(), channel_data.as_deref(), app),
            ClientMessage::Unsubscribe { channel } => {
                match self
                    .subscriptions
                    .iter()
                    .position(|s| s.channel.as_str() == channel)
                {
                    Some(i) => {
                        let sub = self.subscriptions.swap_remove(i);
                        Ok(Action::Unsubscribe {
                            channel: sub.channel,
                            user_id: sub.user_id,
                        })
                    }
                    None => Ok(Action::None),
                }
            }
            ClientMessage::Signin { auth, user_data } => self.signin(&auth, &user_data, app),
            ClientMessage::ClientEvent {
                event,
                channel,
                data,
            } => self.client_event(now, &event, &channel, data, app),
        }
    }

    fn subscribe(
        &mut self,
        name: &str,
        auth: Option<&str>,
        channel_data: Option<&str>,
        app: &AppPolicy<'_>,
    ) -> Result<Action, ProtocolError> {
        let channel =
            ChannelName::parse_with_limit(name, app.max_channel_name_len).map_err(|error| {
                ProtocolError::ChannelName {
                    channel: name.chars().take(200).collect(),
                    error,
                }
            })?;
        if self.is_subscribed(name) {
            return Err(ProtocolError::AlreadySubscribed(channel));
        }
        let kind = channel.kind();
        let socket_id = self.socket_id.to_string();
        let mut member = None;
        if kind == ChannelKind::ServerToUser {
            if self.user.as_deref() != channel.server_to_user_id() {
                return Err(ProtocolError::NotThatUser(channel));
            }
        } else if kind.requires_auth() {
            let auth = match auth {
                Some(a) if !a.is_empty() => a,
                _ => return Err(ProtocolError::MissingAuth(channel)),
            };
            let signed_data = if kind.is_presence() {
                channel_data
            } else {
                None
            };
            if kind.is_presence() && channel_data.is_none() {
                return Err(ProtocolError::Presence {
                    channel,
                    error: PresenceError::MissingChannelData,
                });
            }
            if let Err(error) = auth::channel::verify(
                app.key,
                app.secret,
                &socket_id,
                channel.as_str(),
                signed_data,
                auth,
            ) {
                return Err(ProtocolError::SubscriptionAuth { channel, error });
            }
            if let Some(data) = signed_data {
                member = Some(PresenceMember::parse(data, &app.presence).map_err(|error| {
                    ProtocolError::Presence {
                        channel: channel.clone(),
                        error,
                    }
                })?);
            }
            self.auth_deadline = None;
        }
        self.subscriptions.push(Subscription {
            channel: channel.clone(),
            user_id: member.as_ref().map(|m| m.user_id.clone()),
        });
        Ok(Action::Subscribe { channel, member })
    }

    fn signin(
        &mut self,
        auth: &str,
        user_data: &str,
        app: &AppPolicy<'_>,
    ) -> Result<Action, ProtocolError> {
        if !app.user_authentication {
            return Err(ProtocolError::SigninDisabled);
        }
        auth::user::verify(
            app.key,
            app.secret,
            &self.socket_id.to_string(),
            user_data,
            auth,
        )
        .map_err(ProtocolError::SigninAuth)?;
        let user =
            UserData::parse(user_data, &app.presence).map_err(ProtocolError::SigninUserData)?;
        match &self.user {
            Some(current) if *current != user.id => return Err(ProtocolError::SigninOtherUser),
            _ => {}
        }
        self.user = Some(user.id.clone());
        self.auth_deadline = None;
        Ok(Action::Signin {
            user,
            user_data: user_data.into(),
        })
    }

    fn client_event(
        &mut self,
        now: Instant,
        event: &str,
        channel: &str,
        data: &RawValue,
        app: &AppPolicy<'_>,
    ) -> Result<Action, ProtocolError> {
        if !app.client_events {
            return Err(ProtocolError::ClientEventsDisabled);
        }
        let event = EventName::for_client(event).map_err(ProtocolError::ClientEventName)?;
        let sub = self
            .subscriptions
            .iter()
            .find(|s| s.channel.as_str() == channel)
            .ok_or_else(|| {
                ProtocolError::ClientEventNotSubscribed(channel.chars().take(200).collect())
            })?;
        if !sub.channel.kind().allows_client_events() {
            return Err(ProtocolError::ClientEventChannel(sub.channel.clone()));
        }
        let len = data.get().len();
        if len > app.max_event_bytes {
            return Err(ProtocolError::ClientEventTooLarge {
                len,
                max: app.max_event_bytes,
            });
        }
        if now.duration_since(self.rate_window) >= Duration::from_secs(1) {
            self.rate_window = now;
            self.rate_count = 0;
        }
        if self.rate_count >= app.client_events_per_second {
            return Err(ProtocolError::ClientEventRateLimit(
                app.client_events_per_second,
            ));
        }
        self.rate_count += 1;
        Ok(Action::ClientEvent {
            channel: sub.channel.clone(),
            event,
            data: data.to_owned(),
            user_id: sub.user_id.clone(),
        })
    }
}
