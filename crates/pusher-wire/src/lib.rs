//! The Pusher Channels protocol, version 7, as pure code.
//!
//! This crate does **no I/O, reads no clock and uses no randomness**: times and random values
//! are parameters, so every rule is testable on bytes with fake time. It holds:
//!
//! - validated names: [`ChannelName`] (with its [`ChannelKind`] by prefix), [`SocketId`],
//!   [`EventName`];
//! - every client and server message ([`ClientMessage`], [`ServerMessage`]) with the
//!   "data is a JSON string" rule applied in one decoder and one encoder;
//! - the close/error code table [`ErrorCode`] with its [`Reconnect`] class;
//! - HMAC-SHA256 signing and constant-time verification ([`auth`]) for channels, user sign-in,
//!   HTTP API requests and webhooks;
//! - HTTP API ([`api`]) and webhook ([`webhook`]) payload types, presence data ([`presence`]);
//! - the per-connection state machine [`Connection`].
//!
//! The reference is `spec/pusher-protocol.md` and <https://pusher.com/docs/channels/library_auth_reference/pusher-websockets-protocol>.
#![warn(missing_docs, unreachable_pub)]
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod channel;
pub mod connection;
pub mod error_code;
pub mod event_name;
mod json;
pub mod message;
pub mod presence;
pub mod socket_id;
pub mod webhook;

pub use channel::{ChannelKind, ChannelName, ChannelNameError};
pub use connection::{Action, AppPolicy, Connection, ProtocolError, TimeoutAction, Timers};
pub use error_code::{ErrorCode, Reconnect};
pub use event_name::{EventName, EventNameError};
pub use message::{ClientMessage, DecodeError, EventData, ServerMessage, WatchlistEvent};
pub use socket_id::SocketId;

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u8 = 7;

/// Appends `s` to `out` as a JSON string literal, escaped exactly as `serde_json` does.
pub fn push_json_string(out: &mut String, s: &str) {
    json::push_str_literal(out, s);
}
