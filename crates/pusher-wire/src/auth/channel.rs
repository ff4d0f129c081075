//! Channel authorization: `socket_id:channel` for private and encrypted channels,
//! `socket_id:channel:channel_data` for presence channels (spec §4.1–§4.3).

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::{hmac_sha256_hex, verify_token, AuthError};

/// The `auth` value an app server returns for a subscription: `"{key}:{hex}"`.
/// `channel_data` is signed exactly as given (presence channels only).
pub fn sign(
    key: &str,
    secret: &str,
    socket_id: &str,
    channel: &str,
    channel_data: Option<&str>,
) -> String {
    let mut parts: Vec<&[u8]> = vec![socket_id.as_bytes(), b":", channel.as_bytes()];
    if let Some(data) = channel_data {
        parts.extend([b":".as_slice(), data.as_bytes()]);
    }
    format!("{key}:{}", hmac_sha256_hex(secret.as_bytes(), &parts))
}

/// Verifies a subscription's `auth` in constant time. `channel_data` must be the exact string
/// the client sent (never re-serialized).
pub fn verify(
    key: &str,
    secret: &str,
    socket_id: &str,
    channel: &str,
    channel_data: Option<&str>,
    auth: &str,
) -> Result<(), AuthError> {
    let mut parts: Vec<&[u8]> = vec![socket_id.as_bytes(), b":", channel.as_bytes()];
    if let Some(data) = channel_data {
        parts.extend([b":".as_slice(), data.as_bytes()]);
    }
    verify_token(key, secret, &parts, auth)
}

/// The `shared_secret` an app server gives pusher-js for an encrypted channel:
/// `base64(SHA256(channel_name || master_key))`. The relay itself never needs it.
pub fn encrypted_shared_secret(channel: &str, master_key: &[u8; 32]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(channel.as_bytes());
    hasher.update(master_key);
    base64::engine::general_purpose::STANDARD.encode(hasher.finalize())
}
