//! `/admin/sources`: webhook sources, behind the admin bearer token. Errors are
//! `{"error": "..."}` (as the rest of `/admin`).
//!
//! | request | answer |
//! | --- | --- |
//! | `GET /admin/sources` | `{"sources": [...]}` by id |
//! | `POST /admin/sources` `{"kind", "domain", "secret"?, "status"?}` | 201 with the source |
//! | `GET /admin/sources/{id}` | the source |
//! | `PUT` or `PATCH /admin/sources/{id}` (any of the four fields) | the source |
//! | `DELETE /admin/sources/{id}` | 204 (its inbox goes too) |
//! | `GET /admin/sources/{id}/inbox?limit=50` | `{"inbox": [...]}`, newest first |
//!
//! A source is `{"id", "kind", "domain", "secret", "status", "created_at", "updated_at",
//! "receive_url": "/hooks/{id}", "receive_url_absolute": "https://host/hooks/{id}"}`; the
//! absolute URL is built from `[sources] public_url`, else from the request's scheme and Host.
//! Without a `secret`, one is generated (`whsec_` + 24 random bytes in base64).

use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use chrono::Utc;
use relay_core::Domain;
use serde::Deserialize;
use serde_json::{json, Value};

use super::model::{InboxItem, NewSource, Source, SourceKind, SourcePatch, SourceStatus};
use crate::{
    admin::{authorize, respond, AdminError, AdminResult},
    state::AppState,
    webhooks::signing::generate_secret,
};

/// Longest secret accepted, bytes.
const MAX_SECRET: usize = 1024;
/// Most inbox rows listed at once.
const MAX_INBOX_LIMIT: usize = 500;

/// Mounts the routes (before `admin::configure`, whose `/admin` scope would take these paths).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin/sources")
            .route("", web::get().to(list))
            .route("", web::post().to(create))
            .route("/{id}", web::get().to(get))
            .route("/{id}", web::put().to(update))
            .route("/{id}", web::patch().to(update))
            .route("/{id}", web::delete().to(delete))
            .route("/{id}/inbox", web::get().to(inbox)),
    );
}

fn bad(message: impl Into<String>) -> AdminError {
    AdminError::new(StatusCode::BAD_REQUEST, message)
}

fn not_found(id: &str) -> AdminError {
    AdminError::new(StatusCode::NOT_FOUND, format!("No source {id}"))
}

/// The base of absolute receive URLs: `public_url`, or the request's scheme and host.
fn base_url(state: &AppState, req: &HttpRequest) -> String {
    match &state.config.sources.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        }
    }
}

fn source_json(source: &Source, base: &str) -> Value {
    let path = format!("/hooks/{}", source.id);
    json!({
        "id": source.id,
        "kind": source.kind,
        "domain": source.domain,
        "secret": source.secret,
        "status": source.status,
        "created_at": source.created_at,
        "updated_at": source.updated_at,
        "receive_url_absolute": format!("{base}{path}"),
        "receive_url": path,
    })
}

fn inbox_json(item: &InboxItem) -> Value {
    json!({
        "id": item.id,
        "dedup_key": item.dedup_key,
        "headers": item.headers,
        "body_bytes": item.body.len(),
        "received_at": item.received_at,
        "state": item.state,
        "reason": item.reason,
        "processed_at": item.processed_at,
    })
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, AdminError> {
    serde_json::from_slice(body).map_err(|e| bad(format!("Invalid JSON body: {e}")))
}

fn kind(name: &str) -> Result<SourceKind, AdminError> {
    SourceKind::from_name(name).ok_or_else(|| {
        bad(format!(
            "Unknown kind {name:?} (expected fluent_community, fast_events or standard_webhooks)"
        ))
    })
}

fn status(name: &str) -> Result<SourceStatus, AdminError> {
    SourceStatus::from_name(name).ok_or_else(|| bad("status must be \"active\" or \"inactive\""))
}

fn secret(secret: String) -> Result<String, AdminError> {
    if secret.is_empty() || secret.len() > MAX_SECRET || secret.trim() != secret {
        return Err(bad(format!(
            "secret must be 1 to {MAX_SECRET} bytes without surrounding whitespace"
        )));
    }
    Ok(secret)
}

/// The normalized domain of a registered site.
async fn site_domain(state: &AppState, raw: &str) -> Result<String, AdminError> {
    let domain = Domain::parse(raw).map_err(|e| bad(format!("Invalid domain: {e}")))?;
    if state.store.site(domain.as_str()).await?.is_none() {
        return Err(bad(format!(
            "No site {domain}: register it with POST /admin/sites first"
        )));
    }
    Ok(domain.to_string())
}

fn source_id(raw: &str) -> Result<i64, AdminError> {
    raw.parse().map_err(|_| not_found(raw))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    kind: String,
    domain: String,
    secret: Option<String>,
    status: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    kind: Option<String>,
    domain: Option<String>,
    secret: Option<String>,
    status: Option<String>,
}

async fn create(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    let result: AdminResult = async {
        authorize(&state, &req)?;
        let new: CreateBody = parse(&body)?;
        let new = NewSource {
            kind: kind(&new.kind)?,
            domain: site_domain(&state, &new.domain).await?,
            secret: match new.secret {
                Some(s) => secret(s)?,
                None => generate_secret(&rand::random()),
            },
            status: new
                .status
                .as_deref()
                .map(status)
                .transpose()?
                .unwrap_or(SourceStatus::Active),
        };
        let source = state.store.create_source(&new, Utc::now()).await?;
        state.sources.forget(source.id);
        Ok(HttpResponse::Created().json(source_json(&source, &base_url(&state, &req))))
    }
    .await;
    respond(&state, result)
}

async fn list(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let result: AdminResult = async {
        authorize(&state, &req)?;
        let base = base_url(&state, &req);
        let sources: Vec<Value> = state
            .store
            .sources()
            .await?
            .iter()
            .map(|s| source_json(s, &base))
            .collect();
        Ok(HttpResponse::Ok().json(json!({ "sources": sources })))
    }
    .await;
    respond(&state, result)
}

async fn get(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let result: AdminResult = async {
        authorize(&state, &req)?;
        let id = source_id(&path)?;
        let source = state
            .store
            .source(id)
            .await?
            .ok_or_else(|| not_found(&path))?;
        Ok(HttpResponse::Ok().json(source_json(&source, &base_url(&state, &req))))
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
    let result: AdminResult = async {
        authorize(&state, &req)?;
        let id = source_id(&path)?;
        let change: UpdateBody = parse(&body)?;
        let patch = SourcePatch {
            kind: change.kind.as_deref().map(kind).transpose()?,
            domain: match change.domain {
                Some(d) => Some(site_domain(&state, &d).await?),
                None => None,
            },
            secret: change.secret.map(secret).transpose()?,
            status: change.status.as_deref().map(status).transpose()?,
        };
        let source = state
            .store
            .update_source(id, &patch, Utc::now())
            .await?
            .ok_or_else(|| not_found(&path))?;
        state.sources.forget(id);
        Ok(HttpResponse::Ok().json(source_json(&source, &base_url(&state, &req))))
    }
    .await;
    respond(&state, result)
}

async fn delete(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let result: AdminResult = async {
        authorize(&state, &req)?;
        let id = source_id(&path)?;
        let deleted = state.store.delete_source(id).await?;
        state.sources.forget(id);
        if deleted {
            Ok(HttpResponse::NoContent().finish())
        } else {
            Err(not_found(&path))
        }
    }
    .await;
    respond(&state, result)
}

#[derive(Deserialize)]
struct InboxQuery {
    limit: Option<usize>,
}

async fn inbox(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<InboxQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let result: AdminResult = async {
        authorize(&state, &req)?;
        let id = source_id(&path)?;
        if state.store.source(id).await?.is_none() {
            return Err(not_found(&path));
        }
        let limit = query.limit.unwrap_or(50).clamp(1, MAX_INBOX_LIMIT);
        let items: Vec<Value> = state
            .store
            .inbox(id, limit)
            .await?
            .iter()
            .map(inbox_json)
            .collect();
        Ok(HttpResponse::Ok().json(json!({ "inbox": items })))
    }
    .await;
    respond(&state, result)
}
