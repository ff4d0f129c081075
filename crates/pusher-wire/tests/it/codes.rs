//! The close/error code table (spec §1.4) and its reconnect classes.

use pusher_wire::{ErrorCode, Reconnect};

#[test]
fn table_matches_spec() {
    use ErrorCode::*;
    let table = [
        (SslOnly, 4000, Reconnect::Never),
        (AppNotFound, 4001, Reconnect::Never),
        (AppDisabled, 4003, Reconnect::Never),
        (OverConnectionQuota, 4004, Reconnect::Never),
        (PathNotFound, 4005, Reconnect::Never),
        (InvalidVersion, 4006, Reconnect::Never),
        (UnsupportedProtocol, 4007, Reconnect::Never),
        (NoProtocol, 4008, Reconnect::Never),
        (Unauthorized, 4009, Reconnect::Never),
        (OverCapacity, 4100, Reconnect::Backoff),
        (ReconnectImmediately, 4200, Reconnect::Immediately),
        (PongNotReceived, 4201, Reconnect::Immediately),
        (ClosedAfterInactivity, 4202, Reconnect::Immediately),
        (ClientEventRejected, 4301, Reconnect::Never),
        (WatchlistLimitExceeded, 4302, Reconnect::Never),
    ];
    assert_eq!(ErrorCode::ALL.len(), table.len());
    for (i, (code, number, reconnect)) in table.into_iter().enumerate() {
        assert_eq!(ErrorCode::ALL[i], code);
        assert_eq!(code.code(), number);
        assert_eq!(u16::from(code), number);
        assert_eq!(ErrorCode::from_code(number), Some(code));
        assert_eq!(ErrorCode::try_from(number), Ok(code));
        assert_eq!(code.reconnect(), reconnect, "{code}");
        assert!(code.to_string().starts_with(&format!("{number} ")));
        assert!(!code.description().is_empty());
    }
    for unknown in [
        0,
        1000,
        3999,
        4002,
        4010,
        4099,
        4101,
        4203,
        4300,
        4303,
        4400,
        u16::MAX,
    ] {
        assert_eq!(ErrorCode::try_from(unknown), Err(unknown));
    }
}

// spec §10.4: codes >= 4300 make pusher-js stop reconnecting; they are only pusher:error codes.
// spec §10.1: everything a connect-time rejection uses (4000–4299) is a close code.
#[test]
fn close_codes() {
    for &code in ErrorCode::ALL {
        assert_eq!(code.is_close_code(), code.code() < 4300, "{code}");
        assert!((4000..4400).contains(&code.code()));
        // Range semantics: 41xx back-off, 42xx immediately, the rest never.
        let expected = match code.code() {
            4100..=4199 => Reconnect::Backoff,
            4200..=4299 => Reconnect::Immediately,
            _ => Reconnect::Never,
        };
        assert_eq!(code.reconnect(), expected);
    }
    // spec §10.5: over quota is 4004 (refused, no reconnect), not soketi's 4100 (back-off).
    assert_eq!(ErrorCode::OverConnectionQuota.code(), 4004);
    assert_eq!(ErrorCode::OverConnectionQuota.reconnect(), Reconnect::Never);
    assert_eq!(ErrorCode::OverCapacity.reconnect(), Reconnect::Backoff);
    assert_eq!(
        ErrorCode::WatchlistLimitExceeded.description(),
        "Watchlist limit exceeded. Only the first 100 user IDs are accepted"
    );
    assert_eq!(pusher_wire::PROTOCOL_VERSION, 7);
}
