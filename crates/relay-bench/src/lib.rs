//! `relay-bench`: a load generator for any server speaking the Pusher Channels protocol 7.
//!
//! It opens WebSocket connections from several `127.0.0.x` source addresses, subscribes them,
//! publishes through the signed HTTP API on a fixed schedule (each payload carries a sequence
//! number and its send time), and measures end-to-end latency (HDR histogram), delivered
//! messages per second, loss and duplicates per subscriber, connect-and-subscribe rate, and the
//! server's RSS and CPU time from `/proc/<pid>`. Each scenario returns one JSON object.
//!
//! Every loop is bounded in count and in time: a scenario always stops by itself.

pub mod api;
pub mod client;
pub mod floor;
pub mod procstat;
pub mod scenario;
pub mod stats;

use std::{net::IpAddr, sync::Arc};

pub use scenario::Ctx;

/// Where the server under test listens and how to authenticate against it.
#[derive(Clone, Debug)]
pub struct Target {
    /// WebSocket base URL, e.g. `ws://127.0.0.1:6001` (the tool appends `/app/{key}`).
    pub ws_url: String,
    /// HTTP base URL, e.g. `http://127.0.0.1:6001` (the tool appends `/apps/{id}/events`).
    pub http_url: String,
    /// Application id of the HTTP API.
    pub app_id: String,
    /// Application key.
    pub key: String,
    /// Application secret (signs API requests and private/presence subscriptions).
    pub secret: String,
    /// The server's process id, for RSS and CPU sampling from `/proc`.
    pub server_pid: Option<u32>,
    /// How many loopback source addresses to spread connections over (127.0.0.2 onwards).
    pub source_addrs: u8,
    /// Allow a server address that is not on the loopback range.
    pub allow_remote: bool,
    /// A free-form name of the server under test, copied into the report.
    pub label: String,
}

impl Target {
    /// A target with the given URLs and credentials, 8 source addresses, no pid.
    pub fn new(ws_url: &str, http_url: &str, app_id: &str, key: &str, secret: &str) -> Target {
        Target {
            ws_url: ws_url.trim_end_matches('/').to_owned(),
            http_url: http_url.trim_end_matches('/').to_owned(),
            app_id: app_id.to_owned(),
            key: key.to_owned(),
            secret: secret.to_owned(),
            server_pid: None,
            source_addrs: 8,
            allow_remote: false,
            label: String::new(),
        }
    }

    /// Resolves the target and builds the context every scenario runs in.
    pub async fn context(self) -> Result<Ctx, String> {
        Ctx::new(Arc::new(self)).await
    }
}

/// The loopback source addresses used for `n` of them: 127.0.0.2, 127.0.0.3, ...
pub fn loopback_sources(n: u8) -> Vec<IpAddr> {
    (0..n.max(1))
        .map(|i| IpAddr::from([127, 0, 0, 2u8.saturating_add(i)]))
        .collect()
}

/// Raises the soft open-files limit to the hard limit; returns the new soft limit.
pub fn raise_nofile_limit() -> Option<u64> {
    rlimit::increase_nofile_limit(u64::MAX).ok()
}
