//! The Pusher close and error code table (4000–4399), in one place.
//!
//! See the protocol doc, "Error codes": 4000–4099 do not reconnect unchanged, 4100–4199
//! reconnect after a back-off, 4200–4299 reconnect immediately, 4300–4399 are other errors
//! that pusher-js treats as a permanent disconnect when used as a close code.

use std::fmt;

/// What a client is expected to do after a close with a given code.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum Reconnect {
    /// Do not reconnect with the same parameters (pusher-js: `refused`, or `tls_only` for 4000).
    Never,
    /// Reconnect after at least one second (pusher-js: `backoff`).
    Backoff,
    /// Reconnect at once (pusher-js: `retry`).
    Immediately,
}

macro_rules! error_codes {
    ($($(#[$doc:meta])* $name:ident = $code:literal, $text:literal;)*) => {
        /// A Pusher protocol error code, sent in `pusher:error` and as a WebSocket close code.
        #[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $($(#[$doc])* $name,)*
        }

        impl ErrorCode {
            /// Every code of the table, in ascending order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$name,)*];

            /// The numeric code.
            pub const fn code(self) -> u16 {
                match self { $(ErrorCode::$name => $code,)* }
            }

            /// The official description of the code.
            pub const fn description(self) -> &'static str {
                match self { $(ErrorCode::$name => $text,)* }
            }

            /// The code with this number, if it is in the table.
            pub const fn from_code(code: u16) -> Option<ErrorCode> {
                match code { $($code => Some(ErrorCode::$name),)* _ => None }
            }
        }
    };
}

error_codes! {
    /// The application only accepts TLS connections; the client should reconnect with `wss://`.
    SslOnly = 4000, "Application only accepts SSL connections, reconnect using wss://";
    /// No application has the key in the connection URL.
    AppNotFound = 4001, "Application does not exist";
    /// The application exists but is disabled.
    AppDisabled = 4003, "Application disabled";
    /// The application has reached its connection limit.
    OverConnectionQuota = 4004, "Application is over connection quota";
    /// The request path is not `/app/{key}`.
    PathNotFound = 4005, "Path not found";
    /// The `version` query parameter is malformed.
    InvalidVersion = 4006, "Invalid version string format";
    /// The `protocol` query parameter names a version this server does not speak.
    UnsupportedProtocol = 4007, "Unsupported protocol version";
    /// The `protocol` query parameter is missing.
    NoProtocol = 4008, "No protocol version supplied";
    /// The connection is not authorized (failed sign-in, terminated, not signed in in time).
    Unauthorized = 4009, "Connection is unauthorized";
    /// The server is over capacity (or the client cannot keep up); retry after a back-off.
    OverCapacity = 4100, "Over capacity";
    /// Generic reconnect-immediately code, used on graceful shutdown.
    ReconnectImmediately = 4200, "Generic reconnect immediately";
    /// The server pinged the client and got no reply in time.
    PongNotReceived = 4201, "Pong reply not received: ping was sent to the client, but no reply was received";
    /// The client was inactive for a long time and does not support ping.
    ClosedAfterInactivity = 4202, "Closed after inactivity";
    /// A client event was rejected (rate limit and other client-event rules); never a close code.
    ClientEventRejected = 4301, "Client event rejected due to rate limit";
    /// The watchlist had more ids than allowed; only the first ones were accepted.
    WatchlistLimitExceeded = 4302, "Watchlist limit exceeded. Only the first 100 user IDs are accepted";
}

impl ErrorCode {
    /// What a client does after a close with this code (range semantics of the protocol doc).
    pub const fn reconnect(self) -> Reconnect {
        match self.code() {
            4100..=4199 => Reconnect::Backoff,
            4200..=4299 => Reconnect::Immediately,
            _ => Reconnect::Never,
        }
    }

    /// Whether the code may be used as a WebSocket close code. Codes of 4300 and above make
    /// pusher-js stop reconnecting for good, so they are only ever sent in `pusher:error`.
    pub const fn is_close_code(self) -> bool {
        self.code() < 4300
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code(), self.description())
    }
}

impl From<ErrorCode> for u16 {
    fn from(code: ErrorCode) -> u16 {
        code.code()
    }
}

impl TryFrom<u16> for ErrorCode {
    type Error = u16;

    fn try_from(code: u16) -> Result<Self, u16> {
        ErrorCode::from_code(code).ok_or(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_round_trips_and_is_sorted() {
        let mut last = 0;
        for &code in ErrorCode::ALL {
            assert!(code.code() > last);
            last = code.code();
            assert_eq!(ErrorCode::try_from(code.code()), Ok(code));
            assert!((4000..4400).contains(&code.code()));
        }
        assert_eq!(ErrorCode::try_from(4002), Err(4002));
    }

    #[test]
    fn reconnect_classes() {
        assert_eq!(ErrorCode::AppNotFound.reconnect(), Reconnect::Never);
        assert_eq!(ErrorCode::OverCapacity.reconnect(), Reconnect::Backoff);
        assert_eq!(
            ErrorCode::ReconnectImmediately.reconnect(),
            Reconnect::Immediately
        );
        assert_eq!(
            ErrorCode::PongNotReceived.reconnect(),
            Reconnect::Immediately
        );
        assert_eq!(ErrorCode::ClientEventRejected.reconnect(), Reconnect::Never);
        assert!(!ErrorCode::ClientEventRejected.is_close_code());
        assert!(ErrorCode::Unauthorized.is_close_code());
    }
}
