//! Smoke run of the load generator against the real relay server, started in-process on a
//! free port: a tiny fan-out and a tiny connection storm, nothing lost or duplicated; and a
//! tiny floor run against the null server.

use std::{net::TcpListener, time::Duration};

use relay_bench::{
    scenario::{self, Conns, Delivery},
    Target,
};
use relay_server::config::{AppConfig, Config};

const APP: (&str, &str, &str) = ("bench-app", "bench-key", "bench-secret");

fn start_relay() -> u16 {
    // unwrap: binding port 0 on loopback only fails if the machine is out of ports.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = Config {
        bind: ([127, 0, 0, 1], port).into(),
        workers: 2,
        apps: vec![AppConfig::new(APP.0, APP.1, APP.2)],
        ..Config::default()
    };
    std::thread::spawn(move || {
        // The server runs until the test process exits.
        let result = actix_rt::System::new().block_on(relay_server::server::serve(config));
        if let Err(e) = result {
            eprintln!("relay server stopped: {e}");
        }
    });
    port
}

async fn wait_healthy(port: u16) {
    let client = reqwest::Client::new();
    for _ in 0..200 {
        let ok = client
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ok {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("relay did not become healthy on port {port}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_and_storm_against_relay() {
    relay_bench::raise_nofile_limit();
    let port = start_relay();
    wait_healthy(port).await;
    let mut target = Target::new(
        &format!("ws://127.0.0.1:{port}"),
        &format!("http://127.0.0.1:{port}"),
        APP.0,
        APP.1,
        APP.2,
    );
    target.server_pid = Some(std::process::id());
    target.source_addrs = 4;
    target.label = "relay-smoke".into();
    let ctx = target.context().await.expect("context");

    let fanout = Delivery {
        subscribers: 10,
        rate: 20.0,
        duration: Duration::from_secs(2),
        drain: Duration::from_secs(3),
        prefix: "smoke".into(),
        ..Delivery::default()
    };
    let v = scenario::delivery(&ctx, &fanout, "fanout")
        .await
        .expect("fanout");
    eprintln!("{v}");
    assert_eq!(v["connected"], 10, "{v}");
    assert_eq!(v["accepted"], 40, "{v}");
    assert_eq!(v["expected"], 400, "{v}");
    assert_eq!(v["delivered"], 400, "{v}");
    assert_eq!(v["lost"], 0, "{v}");
    assert_eq!(v["duplicates"], 0, "{v}");
    assert_eq!(v["unexpected"], 0, "{v}");
    assert_eq!(v["latency"]["count"], 400, "{v}");
    assert!(v["latency"]["p99_ms"].as_f64().unwrap() > 0.0, "{v}");
    assert!(v["server"]["rss_end_kb"].as_u64().unwrap() > 0, "{v}");

    let storm = Conns {
        count: 50,
        channels: 5,
        concurrency: 25,
        prefix: "smoke-storm".into(),
        ..Conns::default()
    };
    let v = scenario::connections(&ctx, &storm, "storm")
        .await
        .expect("storm");
    eprintln!("{v}");
    assert_eq!(v["opened"], 50, "{v}");
    assert_eq!(v["failed"], 0, "{v}");
    assert!(v["per_s"].as_f64().unwrap() > 0.0, "{v}");

    let presence = Conns {
        count: 20,
        channels: 0,
        presence_members: 10,
        concurrency: 5,
        settle: Duration::from_secs(3),
        prefix: "smoke".into(),
    };
    let v = scenario::connections(&ctx, &presence, "presence")
        .await
        .expect("presence");
    eprintln!("{v}");
    assert_eq!(v["opened"], 20, "{v}");
    assert_eq!(v["member_added_expected"], 90, "{v}");
    assert_eq!(v["member_added_received"], 90, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floor_against_the_null_server() {
    // unwrap: binding port 0 on loopback only fails if the machine is out of ports.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        // Runs until the test process exits.
        let _ = relay_bench::floor::null_server(listener, 50.0, 64);
    });
    let proc = relay_bench::procstat::Proc::new(std::process::id());
    let v = relay_bench::floor::floor(
        addr,
        &relay_bench::loopback_sources(2),
        20,
        Duration::from_secs(1),
        relay_bench::floor::event_frame(64).len(),
        Some(&proc),
        "null",
    )
    .await
    .unwrap();
    // 20 readers x 50 frames/s x 1 s, give or take a few ticks at either end of the window
    // (a busy machine delays them).
    let delivered = v["delivered"].as_u64().unwrap();
    assert!((700..=1300).contains(&delivered), "{v}");
    let latency = &v["latency"];
    assert!(latency["count"].as_u64().unwrap() >= 700, "{v}");
    assert!(latency["p99_ms"].as_f64().unwrap() < 1000.0, "{v}");
    assert!(v["cpu_us_per_delivered"].is_number(), "{v}");
}
