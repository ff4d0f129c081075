//! The admin API under `/admin` (`Authorization: Bearer <RELAY_ADMIN_TOKEN>`): sites now, more
//! resources as they arrive. Errors are JSON `{"error": "..."}`.

use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use chrono::Utc;
use relay_core::Domain;
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::{
    state::AppState,
    store::{Site, StoreError},
};

/// Mounts the admin routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .route("/sites", web::get().to(list_sites))
            .route("/sites", web::post().to(add_site))
            .route("/sites/{domain}", web::get().to(get_site))
            .route("/sites/{domain}", web::delete().to(remove_site))
            .route("/sites/{domain}/backups", web::get().to(site_backups)),
    );
}

/// An admin API failure.
#[derive(Debug)]
pub struct AdminError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The message for `{"error": ...}`.
    pub message: String,
}

impl AdminError {
    /// An error with a status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> AdminError {
        AdminError {
            status,
            message: message.into(),
        }
    }
}

impl From<StoreError> for AdminError {
    fn from(error: StoreError) -> AdminError {
        match error {
            StoreError::Conflict(what) => {
                AdminError::new(StatusCode::CONFLICT, format!("{what} already exists"))
            }
            StoreError::Db(_) => {
                tracing::error!(%error, "admin API store error");
                AdminError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
            }
        }
    }
}

/// The result of an admin handler.
pub type AdminResult = Result<HttpResponse, AdminError>;

/// Counts the status and renders errors.
pub fn respond(state: &AppState, result: AdminResult) -> HttpResponse {
    let response = result
        .unwrap_or_else(|e| HttpResponse::build(e.status).json(json!({ "error": e.message })));
    state
        .metrics
        .count("relay_admin_requests_total", response.status().as_str());
    response
}

/// Checks the bearer token in constant time; 401 when missing, wrong, or no token configured.
pub fn authorize(state: &AppState, req: &HttpRequest) -> Result<(), AdminError> {
    let Some(expected) = state.config.admin_token.as_deref() else {
        return Err(AdminError::new(
            StatusCode::UNAUTHORIZED,
            "The admin API is disabled: set RELAY_ADMIN_TOKEN",
        ));
    };
    let given = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(AdminError::new(
            StatusCode::UNAUTHORIZED,
            "Invalid or missing bearer token",
        ))
    }
}

fn domain(raw: &str) -> Result<Domain, AdminError> {
    Domain::parse(raw)
        .map_err(|e| AdminError::new(StatusCode::BAD_REQUEST, format!("Invalid domain: {e}")))
}

fn site_json(site: &Site) -> serde_json::Value {
    json!({ "domain": site.domain, "website_id": site.website_id })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSite {
    domain: String,
    website_id: Option<String>,
}

async fn add_site(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    let result = async {
        authorize(&state, &req)?;
        let new: NewSite = serde_json::from_slice(&body).map_err(|e| {
            AdminError::new(StatusCode::BAD_REQUEST, format!("Invalid JSON body: {e}"))
        })?;
        let domain = domain(&new.domain)?;
        let website_id = match new.website_id {
            Some(id) => Uuid::parse_str(&id).map_err(|_| {
                AdminError::new(StatusCode::BAD_REQUEST, "website_id must be a UUID")
            })?,
            None => Uuid::new_v4(),
        };
        let site = Site {
            domain: domain.to_string(),
            website_id,
            created_at: Utc::now(),
        };
        state.store.insert_site(&site).await?;
        Ok(HttpResponse::Created().json(site_json(&site)))
    }
    .await;
    respond(&state, result)
}

async fn list_sites(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let result = async {
        authorize(&state, &req)?;
        let sites: Vec<_> = state.store.sites().await?.iter().map(site_json).collect();
        Ok(HttpResponse::Ok().json(json!({ "sites": sites })))
    }
    .await;
    respond(&state, result)
}

async fn get_site(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let result = async {
        authorize(&state, &req)?;
        let domain = domain(&path)?;
        match state.store.site(domain.as_str()).await? {
            Some(site) => Ok(HttpResponse::Ok().json(site_json(&site))),
            None => Err(AdminError::new(
                StatusCode::NOT_FOUND,
                format!("No site {domain}"),
            )),
        }
    }
    .await;
    respond(&state, result)
}

async fn remove_site(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let result = async {
        authorize(&state, &req)?;
        let domain = domain(&path)?;
        if state.store.delete_site(domain.as_str()).await? {
            Ok(HttpResponse::NoContent().finish())
        } else {
            Err(AdminError::new(
                StatusCode::NOT_FOUND,
                format!("No site {domain}"),
            ))
        }
    }
    .await;
    respond(&state, result)
}

async fn site_backups(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let result = async {
        authorize(&state, &req)?;
        let domain = domain(&path)?;
        let Some(site) = state.store.site(domain.as_str()).await? else {
            return Err(AdminError::new(
                StatusCode::NOT_FOUND,
                format!("No site {domain}"),
            ));
        };
        let backups = state.store.backups(site.website_id).await?;
        Ok(HttpResponse::Ok().json(json!({ "backups": backups })))
    }
    .await;
    respond(&state, result)
}
