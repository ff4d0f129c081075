//! The WebSocket protocol over raw frames: handshake, channels, presence, client events,
//! sign-in, watchlist and the error codes (spec §1–§6, §10).

use std::time::Duration;

use relay_e2e::{data_of, Client, Server, KEY};
use serde_json::json;

use crate::BIN;

async fn server() -> Server {
    Server::start(BIN, &[("RELAY_APP_ENABLE_CLIENT_MESSAGES", "true")], None).await
}

#[tokio::test]
async fn handshake_gives_socket_id_and_activity_timeout() {
    let server = server().await;
    let mut client = Client::connect_raw(&server.ws_url(KEY)).await;
    let frame = client.recv().await;
    assert_eq!(frame["event"], "pusher:connection_established");
    // spec §10.6: data is a JSON string; §10.2: activity_timeout present; §10.3: digits.digits.
    let data = data_of(&frame);
    assert_eq!(data["activity_timeout"], 120);
    let socket_id = data["socket_id"].as_str().unwrap();
    assert!(
        pusher_wire::SocketId::parse(socket_id).is_ok(),
        "{socket_id}"
    );
}

#[tokio::test]
async fn unknown_key_gets_4001_error_then_close() {
    let server = server().await;
    let mut client = Client::connect_raw(&server.ws_url("nope")).await;
    let frame = client.recv().await;
    assert_eq!(frame["event"], "pusher:error");
    assert_eq!(frame["data"]["code"], 4001); // spec §10.1: a numeric code before closing
    assert_eq!(client.closed().await, 4001);
}

#[tokio::test]
async fn unsupported_protocol_gets_4007() {
    let server = server().await;
    let url = format!("ws://127.0.0.1:{}/app/{KEY}?protocol=3", server.port);
    let mut client = Client::connect_raw(&url).await;
    assert_eq!(client.recv().await["data"]["code"], 4007);
    assert_eq!(client.closed().await, 4007);
}

#[tokio::test]
async fn ping_pong_and_unknown_events_and_bad_json() {
    let server = server().await;
    let mut client = Client::connect(&server).await;
    client.send(json!({"event":"pusher:ping","data":{}})).await;
    assert_eq!(
        client.recv().await,
        json!({"event":"pusher:pong","data":{}})
    );
    client
        .send(json!({"event":"something:else","data":{}}))
        .await;
    client.expect_silence(Duration::from_millis(200)).await;
    client.send_text("{\"event\":").await;
    let error = client.recv().await;
    assert_eq!(error["event"], "pusher:error");
    assert_eq!(error["data"]["code"], serde_json::Value::Null);
    // still open
    client.send(json!({"event":"pusher:ping","data":{}})).await;
    assert_eq!(client.recv().await["event"], "pusher:pong");
}

#[tokio::test]
async fn public_channel_receives_api_events_byte_for_byte() {
    let server = server().await;
    let mut client = Client::connect(&server).await;
    let ok = client.subscribe("my-channel;with,odd=chars@.").await;
    assert_eq!(ok["data"], "{}");
    let body = json!({"name":"my-event","channel":"my-channel;with,odd=chars@.","data":"{\"message\": \"hello\"}"});
    let (status, reply) = server.api("POST", "/apps/1/events", Some(&body), &[]).await;
    assert_eq!((status, reply), (200, json!({})));
    let event = client.recv().await;
    assert_eq!(event["event"], "my-event");
    assert_eq!(event["data"], "{\"message\": \"hello\"}");
}

#[tokio::test]
async fn duplicate_subscribe_and_unknown_unsubscribe() {
    let server = server().await;
    let mut client = Client::connect(&server).await;
    client.subscribe("room").await;
    client
        .send(json!({"event":"pusher:subscribe","data":{"auth":"","channel":"room"}}))
        .await;
    let error = client.recv().await;
    assert_eq!(error["event"], "pusher:error");
    assert_eq!(
        error["data"]["message"],
        "Existing subscription to channel room"
    ); // spec §10.8
    client
        .send(json!({"event":"pusher:unsubscribe","data":{"channel":"elsewhere"}}))
        .await;
    client.expect_silence(Duration::from_millis(200)).await; // spec §10.31
}

#[tokio::test]
async fn private_channel_bad_auth_keeps_connection_open() {
    let server = server().await;
    let mut client = Client::connect(&server).await;
    client
        .send(json!({"event":"pusher:subscribe","data":{"auth":format!("{KEY}:deadbeef"),"channel":"private-x"}}))
        .await;
    let error = client.recv().await;
    assert_eq!(error["event"], "pusher:error");
    assert_eq!(error["channel"], "private-x");
    assert!(error["data"]["message"]
        .as_str()
        .unwrap()
        .contains("Invalid signature"));
    // spec §10.7: not closed; a correct subscription still works.
    client.subscribe_private("private-x").await;
    client.subscribe_private("private-encrypted-x").await;
}

#[tokio::test]
async fn invalid_channel_names_are_errors() {
    let server = server().await;
    let mut client = Client::connect(&server).await;
    for name in ["a:b", "#secret", &"x".repeat(165), "naïve"] {
        client
            .send(json!({"event":"pusher:subscribe","data":{"auth":"","channel":name}}))
            .await;
        let error = client.recv().await;
        assert_eq!(error["event"], "pusher:error", "{name}");
    }
}

#[tokio::test]
async fn presence_roster_member_added_once_and_removed_after_last_socket() {
    let server = server().await;
    let mut alice = Client::connect(&server).await;
    let ok = alice
        .subscribe_presence(
            "presence-room",
            r#"{"user_id":"alice","user_info":{"name":"A"}}"#,
        )
        .await;
    let roster = data_of(&ok);
    assert_eq!(roster["presence"]["count"], 1);
    assert_eq!(roster["presence"]["hash"]["alice"]["name"], "A"); // spec §10.10: me in roster

    let mut bob1 = Client::connect(&server).await;
    // python-style channel_data with spaces, signed as received (spec §10.13)
    bob1.subscribe_presence(
        "presence-room",
        r#"{"user_id": 7, "user_info": {"name": "B"}}"#,
    )
    .await;
    let added = alice.recv_event("pusher_internal:member_added").await;
    assert_eq!(data_of(&added)["user_id"], "7");

    let mut bob2 = Client::connect(&server).await;
    let ok = bob2
        .subscribe_presence(
            "presence-room",
            r#"{"user_id":"7","user_info":{"name":"B2"}}"#,
        )
        .await;
    assert_eq!(data_of(&ok)["presence"]["count"], 2);
    // spec §10.9: no second member_added for bob's second socket; §10.10: no echo to the joiner
    alice.expect_silence(Duration::from_millis(300)).await;
    bob2.expect_silence(Duration::from_millis(100)).await;

    bob1.close().await;
    alice.expect_silence(Duration::from_millis(300)).await;
    bob2.close().await; // spec §10.11: removal on disconnect
    let removed = alice.recv_event("pusher_internal:member_removed").await;
    assert_eq!(data_of(&removed)["user_id"], "7");
}

#[tokio::test]
async fn presence_member_limit() {
    let config = format!(
        "[[apps]]\nid = \"1\"\nkey = \"{KEY}\"\nsecret = \"{}\"\nmax_presence_members = 1\n",
        relay_e2e::SECRET
    );
    let server = Server::start(BIN, &[], Some(&config)).await;
    let mut a = Client::connect(&server).await;
    a.subscribe_presence("presence-full", r#"{"user_id":"1"}"#)
        .await;
    let mut b = Client::connect(&server).await;
    let data = r#"{"user_id":"2"}"#;
    let auth = pusher_wire::auth::channel::sign(
        KEY,
        relay_e2e::SECRET,
        &b.socket_id,
        "presence-full",
        Some(data),
    );
    b.send(json!({"event":"pusher:subscribe","data":{"auth":auth,"channel":"presence-full","channel_data":data}}))
        .await;
    let error = b.recv().await;
    assert_eq!(error["event"], "pusher:error");
    assert_eq!(error["channel"], "presence-full");
    // the same user on another socket is still allowed
    let mut c = Client::connect(&server).await;
    c.subscribe_presence("presence-full", r#"{"user_id":"1"}"#)
        .await;
}

#[tokio::test]
async fn client_events_rules() {
    let server = server().await;
    let mut a = Client::connect(&server).await;
    let mut b = Client::connect(&server).await;
    a.subscribe_private("private-chat").await;
    b.subscribe_private("private-chat").await;
    a.send(json!({"event":"client-typing","channel":"private-chat","data":{"typing":true}}))
        .await;
    let got = b.recv().await;
    assert_eq!(
        got,
        json!({"event":"client-typing","channel":"private-chat","data":{"typing":true}})
    );
    a.expect_silence(Duration::from_millis(200)).await; // not echoed
                                                        // public channel: rejected with 4301, connection open
    a.subscribe("public").await;
    a.send(json!({"event":"client-x","channel":"public","data":{}}))
        .await;
    assert_eq!(a.recv().await["data"]["code"], 4301);
    // not subscribed
    a.send(json!({"event":"client-x","channel":"private-other","data":{}}))
        .await;
    assert_eq!(a.recv().await["data"]["code"], 4301);
    // rate limit: 10 per second (wait for a fresh one-second window first)
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for i in 0..12 {
        a.send(json!({"event":"client-n","channel":"private-chat","data":{"i":i}}))
            .await;
    }
    let mut delivered = 0;
    while let Ok(Some(frame)) = b.next(Duration::from_millis(300)).await {
        assert_eq!(frame["event"], "client-n");
        delivered += 1;
    }
    assert_eq!(delivered, 10);
    let mut errors = 0;
    while let Ok(Some(frame)) = a.next(Duration::from_millis(200)).await {
        assert_eq!(frame["data"]["code"], 4301);
        errors += 1;
    }
    assert_eq!(errors, 2);
}

#[tokio::test]
async fn presence_client_events_carry_user_id() {
    let server = server().await;
    let mut a = Client::connect(&server).await;
    let mut b = Client::connect(&server).await;
    a.subscribe_presence("presence-c", r#"{"user_id":"42"}"#)
        .await;
    b.subscribe_presence("presence-c", r#"{"user_id":"43"}"#)
        .await;
    a.recv_event("pusher_internal:member_added").await;
    a.send(json!({"event":"client-hi","channel":"presence-c","data":"text"}))
        .await;
    let got = b.recv_event("client-hi").await;
    assert_eq!(got["user_id"], "42"); // spec §10.14
    assert_eq!(got["data"], "text");
}

#[tokio::test]
async fn client_events_disabled_by_default() {
    let server = Server::start(BIN, &[], None).await;
    let mut a = Client::connect(&server).await;
    a.subscribe_private("private-chat").await;
    a.send(json!({"event":"client-typing","channel":"private-chat","data":{}}))
        .await;
    let error = a.recv().await;
    assert_eq!(error["data"]["code"], 4301);
}

#[tokio::test]
async fn cache_channel_miss_then_hit() {
    let server = server().await;
    let mut a = Client::connect(&server).await;
    a.subscribe("cache-news").await;
    let miss = a.recv().await;
    assert_eq!(
        miss,
        json!({"event":"pusher:cache_miss","channel":"cache-news"})
    );
    let body = json!({"name":"headline","channel":"cache-news","data":"\"v1\""});
    assert_eq!(
        server
            .api("POST", "/apps/1/events", Some(&body), &[])
            .await
            .0,
        200
    );
    assert_eq!(a.recv().await["event"], "headline");
    let mut b = Client::connect(&server).await;
    b.subscribe("cache-news").await; // spec §10.32: cached event after subscription_succeeded
    let hit = b.recv().await;
    assert_eq!(hit["event"], "headline");
    assert_eq!(hit["data"], "\"v1\"");
}

#[tokio::test]
async fn signin_watchlist_and_server_to_user() {
    let server = server().await;
    let mut watcher = Client::connect(&server).await;
    let ok = watcher
        .signin(r#"{"id":"1","user_info":{"name":"One"},"watchlist":["2","3"]}"#)
        .await;
    assert_eq!(ok["event"], "pusher:signin_success");
    let status = watcher.recv_event("pusher_internal:watchlist_events").await;
    assert_eq!(status["data"]["events"][0]["name"], "offline");

    let mut two = Client::connect(&server).await;
    assert_eq!(
        two.signin(r#"{"id":"2"}"#).await["event"],
        "pusher:signin_success"
    );
    let online = watcher.recv_event("pusher_internal:watchlist_events").await;
    assert_eq!(
        online["data"]["events"][0],
        json!({"name":"online","user_ids":["2"]})
    );

    // #server-to-user- only for the signed-in user
    two.subscribe("#server-to-user-2").await;
    watcher
        .send(json!({"event":"pusher:subscribe","data":{"auth":"","channel":"#server-to-user-2"}}))
        .await;
    assert_eq!(watcher.recv().await["event"], "pusher:error");
    let body = json!({"name":"hello","channels":["#server-to-user-2"],"data":"{}"});
    assert_eq!(
        server
            .api("POST", "/apps/1/events", Some(&body), &[])
            .await
            .0,
        200
    );
    assert_eq!(two.recv().await["event"], "hello");

    two.close().await;
    let offline = watcher.recv_event("pusher_internal:watchlist_events").await;
    assert_eq!(
        offline["data"]["events"][0],
        json!({"name":"offline","user_ids":["2"]})
    );
}

#[tokio::test]
async fn bad_signin_is_an_error_not_a_close() {
    let server = server().await;
    let mut client = Client::connect(&server).await;
    client
        .send(json!({"event":"pusher:signin","data":{"auth":format!("{KEY}:00"),"user_data":"{\"id\":\"1\"}"}}))
        .await;
    let error = client.recv().await;
    assert_eq!(error["data"]["code"], 4009); // spec §10.28
    client.send(json!({"event":"pusher:ping","data":{}})).await;
    assert_eq!(client.recv().await["event"], "pusher:pong");
}

#[tokio::test]
async fn watchlist_over_100_gets_4302_after_success() {
    let server = server().await;
    let mut client = Client::connect(&server).await;
    let ids: Vec<String> = (0..101).map(|i| format!("\"u{i}\"")).collect();
    let user_data = format!(r#"{{"id":"me","watchlist":[{}]}}"#, ids.join(","));
    assert_eq!(
        client.signin(&user_data).await["event"],
        "pusher:signin_success"
    );
    let error = client.recv_event("pusher:error").await;
    assert_eq!(error["data"]["code"], 4302);
}

#[tokio::test]
async fn terminate_connections_closes_signed_in_sockets_with_4009() {
    let server = server().await;
    let mut client = Client::connect(&server).await;
    client.signin(r#"{"id":"victim"}"#).await;
    let (status, body) = server
        .api(
            "POST",
            "/apps/1/users/victim/terminate_connections",
            Some(&json!({})),
            &[],
        )
        .await;
    assert_eq!((status, body), (200, json!({})));
    assert_eq!(
        client.recv_event("pusher:error").await["data"]["code"],
        4009
    );
    assert_eq!(client.closed().await, 4009);
}

#[tokio::test]
async fn server_pings_idle_clients_and_closes_with_4201() {
    let config = format!(
        "activity_timeout = 1\nping_grace = 0\npong_timeout = 1\n[[apps]]\nid = \"1\"\nkey = \"{KEY}\"\nsecret = \"{}\"\n",
        relay_e2e::SECRET
    );
    let server = Server::start(BIN, &[], Some(&config)).await;
    let mut client = Client::connect(&server).await;
    let ping = client.recv().await;
    assert_eq!(ping, json!({"event":"pusher:ping","data":{}}));
    // answering keeps it alive
    client.send(json!({"event":"pusher:pong","data":{}})).await;
    assert_eq!(client.recv().await["event"], "pusher:ping");
    // silence closes it with 4201
    assert_eq!(client.recv().await["data"]["code"], 4201);
    assert_eq!(client.closed().await, 4201);
}

#[tokio::test]
async fn user_authentication_timeout_closes_with_4009() {
    let config = format!(
        "[[apps]]\nid = \"1\"\nkey = \"{KEY}\"\nsecret = \"{}\"\nuser_authentication_timeout = 1\n",
        relay_e2e::SECRET
    );
    let server = Server::start(BIN, &[], Some(&config)).await;
    let mut idle = Client::connect(&server).await;
    let mut signed = Client::connect(&server).await;
    signed.signin(r#"{"id":"1"}"#).await;
    assert_eq!(idle.closed().await, 4009);
    signed.expect_silence(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn max_connections_gets_4004() {
    let config = format!(
        "[[apps]]\nid = \"1\"\nkey = \"{KEY}\"\nsecret = \"{}\"\nmax_connections = 1\n",
        relay_e2e::SECRET
    );
    let server = Server::start(BIN, &[], Some(&config)).await;
    let first = Client::connect(&server).await;
    let mut second = Client::connect_raw(&server.ws_url(KEY)).await;
    assert_eq!(second.recv().await["data"]["code"], 4004);
    assert_eq!(second.closed().await, 4004);
    first.close().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    Client::connect(&server).await;
}

#[tokio::test]
async fn disabled_app_gets_4003() {
    let config = format!(
        "[[apps]]\nid = \"1\"\nkey = \"{KEY}\"\nsecret = \"{}\"\nenabled = false\n",
        relay_e2e::SECRET
    );
    let server = Server::start(BIN, &[], Some(&config)).await;
    let mut client = Client::connect_raw(&server.ws_url(KEY)).await;
    assert_eq!(client.recv().await["data"]["code"], 4003);
    assert_eq!(client.closed().await, 4003);
}

#[tokio::test]
async fn slow_consumer_is_closed_with_4100() {
    let config = format!(
        "max_outbound_queue = 4\n[[apps]]\nid = \"1\"\nkey = \"{KEY}\"\nsecret = \"{}\"\n",
        relay_e2e::SECRET
    );
    let server = Server::start(BIN, &[], Some(&config)).await;
    // A subscriber that never reads: the kernel buffers fill, then the outbox.
    let mut slow = Client::connect(&server).await;
    slow.subscribe("firehose").await;
    let big = "x".repeat(9000);
    let item = json!({"name":"e","channel":"firehose","data":big});
    let body = json!({"batch": vec![item; 10]});
    let mut metrics = String::new();
    // Loopback socket buffers hold megabytes; publish until the server gives up on the reader.
    for _ in 0..1000 {
        server
            .api("POST", "/apps/1/batch_events", Some(&body), &[])
            .await;
        metrics = reqwest::get(server.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains("relay_slow_consumers_total 1") {
            break;
        }
    }
    assert!(
        metrics.contains("relay_slow_consumers_total 1"),
        "{metrics}"
    );
    assert!(metrics.contains("relay_connections 0"), "{metrics}");
    // Whatever the client reads now ends in the 4100 close.
    assert_eq!(slow.closed().await, 4100);
}

#[tokio::test]
async fn subscription_counts_are_coalesced_to_about_one_a_second() {
    let config = format!(
        "[[apps]]\nid = \"1\"\nkey = \"{KEY}\"\nsecret = \"{}\"\nsubscription_count_events = true\n",
        relay_e2e::SECRET
    );
    let server = Server::start(BIN, &[], Some(&config)).await;
    let mut watcher = Client::connect(&server).await;
    watcher.subscribe("counted").await;
    let mut others = Vec::new();
    for _ in 0..8 {
        let mut c = Client::connect(&server).await;
        c.subscribe("counted").await;
        others.push(c);
    }
    let mut counts = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_millis(2500);
    while let Ok(Some(frame)) = watcher
        .next(deadline.saturating_duration_since(std::time::Instant::now()))
        .await
    {
        if frame["event"] == "pusher_internal:subscription_count" {
            counts.push(data_of(&frame)["subscription_count"].as_u64().unwrap());
        }
    }
    assert!(!counts.is_empty() && counts.len() <= 3, "{counts:?}");
    assert_eq!(counts.last(), Some(&9));
}
