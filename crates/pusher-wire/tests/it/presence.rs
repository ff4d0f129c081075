//! Presence data: `channel_data`, sign-in `user_data` and the roster (spec §4.2, §4.4, §5.4).

use pusher_wire::presence::{
    roster_json, PresenceError, PresenceLimits, PresenceMember, UserData, MAX_WATCHLIST,
};
use serde_json::Value;

#[test]
fn limits_default_to_the_presence_doc() {
    assert_eq!(
        PresenceLimits::default(),
        PresenceLimits {
            max_members: 100,
            max_user_info_bytes: 1024,
            max_user_id_len: 128
        }
    );
    assert_eq!(MAX_WATCHLIST, 100);
}

// spec §5.4: members are keyed by the string form of user_id.
#[test]
fn channel_data_ids() {
    let l = PresenceLimits::default();
    for (data, id) in [
        (r#"{"user_id":10}"#, "10"),
        (r#"{"user_id":"10"}"#, "10"),
        (r#"{"user_id":-5}"#, "-5"),
        (r#"{"user_id":9007199254740992}"#, "9007199254740992"),
        (r#"{"user_id":"a\"b"}"#, "a\"b"),
        (r#"{"user_id":"x","extra":[1,2]}"#, "x"),
    ] {
        assert_eq!(
            &*PresenceMember::parse(data, &l).unwrap().user_id,
            id,
            "{data}"
        );
    }
    for data in [
        r#"{"user_id":null}"#,
        r#"{"user_id":[]}"#,
        r#"{"user_id":{}}"#,
        r#"{"user_id":1e3}"#,
        r#"{"user_id":99999999999999999999999}"#,
    ] {
        assert_eq!(
            PresenceMember::parse(data, &l),
            Err(PresenceError::InvalidUserId),
            "{data}"
        );
    }
    // 128 characters is the limit.
    let ok = format!(r#"{{"user_id":"{}"}}"#, "x".repeat(128));
    assert!(PresenceMember::parse(&ok, &l).is_ok());
    // user_info null counts as absent; its size is measured on the raw text.
    let m = PresenceMember::parse(r#"{"user_id":"1","user_info":null}"#, &l).unwrap();
    assert!(m.user_info.is_none());
    let info = format!(r#"{{"k":"{}"}}"#, "x".repeat(1024 - 8));
    assert_eq!(info.len(), 1024);
    let data = format!(r#"{{"user_id":"1","user_info":{info}}}"#);
    assert!(PresenceMember::parse(&data, &l).is_ok());
    for bad in ["", "null", "1", "\"{}\"", "{"] {
        assert!(
            matches!(
                PresenceMember::parse(bad, &l),
                Err(PresenceError::Malformed {
                    what: "channel_data",
                    ..
                })
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn user_data() {
    let l = PresenceLimits::default();
    let u = UserData::parse(r#"{"id": "12345"}"#, &l).unwrap();
    assert_eq!(&*u.id, "12345");
    assert!(u.user_info.is_none() && u.watchlist.is_empty() && !u.watchlist_truncated);
    // user_info becomes the presence info of the user.
    let u = UserData::parse(r#"{"id":"1","user_info":{"name": "A"}}"#, &l).unwrap();
    let member = u.user_info.unwrap();
    assert_eq!(&*member.user_id, "1");
    assert_eq!(member.user_info.unwrap().get(), r#"{"name": "A"}"#);
    // Numeric watchlist ids are kept as strings; other entries are refused.
    let u = UserData::parse(r#"{"id":"1","watchlist":["a",2]}"#, &l).unwrap();
    assert_eq!(u.watchlist, ["a".into(), "2".into()] as [Box<str>; 2]);
    for bad in [
        r#"{"id":"1","watchlist":[null]}"#,
        r#"{"id":"1","watchlist":[""]}"#,
        r#"{"id":"1","watchlist":"a"}"#,
        r#"{"id":"1","user_info":5,"watchlist":[{}]}"#,
    ] {
        assert!(
            matches!(
                UserData::parse(bad, &l),
                Err(PresenceError::Malformed {
                    what: "user_data",
                    ..
                })
            ),
            "{bad}"
        );
    }
    for bad in [r#"{"id":1}"#, r#"{"id":""}"#, r#"{"id":null}"#, "{}"] {
        assert_eq!(
            UserData::parse(bad, &l),
            Err(PresenceError::InvalidUserId),
            "{bad}"
        );
    }
}

// spec §5.4 and §10.10: the roster lists every distinct member, the joiner included.
#[test]
fn roster() {
    let l = PresenceLimits::default();
    let me = PresenceMember::parse(
        r#"{"user_id": 10, "user_info": {"name": "Mr. Channels"}}"#,
        &l,
    )
    .unwrap();
    let other = PresenceMember::parse(r#"{"user_id":"a\"b"}"#, &l).unwrap();
    let json = roster_json([
        (&*other.user_id, other.user_info.as_deref()),
        (&*me.user_id, me.user_info.as_deref()),
    ]);
    assert_eq!(
        json,
        r#"{"presence":{"ids":["a\"b","10"],"hash":{"a\"b":{},"10":{"name": "Mr. Channels"}},"count":2}}"#
    );
    let value: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["presence"]["hash"]["10"]["name"], "Mr. Channels");
    assert_eq!(value["presence"]["count"], 2);
}
