//! Channel names and kinds (spec §3), socket ids (spec §1.3) and event names.

use pusher_wire::{
    channel::{DEFAULT_MAX_CHANNEL_NAME_LENGTH, SERVER_TO_USER_PREFIX},
    event_name::{EventNameKind, MAX_EVENT_NAME_LENGTH},
    socket_id::SocketIdError,
    ChannelKind, ChannelName, ChannelNameError, EventName, EventNameError, SocketId,
};

// spec §3.2 table and §10.30: classify by prefix, most specific first.
#[test]
fn kind_by_prefix() {
    use ChannelKind::*;
    // (name, kind, requires_auth, presence, cache, encrypted, client events)
    let table = [
        (
            "private-encrypted-cache-x",
            EncryptedCache,
            true,
            false,
            true,
            true,
            false,
        ),
        (
            "private-encrypted-x",
            Encrypted,
            true,
            false,
            false,
            true,
            false,
        ),
        (
            "private-cache-x",
            PrivateCache,
            true,
            false,
            true,
            false,
            true,
        ),
        ("private-x", Private, true, false, false, false, true),
        (
            "presence-cache-x",
            PresenceCache,
            true,
            true,
            true,
            false,
            true,
        ),
        ("presence-x", Presence, true, true, false, false, true),
        ("cache-x", PublicCache, false, false, true, false, false),
        (
            "#server-to-user-x",
            ServerToUser,
            false,
            false,
            false,
            false,
            false,
        ),
        ("my-channel", Public, false, false, false, false, false),
        // Prefixes must match exactly, with their dash.
        ("private", Public, false, false, false, false, false),
        ("privatex", Public, false, false, false, false, false),
        ("Private-x", Public, false, false, false, false, false),
        ("presence", Public, false, false, false, false, false),
        ("cache", Public, false, false, false, false, false),
        ("x-private-y", Public, false, false, false, false, false),
        // "private-encrypted" without its dash is a plain private channel.
        (
            "private-encrypted",
            Private,
            true,
            false,
            false,
            false,
            true,
        ),
        (
            "private-encryptedx",
            Private,
            true,
            false,
            false,
            false,
            true,
        ),
        ("private-cache", Private, true, false, false, false, true),
        ("presence-cache", Presence, true, true, false, false, true),
        (
            "private-presence-x",
            Private,
            true,
            false,
            false,
            false,
            true,
        ),
        (
            "cache-private-x",
            PublicCache,
            false,
            false,
            true,
            false,
            false,
        ),
    ];
    for (name, kind, auth, presence, cache, encrypted, client) in table {
        let channel = ChannelName::parse(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(channel.kind(), kind, "{name}");
        assert_eq!(ChannelKind::of(name), kind, "{name}");
        assert_eq!(kind.requires_auth(), auth, "{name}");
        assert_eq!(kind.is_presence(), presence, "{name}");
        assert_eq!(kind.is_cache(), cache, "{name}");
        assert_eq!(kind.is_encrypted(), encrypted, "{name}");
        assert_eq!(kind.allows_client_events(), client, "{name}");
    }
}

// spec §3.1 and §10.21.
#[test]
fn allowed_characters() {
    let all = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-=@,.;";
    assert!(ChannelName::parse(all).is_ok());
    for name in [
        "a,b",
        "a;b",
        "a=b",
        "a@b",
        "a.b",
        "_",
        "-",
        ".",
        "presence-a,b;c",
    ] {
        assert!(ChannelName::parse(name).is_ok(), "{name}");
    }
    for (i, ch) in [
        ':', '#', ' ', '/', '\\', '"', '\'', '+', '*', '!', '?', '%', '&', '(', ')', '[', ']', '{',
        '}', '<', '>', '|', '~', '`', '^', '$', '\n', '\t', '\0', 'é', 'ß', '😀', '\u{fffd}',
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("ab{ch}");
        assert_eq!(
            ChannelName::parse(&name),
            Err(ChannelNameError::InvalidChar { ch, at: 2 }),
            "case {i}: {name:?}"
        );
    }
    // The offset is in bytes.
    assert_eq!(
        ChannelName::parse("éa:"),
        Err(ChannelNameError::InvalidChar { ch: 'é', at: 0 })
    );
    assert_eq!(ChannelName::parse(""), Err(ChannelNameError::Empty));
}

#[test]
fn server_to_user_and_reserved() {
    let c = ChannelName::parse("#server-to-user-a,b;c=d@e.f").unwrap();
    assert_eq!(c.kind(), ChannelKind::ServerToUser);
    assert_eq!(c.server_to_user_id(), Some("a,b;c=d@e.f"));
    assert_eq!(
        ChannelName::parse("my-channel")
            .unwrap()
            .server_to_user_id(),
        None
    );
    assert_eq!(SERVER_TO_USER_PREFIX, "#server-to-user-");
    for name in [
        "#",
        "#foo",
        "#server-to-user",
        "#Server-to-user-1",
        "##server-to-user-1",
    ] {
        assert_eq!(
            ChannelName::parse(name),
            Err(ChannelNameError::Reserved),
            "{name}"
        );
    }
    assert_eq!(
        ChannelName::parse("#server-to-user-"),
        Err(ChannelNameError::Empty)
    );
    assert_eq!(
        ChannelName::parse("#server-to-user-1#2"),
        Err(ChannelNameError::InvalidChar { ch: '#', at: 17 })
    );
    assert_eq!(
        ChannelName::parse("a#server-to-user-1"),
        Err(ChannelNameError::InvalidChar { ch: '#', at: 1 })
    );
    // for_user builds the channel, within the limit.
    let c = ChannelName::for_user("12345", 164).unwrap();
    assert_eq!(c.as_str(), "#server-to-user-12345");
    assert_eq!(
        ChannelName::for_user("a b", 164),
        Err(ChannelNameError::InvalidChar { ch: ' ', at: 17 })
    );
    assert!(matches!(
        ChannelName::for_user(&"1".repeat(160), 164),
        Err(ChannelNameError::TooLong { len: 176, max: 164 })
    ));
}

// spec §3.1 [DECISION]: 164 by default (prefixes included), configurable.
#[test]
fn length_limit() {
    assert_eq!(DEFAULT_MAX_CHANNEL_NAME_LENGTH, 164);
    let name = format!("presence-{}", "a".repeat(155));
    assert_eq!(name.len(), 164);
    assert!(ChannelName::parse(&name).is_ok());
    let long = format!("{name}a");
    assert_eq!(
        ChannelName::parse(&long),
        Err(ChannelNameError::TooLong { len: 165, max: 164 })
    );
    assert!(ChannelName::parse_with_limit(&long, 200).is_ok());
    assert_eq!(
        ChannelName::parse_with_limit(&"a".repeat(201), 200),
        Err(ChannelNameError::TooLong { len: 201, max: 200 })
    );
    // The server-to-user prefix counts.
    let user = format!("#server-to-user-{}", "1".repeat(148));
    assert_eq!(user.len(), 164);
    assert!(ChannelName::parse(&user).is_ok());
    assert!(ChannelName::parse(&format!("{user}1")).is_err());
}

#[test]
fn conversions() {
    let c: ChannelName = "private-a".parse().unwrap();
    assert_eq!(ChannelName::try_from("private-a").unwrap(), c);
    assert_eq!(c.to_string(), "private-a");
    assert_eq!(c.as_str(), "private-a");
    assert_eq!(c.as_ref() as &str, "private-a");
    assert_eq!(&**c.as_arc(), "private-a");
    assert_eq!(format!("{c:?}"), r#""private-a""#);
    assert_eq!(serde_json::to_string(&c).unwrap(), r#""private-a""#);
    let set: std::collections::HashSet<ChannelName> = [c.clone()].into();
    assert!(set.contains("private-a"));
    assert!("a:b".parse::<ChannelName>().is_err());
    // Errors say what is wrong.
    assert_eq!(
        ChannelNameError::TooLong { len: 165, max: 164 }.to_string(),
        "channel name is 165 characters long, the limit is 164"
    );
}

// spec §1.3 and §10.3: socket ids are `digits.digits`, serialized as strings.
#[test]
fn socket_ids() {
    for s in [
        "1234.1234",
        "0.0",
        "123456789.987654321",
        "18446744073709551615.18446744073709551615",
    ] {
        let id = SocketId::parse(s).unwrap();
        assert_eq!(id.to_string(), s);
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{s}\""));
        assert_eq!(s.parse::<SocketId>().unwrap(), id);
        assert_eq!(SocketId::try_from(s).unwrap(), id);
    }
    assert_eq!(SocketId::from_parts(1234, 5678).to_string(), "1234.5678");
    assert_eq!(SocketId::from_parts(1234, 5678).parts(), (1234, 5678));
    assert_eq!(format!("{:?}", SocketId::from_parts(1, 2)), "SocketId(1.2)");
    for bad in [
        "",
        ".",
        "1",
        "1.",
        ".1",
        "1..2",
        "1.2.3",
        "a.b",
        "1.b",
        "-1.2",
        "1.-2",
        "+1.2",
        " 1.2",
        "1.2 ",
        "1,2",
        "１.２",
        "0x1.2",
        "1e3.2",
        "18446744073709551616.1",
        "123456789012345678901.1",
        "550e8400-e29b-41d4-a716-446655440000",
    ] {
        assert_eq!(
            SocketId::parse(bad),
            Err(SocketIdError::Malformed),
            "{bad:?}"
        );
    }
}

#[test]
fn event_names() {
    assert_eq!(MAX_EVENT_NAME_LENGTH, 200);
    for (name, kind) in [
        ("pusher:subscribe", EventNameKind::Pusher),
        (
            "pusher_internal:member_added",
            EventNameKind::PusherInternal,
        ),
        ("client-typing", EventNameKind::Client),
        ("my-event", EventNameKind::App),
        ("pusher", EventNameKind::App),
        ("client_typing", EventNameKind::App),
    ] {
        assert_eq!(EventNameKind::of(name), kind, "{name}");
    }
    let e = EventName::for_api("my-event").unwrap();
    assert_eq!((e.as_str(), e.kind()), ("my-event", EventNameKind::App));
    assert_eq!(e.to_string(), "my-event");
    assert_eq!(
        EventName::for_api("pusher_internal:x"),
        Err(EventNameError::Reserved)
    );
    assert_eq!(EventName::for_api(""), Err(EventNameError::Empty));
    assert!(EventName::for_api(&"e".repeat(200)).is_ok());
    assert_eq!(
        EventName::for_api(&"e".repeat(201)),
        Err(EventNameError::TooLong { len: 201, max: 200 })
    );
    let c = EventName::for_client("client-typing").unwrap();
    assert_eq!(c.kind(), EventNameKind::Client);
    for name in ["typing", "pusher:ping", "Client-x", ""] {
        assert!(EventName::for_client(name).is_err(), "{name}");
    }
}
