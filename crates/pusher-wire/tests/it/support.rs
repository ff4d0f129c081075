//! Shared helpers: the §11 credentials, data files, a default app policy and fake time.

use std::{
    fs,
    path::PathBuf,
    time::{Duration, Instant},
};

use pusher_wire::{presence::PresenceLimits, AppPolicy, Connection, SocketId, Timers};
use serde::de::DeserializeOwned;
use serde_json::json;

/// The app of the official docs' worked example (spec §11).
pub(crate) const APP_ID: &str = "3";
pub(crate) const KEY: &str = "278d425bdf160c739803";
pub(crate) const SECRET: &str = "7ad3773142a6692b25b8";
pub(crate) const SOCKET_ID: &str = "1234.1234";

/// A path under `crates/pusher-wire/tests/`.
pub(crate) fn test_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(rel)
}

/// A vector file from `tests/vectors/`, decoded.
pub(crate) fn vectors<T: DeserializeOwned>(name: &str) -> T {
    let path = test_path(&format!("vectors/{name}"));
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A golden frame from `tests/golden/frames/{name}.json`, without a trailing newline.
pub(crate) fn golden(name: &str) -> String {
    let path = test_path(&format!("golden/frames/{name}.json"));
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.strip_suffix('\n').unwrap_or(&text).to_owned()
}

/// Pusher's defaults, with client events and sign-in switched on.
pub(crate) fn app() -> AppPolicy<'static> {
    AppPolicy {
        key: KEY,
        secret: SECRET,
        client_events: true,
        user_authentication: true,
        client_events_per_second: 10,
        max_event_bytes: 10 * 1024,
        max_channel_name_len: 164,
        max_frame_bytes: 64 * 1024,
        presence: PresenceLimits::default(),
    }
}

/// 120 s activity timeout, 10 s grace, 30 s pong wait, no sign-in deadline.
pub(crate) fn timers() -> Timers {
    Timers {
        activity_timeout: Duration::from_secs(120),
        ping_grace: Duration::from_secs(10),
        pong_timeout: Duration::from_secs(30),
        user_authentication_timeout: None,
    }
}

/// A connection with socket id `1234.1234` opened at the returned base instant.
pub(crate) fn connection_with(timers: Timers) -> (Connection, Instant) {
    let t0 = Instant::now();
    let socket_id = SocketId::parse(SOCKET_ID).expect("valid socket id");
    (Connection::new(socket_id, timers, t0), t0)
}

/// [`connection_with`] the default [`timers`].
pub(crate) fn connection() -> (Connection, Instant) {
    connection_with(timers())
}

/// `t0 + secs` seconds.
pub(crate) fn at(t0: Instant, secs: u64) -> Instant {
    t0 + Duration::from_secs(secs)
}

/// `t0 + ms` milliseconds.
pub(crate) fn at_ms(t0: Instant, ms: u64) -> Instant {
    t0 + Duration::from_millis(ms)
}

/// A `pusher:subscribe` frame as pusher-js builds it.
pub(crate) fn subscribe_frame(channel: &str, auth: &str, channel_data: Option<&str>) -> String {
    match channel_data {
        Some(data) => json!({"event": "pusher:subscribe",
            "data": {"auth": auth, "channel_data": data, "channel": channel}}),
        None => json!({"event": "pusher:subscribe", "data": {"auth": auth, "channel": channel}}),
    }
    .to_string()
}

/// A `pusher:signin` frame.
pub(crate) fn signin_frame(auth: &str, user_data: &str) -> String {
    json!({"event": "pusher:signin", "data": {"auth": auth, "user_data": user_data}}).to_string()
}

/// A `client-*` event frame with `data` given as raw JSON text.
pub(crate) fn client_event_frame(event: &str, channel: &str, data_json: &str) -> String {
    format!(
        r#"{{"event":{},"channel":{},"data":{data_json}}}"#,
        json!(event),
        json!(channel)
    )
}
