//! Process metrics in the Prometheus text format (`GET /metrics`).

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    sync::atomic::{AtomicI64, AtomicU64, Ordering},
};

use parking_lot::Mutex;

/// Counters and gauges of one server process.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Open WebSocket connections.
    pub connections: AtomicI64,
    /// Connections accepted since start.
    pub connections_total: AtomicU64,
    /// Current channel subscriptions (socket × channel).
    pub subscriptions: AtomicI64,
    /// Frames received from clients.
    pub messages_in: AtomicU64,
    /// Frames queued to clients.
    pub messages_out: AtomicU64,
    /// Bytes queued to clients.
    pub bytes_out: AtomicU64,
    /// Connections closed because they could not keep up.
    pub slow_consumers: AtomicU64,
    api_requests: Mutex<BTreeMap<u16, u64>>,
    errors: Mutex<BTreeMap<String, u64>>,
    counters: Mutex<BTreeMap<(&'static str, String), u64>>,
}

/// The named counters, with their help text; [`Metrics::count`] takes one of these names.
/// Each is `(name, label name, help)`.
pub const COUNTERS: &[(&str, &str, &str)] = &[
    (
        "relay_ingest_requests_total",
        "status",
        "Ingestion requests (events and backup webhooks) by status.",
    ),
    (
        "relay_ingested_events_total",
        "vertical",
        "Events accepted by /api/events/create, by vertical.",
    ),
    (
        "relay_unknown_origins_total",
        "origin",
        "Ingested events whose origin is not a known one.",
    ),
    (
        "relay_backup_write_failures_total",
        "",
        "Backup record writes that failed (and were retried).",
    ),
    (
        "relay_backup_syncs_total",
        "outcome",
        "Backup list synchronizations by outcome.",
    ),
    (
        "relay_admin_requests_total",
        "status",
        "Admin API requests by status.",
    ),
    (
        "relay_source_requests_total",
        "outcome",
        "Requests to /hooks/{id} (plugin webhook sources) by outcome.",
    ),
    (
        "relay_source_bad_signatures_total",
        "kind",
        "Source requests with an invalid signature, by source kind (Fast Events: answered 200 and dropped).",
    ),
    (
        "relay_source_events_total",
        "outcome",
        "Source inbox rows finished by the processor: broadcast or dropped.",
    ),
    (
        "relay_webhook_attempts_total",
        "outcome",
        "Outgoing webhook attempts by outcome.",
    ),
    (
        "relay_webhook_enqueue_failures_total",
        "",
        "Webhook events the store refused (kept in memory and retried).",
    ),
    (
        "relay_webhook_events_dropped_total",
        "",
        "Pusher webhook events dropped because the batcher was behind.",
    ),
    (
        "relay_cluster_redis_errors_total",
        "",
        "Redis calls that failed or timed out (the node then serves local clients only).",
    ),
    (
        "relay_cluster_bus_dropped_total",
        "",
        "Broadcasts not relayed to other nodes because Redis was unavailable.",
    ),
    (
        "relay_cluster_nodes_swept_total",
        "",
        "Dead nodes whose clients this node removed.",
    ),
];

impl Metrics {
    /// Counts an HTTP API request by response status.
    pub fn api_request(&self, status: u16) {
        *self.api_requests.lock().entry(status).or_default() += 1;
    }

    /// Counts a protocol error sent to a client, by code (`null` for code-less errors).
    pub fn error(&self, code: Option<u16>) {
        let key = code.map_or_else(|| "null".to_owned(), |c| c.to_string());
        *self.errors.lock().entry(key).or_default() += 1;
    }

    /// Adds one to a named counter (one of [`COUNTERS`]) with a label value (`""` for none).
    pub fn count(&self, name: &'static str, label: &str) {
        debug_assert!(
            COUNTERS.iter().any(|(n, _, _)| *n == name),
            "unknown counter {name}"
        );
        *self
            .counters
            .lock()
            .entry((name, label.to_owned()))
            .or_default() += 1;
    }

    /// The value of a named counter with a label.
    pub fn counter(&self, name: &'static str, label: &str) -> u64 {
        self.counters
            .lock()
            .get(&(name, label.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Counts frames and bytes queued to clients.
    pub fn sent(&self, frames: u64, bytes: u64) {
        self.messages_out.fetch_add(frames, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Renders every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let gauge = |out: &mut String, name: &str, help: &str, value: i64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        };
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        gauge(
            &mut out,
            "relay_connections",
            "Open WebSocket connections.",
            self.connections.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "relay_connections_total",
            "WebSocket connections accepted.",
            self.connections_total.load(Ordering::Relaxed),
        );
        gauge(
            &mut out,
            "relay_subscriptions",
            "Channel subscriptions.",
            self.subscriptions.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "relay_messages_in_total",
            "Frames received from clients.",
            self.messages_in.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "relay_messages_out_total",
            "Frames queued to clients.",
            self.messages_out.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "relay_bytes_out_total",
            "Bytes queued to clients.",
            self.bytes_out.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "relay_slow_consumers_total",
            "Connections closed with 4100 because their queue was full.",
            self.slow_consumers.load(Ordering::Relaxed),
        );
        out.push_str("# HELP relay_api_requests_total HTTP API requests by status.\n# TYPE relay_api_requests_total counter\n");
        for (status, n) in self.api_requests.lock().iter() {
            let _ = writeln!(out, "relay_api_requests_total{{status=\"{status}\"}} {n}");
        }
        out.push_str("# HELP relay_errors_total Protocol errors sent to clients by code.\n# TYPE relay_errors_total counter\n");
        for (code, n) in self.errors.lock().iter() {
            let _ = writeln!(out, "relay_errors_total{{code=\"{code}\"}} {n}");
        }
        let counters = self.counters.lock();
        for (name, label_name, help) in COUNTERS {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for ((_, label), n) in counters
                .range((*name, String::new())..)
                .take_while(|((n, _), _)| n == name)
            {
                if label.is_empty() {
                    let _ = writeln!(out, "{name} {n}");
                } else {
                    let label = label.replace(['\\', '"', '\n'], "_");
                    let _ = writeln!(out, "{name}{{{label_name}=\"{label}\"}} {n}");
                }
            }
        }
        out
    }
}
