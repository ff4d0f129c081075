//! Outgoing webhooks end to end (issue 5): subscriber webhooks through the admin API, signed
//! deliveries verified independently, retries, 410, isolation, crash recovery with PostgreSQL,
//! the SSRF guard, and Pusher-format app webhooks.

use std::time::Duration;

use hmac::{Hmac, Mac};
use relay_e2e::{
    admin, post_json,
    receiver::{Receiver, Reply},
    Client, Server, TestDatabase, KEY, SECRET,
};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::BIN;

const ADMIN: &str = "admin-token-1";
const INGEST: &str = "ingest-token-1";
const WAIT: Duration = Duration::from_secs(15);

/// A server that may deliver to 127.0.0.1 over plain HTTP, retrying after 1 s.
async fn start(extra: &[(&str, &str)], config: Option<&str>) -> Server {
    let mut env = vec![
        ("RELAY_ADMIN_TOKEN", ADMIN),
        ("RELAY_INGEST_TOKEN", INGEST),
        ("RELAY_WEBHOOKS_ALLOW_HTTP", "true"),
        ("RELAY_WEBHOOKS_ALLOW_PRIVATE_NETWORKS", "true"),
        ("RELAY_WEBHOOKS_RETRY_SCHEDULE", "1,1,1"),
    ];
    env.extend_from_slice(extra);
    Server::start(BIN, &env, config).await
}

async fn create_webhook(server: &Server, body: Value) -> (u16, Value) {
    admin(
        "POST",
        &server.url("/admin/webhooks"),
        ADMIN,
        Some(&body.to_string()),
    )
    .await
}

async fn add_site(server: &Server, domain: &str) -> String {
    let (status, site) = admin(
        "POST",
        &server.url("/admin/sites"),
        ADMIN,
        Some(&json!({"domain": domain}).to_string()),
    )
    .await;
    assert_eq!(status, 201, "{site}");
    site["website_id"].as_str().unwrap().to_owned()
}

fn event_body(domain: &str, n: u32) -> String {
    json!({"domain": domain, "event": "filesystem_layer.filesystem_scan.completed", "data": {
        "origin": "wpsec", "vertical": "filesystem_layer", "status": "success", "message": format!("scan {n}")
    }})
    .to_string()
}

async fn ingest(server: &Server, body: &str) {
    let (status, reply) = post_json(
        &server.url("/api/events/create"),
        &[("x-wpfort-token", INGEST)],
        body,
    )
    .await;
    assert_eq!(status, 200, "{reply}");
}

/// Verifies a subscriber delivery with the `standardwebhooks` crate and an independent HMAC.
fn verify_signatures(secret: &str, request: &relay_e2e::receiver::Received) {
    let mut headers = standardwebhooks_headers();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        headers.insert(name, request.header(name).unwrap().parse().unwrap());
    }
    // A `whsec_` secret is base64 key material; any other secret is used as raw bytes.
    let verifier = if secret.starts_with("whsec_") {
        standardwebhooks::Webhook::new(secret).unwrap()
    } else {
        standardwebhooks::Webhook::from_bytes(secret.as_bytes().to_vec()).unwrap()
    };
    verifier
        .verify(request.body.as_bytes(), &headers)
        .expect("Standard Webhooks signature verifies");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(request.body.as_bytes());
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(request.header("x-relay-signature"), Some(expected.as_str()));
}

fn standardwebhooks_headers() -> http::HeaderMap {
    http::HeaderMap::new()
}

#[tokio::test]
async fn subscriber_delivery_is_signed_and_shaped() {
    let server = start(&[], None).await;
    let receiver = Receiver::start(Reply::Status(200, "ok")).await;
    let website_id = add_site(&server, "shop.example").await;
    let (status, hook) = create_webhook(
        &server,
        json!({"name": "all fs", "url": receiver.url("/hook"), "events": ["filesystem_layer.*"],
               "headers": {"X-Api-Key": "k1"}}),
    )
    .await;
    assert_eq!(status, 201, "{hook}");
    assert_eq!(hook["message"], "Webhook created successfully.");
    let secret = hook["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));

    let body = event_body("shop.example", 1);
    ingest(&server, &body).await;
    let got = receiver.wait_for(1, WAIT).await;
    let request = &got[0];
    verify_signatures(secret, request);
    let payload: Value = serde_json::from_str(&request.body).unwrap();
    assert_eq!(
        payload["event"],
        "filesystem_layer.filesystem_scan.completed"
    );
    assert_eq!(payload["website_id"], website_id.as_str());
    assert_eq!(payload["domain"], "shop.example");
    let sent: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(payload["data"], sent["data"]);
    assert!(payload["timestamp"].is_string());
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.header("x-relay-webhook-id"),
        Some(hook["id"].to_string().as_str())
    );
    assert_eq!(
        request.header("x-relay-topic"),
        Some("filesystem_layer.filesystem_scan.completed")
    );
    assert_eq!(request.header("x-relay-resource"), Some("filesystem_layer"));
    assert_eq!(request.header("x-relay-event"), Some("completed"));
    assert_eq!(
        request.header("x-relay-source"),
        Some("https://shop.example/")
    );
    assert_eq!(request.header("x-api-key"), Some("k1"));
    assert!(request.header("user-agent").unwrap().starts_with("Relay/"));
    assert!(request.header("x-relay-delivery-id").is_some());

    // not subscribed: another vertical produces nothing
    let other = json!({"domain": "shop.example", "event": "backup.backup.started", "data": {
        "origin": "wpsec", "vertical": "backup", "status": "success", "message": "m"}});
    ingest(&server, &other.to_string()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.requests().len(), 1);

    // the webhook records its success
    let (_, hook) = admin(
        "GET",
        &server.url(&format!("/admin/webhooks/{}", hook["id"])),
        ADMIN,
        None,
    )
    .await;
    assert!(hook["last_triggered_at"].is_string(), "{hook}");
    assert_eq!(hook["last_error"], Value::Null);
}

#[tokio::test]
async fn retries_follow_the_schedule_with_a_stable_webhook_id() {
    let server = start(&[], None).await;
    let receiver = Receiver::start(Reply::Status(200, "ok")).await;
    receiver.script([
        Reply::Status(500, "boom"),
        Reply::Reset,
        Reply::RetryAfter(429, 2),
    ]);
    add_site(&server, "retry.example").await;
    let (_, hook) = create_webhook(
        &server,
        json!({"name": "r", "url": receiver.url("/"), "events": ["*"], "retry_count": 3}),
    )
    .await;
    ingest(&server, &event_body("retry.example", 1)).await;
    let got = receiver.wait_for(4, Duration::from_secs(30)).await;
    let ids: Vec<_> = got
        .iter()
        .map(|r| r.header("webhook-id").unwrap().to_owned())
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "webhook-id is stable: {ids:?}"
    );
    let delivery_ids: std::collections::HashSet<_> = got
        .iter()
        .map(|r| r.header("x-relay-delivery-id").unwrap().to_owned())
        .collect();
    assert_eq!(delivery_ids.len(), 4, "a new delivery id per attempt");
    // schedule 1 s ±20 %; the 429 asked for 2 s, clamped to [1 s, 2 s]
    for pair in got.windows(2).take(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= Duration::from_millis(750) && gap < Duration::from_millis(3000),
            "{gap:?}"
        );
    }
    let after_429 = got[3].at - got[2].at;
    assert!(after_429 >= Duration::from_millis(950), "{after_429:?}");
    let secret = hook["secret"].as_str().unwrap();
    for request in &got {
        verify_signatures(secret, request);
    }
    // the attempt log
    let path = format!("/admin/webhooks/{}/deliveries", hook["id"]);
    let mut log = Value::Null;
    for _ in 0..50 {
        log = admin("GET", &server.url(&path), ADMIN, None).await.1;
        if log["deliveries"][0]["state"] == "succeeded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let delivery = &log["deliveries"][0];
    assert_eq!(delivery["state"], "succeeded", "{log}");
    assert_eq!(delivery["attempts"], 4);
    let attempts = delivery["attempt_log"].as_array().unwrap();
    assert_eq!(attempts.len(), 4);
    assert_eq!(attempts[0]["status_code"], 500);
    assert_eq!(attempts[0]["response"], "boom");
    assert_eq!(attempts[1]["status_code"], Value::Null);
    assert_eq!(attempts[2]["status_code"], 429);
    assert_eq!(attempts[3]["status_code"], 200);
}

#[tokio::test]
async fn exhausted_retries_fail_and_redeliver_sends_again() {
    let server = start(&[], None).await;
    let receiver = Receiver::start(Reply::Status(503, "down")).await;
    add_site(&server, "dead.example").await;
    let (_, hook) = create_webhook(
        &server,
        json!({"name": "d", "url": receiver.url("/"), "events": ["*"], "retry_count": 1}),
    )
    .await;
    ingest(&server, &event_body("dead.example", 1)).await;
    receiver.wait_for(2, WAIT).await;
    let path = format!("/admin/webhooks/{}/deliveries", hook["id"]);
    let mut log = Value::Null;
    for _ in 0..50 {
        log = admin("GET", &server.url(&path), ADMIN, None).await.1;
        if log["deliveries"][0]["state"] == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(log["deliveries"][0]["state"], "failed", "{log}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.requests().len(), 2, "retry_count 1 = two attempts");
    let (_, hook_now) = admin(
        "GET",
        &server.url(&format!("/admin/webhooks/{}", hook["id"])),
        ADMIN,
        None,
    )
    .await;
    assert!(
        hook_now["last_error"].as_str().unwrap().contains("503"),
        "{hook_now}"
    );

    receiver.script([Reply::Status(200, "ok")]);
    let delivery_id = &log["deliveries"][0]["id"];
    let (status, _) = admin(
        "POST",
        &server.url(&format!(
            "/admin/webhooks/{}/deliveries/{delivery_id}/redeliver",
            hook["id"]
        )),
        ADMIN,
        None,
    )
    .await;
    assert_eq!(status, 202);
    let got = receiver.wait_for(3, WAIT).await;
    assert_eq!(got[2].header("webhook-id"), got[0].header("webhook-id"));
}

#[tokio::test]
async fn gone_410_disables_and_missed_events_can_be_recovered() {
    let server = start(&[], None).await;
    let receiver = Receiver::start(Reply::Status(200, "ok")).await;
    receiver.script([Reply::Status(410, "gone")]);
    add_site(&server, "gone.example").await;
    let (_, hook) = create_webhook(
        &server,
        json!({"name": "g", "url": receiver.url("/"), "events": ["*"]}),
    )
    .await;
    let hook_url = server.url(&format!("/admin/webhooks/{}", hook["id"]));
    let since = chrono_now();
    ingest(&server, &event_body("gone.example", 1)).await;
    receiver.wait_for(1, WAIT).await;
    let mut now = Value::Null;
    for _ in 0..50 {
        now = admin("GET", &hook_url, ADMIN, None).await.1;
        if now["status"] == "disabled" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(now["status"], "disabled", "{now}");
    // while disabled: nothing is sent, but the event is kept
    ingest(&server, &event_body("gone.example", 2)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.requests().len(), 1);
    // re-enable and recover what it missed
    let (status, _) = admin(
        "PUT",
        &hook_url,
        ADMIN,
        Some(&json!({"status": "active"}).to_string()),
    )
    .await;
    assert_eq!(status, 200);
    let (status, reply) = admin(
        "POST",
        &format!("{hook_url}/recover"),
        ADMIN,
        Some(&json!({"since": since}).to_string()),
    )
    .await;
    assert_eq!(status, 202, "{reply}");
    assert_eq!(reply["queued"], 2);
    let got = receiver.wait_for(3, WAIT).await;
    let messages: Vec<String> = got[1..]
        .iter()
        .map(|r| {
            serde_json::from_str::<Value>(&r.body).unwrap()["data"]["message"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        messages.contains(&"scan 1".to_owned()) && messages.contains(&"scan 2".to_owned()),
        "{messages:?}"
    );
}

fn chrono_now() -> String {
    let secs = relay_e2e::unix_now() - 1;
    // RFC 3339 from Unix seconds without a date crate: let the server parse `YYYY-MM-DDTHH:MM:SSZ`.
    let days = secs / 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's days → civil date.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[tokio::test]
async fn a_redirect_is_a_failure_and_is_not_followed() {
    let server = start(&[], None).await;
    let target = Receiver::start(Reply::Status(200, "ok")).await;
    let receiver = Receiver::start(Reply::Redirect("http://127.0.0.1:1/elsewhere")).await;
    add_site(&server, "redirect.example").await;
    let (_, hook) = create_webhook(
        &server,
        json!({"name": "r", "url": receiver.url("/"), "events": ["*"], "retry_count": 0}),
    )
    .await;
    ingest(&server, &event_body("redirect.example", 1)).await;
    receiver.wait_for(1, WAIT).await;
    let path = format!("/admin/webhooks/{}/attempts", hook["id"]);
    let mut log = Value::Null;
    for _ in 0..50 {
        log = admin("GET", &server.url(&path), ADMIN, None).await.1;
        if log["attempts"].as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(log["attempts"][0]["status_code"], 302, "{log}");
    assert!(target.requests().is_empty());
}

#[tokio::test]
async fn a_dead_endpoint_does_not_delay_a_healthy_one() {
    let config = format!(
        "[webhooks]\ntimeout = 3\nmax_concurrency_per_endpoint = 2\n[[apps]]\nid = \"1\"\nkey = \"{KEY}\"\nsecret = \"{SECRET}\"\n"
    );
    let server = start(&[], Some(&config)).await;
    let dead = Receiver::start(Reply::Slow(Duration::from_secs(10))).await;
    let healthy = Receiver::start(Reply::Status(200, "ok")).await;
    add_site(&server, "mixed.example").await;
    create_webhook(
        &server,
        json!({"name": "dead", "url": dead.url("/"), "events": ["*"]}),
    )
    .await;
    create_webhook(
        &server,
        json!({"name": "ok", "url": healthy.url("/"), "events": ["*"]}),
    )
    .await;
    let started = std::time::Instant::now();
    for n in 0..20 {
        ingest(&server, &event_body("mixed.example", n)).await;
    }
    healthy.wait_for(20, Duration::from_secs(5)).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // the dead one never has more than its cap in flight
    assert!(dead.requests().len() <= 2, "{}", dead.requests().len());
}

#[tokio::test]
async fn sigkill_mid_delivery_then_restart_delivers_again_with_the_same_webhook_id() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let config = format!(
        "[webhooks]\ntimeout = 2\n[[apps]]\nid = \"1\"\nkey = \"{KEY}\"\nsecret = \"{SECRET}\"\n"
    );
    let env = [("DATABASE_URL", db.url.as_str())];
    let mut server = start(&env, Some(&config)).await;
    let receiver = Receiver::start(Reply::Status(200, "ok")).await;
    receiver.script([Reply::Slow(Duration::from_secs(30))]);
    add_site(&server, "crash.example").await;
    create_webhook(
        &server,
        json!({"name": "c", "url": receiver.url("/"), "events": ["*"]}),
    )
    .await;
    ingest(&server, &event_body("crash.example", 1)).await;
    receiver.wait_for(1, WAIT).await;
    server.kill();
    let port = server.port;
    drop(server);
    let mut env_all = vec![
        ("RELAY_ADMIN_TOKEN", ADMIN),
        ("RELAY_INGEST_TOKEN", INGEST),
        ("RELAY_WEBHOOKS_ALLOW_HTTP", "true"),
        ("RELAY_WEBHOOKS_ALLOW_PRIVATE_NETWORKS", "true"),
        ("RELAY_WEBHOOKS_RETRY_SCHEDULE", "1,1,1"),
    ];
    env_all.extend_from_slice(&env);
    let _server = Server::start_on(BIN, port, &env_all, Some(&config)).await;
    let got = receiver.wait_for(2, Duration::from_secs(30)).await;
    assert_eq!(got[1].header("webhook-id"), got[0].header("webhook-id"));
    assert_ne!(
        got[1].header("x-relay-delivery-id"),
        got[0].header("x-relay-delivery-id")
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        receiver.requests().len(),
        2,
        "delivered once more, not more"
    );
}

#[tokio::test]
async fn the_ssrf_guard_and_https_rule_hold_by_default() {
    let server = Server::start(
        BIN,
        &[("RELAY_ADMIN_TOKEN", ADMIN), ("RELAY_INGEST_TOKEN", INGEST)],
        None,
    )
    .await;
    let receiver = Receiver::start(Reply::Status(200, "ok")).await;
    // plain http is refused in the seed's error shape
    let (status, error) = create_webhook(
        &server,
        json!({"name": "h", "url": receiver.url("/"), "events": ["*"]}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(error["code"], "invalid_url");
    assert_eq!(error["data"]["status"], 400);
    // https to loopback / private / link-local / metadata literals is refused at creation
    for url in [
        "https://127.0.0.1/",
        "https://10.0.0.1/",
        "https://192.168.1.1/",
        "https://172.16.0.1/",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/",
        "https://2130706433/",
    ] {
        let (status, error) =
            create_webhook(&server, json!({"name": "x", "url": url, "events": ["*"]})).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (400, Some("invalid_url")),
            "{url}: {error}"
        );
    }
    // a name that resolves to loopback is refused when sending: nothing reaches the receiver
    let (status, hook) = create_webhook(
        &server,
        json!({"name": "n", "url": format!("https://localhost:{}/", receiver.port), "events": ["*"]}),
    )
    .await;
    assert_eq!(status, 201, "{hook}");
    let (status, report) = admin(
        "POST",
        &server.url(&format!("/admin/webhooks/{}/test", hook["id"])),
        ADMIN,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(report["success"], false);
    assert!(
        report["message"].as_str().unwrap().contains("SSRF"),
        "{report}"
    );
    assert!(receiver.requests().is_empty());
}

#[tokio::test]
async fn admin_api_validation_and_the_test_call() {
    let server = start(&[], None).await;
    let receiver = Receiver::start(Reply::Status(200, "fine")).await;
    let url = server.url("/admin/webhooks");
    assert_eq!(admin("GET", &url, "wrong-token", None).await.0, 401);
    for (body, code) in [
        (
            json!({"url": receiver.url("/"), "events": ["*"]}),
            "invalid_name",
        ),
        (
            json!({"name": "n", "url": "ftp://x/", "events": ["*"]}),
            "invalid_url",
        ),
        (
            json!({"name": "n", "url": receiver.url("/"), "events": []}),
            "invalid_events",
        ),
        (
            json!({"name": "n", "url": receiver.url("/"), "events": ["backup.backup.startd"]}),
            "invalid_events",
        ),
        (
            json!({"name": "n", "url": receiver.url("/"), "events": ["*"], "headers": {"X-Relay-Signature": "x"}}),
            "invalid_headers",
        ),
        (
            json!({"name": "n", "url": receiver.url("/"), "events": ["*"], "headers": {"Bad Name": "x"}}),
            "invalid_headers",
        ),
        (
            json!({"name": "n", "url": receiver.url("/"), "events": ["*"], "retry_count": 99}),
            "invalid_retry_count",
        ),
        (
            json!({"name": "n", "url": receiver.url("/"), "events": ["*"], "website_ids": ["nope"]}),
            "invalid_website_ids",
        ),
    ] {
        let (status, error) = create_webhook(&server, body.clone()).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (400, Some(code)),
            "{body}: {error}"
        );
        assert_eq!(error["data"]["status"], 400);
    }
    let (status, hook) = create_webhook(
        &server,
        json!({"name": "t", "url": receiver.url("/t"), "events": ["backup.*", "network_layer.firewall.attacks.blocked"], "secret": "my-own-secret"}),
    )
    .await;
    assert_eq!(status, 201, "{hook}");
    assert_eq!(hook["secret"], "my-own-secret");
    assert_eq!(hook["retry_count"], 3);
    assert_eq!(hook["status"], "active");
    let id = hook["id"].as_i64().unwrap();
    let (_, list) = admin("GET", &url, ADMIN, None).await;
    assert_eq!(list["webhooks"][0]["id"], id);
    let (status, updated) = admin(
        "PUT",
        &format!("{url}/{id}"),
        ADMIN,
        Some(&json!({"name": "renamed", "status": "inactive"}).to_string()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (updated["name"].as_str(), updated["status"].as_str()),
        (Some("renamed"), Some("inactive"))
    );
    assert_eq!(updated["message"], "Webhook updated successfully.");

    let (status, report) = admin("POST", &format!("{url}/{id}/test"), ADMIN, None).await;
    assert_eq!(status, 200);
    assert_eq!(report["success"], true, "{report}");
    assert_eq!(report["status_code"], 200);
    assert!(report["response_time"].is_u64());
    assert_eq!(report["message"], "Webhook test successful.");
    let got = receiver.wait_for(1, WAIT).await;
    let payload: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(payload["event"], "webhook.test");
    assert_eq!(got[0].header("x-relay-topic"), Some("webhook.test"));
    verify_signatures("my-own-secret", &got[0]);
    let (_, attempts) = admin("GET", &format!("{url}/{id}/attempts"), ADMIN, None).await;
    assert_eq!(attempts["attempts"][0]["trigger"], "test");
    assert_eq!(attempts["attempts"][0]["response"], "fine");

    let (status, missing) = admin("GET", &format!("{url}/999"), ADMIN, None).await;
    assert_eq!((status, missing["code"].as_str()), (404, Some("not_found")));
    let (status, deleted) = admin("DELETE", &format!("{url}/{id}"), ADMIN, None).await;
    assert_eq!(
        (status, deleted["message"].as_str()),
        (200, Some("Webhook deleted successfully."))
    );
    assert_eq!(
        admin("GET", &format!("{url}/{id}"), ADMIN, None).await.0,
        404
    );
}

#[tokio::test]
async fn backup_events_reach_subscriber_webhooks() {
    let server = start(&[], None).await;
    let receiver = Receiver::start(Reply::Status(200, "ok")).await;
    let website_id = add_site(&server, "b.example").await;
    create_webhook(
        &server,
        json!({"name": "b", "url": receiver.url("/"), "events": ["backup.*"], "website_ids": [website_id]}),
    )
    .await;
    let (status, _) = post_json(
        &server.url("/webhooks/backup-complete"),
        &[("x-wpfort-token", INGEST)],
        r#"{"domain":"b.example","backup_id":"bk1"}"#,
    )
    .await;
    assert_eq!(status, 200);
    let got = receiver.wait_for(1, WAIT).await;
    let payload: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(payload["event"], "backup.backup.completed");
    assert_eq!(payload["data"]["metadata"]["backup_id"], "bk1");
    assert_eq!(got[0].header("x-relay-resource"), Some("backup"));
}

#[tokio::test]
async fn pusher_app_webhooks_occupied_vacated_members_and_flapping() {
    let receiver = Receiver::start(Reply::Status(200, "ok")).await;
    let config = format!(
        "[webhooks]\nallow_http = true\nallow_private_networks = true\npusher_batch_ms = 20\npusher_flap_delay_ms = 600\n\
         [[apps]]\nid = \"1\"\nkey = \"{KEY}\"\nsecret = \"{SECRET}\"\nenable_client_messages = true\n\
         [[apps.webhooks]]\nurl = \"{}\"\nevent_types = [\"channel_occupied\", \"channel_vacated\", \"member_added\", \"member_removed\", \"client_event\"]\n",
        receiver.url("/pusher")
    );
    let server = Server::start(BIN, &[], Some(&config)).await;
    let mut a = Client::connect(&server).await;
    a.subscribe_presence("presence-room", r#"{"user_id":"u1"}"#)
        .await;
    let got = receiver.wait_for(1, WAIT).await;
    let first = &got[0];
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(first.header("x-pusher-key"), Some(KEY));
    let signature = pusher_wire::auth::webhook::sign(SECRET, first.body.as_bytes());
    assert_eq!(first.header("x-pusher-signature"), Some(signature.as_str()));
    let body: Value = serde_json::from_str(&first.body).unwrap();
    let names: Vec<&str> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["channel_occupied", "member_added"]);
    assert!(body["time_ms"].as_u64().unwrap() > 1_600_000_000_000);

    // flapping: leave and come back within the delay: nothing is sent
    a.send(json!({"event":"pusher:unsubscribe","data":{"channel":"presence-room"}}))
        .await;
    a.subscribe_presence("presence-room", r#"{"user_id":"u1"}"#)
        .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        receiver.requests().len(),
        1,
        "{:?}",
        receiver
            .requests()
            .iter()
            .map(|r| &r.body)
            .collect::<Vec<_>>()
    );

    // a client event is reported
    let mut b = Client::connect(&server).await;
    b.subscribe_presence("presence-room", r#"{"user_id":"u2"}"#)
        .await;
    b.send(json!({"event":"client-hi","channel":"presence-room","data":{"x":1}}))
        .await;
    // leaving for good: member_removed and channel_vacated after the delay
    a.close().await;
    b.close().await;
    let got = receiver.wait_for(3, WAIT).await;
    let all: Vec<Value> = got
        .iter()
        .flat_map(|r| {
            serde_json::from_str::<Value>(&r.body).unwrap()["events"]
                .as_array()
                .unwrap()
                .clone()
        })
        .collect();
    let client_event = all
        .iter()
        .find(|e| e["name"] == "client_event")
        .expect("client_event");
    assert_eq!(client_event["event"], "client-hi");
    assert_eq!(client_event["data"], "{\"x\":1}");
    assert_eq!(client_event["user_id"], "u2");
    let tail: Vec<&str> = all.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert!(
        tail.ends_with(&["member_removed", "member_removed", "channel_vacated"])
            || tail.contains(&"channel_vacated"),
        "{tail:?}"
    );
}

#[tokio::test]
async fn an_endpoint_failing_continuously_is_disabled_after_the_limit() {
    let config = format!(
        "[webhooks]\ndisable_after_failures = 2\n[[apps]]\nid = \"1\"\nkey = \"{KEY}\"\nsecret = \"{SECRET}\"\n"
    );
    let server = start(&[], Some(&config)).await;
    let receiver = Receiver::start(Reply::Status(500, "still down")).await;
    add_site(&server, "flaky.example").await;
    let (_, hook) = create_webhook(
        &server,
        json!({"name": "f", "url": receiver.url("/"), "events": ["*"], "retry_count": 0}),
    )
    .await;
    let hook_url = server.url(&format!("/admin/webhooks/{}", hook["id"]));
    ingest(&server, &event_body("flaky.example", 1)).await;
    receiver.wait_for(1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, after_one) = admin("GET", &hook_url, ADMIN, None).await;
    assert_eq!(
        after_one["status"], "active",
        "one failure is not enough: {after_one}"
    );
    ingest(&server, &event_body("flaky.example", 2)).await;
    receiver.wait_for(2, WAIT).await;
    let mut now = Value::Null;
    for _ in 0..50 {
        now = admin("GET", &hook_url, ADMIN, None).await.1;
        if now["status"] == "disabled" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(now["status"], "disabled", "{now}");
    assert!(
        now["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("2 deliveries in a row failed"),
        "{now}"
    );
}
