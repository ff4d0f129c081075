//! HTTP API request validation and response shapes (spec §7).

use std::collections::BTreeMap;

use pusher_wire::{
    api::{
        check_channel_query, check_channels_query, check_users_query, parse_channel, ApiError,
        ApiLimits, BatchResponse, ChannelInfo, ChannelsResponse, Info, Trigger, TriggerResponse,
        User, UsersResponse,
    },
    event_name::EventNameError,
    ChannelName, ChannelNameError, EventData, SocketId,
};
use serde_json::json;

fn limits() -> ApiLimits {
    ApiLimits::default()
}

fn parse(body: &str) -> Result<Trigger<'_>, ApiError> {
    Trigger::parse(body, &limits())
}

fn channels(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("ch-{i}")).collect()
}

#[test]
fn default_limits() {
    assert_eq!(
        limits(),
        ApiLimits {
            max_event_bytes: 10_240,
            max_channels: 100,
            max_batch: 10,
            max_channel_name_len: 164
        }
    );
}

#[test]
fn trigger_spec_example() {
    // spec §7.3's body, without user_count (those channels are not presence channels).
    let body = r#"{"name":"my-event","data":"{\"message\":\"hello\"}","channels":["ch-1","ch-2"],"socket_id":"123.456","info":"subscription_count"}"#;
    let t = parse(body).unwrap();
    assert_eq!(t.name.as_str(), "my-event");
    assert_eq!(
        t.channels
            .iter()
            .map(ChannelName::as_str)
            .collect::<Vec<_>>(),
        ["ch-1", "ch-2"]
    );
    assert_eq!(t.socket_id, Some(SocketId::from_parts(123, 456)));
    assert_eq!(
        t.info,
        Info {
            subscription_count: true,
            ..Info::default()
        }
    );
    // The publisher's data string token is passed through verbatim.
    assert!(
        matches!(t.data.event_data(), EventData::Raw(raw) if raw.get() == r#""{\"message\":\"hello\"}""#)
    );
    assert_eq!(t.data.text(), r#"{"message":"hello"}"#);
    // A single `channel` works too.
    let t = parse(r#"{"name":"e","channel":"a","data":"x"}"#).unwrap();
    assert_eq!(t.channels.len(), 1);
    assert!(t.socket_id.is_none());
    assert!(!t.info.any());
}

// spec §10.16: object data is stringified before fan-out; the empty string is valid.
#[test]
fn trigger_data_forms() {
    let t = parse(r#"{"name":"e","channel":"a","data":{"a": 1}}"#).unwrap();
    assert!(matches!(t.data.event_data(), EventData::Text(s) if s == r#"{"a": 1}"#));
    let t = parse(r#"{"name":"e","channel":"a","data":""}"#).unwrap();
    assert!(matches!(t.data.event_data(), EventData::Raw(raw) if raw.get() == r#""""#));
    assert_eq!(t.data.text(), "");
    let t = parse(r#"{"name":"e","channel":"a","data":42}"#).unwrap();
    assert!(matches!(t.data.event_data(), EventData::Text("42")));
    // Python's spacing passes through (spec §7.4).
    let t = parse(r#"{"name": "foo", "channels": ["project-3"], "data": "{\"some\": \"data\"}"}"#)
        .unwrap();
    assert_eq!(t.data.text(), r#"{"some": "data"}"#);
    assert_eq!(t.data.raw().get(), r#""{\"some\": \"data\"}""#);
    // Escapes in the token are kept as sent.
    let t = parse(r#"{"name":"e","channel":"a","data":"caf\u00e9 \/"}"#).unwrap();
    assert_eq!(t.data.raw().get(), r#""caf\u00e9 \/""#);
    assert_eq!(t.data.text(), "café /");
    // Missing data (or null) is an error.
    for body in [
        r#"{"name":"e","channel":"a"}"#,
        r#"{"name":"e","channel":"a","data":null}"#,
    ] {
        let err = parse(body).unwrap_err();
        assert_eq!(err, ApiError::Missing("data"));
        assert_eq!(err.status(), 400);
    }
}

#[test]
fn trigger_required_fields_and_json() {
    for (body, field) in [
        (r#"{"channel":"a","data":"x"}"#, "name"),
        (r#"{"name":"e","data":"x"}"#, "channels"),
        (r#"{"name":"e","data":"x","channels":[]}"#, "channels"),
    ] {
        assert_eq!(parse(body).unwrap_err(), ApiError::Missing(field), "{body}");
    }
    for body in [
        "",
        "{",
        "null",
        r#"{"name":1,"channel":"a","data":"x"}"#,
        r#"{"name":"e","channels":"a","data":"x"}"#,
        r#"{"name":"e","channels":[1],"data":"x"}"#,
        r#"{"name":"e","channel":"a","data":"x","socket_id":123.456}"#,
        r#"{"name":"e","channel":"a","data":"x","info":["user_count"]}"#,
    ] {
        let err = parse(body).unwrap_err();
        assert!(matches!(err, ApiError::Json(_)), "{body}: {err:?}");
        assert_eq!(err.status(), 400);
    }
    // A JSON array is not a request body (serde alone would read it positionally).
    for body in ["[]", r#"["e", "x", ["a"]]"#] {
        assert!(
            matches!(parse(body).unwrap_err(), ApiError::Json(_)),
            "{body}"
        );
    }
}

#[test]
fn trigger_channel_limit() {
    let body = |n| json!({"name": "e", "data": "x", "channels": channels(n)}).to_string();
    assert_eq!(parse(&body(100)).unwrap().channels.len(), 100);
    let err = parse(&body(101)).unwrap_err();
    assert_eq!(err, ApiError::TooManyChannels { len: 101, max: 100 });
    assert_eq!(err.status(), 400);
}

#[test]
fn trigger_data_size_limit() {
    // 10 KB of data (the string subscribers decode) is allowed, one byte more is 413.
    let body =
        |len: usize| json!({"name": "e", "channel": "a", "data": "x".repeat(len)}).to_string();
    assert!(parse(&body(10_240)).is_ok());
    let err = parse(&body(10_241)).unwrap_err();
    assert_eq!(
        err,
        ApiError::DataTooLarge {
            len: 10_241,
            max: 10_240
        }
    );
    assert_eq!(err.status(), 413);
    // Object data is measured on its JSON text.
    let obj = format!(
        r#"{{"name":"e","channel":"a","data":{{"k":"{}"}}}}"#,
        "x".repeat(10_240)
    );
    assert_eq!(parse(&obj).unwrap_err().status(), 413);
    // A configured limit applies.
    let small = ApiLimits {
        max_event_bytes: 3,
        ..limits()
    };
    assert!(Trigger::parse(r#"{"name":"e","channel":"a","data":"abc"}"#, &small).is_ok());
    assert_eq!(
        Trigger::parse(r#"{"name":"e","channel":"a","data":"abcd"}"#, &small)
            .unwrap_err()
            .status(),
        413
    );
}

#[test]
fn trigger_socket_id() {
    for id in ["123.456", "0.0", "18446744073709551615.1"] {
        let body = json!({"name": "e", "channel": "a", "data": "x", "socket_id": id}).to_string();
        assert!(parse(&body).unwrap().socket_id.is_some(), "{id}");
    }
    for id in [
        "",
        "abc",
        "123",
        "1.2.3",
        "1.",
        ".1",
        "-1.2",
        "1.2 ",
        "1,2",
        "uuid-like",
    ] {
        let body = json!({"name": "e", "channel": "a", "data": "x", "socket_id": id}).to_string();
        let err = parse(&body).unwrap_err();
        assert_eq!(err, ApiError::SocketId(id.into()), "{id}");
        assert_eq!(err.status(), 400);
    }
}

// spec §10.22 (trigger side): user_count is for presence channels only.
#[test]
fn trigger_info_user_count() {
    let body = |chs: &[&str]| {
        json!({"name": "e", "data": "x", "channels": chs, "info": "user_count,subscription_count"})
            .to_string()
    };
    let presence = body(&["presence-a", "presence-cache-b"]);
    let t = parse(&presence).unwrap();
    assert!(t.info.user_count && t.info.subscription_count);
    for chs in [&["my-channel"][..], &["presence-a", "private-b"]] {
        let err = parse(&body(chs)).unwrap_err();
        assert_eq!(err, ApiError::UserCountNotPresence);
        assert_eq!(err.status(), 400);
    }
}

#[test]
fn trigger_event_names() {
    let body = |name: &str| json!({"name": name, "channel": "a", "data": "x"}).to_string();
    // pusher_internal: would corrupt client state.
    let err = parse(&body("pusher_internal:member_added")).unwrap_err();
    assert_eq!(err, ApiError::EventName(EventNameError::Reserved));
    assert_eq!(err.status(), 400);
    assert_eq!(
        parse(&body("")).unwrap_err(),
        ApiError::EventName(EventNameError::Empty)
    );
    assert!(parse(&body(&"e".repeat(200))).is_ok());
    assert_eq!(
        parse(&body(&"e".repeat(201))).unwrap_err(),
        ApiError::EventName(EventNameError::TooLong { len: 201, max: 200 })
    );
    assert!(parse(&body("client-x")).is_ok());
    assert!(parse(&body("pusher:cache_miss")).is_ok());
}

// spec §10.21: `,` `;` `=` `@` `.` and #server-to-user- channels are publishable.
#[test]
fn trigger_channel_names() {
    let body = |ch: &str| json!({"name": "e", "channel": ch, "data": "x"}).to_string();
    for ch in [
        "a,b;c=d@e.f",
        "#server-to-user-12345",
        "private-encrypted-x",
        "presence-cache-x",
    ] {
        assert_eq!(parse(&body(ch)).unwrap().channels[0].as_str(), ch);
    }
    for (ch, error) in [
        ("a:b", ChannelNameError::InvalidChar { ch: ':', at: 1 }),
        ("#foo", ChannelNameError::Reserved),
        ("", ChannelNameError::Empty),
        (
            &*"a".repeat(165),
            ChannelNameError::TooLong { len: 165, max: 164 },
        ),
    ] {
        let err = parse(&body(ch)).unwrap_err();
        assert_eq!(
            err,
            ApiError::ChannelName {
                channel: ch.into(),
                error
            }
        );
        assert_eq!(err.status(), 400);
    }
    // One bad name among many fails the request.
    let many = json!({"name": "e", "data": "x", "channels": ["a", "b", "c:d"]}).to_string();
    assert!(matches!(parse(&many), Err(ApiError::ChannelName { .. })));
    // parse_channel cuts long names in the error.
    let err = parse_channel(&"a".repeat(1000), &limits()).unwrap_err();
    assert!(matches!(err, ApiError::ChannelName { ref channel, .. } if channel.len() == 200));
}

// spec §7.4 and §10.24: up to 10 items, `channel` per item with its own socket_id, all
// validated before any is published.
#[test]
fn batch() {
    let item = |i: usize| json!({"channel": format!("ch-{i}"), "name": "e", "data": "x"});
    let body = |n: usize| json!({"batch": (0..n).map(item).collect::<Vec<_>>()}).to_string();
    assert_eq!(
        Trigger::parse_batch(&body(10), &limits()).unwrap().len(),
        10
    );
    let err = Trigger::parse_batch(&body(11), &limits()).unwrap_err();
    assert_eq!(err, ApiError::BatchTooLarge { len: 11, max: 10 });
    assert_eq!(err.status(), 400);
    // spec §7.4's example.
    let batch = Trigger::parse_batch(
        r#"{"batch":[{"channel":"a","name":"e1","data":"{\"x\":1}","socket_id":"1.2","info":"subscription_count"},{"channel":"presence-b","name":"e2","data":"2"}]}"#,
        &limits(),
    )
    .unwrap();
    assert_eq!(batch.len(), 2);
    assert_eq!(batch[0].socket_id, Some(SocketId::from_parts(1, 2)));
    assert!(batch[0].info.subscription_count);
    assert!(batch[1].socket_id.is_none());
    assert!(!batch[1].info.any());
    assert_eq!(batch[1].data.text(), "2");
    // Each item needs `channel`; `channels` is not accepted in a batch.
    for items in [
        json!([{"name": "e", "data": "x"}]),
        json!([{"channels": ["a"], "name": "e", "data": "x"}]),
    ] {
        let body = json!({ "batch": items }).to_string();
        assert_eq!(
            Trigger::parse_batch(&body, &limits()).unwrap_err(),
            ApiError::Missing("channel")
        );
    }
    // Any item over 10 KB fails the whole batch with 413.
    let body =
        json!({"batch": [item(0), {"channel": "a", "name": "e", "data": "x".repeat(10_241)}]})
            .to_string();
    assert_eq!(
        Trigger::parse_batch(&body, &limits()).unwrap_err().status(),
        413
    );
    // Items are validated like triggers.
    let body =
        json!({"batch": [item(0), {"channel": "a", "name": "e", "data": "x", "socket_id": "x"}]})
            .to_string();
    assert_eq!(
        Trigger::parse_batch(&body, &limits()).unwrap_err(),
        ApiError::SocketId("x".into())
    );
    let body = json!({"batch": [{"channel": "a", "name": "e", "data": "x", "info": "user_count"}]})
        .to_string();
    assert_eq!(
        Trigger::parse_batch(&body, &limits()).unwrap_err(),
        ApiError::UserCountNotPresence
    );
    for body in ["{}", r#"{"batch":{}}"#, "[]", ""] {
        assert!(matches!(
            Trigger::parse_batch(body, &limits()),
            Err(ApiError::Json(_))
        ));
    }
}

#[test]
fn info_parsing() {
    assert_eq!(Info::parse(None), Info::default());
    assert!(!Info::parse(Some("")).any());
    let i = Info::parse(Some("user_count,subscription_count"));
    assert!(i.user_count && i.subscription_count && !i.cache);
    let i = Info::parse(Some(" cache , unknown,user_count"));
    assert!(i.user_count && i.cache && !i.subscription_count);
    assert!(!Info::parse(Some("USER_COUNT,members")).any());
}

// spec §10.22: info=user_count on GET /channels needs filter_by_prefix=presence-; on a single
// non-presence channel it is a 400.
#[test]
fn channel_queries() {
    let user_count = Info::parse(Some("user_count"));
    let subs = Info::parse(Some("subscription_count"));
    assert_eq!(check_channels_query(Some("presence-"), &user_count), Ok(()));
    assert_eq!(
        check_channels_query(Some("presence-room-"), &user_count),
        Ok(())
    );
    for prefix in [
        None,
        Some(""),
        Some("private-"),
        Some("presence"),
        Some("pres"),
    ] {
        let err = check_channels_query(prefix, &user_count).unwrap_err();
        assert_eq!(err, ApiError::UserCountNotPresence, "{prefix:?}");
        assert_eq!(err.status(), 400);
    }
    assert_eq!(check_channels_query(None, &subs), Ok(()));
    assert_eq!(check_channels_query(None, &Info::default()), Ok(()));

    let ch = |s: &str| ChannelName::parse(s).unwrap();
    assert_eq!(check_channel_query(&ch("presence-a"), &user_count), Ok(()));
    assert_eq!(
        check_channel_query(&ch("presence-cache-a"), &user_count),
        Ok(())
    );
    assert_eq!(
        check_channel_query(&ch("private-a"), &user_count),
        Err(ApiError::UserCountNotPresence)
    );
    assert_eq!(check_channel_query(&ch("private-a"), &subs), Ok(()));

    assert_eq!(check_users_query(&ch("presence-a")), Ok(()));
    assert_eq!(check_users_query(&ch("presence-cache-a")), Ok(()));
    for name in [
        "my-channel",
        "private-a",
        "private-encrypted-a",
        "cache-a",
        "#server-to-user-1",
    ] {
        let err = check_users_query(&ch(name)).unwrap_err();
        assert_eq!(err, ApiError::NotPresence, "{name}");
        assert_eq!(err.status(), 400);
    }
}

// spec §10.23: `{}` / `{"channels":{…}}` / `{"batch":[…]}`.
#[test]
fn response_shapes() {
    assert_eq!(to_json(&TriggerResponse::default()), "{}");
    assert_eq!(to_json(&BatchResponse::default()), "{}");
    let mut per_channel = BTreeMap::new();
    per_channel.insert(
        "presence-foobar".to_owned(),
        ChannelInfo {
            user_count: Some(42),
            subscription_count: Some(51),
            ..ChannelInfo::default()
        },
    );
    per_channel.insert(
        "another".to_owned(),
        ChannelInfo {
            subscription_count: Some(13),
            ..ChannelInfo::default()
        },
    );
    assert_eq!(
        to_json(&TriggerResponse {
            channels: Some(per_channel)
        }),
        r#"{"channels":{"another":{"subscription_count":13},"presence-foobar":{"user_count":42,"subscription_count":51}}}"#
    );
    assert_eq!(
        to_json(&BatchResponse {
            batch: Some(vec![
                ChannelInfo {
                    subscription_count: Some(1),
                    ..ChannelInfo::default()
                },
                ChannelInfo::default()
            ])
        }),
        r#"{"batch":[{"subscription_count":1},{}]}"#
    );
    // GET /channels.
    let mut list = ChannelsResponse::default();
    list.channels.insert(
        "presence-foobar".into(),
        ChannelInfo {
            user_count: Some(42),
            ..ChannelInfo::default()
        },
    );
    list.channels.insert(
        "presence-another".into(),
        ChannelInfo {
            user_count: Some(123),
            ..ChannelInfo::default()
        },
    );
    assert_eq!(
        to_json(&list),
        r#"{"channels":{"presence-another":{"user_count":123},"presence-foobar":{"user_count":42}}}"#
    );
    assert_eq!(to_json(&ChannelsResponse::default()), r#"{"channels":{}}"#);
    // GET /channels/{name}.
    assert_eq!(
        to_json(&ChannelInfo {
            occupied: Some(true),
            user_count: Some(42),
            subscription_count: Some(42),
            cache: None
        }),
        r#"{"occupied":true,"user_count":42,"subscription_count":42}"#
    );
    assert_eq!(
        to_json(&ChannelInfo {
            occupied: Some(false),
            ..ChannelInfo::default()
        }),
        r#"{"occupied":false}"#
    );
    // GET /channels/{name}/users.
    assert_eq!(
        to_json(&UsersResponse {
            users: vec![User { id: "1".into() }, User { id: "2".into() }]
        }),
        r#"{"users":[{"id":"1"},{"id":"2"}]}"#
    );
    // SDK-side decoding of the same shapes.
    let parsed: TriggerResponse = serde_json::from_str("{}").unwrap();
    assert_eq!(parsed, TriggerResponse::default());
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap()
}
