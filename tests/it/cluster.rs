//! Scale-out (issue 7): three `relay-server` processes on one private Redis. Broadcasts reach
//! every node once, presence and channel queries are cluster-wide, a SIGKILLed node's members
//! are removed by the survivors, and a Redis restart is survived.

use std::time::{Duration, Instant};

use relay_e2e::{
    data_of,
    receiver::{Receiver, Reply},
    Client, RedisProcess, Server, KEY, SECRET,
};
use serde_json::{json, Value};

use crate::BIN;

/// Config shared by the nodes: fast heartbeats so failures are seen in seconds.
fn config(node: &str, extra: &str) -> String {
    format!(
        "[cluster]\nnode_id = \"{node}\"\nheartbeat_interval_ms = 300\ndead_after_ms = 2000\n\
         {extra}\n[[apps]]\nid = \"1\"\nkey = \"{KEY}\"\nsecret = \"{SECRET}\"\nenable_client_messages = true\n"
    )
}

async fn nodes(redis: &RedisProcess, n: usize, extra: &str) -> Vec<Server> {
    let mut out = Vec::new();
    for i in 0..n {
        let node = format!("n{i}");
        out.push(
            Server::start(
                BIN,
                &[("REDIS_URL", &redis.url())],
                Some(&config(&node, extra)),
            )
            .await,
        );
    }
    // every node sees Redis before the test starts
    for server in &out {
        wait_ready(server, true).await;
    }
    out
}

async fn wait_ready(server: &Server, ready: bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = reqwest::get(server.url("/ready"))
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        if (status == 200) == ready {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "node {} not ready={ready}",
            server.port
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Collects the events named `event` that arrive within `wait`.
async fn collect(client: &mut Client, event: &str, wait: Duration) -> Vec<Value> {
    let mut got = Vec::new();
    let deadline = Instant::now() + wait;
    while let Ok(Some(frame)) = client
        .next(deadline.saturating_duration_since(Instant::now()))
        .await
    {
        if frame["event"] == event {
            got.push(frame);
        }
    }
    got
}

#[tokio::test]
async fn broadcasts_reach_every_node_exactly_once_in_order() {
    let Some(redis) = RedisProcess::start().await else {
        return;
    };
    let n = nodes(&redis, 3, "").await;
    let mut clients = Vec::new();
    for server in &n {
        let mut c = Client::connect(server).await;
        c.subscribe("room").await;
        clients.push(c);
    }
    // publish through node B, 20 events in order
    for i in 0..20 {
        let body = json!({"name": "seq", "channel": "room", "data": i.to_string()});
        assert_eq!(
            n[1].api("POST", "/apps/1/events", Some(&body), &[]).await.0,
            200
        );
    }
    for client in &mut clients {
        let got = collect(client, "seq", Duration::from_millis(1500)).await;
        let seq: Vec<String> = got
            .iter()
            .map(|f| f["data"].as_str().unwrap().to_owned())
            .collect();
        let expected: Vec<String> = (0..20).map(|i| i.to_string()).collect();
        assert_eq!(seq, expected, "exactly once, in order");
    }
    // socket_id exclusion across nodes: exclude the client on node A, publish on node C
    let except = clients[0].socket_id.clone();
    let body = json!({"name": "ex", "channel": "room", "data": "x", "socket_id": except});
    assert_eq!(
        n[2].api("POST", "/apps/1/events", Some(&body), &[]).await.0,
        200
    );
    assert!(collect(&mut clients[0], "ex", Duration::from_millis(700))
        .await
        .is_empty());
    assert_eq!(
        collect(&mut clients[1], "ex", Duration::from_millis(700))
            .await
            .len(),
        1
    );
    // client events from node C reach A and B, not C
    let mut private = Vec::new();
    for server in &n {
        let mut c = Client::connect(server).await;
        c.subscribe_private("private-chat").await;
        private.push(c);
    }
    private[2]
        .send(json!({"event":"client-hi","channel":"private-chat","data":{"from":"c"}}))
        .await;
    assert_eq!(
        collect(&mut private[0], "client-hi", Duration::from_millis(700))
            .await
            .len(),
        1
    );
    assert_eq!(
        collect(&mut private[1], "client-hi", Duration::from_millis(300))
            .await
            .len(),
        1
    );
    assert!(
        collect(&mut private[2], "client-hi", Duration::from_millis(300))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn presence_and_channel_queries_are_cluster_wide() {
    let Some(redis) = RedisProcess::start().await else {
        return;
    };
    let n = nodes(&redis, 3, "").await;
    let mut watcher = Client::connect(&n[2]).await;
    watcher
        .subscribe_presence("presence-room", r#"{"user_id":"w"}"#)
        .await;

    let mut a = Client::connect(&n[0]).await;
    a.subscribe_presence(
        "presence-room",
        r#"{"user_id":"u1","user_info":{"name":"U"}}"#,
    )
    .await;
    let added = collect(
        &mut watcher,
        "pusher_internal:member_added",
        Duration::from_millis(800),
    )
    .await;
    assert_eq!(added.len(), 1);
    assert_eq!(data_of(&added[0])["user_id"], "u1");

    // the same user on node B: counted once, no second member_added, full roster
    let mut b = Client::connect(&n[1]).await;
    let ok = b
        .subscribe_presence(
            "presence-room",
            r#"{"user_id":"u1","user_info":{"name":"U"}}"#,
        )
        .await;
    let roster = data_of(&ok);
    assert_eq!(roster["presence"]["count"], 2);
    assert_eq!(roster["presence"]["hash"]["u1"]["name"], "U");
    assert!(roster["presence"]["ids"]
        .as_array()
        .unwrap()
        .contains(&json!("w")));
    assert!(collect(
        &mut watcher,
        "pusher_internal:member_added",
        Duration::from_millis(600)
    )
    .await
    .is_empty());

    // every node answers the same
    for server in &n {
        let (_, one) = server
            .api(
                "GET",
                "/apps/1/channels/presence-room",
                None,
                &[("info", "user_count,subscription_count")],
            )
            .await;
        assert_eq!(
            one,
            json!({"occupied": true, "user_count": 2, "subscription_count": 3}),
            "node {}",
            server.port
        );
        let (_, users) = server
            .api("GET", "/apps/1/channels/presence-room/users", None, &[])
            .await;
        let mut ids: Vec<&str> = users["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap())
            .collect();
        ids.sort();
        assert_eq!(ids, ["u1", "w"]);
        let (_, list) = server
            .api(
                "GET",
                "/apps/1/channels",
                None,
                &[("filter_by_prefix", "presence-"), ("info", "user_count")],
            )
            .await;
        assert_eq!(
            list,
            json!({"channels": {"presence-room": {"user_count": 2}}})
        );
    }

    // leaving from B: u1 still on A, nothing announced; leaving from A: member_removed once
    b.close().await;
    assert!(collect(
        &mut watcher,
        "pusher_internal:member_removed",
        Duration::from_millis(600)
    )
    .await
    .is_empty());
    a.close().await;
    let removed = collect(
        &mut watcher,
        "pusher_internal:member_removed",
        Duration::from_millis(1000),
    )
    .await;
    assert_eq!(removed.len(), 1);
    let (_, one) = n[0]
        .api(
            "GET",
            "/apps/1/channels/presence-room",
            None,
            &[("info", "user_count")],
        )
        .await;
    assert_eq!(one["user_count"], 1);
}

#[tokio::test]
async fn sigkill_of_a_node_removes_its_members_within_ten_seconds() {
    let Some(redis) = RedisProcess::start().await else {
        return;
    };
    let mut n = nodes(&redis, 2, "").await;
    let mut observer = Client::connect(&n[1]).await;
    observer
        .subscribe_presence("presence-x", r#"{"user_id":"obs"}"#)
        .await;
    let mut doomed = Client::connect(&n[0]).await;
    doomed
        .subscribe_presence("presence-x", r#"{"user_id":"gone"}"#)
        .await;
    doomed.subscribe("public-x").await;
    observer.recv_event("pusher_internal:member_added").await;
    let killed_at = Instant::now();
    n[0].kill();
    let mut removed = None;
    while killed_at.elapsed() < Duration::from_secs(10) {
        if let Ok(Some(frame)) = observer.next(Duration::from_millis(200)).await {
            if frame["event"] == "pusher_internal:member_removed" {
                removed = Some(frame);
                break;
            }
        }
    }
    let removed = removed.expect("member_removed within 10 s");
    assert_eq!(data_of(&removed)["user_id"], "gone");
    let (_, one) = n[1]
        .api(
            "GET",
            "/apps/1/channels/presence-x",
            None,
            &[("info", "user_count,subscription_count")],
        )
        .await;
    assert_eq!(
        one,
        json!({"occupied": true, "user_count": 1, "subscription_count": 1})
    );
    let (_, public) = n[1]
        .api(
            "GET",
            "/apps/1/channels/public-x",
            None,
            &[("info", "subscription_count")],
        )
        .await;
    assert_eq!(public, json!({"occupied": false, "subscription_count": 0}));
}

#[tokio::test]
async fn redis_restart_keeps_sockets_and_delivery_resumes() {
    let Some(mut redis) = RedisProcess::start().await else {
        return;
    };
    let n = nodes(&redis, 2, "").await;
    let mut a = Client::connect(&n[0]).await;
    a.subscribe("room").await;
    let mut b = Client::connect(&n[1]).await;
    b.subscribe("room").await;
    redis.stop();
    wait_ready(&n[0], false).await;
    // local delivery still works while Redis is down
    let body = json!({"name": "local", "channel": "room", "data": "1"});
    assert_eq!(
        n[0].api("POST", "/apps/1/events", Some(&body), &[]).await.0,
        200
    );
    assert_eq!(
        collect(&mut a, "local", Duration::from_millis(500))
            .await
            .len(),
        1
    );
    let metrics = reqwest::get(n[0].url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("relay_cluster_redis_errors_total"),
        "{metrics}"
    );
    // Redis comes back empty: the nodes resynchronize
    redis.restart().await;
    wait_ready(&n[0], true).await;
    wait_ready(&n[1], true).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let body = json!({"name": "again", "channel": "room", "data": "2"});
    assert_eq!(
        n[0].api("POST", "/apps/1/events", Some(&body), &[]).await.0,
        200
    );
    assert_eq!(
        collect(&mut a, "again", Duration::from_millis(800))
            .await
            .len(),
        1
    );
    assert_eq!(
        collect(&mut b, "again", Duration::from_millis(800))
            .await
            .len(),
        1,
        "the other node gets it again"
    );
    let (_, one) = n[1]
        .api(
            "GET",
            "/apps/1/channels/room",
            None,
            &[("info", "subscription_count")],
        )
        .await;
    assert_eq!(
        one["subscription_count"], 2,
        "state rewritten after the restart"
    );
}

#[tokio::test]
async fn users_terminate_watchlist_and_cache_across_nodes() {
    let Some(redis) = RedisProcess::start().await else {
        return;
    };
    let n = nodes(&redis, 2, "").await;
    let mut watcher = Client::connect(&n[0]).await;
    watcher.signin(r#"{"id":"w","watchlist":["target"]}"#).await;
    let status = watcher.recv_event("pusher_internal:watchlist_events").await;
    assert_eq!(status["data"]["events"][0]["name"], "offline");
    let mut target = Client::connect(&n[1]).await;
    target.signin(r#"{"id":"target"}"#).await;
    let online = watcher.recv_event("pusher_internal:watchlist_events").await;
    assert_eq!(
        online["data"]["events"][0],
        json!({"name": "online", "user_ids": ["target"]})
    );
    // send-to-user through node A reaches the user on node B
    target.subscribe("#server-to-user-target").await;
    let body = json!({"name": "dm", "channels": ["#server-to-user-target"], "data": "{}"});
    assert_eq!(
        n[0].api("POST", "/apps/1/events", Some(&body), &[]).await.0,
        200
    );
    assert_eq!(target.recv_event("dm").await["event"], "dm");
    // terminate through node A closes the socket on node B
    let (status, _) = n[0]
        .api(
            "POST",
            "/apps/1/users/target/terminate_connections",
            Some(&json!({})),
            &[],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(target.closed().await, 4009);
    let offline = watcher.recv_event("pusher_internal:watchlist_events").await;
    assert_eq!(
        offline["data"]["events"][0],
        json!({"name": "offline", "user_ids": ["target"]})
    );
    // a cache channel's last event is shared
    let body = json!({"name": "state", "channel": "cache-shared", "data": "\"v1\""});
    assert_eq!(
        n[0].api("POST", "/apps/1/events", Some(&body), &[]).await.0,
        200
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut late = Client::connect(&n[1]).await;
    late.subscribe("cache-shared").await;
    let hit = late.recv().await;
    assert_eq!(
        (hit["event"].as_str(), hit["data"].as_str()),
        (Some("state"), Some("\"v1\""))
    );
}

#[tokio::test]
async fn pusher_webhooks_fire_once_per_cluster() {
    let Some(redis) = RedisProcess::start().await else {
        return;
    };
    let receiver = Receiver::start(Reply::Status(200, "ok")).await;
    let extra = "[webhooks]\nallow_http = true\nallow_private_networks = true\npusher_batch_ms = 20\npusher_flap_delay_ms = 200";
    let hooks = format!(
        "\n[[apps.webhooks]]\nurl = \"{}\"\nevent_types = [\"channel_occupied\", \"channel_vacated\", \"member_added\", \"member_removed\"]\n",
        receiver.url("/")
    );
    let mut n = Vec::new();
    for i in 0..2 {
        let cfg = config(&format!("w{i}"), extra) + &hooks;
        n.push(Server::start(BIN, &[("REDIS_URL", &redis.url())], Some(&cfg)).await);
    }
    for server in &n {
        wait_ready(server, true).await;
    }
    let mut a = Client::connect(&n[0]).await;
    a.subscribe_presence("presence-hook", r#"{"user_id":"same"}"#)
        .await;
    let mut b = Client::connect(&n[1]).await;
    b.subscribe_presence("presence-hook", r#"{"user_id":"same"}"#)
        .await;
    a.close().await;
    b.close().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let events: Vec<Value> = receiver
        .requests()
        .iter()
        .flat_map(|r| {
            serde_json::from_str::<Value>(&r.body).unwrap()["events"]
                .as_array()
                .unwrap()
                .clone()
        })
        .collect();
    let count = |name: &str| events.iter().filter(|e| e["name"] == name).count();
    assert_eq!(
        (
            count("channel_occupied"),
            count("member_added"),
            count("member_removed"),
            count("channel_vacated")
        ),
        (1, 1, 1, 1),
        "{events:?}"
    );
}
