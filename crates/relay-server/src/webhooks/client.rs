//! The delivery HTTP client: one POST per attempt, behind the SSRF guard, never following
//! redirects, never using environment proxies, with bounded time and memory per response.

use std::{error::Error as StdError, time::Duration};

use reqwest::{
    header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER},
    redirect, Certificate, Client, Response,
};
use tokio::time::Instant;

use super::{
    retry::parse_retry_after,
    ssrf::{check_url, GuardedResolver, UrlError},
};
use crate::config::WebhooksConfig;

/// The `User-Agent` of every delivery.
pub const USER_AGENT: &str = concat!("Relay/", env!("CARGO_PKG_VERSION"));

/// How long establishing a connection (TCP and TLS) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Response bytes past `max_response_bytes` read and thrown away so the connection can be
/// reused; a longer response is cut off by closing the connection.
const DRAIN_LIMIT: usize = 1 << 20;

/// The outcome of one HTTP attempt, as the attempt log records it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SendResult {
    /// The response status; `None` when there was no response (blocked, refused, timeout,
    /// reset, TLS failure).
    pub status: Option<u16>,
    /// From sending the request to the end of the kept part of the response.
    pub duration: Duration,
    /// The first `max_response_bytes` bytes of the response body, lossy UTF-8 (`None` without a
    /// response).
    pub response: Option<String>,
    /// What went wrong: `HTTP 500` for a non-2xx answer, or the network error (`timeout: …`,
    /// `connect: …`, `reset: …`, `TLS: …`, `blocked by the SSRF guard: …`); `None` for a 2xx.
    pub error: Option<String>,
    /// The response's `Retry-After`, if present and valid.
    pub retry_after: Option<Duration>,
}

impl SendResult {
    fn failed(error: String, duration: Duration) -> SendResult {
        SendResult {
            error: Some(error),
            duration,
            ..SendResult::default()
        }
    }
}

/// The webhook delivery client (cheap to clone: the connection pool is shared).
#[derive(Clone, Debug)]
pub struct Sender {
    client: Client,
    allow_http: bool,
    allow_private: bool,
    max_response_bytes: usize,
    timeout: Duration,
}

impl Sender {
    /// A client for these delivery settings: request timeout `timeout`, connect timeout 5 s,
    /// no redirects, no proxies, the [`GuardedResolver`], `User-Agent: Relay/<version>`, and the
    /// certificates of `ca_file` (PEM, one or more) trusted besides the built-in web roots.
    pub fn new(cfg: &WebhooksConfig) -> Result<Sender, String> {
        let timeout = Duration::from_secs(cfg.timeout);
        let mut builder = Client::builder()
            .redirect(redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(CONNECT_TIMEOUT.min(timeout))
            .dns_resolver(std::sync::Arc::new(GuardedResolver::new(
                cfg.allow_private_networks,
            )))
            .user_agent(USER_AGENT);
        if let Some(path) = &cfg.ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| format!("cannot read [webhooks] ca_file {path}: {e}"))?;
            let certs = Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("invalid [webhooks] ca_file {path}: {e}"))?;
            if certs.is_empty() {
                return Err(format!(
                    "invalid [webhooks] ca_file {path}: no PEM certificate in it"
                ));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder
            .build()
            .map_err(|e| format!("cannot build the webhook HTTP client: {}", chain(&e)))?;
        Ok(Sender {
            client,
            allow_http: cfg.allow_http,
            allow_private: cfg.allow_private_networks,
            max_response_bytes: cfg.max_response_bytes,
            timeout,
        })
    }

    /// POSTs `body` with `headers` to `url` and records what happened. The URL is checked
    /// first ([`check_url`]): a refused URL or header makes no network traffic at all.
    /// At most `max_response_bytes` of the response are kept; up to 1 MiB more is drained
    /// without being stored, then the connection is closed.
    pub async fn send(&self, url: &str, headers: &[(String, String)], body: String) -> SendResult {
        let url = match check_url(url, self.allow_http, self.allow_private) {
            Ok(url) => url,
            Err(e) => return SendResult::failed(e.to_string(), Duration::ZERO),
        };
        let mut map = HeaderMap::with_capacity(headers.len());
        for (name, value) in headers {
            let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) else {
                return SendResult::failed(format!("invalid header {name:?}"), Duration::ZERO);
            };
            map.append(name, value);
        }
        let start = Instant::now();
        let response = match self.client.post(url).headers(map).body(body).send().await {
            Ok(response) => response,
            Err(e) => return SendResult::failed(self.describe(&e), start.elapsed()),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
        let kept = self.read_bounded(response).await;
        SendResult {
            status: Some(status.as_u16()),
            duration: start.elapsed(),
            response: Some(String::from_utf8_lossy(&kept).into_owned()),
            error: (!status.is_success()).then(|| {
                if status.is_redirection() {
                    format!("HTTP {} (redirects are not followed)", status.as_u16())
                } else {
                    format!("HTTP {}", status.as_u16())
                }
            }),
            retry_after,
        }
    }

    /// Keeps the first `max_response_bytes` of the body, drains at most [`DRAIN_LIMIT`] more,
    /// then drops the response (closing the connection if the body is not over). Errors while
    /// reading the body end the reading: the status already decides the outcome.
    async fn read_bounded(&self, mut response: Response) -> Vec<u8> {
        let mut kept = Vec::new();
        let mut drained = 0usize;
        while let Ok(Some(chunk)) = response.chunk().await {
            let room = self.max_response_bytes - kept.len();
            let take = room.min(chunk.len());
            kept.extend_from_slice(&chunk[..take]);
            drained += chunk.len() - take;
            if drained > DRAIN_LIMIT {
                break;
            }
        }
        kept
    }

    /// A short, operator-readable description of a failed request.
    fn describe(&self, err: &reqwest::Error) -> String {
        let mut source: Option<&(dyn StdError + 'static)> = err.source();
        let mut reset = false;
        while let Some(e) = source {
            if let Some(blocked) = e.downcast_ref::<UrlError>() {
                return blocked.to_string();
            }
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                if let Some(blocked) = io.get_ref().and_then(|i| i.downcast_ref::<UrlError>()) {
                    return blocked.to_string();
                }
                reset |= matches!(
                    io.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
                );
            }
            source = e.source();
        }
        let detail = chain(err);
        if err.is_timeout() {
            if err.is_connect() {
                format!("timeout: no connection within {CONNECT_TIMEOUT:?} ({detail})")
            } else {
                format!("timeout: no response within {:?}", self.timeout)
            }
        } else if reset {
            format!("reset: {detail}")
        } else if detail.contains("certificate") || detail.contains("tls") {
            format!("TLS: {detail}")
        } else if err.is_connect() {
            format!("connect: {detail}")
        } else {
            format!("request: {detail}")
        }
    }
}

/// The messages of an error's sources, joined by `: ` (the top-level message names the URL,
/// which the attempt log already has, so it is left out when there are sources).
fn chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts = Vec::new();
    let mut source = err.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        source = e.source();
    }
    if parts.is_empty() {
        err.to_string()
    } else {
        parts.join(": ")
    }
}
