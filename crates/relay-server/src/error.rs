//! HTTP errors: every failure of the HTTP surface is one [`ServerError`], mapped to a status and
//! a JSON body `{"error": "..."}` in one place.

use actix_web::{http::StatusCode, web, HttpResponse, ResponseError};
use futures_util::StreamExt as _;
use pusher_wire::{api::ApiError, auth::api_request::ApiAuthError};

/// An error answered to an HTTP client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// No app with this id (or key); the client should check its configuration. 404.
    #[error("Unknown app {0:?}")]
    AppNotFound(String),
    /// The app is disabled. 403.
    #[error("App is disabled")]
    AppDisabled,
    /// The request signature is missing or wrong. 401.
    #[error(transparent)]
    Auth(#[from] ApiAuthError),
    /// The request is invalid (400) or its data too large (413).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The request body is over the server's limit. 413.
    #[error("Request body is larger than {0} bytes")]
    BodyTooLarge(usize),
    /// The body is not UTF-8. 400.
    #[error("Request body is not valid UTF-8")]
    BodyNotUtf8,
    /// Reading the request body failed. 400.
    #[error("Could not read the request body: {0}")]
    Body(String),
}

impl ResponseError for ServerError {
    fn status_code(&self) -> StatusCode {
        match self {
            ServerError::AppNotFound(_) => StatusCode::NOT_FOUND,
            ServerError::AppDisabled => StatusCode::FORBIDDEN,
            ServerError::Auth(_) => StatusCode::UNAUTHORIZED,
            ServerError::Api(e) => {
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST)
            }
            ServerError::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ServerError::BodyNotUtf8 | ServerError::Body(_) => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code())
            .json(serde_json::json!({ "error": self.to_string() }))
    }
}

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// The body is over the limit (413).
    #[error("Request body is larger than {0} bytes")]
    TooLarge(usize),
    /// The connection failed while reading (400).
    #[error("Could not read the request body: {0}")]
    Read(String),
}

/// Reads a request body, refusing it as soon as it passes `limit` bytes (never buffered past
/// the limit).
pub async fn read_body(mut payload: web::Payload, limit: usize) -> Result<web::Bytes, BodyError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| BodyError::Read(e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

impl From<BodyError> for ServerError {
    fn from(error: BodyError) -> ServerError {
        match error {
            BodyError::TooLarge(limit) => ServerError::BodyTooLarge(limit),
            BodyError::Read(reason) => ServerError::Body(reason),
        }
    }
}
