//! User authentication for `pusher:signin`: `socket_id::user::user_data` (spec §4.4).

use super::{hmac_sha256_hex, verify_token, AuthError};

/// The `auth` value for a sign-in: `"{key}:{hex}"` over `socket_id::user::user_data`.
pub fn sign(key: &str, secret: &str, socket_id: &str, user_data: &str) -> String {
    let parts: [&[u8]; 3] = [socket_id.as_bytes(), b"::user::", user_data.as_bytes()];
    format!("{key}:{}", hmac_sha256_hex(secret.as_bytes(), &parts))
}

/// Verifies a sign-in `auth` over the exact `user_data` string received.
pub fn verify(
    key: &str,
    secret: &str,
    socket_id: &str,
    user_data: &str,
    auth: &str,
) -> Result<(), AuthError> {
    let parts: [&[u8]; 3] = [socket_id.as_bytes(), b"::user::", user_data.as_bytes()];
    verify_token(key, secret, &parts, auth)
}
