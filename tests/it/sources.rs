//! Plugin webhook sources end to end (issue 8): requests signed as each plugin signs them reach a
//! WebSocket client on the site's channel; bad signatures, the Fast Events test request,
//! duplicates, many concurrent posts, and a crash between the 200 and the broadcast with
//! PostgreSQL.

use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use relay_e2e::{
    admin, post_json,
    receiver::{Receiver, Reply},
    unix_now, Client, Server, TestDatabase, KEY, SECRET,
};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::BIN;

const ADMIN: &str = "admin-token-1";
const WAIT: Duration = Duration::from_secs(10);

async fn start(extra: &[(&str, &str)], config: Option<&str>) -> Server {
    let mut env = vec![
        ("RELAY_ADMIN_TOKEN", ADMIN),
        ("RELAY_WEBHOOKS_ALLOW_HTTP", "true"),
        ("RELAY_WEBHOOKS_ALLOW_PRIVATE_NETWORKS", "true"),
    ];
    env.extend_from_slice(extra);
    Server::start(BIN, &env, config).await
}

/// Registers a site; returns its website id (the channel name: no prefix configured).
async fn add_site(server: &Server, domain: &str) -> String {
    let (status, site) = admin(
        "POST",
        &server.url("/admin/sites"),
        ADMIN,
        Some(&json!({ "domain": domain }).to_string()),
    )
    .await;
    assert_eq!(status, 201, "{site}");
    site["website_id"].as_str().unwrap().to_owned()
}

async fn add_source(server: &Server, kind: &str, domain: &str, secret: &str) -> Value {
    let (status, source) = admin(
        "POST",
        &server.url("/admin/sources"),
        ADMIN,
        Some(&json!({ "kind": kind, "domain": domain, "secret": secret }).to_string()),
    )
    .await;
    assert_eq!(status, 201, "{source}");
    source
}

fn hook_url(server: &Server, source: &Value) -> String {
    server.url(source["receive_url"].as_str().unwrap())
}

async fn subscribed(server: &Server, channel: &str) -> Client {
    let mut client = Client::connect(server).await;
    client.subscribe(channel).await;
    client
}

/// The next frame of `event`, asserting it is on `channel`.
async fn next_event(client: &mut Client, channel: &str, event: &str) -> Value {
    let frame = match client.next(WAIT).await {
        Ok(Some(frame)) => frame,
        other => panic!("expected {event}, got {other:?}"),
    };
    assert_eq!(frame["event"], event, "{frame}");
    assert_eq!(frame["channel"], channel, "{frame}");
    frame
}

/// The value of a metric line (`name{label="value"}`), 0 when absent.
async fn metric(server: &Server, line: &str) -> u64 {
    let text = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(line)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0)
}

fn hmac(secret: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// Seed 002: `'sha256=' + createHmac('sha256', secret).update(payload).digest('hex')`.
fn fluent_signature(secret: &str, body: &str) -> String {
    format!(
        "sha256={}",
        hex::encode(hmac(secret.as_bytes(), body.as_bytes()))
    )
}

/// Seed 004: `createHmac("sha256", secret).update(payload).digest().toString('base64')`.
fn fast_events_signature(secret: &str, body: &str) -> String {
    base64(&hmac(secret.as_bytes(), body.as_bytes()))
}

/// Standard base64 with padding (kept here so the test does not share the server's encoder).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Seed 002's payload shape.
fn fluent_body(id: u32) -> String {
    json!({
        "event": "feed.created",
        "timestamp": "2024-01-15T10:30:00Z",
        "data": {"id": id, "user_id": 45, "title": "Welcome to our community!",
                 "message": "We're excited to have you here...", "space_id": 12,
                 "created_at": "2024-01-15 10:30:00"},
        "xprofile": {"user_id": 45, "display_name": "User Name", "username": "username",
                     "meta": {"badge_slug": ["badge1", "badge2"]}, "badge": null}
    })
    .to_string()
}

/// A Fast Events order payload, with spacing as PHP's `json_encode` would not produce, to
/// prove the body is passed on byte for byte.
fn fast_events_body(id: u32) -> String {
    format!(
        "{{\"id\": {id},  \"event_id\": 7, \"name\": \"Jane\", \"email\": \"jane@example.com\", \"tickets\": [{{\"type\": \"Adult\", \"qty\": 2}}]}}"
    )
}

async fn post_fast_events(url: &str, secret: &str, delivery_id: &str, body: &str) -> (u16, Value) {
    let signature = fast_events_signature(secret, body);
    post_json(
        url,
        &[
            ("user-agent", "Fast-Events/1.6.0 (WordPress/6.1.1)"),
            ("x-fe-webhook-id", "3"),
            ("x-fe-webhook-source", "https://vinyl-openair.com/"),
            ("x-fe-webhook-topic", "order.created"),
            ("x-fe-webhook-resource", "order"),
            ("x-fe-webhook-event", "created"),
            ("x-fe-webhook-delivery-id", delivery_id),
            ("x-fe-webhook-signature", &signature),
        ],
        body,
    )
    .await
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn admin_api_manages_sources() {
    let server = start(&[], None).await;
    let base = server.url("/admin/sources");
    // no or wrong token
    let (status, body) = admin("GET", &base, "wrong-token", None).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["error"].is_string());
    let (status, _) = admin("POST", &base, "", Some("{}")).await;
    assert_eq!(status, 401);
    // the site must exist
    let (status, body) = admin(
        "POST",
        &base,
        ADMIN,
        Some(r#"{"kind":"fast_events","domain":"nosite.example"}"#),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("No site"),
        "{body}"
    );
    add_site(&server, "shop.example").await;
    for (bad, why) in [
        (r#"{"kind":"zapier","domain":"shop.example"}"#, "kind"),
        (
            r#"{"kind":"fast_events","domain":"not a domain"}"#,
            "domain",
        ),
        (
            r#"{"kind":"fast_events","domain":"shop.example","status":"on"}"#,
            "status",
        ),
        (
            r#"{"kind":"fast_events","domain":"shop.example","secret":""}"#,
            "secret",
        ),
        (
            r#"{"kind":"fast_events","domain":"shop.example","extra":1}"#,
            "unknown field",
        ),
        ("not json", "JSON"),
    ] {
        let (status, body) = admin("POST", &base, ADMIN, Some(bad)).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(why),
            "{bad}: {body}"
        );
    }
    // create: 201, the receive URL as a path and absolute; a secret is generated if absent
    let (status, created) = admin(
        "POST",
        &base,
        ADMIN,
        Some(r#"{"kind":"fast_events","domain":"HTTPS://Shop.Example/"}"#),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["kind"], "fast_events");
    assert_eq!(created["domain"], "shop.example");
    assert_eq!(created["status"], "active");
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(created["receive_url"], format!("/hooks/{id}"));
    assert_eq!(
        created["receive_url_absolute"],
        server.url(&format!("/hooks/{id}"))
    );
    assert!(created["created_at"].is_string() && created["updated_at"].is_string());
    let fluent = add_source(&server, "fluent_community", "shop.example", "whsec_abc123").await;
    assert_eq!(fluent["secret"], "whsec_abc123");
    // list and get
    let (status, list) = admin("GET", &base, ADMIN, None).await;
    assert_eq!(status, 200);
    let ids: Vec<i64> = list["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![id, fluent["id"].as_i64().unwrap()]);
    let (status, got) = admin("GET", &format!("{base}/{id}"), ADMIN, None).await;
    assert_eq!((status, &got), (200, &created));
    // update
    let (status, updated) = admin(
        "PATCH",
        &format!("{base}/{id}"),
        ADMIN,
        Some(r#"{"status":"inactive","secret":"new-secret"}"#),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["status"], "inactive");
    assert_eq!(updated["secret"], "new-secret");
    assert_eq!(updated["kind"], "fast_events");
    let (status, updated) = admin(
        "PUT",
        &format!("{base}/{id}"),
        ADMIN,
        Some(r#"{"kind":"standard_webhooks","status":"active"}"#),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["kind"], "standard_webhooks");
    let (status, body) = admin(
        "PATCH",
        &format!("{base}/{id}"),
        ADMIN,
        Some(r#"{"domain":"gone.example"}"#),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    // inbox listing
    let (status, inbox) = admin("GET", &format!("{base}/{id}/inbox"), ADMIN, None).await;
    assert_eq!((status, inbox), (200, json!({"inbox": []})));
    // missing ones
    for path in ["/999", "/abc", "/999/inbox"] {
        let (status, body) = admin("GET", &format!("{base}{path}"), ADMIN, None).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert!(body["error"].is_string());
    }
    let (status, _) = admin("PATCH", &format!("{base}/999"), ADMIN, Some("{}")).await;
    assert_eq!(status, 404);
    // delete
    let (status, _) = admin("DELETE", &format!("{base}/{id}"), ADMIN, None).await;
    assert_eq!(status, 204);
    let (status, _) = admin("DELETE", &format!("{base}/{id}"), ADMIN, None).await;
    assert_eq!(status, 404);
    let (status, _) = admin("GET", &format!("{base}/{id}"), ADMIN, None).await;
    assert_eq!(status, 404);
    // /admin/sites still answers (the sources scope does not shadow it)
    let (status, sites) = admin("GET", &server.url("/admin/sites"), ADMIN, None).await;
    assert_eq!(status, 200);
    assert_eq!(sites["sites"][0]["domain"], "shop.example");
}

#[tokio::test]
async fn fluent_community_webhooks_reach_the_site_channel_and_subscribers() {
    let server = start(&[], None).await;
    let website = add_site(&server, "community.example").await;
    let secret = "whsec_abc123xyz";
    let source = add_source(&server, "fluent_community", "community.example", secret).await;
    let url = hook_url(&server, &source);
    let receiver = Receiver::start(Reply::Status(200, "ok")).await;
    let (status, hook) = admin(
        "POST",
        &server.url("/admin/webhooks"),
        ADMIN,
        Some(
            &json!({"name": "community", "url": receiver.url("/in"), "events": ["fluent_community.*"]})
                .to_string(),
        ),
    )
    .await;
    assert_eq!(status, 201, "{hook}");
    let mut client = subscribed(&server, &website).await;

    let body = fluent_body(1);
    let (status, reply) = post_json(
        &url,
        &[("x-fluent-signature", &fluent_signature(secret, &body))],
        &body,
    )
    .await;
    assert_eq!((status, &reply), (200, &json!({"success": true})));
    let frame = next_event(&mut client, &website, "fluent_community.feed.created").await;
    assert_eq!(
        frame["data"],
        body.as_str(),
        "the payload exactly as received"
    );

    // fanned out to the subscriber webhook, payload as received
    let got = receiver.wait_for(1, WAIT).await;
    let delivery: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(delivery["event"], "fluent_community.feed.created");
    assert_eq!(delivery["website_id"], website.as_str());
    assert_eq!(delivery["domain"], "community.example");
    assert_eq!(
        delivery["data"],
        serde_json::from_str::<Value>(&body).unwrap()
    );

    // bad, missing and malformed signatures: 401, nothing broadcast
    for signature in [
        fluent_signature("wrong-secret", &body),
        fluent_signature(secret, &fluent_body(2)),
        fluent_signature(secret, &body).replace("sha256=", ""),
        String::new(),
    ] {
        let (status, reply) = post_json(&url, &[("x-fluent-signature", &signature)], &body).await;
        assert_eq!(status, 401, "{reply}");
        assert!(reply["error"].is_string());
    }
    let (status, _) = post_json(&url, &[], &fluent_body(3)).await;
    assert_eq!(status, 401);
    // a retry of the same body: 200, broadcast once
    let (status, reply) = post_json(
        &url,
        &[("x-fluent-signature", &fluent_signature(secret, &body))],
        &body,
    )
    .await;
    assert_eq!(
        (status, &reply),
        (200, &json!({"success": true, "duplicate": true}))
    );
    // a signed body without `event`: 400
    let no_event = r#"{"data":{}}"#;
    let (status, _) = post_json(
        &url,
        &[("x-fluent-signature", &fluent_signature(secret, no_event))],
        no_event,
    )
    .await;
    assert_eq!(status, 400);
    // a second, different event arrives next: nothing else came in between
    let second = fluent_body(4).replace("feed.created", "comment.created");
    let (status, _) = post_json(
        &url,
        &[("x-fluent-signature", &fluent_signature(secret, &second))],
        &second,
    )
    .await;
    assert_eq!(status, 200);
    let frame = next_event(&mut client, &website, "fluent_community.comment.created").await;
    assert_eq!(frame["data"], second.as_str());
    client.expect_silence(Duration::from_millis(500)).await;
    assert_eq!(receiver.wait_for(2, WAIT).await.len(), 2);
    assert_eq!(
        metric(
            &server,
            "relay_source_bad_signatures_total{kind=\"fluent_community\"}"
        )
        .await,
        5
    );

    // inactive: 404; unknown ids: 404
    let id = source["id"].as_i64().unwrap();
    let (status, _) = admin(
        "PATCH",
        &server.url(&format!("/admin/sources/{id}")),
        ADMIN,
        Some(r#"{"status":"inactive"}"#),
    )
    .await;
    assert_eq!(status, 200);
    let third = fluent_body(5);
    let (status, _) = post_json(
        &url,
        &[("x-fluent-signature", &fluent_signature(secret, &third))],
        &third,
    )
    .await;
    assert_eq!(status, 404);
    for path in ["/hooks/999", "/hooks/abc"] {
        let (status, _) = post_json(&server.url(path), &[], "{}").await;
        assert_eq!(status, 404, "{path}");
    }
    client.expect_silence(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn fast_events_answers_200_always_and_drops_bad_signatures() {
    let server = start(&[], None).await;
    let website = add_site(&server, "vinyl-openair.com").await;
    let secret = "yoursharedsecret";
    let source = add_source(&server, "fast_events", "vinyl-openair.com", secret).await;
    let url = hook_url(&server, &source);
    let id = source["id"].as_i64().unwrap();
    let mut client = subscribed(&server, &website).await;

    // the plugin's "Test webhook": an empty body, 200, nothing broadcast
    let (status, ok) = post_json(&url, &[("user-agent", "Fast-Events/1.6.0")], "").await;
    assert_eq!(status, 200);
    assert_eq!(ok, json!({"success": true}));

    // a signed order
    let body = fast_events_body(1);
    let (status, reply) = post_fast_events(&url, secret, "delivery-1", &body).await;
    assert_eq!((status, &reply), (200, &ok));
    let frame = next_event(&mut client, &website, "fast_events.order.created").await;
    assert_eq!(
        frame["data"],
        body.as_str(),
        "the payload exactly as received"
    );

    // an invalid signature: the same 200 and body, dropped, logged and counted
    let forged = fast_events_body(2);
    let (status, reply) = post_json(
        &url,
        &[
            ("x-fe-webhook-topic", "order.created"),
            ("x-fe-webhook-delivery-id", "delivery-2"),
            (
                "x-fe-webhook-signature",
                &fast_events_signature("guess", &forged),
            ),
        ],
        &forged,
    )
    .await;
    assert_eq!((status, &reply), (200, &ok));
    let (status, reply) =
        post_json(&url, &[("x-fe-webhook-topic", "order.created")], &forged).await;
    assert_eq!((status, &reply), (200, &ok));
    client.expect_silence(Duration::from_millis(500)).await;
    assert_eq!(
        metric(
            &server,
            "relay_source_bad_signatures_total{kind=\"fast_events\"}"
        )
        .await,
        2
    );
    assert!(server.log_text().contains("invalid signature"));
    let (_, inbox) = admin(
        "GET",
        &server.url(&format!("/admin/sources/{id}/inbox")),
        ADMIN,
        None,
    )
    .await;
    let states: Vec<(&str, Option<&str>)> = inbox["inbox"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["state"].as_str().unwrap(), i["reason"].as_str()))
        .collect();
    assert_eq!(
        states,
        vec![
            ("dropped", Some("invalid signature")),
            ("dropped", Some("invalid signature")),
            ("processed", None)
        ]
    );

    // the real delivery-2 still gets through (a forgery does not take its delivery id)
    let (status, _) = post_fast_events(&url, secret, "delivery-2", &forged).await;
    assert_eq!(status, 200);
    next_event(&mut client, &website, "fast_events.order.created").await;

    // retries with the same Delivery-ID: 200, broadcast once
    for _ in 0..3 {
        let (status, reply) = post_fast_events(&url, secret, "delivery-1", &body).await;
        assert_eq!((status, &reply), (200, &ok));
    }
    client.expect_silence(Duration::from_millis(500)).await;
    assert!(
        metric(
            &server,
            "relay_source_requests_total{outcome=\"duplicate\"}"
        )
        .await
            >= 3
    );

    // inactive: still 200, nothing recorded or broadcast
    admin(
        "PATCH",
        &server.url(&format!("/admin/sources/{id}")),
        ADMIN,
        Some(r#"{"status":"inactive"}"#),
    )
    .await;
    let (status, reply) = post_fast_events(&url, secret, "delivery-3", &fast_events_body(3)).await;
    assert_eq!((status, &reply), (200, &ok));
    client.expect_silence(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn standard_webhooks_verify_timestamp_and_any_signature() {
    let server = start(&[], None).await;
    let website = add_site(&server, "billing.example").await;
    let secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    let old_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let source = add_source(&server, "standard_webhooks", "billing.example", secret).await;
    let url = hook_url(&server, &source);
    let mut client = subscribed(&server, &website).await;
    let signer = standardwebhooks::Webhook::new(secret).unwrap();
    let old_signer = standardwebhooks::Webhook::new(old_secret).unwrap();
    let body = r#"{"type":"invoice.paid","timestamp":"2024-01-15T10:30:00Z","data":{"id":"in_1"}}"#;
    let post = |msg_id: &'static str, ts: i64, signature: String, body: &'static str| {
        let url = url.clone();
        async move {
            let ts = ts.to_string();
            post_json(
                &url,
                &[
                    ("webhook-id", msg_id),
                    ("webhook-timestamp", &ts),
                    ("webhook-signature", &signature),
                ],
                body,
            )
            .await
        }
    };
    let now = unix_now() as i64;

    // several signatures (key rotation): any one matching is enough
    let signatures = format!(
        "{} v1a,ignored {}",
        old_signer.sign("msg_1", now, body.as_bytes()).unwrap(),
        signer.sign("msg_1", now, body.as_bytes()).unwrap()
    );
    let (status, reply) = post("msg_1", now, signatures, body).await;
    assert_eq!((status, reply), (200, json!({"success": true})));
    let frame = next_event(&mut client, &website, "standard_webhooks.invoice.paid").await;
    assert_eq!(frame["data"], body);

    // a retry: same webhook-id, new timestamp and signature: 200, once
    let later = now + 5;
    let (status, reply) = post(
        "msg_1",
        later,
        signer.sign("msg_1", later, body.as_bytes()).unwrap(),
        body,
    )
    .await;
    assert_eq!(
        (status, reply),
        (200, json!({"success": true, "duplicate": true}))
    );

    // stale or future timestamps (beyond 5 minutes): 401, even correctly signed
    for ts in [now - 330, now + 330] {
        let (status, reply) = post(
            "msg_2",
            ts,
            signer.sign("msg_2", ts, body.as_bytes()).unwrap(),
            body,
        )
        .await;
        assert_eq!(status, 401, "{ts}: {reply}");
    }
    // only the old key, a tampered body, a wrong id: 401
    let (status, _) = post(
        "msg_3",
        now,
        old_signer.sign("msg_3", now, body.as_bytes()).unwrap(),
        body,
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = post(
        "msg_4",
        now,
        signer.sign("msg_4", now, body.as_bytes()).unwrap(),
        r#"{"type":"invoice.paid","data":{"id":"in_2"}}"#,
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = post(
        "msg_5",
        now,
        signer.sign("msg_x", now, body.as_bytes()).unwrap(),
        body,
    )
    .await;
    assert_eq!(status, 401);
    // missing headers: 400
    let (status, _) = post_json(&url, &[("webhook-id", "msg_6")], body).await;
    assert_eq!(status, 400);
    client.expect_silence(Duration::from_millis(500)).await;
    assert_eq!(
        metric(
            &server,
            "relay_source_requests_total{outcome=\"stale_timestamp\"}"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn many_concurrent_fast_events_posts_each_arrive_once() {
    let server = start(&[], None).await;
    let website = add_site(&server, "busy.example").await;
    let secret = "busy-secret";
    let source = add_source(&server, "fast_events", "busy.example", secret).await;
    let url = hook_url(&server, &source);
    let mut client = subscribed(&server, &website).await;
    const N: u32 = 300;
    // every delivery is sent twice at once (a retry racing the original)
    let tasks: Vec<_> = (0..2 * N)
        .map(|i| {
            let url = url.clone();
            tokio::spawn(async move {
                let n = i % N;
                post_fast_events(&url, secret, &format!("d-{n}"), &fast_events_body(n)).await
            })
        })
        .collect();
    for task in tasks {
        let (status, _) = task.await.unwrap();
        assert_eq!(status, 200);
    }
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < N as usize {
        let frame = next_event(&mut client, &website, "fast_events.order.created").await;
        let data: Value = serde_json::from_str(frame["data"].as_str().unwrap()).unwrap();
        assert!(seen.insert(data["id"].as_u64().unwrap()), "twice: {data}");
    }
    client.expect_silence(Duration::from_millis(700)).await;
    assert_eq!(
        metric(
            &server,
            "relay_source_requests_total{outcome=\"duplicate\"}"
        )
        .await,
        u64::from(N)
    );
}

#[tokio::test]
async fn sigkill_between_accept_and_broadcast_then_restart_broadcasts_once() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let config = |delay_ms: u128| {
        format!(
            "[sources]\nprocessing_delay_ms = {delay_ms}\n[[apps]]\nid = \"1\"\nkey = \"{KEY}\"\nsecret = \"{SECRET}\"\n"
        )
    };
    let env = [("DATABASE_URL", db.url.as_str())];
    // the processor holds accepted events for a minute: the 200 comes, the broadcast does not
    let mut server = start(&env, Some(&config(60_000))).await;
    let website = add_site(&server, "crash.example").await;
    let fe_secret = "crash-secret";
    let fe = add_source(&server, "fast_events", "crash.example", fe_secret).await;
    let fluent = add_source(&server, "fluent_community", "crash.example", "whsec_crash").await;
    let mut client = subscribed(&server, &website).await;
    let accepted = Instant::now();
    let fe_body = fast_events_body(1);
    let (status, _) =
        post_fast_events(&hook_url(&server, &fe), fe_secret, "d-crash", &fe_body).await;
    assert_eq!(status, 200);
    let fluent_body = fluent_body(9);
    let (status, _) = post_json(
        &hook_url(&server, &fluent),
        &[(
            "x-fluent-signature",
            &fluent_signature("whsec_crash", &fluent_body),
        )],
        &fluent_body,
    )
    .await;
    assert_eq!(status, 200);
    client.expect_silence(Duration::from_millis(500)).await;

    server.kill();
    let port = server.port;
    drop(server);
    drop(client);

    // restart with a delay that releases the rows a few seconds from now, so a client can
    // subscribe first
    let delay = accepted.elapsed().as_millis() + 4_000;
    let mut env_all = vec![
        ("RELAY_ADMIN_TOKEN", ADMIN),
        ("RELAY_WEBHOOKS_ALLOW_HTTP", "true"),
        ("RELAY_WEBHOOKS_ALLOW_PRIVATE_NETWORKS", "true"),
    ];
    env_all.extend_from_slice(&env);
    let server = Server::start_on(BIN, port, &env_all, Some(&config(delay))).await;
    let mut client = subscribed(&server, &website).await;
    assert!(
        accepted.elapsed().as_millis() < delay,
        "the client subscribed too late for this test; raise the margin"
    );
    let mut events = Vec::new();
    for _ in 0..2 {
        match client.next(Duration::from_secs(15)).await {
            Ok(Some(frame)) => events.push((
                frame["event"].as_str().unwrap().to_owned(),
                frame["data"].as_str().unwrap().to_owned(),
            )),
            other => panic!("expected the accepted events after restart, got {other:?}"),
        }
    }
    assert_eq!(
        events,
        vec![
            ("fast_events.order.created".to_owned(), fe_body.clone()),
            (
                "fluent_community.feed.created".to_owned(),
                fluent_body.clone()
            ),
        ]
    );
    // once: nothing more, and the sender's retry after the crash is a duplicate
    let (status, reply) =
        post_fast_events(&hook_url(&server, &fe), fe_secret, "d-crash", &fe_body).await;
    assert_eq!((status, reply), (200, json!({"success": true})));
    client.expect_silence(Duration::from_secs(2)).await;
    assert_eq!(
        metric(
            &server,
            "relay_source_requests_total{outcome=\"duplicate\"}"
        )
        .await,
        1
    );
    let (_, inbox) = admin(
        "GET",
        &server.url(&format!("/admin/sources/{}/inbox", fe["id"])),
        ADMIN,
        None,
    )
    .await;
    assert_eq!(inbox["inbox"].as_array().unwrap().len(), 1);
    assert_eq!(inbox["inbox"][0]["state"], "processed");
}
