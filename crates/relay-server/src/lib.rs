//! Relay: a self-hosted realtime relay speaking the Pusher Channels protocol 7.
//!
//! One port serves the WebSocket endpoint `/app/{key}`, the Pusher HTTP API under
//! `/apps/{app_id}`, and `/health`, `/ready` and `/metrics`. The protocol rules live in the pure
//! `pusher-wire` crate; this crate carries bytes, timers and shared channel state.

pub mod admin;
pub mod apps;
pub mod backup_sync;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod console;
pub mod error;
pub mod http_api;
pub mod hub;
pub mod ingest;
pub mod metrics;
pub mod net;
pub mod server;
pub mod sources;
pub mod state;
pub mod store;
pub mod webhooks;
pub mod ws;

use actix_web::{web, HttpResponse};

pub use config::Config;
pub use state::AppState;

/// Mounts every route of the server (under `path_prefix` for the Pusher endpoints).
pub fn configure(cfg: &mut web::ServiceConfig, path_prefix: &str) {
    cfg.route("/health", web::get().to(health))
        .route("/ready", web::get().to(ready))
        .route("/metrics", web::get().to(metrics))
        .configure(console::configure)
        .configure(webhooks::admin_api::configure)
        .configure(sources::admin_api::configure)
        .configure(admin::configure)
        .configure(ingest::configure)
        .configure(sources::receive::configure)
        .service(
            web::scope(path_prefix)
                .route("/app/{key}", web::get().to(ws::connect))
                .configure(http_api::configure),
        );
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let not_ready = |reason: &str| {
        HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({ "ready": false, "reason": reason }))
    };
    if state.is_shutting_down() {
        return not_ready("shutting down");
    }
    if state.cluster.as_ref().is_some_and(|c| !c.is_up()) {
        return not_ready("Redis unavailable: serving local clients only");
    }
    if let Err(error) = state.store.ping().await {
        tracing::warn!(%error, "not ready: the database does not answer");
        return not_ready("database unavailable");
    }
    HttpResponse::Ok().json(serde_json::json!({ "ready": true }))
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let mut body = state.metrics.render();
    body.push_str("# HELP relay_app_connections Open connections per app.\n# TYPE relay_app_connections gauge\n");
    body.push_str(
        "# HELP relay_app_channels Occupied channels per app.\n# TYPE relay_app_channels gauge\n",
    );
    for app in state.apps.iter() {
        body.push_str(&format!(
            "relay_app_connections{{app=\"{}\"}} {}\nrelay_app_channels{{app=\"{}\"}} {}\n",
            app.config.id,
            app.connections(),
            app.config.id,
            app.hub.channel_count()
        ));
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(body)
}
