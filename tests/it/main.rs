//! Black-box suites against the real server binary: raw-frame protocol tests in Rust, and the
//! pusher-js / npm / PyPI SDK suites run through `node` and `python3`.

mod browser;
mod cluster;
mod http_api;
mod ingest;
mod lifecycle;
mod node;
mod python;
mod sources;
mod suite;
mod webhooks;
mod ws_protocol;

/// The server binary built by this crate.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_relay-server-e2e");
