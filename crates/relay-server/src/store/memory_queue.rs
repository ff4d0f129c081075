//! The delivery queue and subscriber webhooks of `MemoryStore`: the same semantics as the
//! PostgreSQL tables of `migrations/0002_webhooks.sql`, in process memory (not durable).
//!
//! Every timestamp is truncated to microseconds on the way in, as PostgreSQL stores it, so both
//! stores compare and return the same values.

use std::{
    collections::{BTreeMap, BTreeSet, HashSet},
    sync::Arc,
    time::Duration,
};

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::Notify;
use uuid::Uuid;

use super::{MemoryStore, QueueStats, StoreError, StoreResult};
use crate::webhooks::model::{
    Attempt, Claim, Delivery, DeliveryState, NewDelivery, NewEvent, NewWebhook, Outcome, Target,
    Webhook, WebhookPatch, WebhookStatus,
};

/// `t` truncated to microseconds (PostgreSQL's precision).
pub(super) fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// When a lease taken at `now` for `lease_for` ends, in microseconds.
pub(super) fn lease_until(now: DateTime<Utc>, lease_for: Duration) -> StoreResult<DateTime<Utc>> {
    TimeDelta::from_std(lease_for)
        .ok()
        .and_then(|d| micros(now).checked_add_signed(d))
        .map(micros)
        .ok_or_else(|| StoreError::Db(format!("lease of {lease_for:?} out of range")))
}

/// Refuses deliveries enqueued in a state other than `pending` or `skipped`.
pub(super) fn check_new_state(state: DeliveryState) -> StoreResult<()> {
    match state {
        DeliveryState::Pending | DeliveryState::Skipped => Ok(()),
        other => Err(StoreError::Db(format!(
            "a delivery cannot be enqueued as {}",
            other.as_str()
        ))),
    }
}

/// Wakes every waiting worker, and the next one to wait (a worker busy now misses nothing).
pub(super) fn wake(signal: &Notify) {
    signal.notify_waiters();
    signal.notify_one();
}

/// The queue's state, part of the memory store's `Inner`.
#[derive(Debug, Default)]
pub(super) struct Queue {
    webhooks: BTreeMap<i64, Webhook>,
    last_webhook_id: i64,
    events: BTreeMap<i64, Event>,
    /// `message_id` → event id (the unique key).
    message_ids: BTreeMap<String, i64>,
    last_event_id: i64,
    deliveries: BTreeMap<i64, Row>,
    last_delivery_id: i64,
    /// By row id (insertion order, the tie-break of equal `created_at`).
    attempts: BTreeMap<i64, Attempt>,
    attempt_ids: HashSet<Uuid>,
    last_attempt_id: i64,
}

#[derive(Debug)]
struct Event {
    message_id: String,
    event: String,
    website_id: Option<Uuid>,
    body: String,
    created_at: DateTime<Utc>,
}

/// A `webhook_deliveries` row.
#[derive(Debug)]
struct Row {
    event_id: i64,
    target: Target,
    state: DeliveryState,
    attempts: u32,
    max_attempts: u32,
    next_attempt_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    lease: Option<Uuid>,
    lease_until: Option<DateTime<Utc>>,
    last_status: Option<u16>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
}

impl Row {
    fn is_finished(&self) -> bool {
        matches!(
            self.state,
            DeliveryState::Succeeded | DeliveryState::Failed | DeliveryState::Skipped
        )
    }

    fn webhook_id(&self) -> Option<i64> {
        match self.target {
            Target::Subscriber { webhook_id } => Some(webhook_id),
            Target::Pusher { .. } => None,
        }
    }

    /// Queued again for one more attempt, due at `now` (redeliver, recover).
    fn requeue(&mut self, now: DateTime<Utc>) {
        self.state = DeliveryState::Pending;
        self.max_attempts = self.attempts.saturating_add(1);
        self.finished_at = None;
        self.expires_at = None;
        self.next_attempt_at = now;
        self.lease = None;
        self.lease_until = None;
    }
}

impl Queue {
    fn delivery(&self, id: i64) -> Option<Delivery> {
        let row = self.deliveries.get(&id)?;
        let event = self.events.get(&row.event_id)?;
        Some(Delivery {
            id,
            target: row.target.clone(),
            message_id: event.message_id.clone(),
            event: event.event.clone(),
            website_id: event.website_id,
            body: event.body.clone(),
            state: row.state,
            attempts: row.attempts,
            max_attempts: row.max_attempts,
            next_attempt_at: row.next_attempt_at,
            expires_at: row.expires_at,
            last_status: row.last_status,
            last_error: row.last_error.clone(),
            created_at: row.created_at,
            finished_at: row.finished_at,
        })
    }

    /// Checks what the PostgreSQL constraints check before an attempt is inserted.
    fn check_attempt(&self, attempt: &Attempt) -> StoreResult<()> {
        if self.attempt_ids.contains(&attempt.attempt_id) {
            return Err(StoreError::Conflict(format!(
                "attempt {}",
                attempt.attempt_id
            )));
        }
        if let Some(id) = attempt.webhook_id {
            if !self.webhooks.contains_key(&id) {
                return Err(StoreError::Db(format!("webhook {id} does not exist")));
            }
        }
        if let Some(id) = attempt.delivery_id {
            if !self.deliveries.contains_key(&id) {
                return Err(StoreError::Db(format!("delivery {id} does not exist")));
            }
        }
        Ok(())
    }

    fn insert_attempt(&mut self, attempt: &Attempt) {
        let mut attempt = attempt.clone();
        attempt.created_at = micros(attempt.created_at);
        self.last_attempt_id += 1;
        self.attempt_ids.insert(attempt.attempt_id);
        self.attempts.insert(self.last_attempt_id, attempt);
    }

    /// Removes deliveries and the attempts that belong to them.
    fn remove_deliveries(&mut self, ids: &BTreeSet<i64>) {
        for id in ids {
            self.deliveries.remove(id);
        }
        let attempt_ids = &mut self.attempt_ids;
        self.attempts.retain(|_, a| {
            let keep = !a.delivery_id.is_some_and(|d| ids.contains(&d));
            if !keep {
                attempt_ids.remove(&a.attempt_id);
            }
            keep
        });
    }
}

impl MemoryStore {
    pub(super) async fn create_webhook(
        &self,
        new: &NewWebhook,
        at: DateTime<Utc>,
    ) -> StoreResult<Webhook> {
        let at = micros(at);
        let mut inner = self.inner.lock();
        let q = &mut inner.queue;
        q.last_webhook_id += 1;
        let webhook = Webhook {
            id: q.last_webhook_id,
            name: new.name.clone(),
            url: new.url.clone(),
            events: new.events.clone(),
            website_ids: new.website_ids.clone(),
            status: new.status,
            secret: new.secret.clone(),
            headers: new.headers.clone(),
            retry_count: new.retry_count,
            last_triggered_at: None,
            last_error: None,
            consecutive_failures: 0,
            disabled_reason: None,
            created_at: at,
            updated_at: at,
        };
        q.webhooks.insert(webhook.id, webhook.clone());
        Ok(webhook)
    }

    pub(super) async fn webhooks(&self) -> StoreResult<Vec<Webhook>> {
        Ok(self.inner.lock().queue.webhooks.values().cloned().collect())
    }

    pub(super) async fn webhook(&self, id: i64) -> StoreResult<Option<Webhook>> {
        Ok(self.inner.lock().queue.webhooks.get(&id).cloned())
    }

    pub(super) async fn update_webhook(
        &self,
        id: i64,
        patch: &WebhookPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Webhook>> {
        let mut inner = self.inner.lock();
        let Some(w) = inner.queue.webhooks.get_mut(&id) else {
            return Ok(None);
        };
        if let Some(name) = &patch.name {
            w.name.clone_from(name);
        }
        if let Some(url) = &patch.url {
            w.url.clone_from(url);
        }
        if let Some(events) = &patch.events {
            w.events.clone_from(events);
        }
        if let Some(website_ids) = &patch.website_ids {
            w.website_ids.clone_from(website_ids);
        }
        if let Some(status) = patch.status {
            w.status = status;
            if status == WebhookStatus::Active {
                w.disabled_reason = None;
                w.consecutive_failures = 0;
            }
        }
        if let Some(secret) = &patch.secret {
            w.secret.clone_from(secret);
        }
        if let Some(headers) = &patch.headers {
            w.headers.clone_from(headers);
        }
        if let Some(retry_count) = patch.retry_count {
            w.retry_count = retry_count;
        }
        w.updated_at = micros(at);
        Ok(Some(w.clone()))
    }

    pub(super) async fn delete_webhook(&self, id: i64) -> StoreResult<bool> {
        let mut inner = self.inner.lock();
        let q = &mut inner.queue;
        if q.webhooks.remove(&id).is_none() {
            return Ok(false);
        }
        let deliveries: BTreeSet<i64> = q
            .deliveries
            .iter()
            .filter(|(_, row)| row.webhook_id() == Some(id))
            .map(|(id, _)| *id)
            .collect();
        q.remove_deliveries(&deliveries);
        let attempt_ids = &mut q.attempt_ids;
        q.attempts.retain(|_, a| {
            let keep = a.webhook_id != Some(id);
            if !keep {
                attempt_ids.remove(&a.attempt_id);
            }
            keep
        });
        Ok(true)
    }

    pub(super) async fn disable_webhook(
        &self,
        id: i64,
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut inner = self.inner.lock();
        if let Some(w) = inner.queue.webhooks.get_mut(&id) {
            w.status = WebhookStatus::Disabled;
            w.disabled_reason = Some(reason.to_owned());
            w.updated_at = micros(at);
        }
        Ok(())
    }

    pub(super) async fn enqueue(
        &self,
        event: &NewEvent,
        deliveries: &[NewDelivery],
    ) -> StoreResult<Vec<i64>> {
        for d in deliveries {
            check_new_state(d.state)?;
        }
        let created_at = micros(event.created_at);
        let (ids, due) = {
            let mut inner = self.inner.lock();
            let q = &mut inner.queue;
            // Idempotent: an event recorded already (a retried enqueue) is left as it is.
            if let Some(&event_id) = q.message_ids.get(&event.message_id) {
                let ids = q
                    .deliveries
                    .iter()
                    .filter(|(_, row)| row.event_id == event_id)
                    .map(|(id, _)| *id)
                    .collect();
                return Ok(ids);
            }
            q.last_event_id += 1;
            let event_id = q.last_event_id;
            q.message_ids.insert(event.message_id.clone(), event_id);
            q.events.insert(
                event_id,
                Event {
                    message_id: event.message_id.clone(),
                    event: event.event.clone(),
                    website_id: event.website_id,
                    body: event.body.clone(),
                    created_at,
                },
            );
            let mut ids = Vec::with_capacity(deliveries.len());
            let mut due = false;
            for d in deliveries {
                // A webhook deleted since it matched gets nothing.
                if let Target::Subscriber { webhook_id } = d.target {
                    if !q.webhooks.contains_key(&webhook_id) {
                        continue;
                    }
                }
                due |= d.state == DeliveryState::Pending;
                q.last_delivery_id += 1;
                q.deliveries.insert(
                    q.last_delivery_id,
                    Row {
                        event_id,
                        target: d.target.clone(),
                        state: d.state,
                        attempts: 0,
                        max_attempts: d.max_attempts,
                        next_attempt_at: created_at,
                        expires_at: d.expires_at.map(micros),
                        lease: None,
                        lease_until: None,
                        last_status: None,
                        last_error: None,
                        created_at,
                        finished_at: None,
                    },
                );
                ids.push(q.last_delivery_id);
            }
            (ids, due)
        };
        if due {
            wake(&self.signal);
        }
        Ok(ids)
    }

    pub(super) async fn claim(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease_for: Duration,
        exclude: &[Target],
    ) -> StoreResult<Vec<Claim>> {
        let now = micros(now);
        let until = lease_until(now, lease_for)?;
        let mut inner = self.inner.lock();
        let q = &mut inner.queue;
        let mut due: Vec<(DateTime<Utc>, i64)> = q
            .deliveries
            .iter()
            .filter(|(_, row)| {
                row.state == DeliveryState::Pending
                    && row.next_attempt_at <= now
                    && !exclude.contains(&row.target)
            })
            .map(|(id, row)| (row.next_attempt_at, *id))
            .collect();
        due.sort_unstable();
        due.truncate(limit);
        let mut claims = Vec::with_capacity(due.len());
        for (_, id) in due {
            let lease = Uuid::new_v4();
            if let Some(row) = q.deliveries.get_mut(&id) {
                row.state = DeliveryState::InFlight;
                row.lease = Some(lease);
                row.lease_until = Some(until);
            }
            if let Some(delivery) = q.delivery(id) {
                claims.push(Claim { delivery, lease });
            }
        }
        Ok(claims)
    }

    pub(super) async fn complete(
        &self,
        claim: &Claim,
        attempt: &Attempt,
        outcome: &Outcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let now = micros(now);
        let mut inner = self.inner.lock();
        let q = &mut inner.queue;
        let id = claim.delivery.id;
        let Some(row) = q.deliveries.get(&id) else {
            return Ok(false);
        };
        if row.lease != Some(claim.lease) {
            return Ok(false);
        }
        // The attempt belongs to the claimed delivery and its webhook, whatever it says.
        let webhook_id = row.webhook_id();
        let mut attempt = attempt.clone();
        attempt.delivery_id = Some(id);
        attempt.webhook_id = webhook_id;
        q.check_attempt(&attempt)?;
        q.insert_attempt(&attempt);

        let Some(row) = q.deliveries.get_mut(&id) else {
            return Ok(false);
        };
        row.attempts = row.attempts.saturating_add(1);
        row.lease = None;
        row.lease_until = None;
        row.last_status = attempt.status_code;
        row.last_error.clone_from(&attempt.error);
        match outcome {
            Outcome::Retry { at } => {
                row.state = DeliveryState::Pending;
                row.next_attempt_at = micros(*at);
            }
            Outcome::Succeeded => {
                row.state = DeliveryState::Succeeded;
                row.finished_at = Some(now);
            }
            Outcome::Failed | Outcome::Gone => {
                row.state = DeliveryState::Failed;
                row.finished_at = Some(now);
            }
        }

        if let Some(w) = webhook_id.and_then(|id| q.webhooks.get_mut(&id)) {
            match outcome {
                Outcome::Succeeded => {
                    w.last_triggered_at = Some(now);
                    w.last_error = None;
                    w.consecutive_failures = 0;
                }
                Outcome::Retry { .. } => {
                    w.last_error.clone_from(&attempt.error);
                }
                Outcome::Failed => {
                    w.last_error.clone_from(&attempt.error);
                    w.consecutive_failures = w.consecutive_failures.saturating_add(1);
                }
                Outcome::Gone => {
                    w.last_error.clone_from(&attempt.error);
                    w.consecutive_failures = w.consecutive_failures.saturating_add(1);
                    w.status = WebhookStatus::Disabled;
                    w.disabled_reason = Some(GONE_REASON.to_owned());
                    w.updated_at = now;
                }
            }
        }
        Ok(true)
    }

    pub(super) async fn record_attempt(&self, attempt: &Attempt) -> StoreResult<()> {
        let mut inner = self.inner.lock();
        let q = &mut inner.queue;
        q.check_attempt(attempt)?;
        q.insert_attempt(attempt);
        Ok(())
    }

    pub(super) async fn reap(&self, now: DateTime<Utc>) -> StoreResult<usize> {
        let now = micros(now);
        let reaped = {
            let mut inner = self.inner.lock();
            let mut reaped = 0;
            for row in inner.queue.deliveries.values_mut() {
                if row.state == DeliveryState::InFlight
                    && row.lease_until.is_some_and(|until| until < now)
                {
                    row.state = DeliveryState::Pending;
                    row.lease = None;
                    row.lease_until = None;
                    reaped += 1;
                }
            }
            reaped
        };
        if reaped > 0 {
            wake(&self.signal);
        }
        Ok(reaped)
    }

    pub(super) async fn next_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(self
            .inner
            .lock()
            .queue
            .deliveries
            .values()
            .filter(|row| row.state == DeliveryState::Pending)
            .map(|row| row.next_attempt_at)
            .min())
    }

    pub(super) async fn deliveries(
        &self,
        webhook_id: i64,
        limit: usize,
    ) -> StoreResult<Vec<Delivery>> {
        let inner = self.inner.lock();
        let q = &inner.queue;
        let mut keys: Vec<(DateTime<Utc>, i64)> = q
            .deliveries
            .iter()
            .filter(|(_, row)| row.webhook_id() == Some(webhook_id))
            .map(|(id, row)| (row.created_at, *id))
            .collect();
        keys.sort_unstable_by_key(|k| std::cmp::Reverse(*k));
        Ok(keys
            .into_iter()
            .take(limit)
            .filter_map(|(_, id)| q.delivery(id))
            .collect())
    }

    pub(super) async fn attempts(
        &self,
        webhook_id: i64,
        limit: usize,
    ) -> StoreResult<Vec<Attempt>> {
        let inner = self.inner.lock();
        let mut list: Vec<(DateTime<Utc>, i64, &Attempt)> = inner
            .queue
            .attempts
            .iter()
            .filter(|(_, a)| a.webhook_id == Some(webhook_id))
            .map(|(id, a)| (a.created_at, *id, a))
            .collect();
        list.sort_unstable_by_key(|a| std::cmp::Reverse((a.0, a.1)));
        Ok(list
            .into_iter()
            .take(limit)
            .map(|(_, _, a)| a.clone())
            .collect())
    }

    pub(super) async fn delivery_attempts(&self, delivery_id: i64) -> StoreResult<Vec<Attempt>> {
        let inner = self.inner.lock();
        let mut list: Vec<(DateTime<Utc>, i64, &Attempt)> = inner
            .queue
            .attempts
            .iter()
            .filter(|(_, a)| a.delivery_id == Some(delivery_id))
            .map(|(id, a)| (a.created_at, *id, a))
            .collect();
        list.sort_unstable_by_key(|a| (a.0, a.1));
        Ok(list.into_iter().map(|(_, _, a)| a.clone()).collect())
    }

    pub(super) async fn redeliver(
        &self,
        webhook_id: i64,
        delivery_id: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Delivery>> {
        let now = micros(now);
        let delivery = {
            let mut inner = self.inner.lock();
            let q = &mut inner.queue;
            match q.deliveries.get_mut(&delivery_id) {
                Some(row) if row.webhook_id() == Some(webhook_id) && row.is_finished() => {
                    row.requeue(now);
                }
                _ => return Ok(None),
            }
            q.delivery(delivery_id)
        };
        wake(&self.signal);
        Ok(delivery)
    }

    pub(super) async fn recover(
        &self,
        webhook_id: i64,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<usize> {
        let (since, now) = (micros(since), micros(now));
        let recovered = {
            let mut inner = self.inner.lock();
            let mut recovered = 0;
            for row in inner.queue.deliveries.values_mut() {
                if row.webhook_id() == Some(webhook_id)
                    && matches!(row.state, DeliveryState::Failed | DeliveryState::Skipped)
                    && row.created_at >= since
                {
                    row.requeue(now);
                    recovered += 1;
                }
            }
            recovered
        };
        if recovered > 0 {
            wake(&self.signal);
        }
        Ok(recovered)
    }

    pub(super) async fn purge(&self, before: DateTime<Utc>, batch: usize) -> StoreResult<usize> {
        let before = micros(before);
        let mut inner = self.inner.lock();
        let q = &mut inner.queue;

        let mut old: Vec<(DateTime<Utc>, i64)> = q
            .deliveries
            .iter()
            .filter(|(_, row)| row.is_finished() && row.created_at < before)
            .map(|(id, row)| (row.created_at, *id))
            .collect();
        old.sort_unstable();
        let purged: BTreeSet<i64> = old.into_iter().take(batch).map(|(_, id)| id).collect();
        q.remove_deliveries(&purged);

        let mut tests: Vec<(DateTime<Utc>, i64)> = q
            .attempts
            .iter()
            .filter(|(_, a)| a.delivery_id.is_none() && a.created_at < before)
            .map(|(id, a)| (a.created_at, *id))
            .collect();
        tests.sort_unstable();
        for (_, id) in tests.into_iter().take(batch) {
            if let Some(a) = q.attempts.remove(&id) {
                q.attempt_ids.remove(&a.attempt_id);
            }
        }

        let referenced: HashSet<i64> = q.deliveries.values().map(|row| row.event_id).collect();
        let message_ids = &mut q.message_ids;
        q.events.retain(|id, e| {
            let keep = e.created_at >= before || referenced.contains(id);
            if !keep {
                message_ids.remove(&e.message_id);
            }
            keep
        });
        Ok(purged.len())
    }

    pub(super) async fn queue_stats(&self) -> StoreResult<QueueStats> {
        let inner = self.inner.lock();
        let mut stats = QueueStats::default();
        for row in inner.queue.deliveries.values() {
            match row.state {
                DeliveryState::Pending => stats.pending += 1,
                DeliveryState::InFlight => stats.in_flight += 1,
                DeliveryState::Failed => stats.failed += 1,
                DeliveryState::Succeeded | DeliveryState::Skipped => {}
            }
        }
        Ok(stats)
    }

    pub(super) fn delivery_signal(&self) -> Arc<Notify> {
        Arc::clone(&self.signal)
    }
}

/// The `disabled_reason` of a webhook that answered 410.
pub(super) const GONE_REASON: &str = "410 Gone";
