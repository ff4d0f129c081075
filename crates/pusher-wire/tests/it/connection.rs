//! The per-connection state machine (`Connection`) driven with frames and fake `Instant`s.

use std::time::Duration;

use pusher_wire::{
    auth::{self, AuthError},
    connection::{Action, ProtocolError, TimeoutAction},
    event_name::EventNameError,
    presence::PresenceError,
    AppPolicy, ChannelKind, ChannelNameError, Connection, ErrorCode, Reconnect, Timers,
};
use serde_json::Value;

use crate::support::{
    app, at, at_ms, client_event_frame, connection, connection_with, signin_frame, subscribe_frame,
    timers, KEY, SECRET, SOCKET_ID,
};

const PRESENCE_NODE_DATA: &str = r#"{"user_id":10,"user_info":{"name":"Mr. Channels"}}"#;
const PRESENCE_PYTHON_DATA: &str = r#"{"user_id": 10, "user_info": {"name": "Mr. Channels"}}"#;
const SIGNIN_NODE_DATA: &str =
    r#"{"id":"12345","user_info":{"name":"Alice"},"watchlist":["2","3"]}"#;

fn sign(channel: &str, data: Option<&str>) -> String {
    auth::channel::sign(KEY, SECRET, SOCKET_ID, channel, data)
}

fn signin_auth(user_data: &str) -> String {
    auth::user::sign(KEY, SECRET, SOCKET_ID, user_data)
}

/// Subscribes with a valid signature and returns the action.
fn subscribe(
    conn: &mut Connection,
    t: std::time::Instant,
    channel: &str,
    data: Option<&str>,
) -> Action {
    let auth = if ChannelKind::of(channel).requires_auth() {
        sign(channel, data)
    } else {
        String::new()
    };
    conn.handle_frame(t, &subscribe_frame(channel, &auth, data), &app())
        .unwrap_or_else(|e| panic!("subscribe {channel}: {e}"))
}

fn assert_subscribed(action: &Action, name: &str) {
    match action {
        Action::Subscribe { channel, .. } => assert_eq!(channel.as_str(), name),
        other => panic!("expected Subscribe {name}, got {other:?}"),
    }
}

fn error_frame(err: &ProtocolError) -> Value {
    serde_json::from_str(&err.to_frame()).expect("error frame is JSON")
}

#[test]
fn subscribe_public_private_encrypted() {
    let (mut conn, t0) = connection();
    // pusher-js sends auth "" for public channels.
    let action = conn
        .handle_frame(t0, &subscribe_frame("my-channel", "", None), &app())
        .unwrap();
    assert!(matches!(&action, Action::Subscribe { member: None, .. }));
    assert_subscribed(&action, "my-channel");
    // Without auth at all, or with junk auth: public channels ignore it.
    let a = conn
        .handle_frame(
            t0,
            r#"{"event":"pusher:subscribe","data":{"channel":"cache-x"}}"#,
            &app(),
        )
        .unwrap();
    assert_subscribed(&a, "cache-x");
    let a = conn
        .handle_frame(t0, &subscribe_frame("other", "junk", None), &app())
        .unwrap();
    assert_subscribed(&a, "other");

    // spec §11 private vector.
    let a = conn
        .handle_frame(
            t0,
            &subscribe_frame(
                "private-foobar",
                "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4",
                None,
            ),
            &app(),
        )
        .unwrap();
    assert!(matches!(&a, Action::Subscribe { member: None, .. }));
    // spec §11 encrypted vector (spec §10.30: classified as encrypted, signed like private).
    let a = conn
        .handle_frame(
            t0,
            &subscribe_frame(
                "private-encrypted-foobar",
                "278d425bdf160c739803:e6a18892d037c5d5e76a2265df4f086ffc38631605530dfd214aa5bff495f533",
                None,
            ),
            &app(),
        )
        .unwrap();
    match a {
        Action::Subscribe { channel, member } => {
            assert_eq!(channel.kind(), ChannelKind::Encrypted);
            assert!(member.is_none());
        }
        other => panic!("{other:?}"),
    }
    for name in ["private-cache-a", "private-encrypted-cache-a"] {
        assert_subscribed(&subscribe(&mut conn, t0, name, None), name);
    }
    let mut subscribed: Vec<&str> = conn.subscriptions().map(|(c, _)| c.as_str()).collect();
    subscribed.sort_unstable();
    assert_eq!(
        subscribed,
        [
            "cache-x",
            "my-channel",
            "other",
            "private-cache-a",
            "private-encrypted-cache-a",
            "private-encrypted-foobar",
            "private-foobar"
        ]
    );
    assert!(conn.is_subscribed("private-foobar"));
}

// spec §10.13: presence channel_data is verified and kept as received (node and python forms).
#[test]
fn subscribe_presence_node_and_python() {
    for (data, auth) in [
        (
            PRESENCE_NODE_DATA,
            "278d425bdf160c739803:31935e7d86dba64c2a90aed31fdc61869f9b22ba9d8863bba239c03ca481bc80",
        ),
        (
            PRESENCE_PYTHON_DATA,
            "278d425bdf160c739803:5b8808f3035fec2e4157c6b430a06d5b0de16d174e1a779e0e2b64d9983bde27",
        ),
    ] {
        let (mut conn, t0) = connection();
        let action = conn
            .handle_frame(
                t0,
                &subscribe_frame("presence-foobar", auth, Some(data)),
                &app(),
            )
            .unwrap();
        let Action::Subscribe {
            channel,
            member: Some(member),
        } = action
        else {
            panic!("{action:?}")
        };
        assert_eq!(channel.kind(), ChannelKind::Presence);
        assert_eq!(&*member.user_id, "10");
        let info = member.user_info.expect("user_info").get().to_owned();
        assert!(data.contains(&info), "user_info bytes kept: {info}");
        assert_eq!(
            conn.subscriptions().collect::<Vec<_>>(),
            [(&channel, Some("10"))]
        );
    }
    // The node signature does not cover the python bytes.
    let (mut conn, t0) = connection();
    let err = conn
        .handle_frame(
            t0,
            &subscribe_frame(
                "presence-foobar",
                &sign("presence-foobar", Some(PRESENCE_NODE_DATA)),
                Some(PRESENCE_PYTHON_DATA),
            ),
            &app(),
        )
        .unwrap_err();
    assert!(matches!(
        err,
        ProtocolError::SubscriptionAuth {
            error: AuthError::BadSignature { .. },
            ..
        }
    ));
    // presence-cache- is presence too.
    let a = subscribe(
        &mut conn,
        t0,
        "presence-cache-x",
        Some(r#"{"user_id":"7"}"#),
    );
    assert!(
        matches!(a, Action::Subscribe { member: Some(ref m), .. } if &*m.user_id == "7" && m.user_info.is_none())
    );
}

#[test]
fn presence_errors() {
    let (mut conn, t0) = connection();
    // Missing channel_data.
    let err = conn
        .handle_frame(
            t0,
            &subscribe_frame("presence-a", &sign("presence-a", None), None),
            &app(),
        )
        .unwrap_err();
    assert_eq!(
        err,
        ProtocolError::Presence {
            channel: "presence-a".parse().unwrap(),
            error: PresenceError::MissingChannelData
        }
    );
    assert_eq!(err.code(), None);
    assert_eq!(err.channel(), Some("presence-a"));
    assert!(err.is_subscription_error());
    // Correctly signed, but invalid channel_data.
    for (data, expected) in [
        (r#"{"user_info":{}}"#, PresenceError::InvalidUserId),
        (r#"{"user_id":""}"#, PresenceError::InvalidUserId),
        (
            &*format!(r#"{{"user_id":"{}"}}"#, "x".repeat(129)),
            PresenceError::UserIdTooLong { len: 129, max: 128 },
        ),
    ] {
        let err = conn
            .handle_frame(
                t0,
                &subscribe_frame("presence-a", &sign("presence-a", Some(data)), Some(data)),
                &app(),
            )
            .unwrap_err();
        assert_eq!(
            err,
            ProtocolError::Presence {
                channel: "presence-a".parse().unwrap(),
                error: expected
            },
            "{data}"
        );
    }
    let big = format!(
        r#"{{"user_id":"1","user_info":{{"a":"{}"}}}}"#,
        "x".repeat(1100)
    );
    let err = conn
        .handle_frame(
            t0,
            &subscribe_frame("presence-a", &sign("presence-a", Some(&big)), Some(&big)),
            &app(),
        )
        .unwrap_err();
    assert!(matches!(
        err,
        ProtocolError::Presence {
            error: PresenceError::UserInfoTooLarge { max: 1024, .. },
            ..
        }
    ));
    let not_json = "not json";
    let err = conn
        .handle_frame(
            t0,
            &subscribe_frame(
                "presence-a",
                &sign("presence-a", Some(not_json)),
                Some(not_json),
            ),
            &app(),
        )
        .unwrap_err();
    assert!(matches!(
        err,
        ProtocolError::Presence {
            error: PresenceError::Malformed { .. },
            ..
        }
    ));
    // None of these subscribed.
    assert_eq!(conn.subscriptions().count(), 0);
}

// spec §10.7 and §5.3: a failed subscription answers pusher:error with the channel and code
// null, and the connection stays usable.
#[test]
fn bad_auth_keeps_connection() {
    let (mut conn, t0) = connection();
    let bad = format!("{KEY}:{}", "0".repeat(64));
    type Check = fn(&AuthError) -> bool;
    let cases: [(&str, &str, Check); 3] = [
        (&bad, "private-foobar", |e| {
            matches!(e, AuthError::BadSignature { .. })
        }),
        ("nocolon", "private-foobar", |e| *e == AuthError::Malformed),
        (
            "otherkey:abc",
            "private-encrypted-x",
            |e| matches!(e, AuthError::WrongKey { got } if got == "otherkey"),
        ),
    ];
    for (auth, channel, check) in cases {
        let err = conn
            .handle_frame(t0, &subscribe_frame(channel, auth, None), &app())
            .unwrap_err();
        match &err {
            ProtocolError::SubscriptionAuth { channel: c, error } => {
                assert_eq!(c.as_str(), channel);
                assert!(check(error), "{error:?}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(err.code(), None);
        assert!(err.is_subscription_error());
        let frame = error_frame(&err);
        assert_eq!(frame["event"], "pusher:error");
        assert_eq!(frame["channel"], channel);
        assert!(frame["data"]["code"].is_null());
    }
    // Missing or empty auth on an authorized channel.
    for frame in [
        subscribe_frame("private-a", "", None),
        r#"{"event":"pusher:subscribe","data":{"channel":"private-a"}}"#.to_owned(),
        r#"{"event":"pusher:subscribe","data":{"channel":"presence-a","channel_data":"{}"}}"#
            .to_owned(),
    ] {
        let err = conn.handle_frame(t0, &frame, &app()).unwrap_err();
        assert!(matches!(err, ProtocolError::MissingAuth(_)), "{frame}");
        assert_eq!(err.code(), None);
        assert!(err.channel().is_some());
    }
    // The error message names the string to sign (real Pusher's wording).
    let err = conn
        .handle_frame(t0, &subscribe_frame("private-foobar", &bad, None), &app())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("Invalid signature: Expected HMAC SHA256 hex digest of 1234.1234:private-foobar, but got {bad}")
    );
    // Nothing was subscribed and the connection still works.
    assert_eq!(conn.subscriptions().count(), 0);
    assert_subscribed(
        &subscribe(&mut conn, t0, "private-foobar", None),
        "private-foobar",
    );
}

#[test]
fn invalid_channel_names() {
    let (mut conn, t0) = connection();
    for (name, expected) in [
        ("", ChannelNameError::Empty),
        ("a:b", ChannelNameError::InvalidChar { ch: ':', at: 1 }),
        ("a b", ChannelNameError::InvalidChar { ch: ' ', at: 1 }),
        ("#foo", ChannelNameError::Reserved),
        ("#server-to-user-", ChannelNameError::Empty),
        (
            &*"a".repeat(165),
            ChannelNameError::TooLong { len: 165, max: 164 },
        ),
    ] {
        let err = conn
            .handle_frame(t0, &subscribe_frame(name, "", None), &app())
            .unwrap_err();
        assert_eq!(
            err,
            ProtocolError::ChannelName {
                channel: name.into(),
                error: expected
            }
        );
        assert_eq!(err.code(), None);
        assert_eq!(err.channel(), Some(name));
    }
    // The limit is configurable (SDKs allow 200).
    let roomy = AppPolicy {
        max_channel_name_len: 200,
        ..app()
    };
    assert!(conn
        .handle_frame(t0, &subscribe_frame(&"a".repeat(200), "", None), &roomy)
        .is_ok());
    // spec §10.21: , ; = @ . are valid.
    assert_subscribed(
        &subscribe(&mut conn, t0, "a,b;c=d@e.f", None),
        "a,b;c=d@e.f",
    );
}

// spec §10.8: a second subscribe to the same channel is an error; no state change.
#[test]
fn duplicate_subscribe() {
    let (mut conn, t0) = connection();
    let data = Some(r#"{"user_id":"1"}"#);
    subscribe(&mut conn, t0, "presence-channel", data);
    let auth = sign("presence-channel", data);
    let err = conn
        .handle_frame(
            t0,
            &subscribe_frame("presence-channel", &auth, data),
            &app(),
        )
        .unwrap_err();
    assert_eq!(
        err,
        ProtocolError::AlreadySubscribed("presence-channel".parse().unwrap())
    );
    assert_eq!(err.code(), None);
    assert!(!err.is_subscription_error());
    // Real Pusher's message (pusher-websocket-swift README).
    assert_eq!(
        err.to_frame(),
        r#"{"event":"pusher:error","channel":"presence-channel","data":{"code":null,"message":"Existing subscription to channel presence-channel"}}"#
    );
    assert_eq!(conn.subscriptions().count(), 1);
    // Even an unauthorized repeat is reported as a duplicate, without checking auth.
    let err = conn
        .handle_frame(
            t0,
            &subscribe_frame("presence-channel", "bad", data),
            &app(),
        )
        .unwrap_err();
    assert!(matches!(err, ProtocolError::AlreadySubscribed(_)));
    // After unsubscribing, subscribing again works.
    let a = conn
        .handle_frame(
            t0,
            r#"{"event":"pusher:unsubscribe","data":{"channel":"presence-channel"}}"#,
            &app(),
        )
        .unwrap();
    assert!(
        matches!(a, Action::Unsubscribe { ref channel, user_id: Some(ref u) } if channel.as_str() == "presence-channel" && &**u == "1")
    );
    assert_subscribed(
        &subscribe(&mut conn, t0, "presence-channel", data),
        "presence-channel",
    );
}

// spec §10.31: unsubscribing from an unknown channel is silent; no reply frames for unsubscribe.
#[test]
fn unsubscribe() {
    let (mut conn, t0) = connection();
    for frame in [
        r#"{"event":"pusher:unsubscribe","data":{"channel":"never-subscribed"}}"#,
        r#"{"event":"pusher:unsubscribe","data":{"channel":"not a valid name"}}"#,
    ] {
        assert!(matches!(
            conn.handle_frame(t0, frame, &app()),
            Ok(Action::None)
        ));
    }
    subscribe(&mut conn, t0, "my-channel", None);
    subscribe(&mut conn, t0, "private-a", None);
    let a = conn
        .handle_frame(
            t0,
            r#"{"event":"pusher:unsubscribe","data":{"channel":"my-channel"}}"#,
            &app(),
        )
        .unwrap();
    assert!(
        matches!(a, Action::Unsubscribe { ref channel, user_id: None } if channel.as_str() == "my-channel")
    );
    assert!(!conn.is_subscribed("my-channel"));
    assert!(conn.is_subscribed("private-a"));
    // Twice: silent the second time.
    assert!(matches!(
        conn.handle_frame(
            t0,
            r#"{"event":"pusher:unsubscribe","data":{"channel":"my-channel"}}"#,
            &app()
        ),
        Ok(Action::None)
    ));
    // remove_subscription (after a failed join) forgets the channel.
    conn.remove_subscription("private-a");
    assert_eq!(conn.subscriptions().count(), 0);
}

#[test]
fn ping_pong_frames() {
    let (mut conn, t0) = connection();
    match conn.handle_frame(t0, r#"{"event":"pusher:ping","data":{}}"#, &app()) {
        Ok(Action::Reply(frame)) => assert_eq!(frame, r#"{"event":"pusher:pong","data":{}}"#),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        conn.handle_frame(t0, r#"{"event":"pusher:pong","data":{}}"#, &app()),
        Ok(Action::None)
    ));
}

// spec §5.7: #server-to-user-{id} only for a connection signed in as {id}.
#[test]
fn server_to_user_channel() {
    let (mut conn, t0) = connection();
    // pusher-js subscribes with a public-style request after signin_success.
    let frame = subscribe_frame("#server-to-user-12345", "", None);
    let err = conn.handle_frame(t0, &frame, &app()).unwrap_err();
    assert_eq!(
        err,
        ProtocolError::NotThatUser("#server-to-user-12345".parse().unwrap())
    );
    assert_eq!(err.code(), None);
    assert_eq!(err.channel(), Some("#server-to-user-12345"));
    assert!(err.is_subscription_error());
    conn.handle_frame(
        t0,
        &signin_frame(&signin_auth(SIGNIN_NODE_DATA), SIGNIN_NODE_DATA),
        &app(),
    )
    .unwrap();
    let a = conn.handle_frame(t0, &frame, &app()).unwrap();
    match a {
        Action::Subscribe { channel, member } => {
            assert_eq!(channel.kind(), ChannelKind::ServerToUser);
            assert_eq!(channel.server_to_user_id(), Some("12345"));
            assert!(member.is_none());
        }
        other => panic!("{other:?}"),
    }
    let err = conn
        .handle_frame(
            t0,
            &subscribe_frame("#server-to-user-999", "", None),
            &app(),
        )
        .unwrap_err();
    assert!(matches!(err, ProtocolError::NotThatUser(_)));
    // Prefix tricks do not match another user.
    let err = conn
        .handle_frame(
            t0,
            &subscribe_frame("#server-to-user-123456", "", None),
            &app(),
        )
        .unwrap_err();
    assert!(matches!(err, ProtocolError::NotThatUser(_)));
}

fn client_event(
    conn: &mut Connection,
    t: std::time::Instant,
    channel: &str,
    data: &str,
) -> Result<Action, ProtocolError> {
    conn.handle_frame(
        t,
        &client_event_frame("client-typing", channel, data),
        &app(),
    )
}

// spec §6 and §10.15: client event rules.
#[test]
fn client_event_rules() {
    let rejected = Some(ErrorCode::ClientEventRejected);
    let (mut conn, t0) = connection();
    // Disabled for the app.
    subscribe(&mut conn, t0, "private-a", None);
    let off = AppPolicy {
        client_events: false,
        ..app()
    };
    let err = conn
        .handle_frame(
            t0,
            &client_event_frame("client-typing", "private-a", "{}"),
            &off,
        )
        .unwrap_err();
    assert_eq!(err, ProtocolError::ClientEventsDisabled);
    assert_eq!(err.code(), rejected);
    // Not subscribed.
    let err = client_event(&mut conn, t0, "private-b", "{}").unwrap_err();
    assert_eq!(
        err,
        ProtocolError::ClientEventNotSubscribed("private-b".into())
    );
    assert_eq!(err.code(), rejected);
    assert_eq!(err.channel(), Some("private-b"));
    // Public, cache, encrypted and #server-to-user channels refuse client events.
    subscribe(&mut conn, t0, "public", None);
    subscribe(&mut conn, t0, "cache-a", None);
    subscribe(&mut conn, t0, "private-encrypted-a", None);
    subscribe(&mut conn, t0, "private-encrypted-cache-a", None);
    for channel in [
        "public",
        "cache-a",
        "private-encrypted-a",
        "private-encrypted-cache-a",
    ] {
        let err = client_event(&mut conn, t0, channel, "{}").unwrap_err();
        assert_eq!(
            err,
            ProtocolError::ClientEventChannel(channel.parse().unwrap()),
            "{channel}"
        );
        assert_eq!(err.code(), rejected);
        assert!(error_frame(&err)["data"]["code"] == 4301);
    }
    // Name rules: the decoder routes only `client-` names here; length is checked.
    let long = format!("client-{}", "x".repeat(200));
    let err = conn
        .handle_frame(t0, &client_event_frame(&long, "private-a", "{}"), &app())
        .unwrap_err();
    assert_eq!(
        err,
        ProtocolError::ClientEventName(EventNameError::TooLong { len: 207, max: 200 })
    );
    assert_eq!(err.code(), rejected);
    // Private: relayed exactly as sent, without user_id.
    let a = client_event(&mut conn, t0, "private-a", r#"{"any": "json" }"#).unwrap();
    match a {
        Action::ClientEvent {
            channel,
            event,
            data,
            user_id,
        } => {
            assert_eq!(channel.as_str(), "private-a");
            assert_eq!(event.as_str(), "client-typing");
            assert_eq!(data.get(), r#"{"any": "json" }"#);
            assert!(user_id.is_none());
        }
        other => panic!("{other:?}"),
    }
    // private-cache- allows client events too.
    subscribe(&mut conn, t0, "private-cache-a", None);
    assert!(client_event(&mut conn, t0, "private-cache-a", "1").is_ok());
}

// spec §10.14: presence client events carry the sender's user_id (from its channel_data).
#[test]
fn client_event_user_id_on_presence() {
    let (mut conn, t0) = connection();
    subscribe(&mut conn, t0, "presence-room", Some(PRESENCE_PYTHON_DATA));
    subscribe(
        &mut conn,
        t0,
        "presence-cache-room",
        Some(r#"{"user_id":"abc"}"#),
    );
    let a = client_event(&mut conn, t0, "presence-room", r#"{"typing":true}"#).unwrap();
    assert!(matches!(a, Action::ClientEvent { user_id: Some(ref u), .. } if &**u == "10"));
    let a = client_event(&mut conn, t0, "presence-cache-room", "{}").unwrap();
    assert!(matches!(a, Action::ClientEvent { user_id: Some(ref u), .. } if &**u == "abc"));
}

#[test]
fn client_event_size_limit() {
    let (mut conn, t0) = connection();
    subscribe(&mut conn, t0, "private-a", None);
    // Measured on the serialized data: a string of 10 238 characters plus quotes is 10 KB.
    let at_limit = format!("\"{}\"", "x".repeat(10 * 1024 - 2));
    assert!(client_event(&mut conn, t0, "private-a", &at_limit).is_ok());
    let over = format!("\"{}\"", "x".repeat(10 * 1024 - 1));
    let err = client_event(&mut conn, t0, "private-a", &over).unwrap_err();
    assert_eq!(
        err,
        ProtocolError::ClientEventTooLarge {
            len: 10 * 1024 + 1,
            max: 10 * 1024
        }
    );
    assert_eq!(err.code(), Some(ErrorCode::ClientEventRejected));
}

// spec §6 rule 6: 10 client events per second per connection, then 4301; the connection stays.
#[test]
fn client_event_rate_limit() {
    let (mut conn, t0) = connection();
    subscribe(&mut conn, t0, "private-a", None);
    subscribe(&mut conn, t0, "presence-b", Some(r#"{"user_id":"1"}"#));
    for i in 0..10 {
        // Across channels: the limit is per connection.
        let channel = if i % 2 == 0 {
            "private-a"
        } else {
            "presence-b"
        };
        assert!(
            client_event(&mut conn, at_ms(t0, i * 50), channel, "{}").is_ok(),
            "event {i}"
        );
    }
    let err = client_event(&mut conn, at_ms(t0, 600), "private-a", "{}").unwrap_err();
    assert_eq!(err, ProtocolError::ClientEventRateLimit(10));
    assert_eq!(err.code(), Some(ErrorCode::ClientEventRejected));
    // spec §10.4: 4301 is only ever a pusher:error, never a close code.
    assert!(!ErrorCode::ClientEventRejected.is_close_code());
    let frame = error_frame(&err);
    assert_eq!(frame["data"]["code"], 4301);
    assert!(client_event(&mut conn, at_ms(t0, 999), "private-a", "{}").is_err());
    // Other frames still work while limited.
    assert!(conn
        .handle_frame(
            at_ms(t0, 999),
            r#"{"event":"pusher:ping","data":{}}"#,
            &app()
        )
        .is_ok());
    // One second after the window opened, events are allowed again.
    for i in 0..10 {
        assert!(
            client_event(&mut conn, at_ms(t0, 1000 + i), "private-a", "{}").is_ok(),
            "event {i}"
        );
    }
    assert!(client_event(&mut conn, at_ms(t0, 1500), "private-a", "{}").is_err());
    assert!(client_event(&mut conn, at(t0, 3), "private-a", "{}").is_ok());
    // Rejected events (other rules) do not use up the budget.
    let (mut conn, t0) = connection();
    subscribe(&mut conn, t0, "private-a", None);
    for _ in 0..20 {
        assert!(client_event(&mut conn, t0, "private-z", "{}").is_err());
    }
    for _ in 0..10 {
        assert!(client_event(&mut conn, t0, "private-a", "{}").is_ok());
    }
    // A configured limit applies.
    let strict = AppPolicy {
        client_events_per_second: 2,
        ..app()
    };
    let (mut conn, t0) = connection();
    subscribe(&mut conn, t0, "private-a", None);
    let frame = client_event_frame("client-x", "private-a", "{}");
    assert!(conn.handle_frame(t0, &frame, &strict).is_ok());
    assert!(conn.handle_frame(t0, &frame, &strict).is_ok());
    assert_eq!(
        conn.handle_frame(t0, &frame, &strict).unwrap_err(),
        ProtocolError::ClientEventRateLimit(2)
    );
}

#[test]
fn signin_ok() {
    for user_data in [SIGNIN_NODE_DATA, r#"{"id": "12345"}"#] {
        let (mut conn, t0) = connection();
        let a = conn
            .handle_frame(
                t0,
                &signin_frame(&signin_auth(user_data), user_data),
                &app(),
            )
            .unwrap();
        let Action::Signin {
            user,
            user_data: echoed,
        } = a
        else {
            panic!("{a:?}")
        };
        assert_eq!(&*user.id, "12345");
        // signin_success must echo the exact string.
        assert_eq!(&*echoed, user_data);
        assert_eq!(conn.user_id(), Some("12345"));
    }
    // The spec §11 vectors by value.
    let (mut conn, t0) = connection();
    let a = conn
        .handle_frame(
            t0,
            &signin_frame(
                "278d425bdf160c739803:c2358192149257363bfee6968dbf9387c1cbe1f7c0174e07bb75b3c3b3340315",
                SIGNIN_NODE_DATA,
            ),
            &app(),
        )
        .unwrap();
    let Action::Signin { user, .. } = a else {
        panic!("{a:?}")
    };
    assert_eq!(user.watchlist, ["2".into(), "3".into()] as [Box<str>; 2]);
    assert!(!user.watchlist_truncated);
    assert_eq!(
        user.user_info
            .and_then(|m| m.user_info)
            .map(|r| r.get().to_owned()),
        Some(r#"{"name":"Alice"}"#.to_owned())
    );
    // Signing in again as the same user is fine.
    assert!(conn
        .handle_frame(
            t0,
            &signin_frame(&signin_auth(SIGNIN_NODE_DATA), SIGNIN_NODE_DATA),
            &app()
        )
        .is_ok());
}

// spec §5.8 and §10.28: sign-in failures are pusher:error 4009, and the connection stays open.
#[test]
fn signin_failures() {
    let unauthorized = Some(ErrorCode::Unauthorized);
    let (mut conn, t0) = connection();
    let bad = format!("{KEY}:{}", "0".repeat(64));
    let err = conn
        .handle_frame(t0, &signin_frame(&bad, SIGNIN_NODE_DATA), &app())
        .unwrap_err();
    assert!(matches!(
        err,
        ProtocolError::SigninAuth(AuthError::BadSignature { .. })
    ));
    assert_eq!(err.code(), unauthorized);
    assert_eq!(err.channel(), None);
    assert_eq!(error_frame(&err)["data"]["code"], 4009);
    assert_eq!(conn.user_id(), None);
    // The python signature does not cover the node user_data.
    let err = conn
        .handle_frame(
            t0,
            &signin_frame(
                "278d425bdf160c739803:d06dc389319077f890321aeac54e04868921e1601686928f61fc9bf702e92830",
                SIGNIN_NODE_DATA,
            ),
            &app(),
        )
        .unwrap_err();
    assert_eq!(err.code(), unauthorized);
    // Disabled.
    let off = AppPolicy {
        user_authentication: false,
        ..app()
    };
    let err = conn
        .handle_frame(
            t0,
            &signin_frame(&signin_auth(SIGNIN_NODE_DATA), SIGNIN_NODE_DATA),
            &off,
        )
        .unwrap_err();
    assert_eq!(err, ProtocolError::SigninDisabled);
    assert_eq!(err.code(), unauthorized);
    // Correctly signed but invalid user_data: pusher-js needs a non-empty string id.
    for data in [
        r#"{"id":12345}"#,
        r#"{"id":""}"#,
        r#"{"user_info":{}}"#,
        "[]",
    ] {
        let err = conn
            .handle_frame(t0, &signin_frame(&signin_auth(data), data), &app())
            .unwrap_err();
        assert!(matches!(err, ProtocolError::SigninUserData(_)), "{data}");
        assert_eq!(err.code(), unauthorized);
    }
    assert_eq!(conn.user_id(), None);
    // Signed in as one user, then as another: refused, the first user stays.
    conn.handle_frame(
        t0,
        &signin_frame(&signin_auth(SIGNIN_NODE_DATA), SIGNIN_NODE_DATA),
        &app(),
    )
    .unwrap();
    let other = r#"{"id":"999"}"#;
    let err = conn
        .handle_frame(t0, &signin_frame(&signin_auth(other), other), &app())
        .unwrap_err();
    assert_eq!(err, ProtocolError::SigninOtherUser);
    assert_eq!(err.code(), unauthorized);
    assert_eq!(conn.user_id(), Some("12345"));
    // The connection carries on.
    assert!(conn
        .handle_frame(t0, r#"{"event":"pusher:ping","data":{}}"#, &app())
        .is_ok());
}

// spec §5.8: more than 100 watchlist ids: the first 100 are kept and the cut is flagged (4302).
#[test]
fn watchlist_cut_at_100() {
    let ids: Vec<String> = (0..150).map(|i| format!("u{i}")).collect();
    let user_data = serde_json::json!({"id": "1", "watchlist": ids}).to_string();
    let (mut conn, t0) = connection();
    let a = conn
        .handle_frame(
            t0,
            &signin_frame(&signin_auth(&user_data), &user_data),
            &app(),
        )
        .unwrap();
    let Action::Signin { user, .. } = a else {
        panic!("{a:?}")
    };
    assert_eq!(user.watchlist.len(), 100);
    assert_eq!(&*user.watchlist[0], "u0");
    assert_eq!(&*user.watchlist[99], "u99");
    assert!(user.watchlist_truncated);
    assert!(!ErrorCode::WatchlistLimitExceeded.is_close_code());
    // Exactly 100: not truncated.
    let ids: Vec<String> = (0..100).map(|i| format!("u{i}")).collect();
    let user_data = serde_json::json!({"id": "1", "watchlist": ids}).to_string();
    let (mut conn, t0) = connection();
    let a = conn
        .handle_frame(
            t0,
            &signin_frame(&signin_auth(&user_data), &user_data),
            &app(),
        )
        .unwrap();
    assert!(
        matches!(a, Action::Signin { ref user, .. } if user.watchlist.len() == 100 && !user.watchlist_truncated)
    );
}

// spec §9.2 and §10.29: ping after activity_timeout + grace (not at activity_timeout), close
// with 4201 if nothing arrives within pong_timeout; any inbound frame resets the timers.
#[test]
fn ping_then_pong_timeout() {
    let (mut conn, t0) = connection();
    assert_eq!(conn.poll_timeout(), at(t0, 130));
    assert_eq!(conn.handle_timeout(at(t0, 120)), TimeoutAction::None);
    assert_eq!(conn.handle_timeout(at(t0, 129)), TimeoutAction::None);
    assert_eq!(conn.handle_timeout(at(t0, 130)), TimeoutAction::Ping);
    assert_eq!(conn.poll_timeout(), at(t0, 160));
    // Woken early while waiting for the pong: nothing, and no second ping.
    assert_eq!(conn.handle_timeout(at(t0, 140)), TimeoutAction::None);
    assert_eq!(conn.handle_timeout(at(t0, 159)), TimeoutAction::None);
    let close = conn.handle_timeout(at(t0, 160));
    assert_eq!(close, TimeoutAction::Close(ErrorCode::PongNotReceived));
    assert_eq!(ErrorCode::PongNotReceived.code(), 4201);
    assert_eq!(
        ErrorCode::PongNotReceived.reconnect(),
        Reconnect::Immediately
    );
    assert!(ErrorCode::PongNotReceived.is_close_code());
}

#[test]
fn activity_resets_timers() {
    let (mut conn, t0) = connection();
    // Any frame, even a malformed one, is activity.
    conn.handle_frame(at(t0, 100), r#"{"event":"pusher:pong","data":{}}"#, &app())
        .unwrap();
    assert_eq!(conn.poll_timeout(), at(t0, 230));
    let _ = conn.handle_frame(at(t0, 200), "garbage", &app());
    assert_eq!(conn.poll_timeout(), at(t0, 330));
    assert_eq!(conn.handle_timeout(at(t0, 330)), TimeoutAction::Ping);
    // The client's pusher:pong answers the ping.
    conn.handle_frame(at(t0, 340), r#"{"event":"pusher:pong","data":{}}"#, &app())
        .unwrap();
    assert_eq!(conn.poll_timeout(), at(t0, 470));
    assert_eq!(conn.handle_timeout(at(t0, 360)), TimeoutAction::None);
    // WebSocket-level ping/pong frames count too (spec §2.3).
    assert_eq!(conn.handle_timeout(at(t0, 470)), TimeoutAction::Ping);
    conn.handle_activity(at(t0, 480));
    assert_eq!(conn.poll_timeout(), at(t0, 610));
    assert_eq!(conn.handle_timeout(at(t0, 600)), TimeoutAction::None);
    // A client ping also counts.
    conn.handle_frame(at(t0, 605), r#"{"event":"pusher:ping","data":{}}"#, &app())
        .unwrap();
    assert_eq!(conn.poll_timeout(), at(t0, 735));
}

// spec §5.8 authorized connections: close with 4009 unless signed in or subscribed to an
// authorized channel in time.
#[test]
fn user_authentication_timeout() {
    let timers = Timers {
        user_authentication_timeout: Some(Duration::from_secs(30)),
        ..timers()
    };
    // Nothing happens: closed with 4009 at the deadline.
    let (mut conn, t0) = connection_with(timers);
    assert_eq!(conn.poll_timeout(), at(t0, 30));
    assert_eq!(conn.handle_timeout(at(t0, 29)), TimeoutAction::None);
    assert_eq!(
        conn.handle_timeout(at(t0, 30)),
        TimeoutAction::Close(ErrorCode::Unauthorized)
    );
    assert_eq!(ErrorCode::Unauthorized.code(), 4009);
    // Activity does not extend the deadline; public subscriptions and failed auth do not count.
    let (mut conn, t0) = connection_with(timers);
    subscribe(&mut conn, at(t0, 5), "public", None);
    assert!(conn
        .handle_frame(
            at(t0, 5),
            &subscribe_frame("#server-to-user-x", "", None),
            &app()
        )
        .is_err());
    let _ = conn.handle_frame(
        at(t0, 6),
        &subscribe_frame("private-a", "bad:sig", None),
        &app(),
    );
    let _ = conn.handle_frame(
        at(t0, 7),
        &signin_frame("bad:sig", SIGNIN_NODE_DATA),
        &app(),
    );
    assert_eq!(conn.poll_timeout(), at(t0, 30));
    assert_eq!(
        conn.handle_timeout(at(t0, 30)),
        TimeoutAction::Close(ErrorCode::Unauthorized)
    );
    // Signed in: no close.
    let (mut conn, t0) = connection_with(timers);
    conn.handle_frame(
        at(t0, 10),
        &signin_frame(&signin_auth(SIGNIN_NODE_DATA), SIGNIN_NODE_DATA),
        &app(),
    )
    .unwrap();
    assert_eq!(conn.poll_timeout(), at(t0, 140));
    assert_eq!(conn.handle_timeout(at(t0, 30)), TimeoutAction::None);
    assert_eq!(conn.handle_timeout(at(t0, 100)), TimeoutAction::None);
    // Subscribed to an authorized channel (private, encrypted or presence): no close.
    for (channel, data) in [
        ("private-a", None),
        ("private-encrypted-a", None),
        ("presence-a", Some(r#"{"user_id":"1"}"#)),
    ] {
        let (mut conn, t0) = connection_with(timers);
        subscribe(&mut conn, at(t0, 10), channel, data);
        assert_eq!(
            conn.handle_timeout(at(t0, 30)),
            TimeoutAction::None,
            "{channel}"
        );
        assert_eq!(conn.poll_timeout(), at(t0, 140), "{channel}");
    }
}
