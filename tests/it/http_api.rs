//! The HTTP API over signed requests (spec §7, §10.16–§10.24).

use relay_e2e::{Client, Server, KEY, SECRET};
use serde_json::json;

use crate::BIN;

#[tokio::test]
async fn trigger_with_info_and_socket_exclusion() {
    let server = Server::start(BIN, &[], None).await;
    let mut a = Client::connect(&server).await;
    let mut b = Client::connect(&server).await;
    a.subscribe_presence("presence-p", r#"{"user_id":"a"}"#)
        .await;
    b.subscribe_presence("presence-p", r#"{"user_id":"b"}"#)
        .await;
    a.recv_event("pusher_internal:member_added").await;
    a.subscribe("plain").await;
    let body = json!({
        "name":"e","channels":["presence-p","plain"],"data":"1",
        "socket_id": a.socket_id, "info":"subscription_count,user_count"
    });
    // user_count on a non-presence channel is refused
    let (status, error) = server.api("POST", "/apps/1/events", Some(&body), &[]).await;
    assert_eq!(status, 400, "{error}");
    assert!(error["error"].is_string());
    let body = json!({
        "name":"e","channels":["presence-p","plain"],"data":"1",
        "socket_id": a.socket_id, "info":"subscription_count"
    });
    let (status, reply) = server.api("POST", "/apps/1/events", Some(&body), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        reply,
        json!({"channels":{"presence-p":{"subscription_count":2},"plain":{"subscription_count":1}}})
    );
    assert_eq!(b.recv().await["event"], "e");
    a.expect_silence(std::time::Duration::from_millis(300))
        .await; // spec §10.24
}

#[tokio::test]
async fn object_data_is_stringified_and_empty_string_is_valid() {
    let server = Server::start(BIN, &[], None).await;
    let mut a = Client::connect(&server).await;
    a.subscribe("c").await;
    let body = json!({"name":"e","channel":"c","data":{"k":[1,2]}});
    assert_eq!(
        server
            .api("POST", "/apps/1/events", Some(&body), &[])
            .await
            .0,
        200
    );
    assert_eq!(a.recv().await["data"], "{\"k\":[1,2]}");
    let body = json!({"name":"e","channel":"c","data":""});
    assert_eq!(
        server
            .api("POST", "/apps/1/events", Some(&body), &[])
            .await
            .0,
        200
    );
    assert_eq!(a.recv().await["data"], "");
}

#[tokio::test]
async fn batch_events_with_info() {
    let server = Server::start(BIN, &[], None).await;
    let mut a = Client::connect(&server).await;
    a.subscribe("a").await;
    let body = json!({"batch":[
        {"channel":"a","name":"e1","data":"1","info":"subscription_count"},
        {"channel":"b","name":"e2","data":"2"}
    ]});
    let (status, reply) = server
        .api("POST", "/apps/1/batch_events", Some(&body), &[])
        .await;
    assert_eq!(status, 200);
    assert_eq!(reply, json!({"batch":[{"subscription_count":1},{}]}));
    assert_eq!(a.recv().await["event"], "e1");
    let items: Vec<_> = (0..11)
        .map(|i| json!({"channel":"a","name":"e","data":i.to_string()}))
        .collect();
    let (status, _) = server
        .api(
            "POST",
            "/apps/1/batch_events",
            Some(&json!({"batch":items})),
            &[],
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn channel_queries() {
    let server = Server::start(BIN, &[], None).await;
    let mut a = Client::connect(&server).await;
    a.subscribe_presence("presence-q", r#"{"user_id":"u1"}"#)
        .await;
    a.subscribe("public-q").await;
    a.signin(r#"{"id":"u1"}"#).await;
    a.subscribe("#server-to-user-u1").await;

    let (status, all) = server.api("GET", "/apps/1/channels", None, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(all, json!({"channels":{"presence-q":{},"public-q":{}}}));
    let (status, _) = server
        .api("GET", "/apps/1/channels", None, &[("info", "user_count")])
        .await;
    assert_eq!(status, 400); // spec §10.22
    let (status, presence) = server
        .api(
            "GET",
            "/apps/1/channels",
            None,
            &[("filter_by_prefix", "presence-"), ("info", "user_count")],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        presence,
        json!({"channels":{"presence-q":{"user_count":1}}})
    );

    let (_, one) = server
        .api(
            "GET",
            "/apps/1/channels/presence-q",
            None,
            &[("info", "user_count,subscription_count")],
        )
        .await;
    assert_eq!(
        one,
        json!({"occupied":true,"user_count":1,"subscription_count":1})
    );
    let (_, empty) = server
        .api("GET", "/apps/1/channels/nobody", None, &[])
        .await;
    assert_eq!(empty, json!({"occupied":false}));
    let (status, _) = server
        .api(
            "GET",
            "/apps/1/channels/public-q",
            None,
            &[("info", "user_count")],
        )
        .await;
    assert_eq!(status, 400);
    let (_, users) = server
        .api("GET", "/apps/1/channels/presence-q/users", None, &[])
        .await;
    assert_eq!(users, json!({"users":[{"id":"u1"}]}));
    let (status, _) = server
        .api("GET", "/apps/1/channels/public-q/users", None, &[])
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn authentication_failures_are_401_json() {
    let server = Server::start(BIN, &[], None).await;
    let body = json!({"name":"e","channel":"c","data":"x"}).to_string();
    // wrong secret
    let (status, reply) = server
        .api_as(
            KEY,
            "wrong",
            "POST",
            "/apps/1/events",
            Some(&serde_json::from_str(&body).unwrap()),
            &[],
        )
        .await;
    assert_eq!(status, 401);
    assert!(
        reply["error"].as_str().unwrap().contains("signature"),
        "{reply}"
    );
    // stale timestamp
    let query = pusher_wire::auth::api_request::sign(
        "POST",
        "/apps/1/events",
        KEY,
        SECRET,
        relay_e2e::unix_now() - 700,
        body.as_bytes(),
        &[],
    );
    let (status, reply) = server
        .raw("POST", &format!("/apps/1/events?{query}"), body.clone())
        .await;
    assert_eq!(status, 401, "{reply}");
    // wrong body_md5: signed for another body
    let query = pusher_wire::auth::api_request::sign(
        "POST",
        "/apps/1/events",
        KEY,
        SECRET,
        relay_e2e::unix_now(),
        b"{}",
        &[],
    );
    let (status, reply) = server
        .raw("POST", &format!("/apps/1/events?{query}"), body.clone())
        .await;
    assert_eq!(status, 401, "{reply}");
    // unsigned
    let (status, _) = server.raw("POST", "/apps/1/events", body.clone()).await;
    assert_eq!(status, 401);
    // a key of another app (spec §10.19) and an unknown app
    let (status, _) = server
        .api_as(
            "other",
            SECRET,
            "POST",
            "/apps/1/events",
            Some(&serde_json::from_str(&body).unwrap()),
            &[],
        )
        .await;
    assert_eq!(status, 401);
    let (status, reply) = server
        .api(
            "POST",
            "/apps/999/events",
            Some(&serde_json::from_str(&body).unwrap()),
            &[],
        )
        .await;
    assert_eq!(status, 404, "{reply}");
}

#[tokio::test]
async fn python_style_get_with_body_md5_is_accepted() {
    // spec §10.17: PyPI pusher adds body_md5 of the empty body to GET requests.
    let server = Server::start(BIN, &[], None).await;
    let md5 = pusher_wire::auth::api_request::body_md5(b"");
    let (status, reply) = server
        .api(
            "GET",
            "/apps/1/channels",
            None,
            &[("body_md5", md5.as_str())],
        )
        .await;
    assert_eq!((status, reply), (200, json!({"channels":{}})));
}

#[tokio::test]
async fn python_terminate_path_without_apps_prefix() {
    let server = Server::start(BIN, &[], None).await;
    let mut client = Client::connect(&server).await;
    client.signin(r#"{"id":"42"}"#).await;
    let (status, reply) = server
        .api(
            "POST",
            "/users/42/terminate_connections",
            Some(&json!({})),
            &[],
        )
        .await;
    assert_eq!((status, reply), (200, json!({})));
    assert_eq!(client.closed().await, 4009);
}

#[tokio::test]
async fn payload_limits() {
    let server = Server::start(BIN, &[], None).await;
    let big = "x".repeat(10 * 1024 + 1);
    let (status, reply) = server
        .api(
            "POST",
            "/apps/1/events",
            Some(&json!({"name":"e","channel":"c","data":big})),
            &[],
        )
        .await;
    assert_eq!(status, 413, "{reply}");
    let ok = "x".repeat(10 * 1024);
    let (status, _) = server
        .api(
            "POST",
            "/apps/1/events",
            Some(&json!({"name":"e","channel":"c","data":ok})),
            &[],
        )
        .await;
    assert_eq!(status, 200);
    let channels: Vec<String> = (0..101).map(|i| format!("c{i}")).collect();
    let (status, _) = server
        .api(
            "POST",
            "/apps/1/events",
            Some(&json!({"name":"e","channels":channels,"data":"x"})),
            &[],
        )
        .await;
    assert_eq!(status, 400);
    for bad in [
        json!({"channel":"c","data":"x"}),
        json!({"name":"e","data":"x"}),
        json!({"name":"e","channel":"c"}),
        json!({"name":"e","channel":"a:b","data":"x"}),
        json!({"name":"pusher_internal:x","channel":"c","data":"x"}),
        json!({"name":"e","channel":"c","data":"x","socket_id":"abc"}),
    ] {
        let (status, reply) = server.api("POST", "/apps/1/events", Some(&bad), &[]).await;
        assert_eq!(status, 400, "{bad} -> {reply}");
        assert!(reply["error"].is_string());
    }
}

#[tokio::test]
async fn health_ready_metrics() {
    let server = Server::start(BIN, &[], None).await;
    let _client = Client::connect(&server).await;
    let health = reqwest::get(server.url("/health")).await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = reqwest::get(server.url("/ready")).await.unwrap();
    assert_eq!(ready.status(), 200);
    let metrics = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("relay_connections 1"), "{metrics}");
    assert!(
        metrics.contains("relay_app_connections{app=\"1\"} 1"),
        "{metrics}"
    );
}
