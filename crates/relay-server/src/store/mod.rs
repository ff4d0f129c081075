//! Persistence: sites (domain → website_id) and backup records.
//!
//! One interface, two implementations: PostgreSQL when `DATABASE_URL` is set (durable, shared by
//! every node), in memory otherwise (so `cargo run` works on a bare machine; lost on restart).
//! The same test suite runs against both (`tests/store.rs`).

mod memory;
mod memory_queue;
mod memory_sources;
mod postgres;
mod postgres_queue;
mod postgres_sources;

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::sources::model::{
    Accepted, InboxItem, InboxState, NewInboxItem, NewSource, Source, SourcePatch,
};
use crate::webhooks::model::{
    Attempt, Claim, Delivery, NewDelivery, NewEvent, NewWebhook, Outcome, Target, Webhook,
    WebhookPatch,
};

pub use memory::MemoryStore;
pub use postgres::PgStore;

/// The state of the delivery queue, for metrics and readiness.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, serde::Serialize)]
pub struct QueueStats {
    /// Deliveries waiting.
    pub pending: u64,
    /// Deliveries leased by a worker.
    pub in_flight: u64,
    /// Deliveries that failed for good.
    pub failed: u64,
}

/// A store failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A row with this key exists already (e.g. a domain registered twice). HTTP 409.
    #[error("{0} already exists")]
    Conflict(String),
    /// The database failed or is unreachable; the caller logs, counts and retries. HTTP 500.
    #[error("database error: {0}")]
    Db(String),
}

/// `Result` with [`StoreError`].
pub type StoreResult<T> = Result<T, StoreError>;

/// A registered site.
#[derive(Clone, Debug, Eq, PartialEq, serde::Serialize)]
pub struct Site {
    /// The normalized domain (see `relay_core::domain::normalize`).
    pub domain: String,
    /// The site's id; its events are broadcast on the channel named by it.
    pub website_id: Uuid,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
}

/// A backup as recorded from the plugin's webhooks and its backup list.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Backup {
    /// The site.
    pub website_id: Uuid,
    /// The plugin's backup id.
    pub backup_id: String,
    /// `pending`, `in_progress`, `completed`, `failed`, or what the plugin's list says.
    pub status: String,
    /// 0..=100.
    pub progress: u8,
    /// Why it failed.
    pub error_message: Option<String>,
    /// Extra fields from the plugin's backup list (size, type, …), kept as given.
    pub metadata: Option<serde_json::Value>,
    /// First seen.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// When it reached `completed` or `failed`.
    pub finished_at: Option<DateTime<Utc>>,
}

/// A change to one backup, from a webhook: inserted or updated (upsert).
#[derive(Clone, Debug, PartialEq)]
pub struct BackupWrite {
    /// The site.
    pub website_id: Uuid,
    /// The plugin's backup id.
    pub backup_id: String,
    /// The new status.
    pub status: String,
    /// The new progress.
    pub progress: u8,
    /// The error message (failed backups); `None` leaves the stored one.
    pub error_message: Option<String>,
    /// When the change happened (sets `updated_at`, and `finished_at` for completed/failed).
    pub at: DateTime<Utc>,
}

/// One entry of the plugin's backup list, for synchronization.
#[derive(Clone, Debug, PartialEq)]
pub struct SyncedBackup {
    /// The plugin's backup id.
    pub backup_id: String,
    /// The status the plugin reports, if any (a missing one leaves the stored status, or
    /// `completed` for a new row: the plugin lists finished backups).
    pub status: Option<String>,
    /// The entry as the plugin gave it.
    pub metadata: serde_json::Value,
}

/// The store: PostgreSQL or memory.
#[derive(Clone, Debug)]
pub enum Store {
    /// In memory; nothing survives a restart.
    Memory(MemoryStore),
    /// PostgreSQL through a connection pool.
    Postgres(PgStore),
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            Store::Memory($s) => $call,
            Store::Postgres($s) => $call,
        }
    };
}

impl Store {
    /// An empty in-memory store.
    pub fn memory() -> Store {
        Store::Memory(MemoryStore::default())
    }

    /// Connects to PostgreSQL and applies the migrations.
    pub async fn connect(database_url: &str) -> StoreResult<Store> {
        let store = PgStore::connect(database_url).await?;
        store.migrate().await?;
        Ok(Store::Postgres(store))
    }

    /// Whether data survives a restart.
    pub fn is_durable(&self) -> bool {
        matches!(self, Store::Postgres(_))
    }

    /// Checks that the store answers (for `/ready`).
    pub async fn ping(&self) -> StoreResult<()> {
        dispatch!(self, s => s.ping().await)
    }

    /// Registers a site; [`StoreError::Conflict`] if the domain is taken.
    pub async fn insert_site(&self, site: &Site) -> StoreResult<()> {
        dispatch!(self, s => s.insert_site(site).await)
    }

    /// Every site, ordered by domain.
    pub async fn sites(&self) -> StoreResult<Vec<Site>> {
        dispatch!(self, s => s.sites().await)
    }

    /// The site of a normalized domain.
    pub async fn site(&self, domain: &str) -> StoreResult<Option<Site>> {
        dispatch!(self, s => s.site(domain).await)
    }

    /// Removes a site; `false` if there was none.
    pub async fn delete_site(&self, domain: &str) -> StoreResult<bool> {
        dispatch!(self, s => s.delete_site(domain).await)
    }

    /// One backup.
    pub async fn backup(&self, website_id: Uuid, backup_id: &str) -> StoreResult<Option<Backup>> {
        dispatch!(self, s => s.backup(website_id, backup_id).await)
    }

    /// A site's backups, newest first (`created_at` descending, then `backup_id`).
    pub async fn backups(&self, website_id: Uuid) -> StoreResult<Vec<Backup>> {
        dispatch!(self, s => s.backups(website_id).await)
    }

    /// Inserts or updates a backup from a webhook.
    pub async fn record_backup(&self, write: &BackupWrite) -> StoreResult<()> {
        dispatch!(self, s => s.record_backup(write).await)
    }

    // ----- subscriber webhooks -------------------------------------------------------------

    /// Creates a subscriber webhook (ids ascend from 1).
    pub async fn create_webhook(
        &self,
        new: &NewWebhook,
        at: DateTime<Utc>,
    ) -> StoreResult<Webhook> {
        dispatch!(self, s => s.create_webhook(new, at).await)
    }

    /// Every subscriber webhook, by id.
    pub async fn webhooks(&self) -> StoreResult<Vec<Webhook>> {
        dispatch!(self, s => s.webhooks().await)
    }

    /// One subscriber webhook.
    pub async fn webhook(&self, id: i64) -> StoreResult<Option<Webhook>> {
        dispatch!(self, s => s.webhook(id).await)
    }

    /// Applies a partial update; `None` if there is no such webhook. Setting the status to
    /// `active` clears `disabled_reason` and `consecutive_failures`.
    pub async fn update_webhook(
        &self,
        id: i64,
        patch: &WebhookPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Webhook>> {
        dispatch!(self, s => s.update_webhook(id, patch, at).await)
    }

    /// Deletes a webhook with its deliveries and attempts; `false` if there was none.
    pub async fn delete_webhook(&self, id: i64) -> StoreResult<bool> {
        dispatch!(self, s => s.delete_webhook(id).await)
    }

    /// Marks a webhook `disabled` with a reason (410 Gone, too many failures).
    pub async fn disable_webhook(
        &self,
        id: i64,
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        dispatch!(self, s => s.disable_webhook(id, reason, at).await)
    }

    // ----- the delivery queue --------------------------------------------------------------

    /// Records an event and its deliveries in one transaction (the transactional outbox) and
    /// wakes the workers. Deliveries are due at once (`next_attempt_at = event.created_at`).
    /// Returns the delivery ids, in order.
    pub async fn enqueue(
        &self,
        event: &NewEvent,
        deliveries: &[NewDelivery],
    ) -> StoreResult<Vec<i64>> {
        dispatch!(self, s => s.enqueue(event, deliveries).await)
    }

    /// Leases up to `limit` due `pending` deliveries (`next_attempt_at <= now`, oldest first),
    /// skipping targets in `exclude` (endpoints at their concurrency cap). Each claim holds a
    /// fresh lease token until `now + lease_for`. Safe across processes (`SKIP LOCKED`).
    pub async fn claim(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease_for: Duration,
        exclude: &[Target],
    ) -> StoreResult<Vec<Claim>> {
        dispatch!(self, s => s.claim(now, limit, lease_for, exclude).await)
    }

    /// Finishes a claimed attempt, fenced by the lease token: logs `attempt`, applies
    /// `outcome` to the delivery (`attempts + 1`; `Retry` → pending at `at`; `Succeeded`,
    /// `Failed`, `Gone` → finished) and, for subscriber targets, to the webhook
    /// (`Succeeded`: `last_triggered_at = now`, `last_error = NULL`, `consecutive_failures = 0`;
    /// `Retry`: `last_error`; `Failed`: `last_error`, `consecutive_failures + 1`; `Gone`:
    /// status `disabled`, reason "410 Gone"). All in one transaction. Returns `false`, writing
    /// nothing, when the lease was lost.
    pub async fn complete(
        &self,
        claim: &Claim,
        attempt: &Attempt,
        outcome: &Outcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        dispatch!(self, s => s.complete(claim, attempt, outcome, now).await)
    }

    /// Logs an attempt that belongs to no delivery (the admin test call).
    pub async fn record_attempt(&self, attempt: &Attempt) -> StoreResult<()> {
        dispatch!(self, s => s.record_attempt(attempt).await)
    }

    /// Returns expired leases to `pending` (a crashed worker's deliveries are sent again, with
    /// the same `webhook-id`). Returns how many.
    pub async fn reap(&self, now: DateTime<Utc>) -> StoreResult<usize> {
        dispatch!(self, s => s.reap(now).await)
    }

    /// The earliest `next_attempt_at` of a pending delivery.
    pub async fn next_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        dispatch!(self, s => s.next_due().await)
    }

    /// A webhook's deliveries, newest first.
    pub async fn deliveries(&self, webhook_id: i64, limit: usize) -> StoreResult<Vec<Delivery>> {
        dispatch!(self, s => s.deliveries(webhook_id, limit).await)
    }

    /// A webhook's attempts (test calls included), newest first.
    pub async fn attempts(&self, webhook_id: i64, limit: usize) -> StoreResult<Vec<Attempt>> {
        dispatch!(self, s => s.attempts(webhook_id, limit).await)
    }

    /// The attempts of one delivery, oldest first.
    pub async fn delivery_attempts(&self, delivery_id: i64) -> StoreResult<Vec<Attempt>> {
        dispatch!(self, s => s.delivery_attempts(delivery_id).await)
    }

    /// Queues one more attempt of a finished (or skipped) delivery of this webhook, due now:
    /// state `pending`, `max_attempts = attempts + 1`, `finished_at = NULL`, expiry removed.
    /// `None` if the delivery does not exist, belongs to another webhook, or is pending or in
    /// flight.
    pub async fn redeliver(
        &self,
        webhook_id: i64,
        delivery_id: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Delivery>> {
        dispatch!(self, s => s.redeliver(webhook_id, delivery_id, now).await)
    }

    /// Redelivers every `failed` or `skipped` delivery of a webhook created since `since`
    /// (what a disabled endpoint missed). Returns how many were queued.
    pub async fn recover(
        &self,
        webhook_id: i64,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<usize> {
        dispatch!(self, s => s.recover(webhook_id, since, now).await)
    }

    /// Deletes finished (succeeded, failed, skipped) deliveries created before `before`, their
    /// attempts, test attempts before it, and events left without deliveries; at most `batch`
    /// deliveries per call. Returns how many deliveries were deleted.
    pub async fn purge(&self, before: DateTime<Utc>, batch: usize) -> StoreResult<usize> {
        dispatch!(self, s => s.purge(before, batch).await)
    }

    /// Queue counts.
    pub async fn queue_stats(&self) -> StoreResult<QueueStats> {
        dispatch!(self, s => s.queue_stats().await)
    }

    /// Notified when deliveries are enqueued (by this process, or by any process through
    /// PostgreSQL `LISTEN/NOTIFY`). Workers also poll, so a missed signal only delays.
    pub fn delivery_signal(&self) -> Arc<Notify> {
        dispatch!(self, s => s.delivery_signal())
    }

    // ----- webhook sources and their inbox (issue 8) -------------------------------------

    /// Creates a source (ids ascend from 1; `created_at = updated_at = at`).
    pub async fn create_source(&self, new: &NewSource, at: DateTime<Utc>) -> StoreResult<Source> {
        dispatch!(self, s => s.create_source(new, at).await)
    }

    /// Every source, by id.
    pub async fn sources(&self) -> StoreResult<Vec<Source>> {
        dispatch!(self, s => s.sources().await)
    }

    /// One source.
    pub async fn source(&self, id: i64) -> StoreResult<Option<Source>> {
        dispatch!(self, s => s.source(id).await)
    }

    /// Applies a partial update (`updated_at = at`); `None` if there is no such source.
    pub async fn update_source(
        &self,
        id: i64,
        patch: &SourcePatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Source>> {
        dispatch!(self, s => s.update_source(id, patch, at).await)
    }

    /// Deletes a source with its inbox rows and dedup keys; `false` if there was none.
    pub async fn delete_source(&self, id: i64) -> StoreResult<bool> {
        dispatch!(self, s => s.delete_source(id).await)
    }

    /// Records a request in the inbox. A `pending` item with a `dedup_key` is deduplicated,
    /// atomically even under concurrent calls: if its source saw the key at or after
    /// `dedup_since`, nothing is written and the answer is [`Accepted::Duplicate`]; otherwise
    /// the key is remembered as seen at `received_at` and the row inserted. Other items
    /// (`dropped`, or without a key) are always inserted and never claim a key.
    pub async fn accept_inbox(
        &self,
        item: &NewInboxItem,
        dedup_since: DateTime<Utc>,
    ) -> StoreResult<Accepted> {
        dispatch!(self, s => s.accept_inbox(item, dedup_since).await)
    }

    /// Leases up to `limit` `pending` rows received at or before `received_before` whose lease
    /// is free (never leased, or expired at `now`), oldest (lowest id) first, until
    /// `now + lease_for`. Safe across processes (`SKIP LOCKED`).
    pub async fn claim_inbox(
        &self,
        now: DateTime<Utc>,
        received_before: DateTime<Utc>,
        limit: usize,
        lease_for: Duration,
    ) -> StoreResult<Vec<InboxItem>> {
        dispatch!(self, s => s.claim_inbox(now, received_before, limit, lease_for).await)
    }

    /// Finishes a `pending` row: `processed` or `dropped` (with a reason), `processed_at = at`.
    /// `false` if the row is gone or already finished.
    pub async fn finish_inbox(
        &self,
        id: i64,
        state: InboxState,
        reason: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        dispatch!(self, s => s.finish_inbox(id, state, reason, at).await)
    }

    /// A source's inbox rows, newest first.
    pub async fn inbox(&self, source_id: i64, limit: usize) -> StoreResult<Vec<InboxItem>> {
        dispatch!(self, s => s.inbox(source_id, limit).await)
    }

    /// How many rows are `pending` (all sources).
    pub async fn inbox_pending(&self) -> StoreResult<u64> {
        dispatch!(self, s => s.inbox_pending().await)
    }

    /// Deletes up to `batch` finished (processed, dropped) rows received before
    /// `finished_before`, and dedup keys seen before `dedup_before`. Pending rows stay.
    /// Returns how many rows were deleted.
    pub async fn purge_inbox(
        &self,
        finished_before: DateTime<Utc>,
        dedup_before: DateTime<Utc>,
        batch: usize,
    ) -> StoreResult<usize> {
        dispatch!(self, s => s.purge_inbox(finished_before, dedup_before, batch).await)
    }

    /// Upserts the plugin's backup list; returns how many entries were written. Progress is
    /// never lowered, and `metadata` is replaced by the plugin's entry.
    pub async fn sync_backups(
        &self,
        website_id: Uuid,
        items: &[SyncedBackup],
        at: DateTime<Utc>,
    ) -> StoreResult<usize> {
        dispatch!(self, s => s.sync_backups(website_id, items, at).await)
    }
}
