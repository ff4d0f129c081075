//! The data of outgoing webhooks: subscriber endpoints, events (messages), deliveries (the
//! queue rows, one per event × target) and attempts (the log).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// A subscriber webhook's status (seed 002: `active`, `inactive`; plus `disabled`, set by Relay
/// when the endpoint answered 410 or failed for too long).
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookStatus {
    /// Receives events.
    Active,
    /// Paused by an operator; receives nothing.
    Inactive,
    /// Stopped by Relay (410 Gone, or failing past the limit); events are still recorded as
    /// skipped deliveries so they can be recovered.
    Disabled,
}

impl WebhookStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookStatus::Active => "active",
            WebhookStatus::Inactive => "inactive",
            WebhookStatus::Disabled => "disabled",
        }
    }

    /// The status with this name.
    pub fn from_name(name: &str) -> Option<WebhookStatus> {
        match name {
            "active" => Some(WebhookStatus::Active),
            "inactive" => Some(WebhookStatus::Inactive),
            "disabled" => Some(WebhookStatus::Disabled),
            _ => None,
        }
    }
}

/// A subscriber webhook (seed 002's object, plus `website_ids` and failure state).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Webhook {
    /// Integer id.
    pub id: i64,
    /// Name or description.
    pub name: String,
    /// Target URL.
    pub url: String,
    /// Event patterns: catalog names, `vertical.*`, `*`.
    pub events: Vec<String>,
    /// Only events of these sites (`None`: every site).
    pub website_ids: Option<Vec<Uuid>>,
    /// Status.
    pub status: WebhookStatus,
    /// Signing secret (`whsec_…`).
    pub secret: String,
    /// Custom headers sent with every delivery.
    pub headers: BTreeMap<String, String>,
    /// Retries after the first attempt.
    pub retry_count: u32,
    /// Last successful delivery.
    pub last_triggered_at: Option<DateTime<Utc>>,
    /// Last error, cleared by a success.
    pub last_error: Option<String>,
    /// Deliveries that failed for good in a row (reset by a success).
    pub consecutive_failures: u32,
    /// Why Relay disabled it.
    pub disabled_reason: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// The fields of a new webhook (validated by the admin API).
#[derive(Clone, Debug, PartialEq)]
pub struct NewWebhook {
    /// Name.
    pub name: String,
    /// URL.
    pub url: String,
    /// Event patterns.
    pub events: Vec<String>,
    /// Site filter.
    pub website_ids: Option<Vec<Uuid>>,
    /// Status (`active` or `inactive`).
    pub status: WebhookStatus,
    /// Secret.
    pub secret: String,
    /// Custom headers.
    pub headers: BTreeMap<String, String>,
    /// Retries after the first attempt.
    pub retry_count: u32,
}

/// A partial update; `None` leaves a field unchanged. `website_ids: Some(None)` clears the
/// filter.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WebhookPatch {
    /// Name.
    pub name: Option<String>,
    /// URL.
    pub url: Option<String>,
    /// Event patterns.
    pub events: Option<Vec<String>>,
    /// Site filter.
    pub website_ids: Option<Option<Vec<Uuid>>>,
    /// Status; setting `active` also clears `disabled_reason` and `consecutive_failures`.
    pub status: Option<WebhookStatus>,
    /// Secret.
    pub secret: Option<String>,
    /// Custom headers.
    pub headers: Option<BTreeMap<String, String>>,
    /// Retries.
    pub retry_count: Option<u32>,
}

/// Where a delivery goes.
#[derive(Clone, Debug, Eq, Hash, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// A subscriber webhook (its URL, secret and headers are read at send time).
    Subscriber {
        /// The webhook id.
        webhook_id: i64,
    },
    /// A Pusher-format app webhook from the configuration.
    Pusher {
        /// The app id.
        app_id: String,
        /// The URL.
        url: String,
    },
}

impl Target {
    /// A short key for per-endpoint limits and logs (`webhook:7`, `pusher:<url>`).
    pub fn key(&self) -> String {
        match self {
            Target::Subscriber { webhook_id } => format!("webhook:{webhook_id}"),
            Target::Pusher { url, .. } => format!("pusher:{url}"),
        }
    }
}

/// An event to deliver (a message): its body is exactly what is signed and sent.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    /// Stable id, the `webhook-id` header: `msg_<uuid simple>`.
    pub message_id: String,
    /// Event name (`filesystem_layer.file_quarantine.completed`, `webhook.test`, or the Pusher
    /// event kinds joined for Pusher batches).
    pub event: String,
    /// The site, for subscriber events.
    pub website_id: Option<Uuid>,
    /// The exact body.
    pub body: String,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// One queued delivery of an event to a target.
#[derive(Clone, Debug, PartialEq)]
pub struct NewDelivery {
    /// The target.
    pub target: Target,
    /// Attempts allowed in all (1 + retries).
    pub max_attempts: u32,
    /// `pending`, or `skipped` for a disabled subscriber (kept for recovery).
    pub state: DeliveryState,
    /// Give up after this time even with attempts left (Pusher webhooks: 5 minutes).
    pub expires_at: Option<DateTime<Utc>>,
}

/// The state of a delivery.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for `next_attempt_at`.
    Pending,
    /// Leased by a worker.
    InFlight,
    /// Delivered (2xx).
    Succeeded,
    /// Attempts exhausted, expired, or the endpoint is gone.
    Failed,
    /// Not attempted because the webhook was disabled; recoverable.
    Skipped,
}

impl DeliveryState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::InFlight => "in_flight",
            DeliveryState::Succeeded => "succeeded",
            DeliveryState::Failed => "failed",
            DeliveryState::Skipped => "skipped",
        }
    }

    /// The state with this name.
    pub fn from_name(name: &str) -> Option<DeliveryState> {
        match name {
            "pending" => Some(DeliveryState::Pending),
            "in_flight" => Some(DeliveryState::InFlight),
            "succeeded" => Some(DeliveryState::Succeeded),
            "failed" => Some(DeliveryState::Failed),
            "skipped" => Some(DeliveryState::Skipped),
            _ => None,
        }
    }
}

/// A delivery as stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Delivery {
    /// Id.
    pub id: i64,
    /// Target.
    pub target: Target,
    /// The event's stable id (`webhook-id`).
    pub message_id: String,
    /// Event name.
    pub event: String,
    /// The site.
    pub website_id: Option<Uuid>,
    /// The exact body.
    #[serde(skip)]
    pub body: String,
    /// State.
    pub state: DeliveryState,
    /// Attempts made.
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// When the next attempt is due.
    pub next_attempt_at: DateTime<Utc>,
    /// Give-up time.
    pub expires_at: Option<DateTime<Utc>>,
    /// HTTP status of the last attempt.
    pub last_status: Option<u16>,
    /// Error of the last attempt.
    pub last_error: Option<String>,
    /// Created (the event's time).
    pub created_at: DateTime<Utc>,
    /// Succeeded or failed for good.
    pub finished_at: Option<DateTime<Utc>>,
}

/// A delivery leased by a worker; completing it needs the lease token.
#[derive(Clone, Debug, PartialEq)]
pub struct Claim {
    /// The delivery.
    pub delivery: Delivery,
    /// The fencing token.
    pub lease: Uuid,
}

/// Why an attempt was made.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// By the queue.
    Scheduled,
    /// By an operator (redeliver).
    Manual,
    /// The admin test call.
    Test,
}

impl Trigger {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Scheduled => "scheduled",
            Trigger::Manual => "manual",
            Trigger::Test => "test",
        }
    }
}

/// One HTTP attempt, as logged.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Attempt {
    /// The `X-Relay-Delivery-ID` of this request (unique per attempt).
    pub attempt_id: Uuid,
    /// The delivery (none for test calls).
    pub delivery_id: Option<i64>,
    /// The subscriber webhook, if any.
    pub webhook_id: Option<i64>,
    /// 1-based attempt number.
    pub number: u32,
    /// Response status (`None`: no response: timeout, reset, refused, blocked).
    pub status_code: Option<u16>,
    /// Time to the response, milliseconds.
    pub duration_ms: u64,
    /// The response body, truncated.
    pub response: Option<String>,
    /// The error (network, SSRF guard, non-2xx summary).
    pub error: Option<String>,
    /// Why it was made.
    pub trigger: Trigger,
    /// When it started.
    pub created_at: DateTime<Utc>,
}

/// What the worker decided after an attempt.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// 2xx.
    Succeeded,
    /// Failed; try again at this time.
    Retry {
        /// When.
        at: DateTime<Utc>,
    },
    /// Failed for good (attempts exhausted, expired).
    Failed,
    /// 410 Gone: fail this delivery and disable the subscriber webhook.
    Gone,
}
