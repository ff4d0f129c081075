//! Pusher-format app webhooks (spec §8): channel existence, presence, client events, cache
//! misses and subscription counts, batched, signed with the app secret, delivered through the
//! durable queue.
//!
//! The WebSocket sessions emit events with a non-blocking `try_send` on a bounded channel, so
//! webhooks never delay a socket. `channel_vacated` and `member_removed` wait
//! `pusher_flap_delay_ms` (Pusher: up to 3 s); if the channel is re-occupied or the member comes
//! back meanwhile, both the delayed event and its opposite are dropped.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::Utc;
use pusher_wire::webhook::{WebhookEvent, WebhookPayload};
use tokio::sync::mpsc;

use super::{
    dispatcher::{enqueue, message_id},
    model::{DeliveryState, NewDelivery, NewEvent, Target},
};
use crate::{apps::App, state::AppState};

/// Events waiting for the batcher of one app; beyond this they are dropped and counted.
pub const QUEUE_CAPACITY: usize = 10_000;

/// How long Pusher webhooks are retried: Python's validator refuses bodies older than 5 minutes.
pub const MAX_AGE: Duration = Duration::from_secs(300);

/// `cache_miss` webhooks for one channel are sent at most this often (Pusher de-duplicates).
pub const CACHE_MISS_INTERVAL: Duration = Duration::from_secs(5);

/// The sending side, held by an app with webhooks configured.
#[derive(Debug)]
pub struct Emitter {
    tx: mpsc::Sender<WebhookEvent>,
}

impl Emitter {
    /// A bounded channel to a batcher.
    pub fn new() -> (Emitter, mpsc::Receiver<WebhookEvent>) {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        (Emitter { tx }, rx)
    }

    /// Queues an event without waiting; `false` if the batcher is behind (the event is dropped).
    pub fn emit(&self, event: WebhookEvent) -> bool {
        self.tx.try_send(event).is_ok()
    }
}

fn same_channel(event: &WebhookEvent, kind: &str, channel: &str, user: Option<&str>) -> bool {
    match event {
        WebhookEvent::ChannelVacated { channel: c } => kind == "channel_vacated" && c == channel,
        WebhookEvent::MemberRemoved {
            channel: c,
            user_id,
        } => kind == "member_removed" && c == channel && Some(user_id.as_str()) == user,
        _ => false,
    }
}

/// Batches one app's events and queues a signed request per configured URL.
pub async fn run(state: Arc<AppState>, app: Arc<App>, mut rx: mpsc::Receiver<WebhookEvent>) {
    let cfg = &state.config.webhooks;
    let flap = Duration::from_millis(cfg.pusher_flap_delay_ms);
    let window = Duration::from_millis(cfg.pusher_batch_ms);
    let mut delayed: Vec<(Instant, WebhookEvent)> = Vec::new();
    let mut batch: Vec<WebhookEvent> = Vec::new();
    let mut batch_due: Option<Instant> = None;
    let mut cache_misses: HashMap<String, Instant> = HashMap::new();
    loop {
        let next = delayed
            .iter()
            .map(|(at, _)| *at)
            .chain(batch_due)
            .min()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            event = rx.recv() => {
                let Some(event) = event else {
                    batch.extend(delayed.drain(..).map(|(_, e)| e));
                    flush(&state, &app, &mut batch).await;
                    return;
                };
                let now = Instant::now();
                let keep = match &event {
                    WebhookEvent::ChannelOccupied { channel } => {
                        let flipped = delayed.iter().position(|(_, e)| same_channel(e, "channel_vacated", channel, None));
                        flipped.map(|i| delayed.remove(i)).is_none()
                    }
                    WebhookEvent::MemberAdded { channel, user_id } => {
                        let flipped = delayed
                            .iter()
                            .position(|(_, e)| same_channel(e, "member_removed", channel, Some(user_id)));
                        flipped.map(|i| delayed.remove(i)).is_none()
                    }
                    WebhookEvent::ChannelVacated { .. } | WebhookEvent::MemberRemoved { .. } => {
                        delayed.push((now + flap, event.clone()));
                        false
                    }
                    WebhookEvent::CacheMiss { channel } => {
                        let recent = cache_misses.get(channel).is_some_and(|at| now.duration_since(*at) < CACHE_MISS_INTERVAL);
                        if !recent {
                            cache_misses.insert(channel.clone(), now);
                            cache_misses.retain(|_, at| now.duration_since(*at) < CACHE_MISS_INTERVAL);
                        }
                        !recent
                    }
                    _ => true,
                };
                if keep {
                    batch.push(event);
                    batch_due.get_or_insert(now + window);
                }
            }
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(next)) => {
                let now = Instant::now();
                let (due, waiting): (Vec<_>, Vec<_>) = delayed.drain(..).partition(|(at, _)| *at <= now);
                delayed = waiting;
                if !due.is_empty() {
                    batch.extend(due.into_iter().map(|(_, e)| e));
                    batch_due.get_or_insert(now);
                }
                if batch_due.is_some_and(|at| at <= now) {
                    batch_due = None;
                    flush(&state, &app, &mut batch).await;
                }
            }
        }
    }
}

/// Queues the batch for every configured URL, each with the event types it asked for.
async fn flush(state: &AppState, app: &App, batch: &mut Vec<WebhookEvent>) {
    if batch.is_empty() {
        return;
    }
    let now = Utc::now();
    let max_attempts = u32::try_from(state.config.webhooks.retry_schedule.len())
        .unwrap_or(u32::MAX)
        .saturating_add(1);
    for hook in &app.config.webhooks {
        let events: Vec<WebhookEvent> = batch
            .iter()
            .filter(|e| hook.event_types.iter().any(|t| t == e.kind()))
            .cloned()
            .collect();
        if events.is_empty() {
            continue;
        }
        let payload = WebhookPayload {
            time_ms: u64::try_from(now.timestamp_millis()).unwrap_or_default(),
            events,
        };
        let event = NewEvent {
            message_id: message_id(),
            event: "pusher.webhook".into(),
            website_id: None,
            body: payload.to_body(),
            created_at: now,
        };
        let delivery = NewDelivery {
            target: Target::Pusher {
                app_id: app.config.id.clone(),
                url: hook.url.clone(),
            },
            max_attempts,
            state: DeliveryState::Pending,
            expires_at: Some(now + chrono::Duration::from_std(MAX_AGE).unwrap_or_default()),
        };
        enqueue(state, event, vec![delivery]).await;
    }
    batch.clear();
}
