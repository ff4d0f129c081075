//! The web console (`/console`) and the admin endpoints behind it: the live debug feed
//! (server-sent events), apps and their figures, and an event sender.
//!
//! The console's static files are embedded in the binary: no CDN, no build step. Every data
//! endpoint is under `/admin` and needs the admin bearer token; the console keeps the token in
//! the browser's session storage only.

use std::{
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use futures_util::stream;
use pusher_wire::{api, EventData};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::{
    admin::{self, AdminError, AdminResult},
    hub::Publication,
    state::AppState,
};

/// Feed events kept for a slow console before it skips ahead.
pub const FEED_CAPACITY: usize = 1024;

/// Payload bytes shown in the feed.
pub const FEED_DATA_BYTES: usize = 2048;

/// An app's live debug feed: what happens, as JSON lines, for the consoles watching.
#[derive(Debug)]
pub struct Feed {
    tx: broadcast::Sender<Arc<str>>,
}

impl Default for Feed {
    fn default() -> Self {
        Feed {
            tx: broadcast::channel(FEED_CAPACITY).0,
        }
    }
}

impl Feed {
    /// Publishes an event if anyone is watching; `event` is only built then.
    pub fn emit(&self, event: impl FnOnce() -> Value) {
        if self.tx.receiver_count() == 0 {
            return;
        }
        let mut value = event();
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        value["at"] = json!(at);
        let _ = self.tx.send(Arc::from(value.to_string()));
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.tx.subscribe()
    }
}

/// Cuts a payload for display.
pub fn excerpt(data: &str) -> String {
    if data.len() <= FEED_DATA_BYTES {
        return data.to_owned();
    }
    let mut end = FEED_DATA_BYTES;
    while !data.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &data[..end])
}

/// Mounts the console and its admin endpoints.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console", web::get().to(index))
        .route("/console/", web::get().to(index))
        .route("/console/{file}", web::get().to(asset))
        .route("/admin/apps", web::get().to(apps))
        .route("/admin/stats", web::get().to(stats))
        .route("/admin/feed", web::get().to(feed))
        .route("/admin/apps/{app_id}/events", web::post().to(send_event));
}

const ASSETS: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../console/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/app.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../console/style.css"),
    ),
];

fn serve_asset(name: &str) -> HttpResponse {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => HttpResponse::Ok()
            .content_type(*content_type)
            .insert_header(("cache-control", "no-cache"))
            .insert_header(("x-content-type-options", "nosniff"))
            .insert_header((
                "content-security-policy",
                "default-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:",
            ))
            .body(*body),
        None => HttpResponse::NotFound().json(json!({ "error": "Not found" })),
    }
}

async fn index() -> HttpResponse {
    serve_asset("index.html")
}

async fn asset(path: web::Path<String>) -> HttpResponse {
    serve_asset(&path)
}

fn respond(state: &AppState, result: AdminResult) -> HttpResponse {
    admin::respond(state, result)
}

async fn apps(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let result = async {
        admin::authorize(&state, &req)?;
        let mut apps: Vec<Value> = state
            .apps
            .iter()
            .map(|app| {
                json!({
                    "id": app.config.id,
                    "key": app.config.key,
                    "enabled": app.config.enabled,
                    "client_events": app.config.enable_client_messages,
                    "connections": app.connections(),
                    "channels": app.hub.channel_count(),
                })
            })
            .collect();
        apps.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        Ok(HttpResponse::Ok().json(json!({ "apps": apps })))
    }
    .await;
    respond(&state, result)
}

/// The figures behind `/metrics`, as JSON, plus per-app counts and the webhook queue.
async fn stats(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let result = async {
        admin::authorize(&state, &req)?;
        use std::sync::atomic::Ordering::Relaxed;
        let m = &state.metrics;
        let queue = state.store.queue_stats().await.ok();
        Ok(HttpResponse::Ok().json(json!({
            "connections": m.connections.load(Relaxed),
            "connections_total": m.connections_total.load(Relaxed),
            "subscriptions": m.subscriptions.load(Relaxed),
            "messages_in": m.messages_in.load(Relaxed),
            "messages_out": m.messages_out.load(Relaxed),
            "bytes_out": m.bytes_out.load(Relaxed),
            "slow_consumers": m.slow_consumers.load(Relaxed),
            "webhook_queue": queue,
            "store": if state.store.is_durable() { "postgres" } else { "memory" },
            "apps": state.apps.iter().map(|app| json!({
                "id": app.config.id,
                "connections": app.connections(),
                "channels": app.hub.channel_count(),
            })).collect::<Vec<_>>(),
        })))
    }
    .await;
    respond(&state, result)
}

#[derive(Deserialize)]
struct FeedQuery {
    app_id: String,
}

/// `GET /admin/feed?app_id=…`: server-sent events, one JSON object per event.
async fn feed(
    req: HttpRequest,
    query: web::Query<FeedQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    if let Err(error) = admin::authorize(&state, &req) {
        return respond(&state, Err(error));
    }
    let Some(app) = state.apps.by_id(&query.app_id).cloned() else {
        return respond(
            &state,
            Err(AdminError::new(StatusCode::NOT_FOUND, "No such app")),
        );
    };
    let rx = app.feed.subscribe();
    let hello = format!(
        "event: hello\ndata: {}\n\n",
        json!({ "app_id": app.config.id })
    );
    let start = stream::once(async move { Ok::<_, actix_web::Error>(web::Bytes::from(hello)) });
    let events = stream::unfold((rx, Instant::now()), |(mut rx, _)| async move {
        let chunk = tokio::select! {
            received = rx.recv() => match received {
                Ok(line) => format!("data: {line}\n\n"),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    format!("event: lagged\ndata: {{\"skipped\":{n}}}\n\n")
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            },
            _ = tokio::time::sleep(Duration::from_secs(15)) => ": keep-alive\n\n".to_owned(),
        };
        Some((
            Ok::<_, actix_web::Error>(web::Bytes::from(chunk)),
            (rx, Instant::now()),
        ))
    });
    state.metrics.count("relay_admin_requests_total", "200");
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(futures_util::StreamExt::chain(start, events))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendEvent {
    channel: String,
    event: String,
    data: Box<serde_json::value::RawValue>,
}

/// `POST /admin/apps/{id}/events`: the console's event creator; publishes like the HTTP API.
async fn send_event(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let result = async {
        admin::authorize(&state, &req)?;
        let app = state
            .apps
            .by_id(&path)
            .cloned()
            .ok_or_else(|| AdminError::new(StatusCode::NOT_FOUND, "No such app"))?;
        let bad = |m: String| AdminError::new(StatusCode::BAD_REQUEST, m);
        let send: SendEvent =
            serde_json::from_slice(&body).map_err(|e| bad(format!("Invalid JSON body: {e}")))?;
        let channel =
            api::parse_channel(&send.channel, &app.api_limits()).map_err(|e| bad(e.to_string()))?;
        let name = pusher_wire::EventName::for_api(&send.event).map_err(|e| bad(e.to_string()))?;
        let payload = send.data.get();
        let data = if payload.starts_with('"') {
            EventData::Raw(&send.data)
        } else {
            EventData::Text(payload)
        };
        let publication = Publication {
            event: name.as_str(),
            data,
            user_id: None,
            except: None,
            cache: true,
        };
        let delivered = app.publish(&channel, &publication, Instant::now());
        app.feed.emit(|| {
            json!({"type": "api_event", "channel": channel.as_str(), "event": name.as_str(),
                   "data": excerpt(payload), "source": "console"})
        });
        Ok(HttpResponse::Ok().json(json!({ "delivered": delivered })))
    }
    .await;
    respond(&state, result)
}
