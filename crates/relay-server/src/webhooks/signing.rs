//! Webhook secrets and signatures.
//!
//! Two signatures go with every subscriber delivery (spec `webhooks.md` §1.2 and §7.3):
//!
//! * `webhook-signature: v1,<base64>` ([Standard Webhooks]): HMAC-SHA256 over
//!   `{webhook-id}.{webhook-timestamp}.{body}`, keyed with the base64-decoded part of the secret
//!   after `whsec_`. It carries replay protection (the timestamp is signed).
//! * `X-Relay-Signature: sha256=<hex>` (GitHub style): HMAC-SHA256 over the body alone, keyed
//!   with the secret string exactly as stored, `whsec_` included. No replay protection.
//!
//! [Standard Webhooks]: https://www.standardwebhooks.com/

use base64::{engine::general_purpose::STANDARD, Engine as _};
use pusher_wire::auth::hmac_sha256;

/// The prefix of Standard Webhooks symmetric secrets.
pub const SECRET_PREFIX: &str = "whsec_";

/// A new secret from 24 random bytes (the caller's randomness): `whsec_` + standard base64
/// (32 characters).
pub fn generate_secret(random: &[u8; 24]) -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(random))
}

/// The HMAC key of the Standard Webhooks signature for a stored secret.
///
/// A `whsec_` secret is keyed with the base64-decoded bytes after the prefix, as the
/// Standard Webhooks libraries do. A secret without the prefix, or whose rest is not valid
/// standard base64 (an operator-chosen secret), is keyed with its raw UTF-8 bytes, prefix
/// included; a consumer verifies such a signature with the raw bytes too (for example the
/// `standardwebhooks` crate's `Webhook::from_bytes(secret.as_bytes().to_vec())`).
pub fn standard_key(secret: &str) -> Vec<u8> {
    secret
        .strip_prefix(SECRET_PREFIX)
        .and_then(|rest| STANDARD.decode(rest).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec())
}

/// The `webhook-signature` value: `v1,<base64 HMAC-SHA256(key, "{msg_id}.{timestamp}.{body}")>`
/// with the key from [`standard_key`].
pub fn standard_signature(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = standard_key(secret);
    let timestamp = timestamp.to_string();
    let mac = hmac_sha256(
        &key,
        &[msg_id.as_bytes(), b".", timestamp.as_bytes(), b".", body],
    );
    format!("v1,{}", STANDARD.encode(mac))
}

/// The `X-Relay-Signature` value: `sha256=<hex HMAC-SHA256(secret, body)>`, keyed with the
/// secret string exactly as stored (`whsec_` included).
pub fn relay_signature(secret: &str, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(hmac_sha256(secret.as_bytes(), &[body]))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_webhooks_test_vector() {
        // Spec webhooks.md §1.2, from the reference Rust library's `test_sign`.
        let signature = standard_signature(
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1649367553,
            br#"{"email":"test@example.com","username":"test_user"}"#,
        );
        assert_eq!(signature, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
    }

    #[test]
    fn generated_secret_shape() {
        let secret = generate_secret(&[7u8; 24]);
        assert!(secret.starts_with("whsec_"));
        assert_eq!(secret.len(), 6 + 32);
        assert_eq!(standard_key(&secret), vec![7u8; 24]);
    }

    #[test]
    fn non_whsec_secrets_use_raw_bytes() {
        assert_eq!(standard_key("plain secret"), b"plain secret".to_vec());
        // Valid base64 but no prefix: still raw bytes.
        assert_eq!(standard_key("AAAA"), b"AAAA".to_vec());
        // Prefix but not base64: the whole string, prefix included.
        assert_eq!(
            standard_key("whsec_not base64!"),
            b"whsec_not base64!".to_vec()
        );
    }

    #[test]
    fn relay_signature_is_keyed_with_the_stored_string() {
        let secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
        let sig = relay_signature(secret, b"{}");
        assert!(sig.starts_with("sha256="));
        assert_eq!(sig.len(), 7 + 64);
        assert_eq!(
            sig,
            format!(
                "sha256={}",
                pusher_wire::auth::hmac_sha256_hex(secret.as_bytes(), &[b"{}"])
            )
        );
    }
}
