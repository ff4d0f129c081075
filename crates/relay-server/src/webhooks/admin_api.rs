//! `/admin/webhooks`: subscriber webhooks in the shape of seed 002 (Fluent Community's webhook
//! API), behind the admin bearer token. Errors are `{"code","message","data":{"status"}}`.

use std::collections::BTreeMap;

use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use relay_core::{EventPattern, KnownEvent, PatternKind, UnknownEvents, ALL_EVENT_NAMES};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{
    dispatcher,
    headers::validate_custom_headers,
    model::{NewWebhook, Webhook, WebhookPatch, WebhookStatus},
    signing::generate_secret,
    ssrf::check_url,
};
use crate::{admin, state::AppState, store::StoreError};

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin/webhooks")
            .route("", web::get().to(list))
            .route("", web::post().to(create))
            .route("/{id}", web::get().to(get))
            .route("/{id}", web::put().to(update))
            .route("/{id}", web::patch().to(update))
            .route("/{id}", web::delete().to(delete))
            .route("/{id}/test", web::post().to(test))
            .route("/{id}/deliveries", web::get().to(deliveries))
            .route("/{id}/attempts", web::get().to(attempts))
            .route("/{id}/recover", web::post().to(recover))
            .route(
                "/{id}/deliveries/{delivery_id}/redeliver",
                web::post().to(redeliver),
            ),
    );
}

/// An error in seed 002's shape.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "Webhook not found.")
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        tracing::error!(%error, "webhook admin store error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Internal server error.",
        )
    }
}

impl From<admin::AdminError> for ApiError {
    fn from(error: admin::AdminError) -> ApiError {
        ApiError::new(error.status, "unauthorized", error.message)
    }
}

type ApiResult = Result<HttpResponse, ApiError>;

fn respond(state: &AppState, result: ApiResult) -> HttpResponse {
    let response = result.unwrap_or_else(|e| {
        HttpResponse::build(e.status).json(json!({
            "code": e.code,
            "message": e.message,
            "data": { "status": e.status.as_u16() },
        }))
    });
    state
        .metrics
        .count("relay_admin_requests_total", response.status().as_str());
    response
}

/// Seed 002's datetime format: `2024-01-15 10:30:00` (UTC).
pub fn datetime(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The webhook as the API shows it.
pub fn webhook_json(w: &Webhook) -> Value {
    json!({
        "id": w.id,
        "name": w.name,
        "url": w.url,
        "events": w.events,
        "website_ids": w.website_ids,
        "status": w.status,
        "secret": w.secret,
        "headers": w.headers,
        "retry_count": w.retry_count,
        "last_triggered_at": w.last_triggered_at.as_ref().map(datetime),
        "last_error": w.last_error,
        "disabled_reason": w.disabled_reason,
        "created_at": datetime(&w.created_at),
        "updated_at": datetime(&w.updated_at),
    })
}

/// The fields accepted on create and update.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    name: Option<String>,
    url: Option<String>,
    events: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double_option")]
    website_ids: Option<Option<Vec<String>>>,
    status: Option<String>,
    secret: Option<String>,
    headers: Option<BTreeMap<String, String>>,
    retry_count: Option<i64>,
}

fn double_option<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<Vec<String>>>, D::Error> {
    Option::<Vec<String>>::deserialize(d).map(Some)
}

/// Most retries a webhook may ask for.
pub const MAX_RETRY_COUNT: i64 = 20;

fn parse_fields(body: &[u8]) -> Result<Fields, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad("invalid_json", format!("Invalid JSON body: {e}")))
}

fn check_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 255 {
        return Err(ApiError::bad(
            "invalid_name",
            "Webhook name must be 1 to 255 characters.",
        ));
    }
    Ok(name.to_owned())
}

fn check_webhook_url(state: &AppState, url: &str) -> Result<String, ApiError> {
    let cfg = &state.config.webhooks;
    check_url(url, cfg.allow_http, cfg.allow_private_networks)
        .map(|u| u.to_string())
        .map_err(|e| ApiError::bad("invalid_url", e.to_string()))
}

/// Event patterns: `*`, `prefix.*` over catalog names (or a vertical), exact catalog names
/// (any valid name when unknown events are relayed).
fn check_events(state: &AppState, events: &[String]) -> Result<Vec<String>, ApiError> {
    if events.is_empty() {
        return Err(ApiError::bad(
            "invalid_events",
            "At least one event is required.",
        ));
    }
    for event in events {
        let pattern: EventPattern = event.parse().map_err(|e| {
            ApiError::bad("invalid_events", format!("Invalid event {event:?}: {e}"))
        })?;
        let known = match pattern.kind() {
            PatternKind::All => true,
            PatternKind::Prefix(prefix) => {
                relay_core::Vertical::from(prefix).is_known()
                    || ALL_EVENT_NAMES.iter().any(|n| pattern.matches(n))
                    || extra_namespaces()
                        .iter()
                        .any(|ns| *ns == prefix || prefix.starts_with(&format!("{ns}.")))
            }
            PatternKind::Exact(name) => {
                KnownEvent::from_name(name.as_str()).is_some()
                    || state.config.ingest.unknown_events == UnknownEvents::Relay
                    || extra_namespaces()
                        .iter()
                        .any(|ns| name.as_str().starts_with(&format!("{ns}.")))
            }
            _ => false,
        };
        if !known {
            let hint = relay_core::suggestions(event)
                .into_iter()
                .take(3)
                .map(|k| k.as_str())
                .collect::<Vec<_>>();
            let hint = if hint.is_empty() {
                String::new()
            } else {
                format!(" Did you mean {}?", hint.join(", "))
            };
            return Err(ApiError::bad(
                "invalid_events",
                format!("Unknown event {event:?}.{hint}"),
            ));
        }
    }
    Ok(events.to_vec())
}

/// Event namespaces beyond the product catalog (accepted plugin webhooks, issue 8).
fn extra_namespaces() -> &'static [&'static str] {
    &["fluent_community", "fast_events", "standard_webhooks"]
}

fn check_status(status: &str) -> Result<WebhookStatus, ApiError> {
    match WebhookStatus::from_name(status) {
        Some(s @ (WebhookStatus::Active | WebhookStatus::Inactive)) => Ok(s),
        _ => Err(ApiError::bad(
            "invalid_status",
            "Status must be \"active\" or \"inactive\".",
        )),
    }
}

fn check_website_ids(ids: Option<Vec<String>>) -> Result<Option<Vec<Uuid>>, ApiError> {
    ids.map(|ids| {
        ids.iter()
            .map(|id| {
                Uuid::parse_str(id).map_err(|_| {
                    ApiError::bad("invalid_website_ids", format!("{id:?} is not a UUID."))
                })
            })
            .collect()
    })
    .transpose()
}

fn check_retry_count(n: i64) -> Result<u32, ApiError> {
    u32::try_from(n)
        .ok()
        .filter(|n| i64::from(*n) <= MAX_RETRY_COUNT)
        .ok_or_else(|| {
            ApiError::bad(
                "invalid_retry_count",
                format!("retry_count must be between 0 and {MAX_RETRY_COUNT}."),
            )
        })
}

fn check_headers(headers: BTreeMap<String, String>) -> Result<BTreeMap<String, String>, ApiError> {
    validate_custom_headers(&headers).map_err(|e| ApiError::bad("invalid_headers", e))?;
    Ok(headers)
}

fn check_secret(secret: String) -> Result<String, ApiError> {
    if secret.len() < 8 || secret.len() > 256 {
        return Err(ApiError::bad(
            "invalid_secret",
            "secret must be 8 to 256 characters.",
        ));
    }
    Ok(secret)
}

fn webhook_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found())
}

async fn find(state: &AppState, id: &str) -> Result<Webhook, ApiError> {
    state
        .store
        .webhook(webhook_id(id)?)
        .await?
        .ok_or_else(ApiError::not_found)
}

async fn list(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let result = async {
        admin::authorize(&state, &req)?;
        let hooks: Vec<Value> = state
            .store
            .webhooks()
            .await?
            .iter()
            .map(webhook_json)
            .collect();
        Ok(HttpResponse::Ok().json(json!({ "webhooks": hooks })))
    }
    .await;
    respond(&state, result)
}

async fn create(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    let result = async {
        admin::authorize(&state, &req)?;
        let f = parse_fields(&body)?;
        let new = NewWebhook {
            name: check_name(
                f.name
                    .as_deref()
                    .ok_or_else(|| ApiError::bad("invalid_name", "name is required."))?,
            )?,
            url: check_webhook_url(
                &state,
                f.url
                    .as_deref()
                    .ok_or_else(|| ApiError::bad("invalid_url", "url is required."))?,
            )?,
            events: check_events(
                &state,
                &f.events
                    .ok_or_else(|| ApiError::bad("invalid_events", "events is required."))?,
            )?,
            website_ids: check_website_ids(f.website_ids.flatten())?,
            status: f
                .status
                .as_deref()
                .map_or(Ok(WebhookStatus::Active), check_status)?,
            secret: match f.secret {
                Some(secret) => check_secret(secret)?,
                None => generate_secret(&rand::random::<[u8; 24]>()),
            },
            headers: check_headers(f.headers.unwrap_or_default())?,
            retry_count: f.retry_count.map_or(Ok(3), check_retry_count)?,
        };
        let webhook = state.store.create_webhook(&new, Utc::now()).await?;
        let mut body = webhook_json(&webhook);
        body["message"] = json!("Webhook created successfully.");
        Ok(HttpResponse::Created().json(body))
    }
    .await;
    respond(&state, result)
}

async fn get(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let result = async {
        admin::authorize(&state, &req)?;
        Ok(HttpResponse::Ok().json(webhook_json(&find(&state, &path).await?)))
    }
    .await;
    respond(&state, result)
}

async fn update(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let result = async {
        admin::authorize(&state, &req)?;
        let id = webhook_id(&path)?;
        let f = parse_fields(&body)?;
        let patch = WebhookPatch {
            name: f.name.as_deref().map(check_name).transpose()?,
            url: f
                .url
                .as_deref()
                .map(|u| check_webhook_url(&state, u))
                .transpose()?,
            events: f
                .events
                .as_deref()
                .map(|e| check_events(&state, e))
                .transpose()?,
            website_ids: f.website_ids.map(check_website_ids).transpose()?,
            status: f.status.as_deref().map(check_status).transpose()?,
            secret: f.secret.map(check_secret).transpose()?,
            headers: f.headers.map(check_headers).transpose()?,
            retry_count: f.retry_count.map(check_retry_count).transpose()?,
        };
        let webhook = state
            .store
            .update_webhook(id, &patch, Utc::now())
            .await?
            .ok_or_else(ApiError::not_found)?;
        let mut body = webhook_json(&webhook);
        body["message"] = json!("Webhook updated successfully.");
        Ok(HttpResponse::Ok().json(body))
    }
    .await;
    respond(&state, result)
}

async fn delete(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let result = async {
        admin::authorize(&state, &req)?;
        if state.store.delete_webhook(webhook_id(&path)?).await? {
            Ok(HttpResponse::Ok().json(json!({ "message": "Webhook deleted successfully." })))
        } else {
            Err(ApiError::not_found())
        }
    }
    .await;
    respond(&state, result)
}

/// Sends a signed `webhook.test` event now and reports what happened.
async fn test(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let result = async {
        admin::authorize(&state, &req)?;
        let webhook = find(&state, &path).await?;
        let report = dispatcher::send_test(&state, &webhook).await?;
        let success = report.status_code.is_some_and(|s| (200..300).contains(&s));
        let message = if success {
            "Webhook test successful.".to_owned()
        } else {
            format!(
                "Webhook test failed: {}",
                report.error.as_deref().unwrap_or("no response")
            )
        };
        Ok(HttpResponse::Ok().json(json!({
            "success": success,
            "status_code": report.status_code,
            "response_time": report.duration_ms,
            "message": message,
        })))
    }
    .await;
    respond(&state, result)
}

fn attempt_json(a: &super::model::Attempt) -> Value {
    json!({
        "delivery_id": a.attempt_id,
        "number": a.number,
        "status_code": a.status_code,
        "response_time": a.duration_ms,
        "response": a.response,
        "error": a.error,
        "trigger": a.trigger,
        "created_at": datetime(&a.created_at),
    })
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<usize>,
}

async fn deliveries(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let result = async {
        admin::authorize(&state, &req)?;
        let webhook = find(&state, &path).await?;
        let limit = query.limit.unwrap_or(50).clamp(1, 500);
        let mut out = Vec::new();
        for d in state.store.deliveries(webhook.id, limit).await? {
            let attempts: Vec<Value> = state
                .store
                .delivery_attempts(d.id)
                .await?
                .iter()
                .map(attempt_json)
                .collect();
            out.push(json!({
                "id": d.id,
                "webhook_id": webhook.id,
                "message_id": d.message_id,
                "event": d.event,
                "website_id": d.website_id,
                "state": d.state,
                "attempts": d.attempts,
                "max_attempts": d.max_attempts,
                "next_attempt_at": datetime(&d.next_attempt_at),
                "last_status": d.last_status,
                "last_error": d.last_error,
                "created_at": datetime(&d.created_at),
                "finished_at": d.finished_at.as_ref().map(datetime),
                "attempt_log": attempts,
            }));
        }
        Ok(HttpResponse::Ok().json(json!({ "deliveries": out })))
    }
    .await;
    respond(&state, result)
}

async fn attempts(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let result = async {
        admin::authorize(&state, &req)?;
        let webhook = find(&state, &path).await?;
        let limit = query.limit.unwrap_or(100).clamp(1, 1000);
        let list: Vec<Value> = state
            .store
            .attempts(webhook.id, limit)
            .await?
            .iter()
            .map(attempt_json)
            .collect();
        Ok(HttpResponse::Ok().json(json!({ "attempts": list })))
    }
    .await;
    respond(&state, result)
}

async fn redeliver(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let result = async {
        admin::authorize(&state, &req)?;
        let webhook = find(&state, &path.0).await?;
        let delivery_id: i64 = path.1.parse().map_err(|_| {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "Delivery not found.")
        })?;
        match state
            .store
            .redeliver(webhook.id, delivery_id, Utc::now())
            .await?
        {
            Some(d) => Ok(HttpResponse::Accepted().json(json!({
                "id": d.id,
                "message_id": d.message_id,
                "state": d.state,
                "message": "Delivery queued.",
            }))),
            None => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "Delivery not found, or still pending.",
            )),
        }
    }
    .await;
    respond(&state, result)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecoverBody {
    since: DateTime<Utc>,
}

/// Redelivers what a webhook missed (failed or skipped deliveries) since a time.
async fn recover(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let result = async {
        admin::authorize(&state, &req)?;
        let webhook = find(&state, &path).await?;
        let body: RecoverBody = serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad(
                "invalid_json",
                format!("Expected {{\"since\": \"<RFC 3339 time>\"}}: {e}"),
            )
        })?;
        let queued = state
            .store
            .recover(webhook.id, body.since, Utc::now())
            .await?;
        Ok(HttpResponse::Accepted()
            .json(json!({ "queued": queued, "message": "Deliveries queued." })))
    }
    .await;
    respond(&state, result)
}
