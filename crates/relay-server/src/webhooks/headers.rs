//! The headers of a delivery: custom header validation, the subscriber set (Standard Webhooks
//! plus Relay's own `X-Relay-*`, spec `webhooks.md` §1.6 and §7.3) and the Pusher set.
//!
//! `User-Agent: Relay/<version>` is set by the delivery client, not here.

use std::collections::BTreeMap;

use reqwest::header::{HeaderName, HeaderValue};
use uuid::Uuid;

use super::{model::Webhook, signing};

/// Header names a custom header may not use: Relay or the HTTP layer sets them.
const FORBIDDEN: &[&str] = &[
    "host",
    "content-type",
    "content-length",
    "user-agent",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
];

/// Header name prefixes a custom header may not use.
const FORBIDDEN_PREFIXES: &[&str] = &["proxy-", "webhook-", "x-relay-", "x-pusher-"];

/// Checks one custom header: valid HTTP syntax, and not a name Relay or HTTP reserves.
fn validate_header(name: &str, value: &str) -> Result<(), String> {
    if HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(format!(
            "header name {name:?} is not a valid HTTP header name"
        ));
    }
    if HeaderValue::from_str(value).is_err() {
        return Err(format!(
            "the value of header {name:?} is not a valid HTTP header value (no control characters or line breaks)"
        ));
    }
    let lower = name.to_ascii_lowercase();
    if FORBIDDEN.contains(&lower.as_str()) {
        return Err(format!(
            "header {name:?} cannot be set: Relay or the HTTP layer sets it"
        ));
    }
    if let Some(prefix) = FORBIDDEN_PREFIXES.iter().find(|p| lower.starts_with(*p)) {
        return Err(format!(
            "header {name:?} cannot be set: {prefix}* headers are reserved"
        ));
    }
    Ok(())
}

/// Validates a webhook's custom headers (names and values are valid HTTP; none of `Host`,
/// `Content-Type`, `Content-Length`, `User-Agent`, the hop-by-hop headers, `Proxy-*`,
/// `Webhook-*`, `X-Relay-*`, `X-Pusher-*`, case-insensitively). The error names the first bad
/// header.
pub fn validate_custom_headers(headers: &BTreeMap<String, String>) -> Result<(), String> {
    headers
        .iter()
        .try_for_each(|(name, value)| validate_header(name, value))
}

/// The first dotted segment of an event name, or the vertical it belongs to: the
/// `X-Relay-Resource` value (`webhook` for `webhook.test`).
fn resource_of(event: &str) -> String {
    match relay_core::vertical_of(event) {
        Some(vertical) => vertical.as_str().to_owned(),
        None => event.split('.').next().unwrap_or(event).to_owned(),
    }
}

/// The headers of one subscriber delivery attempt, in order: the webhook's custom headers (only
/// those that pass validation, and never one named like Relay's, case-insensitively), then
/// `Content-Type: application/json`, `webhook-id` (`message_id`, stable across retries),
/// `webhook-timestamp` (this attempt), `webhook-signature`, `X-Relay-Signature`,
/// `X-Relay-Webhook-ID`, `X-Relay-Delivery-ID` (`attempt_id`), `X-Relay-Topic` (the event name),
/// `X-Relay-Resource` (its vertical), `X-Relay-Event` (its last segment) and, with a domain,
/// `X-Relay-Source: https://{domain}/`.
pub fn subscriber_headers(
    webhook: &Webhook,
    message_id: &str,
    attempt_id: Uuid,
    event: &str,
    domain: Option<&str>,
    timestamp: i64,
    body: &str,
) -> Vec<(String, String)> {
    let mut ours: Vec<(String, String)> = vec![
        ("Content-Type".into(), "application/json".into()),
        ("webhook-id".into(), message_id.into()),
        ("webhook-timestamp".into(), timestamp.to_string()),
        (
            "webhook-signature".into(),
            signing::standard_signature(&webhook.secret, message_id, timestamp, body.as_bytes()),
        ),
        (
            "X-Relay-Signature".into(),
            signing::relay_signature(&webhook.secret, body.as_bytes()),
        ),
        ("X-Relay-Webhook-ID".into(), webhook.id.to_string()),
        ("X-Relay-Delivery-ID".into(), attempt_id.to_string()),
        ("X-Relay-Topic".into(), event.into()),
        ("X-Relay-Resource".into(), resource_of(event)),
        (
            "X-Relay-Event".into(),
            event.rsplit('.').next().unwrap_or(event).into(),
        ),
    ];
    if let Some(domain) = domain {
        ours.push(("X-Relay-Source".into(), format!("https://{domain}/")));
    }
    let mut headers: Vec<(String, String)> = webhook
        .headers
        .iter()
        .filter(|(name, value)| validate_header(name, value).is_ok())
        .filter(|(name, _)| !ours.iter().any(|(o, _)| o.eq_ignore_ascii_case(name)))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    headers.extend(ours);
    headers
}

/// The headers of a Pusher-format app webhook: `Content-Type: application/json` (exactly, as
/// Pusher's SDK validators expect), `X-Pusher-Key` and `X-Pusher-Signature` (hex HMAC-SHA256 of
/// the body with the app secret).
pub fn pusher_headers(key: &str, secret: &str, body: &str) -> Vec<(String, String)> {
    use pusher_wire::auth::webhook;
    vec![
        ("Content-Type".into(), "application/json".into()),
        (webhook::KEY_HEADER.into(), key.into()),
        (
            webhook::SIGNATURE_HEADER.into(),
            webhook::sign(secret, body.as_bytes()),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::webhooks::model::WebhookStatus;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn webhook(headers: &[(&str, &str)]) -> Webhook {
        Webhook {
            id: 7,
            name: "test".into(),
            url: "https://example.com/hook".into(),
            events: vec!["*".into()],
            website_ids: None,
            status: WebhookStatus::Active,
            secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD".into(),
            headers: map(headers),
            retry_count: 5,
            last_triggered_at: None,
            last_error: None,
            consecutive_failures: 0,
            disabled_reason: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn get<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
        headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    #[test]
    fn valid_custom_headers() {
        assert!(validate_custom_headers(&map(&[])).is_ok());
        assert!(validate_custom_headers(&map(&[
            ("Authorization", "Bearer abc"),
            ("X-Tenant", "acme corp"),
            ("x-api-key", "k"),
            ("X-Proxyish", "fine"),
            ("X-Webhook-Source", "fine: only webhook-* is reserved"),
        ]))
        .is_ok());
    }

    #[test]
    fn forbidden_custom_headers() {
        for name in [
            "Host",
            "content-type",
            "Content-Length",
            "USER-AGENT",
            "Connection",
            "Keep-Alive",
            "Transfer-Encoding",
            "TE",
            "Trailer",
            "Upgrade",
            "Proxy-Authorization",
            "proxy-connection",
            "webhook-id",
            "Webhook-Signature",
            "X-Relay-Signature",
            "x-relay-anything",
            "X-Pusher-Key",
        ] {
            let err = validate_custom_headers(&map(&[(name, "v")])).unwrap_err();
            assert!(err.contains(name), "{name}: {err}");
        }
    }

    #[test]
    fn malformed_custom_headers() {
        for name in ["", "Bad Name", "bad:name", "bäd", "x\n"] {
            assert!(
                validate_custom_headers(&map(&[(name, "v")])).is_err(),
                "{name:?}"
            );
        }
        for value in ["line\nbreak", "cr\rlf", "nul\0", "del\x7f"] {
            assert!(
                validate_custom_headers(&map(&[("X-Ok", value)])).is_err(),
                "{value:?}"
            );
        }
    }

    #[test]
    fn subscriber_header_set() {
        let hook = webhook(&[("Authorization", "Bearer t")]);
        let attempt = Uuid::new_v4();
        let body = r#"{"event":"x"}"#;
        let headers = subscriber_headers(
            &hook,
            "msg_abc",
            attempt,
            "filesystem_layer.file_quarantine.completed",
            Some("example.com"),
            1_700_000_000,
            body,
        );
        let one = |name| {
            let values = get(&headers, name);
            assert_eq!(values.len(), 1, "{name}: {values:?}");
            values[0].to_owned()
        };
        assert_eq!(headers[0], ("Authorization".into(), "Bearer t".into()));
        assert_eq!(one("Content-Type"), "application/json");
        assert_eq!(one("webhook-id"), "msg_abc");
        assert_eq!(one("webhook-timestamp"), "1700000000");
        assert_eq!(
            one("webhook-signature"),
            signing::standard_signature(&hook.secret, "msg_abc", 1_700_000_000, body.as_bytes())
        );
        assert_eq!(
            one("X-Relay-Signature"),
            signing::relay_signature(&hook.secret, body.as_bytes())
        );
        assert_eq!(one("X-Relay-Webhook-ID"), "7");
        assert_eq!(one("X-Relay-Delivery-ID"), attempt.to_string());
        assert_eq!(
            one("X-Relay-Topic"),
            "filesystem_layer.file_quarantine.completed"
        );
        assert_eq!(one("X-Relay-Resource"), "filesystem_layer");
        assert_eq!(one("X-Relay-Event"), "completed");
        assert_eq!(one("X-Relay-Source"), "https://example.com/");
    }

    #[test]
    fn resource_and_event_segments() {
        let hook = webhook(&[]);
        let headers = |event| subscriber_headers(&hook, "m", Uuid::nil(), event, None, 0, "{}");
        let test = headers("webhook.test");
        assert_eq!(get(&test, "X-Relay-Resource"), ["webhook"]);
        assert_eq!(get(&test, "X-Relay-Event"), ["test"]);
        assert!(get(&test, "X-Relay-Source").is_empty());
        let firewall = headers("network_layer.firewall.toggled.on");
        assert_eq!(get(&firewall, "X-Relay-Resource"), ["firewall_layer"]);
        assert_eq!(get(&firewall, "X-Relay-Event"), ["on"]);
        assert_eq!(
            get(&firewall, "X-Relay-Topic"),
            ["network_layer.firewall.toggled.on"]
        );
        let odd = headers("Not A Valid Name!");
        assert_eq!(get(&odd, "X-Relay-Resource"), ["Not A Valid Name!"]);
        assert_eq!(get(&odd, "X-Relay-Event"), ["Not A Valid Name!"]);
    }

    #[test]
    fn custom_headers_never_override_ours() {
        // Stored headers bypassing validation (e.g. older rows) are dropped, not sent.
        let hook = webhook(&[
            ("content-type", "text/plain"),
            ("WEBHOOK-ID", "forged"),
            ("x-relay-signature", "sha256=forged"),
            ("X-Relay-Source", "https://evil.example/"),
            ("Host", "internal"),
            ("Bad Name", "x"),
            ("X-Fine", "kept"),
        ]);
        let headers = subscriber_headers(&hook, "m", Uuid::nil(), "webhook.test", None, 0, "{}");
        assert_eq!(get(&headers, "content-type"), ["application/json"]);
        assert_eq!(get(&headers, "webhook-id"), ["m"]);
        assert_eq!(get(&headers, "x-relay-signature").len(), 1);
        assert_ne!(get(&headers, "x-relay-signature"), ["sha256=forged"]);
        assert!(get(&headers, "X-Relay-Source").is_empty());
        assert!(get(&headers, "Host").is_empty());
        assert!(get(&headers, "Bad Name").is_empty());
        assert_eq!(get(&headers, "X-Fine"), ["kept"]);
    }

    #[test]
    fn pusher_header_set() {
        let body = r#"{"time_ms":1,"events":[]}"#;
        let headers = pusher_headers("app-key", "app-secret", body);
        assert_eq!(
            headers,
            vec![
                ("Content-Type".to_owned(), "application/json".to_owned()),
                ("X-Pusher-Key".to_owned(), "app-key".to_owned()),
                (
                    "X-Pusher-Signature".to_owned(),
                    pusher_wire::auth::hmac_sha256_hex(b"app-secret", &[body.as_bytes()])
                ),
            ]
        );
        assert!(pusher_wire::auth::webhook::verify(
            "app-secret",
            body.as_bytes(),
            &headers[2].1
        ));
    }
}
