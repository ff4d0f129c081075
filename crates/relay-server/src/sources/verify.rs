//! Signature checks and event names of the three source kinds: pure functions, no I/O.
//!
//! * Fluent Community (seed 002): `X-Fluent-Signature: sha256=<hex HMAC-SHA256(secret, body)>`,
//!   keyed with the secret string as configured (the seed's `crypto.createHmac('sha256', secret)`).
//! * Fast Events (seed 004): `X-FE-Webhook-Signature: <base64 HMAC-SHA256(secret, body)>`, over
//!   the raw body "without any possible newlines at the end": the body as received is tried
//!   first, then without trailing CR/LF.
//! * Standard Webhooks (spec `webhooks.md` §1): `webhook-signature` holds space-separated
//!   `v1,<base64>` entries over `{webhook-id}.{webhook-timestamp}.{body}`, keyed with the
//!   base64-decoded part of a `whsec_` secret (the raw bytes otherwise); any one matching is
//!   enough (key rotation). `webhook-timestamp` must be within the tolerance, in both
//!   directions.
//!
//! Every comparison is constant time over the MAC bytes.

use base64::{engine::general_purpose::STANDARD, Engine as _};
use pusher_wire::auth::{constant_time_eq, hmac_sha256};
use serde::Deserialize;

use super::model::SourceKind;
use crate::webhooks::signing::standard_key;

/// Whether `header` is `sha256=<hex>` of the body keyed with `secret` (hex in either case).
pub fn fluent(secret: &str, body: &[u8], header: &str) -> bool {
    let Some(given) = header
        .trim()
        .strip_prefix("sha256=")
        .and_then(|hex_sig| hex::decode(hex_sig).ok())
    else {
        return false;
    };
    constant_time_eq(&hmac_sha256(secret.as_bytes(), &[body]), &given)
}

/// `sha256=<hex>`: the Fluent Community signature of a body (for tests and senders).
pub fn fluent_signature(secret: &str, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(hmac_sha256(secret.as_bytes(), &[body]))
    )
}

/// Whether `header` is the base64 HMAC-SHA256 of the body (or of the body without trailing
/// newlines) keyed with `secret`.
pub fn fast_events(secret: &str, body: &[u8], header: &str) -> bool {
    let Ok(given) = STANDARD.decode(header.trim()) else {
        return false;
    };
    let trimmed = body.trim_ascii_end();
    let exact = constant_time_eq(&hmac_sha256(secret.as_bytes(), &[body]), &given);
    let without_newlines = trimmed.len() != body.len()
        && body[trimmed.len()..]
            .iter()
            .all(|b| matches!(b, b'\r' | b'\n'))
        && constant_time_eq(&hmac_sha256(secret.as_bytes(), &[trimmed]), &given);
    exact | without_newlines
}

/// The base64 Fast Events signature of a body (for tests and senders).
pub fn fast_events_signature(secret: &str, body: &[u8]) -> String {
    STANDARD.encode(hmac_sha256(secret.as_bytes(), &[body]))
}

/// Why a Standard Webhooks request is refused.
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
pub enum StandardError {
    /// `webhook-timestamp` is not an integer.
    #[error("webhook-timestamp is not a Unix time in seconds")]
    BadTimestamp,
    /// The timestamp is outside the tolerance (a replay, or a wrong clock).
    #[error("webhook-timestamp is outside the tolerance")]
    Stale,
    /// No `v1` signature matches.
    #[error("no webhook-signature matches")]
    BadSignature,
}

/// Checks a Standard Webhooks request: the timestamp against `now` (Unix seconds) within
/// `tolerance` seconds, then every `v1,` entry of `signatures`.
pub fn standard(
    secret: &str,
    msg_id: &str,
    timestamp: &str,
    body: &[u8],
    signatures: &str,
    now: i64,
    tolerance: u64,
) -> Result<(), StandardError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| StandardError::BadTimestamp)?;
    if now.abs_diff(ts) > tolerance {
        return Err(StandardError::Stale);
    }
    let key = standard_key(secret);
    let expected = hmac_sha256(
        &key,
        &[
            msg_id.as_bytes(),
            b".",
            timestamp.trim().as_bytes(),
            b".",
            body,
        ],
    );
    let mut ok = false;
    for entry in signatures.split_ascii_whitespace() {
        if let Some(sig) = entry.strip_prefix("v1,") {
            if let Ok(given) = STANDARD.decode(sig) {
                ok |= constant_time_eq(&expected, &given);
            }
        }
    }
    if ok {
        Ok(())
    } else {
        Err(StandardError::BadSignature)
    }
}

/// The longest broadcast event name, bytes (Pusher's limit).
pub const MAX_EVENT_NAME: usize = 200;

/// `{namespace}.{name}` with `name` lowercased and any character outside `a-z 0-9 _ - .`
/// replaced by `_`; `None` when a segment is empty or the result is too long.
pub fn namespaced(kind: SourceKind, name: &str) -> Option<String> {
    let name: String = name
        .trim()
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let full = format!("{}.{name}", kind.as_str());
    (!name.split('.').any(str::is_empty) && full.len() <= MAX_EVENT_NAME).then_some(full)
}

/// The name fields a payload may carry (anything else is ignored).
#[derive(Deserialize)]
struct Named {
    #[serde(default)]
    event: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    topic: Option<String>,
}

fn named(body: &[u8]) -> Option<Named> {
    serde_json::from_slice(body).ok()
}

/// The broadcast event name of a request, from its body and kept headers (lowercase names):
///
/// * Fluent Community: `fluent_community.` + the payload's `event` (`feed.created`);
/// * Fast Events: `fast_events.` + `X-FE-Webhook-Topic` (`order.created`), else
///   `X-FE-Webhook-Resource` + `.` + `X-FE-Webhook-Event`, else the payload's `topic`;
/// * Standard Webhooks: `standard_webhooks.` + the payload's `type` (spec §1.4), else
///   `standard_webhooks.message`.
pub fn event_name(
    kind: SourceKind,
    headers: &std::collections::BTreeMap<String, String>,
    body: &[u8],
) -> Result<String, &'static str> {
    let name = match kind {
        SourceKind::FluentCommunity => named(body)
            .and_then(|n| n.event)
            .ok_or("the payload has no \"event\" string")?,
        SourceKind::FastEvents => {
            let header = |n: &str| headers.get(n).map(|v| v.trim()).filter(|v| !v.is_empty());
            match (
                header("x-fe-webhook-topic"),
                header("x-fe-webhook-resource"),
                header("x-fe-webhook-event"),
            ) {
                (Some(topic), _, _) => topic.to_owned(),
                (None, Some(resource), Some(event)) => format!("{resource}.{event}"),
                _ => named(body)
                    .and_then(|n| n.topic)
                    .ok_or("no X-FE-Webhook-Topic header")?,
            }
        }
        SourceKind::StandardWebhooks => named(body)
            .and_then(|n| n.kind)
            .unwrap_or_else(|| "message".to_owned()),
    };
    namespaced(kind, &name).ok_or("the event name is empty, malformed or too long")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn fluent_signatures() {
        let body = br#"{"event":"feed.created"}"#;
        let sig = fluent_signature("whsec_abc", body);
        assert!(fluent("whsec_abc", body, &sig));
        assert!(fluent(
            "whsec_abc",
            body,
            &sig.to_ascii_uppercase().replace("SHA256=", "sha256=")
        ));
        assert!(!fluent("whsec_abd", body, &sig));
        assert!(!fluent("whsec_abc", b"{}", &sig));
        assert!(!fluent(
            "whsec_abc",
            body,
            sig.trim_start_matches("sha256=")
        ));
        assert!(!fluent("whsec_abc", body, "sha256=zz"));
        assert!(!fluent("whsec_abc", body, ""));
    }

    #[test]
    fn fast_events_signatures() {
        let body = br#"{"id":1}"#;
        let sig = fast_events_signature("yoursharedsecret", body);
        assert!(fast_events("yoursharedsecret", body, &sig));
        // a trailing newline added on the way is tolerated
        assert!(fast_events("yoursharedsecret", b"{\"id\":1}\r\n", &sig));
        assert!(!fast_events("yoursharedsecret", b"{\"id\":1} ", &sig));
        assert!(!fast_events("other", body, &sig));
        assert!(!fast_events("yoursharedsecret", body, "not base64!"));
        assert!(!fast_events("yoursharedsecret", body, ""));
    }

    #[test]
    fn standard_webhooks_vector_and_rotation() {
        // Spec webhooks.md §1.2 test vector.
        let secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
        let id = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
        let body = br#"{"email":"test@example.com","username":"test_user"}"#;
        let good = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
        let now = 1649367553;
        assert_eq!(
            standard(secret, id, "1649367553", body, good, now, 300),
            Ok(())
        );
        let several = format!("v1,AAAA v1a,xyz v1,bm90IGl0 {good}");
        assert_eq!(
            standard(secret, id, "1649367553", body, &several, now + 299, 300),
            Ok(())
        );
        assert_eq!(
            standard(secret, id, "1649367553", body, good, now + 301, 300),
            Err(StandardError::Stale)
        );
        assert_eq!(
            standard(secret, id, "1649367553", body, good, now - 301, 300),
            Err(StandardError::Stale)
        );
        assert_eq!(
            standard(secret, id, "1649367554", body, good, now, 300),
            Err(StandardError::BadSignature)
        );
        assert_eq!(
            standard(secret, "msg_other", "1649367553", body, good, now, 300),
            Err(StandardError::BadSignature)
        );
        assert_eq!(
            standard(secret, id, "soon", body, good, now, 300),
            Err(StandardError::BadTimestamp)
        );
        assert_eq!(
            standard(secret, id, "1649367553", body, "v1a,abc", now, 300),
            Err(StandardError::BadSignature)
        );
    }

    #[test]
    fn event_names() {
        let none = BTreeMap::new();
        assert_eq!(
            event_name(
                SourceKind::FluentCommunity,
                &none,
                br#"{"event":"feed.created","data":{}}"#
            ),
            Ok("fluent_community.feed.created".to_owned())
        );
        assert!(event_name(SourceKind::FluentCommunity, &none, b"{}").is_err());
        assert!(event_name(SourceKind::FluentCommunity, &none, b"not json").is_err());
        let mut fe = BTreeMap::new();
        fe.insert("x-fe-webhook-resource".to_owned(), "order".to_owned());
        fe.insert("x-fe-webhook-event".to_owned(), "created".to_owned());
        assert_eq!(
            event_name(SourceKind::FastEvents, &fe, b"{}"),
            Ok("fast_events.order.created".to_owned())
        );
        fe.insert("x-fe-webhook-topic".to_owned(), "Order.Updated".to_owned());
        assert_eq!(
            event_name(SourceKind::FastEvents, &fe, b"{}"),
            Ok("fast_events.order.updated".to_owned())
        );
        assert_eq!(
            event_name(
                SourceKind::FastEvents,
                &none,
                br#"{"topic":"scan.success"}"#
            ),
            Ok("fast_events.scan.success".to_owned())
        );
        assert!(event_name(SourceKind::FastEvents, &none, b"{}").is_err());
        assert_eq!(
            event_name(
                SourceKind::StandardWebhooks,
                &none,
                br#"{"type":"invoice.paid","data":{}}"#
            ),
            Ok("standard_webhooks.invoice.paid".to_owned())
        );
        assert_eq!(
            event_name(SourceKind::StandardWebhooks, &none, b"[1]"),
            Ok("standard_webhooks.message".to_owned())
        );
        assert_eq!(
            namespaced(SourceKind::StandardWebhooks, "user created!"),
            Some("standard_webhooks.user_created_".to_owned())
        );
        assert_eq!(namespaced(SourceKind::StandardWebhooks, "a..b"), None);
        assert_eq!(namespaced(SourceKind::StandardWebhooks, ""), None);
        assert_eq!(
            namespaced(SourceKind::StandardWebhooks, &"a".repeat(200)),
            None
        );
    }
}
