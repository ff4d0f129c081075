//! Process lifecycle: configuration errors and graceful shutdown.

use std::process::Command;

use relay_e2e::{Client, Server};

use crate::BIN;

#[tokio::test]
async fn sigterm_closes_every_socket_with_4200_and_exits_cleanly() {
    let mut server = Server::start(BIN, &[], None).await;
    let mut a = Client::connect(&server).await;
    let mut b = Client::connect(&server).await;
    a.subscribe("x").await;
    let status = tokio::task::spawn_blocking(move || {
        let status = server.terminate();
        (status, server)
    });
    assert_eq!(a.recv_event("pusher:error").await["data"]["code"], 4200);
    assert_eq!(a.closed().await, 4200);
    assert_eq!(b.closed().await, 4200);
    let (status, _server) = status.await.unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn bad_configuration_fails_fast_with_a_message() {
    let dir = std::env::temp_dir().join(format!("relay-bad-config-{}", std::process::id()));
    std::fs::write(&dir, "bind = \"127.0.0.1:1\"\nactivty_timeout = 3\n").unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&dir)
        .arg("check-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown field `activty_timeout`"),
        "{stderr}"
    );
    let out = Command::new(BIN)
        .env("RELAY_BIND", "not-an-address")
        .arg("check-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RELAY_BIND"));
}
