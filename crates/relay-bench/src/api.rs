//! The signed Pusher HTTP API: publishing events, on a fixed schedule or as fast as possible.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use tokio::{sync::Semaphore, task::JoinSet, time::Instant};

use crate::{stats::payload, Target};

/// The event name every benchmark message is published as.
pub const EVENT: &str = "bench";

/// A keep-alive HTTP client for one app's API.
#[derive(Debug)]
pub struct Api {
    client: reqwest::Client,
    origin: String,
    prefix: String,
    app_id: String,
    key: String,
    secret: String,
}

impl Api {
    /// A client for `target` keeping up to `pool` idle connections.
    pub fn new(target: &Target, pool: usize) -> Result<Api, String> {
        let url = url::Url::parse(&target.http_url).map_err(|e| format!("--http-url: {e}"))?;
        let host = url.host_str().ok_or("--http-url has no host")?;
        let port = url
            .port_or_known_default()
            .ok_or("--http-url has no port")?;
        let origin = format!("{}://{host}:{port}", url.scheme());
        let prefix = url.path().trim_end_matches('/').to_owned();
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(pool)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Api {
            client,
            origin,
            prefix,
            app_id: target.app_id.clone(),
            key: target.key.clone(),
            secret: target.secret.clone(),
        })
    }

    /// Publishes `data` as event [`EVENT`] on `channel`.
    pub async fn trigger(&self, channel: &str, data: &str) -> Result<(), String> {
        let body = serde_json::to_vec(&serde_json::json!({
            "name": EVENT,
            "channels": [channel],
            "data": data,
        }))
        .map_err(|e| e.to_string())?;
        let path = format!("{}/apps/{}/events", self.prefix, self.app_id);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let query = pusher_wire::auth::api_request::sign(
            "POST",
            &path,
            &self.key,
            &self.secret,
            now,
            &body,
            &[],
        );
        let response = self
            .client
            .post(format!("{}{path}?{query}", self.origin))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("publish: {e}"))?;
        let status = response.status();
        if status.is_success() {
            // Read the body so the connection goes back to the pool.
            let _ = response.bytes().await;
            Ok(())
        } else {
            let text = response.text().await.unwrap_or_default();
            Err(format!(
                "publish: HTTP {status}: {}",
                text.chars().take(200).collect::<String>()
            ))
        }
    }
}

/// Which messages the server accepted (HTTP 2xx).
#[derive(Debug)]
pub struct Accepted {
    bits: Vec<AtomicBool>,
}

impl Accepted {
    /// Room for `total` sequence numbers.
    pub fn new(total: u64) -> Accepted {
        Accepted {
            bits: (0..total).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    /// Marks `seq` accepted.
    pub fn set(&self, seq: u64) {
        if let Some(b) = self.bits.get(seq as usize) {
            b.store(true, Ordering::Relaxed);
        }
    }

    /// Whether `seq` was accepted.
    pub fn get(&self, seq: u64) -> bool {
        self.bits
            .get(seq as usize)
            .is_some_and(|b| b.load(Ordering::Relaxed))
    }

    /// How many were accepted.
    pub fn count(&self) -> u64 {
        self.bits
            .iter()
            .filter(|b| b.load(Ordering::Relaxed))
            .count() as u64
    }
}

/// What a publishing run did.
#[derive(Debug)]
pub struct PublishOut {
    /// Requests sent.
    pub attempted: u64,
    /// Requests answered 2xx, by sequence number.
    pub accepted: Arc<Accepted>,
    /// Requests that failed.
    pub errors: u64,
    /// The first failure.
    pub first_error: Option<String>,
    /// From the first send to the last answer.
    pub elapsed: Duration,
    /// The furthest a send fell behind its scheduled time.
    pub max_lag: Duration,
    /// HTTP request durations, microseconds.
    pub request_latency: hdrhistogram::Histogram<u64>,
}

struct Shared {
    errors: AtomicU64,
    first_error: Mutex<Option<String>>,
    latency: Mutex<hdrhistogram::Histogram<u64>>,
}

impl Shared {
    fn new() -> Shared {
        Shared {
            errors: AtomicU64::new(0),
            first_error: Mutex::new(None),
            latency: Mutex::new(crate::stats::histogram()),
        }
    }

    fn fail(&self, e: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        // unwrap: the lock is never held across a panic.
        let mut first = self.first_error.lock().unwrap();
        if first.is_none() {
            *first = Some(e);
        }
    }

    fn took(&self, since: Instant) {
        let us = since.elapsed().as_micros() as u64;
        // unwrap: as above.
        self.latency.lock().unwrap().saturating_record(us.max(1));
    }
}

/// Publishes messages `0..total`, message `i` at `start + i / rate`, to `channel_of(i)`, with at
/// most `max_in_flight` requests outstanding. Stops scheduling at `deadline` after the start.
pub async fn publish_schedule(
    api: Arc<Api>,
    rate: f64,
    total: u64,
    max_in_flight: usize,
    pad: usize,
    channel_of: Arc<dyn Fn(u64) -> String + Send + Sync>,
    deadline: Duration,
) -> PublishOut {
    let accepted = Arc::new(Accepted::new(total));
    let shared = Arc::new(Shared::new());
    let permits = Arc::new(Semaphore::new(max_in_flight.max(1)));
    let mut tasks = JoinSet::new();
    let start = Instant::now();
    let mut max_lag = Duration::ZERO;
    let mut attempted = 0;
    for seq in 0..total {
        let due = start + Duration::from_secs_f64(seq as f64 / rate.max(0.001));
        if start.elapsed() > deadline {
            break;
        }
        tokio::time::sleep_until(due).await;
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        max_lag = max_lag.max(Instant::now().saturating_duration_since(due));
        attempted += 1;
        let (api, accepted, shared, channel) = (
            api.clone(),
            accepted.clone(),
            shared.clone(),
            channel_of(seq),
        );
        tasks.spawn(async move {
            let sent = Instant::now();
            match api.trigger(&channel, &payload(seq, pad)).await {
                Ok(()) => accepted.set(seq),
                Err(e) => shared.fail(e),
            }
            shared.took(sent);
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
    }
    // Every request has its own 10 s timeout, so this ends.
    while tasks.join_next().await.is_some() {}
    finish(attempted, accepted, &shared, start.elapsed(), max_lag)
}

/// Publishes as fast as `requesters` concurrent loops can, for `duration` or `max` messages,
/// to `channel`.
pub async fn publish_flood(
    api: Arc<Api>,
    requesters: usize,
    duration: Duration,
    max: u64,
    pad: usize,
    channel: &str,
) -> PublishOut {
    let accepted = Arc::new(Accepted::new(max));
    let shared = Arc::new(Shared::new());
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..requesters.max(1) {
        let (api, accepted, shared, next, channel) = (
            api.clone(),
            accepted.clone(),
            shared.clone(),
            next.clone(),
            channel.to_owned(),
        );
        tasks.spawn(async move {
            while start.elapsed() < duration {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= max {
                    break;
                }
                let sent = Instant::now();
                match api.trigger(&channel, &payload(seq, pad)).await {
                    Ok(()) => accepted.set(seq),
                    Err(e) => shared.fail(e),
                }
                shared.took(sent);
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let attempted = next.load(Ordering::Relaxed).min(max);
    finish(
        attempted,
        accepted,
        &shared,
        start.elapsed(),
        Duration::ZERO,
    )
}

fn finish(
    attempted: u64,
    accepted: Arc<Accepted>,
    shared: &Shared,
    elapsed: Duration,
    max_lag: Duration,
) -> PublishOut {
    PublishOut {
        attempted,
        accepted,
        errors: shared.errors.load(Ordering::Relaxed),
        // unwrap: the locks are never held across a panic.
        first_error: shared.first_error.lock().unwrap().clone(),
        elapsed,
        max_lag,
        request_latency: shared.latency.lock().unwrap().clone(),
    }
}
