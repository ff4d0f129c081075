//! Scale-out on Redis: several nodes behind a load balancer share channel state and relay
//! each other's broadcasts. Without `REDIS_URL` none of this runs.
//!
//! - **Broadcast**: every publish is delivered locally, then sent once on the `{prefix}:bus`
//!   pub/sub channel as the already encoded frame; other nodes hand the same bytes to their own
//!   subscribers. One publisher task per node keeps publish order.
//! - **State** (Redis hashes, written with Lua so decisions are atomic): subscription counts per
//!   node, presence members and their sockets per node, signed-in users per node, the occupied
//!   channel set, cache channels' last events. Each node indexes the keys it touched, so when it
//!   dies the survivors can remove exactly its share.
//! - **Liveness**: nodes heartbeat into a sorted set; a node silent for `dead_after` is swept by
//!   a survivor, which announces `member_removed`, vacated channels and offline users.
//! - **Redis failures**: every call has a short timeout; while Redis is unreachable nodes serve
//!   their own clients only, `/ready` says not ready, and when it is back each node rewrites its
//!   state (resynchronization).

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use bytestring::ByteString;
use futures_util::StreamExt as _;
use parking_lot::RwLock;
use redis::{aio::ConnectionManager, Script, Value};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::{
    config::ClusterConfig,
    hub::{CachedEvent, ChannelCounts, CACHE_TTL},
    metrics::Metrics,
    state::AppState,
};

/// How long one Redis call may take before the node treats Redis as unavailable.
const CALL_TIMEOUT: Duration = Duration::from_millis(500);

/// Bus messages waiting to be published; beyond it they are dropped (local delivery happened).
const BUS_CAPACITY: usize = 100_000;

/// A message between nodes.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum BusMessage {
    /// Deliver a frame to local subscribers of a channel.
    Publish {
        /// Origin node.
        n: String,
        /// App id.
        a: String,
        /// Channel.
        c: String,
        /// The encoded frame.
        f: String,
        /// A socket to skip.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        x: Option<String>,
    },
    /// Close every connection signed in as a user.
    Terminate {
        /// Origin node.
        n: String,
        /// App id.
        a: String,
        /// User id.
        u: String,
    },
    /// A user came online or went offline (cluster-wide).
    Watch {
        /// Origin node.
        n: String,
        /// App id.
        a: String,
        /// User id.
        u: String,
        /// Online?
        on: bool,
    },
}

impl BusMessage {
    fn origin(&self) -> &str {
        match self {
            BusMessage::Publish { n, .. }
            | BusMessage::Terminate { n, .. }
            | BusMessage::Watch { n, .. } => n,
        }
    }
}

/// The result of a presence join in the cluster.
#[derive(Clone, Debug)]
pub enum PresenceJoin {
    /// Joined: whether the user is new to the channel cluster-wide, and the full roster JSON.
    Joined {
        /// First socket of this user in the cluster.
        new: bool,
        /// `{"presence":{...}}` with every member of every node.
        roster: String,
    },
    /// The channel has the maximum number of distinct users.
    Full,
}

/// This node's membership in the cluster.
pub struct Cluster {
    node_id: String,
    prefix: String,
    cfg: ClusterConfig,
    client: redis::Client,
    conn: RwLock<Option<ConnectionManager>>,
    up: AtomicBool,
    bus: mpsc::Sender<BusMessage>,
    bus_rx: parking_lot::Mutex<Option<mpsc::Receiver<BusMessage>>>,
    metrics: Arc<Metrics>,
    scripts: Scripts,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("node_id", &self.node_id)
            .field("prefix", &self.prefix)
            .field("up", &self.is_up())
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Scripts {
    subs: Script,
    presence_join: Script,
    presence_leave: Script,
    user_in: Script,
    user_out: Script,
}

impl Scripts {
    fn new() -> Scripts {
        Scripts {
            // KEYS: subs hash, channels set, node index. ARGV: node, local count, channel, entry.
            subs: Script::new(
                r"
local old = 0
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do old = old + tonumber(v) end
local mine = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local count = tonumber(ARGV[2])
if count > 0 then
  redis.call('HSET', KEYS[1], ARGV[1], count)
  redis.call('SADD', KEYS[3], ARGV[4])
else
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('SREM', KEYS[3], ARGV[4])
end
local new = old - mine + count
if new > 0 then redis.call('SADD', KEYS[2], ARGV[3]) else redis.call('SREM', KEYS[2], ARGV[3]) end
return {old, new}
",
            ),
            // KEYS: members hash, user's per-node sockets, node index.
            // ARGV: node, user, info, max members (0 = none), entry.
            presence_join: Script::new(
                r"
local present = redis.call('HEXISTS', KEYS[1], ARGV[2]) == 1
if (not present) and tonumber(ARGV[4]) > 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then
  return {-1, {}}
end
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('SADD', KEYS[3], ARGV[5])
if not present then redis.call('HSET', KEYS[1], ARGV[2], ARGV[3]) end
local new = 0
if not present then new = 1 end
return {new, redis.call('HGETALL', KEYS[1])}
",
            ),
            // KEYS: members hash, user's per-node sockets, node index. ARGV: node, user, entry.
            presence_leave: Script::new(
                r"
local n = redis.call('HINCRBY', KEYS[2], ARGV[1], -1)
if n <= 0 then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('SREM', KEYS[3], ARGV[3])
end
if redis.call('HLEN', KEYS[2]) == 0 then
  redis.call('HDEL', KEYS[1], ARGV[2])
  return 1
end
return 0
",
            ),
            // KEYS: user's per-node sockets, node index. ARGV: node, entry.
            user_in: Script::new(
                r"
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('SADD', KEYS[2], ARGV[2])
local total = 0
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do total = total + tonumber(v) end
if total == 1 then return 1 end
return 0
",
            ),
            user_out: Script::new(
                r"
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if n <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('SREM', KEYS[2], ARGV[2])
end
if redis.call('HLEN', KEYS[1]) == 0 then return 1 end
return 0
",
            ),
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Cluster {
    /// A cluster member for `cfg`; call [`spawn`] to start its tasks.
    pub fn new(cfg: &ClusterConfig, metrics: Arc<Metrics>) -> Result<Arc<Cluster>, String> {
        let url = cfg.redis_url.as_deref().ok_or("no redis_url")?;
        let client = redis::Client::open(url).map_err(|e| format!("invalid redis_url: {e}"))?;
        let (bus, bus_rx) = mpsc::channel(BUS_CAPACITY);
        let node_id = cfg
            .node_id
            .clone()
            .unwrap_or_else(|| format!("node-{:08x}", rand::random::<u32>()));
        Ok(Arc::new(Cluster {
            node_id,
            prefix: cfg.prefix.clone(),
            cfg: cfg.clone(),
            client,
            conn: RwLock::new(None),
            up: AtomicBool::new(false),
            bus,
            bus_rx: parking_lot::Mutex::new(Some(bus_rx)),
            metrics,
            scripts: Scripts::new(),
        }))
    }

    /// This node's id.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// Whether Redis answers.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    fn key(&self, parts: &[&str]) -> String {
        let mut key = self.prefix.clone();
        for part in parts {
            key.push(':');
            key.push_str(part);
        }
        key
    }

    fn index_key(&self, node: &str) -> String {
        self.key(&["node", node, "keys"])
    }

    fn failed(&self, error: &str) {
        if self.up.swap(false, Ordering::AcqRel) {
            tracing::error!(%error, "Redis is unavailable: serving local clients only");
        }
        self.metrics.count("relay_cluster_redis_errors_total", "");
    }

    /// Runs a Redis call with the short timeout; `None` (and Redis marked down) on failure.
    async fn call<T, F, Fut>(&self, f: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        if !self.is_up() {
            return None;
        }
        let conn = self.conn.read().clone()?;
        match tokio::time::timeout(CALL_TIMEOUT, f(conn)).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(error)) => {
                self.failed(&error.to_string());
                None
            }
            Err(_) => {
                self.failed("timeout");
                None
            }
        }
    }

    /// How many sockets `node` holds in a per-node count hash (at least 1 when unknown, so a
    /// sweep always removes the entry it was asked to).
    async fn node_count(&self, key: &str, node: &str) -> i64 {
        self.call(|mut c| async move {
            redis::cmd("HGET")
                .arg(key)
                .arg(node)
                .query_async::<Option<i64>>(&mut c)
                .await
        })
        .await
        .flatten()
        .unwrap_or(1)
    }

    /// Queues a message for the other nodes (never waits).
    pub fn send(&self, message: BusMessage) {
        if self.is_up() && self.bus.try_send(message).is_err() {
            self.metrics.count("relay_cluster_bus_dropped_total", "");
        }
    }

    /// Relays a frame published on this node to the other nodes.
    pub fn publish(&self, app: &str, channel: &str, frame: &ByteString, except: Option<String>) {
        self.send(BusMessage::Publish {
            n: self.node_id.clone(),
            a: app.into(),
            c: channel.into(),
            f: frame.to_string(),
            x: except,
        });
    }

    /// Records this node's subscription count of a channel; returns the cluster total before and
    /// after.
    pub async fn subscriptions(
        &self,
        app: &str,
        channel: &str,
        local: usize,
    ) -> Option<(u64, u64)> {
        self.subscriptions_of(&self.node_id, app, channel, local)
            .await
    }

    async fn subscriptions_of(
        &self,
        node: &str,
        app: &str,
        channel: &str,
        local: usize,
    ) -> Option<(u64, u64)> {
        let subs = self.key(&[app, "subs", channel]);
        let channels = self.key(&[app, "channels"]);
        let index = self.index_key(node);
        let entry = format!("s|{app}|{channel}");
        let script = &self.scripts.subs;
        self.call(|mut c| async move {
            script
                .key(subs)
                .key(channels)
                .key(index)
                .arg(node)
                .arg(local)
                .arg(channel)
                .arg(entry)
                .invoke_async::<(u64, u64)>(&mut c)
                .await
        })
        .await
    }

    /// Adds one socket of a presence user; checks the member limit cluster-wide.
    pub async fn presence_join(
        &self,
        app: &str,
        channel: &str,
        user: &str,
        info: Option<&str>,
        max_members: usize,
    ) -> Option<PresenceJoin> {
        let members = self.key(&[app, "members", channel]);
        let sockets = self.key(&[app, "pn", channel, user]);
        let index = self.index_key(&self.node_id);
        let entry = format!("p|{app}|{channel}|{user}");
        let node = self.node_id.clone();
        let script = &self.scripts.presence_join;
        let value: Value = self
            .call(|mut c| async move {
                script
                    .key(members)
                    .key(sockets)
                    .key(index)
                    .arg(node)
                    .arg(user)
                    .arg(info.unwrap_or(""))
                    .arg(max_members)
                    .arg(entry)
                    .invoke_async::<Value>(&mut c)
                    .await
            })
            .await?;
        let Value::Array(parts) = value else {
            return None;
        };
        let new = match parts.first() {
            Some(Value::Int(-1)) => return Some(PresenceJoin::Full),
            Some(Value::Int(n)) => *n == 1,
            _ => return None,
        };
        let pairs = match parts.get(1) {
            Some(Value::Array(items)) => items,
            _ => return None,
        };
        Some(PresenceJoin::Joined {
            new,
            roster: roster_from_pairs(pairs),
        })
    }

    /// Removes one socket of a presence user; `Some(true)` when it was the user's last in the
    /// cluster.
    pub async fn presence_leave(&self, app: &str, channel: &str, user: &str) -> Option<bool> {
        self.presence_leave_of(&self.node_id, app, channel, user)
            .await
    }

    async fn presence_leave_of(
        &self,
        node: &str,
        app: &str,
        channel: &str,
        user: &str,
    ) -> Option<bool> {
        let members = self.key(&[app, "members", channel]);
        let sockets = self.key(&[app, "pn", channel, user]);
        let index = self.index_key(node);
        let entry = format!("p|{app}|{channel}|{user}");
        let script = &self.scripts.presence_leave;
        self.call(|mut c| async move {
            script
                .key(members)
                .key(sockets)
                .key(index)
                .arg(node)
                .arg(user)
                .arg(entry)
                .invoke_async::<i64>(&mut c)
                .await
        })
        .await
        .map(|n| n == 1)
    }

    /// A socket signed in as `user`; `Some(true)` when it is the user's first in the cluster.
    pub async fn user_in(&self, app: &str, user: &str) -> Option<bool> {
        let key = self.key(&[app, "users", user]);
        let index = self.index_key(&self.node_id);
        let entry = format!("u|{app}|{user}");
        let node = self.node_id.clone();
        let script = &self.scripts.user_in;
        self.call(|mut c| async move {
            script
                .key(key)
                .key(index)
                .arg(node)
                .arg(entry)
                .invoke_async::<i64>(&mut c)
                .await
        })
        .await
        .map(|n| n == 1)
    }

    /// A signed-in socket left; `Some(true)` when it was the user's last in the cluster.
    pub async fn user_out(&self, app: &str, user: &str) -> Option<bool> {
        self.user_out_of(&self.node_id, app, user).await
    }

    async fn user_out_of(&self, node: &str, app: &str, user: &str) -> Option<bool> {
        let key = self.key(&[app, "users", user]);
        let index = self.index_key(node);
        let entry = format!("u|{app}|{user}");
        let script = &self.scripts.user_out;
        self.call(|mut c| async move {
            script
                .key(key)
                .key(index)
                .arg(node)
                .arg(entry)
                .invoke_async::<i64>(&mut c)
                .await
        })
        .await
        .map(|n| n == 1)
    }

    /// Which of `ids` are signed in anywhere in the cluster.
    pub async fn online(&self, app: &str, ids: &[Box<str>]) -> Option<Vec<bool>> {
        let keys: Vec<String> = ids.iter().map(|id| self.key(&[app, "users", id])).collect();
        self.call(|mut c| async move {
            let mut pipe = redis::pipe();
            for key in &keys {
                pipe.cmd("HLEN").arg(key);
            }
            pipe.query_async::<Vec<u64>>(&mut c).await
        })
        .await
        .map(|lens| lens.into_iter().map(|n| n > 0).collect())
    }

    /// Cluster-wide counts of a channel.
    pub async fn counts(&self, app: &str, channel: &str) -> Option<ChannelCounts> {
        let subs = self.key(&[app, "subs", channel]);
        let members = self.key(&[app, "members", channel]);
        let presence = pusher_wire::ChannelKind::of(channel).is_presence();
        self.call(|mut c| async move {
            redis::pipe()
                .cmd("HVALS")
                .arg(&subs)
                .cmd("HLEN")
                .arg(&members)
                .query_async::<(Vec<u64>, u64)>(&mut c)
                .await
        })
        .await
        .map(|(subs, users)| ChannelCounts {
            subscriptions: subs.iter().sum::<u64>() as usize,
            users: presence.then_some(users as usize),
        })
    }

    /// Occupied channels of the cluster starting with `prefix` (`#` channels left out).
    pub async fn channels(
        &self,
        app: &str,
        prefix: &str,
    ) -> Option<Vec<(Arc<str>, ChannelCounts)>> {
        let set = self.key(&[app, "channels"]);
        let names: Vec<String> = self
            .call(|mut c| async move { redis::cmd("SMEMBERS").arg(&set).query_async(&mut c).await })
            .await?;
        let names: Vec<String> = names
            .into_iter()
            .filter(|n| n.starts_with(prefix) && !n.starts_with('#'))
            .collect();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let counts = self.counts(app, &name).await?;
            if counts.subscriptions > 0 {
                out.push((Arc::from(name.as_str()), counts));
            }
        }
        Some(out)
    }

    /// Distinct users of a presence channel, cluster-wide.
    pub async fn users(&self, app: &str, channel: &str) -> Option<Vec<String>> {
        let members = self.key(&[app, "members", channel]);
        self.call(
            |mut c| async move { redis::cmd("HKEYS").arg(&members).query_async(&mut c).await },
        )
        .await
    }

    /// Shares a cache channel's last event.
    pub async fn cache_set(&self, app: &str, channel: &str, cached: &CachedEvent) {
        let key = self.key(&[app, "cache", channel]);
        let value = serde_json::json!({
            "event": &*cached.event,
            "data": cached.data,
            "frame": cached.frame().to_string(),
        })
        .to_string();
        let ttl = CACHE_TTL.as_millis() as u64;
        let _: Option<()> = self
            .call(|mut c| async move {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(value)
                    .arg("PX")
                    .arg(ttl)
                    .query_async(&mut c)
                    .await
            })
            .await;
    }

    /// A cache channel's last event in the cluster: `Some(None)` when nothing is cached, `None`
    /// when Redis is unavailable.
    pub async fn cache_get(&self, app: &str, channel: &str) -> Option<Option<CachedEvent>> {
        let key = self.key(&[app, "cache", channel]);
        let (value, ttl): (Option<String>, i64) = self
            .call(|mut c| async move {
                redis::pipe()
                    .cmd("GET")
                    .arg(&key)
                    .cmd("PTTL")
                    .arg(&key)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let Some(value) = value else {
            return Some(None);
        };
        let parsed: serde_json::Value = serde_json::from_str(&value).ok()?;
        let expires = Instant::now() + Duration::from_millis(u64::try_from(ttl).unwrap_or(0));
        Some(Some(CachedEvent::new(
            parsed["event"].as_str()?,
            parsed["data"].as_str()?.to_owned(),
            ByteString::from(parsed["frame"].as_str()?.to_owned()),
            expires,
        )))
    }
}

/// Builds `{"presence":{ids,hash,count}}` from `HGETALL` pairs (user, info JSON or "").
fn roster_from_pairs(pairs: &[Value]) -> String {
    let mut members: Vec<(String, Option<Box<serde_json::value::RawValue>>)> = Vec::new();
    for pair in pairs.chunks(2) {
        let (Some(user), Some(info)) = (value_string(&pair[0]), pair.get(1).and_then(value_string))
        else {
            continue;
        };
        let info = (!info.is_empty())
            .then(|| serde_json::value::RawValue::from_string(info).ok())
            .flatten();
        members.push((user, info));
    }
    members.sort_by(|a, b| a.0.cmp(&b.0));
    pusher_wire::presence::roster_json(
        members
            .iter()
            .map(|(id, info)| (id.as_str(), info.as_deref())),
    )
}

fn value_string(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

/// Starts the cluster tasks: connection supervision with heartbeats, resynchronization and the
/// sweeper; the bus publisher; the bus subscriber.
pub fn spawn(state: Arc<AppState>, cluster: Arc<Cluster>) {
    if let Some(rx) = cluster.bus_rx.lock().take() {
        tokio::spawn(publisher(cluster.clone(), rx));
    }
    tokio::spawn(subscriber(state.clone(), cluster.clone()));
    tokio::spawn(supervisor(state, cluster));
}

async fn publisher(cluster: Arc<Cluster>, mut rx: mpsc::Receiver<BusMessage>) {
    let channel = cluster.key(&["bus"]);
    while let Some(message) = rx.recv().await {
        let Ok(payload) = serde_json::to_string(&message) else {
            continue;
        };
        let channel = channel.clone();
        let sent: Option<()> = cluster
            .call(|mut c| async move {
                redis::cmd("PUBLISH")
                    .arg(channel)
                    .arg(payload)
                    .query_async(&mut c)
                    .await
            })
            .await;
        if sent.is_none() {
            cluster.metrics.count("relay_cluster_bus_dropped_total", "");
        }
    }
}

async fn subscriber(state: Arc<AppState>, cluster: Arc<Cluster>) {
    let channel = cluster.key(&["bus"]);
    let mut delay = Duration::from_millis(200);
    loop {
        match cluster.client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                if pubsub.subscribe(&channel).await.is_ok() {
                    delay = Duration::from_millis(200);
                    let mut stream = pubsub.on_message();
                    while let Some(message) = stream.next().await {
                        let Ok(payload) = message.get_payload::<String>() else {
                            continue;
                        };
                        match serde_json::from_str::<BusMessage>(&payload) {
                            Ok(message) if message.origin() != cluster.node_id => {
                                receive(&state, message)
                            }
                            Ok(_) => {}
                            Err(error) => tracing::warn!(%error, "unreadable cluster message"),
                        }
                    }
                }
                cluster.failed("pub/sub connection lost");
            }
            Err(error) => cluster.failed(&error.to_string()),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// Applies a message from another node to this node's clients.
fn receive(state: &AppState, message: BusMessage) {
    match message {
        BusMessage::Publish { a, c, f, x, .. } => {
            if let Some(app) = state.apps.by_id(&a) {
                let except = x.and_then(|x| pusher_wire::SocketId::parse(&x).ok());
                app.hub.deliver(&c, &ByteString::from(f), except);
            }
        }
        BusMessage::Terminate { a, u, .. } => {
            if let Some(app) = state.apps.by_id(&a) {
                app.hub
                    .terminate_user(&u, pusher_wire::ErrorCode::Unauthorized);
            }
        }
        BusMessage::Watch { a, u, on, .. } => {
            if let Some(app) = state.apps.by_id(&a) {
                app.hub.notify_watchers(&u, on);
            }
        }
    }
}

/// Keeps a connection, heartbeats, resynchronizes after outages and sweeps dead nodes.
async fn supervisor(state: Arc<AppState>, cluster: Arc<Cluster>) {
    let interval = Duration::from_millis(cluster.cfg.heartbeat_interval_ms.max(100));
    let nodes = cluster.key(&["nodes"]);
    loop {
        let connected = cluster.conn.read().is_some();
        if !connected {
            match tokio::time::timeout(
                Duration::from_secs(2),
                cluster.client.get_connection_manager(),
            )
            .await
            {
                Ok(Ok(conn)) => *cluster.conn.write() = Some(conn),
                Ok(Err(error)) => cluster.failed(&error.to_string()),
                Err(_) => cluster.failed("connect timeout"),
            }
        }
        let conn = cluster.conn.read().clone();
        if let Some(mut conn) = conn {
            let beat = tokio::time::timeout(
                CALL_TIMEOUT,
                redis::cmd("ZADD")
                    .arg(&nodes)
                    .arg(now_ms())
                    .arg(&cluster.node_id)
                    .query_async::<i64>(&mut conn),
            )
            .await;
            match beat {
                Ok(Ok(added)) => {
                    let was_up = cluster.up.swap(true, Ordering::AcqRel);
                    // Back after an outage, or swept by others as dead: rewrite our state.
                    if !was_up || added == 1 {
                        tracing::info!(node = %cluster.node_id, "cluster: Redis available, resynchronizing");
                        resync(&state, &cluster).await;
                    }
                    sweep(&state, &cluster).await;
                }
                Ok(Err(error)) => cluster.failed(&error.to_string()),
                Err(_) => cluster.failed("heartbeat timeout"),
            }
        }
        tokio::time::sleep(interval).await;
    }
}

/// Rewrites this node's share of the cluster state from its own registry.
async fn resync(state: &AppState, cluster: &Cluster) {
    // Forget what Redis thinks we hold, silently, then write what we hold.
    let index = cluster.index_key(&cluster.node_id);
    let entries: Vec<String> = cluster
        .call(|mut c| async move { redis::cmd("SMEMBERS").arg(&index).query_async(&mut c).await })
        .await
        .unwrap_or_default();
    for entry in &entries {
        remove_entry(state, cluster, &cluster.node_id, entry, false).await;
    }
    for app in state.apps.iter() {
        let id = &app.config.id;
        for channel in app.hub.snapshot() {
            cluster
                .subscriptions(id, &channel.channel, channel.subscriptions)
                .await;
            for (user, info, sockets) in &channel.members {
                for _ in 0..*sockets {
                    cluster
                        .presence_join(id, &channel.channel, user, info.as_deref(), 0)
                        .await;
                }
            }
        }
        for (user, sockets) in app.hub.signed_in_users() {
            for _ in 0..sockets {
                cluster.user_in(id, &user).await;
            }
        }
    }
}

/// Removes one index entry of `node`; with `announce`, tells everyone what disappeared.
async fn remove_entry(
    state: &AppState,
    cluster: &Cluster,
    node: &str,
    entry: &str,
    announce: bool,
) {
    let parts: Vec<&str> = entry.splitn(4, '|').collect();
    match parts.as_slice() {
        ["s", app, channel] => {
            if let Some((old, new)) = cluster.subscriptions_of(node, app, channel, 0).await {
                if announce && old > 0 && new == 0 {
                    if let Some(app) = state.apps.by_id(app) {
                        app.webhook(|| pusher_wire::webhook::WebhookEvent::ChannelVacated {
                            channel: (*channel).to_owned(),
                        });
                    }
                }
            }
        }
        ["p", app, channel, user] => {
            // Drop every socket the node had for this user.
            let sockets = cluster.key(&[app, "pn", channel, user]);
            let count = cluster.node_count(&sockets, node).await;
            let mut gone = false;
            for _ in 0..count.max(1) {
                gone = cluster
                    .presence_leave_of(node, app, channel, user)
                    .await
                    .unwrap_or(false);
            }
            if announce && gone {
                if let Some(app) = state.apps.by_id(app) {
                    let frame = crate::hub::encode(pusher_wire::ServerMessage::MemberRemoved {
                        channel,
                        user_id: user,
                    });
                    app.hub.deliver(channel, &frame, None);
                    cluster.publish(&app.config.id, channel, &frame, None);
                    app.webhook(|| pusher_wire::webhook::WebhookEvent::MemberRemoved {
                        channel: (*channel).to_owned(),
                        user_id: (*user).to_owned(),
                    });
                }
            }
        }
        ["u", app, user] => {
            let key = cluster.key(&[app, "users", user]);
            let count = cluster.node_count(&key, node).await;
            let mut last = false;
            for _ in 0..count.max(1) {
                last = cluster.user_out_of(node, app, user).await.unwrap_or(false);
            }
            if announce && last {
                if let Some(app) = state.apps.by_id(app) {
                    app.hub.notify_watchers(user, false);
                    cluster.send(BusMessage::Watch {
                        n: cluster.node_id.clone(),
                        a: app.config.id.clone(),
                        u: (*user).to_owned(),
                        on: false,
                    });
                }
            }
        }
        _ => tracing::warn!(entry, "unknown cluster index entry"),
    }
}

/// Removes the share of nodes that stopped heartbeating.
async fn sweep(state: &AppState, cluster: &Cluster) {
    let nodes = cluster.key(&["nodes"]);
    let deadline = now_ms().saturating_sub(cluster.cfg.dead_after_ms);
    let dead: Vec<String> = cluster
        .call(|mut c| async move {
            redis::cmd("ZRANGEBYSCORE")
                .arg(&nodes)
                .arg("-inf")
                .arg(deadline)
                .query_async(&mut c)
                .await
        })
        .await
        .unwrap_or_default();
    for node in dead {
        if node == cluster.node_id {
            continue;
        }
        let lock = cluster.key(&["sweep", &node]);
        let me = cluster.node_id.clone();
        let won: Option<Option<String>> = cluster
            .call(|mut c| async move {
                redis::cmd("SET")
                    .arg(&lock)
                    .arg(me)
                    .arg("NX")
                    .arg("PX")
                    .arg(30_000)
                    .query_async(&mut c)
                    .await
            })
            .await;
        if !matches!(won, Some(Some(_))) {
            continue;
        }
        tracing::warn!(%node, "cluster: node stopped heartbeating; removing its clients");
        let index = cluster.index_key(&node);
        let entries: Vec<String> = cluster
            .call(
                |mut c| async move { redis::cmd("SMEMBERS").arg(&index).query_async(&mut c).await },
            )
            .await
            .unwrap_or_default();
        for entry in &entries {
            remove_entry(state, cluster, &node, entry, true).await;
        }
        let index = cluster.index_key(&node);
        let nodes = cluster.key(&["nodes"]);
        let _: Option<()> = cluster
            .call(|mut c| async move {
                redis::pipe()
                    .cmd("DEL")
                    .arg(&index)
                    .ignore()
                    .cmd("ZREM")
                    .arg(&nodes)
                    .arg(&node)
                    .ignore()
                    .query_async(&mut c)
                    .await
            })
            .await;
        cluster.metrics.count("relay_cluster_nodes_swept_total", "");
    }
}
