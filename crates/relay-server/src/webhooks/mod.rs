//! Outgoing webhooks: Pusher-format app webhooks and subscriber webhooks, delivered from one
//! durable queue (PostgreSQL, or memory without a database), signed, retried, logged.

pub mod admin_api;
pub mod client;
pub mod dispatcher;
pub mod headers;
pub mod model;
pub mod pusher;
pub mod retry;
pub mod signing;
pub mod ssrf;

/// `s` as a JSON string literal.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    pusher_wire::push_json_string(&mut out, s);
    out
}
