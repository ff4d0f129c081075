//! Subscriber webhook signatures, verified independently of Relay's own code: the Standard
//! Webhooks reference crate (`standardwebhooks`) for `webhook-signature`, and a direct
//! `hmac`/`sha2` computation for `X-Relay-Signature`.

use std::collections::BTreeMap;

use base64::{engine::general_purpose::STANDARD, Engine as _};
use chrono::Utc;
use hmac::{Hmac, Mac};
use relay_server::webhooks::{
    headers::subscriber_headers,
    model::{Webhook, WebhookStatus},
    signing::{generate_secret, relay_signature, standard_signature},
};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use sha2::Sha256;
use uuid::Uuid;

const VECTOR_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const VECTOR_ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
const VECTOR_TS: i64 = 1649367553;
const VECTOR_BODY: &str = r#"{"email":"test@example.com","username":"test_user"}"#;

fn header_map(headers: &[(String, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

fn webhook(secret: &str) -> Webhook {
    Webhook {
        id: 42,
        name: "signing".into(),
        url: "https://example.com/hook".into(),
        events: vec!["*".into()],
        website_ids: None,
        status: WebhookStatus::Active,
        secret: secret.into(),
        headers: BTreeMap::new(),
        retry_count: 3,
        last_triggered_at: None,
        last_error: None,
        consecutive_failures: 0,
        disabled_reason: None,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

#[test]
fn spec_vector_matches_ours_and_the_reference_crate() {
    let ours = standard_signature(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY.as_bytes());
    assert_eq!(ours, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
    let reference = standardwebhooks::Webhook::new(VECTOR_SECRET)
        .unwrap()
        .sign(VECTOR_ID, VECTOR_TS, VECTOR_BODY.as_bytes())
        .unwrap();
    assert_eq!(ours, reference);
}

#[test]
fn reference_crate_verifies_our_headers() {
    for random in [[0u8; 24], [0xa5; 24], *b"0123456789abcdefghijklmn"] {
        let secret = generate_secret(&random);
        let hook = webhook(&secret);
        let body =
            r#"{"event":"webhook.test","timestamp":"2026-01-01T00:00:00Z","data":{"ok":true}}"#;
        let now = Utc::now().timestamp();
        let headers = subscriber_headers(
            &hook,
            "msg_0190f1d2a3b4c5d6e7f8",
            Uuid::new_v4(),
            "webhook.test",
            Some("example.com"),
            now,
            body,
        );
        let verifier = standardwebhooks::Webhook::new(&secret).unwrap();
        verifier
            .verify(body.as_bytes(), &header_map(&headers))
            .expect("the reference crate accepts our webhook-signature");
        // A tampered body is refused.
        assert!(verifier
            .verify(b"{\"event\":\"tampered\"}", &header_map(&headers))
            .is_err());
        // Another secret is refused.
        let other = standardwebhooks::Webhook::new(&generate_secret(&[9u8; 24])).unwrap();
        assert!(other
            .verify(body.as_bytes(), &header_map(&headers))
            .is_err());
    }
}

#[test]
fn raw_secrets_verify_with_the_raw_bytes() {
    // A secret chosen by an operator without the whsec_ prefix keys HMAC with its own bytes.
    let secret = "my shared secret";
    let now = Utc::now().timestamp();
    let hook = webhook(secret);
    let headers = subscriber_headers(
        &hook,
        "msg_x",
        Uuid::new_v4(),
        "webhook.test",
        None,
        now,
        "{}",
    );
    standardwebhooks::Webhook::from_bytes(secret.as_bytes().to_vec())
        .unwrap()
        .verify(b"{}", &header_map(&headers))
        .expect("verifies with the raw secret bytes");
}

#[test]
fn relay_signature_matches_an_independent_hmac() {
    for secret in [VECTOR_SECRET, "plain", ""] {
        for body in ["", "{}", VECTOR_BODY, "ünïcödé ✓"] {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
            mac.update(body.as_bytes());
            let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
            assert_eq!(relay_signature(secret, body.as_bytes()), expected);
        }
    }
    // Keyed with the stored string, whsec_ included, not the decoded bytes.
    let decoded = STANDARD.decode(&VECTOR_SECRET[6..]).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&decoded).unwrap();
    mac.update(b"{}");
    let with_decoded = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_ne!(relay_signature(VECTOR_SECRET, b"{}"), with_decoded);
}

#[test]
fn relay_signature_header_is_over_the_exact_body() {
    let hook = webhook(VECTOR_SECRET);
    let body = r#"{"event":"backup.completed","data":{"size":1}}"#;
    let headers = subscriber_headers(
        &hook,
        "m",
        Uuid::new_v4(),
        "backup.completed",
        None,
        1,
        body,
    );
    let sig = headers
        .iter()
        .find(|(n, _)| n == "X-Relay-Signature")
        .map(|(_, v)| v.clone())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(VECTOR_SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    mac.verify_slice(&hex::decode(sig.strip_prefix("sha256=").unwrap()).unwrap())
        .expect("X-Relay-Signature verifies");
}
