//! The delivery worker: claims due deliveries from the queue, sends them with the guarded
//! client, records each attempt and schedules retries. Also the fan-out of product events to
//! matching subscriber webhooks, and the synchronous test call.
//!
//! Isolation: at most `max_concurrency_per_endpoint` requests per endpoint are in flight, and
//! the claim query skips endpoints at that cap, so one slow or dead endpoint never holds the
//! workers that healthy endpoints need.

use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
    time::Duration,
};

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::{Notify, Semaphore};
use uuid::Uuid;

use super::json_string;
use super::{
    client::{SendResult, Sender},
    headers::{pusher_headers, subscriber_headers},
    model::{
        Attempt, Claim, DeliveryState, NewDelivery, NewEvent, Outcome, Target, Trigger, Webhook,
        WebhookStatus,
    },
    retry::{classify, next_delay, Class},
};
use crate::{state::AppState, store::StoreError};

/// How often expired leases are returned to the queue.
const REAP_EVERY: Duration = Duration::from_secs(5);
/// How often old deliveries are purged.
const PURGE_EVERY: Duration = Duration::from_secs(600);
/// Deliveries deleted per purge statement.
const PURGE_BATCH: usize = 1000;
/// The longest the worker sleeps without looking at the queue.
const POLL_EVERY: Duration = Duration::from_secs(1);
/// Most events waiting for a store that refused them; beyond it they are dropped and logged.
const MAX_OUTBOX: usize = 10_000;

/// A new message id: `msg_<uuid>`; the stable `webhook-id` of an event.
pub fn message_id() -> String {
    format!("msg_{}", Uuid::new_v4().simple())
}

/// Per-process delivery state: the client, in-flight counts, and events waiting for the store.
#[derive(Debug)]
pub struct Dispatcher {
    sender: Sender,
    in_flight: Mutex<HashMap<Target, usize>>,
    permits: Arc<Semaphore>,
    outbox: Mutex<VecDeque<(NewEvent, Vec<NewDelivery>)>>,
    outbox_signal: Notify,
}

impl Dispatcher {
    /// A dispatcher with a client built from `[webhooks]`.
    pub fn new(cfg: &crate::config::WebhooksConfig) -> Result<Dispatcher, String> {
        Ok(Dispatcher {
            sender: Sender::new(cfg)?,
            in_flight: Mutex::new(HashMap::new()),
            permits: Arc::new(Semaphore::new(cfg.max_concurrency)),
            outbox: Mutex::new(VecDeque::new()),
            outbox_signal: Notify::new(),
        })
    }

    /// Events waiting for the store.
    pub fn outbox_len(&self) -> usize {
        self.outbox.lock().len()
    }
}

/// Records an event and its deliveries; if the store refuses, keeps them in memory and retries
/// in the background so the event is not lost while the process lives.
pub async fn enqueue(state: &AppState, event: NewEvent, deliveries: Vec<NewDelivery>) {
    if deliveries.is_empty() {
        return;
    }
    if let Err(error) = state.store.enqueue(&event, &deliveries).await {
        tracing::error!(%error, message_id = %event.message_id, "could not record webhook deliveries; will retry");
        state
            .metrics
            .count("relay_webhook_enqueue_failures_total", "");
        let mut outbox = state.dispatcher.outbox.lock();
        if outbox.len() >= MAX_OUTBOX {
            tracing::error!(message_id = %event.message_id, "webhook outbox full; dropping an event");
            return;
        }
        outbox.push_back((event, deliveries));
        state.dispatcher.outbox_signal.notify_one();
    }
}

async fn drain_outbox(state: Arc<AppState>) {
    let mut delay = Duration::from_secs(1);
    loop {
        if state.dispatcher.outbox.lock().is_empty() {
            state.dispatcher.outbox_signal.notified().await;
            delay = Duration::from_secs(1);
        }
        tokio::time::sleep(delay).await;
        loop {
            let Some((event, deliveries)) = state.dispatcher.outbox.lock().pop_front() else {
                break;
            };
            if let Err(error) = state.store.enqueue(&event, &deliveries).await {
                tracing::warn!(%error, "webhook outbox retry failed");
                state
                    .dispatcher
                    .outbox
                    .lock()
                    .push_front((event, deliveries));
                delay = (delay * 2).min(Duration::from_secs(60));
                break;
            }
        }
    }
}

/// Queues a product event (ingested or backup) for every matching subscriber webhook, as
/// `{event, timestamp, website_id, domain, data}` with `data` exactly as given (JSON text).
pub async fn publish_event(
    state: &AppState,
    event: &str,
    website_id: Uuid,
    domain: &str,
    data: &str,
) {
    let webhooks = match state.store.webhooks().await {
        Ok(list) => list,
        Err(error) => {
            tracing::error!(%error, "could not list webhooks; the event is kept for retry");
            state
                .metrics
                .count("relay_webhook_enqueue_failures_total", "");
            Vec::new()
        }
    };
    let now = Utc::now();
    let deliveries: Vec<NewDelivery> = webhooks
        .iter()
        .filter(|w| w.status != WebhookStatus::Inactive && matches(w, event, website_id))
        .map(|w| NewDelivery {
            target: Target::Subscriber { webhook_id: w.id },
            max_attempts: w.retry_count + 1,
            state: if w.status == WebhookStatus::Disabled {
                DeliveryState::Skipped
            } else {
                DeliveryState::Pending
            },
            expires_at: None,
        })
        .collect();
    if deliveries.is_empty() {
        return;
    }
    let body = format!(
        r#"{{"event":{},"timestamp":{},"website_id":"{website_id}","domain":{},"data":{data}}}"#,
        json_string(event),
        json_string(&now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        json_string(domain),
    );
    let event = NewEvent {
        message_id: message_id(),
        event: event.to_owned(),
        website_id: Some(website_id),
        body,
        created_at: now,
    };
    enqueue(state, event, deliveries).await;
}

/// Whether a webhook subscribes to an event of a site.
pub fn matches(webhook: &Webhook, event: &str, website_id: Uuid) -> bool {
    let site_ok = webhook
        .website_ids
        .as_ref()
        .is_none_or(|ids| ids.contains(&website_id));
    site_ok
        && webhook.events.iter().any(|p| {
            p.parse::<relay_core::EventPattern>()
                .is_ok_and(|pattern| pattern.matches(event))
        })
}

/// Starts the worker, the reaper, the purge job and the outbox drain.
pub fn spawn(state: Arc<AppState>) {
    tokio::spawn(run(state.clone()));
    tokio::spawn(drain_outbox(state.clone()));
    let reaper = state.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(REAP_EVERY).await;
            match reaper.store.reap(Utc::now()).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::warn!(count = n, "returned expired webhook leases to the queue");
                    wake(&reaper);
                }
                Err(error) => tracing::warn!(%error, "webhook reaper failed"),
            }
        }
    });
    tokio::spawn(async move {
        loop {
            let before =
                Utc::now() - chrono::Duration::days(state.config.webhooks.retention_days as i64);
            loop {
                match state.store.purge(before, PURGE_BATCH).await {
                    Ok(n) if n == PURGE_BATCH => continue,
                    Ok(n) => {
                        if n > 0 {
                            tracing::info!(count = n, "purged old webhook deliveries");
                        }
                        break;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "webhook purge failed");
                        break;
                    }
                }
            }
            tokio::time::sleep(PURGE_EVERY).await;
        }
    });
}

/// The claim loop.
async fn run(state: Arc<AppState>) {
    let signal = state.store.delivery_signal();
    let cfg = &state.config.webhooks;
    // Longer than a request can take, so a live worker never loses its lease mid-request.
    let lease_for = Duration::from_secs(cfg.timeout * 2 + 5);
    loop {
        let capacity = state.dispatcher.permits.available_permits();
        let exclude: Vec<Target> = state
            .dispatcher
            .in_flight
            .lock()
            .iter()
            .filter(|(_, n)| **n >= cfg.max_concurrency_per_endpoint)
            .map(|(t, _)| t.clone())
            .collect();
        let claims = if capacity == 0 {
            Vec::new()
        } else {
            match state
                .store
                .claim(Utc::now(), capacity.min(64), lease_for, &exclude)
                .await
            {
                Ok(claims) => claims,
                Err(error) => {
                    tracing::warn!(%error, "could not claim webhook deliveries");
                    Vec::new()
                }
            }
        };
        if claims.is_empty() {
            let wait = match state.store.next_due().await {
                Ok(Some(due)) => (due - Utc::now())
                    .to_std()
                    .unwrap_or_default()
                    .min(POLL_EVERY),
                _ => POLL_EVERY,
            };
            tokio::select! {
                _ = signal.notified() => {}
                _ = tokio::time::sleep(wait.max(Duration::from_millis(10))) => {}
            }
            continue;
        }
        for claim in claims {
            let state = state.clone();
            let Ok(permit) = state.dispatcher.permits.clone().acquire_owned().await else {
                return;
            };
            *state
                .dispatcher
                .in_flight
                .lock()
                .entry(claim.delivery.target.clone())
                .or_default() += 1;
            tokio::spawn(async move {
                let target = claim.delivery.target.clone();
                deliver(&state, claim).await;
                let mut in_flight = state.dispatcher.in_flight.lock();
                if let Some(n) = in_flight.get_mut(&target) {
                    *n -= 1;
                    if *n == 0 {
                        in_flight.remove(&target);
                    }
                }
                drop(permit);
                drop(in_flight);
                wake(&state);
            });
        }
    }
}

/// Wakes the claim loop (capacity freed, leases returned).
fn wake(state: &AppState) {
    state.store.delivery_signal().notify_one();
}

/// The result of an attempt that was not sent (deleted webhook, expired, …).
fn not_sent(error: String) -> SendResult {
    SendResult {
        status: None,
        duration: Duration::ZERO,
        response: None,
        error: Some(error),
        retry_after: None,
    }
}

/// Where and how one delivery is sent.
struct Request {
    url: String,
    headers: Vec<(String, String)>,
    webhook: Option<Webhook>,
}

/// Resolves the target of a claim at send time (URL, secret and headers may have changed).
async fn request_for(
    state: &AppState,
    claim: &Claim,
    attempt_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Request, String> {
    let d = &claim.delivery;
    match &d.target {
        Target::Subscriber { webhook_id } => {
            let webhook = state
                .store
                .webhook(*webhook_id)
                .await
                .map_err(|e| format!("store error: {e}"))?
                .ok_or_else(|| "the webhook was deleted".to_owned())?;
            if webhook.status != WebhookStatus::Active {
                return Err(format!("the webhook is {}", webhook.status.as_str()));
            }
            let domain = serde_json::from_str::<Value>(&d.body)
                .ok()
                .and_then(|v| v.get("domain").and_then(Value::as_str).map(str::to_owned));
            let headers = subscriber_headers(
                &webhook,
                &d.message_id,
                attempt_id,
                &d.event,
                domain.as_deref(),
                now.timestamp(),
                &d.body,
            );
            Ok(Request {
                url: webhook.url.clone(),
                headers,
                webhook: Some(webhook),
            })
        }
        Target::Pusher { app_id, url } => {
            let app = state
                .apps
                .by_id(app_id)
                .ok_or_else(|| format!("app {app_id} is no longer configured"))?;
            Ok(Request {
                url: url.clone(),
                headers: pusher_headers(&app.config.key, &app.config.secret, &d.body),
                webhook: None,
            })
        }
    }
}

/// Sends one claimed delivery and records the outcome.
async fn deliver(state: &AppState, claim: Claim) {
    let now = Utc::now();
    let attempt_id = Uuid::new_v4();
    let number = claim.delivery.attempts + 1;
    let expired = claim.delivery.expires_at.is_some_and(|at| at <= now);
    let (result, webhook) = match request_for(state, &claim, attempt_id, now).await {
        Err(error) => (not_sent(error), None),
        Ok(_) if expired => (
            not_sent("expired before it could be delivered".into()),
            None,
        ),
        Ok(request) => (
            state
                .dispatcher
                .sender
                .send(&request.url, &request.headers, claim.delivery.body.clone())
                .await,
            request.webhook,
        ),
    };
    let class = classify(result.status);
    let outcome = match class {
        Class::Success => Outcome::Succeeded,
        Class::Gone if webhook.is_some() => Outcome::Gone,
        _ if result
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("the webhook") || e.starts_with("app ")) =>
        {
            Outcome::Failed
        }
        _ => {
            let schedule = &state.config.webhooks.retry_schedule;
            let jitter = rand::random::<f64>() * 2.0 - 1.0;
            let retry_at = (number < claim.delivery.max_attempts
                && !schedule.is_empty()
                && !expired)
                .then(|| {
                    now + chrono::Duration::from_std(next_delay(
                        schedule,
                        number,
                        result.retry_after,
                        jitter,
                    ))
                    .unwrap_or_default()
                });
            match retry_at {
                Some(at) if claim.delivery.expires_at.is_none_or(|exp| at < exp) => {
                    Outcome::Retry { at }
                }
                _ => Outcome::Failed,
            }
        }
    };
    let attempt = Attempt {
        attempt_id,
        delivery_id: Some(claim.delivery.id),
        webhook_id: webhook
            .as_ref()
            .map(|w| w.id)
            .or(match claim.delivery.target {
                Target::Subscriber { webhook_id } => Some(webhook_id),
                Target::Pusher { .. } => None,
            }),
        number,
        status_code: result.status,
        duration_ms: result.duration.as_millis() as u64,
        response: result.response.clone(),
        error: result.error.clone(),
        trigger: Trigger::Scheduled,
        created_at: now,
    };
    let label = match &outcome {
        Outcome::Succeeded => "succeeded",
        Outcome::Retry { .. } => "retry",
        Outcome::Failed => "failed",
        Outcome::Gone => "gone",
    };
    state.metrics.count("relay_webhook_attempts_total", label);
    match state
        .store
        .complete(&claim, &attempt, &outcome, Utc::now())
        .await
    {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            delivery = claim.delivery.id,
            "webhook lease lost; another worker owns it"
        ),
        Err(error) => {
            tracing::error!(%error, delivery = claim.delivery.id, "could not record a webhook attempt")
        }
    }
    if let (Outcome::Failed, Some(webhook)) = (&outcome, &webhook) {
        let limit = state.config.webhooks.disable_after_failures;
        if limit > 0 && webhook.consecutive_failures + 1 >= limit {
            let reason = format!("{limit} deliveries in a row failed");
            tracing::warn!(webhook = webhook.id, %reason, "disabling webhook");
            if let Err(error) = state
                .store
                .disable_webhook(webhook.id, &reason, Utc::now())
                .await
            {
                tracing::error!(%error, "could not disable a failing webhook");
            }
        }
    }
}

/// Sends a signed `webhook.test` event to a webhook now (whatever its status) and logs it.
pub async fn send_test(state: &AppState, webhook: &Webhook) -> Result<Attempt, StoreError> {
    let now = Utc::now();
    let attempt_id = Uuid::new_v4();
    let message_id = message_id();
    let body = format!(
        r#"{{"event":"webhook.test","timestamp":{},"website_id":null,"domain":null,"data":{{"message":"This is a test event from Relay.","webhook_id":{}}}}}"#,
        json_string(&now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        webhook.id
    );
    let headers = subscriber_headers(
        webhook,
        &message_id,
        attempt_id,
        "webhook.test",
        None,
        now.timestamp(),
        &body,
    );
    let result = state
        .dispatcher
        .sender
        .send(&webhook.url, &headers, body)
        .await;
    let attempt = Attempt {
        attempt_id,
        delivery_id: None,
        webhook_id: Some(webhook.id),
        number: 1,
        status_code: result.status,
        duration_ms: result.duration.as_millis() as u64,
        response: result.response,
        error: result.error,
        trigger: Trigger::Test,
        created_at: now,
    };
    state.store.record_attempt(&attempt).await?;
    Ok(attempt)
}
