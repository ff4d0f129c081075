//! Property tests: parse∘display round trips, encode∘decode of string literals, and decoders
//! that never panic on arbitrary input.

use proptest::prelude::*;
use pusher_wire::{
    auth::api_request::{self, QueryParams, SignedRequest},
    presence::{PresenceLimits, PresenceMember, UserData},
    AppPolicy, ChannelKind, ChannelName, ClientMessage, EventData, ServerMessage, SocketId,
};
use serde_json::{json, Value};

use crate::support::{app, connection, subscribe_frame, KEY, SECRET, SOCKET_ID};

/// The allowed channel-name alphabet (spec §3.1).
const NAME: &str = "[A-Za-z0-9_=@,.;-]{1,164}";

/// JSON-looking text: frames assembled from protocol fragments.
fn frame_like() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        "\"",
        "\\",
        "\\u",
        "d800",
        "\"event\"",
        "\"channel\"",
        "\"data\"",
        "\"auth\"",
        "\"channel_data\"",
        "\"user_data\"",
        "\"pusher:subscribe\"",
        "\"pusher:unsubscribe\"",
        "\"pusher:signin\"",
        "\"pusher:ping\"",
        "\"client-x\"",
        "\"private-a\"",
        "\"presence-a\"",
        "null",
        "true",
        "1",
        "-0.5e9",
        "\"\"",
        " ",
        "\"{}\"",
    ]);
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

/// A valid frame with some bytes replaced, inserted or cut.
fn mutated_frame() -> impl Strategy<Value = String> {
    let base = prop::sample::select(vec![
        r#"{"event":"pusher:subscribe","data":{"auth":"","channel":"my-channel"}}"#,
        r#"{"event":"pusher:subscribe","data":{"auth":"k:s","channel_data":"{\"user_id\":\"1\"}","channel":"presence-a"}}"#,
        r#"{"event":"pusher:subscribe","data":"{\"auth\":\"\",\"channel\":\"a\"}"}"#,
        r#"{"event":"pusher:unsubscribe","data":{"channel":"my-channel"}}"#,
        r#"{"event":"pusher:signin","data":{"auth":"k:s","user_data":"{\"id\":\"1\"}"}}"#,
        r#"{"event":"client-typing","channel":"private-a","data":{"any":"json"}}"#,
        r#"{"event":"pusher:ping","data":{}}"#,
    ]);
    (base, any::<usize>(), any::<char>(), 0usize..3).prop_map(|(base, at, ch, op)| {
        let mut chars: Vec<char> = base.chars().collect();
        let at = at % (chars.len() + 1);
        match op {
            0 => chars.insert(at, ch),
            1 if at < chars.len() => chars[at] = ch,
            _ => chars.truncate(at),
        }
        chars.into_iter().collect()
    })
}

/// An app that accepts everything, so all code paths are reachable.
fn open_app() -> AppPolicy<'static> {
    AppPolicy {
        max_frame_bytes: usize::MAX,
        ..app()
    }
}

fn drive(frames: &[String]) {
    let (mut conn, t0) = connection();
    for (i, frame) in frames.iter().enumerate() {
        let now = t0 + std::time::Duration::from_millis(i as u64 * 7);
        if let Err(err) = conn.handle_frame(now, frame, &open_app()) {
            // Every error renders to a valid pusher:error frame.
            let reply: Value = serde_json::from_str(&err.to_frame()).expect("error frame is JSON");
            assert_eq!(reply["event"], "pusher:error");
        }
        let _ = conn.handle_timeout(conn.poll_timeout());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    // ChannelName: parse∘display is the identity over the allowed alphabet.
    #[test]
    fn channel_name_round_trip(name in NAME) {
        let channel = ChannelName::parse(&name).expect("allowed alphabet");
        prop_assert_eq!(channel.to_string(), name.clone());
        prop_assert_eq!(channel.kind(), ChannelKind::of(&name));
        prop_assert_eq!(ChannelName::parse(channel.as_str()).unwrap(), channel);
    }

    #[test]
    fn server_to_user_round_trip(id in "[A-Za-z0-9_=@,.;-]{1,148}") {
        let channel = ChannelName::for_user(&id, 164).unwrap();
        prop_assert_eq!(channel.kind(), ChannelKind::ServerToUser);
        prop_assert_eq!(channel.server_to_user_id(), Some(id.as_str()));
        prop_assert_eq!(ChannelName::parse(channel.as_str()).unwrap(), channel);
    }

    // Any string: no panic, and acceptance means the documented rules hold.
    #[test]
    fn channel_name_arbitrary(name in any::<String>()) {
        if let Ok(channel) = ChannelName::parse(&name) {
            let rest = name.strip_prefix("#server-to-user-").unwrap_or(&name);
            prop_assert!(!rest.is_empty() && name.len() <= 164);
            prop_assert!(rest.chars().all(|c| c.is_ascii_alphanumeric() || "_-=@,.;".contains(c)));
            prop_assert_eq!(channel.as_str(), name.as_str());
        }
    }

    // SocketId: from_parts → display → parse, and parse → display for canonical digit strings.
    #[test]
    fn socket_id_round_trip(high in any::<u64>(), low in any::<u64>()) {
        let id = SocketId::from_parts(high, low);
        let text = id.to_string();
        prop_assert_eq!(SocketId::parse(&text).unwrap(), id);
        prop_assert_eq!(serde_json::to_value(id).unwrap(), Value::String(text));
    }

    #[test]
    fn socket_id_digits(s in "(0|[1-9][0-9]{0,18})\\.(0|[1-9][0-9]{0,18})") {
        prop_assert_eq!(SocketId::parse(&s).unwrap().to_string(), s);
    }

    #[test]
    fn socket_id_arbitrary(s in any::<String>()) {
        if let Ok(id) = SocketId::parse(&s) {
            let (a, b) = s.split_once('.').unwrap();
            prop_assert!(a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit()));
            prop_assert_eq!(id.parts(), (a.parse::<u64>().unwrap(), b.parse::<u64>().unwrap()));
        }
    }

    // The decoder never panics, whatever the text.
    #[test]
    fn decode_never_panics(text in any::<String>()) {
        let _ = ClientMessage::decode(&text, usize::MAX);
        let _ = ClientMessage::decode(&text, 16);
    }

    #[test]
    fn decode_frame_like_never_panics(text in frame_like()) {
        let _ = ClientMessage::decode(&text, usize::MAX);
    }

    #[test]
    fn decode_mutated_never_panics(text in mutated_frame()) {
        let _ = ClientMessage::decode(&text, usize::MAX);
    }

    // The connection never panics on arbitrary frames, in any order.
    #[test]
    fn handle_frame_never_panics(frames in prop::collection::vec(
        prop_oneof![any::<String>(), frame_like(), mutated_frame()], 1..8)
    ) {
        drive(&frames);
    }

    // Well-formed frames with arbitrary field values: decode gives back exactly what was sent,
    // whether `data` is an object or a JSON string.
    #[test]
    fn subscribe_fields_round_trip(
        channel in any::<String>(),
        auth in any::<String>(),
        channel_data in proptest::option::of(any::<String>()),
        as_string in any::<bool>(),
    ) {
        let mut data = json!({"channel": channel, "auth": auth});
        if let Some(cd) = &channel_data {
            data["channel_data"] = json!(cd);
        }
        let data = if as_string { Value::String(data.to_string()) } else { data };
        let frame = json!({"event": "pusher:subscribe", "data": data}).to_string();
        match ClientMessage::decode(&frame, usize::MAX) {
            Ok(ClientMessage::Subscribe { channel: c, auth: a, channel_data: d }) => {
                prop_assert_eq!(c, channel);
                prop_assert_eq!(a.as_deref(), Some(auth.as_str()));
                prop_assert_eq!(d.as_deref(), channel_data.as_deref());
            }
            other => prop_assert!(false, "{:?}", other),
        }
        drive(&[frame]);
    }

    #[test]
    fn client_event_round_trip(event in "client-.{0,40}", channel in any::<String>(), data in any::<String>()) {
        let frame = json!({"event": event, "channel": channel, "data": data}).to_string();
        match ClientMessage::decode(&frame, usize::MAX) {
            Ok(ClientMessage::ClientEvent { event: e, channel: c, data: d }) => {
                prop_assert_eq!(e, event);
                prop_assert_eq!(c, channel);
                prop_assert_eq!(serde_json::from_str::<String>(d.get()).unwrap(), data);
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    // encode∘decode of string literals: serde_json reads back every string the encoder wrote.
    #[test]
    fn event_text_round_trip(
        event in any::<String>(),
        channel in proptest::option::of(any::<String>()),
        text in any::<String>(),
        user_id in proptest::option::of(any::<String>()),
    ) {
        let frame = ServerMessage::Event {
            event: &event,
            channel: channel.as_deref(),
            data: EventData::Text(&text),
            user_id: user_id.as_deref(),
        }
        .encode();
        let value: Value = serde_json::from_str(&frame).expect("valid JSON");
        prop_assert_eq!(&value["event"], &json!(event));
        prop_assert_eq!(value.get("channel").and_then(Value::as_str), channel.as_deref());
        prop_assert_eq!(&value["data"], &json!(text));
        prop_assert_eq!(value.get("user_id").and_then(Value::as_str), user_id.as_deref());
        // The escaping is serde_json's own.
        let mut literal = String::new();
        pusher_wire::push_json_string(&mut literal, &text);
        prop_assert_eq!(literal, serde_json::to_string(&text).unwrap());
    }

    #[test]
    fn server_messages_are_valid_json(
        a in any::<String>(),
        b in any::<String>(),
        ids in prop::collection::vec(any::<String>(), 0..5),
        count in any::<usize>(),
    ) {
        let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let events = [
            pusher_wire::WatchlistEvent::Online(&id_refs),
            pusher_wire::WatchlistEvent::Offline(&id_refs),
        ];
        let roster = pusher_wire::presence::roster_json(id_refs.iter().map(|id| (*id, None)));
        let messages = [
            ServerMessage::Error { code: None, message: &a, channel: Some(&b) },
            ServerMessage::SubscriptionError { channel: &a, error: &b, status: 401 },
            ServerMessage::SubscriptionSucceeded { channel: &a, presence: Some(&roster) },
            ServerMessage::MemberAdded { channel: &a, user_id: &b, user_info: None },
            ServerMessage::MemberRemoved { channel: &a, user_id: &b },
            ServerMessage::SubscriptionCount { channel: &a, count },
            ServerMessage::CacheMiss { channel: &a },
            ServerMessage::SigninSuccess { user_data: &b },
            ServerMessage::Watchlist { events: &events },
        ];
        for message in messages {
            let frame = message.encode();
            let value: Value = serde_json::from_str(&frame)
                .map_err(|e| TestCaseError::fail(format!("{frame}: {e}")))?;
            // Double-encoded payloads are JSON inside.
            if let Some(data) = value.get("data").and_then(Value::as_str) {
                let inner: Value = serde_json::from_str(data)
                    .map_err(|e| TestCaseError::fail(format!("{frame}: {e}")))?;
                if let Some(id) = inner.get("user_id") {
                    prop_assert_eq!(id, &json!(b));
                }
            }
        }
        let presence: Value = serde_json::from_str(&roster).unwrap();
        prop_assert_eq!(&presence["presence"]["ids"], &json!(ids));
    }

    // Presence auth over arbitrary channel_data: sign then verify through the connection.
    #[test]
    fn presence_sign_verify(user_id in "[a-z0-9]{1,20}", info in any::<String>()) {
        let data = json!({"user_id": user_id, "user_info": {"name": info}}).to_string();
        let auth = pusher_wire::auth::channel::sign(KEY, SECRET, SOCKET_ID, "presence-a", Some(&data));
        let (mut conn, t0) = connection();
        let result = conn.handle_frame(t0, &subscribe_frame("presence-a", &auth, Some(&data)), &open_app());
        match PresenceMember::parse(&data, &PresenceLimits::default()) {
            Ok(member) => match result {
                Ok(pusher_wire::Action::Subscribe { member: Some(m), .. }) => prop_assert_eq!(m, member),
                other => prop_assert!(false, "{:?}", other),
            },
            Err(_) => prop_assert!(result.is_err()),
        }
    }

    #[test]
    fn user_data_never_panics(text in any::<String>()) {
        let _ = UserData::parse(&text, &PresenceLimits::default());
        let _ = PresenceMember::parse(&text, &PresenceLimits::default());
    }

    // API signing: sign → parse the query → verify, for arbitrary parameter values.
    #[test]
    fn api_sign_verify(
        params in prop::collection::btree_map("x_[a-z]{1,8}", any::<String>(), 0..4),
        body in any::<String>(),
        timestamp in 1_000u64..4_000_000_000,
    ) {
        let extra: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let query = api_request::sign("POST", "/apps/3/events", KEY, SECRET, timestamp, body.as_bytes(), &extra);
        let parsed = QueryParams::parse(&query).unwrap();
        for (k, v) in &params {
            prop_assert_eq!(parsed.get(k), Some(v.as_str()));
        }
        prop_assert_eq!(
            api_request::verify(&SignedRequest { method: "POST", path: "/apps/3/events", params: &parsed, body: body.as_bytes() }, KEY, SECRET, timestamp, 600),
            Ok(())
        );
    }

    #[test]
    fn query_parse_never_panics(query in any::<String>()) {
        if let Ok(params) = QueryParams::parse(&query) {
            let _ = params.canonical();
            let _ = api_request::verify(&SignedRequest { method: "GET", path: "/", params: &params, body: b"" }, KEY, SECRET, 0, 600);
        }
    }

    #[test]
    fn trigger_parse_never_panics(body in prop_oneof![any::<String>(), frame_like()]) {
        let limits = pusher_wire::api::ApiLimits::default();
        let _ = pusher_wire::api::Trigger::parse(&body, &limits);
        let _ = pusher_wire::api::Trigger::parse_batch(&body, &limits);
    }
}
