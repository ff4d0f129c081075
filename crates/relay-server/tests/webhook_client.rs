//! The delivery client against real local receivers (HTTP, and HTTPS with a CA minted at test
//! start), each answering by path: 200, 500, 429 with `Retry-After`, 410, a redirect, a
//! timeout, a connection reset, a huge body. Every receiver listens on 127.0.0.1 only: no test
//! here sends traffic anywhere else.

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use parking_lot::Mutex;
use relay_server::{config::WebhooksConfig, webhooks::client::Sender};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use tokio_rustls::{
    rustls::{
        self,
        pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
    },
    TlsAcceptor,
};

/// One request as the receiver saw it.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A scripted local receiver.
struct Receiver {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Receiver {
    async fn start(tls: Option<TlsAcceptor>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (count, log) = (connections.clone(), seen.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                count.fetch_add(1, Ordering::SeqCst);
                let (log, tls) = (log.clone(), tls.clone());
                tokio::spawn(async move {
                    match tls {
                        None => serve_plain(stream, addr, log).await,
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                serve(stream, addr, log).await;
                            }
                        }
                    }
                });
            }
        });
        Receiver {
            addr,
            connections,
            seen,
        }
    }

    fn url(&self, scheme: &str, host: &str, path: &str) -> String {
        format!("{scheme}://{host}:{}{path}", self.addr.port())
    }

    fn http(&self, path: &str) -> String {
        self.url("http", "127.0.0.1", path)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().clone()
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Reads one request (headers, then a `Content-Length` body).
async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Seen {
        path,
        headers,
        body,
    })
}

async fn serve_plain(mut stream: TcpStream, addr: SocketAddr, log: Arc<Mutex<Vec<Seen>>>) {
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    let path = request.path.clone();
    log.lock().push(request);
    if path == "/reset" {
        // SO_LINGER 0, then close: the peer gets an RST instead of a FIN.
        stream.set_zero_linger().unwrap();
        drop(stream);
        return;
    }
    respond(&mut stream, &path, addr).await;
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Seen>>>,
) {
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    let path = request.path.clone();
    log.lock().push(request);
    respond(&mut stream, &path, addr).await;
}

async fn write_response<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: &str,
    extra: &str,
    body: &[u8],
) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body).await;
    let _ = stream.shutdown().await;
}

async fn respond<S: AsyncWrite + Unpin>(stream: &mut S, path: &str, addr: SocketAddr) {
    match path {
        "/ok" => write_response(stream, "200 OK", "", b"hello from the receiver").await,
        "/binary" => write_response(stream, "200 OK", "", b"\xff\xfeok").await,
        "/fail" => write_response(stream, "500 Internal Server Error", "", b"boom").await,
        "/throttle" => {
            write_response(stream, "429 Too Many Requests", "Retry-After: 120\r\n", b"").await;
        }
        "/unavailable" => {
            let at = (chrono::Utc::now() + chrono::Duration::seconds(600)).to_rfc2822();
            let at = at.replace("+0000", "GMT");
            let extra = format!("Retry-After: {at}\r\n");
            write_response(stream, "503 Service Unavailable", &extra, b"").await;
        }
        "/gone" => write_response(stream, "410 Gone", "", b"gone").await,
        "/redirect" => {
            let extra = format!("Location: http://127.0.0.1:{}/ok\r\n", addr.port());
            write_response(stream, "302 Found", &extra, b"").await;
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            write_response(stream, "200 OK", "", b"too late").await;
        }
        "/huge" => {
            let total = 10 * 1024 * 1024;
            let head =
                format!("HTTP/1.1 200 OK\r\nContent-Length: {total}\r\nConnection: close\r\n\r\n");
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = vec![b'x'; 64 * 1024];
            for _ in 0..total / chunk.len() {
                if stream.write_all(&chunk).await.is_err() {
                    return;
                }
            }
            let _ = stream.shutdown().await;
        }
        _ => write_response(stream, "404 Not Found", "", b"").await,
    }
}

/// Delivery settings for local receivers: plain HTTP and loopback allowed.
fn local_config() -> WebhooksConfig {
    WebhooksConfig {
        allow_http: true,
        allow_private_networks: true,
        timeout: 5,
        ..WebhooksConfig::default()
    }
}

fn json_headers() -> Vec<(String, String)> {
    vec![
        ("Content-Type".into(), "application/json".into()),
        ("X-Custom".into(), "custom value".into()),
    ]
}

#[tokio::test]
async fn delivers_and_records_a_200() {
    let receiver = Receiver::start(None).await;
    let sender = Sender::new(&local_config()).unwrap();
    let body = r#"{"event":"webhook.test"}"#;
    let result = sender
        .send(&receiver.http("/ok"), &json_headers(), body.into())
        .await;
    assert_eq!(result.status, Some(200));
    assert_eq!(result.response.as_deref(), Some("hello from the receiver"));
    assert_eq!(result.error, None);
    assert_eq!(result.retry_after, None);
    assert!(result.duration > Duration::ZERO);

    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/ok");
    assert_eq!(seen[0].body, body.as_bytes());
    assert_eq!(seen[0].header("content-type"), Some("application/json"));
    assert_eq!(seen[0].header("x-custom"), Some("custom value"));
    assert_eq!(
        seen[0].header("user-agent"),
        Some(concat!("Relay/", env!("CARGO_PKG_VERSION")))
    );
}

#[tokio::test]
async fn non_utf8_responses_are_kept_lossily() {
    let receiver = Receiver::start(None).await;
    let sender = Sender::new(&local_config()).unwrap();
    let result = sender
        .send(&receiver.http("/binary"), &[], "{}".into())
        .await;
    assert_eq!(result.status, Some(200));
    assert_eq!(result.response.as_deref(), Some("\u{fffd}\u{fffd}ok"));
}

#[tokio::test]
async fn records_failures_by_status() {
    let receiver = Receiver::start(None).await;
    let sender = Sender::new(&local_config()).unwrap();

    let failed = sender.send(&receiver.http("/fail"), &[], "{}".into()).await;
    assert_eq!(failed.status, Some(500));
    assert_eq!(failed.error.as_deref(), Some("HTTP 500"));
    assert_eq!(failed.response.as_deref(), Some("boom"));

    let throttled = sender
        .send(&receiver.http("/throttle"), &[], "{}".into())
        .await;
    assert_eq!(throttled.status, Some(429));
    assert_eq!(throttled.error.as_deref(), Some("HTTP 429"));
    assert_eq!(throttled.retry_after, Some(Duration::from_secs(120)));

    let unavailable = sender
        .send(&receiver.http("/unavailable"), &[], "{}".into())
        .await;
    assert_eq!(unavailable.status, Some(503));
    let wait = unavailable.retry_after.expect("HTTP-date Retry-After");
    assert!(
        wait > Duration::from_secs(590) && wait <= Duration::from_secs(600),
        "{wait:?}"
    );

    let gone = sender.send(&receiver.http("/gone"), &[], "{}".into()).await;
    assert_eq!(gone.status, Some(410));
    assert_eq!(gone.error.as_deref(), Some("HTTP 410"));
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let receiver = Receiver::start(None).await;
    let sender = Sender::new(&local_config()).unwrap();
    let result = sender
        .send(&receiver.http("/redirect"), &[], "{}".into())
        .await;
    assert_eq!(result.status, Some(302));
    assert!(
        result.error.as_deref().unwrap().contains("not followed"),
        "{result:?}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let paths: Vec<String> = receiver.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(paths, ["/redirect"]);
}

#[tokio::test]
async fn times_out() {
    let receiver = Receiver::start(None).await;
    let sender = Sender::new(&WebhooksConfig {
        timeout: 1,
        ..local_config()
    })
    .unwrap();
    let result = sender.send(&receiver.http("/slow"), &[], "{}".into()).await;
    assert_eq!(result.status, None);
    assert_eq!(result.response, None);
    let error = result.error.unwrap();
    assert!(error.starts_with("timeout"), "{error}");
    assert!(
        result.duration >= Duration::from_millis(900)
            && result.duration < Duration::from_millis(2900),
        "{:?}",
        result.duration
    );
    assert_eq!(receiver.seen().len(), 1);
}

#[tokio::test]
async fn connection_reset() {
    let receiver = Receiver::start(None).await;
    let sender = Sender::new(&local_config()).unwrap();
    let result = sender
        .send(&receiver.http("/reset"), &[], "{}".into())
        .await;
    assert_eq!(result.status, None);
    let error = result.error.unwrap();
    assert!(error.starts_with("reset"), "{error}");
}

#[tokio::test]
async fn connection_refused() {
    // Bind, learn the port, close: nothing listens there any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sender = Sender::new(&local_config()).unwrap();
    let result = sender
        .send(&format!("http://127.0.0.1:{port}/"), &[], "{}".into())
        .await;
    assert_eq!(result.status, None);
    let error = result.error.unwrap();
    assert!(error.starts_with("connect"), "{error}");
}

#[tokio::test]
async fn huge_responses_are_truncated() {
    let receiver = Receiver::start(None).await;
    let sender = Sender::new(&WebhooksConfig {
        max_response_bytes: 1000,
        ..local_config()
    })
    .unwrap();
    let result = sender.send(&receiver.http("/huge"), &[], "{}".into()).await;
    assert_eq!(result.status, Some(200));
    assert_eq!(result.error, None);
    let response = result.response.unwrap();
    assert_eq!(response.len(), 1000);
    assert!(response.bytes().all(|b| b == b'x'));
}

#[tokio::test]
async fn invalid_headers_send_nothing() {
    let receiver = Receiver::start(None).await;
    let sender = Sender::new(&local_config()).unwrap();
    let headers = vec![("Bad Name".to_owned(), "v".to_owned())];
    let result = sender
        .send(&receiver.http("/ok"), &headers, "{}".into())
        .await;
    assert_eq!(result.status, None);
    assert!(result.error.unwrap().contains("invalid header"));
    assert_eq!(receiver.connections(), 0);
}

#[tokio::test]
async fn default_config_refuses_loopback_without_connecting() {
    let receiver = Receiver::start(None).await;
    let sender = Sender::new(&WebhooksConfig::default()).unwrap();
    let port = receiver.addr.port();

    // IP literals: refused before any connection, whatever the spelling.
    for url in [
        format!("https://127.0.0.1:{port}/ok"),
        format!("https://2130706433:{port}/ok"),
        format!("https://0x7f.1:{port}/ok"),
        format!("https://[::ffff:127.0.0.1]:{port}/ok"),
        format!("https://[::1]:{port}/ok"),
    ] {
        let result = sender.send(&url, &[], "{}".into()).await;
        assert_eq!(result.status, None, "{url}");
        let error = result.error.unwrap();
        assert!(
            error.contains("blocked by the SSRF guard"),
            "{url}: {error}"
        );
        assert!(error.contains("allow_private_networks"), "{url}: {error}");
    }

    // Plain HTTP: refused by default, with the way to allow it.
    let result = sender.send(&receiver.http("/ok"), &[], "{}".into()).await;
    assert!(result.error.unwrap().contains("allow_http"));

    // A name resolving to loopback: refused by the resolver, nothing connects.
    let sender = Sender::new(&WebhooksConfig {
        allow_http: true,
        ..WebhooksConfig::default()
    })
    .unwrap();
    let result = sender
        .send(&receiver.url("http", "localhost", "/ok"), &[], "{}".into())
        .await;
    assert_eq!(result.status, None);
    let error = result.error.unwrap();
    assert_eq!(
        error,
        "blocked by the SSRF guard: localhost resolves only to private addresses; \
         allow with [webhooks] allow_private_networks (env RELAY_WEBHOOKS_ALLOW_PRIVATE_NETWORKS=true)"
    );

    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(receiver.connections(), 0, "the receiver saw a connection");
    assert!(receiver.seen().is_empty());
}

/// A throw-away CA and a leaf for `localhost` and 127.0.0.1 signed by it.
struct TestPki {
    ca_pem: String,
    acceptor: TlsAcceptor,
}

fn mint_pki() -> TestPki {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Relay test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf_params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(leaf.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .unwrap();
    TestPki {
        ca_pem: ca_cert.pem(),
        acceptor: TlsAcceptor::from(Arc::new(config)),
    }
}

#[tokio::test]
async fn https_with_a_private_ca() {
    let pki = mint_pki();
    let receiver = Receiver::start(Some(pki.acceptor.clone())).await;

    // A bundle: an unrelated certificate first, then the test CA.
    let other = rcgen::generate_simple_self_signed(vec!["other.test".to_owned()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, format!("{}{}", other.cert.pem(), pki.ca_pem)).unwrap();

    let trusting = Sender::new(&WebhooksConfig {
        allow_private_networks: true,
        ca_file: Some(ca_file.to_string_lossy().into_owned()),
        ..WebhooksConfig::default()
    })
    .unwrap();
    for host in ["localhost", "127.0.0.1"] {
        let result = trusting
            .send(
                &receiver.url("https", host, "/ok"),
                &json_headers(),
                "{}".into(),
            )
            .await;
        assert_eq!(result.status, Some(200), "{host}: {result:?}");
        assert_eq!(result.response.as_deref(), Some("hello from the receiver"));
    }
    assert_eq!(receiver.seen().len(), 2);

    // The same receiver, without the CA: the handshake fails, nothing is delivered.
    let untrusting = Sender::new(&WebhooksConfig {
        allow_private_networks: true,
        ..WebhooksConfig::default()
    })
    .unwrap();
    let result = untrusting
        .send(
            &receiver.url("https", "localhost", "/ok"),
            &json_headers(),
            "{}".into(),
        )
        .await;
    assert_eq!(result.status, None);
    let error = result.error.unwrap();
    assert!(error.starts_with("TLS"), "{error}");
    assert!(error.contains("certificate"), "{error}");
    assert_eq!(receiver.seen().len(), 2);
}

#[test]
fn bad_ca_files_are_refused() {
    let missing = Sender::new(&WebhooksConfig {
        ca_file: Some("/nonexistent/relay-ca.pem".into()),
        ..WebhooksConfig::default()
    })
    .unwrap_err();
    assert!(
        missing.contains("cannot read [webhooks] ca_file"),
        "{missing}"
    );

    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let error = Sender::new(&WebhooksConfig {
        ca_file: Some(empty.to_string_lossy().into_owned()),
        ..WebhooksConfig::default()
    })
    .unwrap_err();
    assert!(error.contains("ca_file"), "{error}");
}
