//! HMAC-SHA256 signatures: channel authorization, user sign-in, HTTP API requests and webhooks.
//!
//! Every signature is `hex(HMAC-SHA256(secret, string_to_sign))`, lowercase, compared in
//! constant time. See spec §4 and §7.2.

pub mod api_request;
pub mod channel;
pub mod user;
pub mod webhook;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Lowercase hex of HMAC-SHA256(`secret`, the concatenation of `parts`).
pub fn hmac_sha256_hex(secret: &[u8], parts: &[&[u8]]) -> String {
    hex::encode(hmac_sha256(secret, parts))
}

/// Raw HMAC-SHA256(`secret`, the concatenation of `parts`).
pub fn hmac_sha256(secret: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // unwrap: HMAC accepts keys of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Constant-time equality of two byte strings (length may leak, content does not).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Checks a lowercase-hex signature against the HMAC of `parts`, in constant time.
/// Uppercase hex is accepted too.
pub fn verify_hex(secret: &[u8], parts: &[&[u8]], signature_hex: &str) -> bool {
    let expected = hmac_sha256_hex(secret, parts);
    constant_time_eq(
        expected.as_bytes(),
        signature_hex.to_ascii_lowercase().as_bytes(),
    )
}

/// Why an `auth` token (`"{key}:{signature}"`) was refused.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The token is not of the form `key:signature`.
    #[error("Invalid auth token format: expected 'key:signature'")]
    Malformed,
    /// The key part is not this app's key.
    #[error("Invalid key in auth token: {got:?} is not this application's key")]
    WrongKey {
        /// The key given in the token.
        got: String,
    },
    /// The signature does not match.
    #[error(
        "Invalid signature: Expected HMAC SHA256 hex digest of {string_to_sign}, but got {got}"
    )]
    BadSignature {
        /// The string the signature must be computed over.
        string_to_sign: String,
        /// The token received.
        got: String,
    },
}

/// Verifies `auth = "{key}:{hex}"` over `parts`; `string_to_sign` is only built on failure.
pub(crate) fn verify_token(
    key: &str,
    secret: &str,
    parts: &[&[u8]],
    auth: &str,
) -> Result<(), AuthError> {
    let (got_key, signature) = auth.split_once(':').ok_or(AuthError::Malformed)?;
    if !constant_time_eq(got_key.as_bytes(), key.as_bytes()) {
        return Err(AuthError::WrongKey {
            got: got_key.to_owned(),
        });
    }
    if verify_hex(secret.as_bytes(), parts, signature) {
        Ok(())
    } else {
        Err(AuthError::BadSignature {
            string_to_sign: String::from_utf8_lossy(&parts.concat()).into_owned(),
            got: auth.to_owned(),
        })
    }
}
