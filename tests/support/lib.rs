//! Support for the black-box suites: start the real server binary on a free port, talk to it
//! over raw WebSocket frames and signed HTTP requests, receive its webhooks.

pub mod receiver;

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::{
    tungstenite::{protocol::frame::coding::CloseCode, Message},
    MaybeTlsStream, WebSocketStream,
};

/// The default test app.
pub const APP_ID: &str = "1";
/// The default test app key.
pub const KEY: &str = "test-key";
/// The default test app secret.
pub const SECRET: &str = "test-secret";

/// How long a test waits for any expected frame.
pub const WAIT: Duration = Duration::from_secs(5);

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    // unwrap: binding port 0 on loopback only fails if the machine is out of ports.
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running server process, killed on drop.
pub struct Server {
    child: Child,
    /// Its port.
    pub port: u16,
    /// Lines it wrote to stderr.
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `bin` with the default test app and extra environment, optionally a TOML config
    /// (written to a temporary file), and waits for `/health`.
    pub async fn start(bin: &str, env: &[(&str, &str)], config: Option<&str>) -> Server {
        Server::start_on(bin, free_port(), env, config).await
    }

    /// Like [`Server::start`] on a given port.
    pub async fn start_on(
        bin: &str,
        port: u16,
        env: &[(&str, &str)],
        config: Option<&str>,
    ) -> Server {
        let mut cmd = Command::new(bin);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .env("RELAY_BIND", format!("127.0.0.1:{port}"));
        if config.is_none() {
            cmd.env("RELAY_APP_ID", APP_ID)
                .env("RELAY_APP_KEY", KEY)
                .env("RELAY_APP_SECRET", SECRET);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        if let Some(toml) = config {
            let path =
                std::env::temp_dir().join(format!("relay-e2e-{port}-{}.toml", std::process::id()));
            std::fs::write(&path, toml).expect("write config");
            cmd.arg("--config").arg(path);
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start relay server");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("stderr piped");
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().expect("log lock").push(line);
            }
        });
        let server = Server { child, port, log };
        let client = reqwest::Client::new();
        for _ in 0..500 {
            if let Ok(r) = client.get(server.url("/health")).send().await {
                if r.status().is_success() {
                    return server;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("server did not become healthy; log:\n{}", server.log_text());
    }

    /// `http://127.0.0.1:{port}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The WebSocket URL for an app key, as pusher-js builds it.
    pub fn ws_url(&self, key: &str) -> String {
        format!(
            "ws://127.0.0.1:{}/app/{key}?protocol=7&client=js&version=8.4.0&flash=false",
            self.port
        )
    }

    /// Everything the server logged so far.
    pub fn log_text(&self) -> String {
        self.log.lock().expect("log lock").join("\n")
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..500 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("server did not exit after SIGTERM");
    }

    /// Kills the process with SIGKILL (a crash) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A signed HTTP API request for the default app; returns the status and JSON body.
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        extra: &[(&str, &str)],
    ) -> (u16, Value) {
        self.api_as(KEY, SECRET, method, path, body, extra).await
    }

    /// A signed HTTP API request with explicit credentials.
    pub async fn api_as(
        &self,
        key: &str,
        secret: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
        extra: &[(&str, &str)],
    ) -> (u16, Value) {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let query = pusher_wire::auth::api_request::sign(
            method,
            path,
            key,
            secret,
            unix_now(),
            body.as_bytes(),
            extra,
        );
        self.raw(method, &format!("{path}?{query}"), body).await
    }

    /// An HTTP request sent as given (for hand-made, wrong signatures).
    pub async fn raw(&self, method: &str, path_and_query: &str, body: String) -> (u16, Value) {
        let client = reqwest::Client::new();
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let response = client
            .request(method, self.url(path_and_query))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Unix time in seconds.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A raw protocol client.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The socket id from `connection_established`.
    pub socket_id: String,
}

/// What ended a connection.
#[derive(Debug, PartialEq, Eq)]
pub struct Closed {
    /// The close code.
    pub code: u16,
}

impl Client {
    /// Connects to the default app and reads `connection_established`.
    pub async fn connect(server: &Server) -> Client {
        Client::connect_url(&server.ws_url(KEY)).await
    }

    /// Connects to a URL and reads `connection_established`.
    pub async fn connect_url(url: &str) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("connect");
        let mut client = Client {
            ws,
            socket_id: String::new(),
        };
        let established = client.recv().await;
        assert_eq!(
            established["event"], "pusher:connection_established",
            "{established}"
        );
        let data: Value =
            serde_json::from_str(established["data"].as_str().expect("data is a string"))
                .expect("data is JSON");
        client.socket_id = data["socket_id"].as_str().expect("socket_id").to_owned();
        client
    }

    /// Connects without reading anything.
    pub async fn connect_raw(url: &str) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("connect");
        Client {
            ws,
            socket_id: String::new(),
        }
    }

    /// Sends a JSON frame.
    pub async fn send(&mut self, frame: Value) {
        self.send_text(&frame.to_string()).await;
    }

    /// Sends a text frame as is.
    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("send");
    }

    /// The next text frame as JSON (panics after [`WAIT`] or on close).
    pub async fn recv(&mut self) -> Value {
        match self.next(WAIT).await {
            Ok(Some(v)) => v,
            Ok(None) => panic!("timed out waiting for a frame"),
            Err(closed) => panic!("connection closed: {closed:?}"),
        }
    }

    /// The next text frame within `wait`: `Ok(None)` on timeout, `Err` on close.
    pub async fn next(&mut self, wait: Duration) -> Result<Option<Value>, Closed> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let message = match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return Ok(None),
                Ok(m) => m,
            };
            match message {
                Some(Ok(Message::Text(text))) => {
                    return Ok(Some(
                        serde_json::from_str(&text).expect("server frames are JSON"),
                    ))
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(Closed {
                        code: frame.map_or(1005, |f| u16::from(f.code)),
                    })
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Err(Closed { code: 1006 }),
            }
        }
    }

    /// Skips frames until one with `event` arrives.
    pub async fn recv_event(&mut self, event: &str) -> Value {
        loop {
            let frame = self.recv().await;
            if frame["event"] == event {
                return frame;
            }
        }
    }

    /// Asserts that no frame arrives within `wait`.
    pub async fn expect_silence(&mut self, wait: Duration) {
        if let Ok(Some(frame)) = self.next(wait).await {
            panic!("unexpected frame: {frame}");
        }
    }

    /// Waits for the close frame and returns its code.
    pub async fn closed(&mut self) -> u16 {
        loop {
            match self.next(WAIT).await {
                Err(Closed { code }) => return code,
                Ok(None) => panic!("connection not closed"),
                Ok(Some(_)) => continue,
            }
        }
    }

    /// Subscribes to a public channel and waits for `subscription_succeeded`.
    pub async fn subscribe(&mut self, channel: &str) -> Value {
        self.send(
            serde_json::json!({"event":"pusher:subscribe","data":{"auth":"","channel":channel}}),
        )
        .await;
        self.recv_event("pusher_internal:subscription_succeeded")
            .await
    }

    /// Subscribes to a private or encrypted channel with a correct signature.
    pub async fn subscribe_private(&mut self, channel: &str) -> Value {
        let auth = pusher_wire::auth::channel::sign(KEY, SECRET, &self.socket_id, channel, None);
        self.send(
            serde_json::json!({"event":"pusher:subscribe","data":{"auth":auth,"channel":channel}}),
        )
        .await;
        self.recv_event("pusher_internal:subscription_succeeded")
            .await
    }

    /// Subscribes to a presence channel with `channel_data` and a correct signature.
    pub async fn subscribe_presence(&mut self, channel: &str, channel_data: &str) -> Value {
        let auth = pusher_wire::auth::channel::sign(
            KEY,
            SECRET,
            &self.socket_id,
            channel,
            Some(channel_data),
        );
        self.send(serde_json::json!({"event":"pusher:subscribe","data":{"auth":auth,"channel":channel,"channel_data":channel_data}}))
            .await;
        self.recv_event("pusher_internal:subscription_succeeded")
            .await
    }

    /// Signs in with `user_data` and a correct signature; returns the next frame.
    pub async fn signin(&mut self, user_data: &str) -> Value {
        let auth = pusher_wire::auth::user::sign(KEY, SECRET, &self.socket_id, user_data);
        self.send(
            serde_json::json!({"event":"pusher:signin","data":{"auth":auth,"user_data":user_data}}),
        )
        .await;
        self.recv().await
    }

    /// Closes the connection from the client side.
    pub async fn close(mut self) {
        let _ = self
            .ws
            .close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            }))
            .await;
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while let Some(Ok(_)) = self.ws.next().await {}
        })
        .await;
    }
}

/// Parses the string `data` of a frame.
pub fn data_of(frame: &Value) -> Value {
    serde_json::from_str(frame["data"].as_str().expect("data is a string")).expect("data is JSON")
}

/// Whether the suite runs in CI, where nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// A fresh, empty PostgreSQL database for one test, dropped when this value is dropped.
pub struct TestDatabase {
    /// Its URL.
    pub url: String,
    name: String,
    admin_url: String,
}

impl TestDatabase {
    /// Creates `relay_e2e_<random>` on `RELAY_TEST_DATABASE_URL` (default the local server).
    /// `None` when PostgreSQL is unreachable outside CI; in CI that is a failure.
    pub async fn create() -> Option<TestDatabase> {
        let admin_url = std::env::var("RELAY_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let (client, connection) =
            match tokio_postgres::connect(&admin_url, tokio_postgres::NoTls).await {
                Ok(pair) => pair,
                Err(error) => {
                    assert!(!in_ci(), "PostgreSQL is required in CI: {error}");
                    eprintln!("skipped: PostgreSQL not reachable ({error})");
                    return None;
                }
            };
        tokio::spawn(connection);
        let name = format!("relay_e2e_{}", uuid::Uuid::new_v4().simple());
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(b, _)| b);
        Some(TestDatabase {
            url: format!("{base}/{name}"),
            name,
            admin_url,
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Best effort, on a thread of its own: Drop cannot await.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                if let Ok((client, connection)) =
                    tokio_postgres::connect(&admin_url, tokio_postgres::NoTls).await
                {
                    tokio::spawn(connection);
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// POSTs JSON with extra headers; returns the status and the JSON body.
pub async fn post_json(url: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned());
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Sends a request with a bearer token; returns the status and the JSON body.
pub async fn admin(method: &str, url: &str, token: &str, body: Option<&str>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = client
        .request(method, url)
        .header("authorization", format!("Bearer {token}"));
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A private `redis-server` on a free port (so a test can stop and restart it), killed on drop.
pub struct RedisProcess {
    child: Option<Child>,
    /// Its port.
    pub port: u16,
}

impl RedisProcess {
    /// Starts `redis-server` without persistence. `None` when the binary is missing outside CI.
    pub async fn start() -> Option<RedisProcess> {
        let mut redis = RedisProcess {
            child: None,
            port: free_port(),
        };
        if !redis.spawn().await {
            assert!(!in_ci(), "redis-server is required in CI");
            eprintln!("skipped: redis-server is not installed");
            return None;
        }
        Some(redis)
    }

    async fn spawn(&mut self) -> bool {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let Ok(child) = child else { return false };
        self.child = Some(child);
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// `redis://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (all state is lost: it keeps nothing on disk).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port.
    pub async fn restart(&mut self) {
        self.stop();
        assert!(self.spawn().await, "redis-server restarts");
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
