//! Load test of the Fast Events source: N concurrent signed webhook posts at once against a
//! running server, answer latency percentiles, then the time until every event was broadcast
//! to a WebSocket subscriber of the site's channel (each exactly once).
//!
//! ```sh
//! RELAY_ADMIN_TOKEN=bench-admin-token cargo run --release -p relay-server &
//! cargo run --release -p relay-server --example fast_events_load -- \
//!     --url http://127.0.0.1:6001 --admin-token bench-admin-token --key app-key -n 1000
//! ```
//!
//! It registers a fresh site and Fast Events source through the admin API (so it needs the
//! admin token), signs each body as the plugin does (base64 HMAC-SHA256), sends every request
//! at the same instant on its own connection (as the plugin's scheduler does), and measures
//! from just before the request is written until the status line is read.

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

use base64::{engine::general_purpose::STANDARD, Engine as _};
use clap::Parser;
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio::sync::Barrier;
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser, Debug)]
struct Args {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:6001")]
    url: String,
    /// The admin bearer token.
    #[arg(long, env = "RELAY_ADMIN_TOKEN")]
    admin_token: String,
    /// The key of the ingestion app (for the WebSocket subscriber).
    #[arg(long, default_value = "app-key")]
    key: String,
    /// `[ingest] channel_prefix` of the server.
    #[arg(long, default_value = "")]
    channel_prefix: String,
    /// Concurrent posts.
    #[arg(short, long, default_value_t = 1000)]
    n: usize,
    /// How long to wait for every broadcast, seconds.
    #[arg(long, default_value_t = 60)]
    wait: u64,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

async fn admin(http: &reqwest::Client, args: &Args, path: &str, body: Value) -> Value {
    let response = http
        .post(format!("{}{path}", args.url))
        .bearer_auth(&args.admin_token)
        .json(&body)
        .send()
        .await
        .expect("admin request");
    let status = response.status();
    let body: Value = response.json().await.expect("admin JSON");
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

fn sign(secret: &str, body: &str) -> String {
    STANDARD.encode(pusher_wire::auth::hmac_sha256(
        secret.as_bytes(),
        &[body.as_bytes()],
    ))
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let http = reqwest::Client::new();
    let run = format!("{:08x}", rand::random::<u32>());
    let domain = format!("bench-{run}.example");
    let site = admin(&http, &args, "/admin/sites", json!({ "domain": domain })).await;
    let secret = format!("bench-secret-{run}");
    let source = admin(
        &http,
        &args,
        "/admin/sources",
        json!({ "kind": "fast_events", "domain": domain, "secret": secret }),
    )
    .await;
    let hook = format!("{}{}", args.url, source["receive_url"].as_str().unwrap());
    let channel = format!(
        "{}{}",
        args.channel_prefix,
        site["website_id"].as_str().unwrap()
    );

    // the subscriber
    let ws_url = format!(
        "{}/app/{}?protocol=7&client=js&version=8.4.0",
        args.url.replacen("http", "ws", 1),
        args.key
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url)
        .await
        .expect("WebSocket");
    ws.next().await.expect("connection_established").unwrap();
    ws.send(Message::text(
        json!({"event": "pusher:subscribe", "data": {"channel": channel}}).to_string(),
    ))
    .await
    .unwrap();
    loop {
        let frame = ws.next().await.expect("frame").unwrap();
        if frame
            .to_text()
            .unwrap_or("")
            .contains("subscription_succeeded")
        {
            break;
        }
    }

    // the plugin's "Test webhook" (empty body), alone
    let started = Instant::now();
    let status = http
        .post(&hook)
        .send()
        .await
        .expect("test webhook")
        .status();
    println!(
        "test webhook (empty body): {status} in {}",
        ms(started.elapsed())
    );

    // one signed post alone (what the plugin's "Duration" shows for a real event)
    let single = json!({"id": args.n, "event_id": 7, "name": "Single"}).to_string();
    let started = Instant::now();
    let status = http
        .post(&hook)
        .header("content-type", "application/json")
        .header("x-fe-webhook-topic", "order.created")
        .header("x-fe-webhook-delivery-id", format!("bench-{run}-single"))
        .header("x-fe-webhook-signature", sign(&secret, &single))
        .body(single)
        .send()
        .await
        .expect("single post")
        .status();
    println!(
        "one signed post alone: {status} in {}",
        ms(started.elapsed())
    );

    // N signed posts at once, each on a fresh connection
    let barrier = Arc::new(Barrier::new(args.n));
    let tasks: Vec<_> = (0..args.n)
        .map(|i| {
            let barrier = barrier.clone();
            let hook = hook.clone();
            let body =
                json!({"id": i, "event_id": 7, "name": "Bench", "email": "bench@example.com",
                              "tickets": [{"type": "Adult", "qty": 1}]})
                .to_string();
            let signature = sign(&secret, &body);
            tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .pool_max_idle_per_host(0)
                    .timeout(Duration::from_secs(60))
                    .build()
                    .unwrap();
                let request = client
                    .post(&hook)
                    .header("content-type", "application/json")
                    .header("user-agent", "Fast-Events/1.6.0 (WordPress/6.1.1)")
                    .header("x-fe-webhook-topic", "order.created")
                    .header("x-fe-webhook-resource", "order")
                    .header("x-fe-webhook-event", "created")
                    .header("x-fe-webhook-delivery-id", format!("bench-{i}"))
                    .header("x-fe-webhook-signature", signature)
                    .body(body);
                barrier.wait().await;
                let started = Instant::now();
                let status = request.send().await.map(|r| r.status().as_u16());
                (started, started.elapsed(), status)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(args.n);
    let mut first = None::<Instant>;
    let mut failures = 0;
    for task in tasks {
        let (started, latency, status) = task.await.unwrap();
        first = Some(first.map_or(started, |f| f.min(started)));
        match status {
            Ok(200) => latencies.push(latency),
            other => {
                failures += 1;
                if failures <= 5 {
                    eprintln!("request failed: {other:?}");
                }
            }
        }
    }
    let first = first.expect("at least one request");
    let answered = first.elapsed();
    latencies.sort();
    println!("{} concurrent Fast Events posts: {} answered 200, {failures} failed, all answered within {}", args.n, latencies.len(), ms(answered));
    if !latencies.is_empty() {
        println!(
            "answer latency: p50 {}  p90 {}  p99 {}  max {}",
            ms(percentile(&latencies, 50.0)),
            ms(percentile(&latencies, 90.0)),
            ms(percentile(&latencies, 99.0)),
            ms(*latencies.last().unwrap())
        );
    }

    // every event broadcast once
    let mut seen = HashSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.wait);
    while seen.len() < args.n + 1 {
        let Ok(Some(Ok(frame))) = tokio::time::timeout_at(deadline, ws.next()).await else {
            break;
        };
        let Ok(frame) = serde_json::from_str::<Value>(frame.to_text().unwrap_or("")) else {
            continue;
        };
        if frame["event"] == "fast_events.order.created" {
            let data: Value = serde_json::from_str(frame["data"].as_str().unwrap()).unwrap();
            assert!(
                seen.insert(data["id"].as_u64().unwrap()),
                "broadcast twice: {data}"
            );
        }
    }
    seen.remove(&(args.n as u64));
    println!(
        "broadcast: {}/{} events on {channel} within {} of the first post",
        seen.len(),
        args.n,
        ms(first.elapsed())
    );
}
