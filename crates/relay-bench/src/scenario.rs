//! The scenarios. Each returns one JSON object with every figure it measured.

use std::{
    collections::BTreeMap,
    sync::{atomic::Ordering, Arc},
    time::Duration,
};

use serde_json::{json, Value};
use tokio::{sync::watch, time::Instant};

use crate::{
    api::{publish_flood, publish_schedule, Api, PublishOut},
    client::{collect, drain_unread, open_many, Counters, Endpoint, OpenSpec, ReaderOut, Sub},
    procstat::{cpu_between, server_json, Proc, ProcSample, RssWatch},
    stats::{histogram, latency_json, round3, Tracker},
    Target,
};

/// Everything a scenario needs: the target, its resolved endpoint, an API client and the
/// server process to sample.
#[derive(Debug)]
pub struct Ctx {
    /// The server under test.
    pub target: Arc<Target>,
    /// Its WebSocket endpoint.
    pub ep: Arc<Endpoint>,
    /// Its HTTP API.
    pub api: Arc<Api>,
    /// Its process, when `server_pid` was given.
    pub proc: Option<Proc>,
}

impl Ctx {
    /// Resolves `target` and opens an API client.
    pub async fn new(target: Arc<Target>) -> Result<Ctx, String> {
        let ep = Arc::new(Endpoint::resolve(&target).await?);
        let api = Arc::new(Api::new(&target, 256)?);
        let proc = target.server_pid.map(Proc::new);
        if let Some(p) = &proc {
            if p.sample().is_none() {
                return Err(format!("cannot read /proc/{}", p.pid()));
            }
        }
        Ok(Ctx {
            target,
            ep,
            api,
            proc,
        })
    }

    fn sample(&self) -> Option<ProcSample> {
        self.proc.as_ref().and_then(Proc::sample)
    }

    fn head(&self, scenario: &str) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        m.insert("scenario".into(), json!(scenario));
        m.insert("label".into(), json!(self.target.label));
        m
    }
}

/// Publishing to subscribers: `fanout` (one channel), `channels` (one subscriber each) and
/// `slow` (plus consumers that never read).
#[derive(Clone, Debug)]
pub struct Delivery {
    /// Subscribing connections.
    pub subscribers: usize,
    /// Channels; subscriber `i` joins channel `i % channels`, message `seq` goes to
    /// channel `seq % channels`.
    pub channels: usize,
    /// Messages per second.
    pub rate: f64,
    /// How long to publish.
    pub duration: Duration,
    /// Extra payload bytes per message.
    pub pad: usize,
    /// Extra subscribers (on channel 0) that never read.
    pub slow_consumers: usize,
    /// Handshakes in flight while connecting.
    pub connect_concurrency: usize,
    /// HTTP publish requests in flight.
    pub max_in_flight: usize,
    /// How long to wait for the last deliveries after publishing.
    pub drain: Duration,
    /// Channel name prefix.
    pub prefix: String,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            subscribers: 500,
            channels: 1,
            rate: 200.0,
            duration: Duration::from_secs(10),
            pad: 64,
            slow_consumers: 0,
            connect_concurrency: 200,
            max_in_flight: 64,
            drain: Duration::from_secs(5),
            prefix: "bench".into(),
        }
    }
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

fn errors_json(errors: &[String]) -> Value {
    json!(errors)
}

/// Publishes at a fixed rate to subscribers and measures delivery.
pub async fn delivery(ctx: &Ctx, p: &Delivery, scenario: &str) -> Result<Value, String> {
    let total = (p.rate * p.duration.as_secs_f64()).round().max(1.0) as u64;
    let channels = p.channels.max(1);
    let counters = Arc::new(Counters::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let prefix = p.prefix.clone();
    let sub_of = |i: usize| Sub::Public(format!("{prefix}-{}", i % channels));
    let tracker_of = |i: usize| Some(Tracker::new(channels as u64, (i % channels) as u64, total));
    let s0 = ctx.sample();
    let spec = OpenSpec {
        count: p.subscribers,
        concurrency: p.connect_concurrency,
        timeout: CONNECT_TIMEOUT,
        first: 0,
        read: true,
    };
    let opened = open_many(
        ctx.ep.clone(),
        ctx.target.clone(),
        &spec,
        &sub_of,
        &tracker_of,
        counters.clone(),
        &stop_rx,
    )
    .await;
    let slow_spec = OpenSpec {
        count: p.slow_consumers,
        first: p.subscribers,
        read: false,
        ..spec
    };
    let slow_sub = |_| Sub::Public(format!("{prefix}-0"));
    let mut slow = open_many(
        ctx.ep.clone(),
        ctx.target.clone(),
        &slow_spec,
        &slow_sub,
        &|_| None,
        counters.clone(),
        &stop_rx,
    )
    .await;
    if opened.readers.is_empty() {
        return Err(format!(
            "no subscriber connected: {}",
            opened.errors.join("; ")
        ));
    }
    let s1 = ctx.sample();
    let watch = RssWatch::start(
        ctx.proc.as_ref(),
        p.duration * 2 + p.drain + Duration::from_secs(30),
    );
    let prefix2 = prefix.clone();
    let channel_of = Arc::new(move |seq: u64| format!("{prefix2}-{}", seq % channels as u64));
    let started = Instant::now();
    let out = publish_schedule(
        ctx.api.clone(),
        p.rate,
        total,
        p.max_in_flight,
        p.pad,
        channel_of,
        p.duration * 2 + Duration::from_secs(10),
    )
    .await;
    let mut per_channel = vec![0u64; channels];
    for seq in 0..total {
        if out.accepted.get(seq) {
            per_channel[(seq % channels as u64) as usize] += 1;
        }
    }
    let expected: u64 = opened
        .readers
        .iter()
        .map(|(i, _)| per_channel[i % channels])
        .sum();
    let drain_deadline = Instant::now() + p.drain;
    while counters.delivered.load(Ordering::Relaxed) < expected
        && Instant::now() < drain_deadline
        && (counters.dropped.load(Ordering::Relaxed) as usize) < opened.readers.len()
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let window = started.elapsed();
    let s2 = ctx.sample();
    let rss_max = watch.finish().await;
    let mut slow_json = Vec::new();
    for (_, ws) in &mut slow.idle {
        let (frames, close) = drain_unread(ws, Duration::from_secs(2)).await;
        slow_json.push(json!({ "frames_read_after": frames, "close_code": close }));
    }
    drop(slow);
    let connected = opened.readers.len();
    let outs = collect(&stop_tx, opened.readers, Duration::from_secs(10)).await;
    let merged = merge(&outs, &out);
    let delivered = merged.delivered;
    let cpu = cpu_between(ctx.proc.as_ref(), s1, s2);
    let mut m = ctx.head(scenario);
    let publish_rate = out.attempted as f64 / out.elapsed.as_secs_f64().max(1e-6);
    m.extend(
        json!({
            "subscribers": p.subscribers,
            "channels": channels,
            "rate": p.rate,
            "duration_s": p.duration.as_secs_f64(),
            "pad_bytes": p.pad,
            "connected": connected,
            "connect_failed": opened.failed,
            "connect_errors": errors_json(&opened.errors),
            "connect_s": round3(opened.elapsed.as_secs_f64()),
            "published": out.attempted,
            "accepted": out.accepted.count(),
            "publish_errors": out.errors,
            "publish_first_error": out.first_error,
            "publish_rate": round3(publish_rate),
            "publish_max_lag_ms": round3(out.max_lag.as_secs_f64() * 1000.0),
            "publish_request": latency_json(&out.request_latency),
            "expected": expected,
            "delivered": delivered,
            "lost": merged.lost,
            "duplicates": merged.duplicates,
            "unexpected": merged.unexpected,
            "delivered_per_s": round3(delivered as f64 / window.as_secs_f64().max(1e-6)),
            "window_s": round3(window.as_secs_f64()),
            "disconnected": counters.dropped.load(Ordering::Relaxed),
            "close_codes": merged.close_codes,
            "latency": latency_json(&merged.latency),
            "server": server_json(ctx.proc.as_ref(), s1, s2),
            "server_rss_before_connect_kb": s0.map(|s| s.rss_kb),
            "server_rss_max_kb": ctx.proc.as_ref().map(|_| rss_max),
            "server_rss_growth_kb": s1.map(|s| rss_max.saturating_sub(s.rss_kb)),
            "cpu_us_per_delivered": cpu.filter(|_| delivered > 0)
                .map(|c| round3(c * 1e6 / delivered as f64)),
            "slow_consumers": slow_json,
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
    );
    Ok(Value::Object(m))
}

struct Merged {
    delivered: u64,
    lost: u64,
    duplicates: u64,
    unexpected: u64,
    latency: hdrhistogram::Histogram<u64>,
    close_codes: BTreeMap<String, u64>,
}

fn merge(outs: &[(usize, ReaderOut)], published: &PublishOut) -> Merged {
    let mut m = Merged {
        delivered: 0,
        lost: 0,
        duplicates: 0,
        unexpected: 0,
        latency: histogram(),
        close_codes: BTreeMap::new(),
    };
    for (_, out) in outs {
        if let Some(code) = out.close_code {
            *m.close_codes.entry(code.to_string()).or_default() += 1;
        } else if out.error.is_some() {
            *m.close_codes.entry("error".into()).or_default() += 1;
        }
        let Some(t) = &out.tracker else { continue };
        let mut got = 0;
        for seq in t.expected_seqs() {
            if published.accepted.get(seq) {
                if t.has(seq) {
                    got += 1;
                } else {
                    m.lost += 1;
                }
            }
        }
        m.delivered += t.unique;
        m.duplicates += t.duplicates;
        // Received but not acknowledged by the API (a timed-out request), or foreign.
        m.unexpected += t.unexpected + (t.unique - got);
        // unwrap: both histograms have the same bounds.
        m.latency.add(&t.latency).unwrap();
    }
    m
}

/// Searches the highest publish rate whose fan-out keeps p99 within a limit with nothing lost.
#[derive(Clone, Debug)]
pub struct FanoutMax {
    /// Subscribers, duration and the rest of each step (its `rate` is ignored).
    pub base: Delivery,
    /// First rate tried.
    pub start_rate: f64,
    /// Never try above this rate.
    pub max_rate: f64,
    /// At most this many steps.
    pub max_steps: usize,
    /// The latency limit.
    pub p99_limit_ms: f64,
    /// Try a failing rate once more before it counts as failed.
    pub retry_failures: bool,
}

/// Whether a delivery run met the fan-out criteria.
pub fn delivery_ok(v: &Value, p99_limit_ms: f64) -> bool {
    let rate = v["rate"].as_f64().unwrap_or(0.0);
    v["lost"] == 0
        && v["duplicates"] == 0
        && v["connect_failed"] == 0
        && v["publish_errors"] == 0
        && v["disconnected"] == 0
        && v["publish_rate"].as_f64().unwrap_or(0.0) >= rate * 0.95
        && v["latency"]["p99_ms"]
            .as_f64()
            .is_some_and(|p| p <= p99_limit_ms)
}

/// Doubles the rate until a step fails, then bisects (to 10 %) within `max_steps` steps
/// (retries included).
pub async fn fanout_max(ctx: &Ctx, p: &FanoutMax) -> Result<Value, String> {
    let mut good: Option<(f64, Value)> = None;
    let mut bad: Option<f64> = None;
    let mut rate = p.start_rate.min(p.max_rate);
    let mut steps = Vec::new();
    let mut retried = false;
    for step in 0..p.max_steps {
        let mut d = p.base.clone();
        d.rate = rate;
        d.prefix = format!("{}-max{step}", p.base.prefix);
        let v = delivery(ctx, &d, "fanout").await?;
        let ok = delivery_ok(&v, p.p99_limit_ms);
        eprintln!(
            "  step {step}: rate {rate:.0}/s -> {} (p99 {} ms, lost {}, delivered {}/s)",
            if ok { "ok" } else { "FAIL" },
            v["latency"]["p99_ms"],
            v["lost"],
            v["delivered_per_s"]
        );
        steps.push(json!({
            "rate": rate, "ok": ok, "p99_ms": v["latency"]["p99_ms"], "lost": v["lost"],
            "delivered_per_s": v["delivered_per_s"], "cpu_us_per_delivered": v["cpu_us_per_delivered"],
            "publish_rate": v["publish_rate"],
        }));
        // On a shared machine one noisy step can fail a rate that holds: a failing rate is
        // tried a second time before it counts (once per rate).
        if !ok && p.retry_failures && !retried && step + 1 < p.max_steps {
            retried = true;
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        retried = false;
        if ok {
            good = Some((rate, v));
        } else {
            bad = Some(rate);
        }
        let next = match (good.as_ref().map(|g| g.0), bad) {
            (Some(g), None) if g >= p.max_rate => break,
            (Some(g), None) => (g * 2.0).min(p.max_rate),
            (Some(g), Some(b)) if (b - g) <= g * 0.1 => break,
            (Some(g), Some(b)) => (g + b) / 2.0,
            (None, Some(b)) if b <= 1.0 => break,
            (None, Some(b)) => b / 2.0,
            (None, None) => break,
        };
        rate = next.round().max(1.0);
        // Let the server close the previous step's sockets.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mut m = ctx.head("fanout-max");
    let best = good.as_ref();
    m.extend(
        json!({
            "subscribers": p.base.subscribers,
            "step_duration_s": p.base.duration.as_secs_f64(),
            "p99_limit_ms": p.p99_limit_ms,
            "best_rate": best.map(|g| g.0),
            "best_delivered_per_s": best.map(|g| g.1["delivered_per_s"].clone()),
            "best_p99_ms": best.map(|g| g.1["latency"]["p99_ms"].clone()),
            "best_cpu_us_per_delivered": best.map(|g| g.1["cpu_us_per_delivered"].clone()),
            "first_failing_rate": bad,
            "steps": steps,
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
    );
    Ok(Value::Object(m))
}

/// Opening many connections: `storm`, `idle` and `presence`.
#[derive(Clone, Debug)]
pub struct Conns {
    /// How many connections.
    pub count: usize,
    /// Public channels to spread them over (connection `i` joins `i % channels`); 0 for none.
    pub channels: usize,
    /// Presence: members per presence channel (connection `i` joins `i / members`); 0 for
    /// public channels.
    pub presence_members: usize,
    /// Handshakes in flight.
    pub concurrency: usize,
    /// Wait this long after connecting before the last reading (idle memory, presence drain).
    pub settle: Duration,
    /// Channel name prefix.
    pub prefix: String,
}

impl Default for Conns {
    fn default() -> Self {
        Conns {
            count: 5000,
            channels: 5000,
            presence_members: 0,
            concurrency: 200,
            settle: Duration::ZERO,
            prefix: "conn".into(),
        }
    }
}

/// Opens `count` connections as fast as `concurrency` allows and measures rate, CPU and memory.
pub async fn connections(ctx: &Ctx, p: &Conns, scenario: &str) -> Result<Value, String> {
    let counters = Arc::new(Counters::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let prefix = p.prefix.clone();
    let members = p.presence_members;
    let channels = p.channels;
    let sub_of = |i: usize| {
        if let Some(c) = i.checked_div(members) {
            Sub::Presence {
                channel: format!("presence-{prefix}-{c}"),
                user_id: format!("u{i}"),
            }
        } else if channels > 0 {
            Sub::Public(format!("{prefix}-{}", i % channels))
        } else {
            Sub::None
        }
    };
    let s0 = ctx.sample();
    let opened = open_many(
        ctx.ep.clone(),
        ctx.target.clone(),
        &OpenSpec {
            count: p.count,
            concurrency: p.concurrency,
            timeout: CONNECT_TIMEOUT,
            first: 0,
            read: true,
        },
        &sub_of,
        &|_| None,
        counters.clone(),
        &stop_rx,
    )
    .await;
    let s1 = ctx.sample();
    let ok = opened.readers.len();
    // Presence: every member hears of every later member of its channel.
    let mut per_channel: BTreeMap<usize, u64> = BTreeMap::new();
    for (i, _) in &opened.readers {
        if let Some(c) = i.checked_div(members) {
            *per_channel.entry(c).or_default() += 1;
        }
    }
    let adds_expected: u64 = per_channel.values().map(|m| m * (m - 1) / 2).sum();
    let settle_deadline = Instant::now() + p.settle;
    let wait_start = Instant::now();
    while Instant::now() < settle_deadline {
        if members > 0 && counters.member_added.load(Ordering::Relaxed) >= adds_expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let settled_after = wait_start.elapsed();
    let s2 = ctx.sample();
    let outs = collect(&stop_tx, opened.readers, Duration::from_secs(10)).await;
    let dropped = counters.dropped.load(Ordering::Relaxed);
    let mut close_codes: BTreeMap<String, u64> = BTreeMap::new();
    for (_, o) in &outs {
        if let Some(c) = o.close_code {
            *close_codes.entry(c.to_string()).or_default() += 1;
        }
    }
    let secs = opened.elapsed.as_secs_f64().max(1e-6);
    let cpu_open = cpu_between(ctx.proc.as_ref(), s0, s1);
    let cpu_all = cpu_between(ctx.proc.as_ref(), s0, s2);
    let per = |c: Option<f64>| c.filter(|_| ok > 0).map(|c| round3(c * 1e6 / ok as f64));
    let rss_per_conn = match (s0, s2) {
        (Some(a), Some(b)) if ok > 0 => {
            Some(((b.rss_kb as f64 - a.rss_kb as f64) * 1024.0 / ok as f64).round())
        }
        _ => None,
    };
    let mut m = ctx.head(scenario);
    m.extend(
        json!({
            "connections": p.count,
            "channels": if members > 0 { per_channel.len() } else { channels },
            "presence_members_per_channel": members,
            "concurrency": p.concurrency,
            "opened": ok,
            "failed": opened.failed,
            "errors": errors_json(&opened.errors),
            "open_s": round3(secs),
            "per_s": round3(ok as f64 / secs),
            "settle_s": round3(settled_after.as_secs_f64()),
            "disconnected": dropped,
            "close_codes": close_codes,
            "member_added_expected": adds_expected,
            "member_added_received": counters.member_added.load(Ordering::Relaxed),
            "server": server_json(ctx.proc.as_ref(), s0, s2),
            "cpu_us_per_connect": per(cpu_open),
            "cpu_us_per_connect_incl_settle": per(cpu_all),
            "rss_per_conn_bytes": rss_per_conn,
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
    );
    Ok(Value::Object(m))
}

/// HTTP publish throughput with keep-alive.
#[derive(Clone, Debug)]
pub struct Publish {
    /// Concurrent request loops (each keeps its connection alive).
    pub requesters: usize,
    /// How long.
    pub duration: Duration,
    /// At most this many requests.
    pub max: u64,
    /// Subscribers of the channel published to.
    pub subscribers: usize,
    /// Extra payload bytes.
    pub pad: usize,
}

impl Default for Publish {
    fn default() -> Self {
        Publish {
            requesters: 16,
            duration: Duration::from_secs(10),
            max: 2_000_000,
            subscribers: 1,
            pad: 64,
        }
    }
}

/// Publishes as fast as the requesters can and measures requests per second.
pub async fn publish(ctx: &Ctx, p: &Publish) -> Result<Value, String> {
    let counters = Arc::new(Counters::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let total = p.max;
    let opened = open_many(
        ctx.ep.clone(),
        ctx.target.clone(),
        &OpenSpec {
            count: p.subscribers,
            concurrency: 100,
            timeout: CONNECT_TIMEOUT,
            first: 0,
            read: true,
        },
        &|_| Sub::Public("publish".into()),
        &|_| Some(Tracker::new(1, 0, total)),
        counters.clone(),
        &stop_rx,
    )
    .await;
    let s1 = ctx.sample();
    let out = publish_flood(
        ctx.api.clone(),
        p.requesters,
        p.duration,
        p.max,
        p.pad,
        "publish",
    )
    .await;
    let s2 = ctx.sample();
    let accepted = out.accepted.count();
    let expected = accepted * opened.readers.len() as u64;
    let deadline = Instant::now() + Duration::from_secs(5);
    while counters.delivered.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let outs = collect(&stop_tx, opened.readers, Duration::from_secs(10)).await;
    let merged = merge(&outs, &out);
    let cpu = cpu_between(ctx.proc.as_ref(), s1, s2);
    let secs = out.elapsed.as_secs_f64().max(1e-6);
    let mut m = ctx.head("publish");
    m.extend(
        json!({
            "requesters": p.requesters,
            "duration_s": p.duration.as_secs_f64(),
            "subscribers": p.subscribers,
            "pad_bytes": p.pad,
            "requests": out.attempted,
            "accepted": accepted,
            "errors": out.errors,
            "first_error": out.first_error,
            "requests_per_s": round3(accepted as f64 / secs),
            "request_latency": latency_json(&out.request_latency),
            "expected": expected,
            "delivered": merged.delivered,
            "lost": merged.lost,
            "duplicates": merged.duplicates,
            "latency": latency_json(&merged.latency),
            "server": server_json(ctx.proc.as_ref(), s1, s2),
            "cpu_us_per_request": cpu.filter(|_| accepted > 0)
                .map(|c| round3(c * 1e6 / accepted as f64)),
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
    );
    Ok(Value::Object(m))
}
