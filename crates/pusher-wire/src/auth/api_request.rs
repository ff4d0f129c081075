//! HTTP API request signatures (spec §7.2).
//!
//! `string_to_sign = METHOD + "\n" + path + "\n" + sorted_params`, where the params are every
//! query parameter but `auth_signature`, percent-decoded, keys lower-cased, sorted by key, joined
//! as `key=value` with `&` and no escaping. `body_md5` is signed whenever it was sent (the Python
//! SDK sends the MD5 of the empty body on GET) and is checked against the body; it is required
//! when the body is not empty. The caller passes the current Unix time.

use md5::{Digest, Md5};

use super::{constant_time_eq, hmac_sha256_hex};

/// The only `auth_version` there is.
pub const AUTH_VERSION: &str = "1.0";

/// How far `auth_timestamp` may be from the server's clock, in seconds.
pub const DEFAULT_TIMESTAMP_WINDOW_SECS: u64 = 600;

/// Why a signed HTTP API request was refused. Every variant maps to HTTP 401.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiAuthError {
    /// A required authentication parameter is missing; the client should sign its request.
    #[error("Missing required authentication parameter: {0}")]
    MissingParam(&'static str),
    /// The query string could not be decoded (bad percent escape or invalid UTF-8).
    #[error("Malformed query string")]
    MalformedQuery,
    /// `auth_key` is not the key of the application addressed.
    #[error("Invalid auth_key: not a key of this application")]
    WrongKey,
    /// `auth_version` is not `1.0`.
    #[error("Unsupported auth_version {0:?}, expected \"1.0\"")]
    UnsupportedVersion(String),
    /// `auth_timestamp` is not an integer.
    #[error("Invalid auth_timestamp {0:?}")]
    BadTimestamp(String),
    /// `auth_timestamp` is too far from the server's clock.
    #[error("Timestamp expired: {skew} seconds from server time, the limit is {window}")]
    TimestampOutOfWindow {
        /// Difference from the server clock, in seconds.
        skew: u64,
        /// The allowed difference.
        window: u64,
    },
    /// The body is not empty but `body_md5` is missing.
    #[error("Missing body_md5 for a request with a body")]
    MissingBodyMd5,
    /// `body_md5` does not match the body.
    #[error("body_md5 does not match the request body")]
    BodyMd5Mismatch,
    /// The signature does not match.
    #[error("Invalid signature: you should have sent HmacSHA256Hex({string_to_sign:?}, your_secret_key)")]
    BadSignature {
        /// The canonical string the server signed.
        string_to_sign: String,
    },
}

/// The decoded query parameters of an API request.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct QueryParams {
    pairs: Vec<(String, String)>,
}

impl QueryParams {
    /// Parses a raw query string (`a=b&c=d`, form-urlencoded: `+` is a space).
    pub fn parse(query: &str) -> Result<QueryParams, ApiAuthError> {
        let mut pairs = Vec::new();
        for piece in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
            pairs.push((percent_decode(k)?, percent_decode(v)?));
        }
        Ok(QueryParams { pairs })
    }

    /// The first value of a parameter (key compared case-insensitively).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// The `auth_key` parameter.
    pub fn auth_key(&self) -> Result<&str, ApiAuthError> {
        self.get("auth_key")
            .ok_or(ApiAuthError::MissingParam("auth_key"))
    }

    /// The canonical `key=value&…` string (lower-cased keys, sorted, `auth_signature` left out).
    pub fn canonical(&self) -> String {
        let mut pairs: Vec<(String, &str)> = self
            .pairs
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str()))
            .filter(|(k, _)| k != "auth_signature")
            .collect();
        pairs.sort();
        let mut out = String::new();
        for (i, (k, v)) in pairs.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            out.push_str(k);
            out.push('=');
            out.push_str(v);
        }
        out
    }
}

/// `METHOD\npath\ncanonical_params`.
pub fn string_to_sign(method: &str, path: &str, params: &QueryParams) -> String {
    format!(
        "{}\n{}\n{}",
        method.to_ascii_uppercase(),
        path,
        params.canonical()
    )
}

/// Lowercase hex MD5 of a body.
pub fn body_md5(body: &[u8]) -> String {
    hex::encode(Md5::digest(body))
}

/// The parts of an HTTP API request that its signature covers.
#[derive(Clone, Copy, Debug)]
pub struct SignedRequest<'a> {
    /// The HTTP method (`GET`, `POST`).
    pub method: &'a str,
    /// The request path without the query, as the client sent it.
    pub path: &'a str,
    /// The decoded query parameters.
    pub params: &'a QueryParams,
    /// The raw body.
    pub body: &'a [u8],
}

/// Verifies a signed request for an application with `key` and `secret`.
///
/// `now` is the server's Unix time in seconds; `window` the allowed skew.
pub fn verify(
    request: &SignedRequest<'_>,
    key: &str,
    secret: &str,
    now: u64,
    window: u64,
) -> Result<(), ApiAuthError> {
    let SignedRequest {
        method,
        path,
        params,
        body,
    } = *request;
    let auth_key = params.auth_key()?;
    let timestamp = params
        .get("auth_timestamp")
        .ok_or(ApiAuthError::MissingParam("auth_timestamp"))?;
    let version = params
        .get("auth_version")
        .ok_or(ApiAuthError::MissingParam("auth_version"))?;
    let signature = params
        .get("auth_signature")
        .ok_or(ApiAuthError::MissingParam("auth_signature"))?;
    if !constant_time_eq(auth_key.as_bytes(), key.as_bytes()) {
        return Err(ApiAuthError::WrongKey);
    }
    if version != AUTH_VERSION {
        return Err(ApiAuthError::UnsupportedVersion(version.to_owned()));
    }
    let timestamp: u64 = timestamp
        .parse()
        .map_err(|_| ApiAuthError::BadTimestamp(timestamp.to_owned()))?;
    let skew = now.abs_diff(timestamp);
    if skew > window {
        return Err(ApiAuthError::TimestampOutOfWindow { skew, window });
    }
    match params.get("body_md5") {
        Some(md5) if !constant_time_eq(md5.as_bytes(), body_md5(body).as_bytes()) => {
            return Err(ApiAuthError::BodyMd5Mismatch)
        }
        None if !body.is_empty() => return Err(ApiAuthError::MissingBodyMd5),
        _ => {}
    }
    let string_to_sign = string_to_sign(method, path, params);
    let expected = hmac_sha256_hex(secret.as_bytes(), &[string_to_sign.as_bytes()]);
    if constant_time_eq(
        expected.as_bytes(),
        signature.to_ascii_lowercase().as_bytes(),
    ) {
        Ok(())
    } else {
        Err(ApiAuthError::BadSignature { string_to_sign })
    }
}

/// Signs a request as the node SDK does and returns the query string to append to `path`
/// (`auth_key`, `auth_timestamp`, `auth_version`, `body_md5` when the body is not empty, the
/// `extra` params, and `auth_signature`). Values in the returned string are percent-encoded.
pub fn sign(
    method: &str,
    path: &str,
    key: &str,
    secret: &str,
    timestamp: u64,
    body: &[u8],
    extra: &[(&str, &str)],
) -> String {
    let mut pairs: Vec<(String, String)> = vec![
        ("auth_key".into(), key.into()),
        ("auth_timestamp".into(), timestamp.to_string()),
        ("auth_version".into(), AUTH_VERSION.into()),
    ];
    if !body.is_empty() {
        pairs.push(("body_md5".into(), body_md5(body)));
    }
    pairs.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let params = QueryParams { pairs };
    let signature = hmac_sha256_hex(
        secret.as_bytes(),
        &[string_to_sign(method, path, &params).as_bytes()],
    );
    let mut out = String::new();
    for (k, v) in params
        .pairs
        .iter()
        .chain(std::iter::once(&("auth_signature".to_owned(), signature)))
    {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&percent_encode(k));
        out.push('=');
        out.push_str(&percent_encode(v));
    }
    out
}

fn percent_decode(s: &str) -> Result<String, ApiAuthError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .ok_or(ApiAuthError::MalformedQuery)?;
                let hex = std::str::from_utf8(hex).map_err(|_| ApiAuthError::MalformedQuery)?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| ApiAuthError::MalformedQuery)?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| ApiAuthError::MalformedQuery)
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b',') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_sorts() {
        let p = QueryParams::parse("b=2&A=x%20y&auth_signature=zz&c=a+b").unwrap();
        assert_eq!(p.canonical(), "a=x y&b=2&c=a b");
        assert_eq!(
            QueryParams::parse("a=%zz"),
            Err(ApiAuthError::MalformedQuery)
        );
        assert_eq!(QueryParams::parse("a=%"), Err(ApiAuthError::MalformedQuery));
        assert_eq!(
            QueryParams::parse("a=%ff"),
            Err(ApiAuthError::MalformedQuery)
        );
    }

    fn req<'a>(path: &'a str, params: &'a QueryParams, body: &'a [u8]) -> SignedRequest<'a> {
        SignedRequest {
            method: "POST",
            path,
            params,
            body,
        }
    }

    #[test]
    fn sign_then_verify() {
        let body = br#"{"name":"e","channels":["a"],"data":"x"}"#;
        let q = sign(
            "POST",
            "/apps/1/events",
            "k",
            "s",
            1000,
            body,
            &[("info", "user_count,subscription_count")],
        );
        let p = QueryParams::parse(&q).unwrap();
        assert_eq!(
            verify(&req("/apps/1/events", &p, body), "k", "s", 1100, 600),
            Ok(())
        );
        assert!(matches!(
            verify(&req("/apps/1/events", &p, body), "k", "s", 1601, 600),
            Err(ApiAuthError::TimestampOutOfWindow { skew: 601, .. })
        ));
        assert_eq!(
            verify(&req("/apps/1/events", &p, b"{}"), "k", "s", 1000, 600),
            Err(ApiAuthError::BodyMd5Mismatch)
        );
        assert_eq!(
            verify(&req("/apps/1/events", &p, body), "other", "s", 1000, 600),
            Err(ApiAuthError::WrongKey)
        );
        assert!(matches!(
            verify(&req("/apps/2/events", &p, body), "k", "s", 1000, 600),
            Err(ApiAuthError::BadSignature { .. })
        ));
    }
}
