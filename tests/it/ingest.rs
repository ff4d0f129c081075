//! Event ingestion (seeds 000 and 001) end to end: the admin API for sites, the seed's own curl
//! body, every error status, the backup webhooks with the plugin API sync, and resilience to
//! database failures. Run against the memory store and a fresh PostgreSQL database.

use std::{process::Command, time::Duration};

use relay_e2e::{admin, post_json, Client, Server, TestDatabase};
use serde_json::{json, Value};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

use crate::BIN;

const INGEST_TOKEN: &str = "ingest-token-1";
const ADMIN_TOKEN: &str = "admin-token-1";
const WEBSITE_ID: &str = "dc50c5ec-d5fe-4040-86f7-9615d45df55e";

/// The body of seed 000's curl example, verbatim.
const SEED_CURL_BODY: &str = r#"{"domain": "sub2.test-wpworld.uk", "event": "wpcore_layer.core_reinstall.started", "data": {"event": "wpcore_layer.core_reinstall.started",
            "data": {
            "origin": "wpsec/backend/worker/frontend",
            "vertical": "wpcore_layer",
            "status": "success",
            "message": "WordPress core reinstall started",
            "operation_id": "wpsec_core_reinstall_685cac1d3fe1f9.94536193",
            "version": "current",
            "started_at": "2025-06-26 02:10:37",
            "check_status_endpoint": "https://dev.wptech.group/wp-json/wpsec/v1/core-reinstall?operation_id=wpsec_core_reinstall_685cac1d3fe1f9.94536193"
        }
  }}"#;

/// The `data` member of the seed body, as its exact text.
fn seed_data_text() -> &'static str {
    let start = SEED_CURL_BODY.find(r#""data": {"event""#).unwrap() + r#""data": "#.len();
    &SEED_CURL_BODY[start..SEED_CURL_BODY.len() - 1]
}

async fn start(extra_env: &[(&str, &str)], config: Option<&str>) -> Server {
    let mut env = vec![
        ("RELAY_INGEST_TOKEN", "ingest-token-0,ingest-token-1"),
        ("RELAY_ADMIN_TOKEN", ADMIN_TOKEN),
    ];
    env.extend_from_slice(extra_env);
    Server::start(BIN, &env, config).await
}

async fn add_site(server: &Server, domain: &str, website_id: Option<&str>) -> (u16, Value) {
    let body = match website_id {
        Some(id) => json!({"domain": domain, "website_id": id}),
        None => json!({"domain": domain}),
    };
    admin(
        "POST",
        &server.url("/admin/sites"),
        ADMIN_TOKEN,
        Some(&body.to_string()),
    )
    .await
}

async fn ingest(server: &Server, path: &str, body: &str) -> (u16, Value) {
    post_json(&server.url(path), &[("x-wpfort-token", INGEST_TOKEN)], body).await
}

/// The seed's curl body reaches a subscriber of the website channel with `data` byte for byte.
async fn seed_example_round_trip(server: &Server) {
    assert_eq!(
        add_site(server, "sub2.test-wpworld.uk", Some(WEBSITE_ID))
            .await
            .0,
        201
    );
    let mut client = Client::connect(server).await;
    client.subscribe(WEBSITE_ID).await;
    let (status, reply) = ingest(server, "/api/events/create", SEED_CURL_BODY).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply,
        json!({
            "success": true,
            "message": "Event created successfully",
            "websiteId": WEBSITE_ID,
            "channel": WEBSITE_ID,
            "event": "wpcore_layer.core_reinstall.started"
        })
    );
    let event = client.recv().await;
    assert_eq!(event["event"], "wpcore_layer.core_reinstall.started");
    assert_eq!(event["channel"], WEBSITE_ID);
    assert_eq!(event["data"].as_str().unwrap(), seed_data_text());
}

#[tokio::test]
async fn seed_curl_example_memory_store() {
    let server = start(&[], None).await;
    seed_example_round_trip(&server).await;
}

#[tokio::test]
async fn seed_curl_example_postgres_store() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let server = start(&[("DATABASE_URL", &db.url)], None).await;
    seed_example_round_trip(&server).await;
}

#[tokio::test]
async fn every_error_status() {
    let server = start(&[], None).await;
    add_site(&server, "example.com", None).await;
    let valid = json!({"domain":"example.com","event":"filesystem_layer.filesystem_scan.started","data":{
        "origin":"wpsec","vertical":"filesystem_layer","status":"success","message":"Deep scan started"}});
    let url = server.url("/api/events/create");
    // 401: no token, wrong token; the other rotation token works
    assert_eq!(post_json(&url, &[], &valid.to_string()).await.0, 401);
    let (status, reply) =
        post_json(&url, &[("x-wpfort-token", "nope-nope")], &valid.to_string()).await;
    assert_eq!(status, 401);
    assert!(reply["error"].is_string());
    assert_eq!(
        post_json(
            &url,
            &[("x-wpfort-token", "ingest-token-0")],
            &valid.to_string()
        )
        .await
        .0,
        200
    );
    // 400: missing fields, invalid JSON, unknown event (with suggestions), invalid field
    for (body, needle) in [
        (json!({"event":"x","data":{}}).to_string(), "domain"),
        ("{not json".to_owned(), ""),
        (
            json!({"domain":"example.com","event":"filesystem_layer.filesystem_scan.startd","data":valid["data"]}).to_string(),
            "filesystem_layer.filesystem_scan.started",
        ),
        (
            json!({"domain":"example.com","event":"filesystem_layer.filesystem_scan.started","data":{
                "origin":"wpsec","vertical":"filesystem_layer","status":"success","message":"m",
                "check_status_endpoint":"not a url"}})
            .to_string(),
            "check_status_endpoint",
        ),
    ] {
        let (status, reply) = ingest(&server, "/api/events/create", &body).await;
        assert_eq!(status, 400, "{body} -> {reply}");
        let error = reply["error"].as_str().unwrap();
        assert!(error.contains(needle), "{error} should mention {needle}");
    }
    // 404: unknown domain
    let mut unknown = valid.clone();
    unknown["domain"] = json!("nowhere.example");
    let (status, reply) = ingest(&server, "/api/events/create", &unknown.to_string()).await;
    assert_eq!(status, 404);
    assert!(reply["error"].as_str().unwrap().contains("nowhere.example"));
    // 413: too large
    let mut big = valid.clone();
    big["data"]["message"] = json!("x".repeat(70_000));
    let (status, reply) = ingest(&server, "/api/events/create", &big.to_string()).await;
    assert_eq!(status, 413, "{reply}");
    assert!(reply["error"].is_string());
}

#[tokio::test]
async fn domains_match_normalized_and_firewall_names_validate() {
    let server = start(&[], None).await;
    let (_, site) = add_site(&server, "Example.COM", None).await;
    let website_id = site["website_id"].as_str().unwrap().to_owned();
    let mut client = Client::connect(&server).await;
    client.subscribe(&website_id).await;
    let body = json!({"domain":"HTTPS://example.com:443/wp-admin/","event":"network_layer.firewall.attacks.blocked","data":{
        "origin":"wpfort_server","vertical":"firewall_layer","status":"success","message":"Attack blocked",
        "metadata":{"attack_type":"SQL Injection","attack_source":"127.0.0.1","attack_target":"/wp-admin/admin-ajax.php","attack_time":"2025-06-26 02:10:37"}}});
    let (status, reply) = ingest(&server, "/api/events/create", &body.to_string()).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        client.recv().await["event"],
        "network_layer.firewall.attacks.blocked"
    );
    let mut network = body.clone();
    network["data"]["vertical"] = json!("network_layer");
    assert_eq!(
        ingest(&server, "/api/events/create", &network.to_string())
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn channel_prefix_and_unknown_event_relay_switch() {
    let config = format!(
        "[ingest]\nchannel_prefix = \"private-\"\nunknown_events = \"relay\"\n[[apps]]\nid = \"1\"\nkey = \"{}\"\nsecret = \"{}\"\n",
        relay_e2e::KEY,
        relay_e2e::SECRET
    );
    let server = start(&[], Some(&config)).await;
    let (_, site) = add_site(&server, "prefixed.example", None).await;
    let channel = format!("private-{}", site["website_id"].as_str().unwrap());
    let mut client = Client::connect(&server).await;
    client.subscribe_private(&channel).await;
    let body = json!({"domain":"prefixed.example","event":"custom_layer.thing.happened","data":{"anything":1}});
    let (status, reply) = ingest(&server, "/api/events/create", &body.to_string()).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["channel"], channel.as_str());
    let event = client.recv().await;
    assert_eq!(event["event"], "custom_layer.thing.happened");
    assert_eq!(event["data"], "{\"anything\":1}");
}

#[tokio::test]
async fn admin_sites_api() {
    let server = start(&[], None).await;
    let url = server.url("/admin/sites");
    assert_eq!(admin("GET", &url, "wrong-token", None).await.0, 401);
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 401);
    let (status, created) = add_site(&server, "a.example", Some(WEBSITE_ID)).await;
    assert_eq!(
        (status, created),
        (201, json!({"domain":"a.example","website_id":WEBSITE_ID}))
    );
    assert_eq!(add_site(&server, "A.EXAMPLE.", None).await.0, 409);
    let (status, generated) = add_site(&server, "b.example", None).await;
    assert_eq!(status, 201);
    assert!(uuid_ok(generated["website_id"].as_str().unwrap()));
    assert_eq!(add_site(&server, "bad domain", None).await.0, 400);
    assert_eq!(
        add_site(&server, "c.example", Some("not-a-uuid")).await.0,
        400
    );
    let (status, list) = admin("GET", &url, ADMIN_TOKEN, None).await;
    assert_eq!(status, 200);
    assert_eq!(list["sites"].as_array().unwrap().len(), 2);
    assert_eq!(list["sites"][0]["domain"], "a.example");
    let (status, one) = admin(
        "GET",
        &server.url("/admin/sites/A.example"),
        ADMIN_TOKEN,
        None,
    )
    .await;
    assert_eq!(
        (status, one["website_id"].as_str()),
        (200, Some(WEBSITE_ID))
    );
    assert_eq!(
        admin(
            "DELETE",
            &server.url("/admin/sites/a.example"),
            ADMIN_TOKEN,
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        admin(
            "DELETE",
            &server.url("/admin/sites/a.example"),
            ADMIN_TOKEN,
            None
        )
        .await
        .0,
        404
    );
    assert_eq!(
        admin(
            "GET",
            &server.url("/admin/sites/a.example"),
            ADMIN_TOKEN,
            None
        )
        .await
        .0,
        404
    );
}

fn uuid_ok(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok()
}

/// A fake plugin API: answers every request with `response` after `delay`, and counts requests.
async fn fake_plugin(
    response: &'static str,
    delay: Duration,
) -> (u16, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                tokio::time::sleep(delay).await;
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    (port, task)
}

fn http_response(status: &str, body: &str) -> &'static str {
    Box::leak(
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_boxed_str(),
    )
}

async fn backups(server: &Server, domain: &str) -> Value {
    let (status, body) = admin(
        "GET",
        &server.url(&format!("/admin/sites/{domain}/backups")),
        ADMIN_TOKEN,
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["backups"].clone()
}

async fn metric(server: &Server, line: &str) -> bool {
    let text = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines().any(|l| l == line)
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..150 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The three backup webhooks: records, broadcasts in seed 000's backup structure, sync.
async fn backup_flow(server: &Server) {
    add_site(server, "example.com", Some(WEBSITE_ID)).await;
    let mut client = Client::connect(server).await;
    client.subscribe(WEBSITE_ID).await;

    let progress = r#"{"domain":"example.com","backup_id":"backup_123456789","status":"in_progress","progress":45.7}"#;
    let (status, reply) = ingest(server, "/webhooks/backup-progress", progress).await;
    assert_eq!((status, reply), (200, json!({"success": true})));
    let event = client.recv().await;
    assert_eq!(event["event"], "backup.backup.progress");
    let data: Value = serde_json::from_str(event["data"].as_str().unwrap()).unwrap();
    assert_eq!(data["origin"], "wpfort_server");
    assert_eq!(data["vertical"], "backup");
    assert_eq!(data["metadata"]["backup_id"], "backup_123456789");
    assert_eq!(data["metadata"]["progress"], 46);
    assert_eq!(data["metadata"]["status"], "in_progress");
    let list = backups(server, "example.com").await;
    assert_eq!(list[0]["progress"], 46);
    assert_eq!(list[0]["status"], "in_progress");

    // clamped
    let over = r#"{"domain":"example.com","backup_id":"backup_123456789","progress":250}"#;
    assert_eq!(
        ingest(server, "/webhooks/backup-progress", over).await.0,
        200
    );
    let data: Value = serde_json::from_str(client.recv().await["data"].as_str().unwrap()).unwrap();
    assert_eq!(data["metadata"]["progress"], 100);

    let complete = r#"{"domain":"example.com","backup_id":"backup_123456789"}"#;
    assert_eq!(
        ingest(server, "/webhooks/backup-complete", complete)
            .await
            .0,
        200
    );
    let event = client.recv().await;
    assert_eq!(event["event"], "backup.backup.completed");
    let data: Value = serde_json::from_str(event["data"].as_str().unwrap()).unwrap();
    assert_eq!(data["status"], "success");
    assert_eq!(data["metadata"]["progress"], 100);

    let failed = r#"{"domain":"example.com","backup_id":"backup_2","error_message":"Insufficient disk space"}"#;
    assert_eq!(
        ingest(server, "/webhooks/backup-failed", failed).await.0,
        200
    );
    let event = client.recv().await;
    assert_eq!(event["event"], "backup.backup.failed");
    let data: Value = serde_json::from_str(event["data"].as_str().unwrap()).unwrap();
    assert_eq!(data["status"], "failed");
    assert_eq!(data["metadata"]["error_message"], "Insufficient disk space");

    // errors: 404 unknown site, 400 missing fields, 401 token
    let unknown = r#"{"domain":"nowhere.example","backup_id":"b"}"#;
    assert_eq!(
        ingest(server, "/webhooks/backup-complete", unknown).await.0,
        404
    );
    assert_eq!(
        ingest(
            server,
            "/webhooks/backup-progress",
            r#"{"domain":"example.com"}"#
        )
        .await
        .0,
        400
    );
    assert_eq!(
        ingest(server, "/webhooks/backup-failed", r#"{"backup_id":"b"}"#)
            .await
            .0,
        400
    );
    assert_eq!(
        ingest(
            server,
            "/webhooks/backup-progress",
            r#"{"domain":"example.com","backup_id":"b","status":"done"}"#
        )
        .await
        .0,
        400
    );
    assert_eq!(
        post_json(&server.url("/webhooks/backup-complete"), &[], complete)
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn backup_webhooks_memory_store_and_plugin_sync() {
    let list = r#"{"success":true,"data":{"backups":[{"id":"backup_123456789","status":"completed","size":"100MB"},{"id":"older","size":"5MB"}]}}"#;
    let (port, _plugin) = fake_plugin(http_response("200 OK", list), Duration::ZERO).await;
    let template = format!("http://127.0.0.1:{port}/{{domain}}/wp-json/wpsec/v1/backups");
    let config = format!(
        "[backup_sync]\nurl_template = \"{template}\"\napi_key = \"plugin-key\"\n[[apps]]\nid = \"1\"\nkey = \"{}\"\nsecret = \"{}\"\n",
        relay_e2e::KEY,
        relay_e2e::SECRET
    );
    let server = start(&[], Some(&config)).await;
    backup_flow(&server).await;
    eventually("the synced backup list", async || {
        backups(&server, "example.com")
            .await
            .as_array()
            .unwrap()
            .len()
            == 3
    })
    .await;
    let list = backups(&server, "example.com").await;
    let older = list
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["backup_id"] == "older")
        .unwrap();
    assert_eq!(older["status"], "completed");
    assert_eq!(older["metadata"]["size"], "5MB");
    assert!(metric(&server, "relay_backup_syncs_total{outcome=\"ok\"} 1").await);
}

#[tokio::test]
async fn backup_webhooks_postgres_store() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let config = format!(
        "[backup_sync]\nurl_template = \"\"\n[[apps]]\nid = \"1\"\nkey = \"{}\"\nsecret = \"{}\"\n",
        relay_e2e::KEY,
        relay_e2e::SECRET
    );
    let server = start(&[("DATABASE_URL", &db.url)], Some(&config)).await;
    backup_flow(&server).await;
    let list = backups(&server, "example.com").await;
    let done = list
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["backup_id"] == "backup_123456789")
        .unwrap();
    assert_eq!(done["status"], "completed");
    assert_eq!(done["progress"], 100);
}

#[tokio::test]
async fn plugin_sync_survives_timeouts_garbage_and_errors() {
    for (response, delay, outcome) in [
        (
            http_response("200 OK", "<html>not json</html>"),
            Duration::ZERO,
            "garbage",
        ),
        (
            http_response("500 Internal Server Error", "{}"),
            Duration::ZERO,
            "bad_status",
        ),
        (
            http_response("200 OK", "[]"),
            Duration::from_secs(5),
            "http_error",
        ),
    ] {
        let (port, _plugin) = fake_plugin(response, delay).await;
        let config = format!(
            "[backup_sync]\nurl_template = \"http://127.0.0.1:{port}/{{domain}}\"\ntimeout = 1\n[[apps]]\nid = \"1\"\nkey = \"{}\"\nsecret = \"{}\"\n",
            relay_e2e::KEY,
            relay_e2e::SECRET
        );
        let server = start(&[], Some(&config)).await;
        add_site(&server, "example.com", None).await;
        let complete = r#"{"domain":"example.com","backup_id":"b1"}"#;
        let (status, _) = ingest(&server, "/webhooks/backup-complete", complete).await;
        assert_eq!(status, 200, "the webhook never waits for the sync");
        let line = format!("relay_backup_syncs_total{{outcome=\"{outcome}\"}} 1");
        eventually(&line, async || metric(&server, &line).await).await;
        assert_eq!(
            backups(&server, "example.com").await[0]["status"],
            "completed"
        );
    }
}

#[tokio::test]
async fn database_failure_does_not_fail_the_webhook_and_the_write_is_retried() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let server = start(
        &[
            ("DATABASE_URL", &db.url),
            ("RELAY_ADMIN_TOKEN", ADMIN_TOKEN),
        ],
        None,
    )
    .await;
    add_site(&server, "example.com", None).await;
    let site = admin(
        "GET",
        &server.url("/admin/sites/example.com"),
        ADMIN_TOKEN,
        None,
    )
    .await
    .1;
    let mut client = Client::connect(&server).await;
    client.subscribe(site["website_id"].as_str().unwrap()).await;

    let (sql, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    sql.batch_execute("ALTER TABLE backups RENAME TO backups_away")
        .await
        .unwrap();
    let progress = r#"{"domain":"example.com","backup_id":"b1","progress":10}"#;
    let (status, reply) = ingest(&server, "/webhooks/backup-progress", progress).await;
    assert_eq!((status, reply), (200, json!({"success": true})));
    assert_eq!(client.recv().await["event"], "backup.backup.progress");
    let progress = r#"{"domain":"example.com","backup_id":"b1","progress":20}"#;
    assert_eq!(
        ingest(&server, "/webhooks/backup-progress", progress)
            .await
            .0,
        200
    );
    assert!(metric(&server, "relay_backup_write_failures_total 1").await);

    sql.batch_execute("ALTER TABLE backups_away RENAME TO backups")
        .await
        .unwrap();
    eventually("the retried write", async || {
        let list = backups(&server, "example.com").await;
        list.as_array()
            .is_some_and(|l| l.len() == 1 && l[0]["progress"] == 20)
    })
    .await;
}

#[tokio::test]
async fn cli_migrate_and_sites_commands() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .env("DATABASE_URL", &db.url)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert!(run(&["migrate"]).0);
    assert!(run(&["migrate"]).0, "migrations are idempotent");
    let (ok, out, err) = run(&[
        "sites",
        "add",
        "HTTPS://Cli.Example/",
        "--website-id",
        WEBSITE_ID,
    ]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), format!("cli.example\t{WEBSITE_ID}"));
    let (ok, _, err) = run(&["sites", "add", "cli.example"]);
    assert!(!ok && err.contains("already exists"), "{err}");
    assert!(run(&["sites", "list"]).1.contains("cli.example"));
    // the server sees the site the CLI added
    let server = start(&[("DATABASE_URL", &db.url)], None).await;
    let (status, site) = admin(
        "GET",
        &server.url("/admin/sites/cli.example"),
        ADMIN_TOKEN,
        None,
    )
    .await;
    assert_eq!(
        (status, site["website_id"].as_str()),
        (200, Some(WEBSITE_ID))
    );
    drop(server);
    assert!(run(&["sites", "remove", "cli.example"]).0);
    assert!(!run(&["sites", "remove", "cli.example"]).0);
    let out = Command::new(BIN)
        .env_remove("DATABASE_URL")
        .args(["sites", "list"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("DATABASE_URL"));
}

#[tokio::test]
async fn config_file_sites_are_registered() {
    let config = format!(
        "[[sites]]\ndomain = \"Configured.Example\"\nwebsite_id = \"{WEBSITE_ID}\"\n[[apps]]\nid = \"1\"\nkey = \"{}\"\nsecret = \"{}\"\n",
        relay_e2e::KEY,
        relay_e2e::SECRET
    );
    let server = start(&[], Some(&config)).await;
    let (status, site) = admin(
        "GET",
        &server.url("/admin/sites/configured.example"),
        ADMIN_TOKEN,
        None,
    )
    .await;
    assert_eq!(
        (status, site["website_id"].as_str()),
        (200, Some(WEBSITE_ID))
    );
}
