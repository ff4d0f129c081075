//! Event ingestion from the WordPress plugin and the backend (seeds 000 and 001):
//! `POST /api/events/create` and the backup webhooks `POST /webhooks/backup-{progress,complete,failed}`,
//! authenticated by `x-wpfort-token`.

use std::{sync::Arc, time::Instant};

use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use chrono::Utc;
use pusher_wire::{ChannelName, EventData};
use relay_core::{
    backup::{CompleteRequest, FailedRequest, Percent, ProgressRequest, Update},
    Domain, IngestRequest,
};
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::{
    hub::Publication,
    state::AppState,
    store::{BackupWrite, Site},
};

/// Mounts the ingestion routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/events/create", web::post().to(create_event))
        .route("/webhooks/backup-progress", web::post().to(backup_progress))
        .route("/webhooks/backup-complete", web::post().to(backup_complete))
        .route("/webhooks/backup-failed", web::post().to(backup_failed));
}

/// An ingestion failure, answered as `{"error": "..."}`.
#[derive(Debug)]
pub(crate) struct Failure {
    status: StatusCode,
    message: String,
}

impl Failure {
    fn new(status: StatusCode, message: impl Into<String>) -> Failure {
        Failure {
            status,
            message: message.into(),
        }
    }

    fn bad_request(message: impl std::fmt::Display) -> Failure {
        Failure::new(StatusCode::BAD_REQUEST, message.to_string())
    }
}

type IngestResult = Result<HttpResponse, Failure>;

fn respond(state: &AppState, result: IngestResult) -> HttpResponse {
    let response = result
        .unwrap_or_else(|f| HttpResponse::build(f.status).json(json!({ "error": f.message })));
    state
        .metrics
        .count("relay_ingest_requests_total", response.status().as_str());
    response
}

/// Checks `x-wpfort-token` against every configured token in constant time.
fn check_token(state: &AppState, req: &HttpRequest) -> Result<(), Failure> {
    let given = req
        .headers()
        .get("x-wpfort-token")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    let ok = state.config.ingest.tokens.iter().fold(false, |ok, token| {
        ok | bool::from(token.as_bytes().ct_eq(given))
    });
    if ok && !given.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(
            StatusCode::UNAUTHORIZED,
            "Invalid or missing x-wpfort-token",
        ))
    }
}

/// Authenticates and reads the body as UTF-8.
async fn authenticated_body(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<String, Failure> {
    check_token(state, req)?;
    let body = crate::error::read_body(payload, state.config.ingest.max_body_bytes)
        .await
        .map_err(|e| match e {
            crate::error::BodyError::TooLarge(_) => {
                Failure::new(StatusCode::PAYLOAD_TOO_LARGE, e.to_string())
            }
            _ => Failure::bad_request(e),
        })?;
    String::from_utf8(body.to_vec())
        .map_err(|_| Failure::bad_request("Request body is not valid UTF-8"))
}

/// The site of a domain, or 404.
async fn site_of(state: &AppState, domain: &str) -> Result<Site, Failure> {
    let domain =
        Domain::parse(domain).map_err(|e| Failure::bad_request(format!("Invalid domain: {e}")))?;
    match state.store.site(domain.as_str()).await {
        Ok(Some(site)) => Ok(site),
        Ok(None) => Err(Failure::new(
            StatusCode::NOT_FOUND,
            format!("Website not found for domain {domain}"),
        )),
        Err(error) => {
            tracing::error!(%error, "site lookup failed");
            Err(Failure::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal server error",
            ))
        }
    }
}

/// The channel of a site: the configured prefix and the website id.
pub(crate) fn site_channel(state: &AppState, site: &Site) -> Result<ChannelName, Failure> {
    ChannelName::parse_with_limit(
        &format!("{}{}", state.config.ingest.channel_prefix, site.website_id),
        state.config.max_channel_name_length,
    )
    .map_err(|e| {
        tracing::error!(error = %e, "site channel name is invalid; check [ingest] channel_prefix");
        Failure::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
    })
}

/// Publishes `data` (JSON text, sent to subscribers as the event's data string) on the site's
/// channel in the ingestion app.
pub(crate) fn broadcast(
    state: &AppState,
    channel: &ChannelName,
    event: &str,
    data: &str,
) -> Result<(), Failure> {
    let app = state.ingest_app().ok_or_else(|| {
        tracing::error!("no app for ingestion; set [ingest] app_id");
        Failure::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
    })?;
    let publication = Publication {
        event,
        data: EventData::Text(data),
        user_id: None,
        except: None,
        cache: true,
    };
    app.publish(channel, &publication, Instant::now());
    app.feed.emit(|| {
        json!({"type": "ingested_event", "channel": channel.as_str(), "event": event,
               "data": crate::console::excerpt(data)})
    });
    Ok(())
}

async fn create_event(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let result = async {
        let body = authenticated_body(&state, &req, payload).await?;
        let request = IngestRequest::parse(&body).map_err(Failure::bad_request)?;
        let event = request
            .validate(state.config.ingest.unknown_events)
            .map_err(Failure::bad_request)?;
        let site = site_of(&state, request.domain()).await?;
        let channel = site_channel(&state, &site)?;
        // The request's `data` JSON text, byte for byte.
        broadcast(
            &state,
            &channel,
            request.event().as_str(),
            request.data().get(),
        )?;
        crate::webhooks::dispatcher::publish_event(
            &state,
            request.event().as_str(),
            site.website_id,
            &site.domain,
            request.data().get(),
        )
        .await;
        if let Some(payload) = event.payload() {
            if !payload.origin.is_known() {
                state
                    .metrics
                    .count("relay_unknown_origins_total", payload.origin.as_str());
            }
        }
        state.metrics.count(
            "relay_ingested_events_total",
            request.event().vertical().as_str(),
        );
        Ok(HttpResponse::Ok().json(json!({
            "success": true,
            "message": "Event created successfully",
            "websiteId": site.website_id,
            "channel": channel.as_str(),
            "event": request.event().as_str(),
        })))
    }
    .await;
    respond(&state, result)
}

/// Records a backup change (a failure is logged, counted and retried in the background, never
/// failing the webhook) and broadcasts it on the site's channel.
async fn record_and_broadcast(
    state: &Arc<AppState>,
    site: &Site,
    update: &Update<'_>,
) -> Result<(), Failure> {
    let write = BackupWrite {
        website_id: site.website_id,
        backup_id: update.backup_id.to_owned(),
        status: update.status.as_str().to_owned(),
        progress: update.progress.get(),
        error_message: update.error_message.map(str::to_owned),
        at: Utc::now(),
    };
    state.backups.record(write).await;
    let channel = site_channel(state, site)?;
    let data = update.data();
    let event = update.event();
    broadcast(state, &channel, event.as_str(), &data)?;
    crate::webhooks::dispatcher::publish_event(
        state,
        event.as_str(),
        site.website_id,
        &site.domain,
        &data,
    )
    .await;
    Ok(())
}

/// The progress last recorded for a backup (0 when unknown or the store fails).
async fn previous_progress(state: &AppState, site: &Site, backup_id: &str) -> Percent {
    match state.store.backup(site.website_id, backup_id).await {
        Ok(Some(backup)) => Percent::new(backup.progress).unwrap_or_default(),
        Ok(None) => Percent::default(),
        Err(error) => {
            tracing::warn!(%error, "could not read the previous backup progress");
            Percent::default()
        }
    }
}

fn success() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "success": true }))
}

async fn backup_progress(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let state = state.into_inner();
    let result = async {
        let body = authenticated_body(&state, &req, payload).await?;
        let request = ProgressRequest::parse(&body).map_err(Failure::bad_request)?;
        let site = site_of(&state, &request.domain).await?;
        let previous = previous_progress(&state, &site, &request.backup_id).await;
        record_and_broadcast(&state, &site, &request.update(previous)).await?;
        Ok(success())
    }
    .await;
    respond(&state, result)
}

async fn backup_complete(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let state = state.into_inner();
    let result = async {
        let body = authenticated_body(&state, &req, payload).await?;
        let request = CompleteRequest::parse(&body).map_err(Failure::bad_request)?;
        let site = site_of(&state, &request.domain).await?;
        record_and_broadcast(&state, &site, &request.update()).await?;
        crate::backup_sync::spawn(state.clone(), site);
        Ok(success())
    }
    .await;
    respond(&state, result)
}

async fn backup_failed(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let state = state.into_inner();
    let result = async {
        let body = authenticated_body(&state, &req, payload).await?;
        let request = FailedRequest::parse(&body).map_err(Failure::bad_request)?;
        let site = site_of(&state, &request.domain).await?;
        let previous = previous_progress(&state, &site, &request.backup_id).await;
        record_and_broadcast(&state, &site, &request.update(previous)).await?;
        Ok(success())
    }
    .await;
    respond(&state, result)
}
