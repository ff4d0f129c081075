//! WebSocket connections: connect from a chosen loopback source address, subscribe, then read
//! in a background task that tracks benchmark messages until told to stop.

use std::{
    net::{IpAddr, SocketAddr},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::{
    net::{TcpSocket, TcpStream},
    sync::{watch, Semaphore},
    task::{JoinHandle, JoinSet},
    time::{timeout, Instant},
};
use tokio_tungstenite::{
    tungstenite::{protocol::WebSocketConfig, Message},
    WebSocketStream,
};

use crate::{
    stats::{now_micros, parse_payload, Tracker},
    Target,
};

/// A client WebSocket.
pub type Ws = WebSocketStream<TcpStream>;

/// The resolved WebSocket endpoint: one server, or several nodes of a cluster (a
/// comma-separated `--ws-url`) that connections are spread over round-robin.
#[derive(Debug)]
pub struct Endpoint {
    nodes: Vec<Node>,
    sources: Vec<IpAddr>,
}

#[derive(Debug)]
struct Node {
    addr: SocketAddr,
    url: String,
}

impl Endpoint {
    /// Resolves every URL of `target.ws_url` (comma-separated); refuses a non-loopback server
    /// unless `allow_remote`.
    pub async fn resolve(target: &Target) -> Result<Endpoint, String> {
        let mut nodes = Vec::new();
        let mut sources = Vec::new();
        for url in target
            .ws_url
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
        {
            let (node, node_sources) = Endpoint::resolve_one(target, url).await?;
            nodes.push(node);
            sources = node_sources;
        }
        if nodes.is_empty() {
            return Err("--ws-url is empty".into());
        }
        Ok(Endpoint { nodes, sources })
    }

    async fn resolve_one(target: &Target, ws_url: &str) -> Result<(Node, Vec<IpAddr>), String> {
        let url = url::Url::parse(ws_url).map_err(|e| format!("--ws-url: {e}"))?;
        let host = url.host_str().ok_or("--ws-url has no host")?.to_owned();
        let port = url.port_or_known_default().ok_or("--ws-url has no port")?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let addr = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| format!("resolve {host}: {e}"))?
            .find(SocketAddr::is_ipv4)
            .ok_or_else(|| format!("{host} has no IPv4 address"))?;
        let sources = if addr.ip().is_loopback() {
            crate::loopback_sources(target.source_addrs)
        } else if target.allow_remote {
            vec![IpAddr::from([0, 0, 0, 0])]
        } else {
            return Err(format!(
                "{addr} is not a loopback address; pass --allow-remote to load another host"
            ));
        };
        let path = url.path().trim_end_matches('/');
        let url = format!(
            "ws://{host}:{port}{path}/app/{}?protocol=7&client=relay-bench&version=0.1",
            target.key
        );
        Ok((Node { addr, url }, sources))
    }
}

/// What to subscribe a new connection to.
#[derive(Clone, Debug)]
pub enum Sub {
    /// Nothing.
    None,
    /// A public channel.
    Public(String),
    /// A presence channel, as user `user_id` (the tool signs the subscription).
    Presence {
        /// The channel, `presence-...`.
        channel: String,
        /// The member's user id.
        user_id: String,
    },
}

fn ws_config() -> WebSocketConfig {
    WebSocketConfig {
        write_buffer_size: 0,
        ..WebSocketConfig::default()
    }
}

/// Opens connection number `i` (its source address is chosen by `i`), waits for
/// `pusher:connection_established`, subscribes and waits for the subscription to succeed.
/// Returns the socket and its socket id.
pub async fn connect(
    ep: &Endpoint,
    target: &Target,
    i: usize,
    sub: &Sub,
) -> Result<(Ws, String), String> {
    let src = ep.sources[i % ep.sources.len()];
    let node = &ep.nodes[i % ep.nodes.len()];
    let socket = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
    socket.set_reuseaddr(true).map_err(|e| e.to_string())?;
    socket
        .bind(SocketAddr::new(src, 0))
        .map_err(|e| format!("bind {src}: {e}"))?;
    let stream = socket
        .connect(node.addr)
        .await
        .map_err(|e| format!("connect {}: {e}", node.addr))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (mut ws, _) =
        tokio_tungstenite::client_async_with_config(node.url.as_str(), stream, Some(ws_config()))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
    let established = next_event(&mut ws).await?;
    if established["event"] != "pusher:connection_established" {
        return Err(format!(
            "expected connection_established, got {established}"
        ));
    }
    let data: Value = serde_json::from_str(established["data"].as_str().unwrap_or("{}"))
        .map_err(|e| format!("connection_established data: {e}"))?;
    let socket_id = data["socket_id"]
        .as_str()
        .ok_or("connection_established without socket_id")?
        .to_owned();
    let channel = match sub {
        Sub::None => return Ok((ws, socket_id)),
        Sub::Public(channel) => {
            send(
                &mut ws,
                json!({"event": "pusher:subscribe", "data": {"channel": channel}}),
            )
            .await?;
            channel
        }
        Sub::Presence { channel, user_id } => {
            let channel_data =
                json!({"user_id": user_id, "user_info": {"name": user_id}}).to_string();
            let auth = pusher_wire::auth::channel::sign(
                &target.key,
                &target.secret,
                &socket_id,
                channel,
                Some(&channel_data),
            );
            send(
                &mut ws,
                json!({"event": "pusher:subscribe", "data": {
                    "channel": channel, "auth": auth, "channel_data": channel_data,
                }}),
            )
            .await?;
            channel
        }
    };
    // Presence members joining meanwhile may send member_added first: skip those.
    for _ in 0..10_000 {
        let event = next_event(&mut ws).await?;
        match event["event"].as_str() {
            Some("pusher_internal:subscription_succeeded") if event["channel"] == *channel => {
                return Ok((ws, socket_id))
            }
            Some("pusher:error" | "pusher:subscription_error") => {
                return Err(format!("subscribe {channel}: {event}"))
            }
            _ => {}
        }
    }
    Err(format!("subscribe {channel}: no subscription_succeeded"))
}

async fn send(ws: &mut Ws, v: Value) -> Result<(), String> {
    ws.send(Message::Text(v.to_string()))
        .await
        .map_err(|e| format!("send: {e}"))
}

async fn next_event(ws: &mut Ws) -> Result<Value, String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                return serde_json::from_str(&t).map_err(|e| format!("bad frame {t:?}: {e}"))
            }
            Some(Ok(Message::Close(f))) => return Err(format!("closed by server: {f:?}")),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("read: {e}")),
            None => return Err("connection closed".into()),
        }
    }
}

/// Counters shared by every reader of a run.
#[derive(Debug, Default)]
pub struct Counters {
    /// First copies of expected benchmark messages, all readers together.
    pub delivered: AtomicU64,
    /// `pusher_internal:member_added` frames received.
    pub member_added: AtomicU64,
    /// Readers that ended before being told to stop (closed by the server or failed).
    pub dropped: AtomicU64,
}

/// What a reader saw.
#[derive(Debug)]
pub struct ReaderOut {
    /// The benchmark messages it tracked.
    pub tracker: Option<Tracker>,
    /// Every text frame received.
    pub frames: u64,
    /// The close code, if the server closed the connection.
    pub close_code: Option<u16>,
    /// Why reading failed, if it did.
    pub error: Option<String>,
}

/// Reads `ws` until `stop` turns true, recording benchmark messages in `tracker` and answering
/// `pusher:ping`.
pub fn spawn_reader(
    mut ws: Ws,
    mut tracker: Option<Tracker>,
    counters: Arc<Counters>,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<ReaderOut> {
    tokio::spawn(async move {
        let mut out = ReaderOut {
            tracker: None,
            frames: 0,
            close_code: None,
            error: None,
        };
        let mut stopped = false;
        while !*stop.borrow_and_update() {
            tokio::select! {
                biased;
                changed = stop.changed() => if changed.is_err() { stopped = true; break },
                msg = ws.next() => match msg {
                    Some(Ok(Message::Text(text))) => {
                        out.frames += 1;
                        if let Some((seq, sent)) = parse_payload(&text) {
                            if let Some(t) = tracker.as_mut() {
                                if t.record(seq, sent, now_micros()) {
                                    counters.delivered.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        } else if text.contains("pusher_internal:member_added") {
                            counters.member_added.fetch_add(1, Ordering::Relaxed);
                        } else if text.contains("\"pusher:ping\"") {
                            let pong = Message::Text(r#"{"event":"pusher:pong","data":{}}"#.into());
                            if let Err(e) = ws.send(pong).await {
                                out.error = Some(e.to_string());
                                break;
                            }
                        }
                    }
                    Some(Ok(Message::Close(frame))) => {
                        out.close_code = Some(frame.map_or(1005, |f| u16::from(f.code)));
                        break;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => { out.error = Some(e.to_string()); break }
                    None => { out.error = Some("closed".into()); break }
                },
            }
        }
        if !stopped && !*stop.borrow() {
            counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
        out.tracker = tracker;
        out
    })
}

/// The result of opening many connections.
#[derive(Debug)]
pub struct Opened {
    /// One reader per connection that subscribed, with the connection's number.
    pub readers: Vec<(usize, JoinHandle<ReaderOut>)>,
    /// Sockets kept without a reader (`read = false`), with their numbers.
    pub idle: Vec<(usize, Ws)>,
    /// Connections that failed.
    pub failed: usize,
    /// The first few failures.
    pub errors: Vec<String>,
    /// Wall time to open them all.
    pub elapsed: Duration,
}

/// How to open a batch of connections.
#[derive(Clone, Debug)]
pub struct OpenSpec {
    /// How many.
    pub count: usize,
    /// At most this many handshakes in flight.
    pub concurrency: usize,
    /// Give up on one connection after this long.
    pub timeout: Duration,
    /// Numbering offset (chooses source addresses and names).
    pub first: usize,
    /// Spawn a reader (true) or keep the socket unread (false).
    pub read: bool,
}

/// Opens `spec.count` connections; connection `i` subscribes to `sub_of(i)` and tracks with
/// `tracker_of(i)`.
pub async fn open_many(
    ep: Arc<Endpoint>,
    target: Arc<Target>,
    spec: &OpenSpec,
    sub_of: &dyn Fn(usize) -> Sub,
    tracker_of: &dyn Fn(usize) -> Option<Tracker>,
    counters: Arc<Counters>,
    stop: &watch::Receiver<bool>,
) -> Opened {
    let permits = Arc::new(Semaphore::new(spec.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    let start = Instant::now();
    for n in 0..spec.count {
        let i = spec.first + n;
        // The semaphore is never closed.
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let (ep, target, sub, tracker, counters, stop, read, limit) = (
            ep.clone(),
            target.clone(),
            sub_of(i),
            tracker_of(i),
            counters.clone(),
            stop.clone(),
            spec.read,
            spec.timeout,
        );
        tasks.spawn(async move {
            let result = match timeout(limit, connect(&ep, &target, i, &sub)).await {
                Ok(Ok((ws, _))) if read => Ok((i, Ok(spawn_reader(ws, tracker, counters, stop)))),
                Ok(Ok((ws, _))) => Ok((i, Err(ws))),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(format!("connect+subscribe took over {limit:?}")),
            };
            drop(permit);
            result
        });
    }
    let mut opened = Opened {
        readers: Vec::with_capacity(spec.count),
        idle: Vec::new(),
        failed: 0,
        errors: Vec::new(),
        elapsed: Duration::ZERO,
    };
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok((i, Ok(reader)))) => opened.readers.push((i, reader)),
            Ok(Ok((i, Err(ws)))) => opened.idle.push((i, ws)),
            Ok(Err(e)) => {
                opened.failed += 1;
                if opened.errors.len() < 5 {
                    opened.errors.push(e);
                }
            }
            Err(e) => {
                opened.failed += 1;
                if opened.errors.len() < 5 {
                    opened.errors.push(e.to_string());
                }
            }
        }
    }
    opened.elapsed = start.elapsed();
    opened
}

/// Stops readers and collects what they saw (all of them within `limit`).
pub async fn collect(
    stop: &watch::Sender<bool>,
    readers: Vec<(usize, JoinHandle<ReaderOut>)>,
    limit: Duration,
) -> Vec<(usize, ReaderOut)> {
    let _ = stop.send(true);
    let deadline = Instant::now() + limit;
    let mut outs = Vec::with_capacity(readers.len());
    for (i, r) in readers {
        match tokio::time::timeout_at(deadline, r).await {
            Ok(Ok(out)) => outs.push((i, out)),
            Ok(Err(_)) => {}
            Err(_) => break,
        }
    }
    outs
}

/// Reads an unread socket for at most `limit`: the frames it had buffered and how it ended
/// (`Some(code)` if the server closed it, `None` if it is still open).
pub async fn drain_unread(ws: &mut Ws, limit: Duration) -> (u64, Option<u16>) {
    let deadline = Instant::now() + limit;
    let mut frames = 0;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Text(_)))) => frames += 1,
            Ok(Some(Ok(Message::Close(f)))) => {
                return (frames, Some(f.map_or(1005, |f| u16::from(f.code))))
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(_)) | None) => return (frames, Some(1006)),
            Err(_) => return (frames, None),
        }
    }
}
