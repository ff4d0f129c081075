//! Client frame decoding (spec §2.1): every shape pusher-js sends, the lenient forms, and
//! malformed input, which must give typed errors (never a panic, never a close).

use std::borrow::Cow;

use pusher_wire::{
    connection::ProtocolError, event_name::EventNameError, ChannelNameError, ClientMessage,
    DecodeError,
};

use crate::support::{app, client_event_frame, connection, subscribe_frame};

const LIMIT: usize = 64 * 1024;

fn decode(text: &str) -> Result<ClientMessage<'_>, DecodeError> {
    ClientMessage::decode(text, LIMIT)
}

fn borrowed(c: Cow<'_, str>) -> bool {
    matches!(c, Cow::Borrowed(_))
}

// The frames pusher-js 8 sends, verbatim from spec §2.1.
#[test]
fn pusher_js_frames() {
    let m = decode(r#"{"event":"pusher:subscribe","data":{"auth":"","channel":"my-channel"}}"#);
    let Ok(ClientMessage::Subscribe {
        channel,
        auth,
        channel_data,
    }) = m
    else {
        panic!("{m:?}")
    };
    assert_eq!(channel, "my-channel");
    assert!(borrowed(channel.clone()), "decoding borrows from the frame");
    assert_eq!(auth.as_deref(), Some(""));
    assert!(channel_data.is_none());

    let m =
        decode(r#"{"event":"pusher:subscribe","data":{"auth":"key:sig","channel":"private-a"}}"#);
    let Ok(ClientMessage::Subscribe { channel, auth, .. }) = m else {
        panic!("{m:?}")
    };
    assert_eq!((&*channel, auth.as_deref()), ("private-a", Some("key:sig")));

    let m = decode(
        r#"{"event":"pusher:subscribe","data":{"auth":"key:sig","channel_data":"{\"user_id\":\"1\",\"user_info\":{\"name\":\"me\"}}","channel":"presence-room"}}"#,
    );
    let Ok(ClientMessage::Subscribe {
        channel,
        channel_data,
        ..
    }) = m
    else {
        panic!("{m:?}")
    };
    assert_eq!(channel, "presence-room");
    // The exact string the app server signed, unescaped once.
    assert_eq!(
        channel_data.as_deref(),
        Some(r#"{"user_id":"1","user_info":{"name":"me"}}"#)
    );

    let m = decode(r#"{"event":"pusher:unsubscribe","data":{"channel":"my-channel"}}"#);
    assert!(matches!(m, Ok(ClientMessage::Unsubscribe { ref channel }) if channel == "my-channel"));
    assert!(matches!(
        decode(r#"{"event":"pusher:ping","data":{}}"#),
        Ok(ClientMessage::Ping)
    ));
    assert!(matches!(
        decode(r#"{"event":"pusher:pong","data":{}}"#),
        Ok(ClientMessage::Pong)
    ));

    let m = decode(
        r#"{"event":"pusher:signin","data":{"auth":"key:sig","user_data":"{\"id\":\"12345\"}"}}"#,
    );
    let Ok(ClientMessage::Signin { auth, user_data }) = m else {
        panic!("{m:?}")
    };
    assert_eq!((&*auth, &*user_data), ("key:sig", r#"{"id":"12345"}"#));

    let m = decode(r#"{"event":"client-typing","channel":"private-a","data":{"any":"json"}}"#);
    let Ok(ClientMessage::ClientEvent {
        event,
        channel,
        data,
    }) = m
    else {
        panic!("{m:?}")
    };
    assert_eq!((&*event, &*channel), ("client-typing", "private-a"));
    assert_eq!(data.get(), r#"{"any":"json"}"#);
}

// spec §2.1: the server SHOULD also accept `data` given as a JSON string (Reverb leniency).
#[test]
fn data_as_json_string() {
    let m = decode(
        r#"{"event":"pusher:subscribe","data":"{\"auth\":\"\",\"channel\":\"my-channel\"}"}"#,
    );
    assert!(
        matches!(m, Ok(ClientMessage::Subscribe { ref channel, ref auth, .. })
        if channel == "my-channel" && auth.as_deref() == Some(""))
    );
    let m = decode(
        r#"{"event":"pusher:subscribe","data":"{\"auth\":\"k:s\",\"channel_data\":\"{\\\"user_id\\\":\\\"1\\\"}\",\"channel\":\"presence-a\"}"}"#,
    );
    let Ok(ClientMessage::Subscribe { channel_data, .. }) = m else {
        panic!("{m:?}")
    };
    assert_eq!(channel_data.as_deref(), Some(r#"{"user_id":"1"}"#));
    let m = decode(r#"{"event":"pusher:unsubscribe","data":"{\"channel\":\"a\"}"}"#);
    assert!(matches!(m, Ok(ClientMessage::Unsubscribe { ref channel }) if channel == "a"));
    let m = decode(r#"{"event":"pusher:signin","data":"{\"auth\":\"k:s\",\"user_data\":\"{}\"}"}"#);
    assert!(matches!(m, Ok(ClientMessage::Signin { ref user_data, .. }) if user_data == "{}"));
    // Ping with a string or no data at all.
    assert!(matches!(
        decode(r#"{"event":"pusher:ping","data":"{}"}"#),
        Ok(ClientMessage::Ping)
    ));
    assert!(matches!(
        decode(r#"{"event":"pusher:ping"}"#),
        Ok(ClientMessage::Ping)
    ));
}

#[test]
fn lenient_envelope() {
    // Unknown fields are ignored, field order does not matter, whitespace is fine.
    let m = decode(
        " { \"data\" : { \"channel\" : \"a\" , \"x\" : [1] } , \"extra\" : true , \"event\" : \"pusher:unsubscribe\" } ",
    );
    assert!(matches!(m, Ok(ClientMessage::Unsubscribe { ref channel }) if channel == "a"));
    // Escaped names decode (owned).
    let m = decode(r#"{"event":"pusher:\u0070ing"}"#);
    assert!(matches!(m, Ok(ClientMessage::Ping)));
    let m = decode(r#"{"event":"pusher:subscribe","data":{"channel":"privat\u0065-a"}}"#);
    assert!(
        matches!(m, Ok(ClientMessage::Subscribe { ref channel, ref auth, .. }) if channel == "private-a" && auth.is_none())
    );
    // Client event data is kept raw: spacing, strings, absent data.
    let m = decode(r#"{"event":"client-x","channel":"private-a","data": {"a": 1,  "b":[ ]} }"#);
    assert!(
        matches!(m, Ok(ClientMessage::ClientEvent { data, .. }) if data.get() == r#"{"a": 1,  "b":[ ]}"#)
    );
    let m = decode(r#"{"event":"client-x","channel":"private-a","data":"text"}"#);
    assert!(matches!(m, Ok(ClientMessage::ClientEvent { data, .. }) if data.get() == r#""text""#));
    // Escapes in client payloads are not interpreted, so even a lone surrogate is relayed as
    // sent (spec §6 rule 9: relay `data` unchanged; pusher-js's JSON.parse accepts it).
    let m = decode(r#"{"event":"client-x","channel":"private-a","data":{"k":"\ud800"}}"#);
    assert!(
        matches!(m, Ok(ClientMessage::ClientEvent { data, .. }) if data.get() == r#"{"k":"\ud800"}"#)
    );
    let m = decode(r#"{"event":"client-x","channel":"private-a"}"#);
    assert!(matches!(m, Ok(ClientMessage::ClientEvent { data, .. }) if data.get() == "null"));
}

// spec §2.1 [DECISION]: unknown events are ignored.
#[test]
fn unknown_events_are_ignored() {
    for frame in [
        r#"{"event":"pusher:unknown","data":{}}"#,
        r#"{"event":"my-event","channel":"a","data":"x"}"#,
        r#"{"event":"pusher_internal:subscription_succeeded","channel":"a"}"#,
        r#"{"event":"pusher:subscription_error"}"#,
        r#"{"event":""}"#,
        r#"{"event":"Client-x","channel":"private-a"}"#,
    ] {
        assert!(
            matches!(decode(frame), Ok(ClientMessage::Other { .. })),
            "{frame}"
        );
        let (mut conn, t0) = connection();
        assert!(
            matches!(
                conn.handle_frame(t0, frame, &app()),
                Ok(pusher_wire::Action::None)
            ),
            "{frame}"
        );
    }
}

fn json_err(frame: &str) {
    assert!(
        matches!(decode(frame), Err(DecodeError::Json(_))),
        "{frame}: {:?}",
        decode(frame)
    );
}

fn data_err(frame: &str, event: &str) {
    match decode(frame) {
        Err(DecodeError::InvalidData { event: e, .. }) => assert_eq!(e, event, "{frame}"),
        other => panic!("{frame}: {other:?}"),
    }
}

// Malformed frames give typed errors; through `Connection` they are `ProtocolError::Decode`
// with code null (spec §2.1: reply with `pusher:error` code null, never close).
#[test]
fn malformed_frames() {
    // Truncated or not JSON.
    for frame in [
        "",
        " ",
        "{",
        r#"{"event":"pusher:ping","data":{}"#,
        r#"{"event":"pusher:subscribe","data":{"channel":"a"#,
        r#"{"event":"pusher:ping"}}"#,
        r#"{"event":"pusher:ping"} x"#,
        "not json",
        "\u{feff}{\"event\":\"pusher:ping\"}",
    ] {
        json_err(frame);
    }
    // Not an object, or `event` missing or not a string.
    for frame in [
        "null",
        "[]",
        r#"["pusher:ping"]"#,
        r#"["client-x", "private-a", {}]"#,
        r#""pusher:ping""#,
        "42",
        "{}",
        r#"{"data":{}}"#,
        r#"{"event":null}"#,
        r#"{"event":1}"#,
        r#"{"event":["pusher:ping"]}"#,
        r#"{"event":{"name":"pusher:ping"}}"#,
        r#"{"event":"pusher:ping","event":"pusher:pong"}"#,
        r#"{"event":"pusher:ping","channel":5}"#,
        r#"{"event":"client-x","channel":{"a":1},"data":{}}"#,
    ] {
        json_err(frame);
    }
    // pusher:* messages with missing or wrongly typed fields.
    for (frame, event) in [
        (r#"{"event":"pusher:subscribe"}"#, "pusher:subscribe"),
        (
            r#"{"event":"pusher:subscribe","data":null}"#,
            "pusher:subscribe",
        ),
        (
            r#"{"event":"pusher:subscribe","data":{}}"#,
            "pusher:subscribe",
        ),
        (
            r#"{"event":"pusher:subscribe","data":[]}"#,
            "pusher:subscribe",
        ),
        (
            r#"{"event":"pusher:subscribe","data":5}"#,
            "pusher:subscribe",
        ),
        (
            r#"{"event":"pusher:subscribe","data":{"channel":5}}"#,
            "pusher:subscribe",
        ),
        (
            r#"{"event":"pusher:subscribe","data":{"channel":null}}"#,
            "pusher:subscribe",
        ),
        (
            r#"{"event":"pusher:subscribe","data":{"channel":"a","auth":1}}"#,
            "pusher:subscribe",
        ),
        (
            r#"{"event":"pusher:subscribe","data":{"channel":"presence-a","auth":"k:s","channel_data":{"user_id":"1"}}}"#,
            "pusher:subscribe",
        ),
        (
            r#"{"event":"pusher:subscribe","data":"not json"}"#,
            "pusher:subscribe",
        ),
        (
            r#"{"event":"pusher:subscribe","data":"{\"channel\":"}"#,
            "pusher:subscribe",
        ),
        (
            r#"{"event":"pusher:subscribe","data":"\"a string\""}"#,
            "pusher:subscribe",
        ),
        (
            r#"{"event":"pusher:unsubscribe","data":{}}"#,
            "pusher:unsubscribe",
        ),
        (
            r#"{"event":"pusher:unsubscribe","data":{"channel":true}}"#,
            "pusher:unsubscribe",
        ),
        (
            r#"{"event":"pusher:signin","data":{"auth":"k:s"}}"#,
            "pusher:signin",
        ),
        (
            r#"{"event":"pusher:signin","data":{"user_data":"{}"}}"#,
            "pusher:signin",
        ),
        (
            r#"{"event":"pusher:signin","data":{"auth":"k:s","user_data":{"id":"1"}}}"#,
            "pusher:signin",
        ),
    ] {
        data_err(frame, event);
    }
    // A client event without a channel.
    for frame in [
        r#"{"event":"client-x","data":{}}"#,
        r#"{"event":"client-x","channel":null,"data":{}}"#,
    ] {
        assert_eq!(
            decode(frame).unwrap_err(),
            DecodeError::MissingChannel,
            "{frame}"
        );
    }
}

#[test]
fn malformed_frames_through_connection() {
    for frame in [
        r#"{"event":"pusher:ping","data":{}"#,
        r#"{"event":1}"#,
        r#"{"event":"pusher:subscribe","data":{"channel":5}}"#,
        r#"{"event":"client-x","data":{}}"#,
    ] {
        let (mut conn, t0) = connection();
        let err = conn.handle_frame(t0, frame, &app()).unwrap_err();
        assert!(matches!(err, ProtocolError::Decode(_)), "{frame}");
        assert_eq!(err.code(), None, "{frame}");
        assert_eq!(err.channel(), None);
        let reply: serde_json::Value = serde_json::from_str(&err.to_frame()).unwrap();
        assert_eq!(reply["event"], "pusher:error");
        assert!(reply["data"]["code"].is_null());
        // The connection carries on.
        assert!(conn
            .handle_frame(t0, r#"{"event":"pusher:ping","data":{}}"#, &app())
            .is_ok());
    }
}

const MB: usize = 1024 * 1024;

#[test]
fn one_megabyte_strings() {
    let big = "a".repeat(MB);
    // Over the frame limit: refused before parsing.
    let frame = subscribe_frame(&big, "", None);
    assert_eq!(
        ClientMessage::decode(&frame, LIMIT).unwrap_err(),
        DecodeError::TooLarge {
            len: frame.len(),
            max: LIMIT
        }
    );
    let (mut conn, t0) = connection();
    let err = conn.handle_frame(t0, &frame, &app()).unwrap_err();
    assert!(matches!(
        err,
        ProtocolError::Decode(DecodeError::TooLarge { .. })
    ));
    assert_eq!(err.code(), None);

    // Under a generous frame limit the name rules apply.
    let roomy = pusher_wire::AppPolicy {
        max_frame_bytes: 4 * MB,
        ..app()
    };
    let err = conn.handle_frame(t0, &frame, &roomy).unwrap_err();
    match &err {
        ProtocolError::ChannelName { channel, error } => {
            assert_eq!(*error, ChannelNameError::TooLong { len: MB, max: 164 });
            // The echoed name is cut.
            assert_eq!(channel.len(), 200);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.code(), None);
    assert!(err.to_frame().len() < 1024);

    // A 1 MB client event name or payload: rejected with 4301.
    let sub = subscribe_frame(
        "private-a",
        &pusher_wire::auth::channel::sign(
            crate::support::KEY,
            crate::support::SECRET,
            crate::support::SOCKET_ID,
            "private-a",
            None,
        ),
        None,
    );
    conn.handle_frame(t0, &sub, &roomy).unwrap();
    let err = conn
        .handle_frame(
            t0,
            &client_event_frame(&format!("client-{big}"), "private-a", "{}"),
            &roomy,
        )
        .unwrap_err();
    assert!(matches!(
        err,
        ProtocolError::ClientEventName(EventNameError::TooLong { .. })
    ));
    assert_eq!(
        err.code(),
        Some(pusher_wire::ErrorCode::ClientEventRejected)
    );
    let err = conn
        .handle_frame(
            t0,
            &client_event_frame("client-x", "private-a", &format!("\"{big}\"")),
            &roomy,
        )
        .unwrap_err();
    assert_eq!(
        err,
        ProtocolError::ClientEventTooLarge {
            len: MB + 2,
            max: 10 * 1024
        }
    );
    // A 1 MB unknown event name is ignored; a 1 MB channel in a client event is "not subscribed".
    assert!(matches!(
        conn.handle_frame(t0, &format!(r#"{{"event":"{big}"}}"#), &roomy),
        Ok(pusher_wire::Action::None)
    ));
    let err = conn
        .handle_frame(t0, &client_event_frame("client-x", &big, "{}"), &roomy)
        .unwrap_err();
    match &err {
        ProtocolError::ClientEventNotSubscribed(channel) => assert_eq!(channel.len(), 200),
        other => panic!("{other:?}"),
    }
}

#[test]
fn deep_nesting_does_not_overflow() {
    let depth = 100_000;
    let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let big = usize::MAX;
    // In a client event payload (kept raw) and in pusher:* data (decoded): no panic either way.
    let frame = client_event_frame("client-x", "private-a", &nested);
    let _ = ClientMessage::decode(&frame, big);
    let frame = format!(r#"{{"event":"pusher:subscribe","data":{nested}}}"#);
    assert!(ClientMessage::decode(&frame, big).is_err());
    let frame = format!(r#"{{"event":"pusher:subscribe","data":{{"channel":"a","x":{nested}}}}}"#);
    let _ = ClientMessage::decode(&frame, big);
    let frame = format!(r#"{{"event":{nested}}}"#);
    assert!(ClientMessage::decode(&frame, big).is_err());
}

// Invalid escapes never get past the decoder. Text frames are UTF-8 by the WebSocket RFC, so
// `&str` input cannot hold invalid UTF-8; escaped lone surrogates are the JSON equivalent.
#[test]
fn invalid_surrogates_and_unicode() {
    json_err(r#"{"event":"\ud800"}"#);
    json_err(r#"{"event":"pusher:ping\udc00"}"#);
    json_err(r#"{"event":"client-x","channel":"private-\ud800","data":{}}"#);
    json_err(r#"{"event":"client-\udfff","channel":"private-a","data":{}}"#);
    json_err(r#"{"event":"pusher:ping","x":"\uZZZZ"}"#);
    data_err(
        r#"{"event":"pusher:subscribe","data":{"channel":"a\ud800"}}"#,
        "pusher:subscribe",
    );
    data_err(
        r#"{"event":"pusher:subscribe","data":{"channel":"a","channel_data":"\udbff\u0041"}}"#,
        "pusher:subscribe",
    );
    data_err(
        r#"{"event":"pusher:subscribe","data":"{\"channel\":\"a\\ud800\"}"}"#,
        "pusher:subscribe",
    );
    data_err(
        r#"{"event":"pusher:signin","data":{"auth":"\ud800","user_data":"{}"}}"#,
        "pusher:signin",
    );
    // A valid surrogate pair decodes, and the channel rules reject the character.
    let (mut conn, t0) = connection();
    let err = conn
        .handle_frame(
            t0,
            r#"{"event":"pusher:subscribe","data":{"auth":"","channel":"a\ud83d\ude00"}}"#,
            &app(),
        )
        .unwrap_err();
    assert_eq!(
        err,
        ProtocolError::ChannelName {
            channel: "a😀".into(),
            error: ChannelNameError::InvalidChar { ch: '😀', at: 1 }
        }
    );
    // Bytes that were not UTF-8, decoded lossily by a caller, are refused by the name rules.
    let lossy = String::from_utf8_lossy(b"private-\xff\xfe").into_owned();
    let err = conn
        .handle_frame(t0, &subscribe_frame(&lossy, "", None), &app())
        .unwrap_err();
    assert!(matches!(
        err,
        ProtocolError::ChannelName {
            error: ChannelNameError::InvalidChar {
                ch: '\u{fffd}',
                at: 8
            },
            ..
        }
    ));
    // Raw control characters inside JSON strings are invalid JSON.
    json_err("{\"event\":\"pusher:ping\n\"}");
}

#[test]
fn error_frames_never_echo_more_than_a_few_hundred_bytes() {
    let (mut conn, t0) = crate::support::connection();
    let roomy = pusher_wire::AppPolicy {
        max_frame_bytes: 4 << 20,
        ..app()
    };
    let huge_auth = format!("{}:{}", crate::support::KEY, "ab".repeat(500_000));
    let frame = subscribe_frame("private-a", &huge_auth, None);
    let err = conn.handle_frame(t0, &frame, &roomy).unwrap_err();
    assert!(matches!(err, ProtocolError::SubscriptionAuth { .. }));
    let encoded = err.to_frame();
    assert!(
        encoded.len() < pusher_wire::connection::MAX_ERROR_MESSAGE_BYTES + 200,
        "{}",
        encoded.len()
    );
    let parsed: serde_json::Value = serde_json::from_str(&encoded).unwrap();
    assert!(parsed["data"]["message"].as_str().unwrap().ends_with('…'));
}
