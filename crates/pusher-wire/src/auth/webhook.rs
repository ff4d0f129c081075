//! Pusher-format webhook signatures: `X-Pusher-Signature = hex(HMAC-SHA256(secret, body))`
//! over the exact bytes sent (spec §8.1).

use super::{hmac_sha256_hex, verify_hex};

/// The header carrying the app key.
pub const KEY_HEADER: &str = "X-Pusher-Key";
/// The header carrying the body signature.
pub const SIGNATURE_HEADER: &str = "X-Pusher-Signature";

/// The `X-Pusher-Signature` value for a body.
pub fn sign(secret: &str, body: &[u8]) -> String {
    hmac_sha256_hex(secret.as_bytes(), &[body])
}

/// Checks an `X-Pusher-Signature` value against a body, in constant time.
pub fn verify(secret: &str, body: &[u8], signature: &str) -> bool {
    verify_hex(secret.as_bytes(), &[body], signature)
}
