//! `POST /hooks/{id}`: a source's webhook requests.
//!
//! Each request is checked as its kind requires (see [`super::verify`]), recorded in the inbox
//! (deduplicated by its delivery key) and answered at once; the [processor](super::processor)
//! broadcasts it afterwards. Answers by kind:
//!
//! | case | Fluent Community | Fast Events | Standard Webhooks |
//! | --- | --- | --- | --- |
//! | accepted or duplicate | 200 | 200 | 200 |
//! | bad signature | 401 | 200, recorded `dropped`, logged, counted | 401 |
//! | stale `webhook-timestamp` | | | 401 |
//! | empty body (the plugin's "Test webhook") | 400 | 200, nothing recorded | 400 |
//! | body over `[sources] max_body_bytes` | 413 | 200, dropped, logged, counted | 413 |
//! | inactive source | 404 | 200, nothing recorded, counted | 404 |
//! | unknown source id | 404 | 404 | 404 |
//! | store unavailable | 500 | 500 (the plugin retries) | 500 |
//!
//! Fast Events' consumer rules (seed 004) ask for a 200 as soon as possible, and for a 200 even
//! when the signature is invalid so a prankster who knows the URL learns nothing; every 200 of a
//! Fast Events source has the same body. An unknown id is 404 for every kind: there is no secret
//! behind it to protect, and a sender pointed at a wrong URL should see its mistake. When the
//! store cannot record a request Relay answers 500 rather than pretend to have accepted it.

use std::collections::BTreeMap;

use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use chrono::{TimeDelta, Utc};
use serde_json::json;

use super::{
    model::{Accepted, InboxState, NewInboxItem, Source, SourceKind, SourceStatus},
    verify,
};
use crate::state::AppState;

/// Mounts the route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/hooks/{id}", web::post().to(receive));
}

/// Fast Events headers kept with a request (the signature is checked, not kept).
const FAST_EVENTS_HEADERS: &[&str] = &[
    "user-agent",
    "x-fe-webhook-id",
    "x-fe-webhook-source",
    "x-fe-webhook-topic",
    "x-fe-webhook-resource",
    "x-fe-webhook-event",
    "x-fe-webhook-delivery-id",
];

/// Standard Webhooks headers kept with a request.
const STANDARD_HEADERS: &[&str] = &["webhook-id", "webhook-timestamp", "user-agent"];

/// Fluent Community headers kept with a request.
const FLUENT_HEADERS: &[&str] = &["user-agent"];

/// How a request ends: the status, the `outcome` counted in
/// `relay_source_requests_total`, and an error message (none for a success).
struct Answer {
    status: StatusCode,
    outcome: &'static str,
    error: Option<String>,
    duplicate: bool,
}

impl Answer {
    fn ok(outcome: &'static str) -> Answer {
        Answer {
            status: StatusCode::OK,
            outcome,
            error: None,
            duplicate: false,
        }
    }

    fn fail(status: StatusCode, outcome: &'static str, error: impl Into<String>) -> Answer {
        Answer {
            status,
            outcome,
            error: Some(error.into()),
            duplicate: false,
        }
    }

    fn internal() -> Answer {
        Answer::fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "error",
            "Internal server error",
        )
    }

    fn not_found() -> Answer {
        Answer::fail(StatusCode::NOT_FOUND, "not_found", "No such webhook source")
    }
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn kept_headers(req: &HttpRequest, names: &[&str]) -> BTreeMap<String, String> {
    names
        .iter()
        .filter_map(|name| header(req, name).map(|v| ((*name).to_owned(), v.to_owned())))
        .collect()
}

/// Reads the body up to `limit` bytes; `None` when it is larger (or unreadable).
async fn receive(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let answer = handle(&req, &path, payload, &state).await;
    state
        .metrics
        .count("relay_source_requests_total", answer.outcome);
    match answer.error {
        Some(error) => HttpResponse::build(answer.status).json(json!({ "error": error })),
        None if answer.duplicate => {
            HttpResponse::Ok().json(json!({ "success": true, "duplicate": true }))
        }
        None => HttpResponse::Ok().json(json!({ "success": true })),
    }
}

async fn handle(req: &HttpRequest, id: &str, payload: web::Payload, state: &AppState) -> Answer {
    let Ok(id) = id.parse::<i64>() else {
        return Answer::not_found();
    };
    let source = match state.sources.source(&state.store, id).await {
        Ok(Some(source)) => source,
        Ok(None) => return Answer::not_found(),
        Err(error) => {
            tracing::error!(%error, source_id = id, "source lookup failed");
            return Answer::internal();
        }
    };
    let body = crate::error::read_body(payload, state.config.sources.max_body_bytes)
        .await
        .ok()
        .map(|b| b.to_vec());
    match source.kind {
        SourceKind::FluentCommunity => fluent(req, state, &source, body).await,
        SourceKind::FastEvents => fast_events(req, state, &source, body).await,
        SourceKind::StandardWebhooks => standard(req, state, &source, body).await,
    }
}

fn too_large(state: &AppState) -> Answer {
    Answer::fail(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!(
            "Request body is larger than {} bytes",
            state.config.sources.max_body_bytes
        ),
    )
}

fn bad_signature(state: &AppState, source: &Source) {
    state
        .metrics
        .count("relay_source_bad_signatures_total", source.kind.as_str());
}

/// Records a verified request as `pending` and wakes the processor.
async fn accept(
    state: &AppState,
    source: &Source,
    dedup_key: String,
    body: Vec<u8>,
    headers: BTreeMap<String, String>,
) -> Answer {
    let now = Utc::now();
    let window = TimeDelta::seconds(
        i64::try_from(state.config.sources.dedup_window_secs).unwrap_or(i64::MAX / 1000),
    );
    let item = NewInboxItem {
        source_id: source.id,
        dedup_key: Some(dedup_key),
        body,
        headers,
        received_at: now,
        state: InboxState::Pending,
        reason: None,
    };
    match state.store.accept_inbox(&item, now - window).await {
        Ok(Accepted::New(_)) => {
            state.sources.signal.notify_one();
            Answer::ok("accepted")
        }
        Ok(Accepted::Duplicate) => Answer {
            duplicate: true,
            ..Answer::ok("duplicate")
        },
        Err(error) => {
            tracing::error!(%error, source_id = source.id, "could not record a source request");
            Answer::internal()
        }
    }
}

async fn fluent(
    req: &HttpRequest,
    state: &AppState,
    source: &Source,
    body: Option<Vec<u8>>,
) -> Answer {
    if source.status == SourceStatus::Inactive {
        return Answer::not_found();
    }
    let Some(body) = body else {
        return too_large(state);
    };
    let signature = header(req, "x-fluent-signature").unwrap_or_default();
    if !verify::fluent(&source.secret, &body, signature) {
        bad_signature(state, source);
        return Answer::fail(
            StatusCode::UNAUTHORIZED,
            "bad_signature",
            "Invalid or missing X-Fluent-Signature",
        );
    }
    let headers = kept_headers(req, FLUENT_HEADERS);
    if let Err(why) = verify::event_name(source.kind, &headers, &body) {
        return Answer::fail(StatusCode::BAD_REQUEST, "bad_request", why);
    }
    // The body's hash: its signature, lowercase hex.
    let key = verify::fluent_signature(&source.secret, &body);
    accept(state, source, key, body, headers).await
}

async fn fast_events(
    req: &HttpRequest,
    state: &AppState,
    source: &Source,
    body: Option<Vec<u8>>,
) -> Answer {
    let delivery_id = header(req, "x-fe-webhook-delivery-id").unwrap_or_default();
    if source.status == SourceStatus::Inactive {
        tracing::info!(
            source_id = source.id,
            delivery_id,
            "Fast Events request for an inactive source ignored"
        );
        return Answer::ok("inactive");
    }
    let Some(body) = body else {
        tracing::warn!(
            source_id = source.id,
            delivery_id,
            limit = state.config.sources.max_body_bytes,
            "Fast Events request over max_body_bytes dropped"
        );
        return Answer::ok("too_large");
    };
    if body.trim_ascii().is_empty() {
        // The plugin's "Test webhook": an empty body that must get a 200.
        return Answer::ok("test");
    }
    let headers = kept_headers(req, FAST_EVENTS_HEADERS);
    let signature = header(req, "x-fe-webhook-signature").unwrap_or_default();
    if !verify::fast_events(&source.secret, &body, signature) {
        bad_signature(state, source);
        tracing::warn!(
            source_id = source.id,
            delivery_id,
            topic = header(req, "x-fe-webhook-topic").unwrap_or_default(),
            "Fast Events request with an invalid signature dropped (answered 200)"
        );
        let item = NewInboxItem {
            source_id: source.id,
            dedup_key: (!delivery_id.is_empty()).then(|| delivery_id.to_owned()),
            body,
            headers,
            received_at: Utc::now(),
            state: InboxState::Dropped,
            reason: Some("invalid signature".to_owned()),
        };
        if let Err(error) = state.store.accept_inbox(&item, Utc::now()).await {
            tracing::warn!(%error, "could not record a dropped Fast Events request");
        }
        return Answer::ok("bad_signature");
    }
    let key = if delivery_id.trim().is_empty() {
        verify::fluent_signature(&source.secret, &body)
    } else {
        delivery_id.trim().to_owned()
    };
    // Every 200 of a Fast Events source has the same body (a duplicate is only counted).
    Answer {
        duplicate: false,
        ..accept(state, source, key, body, headers).await
    }
}

async fn standard(
    req: &HttpRequest,
    state: &AppState,
    source: &Source,
    body: Option<Vec<u8>>,
) -> Answer {
    if source.status == SourceStatus::Inactive {
        return Answer::not_found();
    }
    let Some(body) = body else {
        return too_large(state);
    };
    let (Some(msg_id), Some(timestamp), Some(signatures)) = (
        header(req, "webhook-id").filter(|v| !v.trim().is_empty()),
        header(req, "webhook-timestamp"),
        header(req, "webhook-signature"),
    ) else {
        return Answer::fail(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "webhook-id, webhook-timestamp and webhook-signature are required",
        );
    };
    let checked = verify::standard(
        &source.secret,
        msg_id,
        timestamp,
        &body,
        signatures,
        Utc::now().timestamp(),
        state.config.sources.timestamp_tolerance_secs,
    );
    match checked {
        Ok(()) => {}
        Err(verify::StandardError::BadTimestamp) => {
            return Answer::fail(
                StatusCode::BAD_REQUEST,
                "bad_request",
                verify::StandardError::BadTimestamp.to_string(),
            )
        }
        Err(verify::StandardError::Stale) => {
            return Answer::fail(
                StatusCode::UNAUTHORIZED,
                "stale_timestamp",
                "webhook-timestamp is too old or too far in the future",
            )
        }
        Err(verify::StandardError::BadSignature) => {
            bad_signature(state, source);
            return Answer::fail(
                StatusCode::UNAUTHORIZED,
                "bad_signature",
                "Invalid webhook-signature",
            );
        }
    }
    if body.trim_ascii().is_empty() {
        return Answer::fail(StatusCode::BAD_REQUEST, "bad_request", "The body is empty");
    }
    let headers = kept_headers(req, STANDARD_HEADERS);
    accept(state, source, msg_id.trim().to_owned(), body, headers).await
}
