//! Pusher-format webhook payloads (spec §8): `{"time_ms": …, "events": [ … ]}`.

use serde::{Deserialize, Serialize};

/// One webhook event, tagged by `name`.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum WebhookEvent {
    /// A channel went from no subscribers to some.
    ChannelOccupied {
        /// The channel.
        channel: String,
    },
    /// A channel lost its last subscriber.
    ChannelVacated {
        /// The channel.
        channel: String,
    },
    /// A new user joined a presence channel.
    MemberAdded {
        /// The channel.
        channel: String,
        /// The user.
        user_id: String,
    },
    /// A user's last connection left a presence channel.
    MemberRemoved {
        /// The channel.
        channel: String,
        /// The user.
        user_id: String,
    },
    /// A client event was sent.
    ClientEvent {
        /// The channel.
        channel: String,
        /// The event name.
        event: String,
        /// The data, as a string.
        data: String,
        /// The sender's socket id.
        socket_id: String,
        /// The sender's user id (presence channels only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_id: Option<String>,
    },
    /// A subscriber found a cache channel empty.
    CacheMiss {
        /// The channel.
        channel: String,
    },
    /// A channel's subscription count changed.
    SubscriptionCount {
        /// The channel.
        channel: String,
        /// The new count.
        subscription_count: usize,
    },
}

impl WebhookEvent {
    /// The event type name used in configuration (`channel_occupied`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            WebhookEvent::ChannelOccupied { .. } => "channel_occupied",
            WebhookEvent::ChannelVacated { .. } => "channel_vacated",
            WebhookEvent::MemberAdded { .. } => "member_added",
            WebhookEvent::MemberRemoved { .. } => "member_removed",
            WebhookEvent::ClientEvent { .. } => "client_event",
            WebhookEvent::CacheMiss { .. } => "cache_miss",
            WebhookEvent::SubscriptionCount { .. } => "subscription_count",
        }
    }
}

/// A webhook request body.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct WebhookPayload {
    /// Unix time in milliseconds when the webhook was created.
    pub time_ms: u64,
    /// The events.
    pub events: Vec<WebhookEvent>,
}

impl WebhookPayload {
    /// The exact body bytes to sign and send.
    pub fn to_body(&self) -> String {
        // unwrap: these types always serialize.
        serde_json::to_string(self).unwrap()
    }
}
