//! The data of webhook sources: the WordPress plugins (and any Standard Webhooks sender) whose
//! own webhooks Relay accepts, and the inbox of accepted deliveries waiting to be broadcast.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Which sender a source is, and so how its requests are verified and named.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// Fluent Community (seed 002): `X-Fluent-Signature: sha256=<hex>` over the body.
    FluentCommunity,
    /// Fast Events (seed 004): `X-FE-Webhook-Signature: <base64>` over the body.
    FastEvents,
    /// Any Standard Webhooks sender: `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    StandardWebhooks,
}

impl SourceKind {
    /// Every kind.
    pub const ALL: [SourceKind; 3] = [
        SourceKind::FluentCommunity,
        SourceKind::FastEvents,
        SourceKind::StandardWebhooks,
    ];

    /// The stored name, also the namespace of its broadcast event names.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::FluentCommunity => "fluent_community",
            SourceKind::FastEvents => "fast_events",
            SourceKind::StandardWebhooks => "standard_webhooks",
        }
    }

    /// The kind with this name.
    pub fn from_name(name: &str) -> Option<SourceKind> {
        SourceKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// Whether a source accepts requests.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceStatus {
    /// Requests are accepted.
    Active,
    /// Paused by an operator: Fluent Community and Standard Webhooks requests get 404, Fast
    /// Events requests 200 (its consumer rules) and are not recorded.
    Inactive,
}

impl SourceStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceStatus::Active => "active",
            SourceStatus::Inactive => "inactive",
        }
    }

    /// The status with this name.
    pub fn from_name(name: &str) -> Option<SourceStatus> {
        match name {
            "active" => Some(SourceStatus::Active),
            "inactive" => Some(SourceStatus::Inactive),
            _ => None,
        }
    }
}

/// A registered source; its requests arrive at `POST /hooks/{id}`.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct Source {
    /// Integer id (ascending from 1), part of the receive URL.
    pub id: i64,
    /// The sender.
    pub kind: SourceKind,
    /// The normalized domain of the site whose channel receives its events.
    pub domain: String,
    /// The shared signing secret.
    pub secret: String,
    /// Active or inactive.
    pub status: SourceStatus,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// The fields of a new source (validated by the admin API).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct NewSource {
    /// The sender.
    pub kind: SourceKind,
    /// The normalized site domain.
    pub domain: String,
    /// The signing secret.
    pub secret: String,
    /// The initial status.
    pub status: SourceStatus,
}

/// A partial update of a source; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct SourcePatch {
    /// A new kind.
    pub kind: Option<SourceKind>,
    /// A new normalized site domain.
    pub domain: Option<String>,
    /// A new secret.
    pub secret: Option<String>,
    /// A new status.
    pub status: Option<SourceStatus>,
}

/// Where an inbox row is.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InboxState {
    /// Accepted, not broadcast yet.
    Pending,
    /// Broadcast and fanned out.
    Processed,
    /// Not broadcast, with a reason (an invalid Fast Events signature, no such site, ...).
    Dropped,
}

impl InboxState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            InboxState::Pending => "pending",
            InboxState::Processed => "processed",
            InboxState::Dropped => "dropped",
        }
    }

    /// The state with this name.
    pub fn from_name(name: &str) -> Option<InboxState> {
        match name {
            "pending" => Some(InboxState::Pending),
            "processed" => Some(InboxState::Processed),
            "dropped" => Some(InboxState::Dropped),
            _ => None,
        }
    }
}

/// A request to record in the inbox.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct NewInboxItem {
    /// The source it arrived for.
    pub source_id: i64,
    /// The delivery's idempotency key (Fast Events `Delivery-ID`, `webhook-id`, Fluent body
    /// signature). Only `pending` items take part in deduplication.
    pub dedup_key: Option<String>,
    /// The raw body, exactly as received.
    pub body: Vec<u8>,
    /// The request headers the processor needs (lowercase names).
    pub headers: BTreeMap<String, String>,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// `pending` (to be broadcast) or `dropped` (kept for the record only).
    pub state: InboxState,
    /// Why it is dropped.
    pub reason: Option<String>,
}

/// A row of the inbox.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct InboxItem {
    /// Integer id, in order of arrival.
    pub id: i64,
    /// The source.
    pub source_id: i64,
    /// The idempotency key.
    pub dedup_key: Option<String>,
    /// The raw body.
    #[serde(skip)]
    pub body: Vec<u8>,
    /// The kept headers.
    pub headers: BTreeMap<String, String>,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// Pending, processed or dropped.
    pub state: InboxState,
    /// Why it was dropped.
    pub reason: Option<String>,
    /// When it was processed or dropped by the processor.
    pub processed_at: Option<DateTime<Utc>>,
}

/// What [`Store::accept_inbox`](crate::store::Store::accept_inbox) did.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Accepted {
    /// Recorded as this row.
    New(i64),
    /// The key was seen within the window; nothing was written.
    Duplicate,
}
