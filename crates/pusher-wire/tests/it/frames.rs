//! Golden server frames: `ServerMessage::encode()` is compared byte for byte with
//! `tests/golden/frames/*.json`, and the double-encoding rule of spec §2.1 is checked on them.

use std::{collections::BTreeSet, fs, time::Duration};

use pusher_wire::{
    api::{ApiLimits, Trigger},
    connection::Action,
    presence::{roster_json, PresenceLimits, PresenceMember},
    AppPolicy, Connection, ErrorCode, EventData, ServerMessage, SocketId, WatchlistEvent,
};
use serde_json::{value::RawValue, Value};

use crate::support::{
    self, app, at_ms, client_event_frame, connection, golden, subscribe_frame, test_path,
};

/// Every golden frame, built through the public API.
fn encoded_frames() -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let mut push = |name: &'static str, frame: String| out.push((name, frame));

    push(
        "connection_established",
        ServerMessage::ConnectionEstablished {
            socket_id: SocketId::from_parts(123456789, 987654321),
            activity_timeout: 120,
        }
        .encode(),
    );
    push(
        "error_4201",
        ServerMessage::Error {
            code: Some(ErrorCode::PongNotReceived),
            message: "Pong reply not received",
            channel: None,
        }
        .encode(),
    );
    push(
        "error_4001_pre_handshake",
        ServerMessage::Error {
            code: Some(ErrorCode::AppNotFound),
            message: "App key xyz does not exist.",
            channel: None,
        }
        .encode(),
    );
    push(
        "error_null_code",
        ServerMessage::Error {
            code: None,
            message: "Existing subscription to channel presence-channel",
            channel: None,
        }
        .encode(),
    );
    push("error_channel", failed_subscription_frame());
    push("error_4301", rate_limited_frame());
    push(
        "error_4302",
        ServerMessage::Error {
            code: Some(ErrorCode::WatchlistLimitExceeded),
            message: ErrorCode::WatchlistLimitExceeded.description(),
            channel: None,
        }
        .encode(),
    );
    push("ping", ServerMessage::Ping.encode());
    push("pong", ServerMessage::Pong.encode());
    push(
        "subscription_succeeded",
        ServerMessage::SubscriptionSucceeded {
            channel: "my-channel",
            presence: None,
        }
        .encode(),
    );
    let me = RawValue::from_string(r#"{"name":"me"}"#.into()).unwrap();
    let roster = roster_json([("1", Some(&*me)), ("2", None)]);
    push(
        "subscription_succeeded_presence",
        ServerMessage::SubscriptionSucceeded {
            channel: "presence-room",
            presence: Some(&roster),
        }
        .encode(),
    );
    push(
        "subscription_error",
        ServerMessage::SubscriptionError {
            channel: "private-x",
            error: "The connection is unauthorized.",
            status: 401,
        }
        .encode(),
    );
    let member = PresenceMember::parse(
        r#"{"user_id":"42","user_info":{"name": "Mr. Channels"}}"#,
        &PresenceLimits::default(),
    )
    .unwrap();
    push(
        "member_added",
        ServerMessage::MemberAdded {
            channel: "presence-room",
            user_id: &member.user_id,
            user_info: member.user_info.as_deref(),
        }
        .encode(),
    );
    push(
        "member_added_no_info",
        ServerMessage::MemberAdded {
            channel: "presence-room",
            user_id: "42",
            user_info: None,
        }
        .encode(),
    );
    push(
        "member_removed",
        ServerMessage::MemberRemoved {
            channel: "presence-room",
            user_id: "42",
        }
        .encode(),
    );
    push(
        "subscription_count",
        ServerMessage::SubscriptionCount {
            channel: "my-channel",
            count: 12,
        }
        .encode(),
    );
    push(
        "cache_miss",
        ServerMessage::CacheMiss { channel: "cache-x" }.encode(),
    );
    push(
        "signin_success",
        ServerMessage::SigninSuccess {
            user_data: r#"{"id":"12345","user_info":{"name":"Alice"},"watchlist":["2","3"]}"#,
        }
        .encode(),
    );
    push(
        "watchlist_events",
        ServerMessage::Watchlist {
            events: &[
                WatchlistEvent::Online(&["2"]),
                WatchlistEvent::Offline(&["3"]),
            ],
        }
        .encode(),
    );
    // HTTP-published events go through `Trigger::parse` as the server will use it.
    push(
        "event_raw_string",
        published(r#"{"name":"my-event","data":"{\"message\":\"hello\"}","channels":["ch-1"]}"#),
    );
    push(
        "event_python_spacing",
        published(r#"{"name": "foo", "channels": ["project-3"], "data": "{\"some\": \"data\"}"}"#),
    );
    push(
        "event_object_stringified",
        published(
            r#"{"name":"my-event","channel":"ch-1","data":{"message": "hello", "n": [1, 2]}}"#,
        ),
    );
    push(
        "event_empty_string",
        published(r#"{"name":"my-event","channel":"ch-1","data":""}"#),
    );
    push(
        "event_not_json",
        published(r#"{"name":"my-event","channel":"ch-1","data":"hello"}"#),
    );
    push(
        "event_server_to_user",
        published(r##"{"name":"my-event","channel":"#server-to-user-12345","data":"{\"a\":1}"}"##),
    );
    push(
        "client_event_private",
        relayed_client_event("private-a", None, r#"{"any":"json"}"#),
    );
    push(
        "client_event_presence",
        relayed_client_event(
            "presence-room",
            Some(r#"{"user_id":"42"}"#),
            r#"{"typing":true}"#,
        ),
    );
    out
}

/// The frame fanned out for a `POST /events` body (single channel).
fn published(body: &str) -> String {
    let trigger = Trigger::parse(body, &ApiLimits::default()).expect("valid trigger");
    assert_eq!(trigger.channels.len(), 1);
    ServerMessage::Event {
        event: trigger.name.as_str(),
        channel: Some(trigger.channels[0].as_str()),
        data: trigger.data.event_data(),
        user_id: None,
    }
    .encode()
}

/// A client event as received by `Connection` and relayed by the server.
fn relayed_client_event(channel: &str, channel_data: Option<&str>, data: &str) -> String {
    let (mut conn, t0) = connection();
    let auth = pusher_wire::auth::channel::sign(
        support::KEY,
        support::SECRET,
        support::SOCKET_ID,
        channel,
        channel_data,
    );
    conn.handle_frame(t0, &subscribe_frame(channel, &auth, channel_data), &app())
        .expect("subscribed");
    let action = conn
        .handle_frame(
            t0,
            &client_event_frame("client-typing", channel, data),
            &app(),
        )
        .expect("relayed");
    let Action::ClientEvent {
        channel,
        event,
        data,
        user_id,
    } = action
    else {
        panic!("expected a client event, got {action:?}");
    };
    ServerMessage::Event {
        event: event.as_str(),
        channel: Some(channel.as_str()),
        data: EventData::Raw(&data),
        user_id: user_id.as_deref(),
    }
    .encode()
}

/// spec §5.3's example: a failed private subscription from socket `123.456` with `key:abc`.
fn failed_subscription_frame() -> String {
    let policy = AppPolicy {
        key: "key",
        ..app()
    };
    let mut conn = Connection::new(
        SocketId::from_parts(123, 456),
        support::timers(),
        std::time::Instant::now(),
    );
    let err = conn
        .handle_frame(
            std::time::Instant::now(),
            &subscribe_frame("private-x", "key:abc", None),
            &policy,
        )
        .expect_err("bad signature");
    err.to_frame()
}

/// The 11th client event within a second.
fn rate_limited_frame() -> String {
    let (mut conn, t0) = connection();
    let channel = "private-a";
    let auth = pusher_wire::auth::channel::sign(
        support::KEY,
        support::SECRET,
        support::SOCKET_ID,
        channel,
        None,
    );
    conn.handle_frame(t0, &subscribe_frame(channel, &auth, None), &app())
        .unwrap();
    let frame = client_event_frame("client-x", channel, "{}");
    for i in 0..10 {
        conn.handle_frame(at_ms(t0, i * 10), &frame, &app())
            .unwrap();
    }
    conn.handle_frame(at_ms(t0, 500), &frame, &app())
        .expect_err("rate limited")
        .to_frame()
}

#[test]
fn golden_frames_byte_for_byte() {
    for (name, frame) in encoded_frames() {
        assert_eq!(frame, golden(name), "golden frame {name}");
        // Every frame is one JSON object.
        let value: Value = serde_json::from_str(&frame).expect(name);
        assert!(value.is_object(), "{name}");
    }
}

#[test]
fn every_golden_file_is_checked() {
    let on_disk: BTreeSet<String> = fs::read_dir(test_path("golden/frames"))
        .unwrap()
        .map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".json")
                .expect("only .json files")
                .to_owned()
        })
        .collect();
    let checked: BTreeSet<String> = encoded_frames()
        .into_iter()
        .map(|(n, _)| n.to_owned())
        .collect();
    assert_eq!(on_disk, checked);
}

#[test]
fn encode_into_appends() {
    let mut out = String::from("prefix:");
    ServerMessage::Ping.encode_into(&mut out);
    assert_eq!(out, format!("prefix:{}", golden("ping")));
}

fn parse(name: &str) -> Value {
    serde_json::from_str(&golden(name)).unwrap()
}

/// `data` must be a JSON string whose content is JSON; returns the content.
fn double_encoded(name: &str) -> Value {
    let frame = parse(name);
    let data = frame["data"]
        .as_str()
        .unwrap_or_else(|| panic!("{name}: data must be a JSON string"));
    serde_json::from_str(data).unwrap_or_else(|e| panic!("{name}: data content: {e}"))
}

// spec §10.6: connection_established, subscription_succeeded, member_added and member_removed
// (and subscription_count) carry `data` as a JSON-encoded string.
#[test]
fn double_encoded_frames() {
    // spec §10.2 and §10.3: activity_timeout present and > 0; socket_id a digits.digits string.
    let established = double_encoded("connection_established");
    let socket_id = established["socket_id"].as_str().expect("string socket_id");
    assert!(SocketId::parse(socket_id).is_ok());
    assert!(socket_id
        .split('.')
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())));
    assert!(established["activity_timeout"].as_u64().expect("integer") > 0);

    assert_eq!(
        double_encoded("subscription_succeeded"),
        serde_json::json!({})
    );

    let presence = &double_encoded("subscription_succeeded_presence")["presence"];
    assert_eq!(presence["ids"], serde_json::json!(["1", "2"]));
    assert_eq!(presence["hash"]["1"], serde_json::json!({"name": "me"}));
    assert_eq!(presence["hash"]["2"], serde_json::json!({}));
    assert_eq!(presence["count"], 2);

    let added = double_encoded("member_added");
    assert_eq!(added["user_id"], "42");
    assert_eq!(added["user_info"]["name"], "Mr. Channels");
    assert_eq!(
        double_encoded("member_added_no_info")["user_info"],
        serde_json::json!({})
    );
    assert_eq!(
        double_encoded("member_removed"),
        serde_json::json!({"user_id": "42"})
    );
    assert_eq!(
        double_encoded("subscription_count"),
        serde_json::json!({"subscription_count": 12})
    );
    // member_added keeps user_info's bytes (python spacing) inside the string.
    assert!(golden("member_added").contains(r#"{\"name\": \"Mr. Channels\"}"#));
}

// spec §2.1 table: pusher:error, ping, pong, signin_success and watchlist_events use objects.
#[test]
fn object_data_frames() {
    for name in [
        "error_4201",
        "error_4001_pre_handshake",
        "error_null_code",
        "error_channel",
        "error_4301",
        "error_4302",
    ] {
        let frame = parse(name);
        assert_eq!(frame["event"], "pusher:error");
        let data = frame["data"].as_object().expect("object data");
        assert!(data["message"].is_string(), "{name}");
        match data["code"].as_u64() {
            Some(code) => assert!((4000..4400).contains(&code), "{name}"),
            None => assert!(data["code"].is_null(), "{name}"),
        }
    }
    // spec §10.1: a pre-handshake error carries a numeric 4000–4299 code, never null.
    let pre = parse("error_4001_pre_handshake");
    assert_eq!(pre["data"]["code"], 4001);
    // spec §5.3 / §10.7: a failed subscription names the channel and has code null.
    let failed = parse("error_channel");
    assert_eq!(failed["channel"], "private-x");
    assert!(failed["data"]["code"].is_null());
    for name in ["ping", "pong"] {
        assert_eq!(parse(name)["data"], serde_json::json!({}), "{name}");
    }
    // signin_success echoes the exact user_data string.
    let signin = parse("signin_success");
    assert_eq!(
        signin["data"]["user_data"],
        r#"{"id":"12345","user_info":{"name":"Alice"},"watchlist":["2","3"]}"#
    );
    // spec §10.27: watchlist frames are pusher_internal:watchlist_events with data.events[].
    let watchlist = parse("watchlist_events");
    assert_eq!(watchlist["event"], "pusher_internal:watchlist_events");
    assert_eq!(
        watchlist["data"]["events"],
        serde_json::json!([
            {"name": "online", "user_ids": ["2"]},
            {"name": "offline", "user_ids": ["3"]}
        ])
    );
    let error = parse("subscription_error");
    assert_eq!(
        error["data"],
        serde_json::json!({"type": "AuthError", "error": "The connection is unauthorized.", "status": 401})
    );
    // spec §10.32 (frame part; the ordering after subscription_succeeded is the server's):
    // pusher:cache_miss names the channel and has no data.
    assert!(parse("cache_miss").get("data").is_none());
}

// spec §10.16 and §2.1: published data reaches clients as the publisher's string, byte for byte;
// objects are stringified; empty and non-JSON strings stay strings.
#[test]
fn event_frames() {
    assert_eq!(
        double_encoded("event_raw_string"),
        serde_json::json!({"message": "hello"})
    );
    assert_eq!(parse("event_python_spacing")["data"], r#"{"some": "data"}"#);
    assert_eq!(
        parse("event_object_stringified")["data"],
        r#"{"message": "hello", "n": [1, 2]}"#
    );
    assert_eq!(parse("event_empty_string")["data"], "");
    // pusher-js keeps a data string that is not JSON as the raw string.
    let not_json = parse("event_not_json");
    assert_eq!(not_json["data"], "hello");
    assert!(serde_json::from_str::<Value>("hello").is_err());
    assert_eq!(
        parse("event_server_to_user")["channel"],
        "#server-to-user-12345"
    );
    // HTTP-published events never carry user_id.
    for name in [
        "event_raw_string",
        "event_object_stringified",
        "event_server_to_user",
    ] {
        assert!(parse(name).get("user_id").is_none(), "{name}");
    }
}

// spec §10.14: user_id on presence client events is top-level; absent on private ones. Client
// event data is relayed exactly as sent (an object here), not double encoded.
#[test]
fn client_event_frames() {
    let presence = parse("client_event_presence");
    assert_eq!(presence["user_id"], "42");
    assert_eq!(presence["data"], serde_json::json!({"typing": true}));
    assert!(presence["data"].get("user_id").is_none());
    let private = parse("client_event_private");
    assert!(private.get("user_id").is_none());
    assert_eq!(private["data"], serde_json::json!({"any": "json"}));
}

#[test]
fn frames_escape_strings() {
    // Names and messages with quotes, backslashes and control characters stay valid JSON.
    let message = "quote \" backslash \\ newline \n nul \u{0} emoji 😀";
    let frame = ServerMessage::Error {
        code: None,
        message,
        channel: Some("a\"b"),
    }
    .encode();
    let value: Value = serde_json::from_str(&frame).unwrap();
    assert_eq!(value["data"]["message"], message);
    assert_eq!(value["channel"], "a\"b");
    let frame = ServerMessage::MemberRemoved {
        channel: "presence-x",
        user_id: "a\"\\b",
    }
    .encode();
    let data: Value = serde_json::from_str(
        serde_json::from_str::<Value>(&frame).unwrap()["data"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(data["user_id"], "a\"\\b");
}

#[test]
fn established_frame_from_connection() {
    let (conn, _) = connection();
    assert_eq!(
        conn.established_frame(),
        r#"{"event":"pusher:connection_established","data":"{\"socket_id\":\"1234.1234\",\"activity_timeout\":120}"}"#
    );
    // spec §10.2: activity_timeout must be > 0, even for a sub-second configuration.
    let timers = pusher_wire::Timers {
        activity_timeout: Duration::from_millis(500),
        ..support::timers()
    };
    let (conn, _) = support::connection_with(timers);
    let data = serde_json::from_str::<Value>(&conn.established_frame()).unwrap()["data"]
        .as_str()
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .unwrap();
    assert!(data["activity_timeout"].as_u64().unwrap() > 0);
}
