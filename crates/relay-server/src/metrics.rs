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
}

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
        out
    }
}
