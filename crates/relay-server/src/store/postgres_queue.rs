//! The delivery queue and subscriber webhooks of `PgStore` (tables of
//! `migrations/0002_webhooks.sql`), with the semantics of the memory store.
//!
//! Workers lease due rows with `FOR UPDATE SKIP LOCKED` and a fresh lease token; completion is
//! fenced by that token (a lost lease writes nothing); the reaper returns expired leases. Enqueue,
//! redeliver, recover and reap `NOTIFY relay_deliveries` inside their transaction; every store
//! instance `LISTEN`s on a dedicated connection outside the pool (see [`Listener`]) and wakes its
//! [`Notify`].

use std::{
    collections::{BTreeMap, HashSet},
    sync::Arc,
    time::Duration,
};

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use futures_util::future::poll_fn;
use parking_lot::Mutex;
use tokio::sync::{oneshot, Notify};
use tokio_postgres::{error::SqlState, types::Json, AsyncMessage, NoTls, Row};
use uuid::Uuid;

use super::{
    memory_queue::{check_new_state, lease_until, micros, wake, GONE_REASON},
    postgres::{chain, db},
    PgStore, QueueStats, StoreError, StoreResult,
};
use crate::webhooks::model::{
    Attempt, Claim, Delivery, DeliveryState, NewDelivery, NewEvent, NewWebhook, Outcome, Target,
    Trigger, Webhook, WebhookPatch, WebhookStatus,
};

/// The `LISTEN/NOTIFY` channel of the queue.
const CHANNEL: &str = "relay_deliveries";
/// First wait before reconnecting the `LISTEN` connection; doubled up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(250);
/// Longest wait before reconnecting the `LISTEN` connection.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The delivery columns of `webhook_deliveries d` joined with `webhook_events e`.
macro_rules! delivery_columns {
    () => {
        "d.id, d.kind, d.webhook_id, d.app_id, d.url, e.message_id, e.event, e.website_id, \
         e.body, d.state, d.attempts, d.max_attempts, d.next_attempt_at, d.expires_at, \
         d.last_status, d.last_error, d.created_at, d.finished_at"
    };
}

/// The columns of `webhook_attempts` that make an [`Attempt`].
macro_rules! attempt_columns {
    () => {
        "attempt_id, delivery_id, webhook_id, number, status_code, duration_ms, response, error, \
         \"trigger\", created_at"
    };
}

/// The delivery signal of a [`PgStore`] and the task that feeds it from `LISTEN`.
///
/// The task starts on the first [`PgStore::delivery_signal`] call (a store used only to migrate
/// or serve the admin API holds no extra connection) and stops when the last clone of the store
/// is dropped.
pub(super) struct Listener {
    config: tokio_postgres::Config,
    signal: Arc<Notify>,
    /// Dropping the sender (with the store) stops the task.
    stop: Mutex<Option<oneshot::Sender<()>>>,
}

impl Listener {
    pub(super) fn new(mut config: tokio_postgres::Config) -> Listener {
        // A silently dead connection would only leave the workers polling; notice it sooner.
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30));
        Listener {
            config,
            signal: Arc::new(Notify::new()),
            stop: Mutex::new(None),
        }
    }

    /// The signal, starting the `LISTEN` task if it is not running.
    fn signal(&self) -> Arc<Notify> {
        let mut stop = self.stop.lock();
        if stop.is_none() {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    let (tx, rx) = oneshot::channel();
                    runtime.spawn(listen(self.config.clone(), Arc::clone(&self.signal), rx));
                    *stop = Some(tx);
                }
                Err(_) => tracing::warn!(
                    "no Tokio runtime: deliveries enqueued by other nodes are seen by polling only"
                ),
            }
        }
        Arc::clone(&self.signal)
    }
}

/// Keeps a `LISTEN` connection open until `stop` resolves, reconnecting with back-off.
async fn listen(
    config: tokio_postgres::Config,
    signal: Arc<Notify>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let mut listened = false;
        let error = tokio::select! {
            _ = &mut stop => return,
            error = session(&config, &signal, &mut listened) => error,
        };
        if listened {
            backoff = MIN_BACKOFF;
        }
        tracing::warn!(
            %error,
            retry_in_ms = backoff.as_millis() as u64,
            "webhook delivery LISTEN connection lost; workers poll meanwhile"
        );
        tokio::select! {
            _ = &mut stop => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One `LISTEN` connection: wakes `signal` on each notification; returns why it ended.
async fn session(config: &tokio_postgres::Config, signal: &Notify, listened: &mut bool) -> String {
    let (client, mut connection) = match config.connect(NoTls).await {
        Ok(pair) => pair,
        Err(e) => return chain(&e),
    };
    // The connection is driven here, by `poll_message`, while LISTEN runs and afterwards.
    let mut listen = std::pin::pin!(client.batch_execute("LISTEN relay_deliveries"));
    loop {
        tokio::select! {
            done = &mut listen, if !*listened => match done {
                Ok(()) => {
                    *listened = true;
                    tracing::debug!("listening for webhook deliveries");
                    // Notifications sent while disconnected are lost: have waiting workers poll.
                    signal.notify_waiters();
                }
                Err(e) => return chain(&e),
            },
            message = poll_fn(|cx| connection.poll_message(cx)) => match message {
                Some(Ok(AsyncMessage::Notification(_))) => wake(signal),
                Some(Ok(_)) => {}
                Some(Err(e)) => return chain(&e),
                None => return "connection closed".to_owned(),
            },
        }
    }
}

impl PgStore {
    /// Tells every node (this one included, through its `LISTEN`) that deliveries are due.
    async fn notify_all(client: &impl GenericClient) -> StoreResult<()> {
        let stmt = client
            .prepare_cached("SELECT pg_notify($1, '')")
            .await
            .map_err(db)?;
        client.execute(&stmt, &[&CHANNEL]).await.map_err(db)?;
        Ok(())
    }

    pub(super) async fn create_webhook(
        &self,
        new: &NewWebhook,
        at: DateTime<Utc>,
    ) -> StoreResult<Webhook> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "INSERT INTO webhooks (name, url, events, website_ids, status, secret, headers, \
                                       retry_count, consecutive_failures, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $9)
                 RETURNING *",
            )
            .await
            .map_err(db)?;
        let row = client
            .query_one(
                &stmt,
                &[
                    &new.name,
                    &new.url,
                    &new.events,
                    &new.website_ids,
                    &new.status.as_str(),
                    &new.secret,
                    &Json(&new.headers),
                    &i64::from(new.retry_count),
                    &at,
                ],
            )
            .await
            .map_err(db)?;
        Webhook::try_from(&row)
    }

    pub(super) async fn webhooks(&self) -> StoreResult<Vec<Webhook>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("SELECT * FROM webhooks ORDER BY id")
            .await
            .map_err(db)?;
        let rows = client.query(&stmt, &[]).await.map_err(db)?;
        rows.iter().map(Webhook::try_from).collect()
    }

    pub(super) async fn webhook(&self, id: i64) -> StoreResult<Option<Webhook>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("SELECT * FROM webhooks WHERE id = $1")
            .await
            .map_err(db)?;
        let row = client.query_opt(&stmt, &[&id]).await.map_err(db)?;
        row.as_ref().map(Webhook::try_from).transpose()
    }

    pub(super) async fn update_webhook(
        &self,
        id: i64,
        patch: &WebhookPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Webhook>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "UPDATE webhooks SET
                     name = COALESCE($2::text, name),
                     url = COALESCE($3::text, url),
                     events = COALESCE($4::text[], events),
                     website_ids = CASE WHEN $5::boolean THEN $6::uuid[] ELSE website_ids END,
                     status = COALESCE($7::text, status),
                     disabled_reason = CASE WHEN $7::text = 'active' THEN NULL
                                            ELSE disabled_reason END,
                     consecutive_failures = CASE WHEN $7::text = 'active' THEN 0
                                                 ELSE consecutive_failures END,
                     secret = COALESCE($8::text, secret),
                     headers = COALESCE($9::jsonb, headers),
                     retry_count = COALESCE($10::bigint, retry_count),
                     updated_at = $11::timestamptz
                 WHERE id = $1
                 RETURNING *",
            )
            .await
            .map_err(db)?;
        let set_website_ids = patch.website_ids.is_some();
        let website_ids = patch.website_ids.clone().flatten();
        let status = patch.status.map(WebhookStatus::as_str);
        let headers = patch.headers.as_ref().map(Json);
        let retry_count = patch.retry_count.map(i64::from);
        let row = client
            .query_opt(
                &stmt,
                &[
                    &id,
                    &patch.name,
                    &patch.url,
                    &patch.events,
                    &set_website_ids,
                    &website_ids,
                    &status,
                    &patch.secret,
                    &headers,
                    &retry_count,
                    &at,
                ],
            )
            .await
            .map_err(db)?;
        row.as_ref().map(Webhook::try_from).transpose()
    }

    pub(super) async fn delete_webhook(&self, id: i64) -> StoreResult<bool> {
        let client = self.client().await?;
        // Deliveries and attempts go with it (ON DELETE CASCADE).
        let stmt = client
            .prepare_cached("DELETE FROM webhooks WHERE id = $1")
            .await
            .map_err(db)?;
        Ok(client.execute(&stmt, &[&id]).await.map_err(db)? > 0)
    }

    pub(super) async fn disable_webhook(
        &self,
        id: i64,
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "UPDATE webhooks SET status = 'disabled', disabled_reason = $2, updated_at = $3
                 WHERE id = $1",
            )
            .await
            .map_err(db)?;
        client
            .execute(&stmt, &[&id, &reason, &at])
            .await
            .map_err(db)?;
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
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let insert_event = tx
            .prepare_cached(
                "INSERT INTO webhook_events (message_id, event, website_id, body, created_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (message_id) DO NOTHING
                 RETURNING id",
            )
            .await
            .map_err(db)?;
        let inserted = tx
            .query_opt(
                &insert_event,
                &[
                    &event.message_id,
                    &event.event,
                    &event.website_id,
                    &event.body,
                    &event.created_at,
                ],
            )
            .await
            .map_err(db)?;
        let Some(inserted) = inserted else {
            // Idempotent: an event recorded already (a retried enqueue) is left as it is.
            let existing = tx
                .prepare_cached(
                    "SELECT d.id FROM webhook_deliveries d
                     JOIN webhook_events e ON e.id = d.event_id
                     WHERE e.message_id = $1
                     ORDER BY d.id",
                )
                .await
                .map_err(db)?;
            let rows = tx
                .query(&existing, &[&event.message_id])
                .await
                .map_err(db)?;
            tx.rollback().await.map_err(db)?;
            return rows
                .iter()
                .map(|row| row.try_get("id").map_err(db))
                .collect();
        };
        let event_id: i64 = inserted.try_get("id").map_err(db)?;

        // The subscriber webhooks that still exist, locked against deletion until commit: a
        // webhook deleted since it matched gets nothing.
        let wanted: Vec<i64> = deliveries
            .iter()
            .filter_map(|d| match d.target {
                Target::Subscriber { webhook_id } => Some(webhook_id),
                Target::Pusher { .. } => None,
            })
            .collect();
        let mut live = HashSet::new();
        if !wanted.is_empty() {
            let lock = tx
                .prepare_cached(
                    "SELECT id FROM webhooks WHERE id = ANY($1::bigint[]) ORDER BY id \
                     FOR KEY SHARE",
                )
                .await
                .map_err(db)?;
            for row in tx.query(&lock, &[&wanted]).await.map_err(db)? {
                live.insert(row.try_get::<_, i64>("id").map_err(db)?);
            }
        }

        let insert_delivery = tx
            .prepare_cached(
                "INSERT INTO webhook_deliveries (event_id, kind, webhook_id, app_id, url, state, \
                                                 attempts, max_attempts, next_attempt_at, \
                                                 expires_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9, $8)
                 RETURNING id",
            )
            .await
            .map_err(db)?;
        let mut ids = Vec::with_capacity(deliveries.len());
        let mut due = false;
        for d in deliveries {
            let (kind, webhook_id, app_id, url) = target_columns(&d.target);
            if webhook_id.is_some_and(|id| !live.contains(&id)) {
                continue;
            }
            due |= d.state == DeliveryState::Pending;
            let row = tx
                .query_one(
                    &insert_delivery,
                    &[
                        &event_id,
                        &kind,
                        &webhook_id,
                        &app_id,
                        &url,
                        &d.state.as_str(),
                        &i64::from(d.max_attempts),
                        &event.created_at,
                        &d.expires_at,
                    ],
                )
                .await
                .map_err(db)?;
            ids.push(row.try_get("id").map_err(db)?);
        }
        if due {
            // Delivered to listeners on commit only: nobody sees uncommitted rows.
            Self::notify_all(&tx).await?;
        }
        tx.commit().await.map_err(db)?;
        if due {
            wake(&self.listener.signal);
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
        let until = lease_until(now, lease_for)?;
        let mut webhook_ids: Vec<i64> = Vec::new();
        let mut app_ids: Vec<&str> = Vec::new();
        let mut urls: Vec<&str> = Vec::new();
        for target in exclude {
            match target {
                Target::Subscriber { webhook_id } => webhook_ids.push(*webhook_id),
                Target::Pusher { app_id, url } => {
                    app_ids.push(app_id);
                    urls.push(url);
                }
            }
        }
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(concat!(
                "WITH c AS (
                     SELECT id FROM webhook_deliveries w
                     WHERE state = 'pending' AND next_attempt_at <= $1
                       AND NOT (w.webhook_id IS NOT NULL AND w.webhook_id = ANY($3::bigint[]))
                       AND NOT EXISTS (
                           SELECT 1 FROM unnest($4::text[], $5::text[]) AS x (app_id, url)
                           WHERE x.app_id = w.app_id AND x.url = w.url)
                     ORDER BY next_attempt_at, id
                     LIMIT $2
                     FOR UPDATE SKIP LOCKED)
                 UPDATE webhook_deliveries d
                 SET state = 'in_flight', lease_token = gen_random_uuid(), lease_until = $6
                 FROM c, webhook_events e
                 WHERE d.id = c.id AND e.id = d.event_id
                 RETURNING d.lease_token, ",
                delivery_columns!()
            ))
            .await
            .map_err(db)?;
        let rows = client
            .query(
                &stmt,
                &[
                    &now,
                    &sql_limit(limit),
                    &webhook_ids,
                    &app_ids,
                    &urls,
                    &until,
                ],
            )
            .await
            .map_err(db)?;
        let mut claims = rows
            .iter()
            .map(|row| {
                Ok(Claim {
                    delivery: Delivery::try_from(row)?,
                    lease: row.try_get("lease_token").map_err(db)?,
                })
            })
            .collect::<StoreResult<Vec<Claim>>>()?;
        // RETURNING has no order.
        claims.sort_by_key(|c| (c.delivery.next_attempt_at, c.delivery.id));
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
        let (state, next_attempt_at, finished_at) = match outcome {
            Outcome::Retry { at } => (DeliveryState::Pending, Some(*at), None),
            Outcome::Succeeded => (DeliveryState::Succeeded, None, Some(now)),
            Outcome::Failed | Outcome::Gone => (DeliveryState::Failed, None, Some(now)),
        };
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let update = tx
            .prepare_cached(
                "UPDATE webhook_deliveries SET
                     state = $3, attempts = attempts + 1,
                     next_attempt_at = COALESCE($4, next_attempt_at),
                     lease_token = NULL, lease_until = NULL,
                     last_status = $5, last_error = $6, finished_at = $7
                 WHERE id = $1 AND lease_token = $2
                 RETURNING webhook_id",
            )
            .await
            .map_err(db)?;
        let row = tx
            .query_opt(
                &update,
                &[
                    &claim.delivery.id,
                    &claim.lease,
                    &state.as_str(),
                    &next_attempt_at,
                    &attempt.status_code.map(i32::from),
                    &attempt.error,
                    &finished_at,
                ],
            )
            .await
            .map_err(db)?;
        let Some(row) = row else {
            // The lease was lost (reaped, or claimed again): write nothing.
            tx.rollback().await.map_err(db)?;
            return Ok(false);
        };
        let webhook_id: Option<i64> = row.try_get("webhook_id").map_err(db)?;
        // The attempt belongs to the claimed delivery and its webhook, whatever it says.
        let mut attempt = attempt.clone();
        attempt.delivery_id = Some(claim.delivery.id);
        attempt.webhook_id = webhook_id;
        insert_attempt(&tx, &attempt).await?;

        if let Some(webhook_id) = webhook_id {
            let (sql, params): (&str, Vec<&(dyn tokio_postgres::types::ToSql + Sync)>) =
                match outcome {
                    Outcome::Succeeded => (
                        "UPDATE webhooks SET last_triggered_at = $2, last_error = NULL, \
                                             consecutive_failures = 0
                         WHERE id = $1",
                        vec![&webhook_id, &now],
                    ),
                    Outcome::Retry { .. } => (
                        "UPDATE webhooks SET last_error = $2 WHERE id = $1",
                        vec![&webhook_id, &attempt.error],
                    ),
                    Outcome::Failed => (
                        "UPDATE webhooks SET last_error = $2, \
                                             consecutive_failures = consecutive_failures + 1
                         WHERE id = $1",
                        vec![&webhook_id, &attempt.error],
                    ),
                    Outcome::Gone => (
                        "UPDATE webhooks SET last_error = $2, \
                                             consecutive_failures = consecutive_failures + 1, \
                                             status = 'disabled', disabled_reason = $3, \
                                             updated_at = $4
                         WHERE id = $1",
                        vec![&webhook_id, &attempt.error, &GONE_REASON, &now],
                    ),
                };
            let stmt = tx.prepare_cached(sql).await.map_err(db)?;
            tx.execute(&stmt, &params).await.map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    pub(super) async fn record_attempt(&self, attempt: &Attempt) -> StoreResult<()> {
        insert_attempt(&self.client().await?, attempt).await
    }

    pub(super) async fn reap(&self, now: DateTime<Utc>) -> StoreResult<usize> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let stmt = tx
            .prepare_cached(
                "UPDATE webhook_deliveries
                 SET state = 'pending', lease_token = NULL, lease_until = NULL
                 WHERE state = 'in_flight' AND lease_until < $1",
            )
            .await
            .map_err(db)?;
        let reaped = tx.execute(&stmt, &[&now]).await.map_err(db)?;
        if reaped > 0 {
            Self::notify_all(&tx).await?;
        }
        tx.commit().await.map_err(db)?;
        if reaped > 0 {
            wake(&self.listener.signal);
        }
        Ok(count(reaped))
    }

    pub(super) async fn next_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT min(next_attempt_at) AS due FROM webhook_deliveries \
                 WHERE state = 'pending'",
            )
            .await
            .map_err(db)?;
        client
            .query_one(&stmt, &[])
            .await
            .map_err(db)?
            .try_get("due")
            .map_err(db)
    }

    pub(super) async fn deliveries(
        &self,
        webhook_id: i64,
        limit: usize,
    ) -> StoreResult<Vec<Delivery>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(concat!(
                "SELECT ",
                delivery_columns!(),
                " FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
                 WHERE d.webhook_id = $1
                 ORDER BY d.created_at DESC, d.id DESC
                 LIMIT $2"
            ))
            .await
            .map_err(db)?;
        let rows = client
            .query(&stmt, &[&webhook_id, &sql_limit(limit)])
            .await
            .map_err(db)?;
        rows.iter().map(Delivery::try_from).collect()
    }

    pub(super) async fn attempts(
        &self,
        webhook_id: i64,
        limit: usize,
    ) -> StoreResult<Vec<Attempt>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(concat!(
                "SELECT ",
                attempt_columns!(),
                " FROM webhook_attempts WHERE webhook_id = $1
                 ORDER BY created_at DESC, id DESC
                 LIMIT $2"
            ))
            .await
            .map_err(db)?;
        let rows = client
            .query(&stmt, &[&webhook_id, &sql_limit(limit)])
            .await
            .map_err(db)?;
        rows.iter().map(Attempt::try_from).collect()
    }

    pub(super) async fn delivery_attempts(&self, delivery_id: i64) -> StoreResult<Vec<Attempt>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(concat!(
                "SELECT ",
                attempt_columns!(),
                " FROM webhook_attempts WHERE delivery_id = $1 ORDER BY created_at, id"
            ))
            .await
            .map_err(db)?;
        let rows = client.query(&stmt, &[&delivery_id]).await.map_err(db)?;
        rows.iter().map(Attempt::try_from).collect()
    }

    pub(super) async fn redeliver(
        &self,
        webhook_id: i64,
        delivery_id: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Delivery>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let stmt = tx
            .prepare_cached(concat!(
                "WITH d AS (
                     UPDATE webhook_deliveries SET
                         state = 'pending', max_attempts = attempts + 1, finished_at = NULL,
                         expires_at = NULL, next_attempt_at = $3,
                         lease_token = NULL, lease_until = NULL
                     WHERE id = $2 AND webhook_id = $1
                       AND state IN ('succeeded', 'failed', 'skipped')
                     RETURNING *)
                 SELECT ",
                delivery_columns!(),
                " FROM d JOIN webhook_events e ON e.id = d.event_id"
            ))
            .await
            .map_err(db)?;
        let row = tx
            .query_opt(&stmt, &[&webhook_id, &delivery_id, &now])
            .await
            .map_err(db)?;
        let Some(row) = row else {
            tx.rollback().await.map_err(db)?;
            return Ok(None);
        };
        let delivery = Delivery::try_from(&row)?;
        Self::notify_all(&tx).await?;
        tx.commit().await.map_err(db)?;
        wake(&self.listener.signal);
        Ok(Some(delivery))
    }

    pub(super) async fn recover(
        &self,
        webhook_id: i64,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<usize> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let stmt = tx
            .prepare_cached(
                "UPDATE webhook_deliveries SET
                     state = 'pending', max_attempts = attempts + 1, finished_at = NULL,
                     expires_at = NULL, next_attempt_at = $3,
                     lease_token = NULL, lease_until = NULL
                 WHERE webhook_id = $1 AND state IN ('failed', 'skipped') AND created_at >= $2",
            )
            .await
            .map_err(db)?;
        let recovered = tx
            .execute(&stmt, &[&webhook_id, &since, &now])
            .await
            .map_err(db)?;
        if recovered > 0 {
            Self::notify_all(&tx).await?;
        }
        tx.commit().await.map_err(db)?;
        if recovered > 0 {
            wake(&self.listener.signal);
        }
        Ok(count(recovered))
    }

    pub(super) async fn purge(&self, before: DateTime<Utc>, batch: usize) -> StoreResult<usize> {
        let batch = sql_limit(batch);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        // Their attempts go with them (ON DELETE CASCADE).
        let deliveries = tx
            .prepare_cached(
                "DELETE FROM webhook_deliveries WHERE id IN (
                     SELECT id FROM webhook_deliveries
                     WHERE state IN ('succeeded', 'failed', 'skipped') AND created_at < $1
                     ORDER BY created_at, id
                     LIMIT $2
                     FOR UPDATE SKIP LOCKED)",
            )
            .await
            .map_err(db)?;
        let purged = tx
            .execute(&deliveries, &[&before, &batch])
            .await
            .map_err(db)?;
        let tests = tx
            .prepare_cached(
                "DELETE FROM webhook_attempts WHERE id IN (
                     SELECT id FROM webhook_attempts
                     WHERE delivery_id IS NULL AND created_at < $1
                     ORDER BY created_at, id
                     LIMIT $2
                     FOR UPDATE SKIP LOCKED)",
            )
            .await
            .map_err(db)?;
        tx.execute(&tests, &[&before, &batch]).await.map_err(db)?;
        let events = tx
            .prepare_cached(
                "DELETE FROM webhook_events e
                 WHERE e.created_at < $1
                   AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id)",
            )
            .await
            .map_err(db)?;
        tx.execute(&events, &[&before]).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(count(purged))
    }

    pub(super) async fn queue_stats(&self) -> StoreResult<QueueStats> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT count(*) FILTER (WHERE state = 'pending') AS pending,
                        count(*) FILTER (WHERE state = 'in_flight') AS in_flight,
                        count(*) FILTER (WHERE state = 'failed') AS failed
                 FROM webhook_deliveries
                 WHERE state IN ('pending', 'in_flight', 'failed')",
            )
            .await
            .map_err(db)?;
        let row = client.query_one(&stmt, &[]).await.map_err(db)?;
        let get = |name: &str| -> StoreResult<u64> {
            let n: i64 = row.try_get(name).map_err(db)?;
            u64::try_from(n).map_err(|_| StoreError::Db(format!("{name} count {n} out of range")))
        };
        Ok(QueueStats {
            pending: get("pending")?,
            in_flight: get("in_flight")?,
            failed: get("failed")?,
        })
    }

    pub(super) fn delivery_signal(&self) -> Arc<Notify> {
        self.listener.signal()
    }
}

/// Inserts one attempt; [`StoreError::Conflict`] if its `attempt_id` is taken.
async fn insert_attempt(client: &impl GenericClient, attempt: &Attempt) -> StoreResult<()> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO webhook_attempts (attempt_id, delivery_id, webhook_id, number, \
                                           status_code, duration_ms, response, error, \
                                           \"trigger\", created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .await
        .map_err(db)?;
    let duration_ms = i64::try_from(attempt.duration_ms).unwrap_or(i64::MAX);
    let result = client
        .execute(
            &stmt,
            &[
                &attempt.attempt_id,
                &attempt.delivery_id,
                &attempt.webhook_id,
                &i64::from(attempt.number),
                &attempt.status_code.map(i32::from),
                &duration_ms,
                &attempt.response,
                &attempt.error,
                &attempt.trigger.as_str(),
                &attempt.created_at,
            ],
        )
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => Err(StoreError::Conflict(
            format!("attempt {}", attempt.attempt_id),
        )),
        Err(e) => Err(db(e)),
    }
}

/// `kind`, `webhook_id`, `app_id`, `url` of a target.
fn target_columns(target: &Target) -> (&'static str, Option<i64>, Option<&str>, Option<&str>) {
    match target {
        Target::Subscriber { webhook_id } => ("subscriber", Some(*webhook_id), None, None),
        Target::Pusher { app_id, url } => ("pusher", None, Some(app_id), Some(url)),
    }
}

/// A `LIMIT` value.
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// A row count as `usize`.
fn count(rows: u64) -> usize {
    usize::try_from(rows).unwrap_or(usize::MAX)
}

/// A non-negative `BIGINT` column as `u32`.
fn get_u32(row: &Row, name: &str) -> StoreResult<u32> {
    let n: i64 = row.try_get(name).map_err(db)?;
    u32::try_from(n).map_err(|_| StoreError::Db(format!("{name} {n} out of range")))
}

/// An `INTEGER` HTTP status column.
fn get_status(row: &Row, name: &str) -> StoreResult<Option<u16>> {
    let status: Option<i32> = row.try_get(name).map_err(db)?;
    status
        .map(|s| u16::try_from(s).map_err(|_| StoreError::Db(format!("{name} {s} out of range"))))
        .transpose()
}

fn trigger_from_name(name: &str) -> Option<Trigger> {
    [Trigger::Scheduled, Trigger::Manual, Trigger::Test]
        .into_iter()
        .find(|t| t.as_str() == name)
}

impl TryFrom<&Row> for Webhook {
    type Error = StoreError;

    fn try_from(row: &Row) -> StoreResult<Webhook> {
        let status: String = row.try_get("status").map_err(db)?;
        let Json(headers): Json<BTreeMap<String, String>> = row.try_get("headers").map_err(db)?;
        Ok(Webhook {
            id: row.try_get("id").map_err(db)?,
            name: row.try_get("name").map_err(db)?,
            url: row.try_get("url").map_err(db)?,
            events: row.try_get("events").map_err(db)?,
            website_ids: row.try_get("website_ids").map_err(db)?,
            status: WebhookStatus::from_name(&status)
                .ok_or_else(|| StoreError::Db(format!("unknown webhook status {status:?}")))?,
            secret: row.try_get("secret").map_err(db)?,
            headers,
            retry_count: get_u32(row, "retry_count")?,
            last_triggered_at: row.try_get("last_triggered_at").map_err(db)?,
            last_error: row.try_get("last_error").map_err(db)?,
            consecutive_failures: get_u32(row, "consecutive_failures")?,
            disabled_reason: row.try_get("disabled_reason").map_err(db)?,
            created_at: row.try_get("created_at").map_err(db)?,
            updated_at: row.try_get("updated_at").map_err(db)?,
        })
    }
}

impl TryFrom<&Row> for Delivery {
    type Error = StoreError;

    fn try_from(row: &Row) -> StoreResult<Delivery> {
        let kind: String = row.try_get("kind").map_err(db)?;
        let target = match kind.as_str() {
            "subscriber" => Target::Subscriber {
                webhook_id: row
                    .try_get::<_, Option<i64>>("webhook_id")
                    .map_err(db)?
                    .ok_or_else(|| StoreError::Db("subscriber delivery without webhook".into()))?,
            },
            "pusher" => Target::Pusher {
                app_id: row
                    .try_get::<_, Option<String>>("app_id")
                    .map_err(db)?
                    .ok_or_else(|| StoreError::Db("pusher delivery without app id".into()))?,
                url: row
                    .try_get::<_, Option<String>>("url")
                    .map_err(db)?
                    .ok_or_else(|| StoreError::Db("pusher delivery without url".into()))?,
            },
            other => return Err(StoreError::Db(format!("unknown delivery kind {other:?}"))),
        };
        let state: String = row.try_get("state").map_err(db)?;
        Ok(Delivery {
            id: row.try_get("id").map_err(db)?,
            target,
            message_id: row.try_get("message_id").map_err(db)?,
            event: row.try_get("event").map_err(db)?,
            website_id: row.try_get("website_id").map_err(db)?,
            body: row.try_get("body").map_err(db)?,
            state: DeliveryState::from_name(&state)
                .ok_or_else(|| StoreError::Db(format!("unknown delivery state {state:?}")))?,
            attempts: get_u32(row, "attempts")?,
            max_attempts: get_u32(row, "max_attempts")?,
            next_attempt_at: row.try_get("next_attempt_at").map_err(db)?,
            expires_at: row.try_get("expires_at").map_err(db)?,
            last_status: get_status(row, "last_status")?,
            last_error: row.try_get("last_error").map_err(db)?,
            created_at: row.try_get("created_at").map_err(db)?,
            finished_at: row.try_get("finished_at").map_err(db)?,
        })
    }
}

impl TryFrom<&Row> for Attempt {
    type Error = StoreError;

    fn try_from(row: &Row) -> StoreResult<Attempt> {
        let trigger: String = row.try_get("trigger").map_err(db)?;
        let duration_ms: i64 = row.try_get("duration_ms").map_err(db)?;
        Ok(Attempt {
            attempt_id: row.try_get::<_, Uuid>("attempt_id").map_err(db)?,
            delivery_id: row.try_get("delivery_id").map_err(db)?,
            webhook_id: row.try_get("webhook_id").map_err(db)?,
            number: get_u32(row, "number")?,
            status_code: get_status(row, "status_code")?,
            duration_ms: u64::try_from(duration_ms)
                .map_err(|_| StoreError::Db(format!("duration_ms {duration_ms} out of range")))?,
            response: row.try_get("response").map_err(db)?,
            error: row.try_get("error").map_err(db)?,
            trigger: trigger_from_name(&trigger)
                .ok_or_else(|| StoreError::Db(format!("unknown attempt trigger {trigger:?}")))?,
            created_at: row.try_get("created_at").map_err(db)?,
        })
    }
}
