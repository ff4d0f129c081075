//! Webhook payload shapes (spec §8.2); the signature vector is in `vectors.rs`.

use pusher_wire::webhook::{WebhookEvent, WebhookPayload};

#[test]
fn event_shapes() {
    let cases = [
        (
            WebhookEvent::ChannelOccupied {
                channel: "my-channel".into(),
            },
            r#"{"name":"channel_occupied","channel":"my-channel"}"#,
        ),
        (
            WebhookEvent::ChannelVacated {
                channel: "my-channel".into(),
            },
            r#"{"name":"channel_vacated","channel":"my-channel"}"#,
        ),
        (
            WebhookEvent::MemberAdded {
                channel: "presence-your_channel_name".into(),
                user_id: "a_user_id".into(),
            },
            r#"{"name":"member_added","channel":"presence-your_channel_name","user_id":"a_user_id"}"#,
        ),
        (
            WebhookEvent::MemberRemoved {
                channel: "presence-your_channel_name".into(),
                user_id: "a_user_id".into(),
            },
            r#"{"name":"member_removed","channel":"presence-your_channel_name","user_id":"a_user_id"}"#,
        ),
        (
            WebhookEvent::ClientEvent {
                channel: "private-x".into(),
                event: "client-typing".into(),
                data: "<data>".into(),
                socket_id: "123.456".into(),
                user_id: Some("42".into()),
            },
            r#"{"name":"client_event","channel":"private-x","event":"client-typing","data":"<data>","socket_id":"123.456","user_id":"42"}"#,
        ),
        (
            WebhookEvent::ClientEvent {
                channel: "private-x".into(),
                event: "client-typing".into(),
                data: r#"{"typing":true}"#.into(),
                socket_id: "123.456".into(),
                user_id: None,
            },
            r#"{"name":"client_event","channel":"private-x","event":"client-typing","data":"{\"typing\":true}","socket_id":"123.456"}"#,
        ),
        (
            WebhookEvent::CacheMiss {
                channel: "cache-x".into(),
            },
            r#"{"name":"cache_miss","channel":"cache-x"}"#,
        ),
        (
            WebhookEvent::SubscriptionCount {
                channel: "my-channel".into(),
                subscription_count: 12,
            },
            r#"{"name":"subscription_count","channel":"my-channel","subscription_count":12}"#,
        ),
    ];
    let mut kinds = Vec::new();
    for (event, json) in cases {
        assert_eq!(serde_json::to_string(&event).unwrap(), json);
        assert_eq!(serde_json::from_str::<WebhookEvent>(json).unwrap(), event);
        kinds.push(event.kind());
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(json).unwrap()["name"],
            event.kind()
        );
    }
    kinds.dedup();
    assert_eq!(
        kinds,
        [
            "channel_occupied",
            "channel_vacated",
            "member_added",
            "member_removed",
            "client_event",
            "cache_miss",
            "subscription_count"
        ]
    );
}

// spec §10.25: time_ms in milliseconds, several events per body when batching.
#[test]
fn payload_body() {
    let payload = WebhookPayload {
        time_ms: 1_700_000_000_123,
        events: vec![
            WebhookEvent::ChannelOccupied {
                channel: "a".into(),
            },
            WebhookEvent::MemberAdded {
                channel: "presence-a".into(),
                user_id: "1".into(),
            },
        ],
    };
    let body = payload.to_body();
    assert_eq!(
        body,
        r#"{"time_ms":1700000000123,"events":[{"name":"channel_occupied","channel":"a"},{"name":"member_added","channel":"presence-a","user_id":"1"}]}"#
    );
    assert_eq!(
        serde_json::from_str::<WebhookPayload>(&body).unwrap(),
        payload
    );
    // Unknown event names are refused when decoding.
    assert!(serde_json::from_str::<WebhookPayload>(
        r#"{"time_ms":1,"events":[{"name":"something_else","channel":"a"}]}"#
    )
    .is_err());
}
