//! The Pusher HTTP API under `/apps/{app_id}` (spec §7), plus the path the Python SDK uses for
//! terminating connections. Every request is signed; verification is `pusher_wire`'s.

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use actix_web::{web, HttpRequest, HttpResponse};
use pusher_wire::{
    api::{self, ChannelInfo, Info, Trigger},
    auth::api_request::{self, QueryParams},
};

use crate::{
    apps::App,
    error::{read_body, ServerError},
    hub::Publication,
    state::AppState,
};

/// Mounts the HTTP API routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/apps/{app_id}")
            .route("/events", web::post().to(events))
            .route("/batch_events", web::post().to(batch_events))
            .route("/channels", web::get().to(channels))
            .route("/channels/{channel}", web::get().to(channel))
            .route("/channels/{channel}/users", web::get().to(users))
            .route(
                "/users/{user_id}/terminate_connections",
                web::post().to(terminate),
            ),
    )
    // pusher-http-python 3.x posts here, without /apps/{id} (spec §7.2).
    .route(
        "/users/{user_id}/terminate_connections",
        web::post().to(terminate_by_key),
    );
}

type ApiResult = Result<HttpResponse, ServerError>;

/// Counts the response status and turns errors into JSON responses.
fn respond(state: &AppState, result: ApiResult) -> HttpResponse {
    let response = result.unwrap_or_else(|e| actix_web::ResponseError::error_response(&e));
    state.metrics.api_request(response.status().as_u16());
    response
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Verifies the request signature for `app`, with the path as sent and, failing that, the
/// percent-decoded path (spec §7.2).
fn verify(state: &AppState, req: &HttpRequest, app: &App, body: &[u8]) -> Result<(), ServerError> {
    let params = QueryParams::parse(req.query_string())?;
    let check = |path: &str| {
        let request = api_request::SignedRequest {
            method: req.method().as_str(),
            path,
            params: &params,
            body,
        };
        api_request::verify(
            &request,
            &app.config.key,
            &app.config.secret,
            unix_now(),
            state.config.api_timestamp_window,
        )
    };
    match check(req.path()) {
        Err(api_request::ApiAuthError::BadSignature { .. }) => match percent_decoded(req.path()) {
            Some(path) if path != req.path() => check(&path).map_err(Into::into),
            _ => check(req.path()).map_err(Into::into),
        },
        other => other.map_err(Into::into),
    }
}

fn percent_decoded(path: &str) -> Option<String> {
    QueryParams::parse(&format!("p={}", path.replace('+', "%2B")))
        .ok()
        .and_then(|p| p.get("p").map(str::to_owned))
}

/// Looks up the app of the path and checks the signature.
async fn authenticate(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<(Arc<App>, web::Bytes), ServerError> {
    let app_id = req.match_info().get("app_id").unwrap_or_default();
    let app = state
        .apps
        .by_id(app_id)
        .ok_or_else(|| ServerError::AppNotFound(app_id.to_owned()))?
        .clone();
    let body = read_body(payload, state.config.max_request_bytes).await?;
    verify(state, req, &app, &body)?;
    if !app.config.enabled {
        return Err(ServerError::AppDisabled);
    }
    Ok((app, body))
}

async fn info_of(app: &App, channel: &str, info: &Info) -> ChannelInfo {
    let counts = app.counts(channel).await;
    ChannelInfo {
        occupied: None,
        user_count: info.user_count.then(|| counts.users.unwrap_or(0)),
        subscription_count: info.subscription_count.then_some(counts.subscriptions),
        cache: None,
    }
}

/// Publishes one validated event on each of its channels.
fn publish(app: &App, trigger: &Trigger<'_>, now: Instant) {
    let publication = Publication {
        event: trigger.name.as_str(),
        data: trigger.data.event_data(),
        user_id: None,
        except: trigger.socket_id,
        cache: true,
    };
    for channel in &trigger.channels {
        app.publish(channel, &publication, now);
        app.feed.emit(|| {
            serde_json::json!({"type": "api_event", "channel": channel.as_str(),
                               "event": trigger.name.as_str(),
                               "data": crate::console::excerpt(&trigger.data.text())})
        });
    }
}

async fn events(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let result = async {
        let (app, body) = authenticate(&state, &req, payload).await?;
        let body = std::str::from_utf8(&body).map_err(|_| ServerError::BodyNotUtf8)?;
        let trigger = Trigger::parse(body, &app.api_limits())?;
        publish(&app, &trigger, Instant::now());
        if !trigger.info.any() {
            return Ok(HttpResponse::Ok().json(serde_json::json!({})));
        }
        let mut channels = BTreeMap::new();
        for channel in &trigger.channels {
            channels.insert(
                channel.to_string(),
                info_of(&app, channel.as_str(), &trigger.info).await,
            );
        }
        Ok(HttpResponse::Ok().json(api::TriggerResponse {
            channels: Some(channels),
        }))
    }
    .await;
    respond(&state, result)
}

async fn batch_events(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let result = async {
        let (app, body) = authenticate(&state, &req, payload).await?;
        let body = std::str::from_utf8(&body).map_err(|_| ServerError::BodyNotUtf8)?;
        let batch = Trigger::parse_batch(body, &app.api_limits())?;
        let now = Instant::now();
        for trigger in &batch {
            publish(&app, trigger, now);
        }
        if !batch.iter().any(|t| t.info.any()) {
            return Ok(HttpResponse::Ok().json(serde_json::json!({})));
        }
        let mut items = Vec::with_capacity(batch.len());
        for t in &batch {
            items.push(info_of(&app, t.channels[0].as_str(), &t.info).await);
        }
        Ok(HttpResponse::Ok().json(api::BatchResponse { batch: Some(items) }))
    }
    .await;
    respond(&state, result)
}

async fn channels(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let result = async {
        let (app, _) = authenticate(&state, &req, payload).await?;
        let params = QueryParams::parse(req.query_string())?;
        let prefix = params.get("filter_by_prefix");
        let info = Info::parse(params.get("info"));
        api::check_channels_query(prefix, &info)?;
        let channels = app
            .channels(prefix.unwrap_or(""))
            .await
            .into_iter()
            .map(|(name, counts)| {
                (
                    name.to_string(),
                    ChannelInfo {
                        occupied: None,
                        user_count: info.user_count.then(|| counts.users.unwrap_or(0)),
                        subscription_count: info.subscription_count.then_some(counts.subscriptions),
                        cache: None,
                    },
                )
            })
            .collect();
        Ok(HttpResponse::Ok().json(api::ChannelsResponse { channels }))
    }
    .await;
    respond(&state, result)
}

async fn channel(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let result = async {
        let (app, _) = authenticate(&state, &req, payload).await?;
        let name = req.match_info().get("channel").unwrap_or_default();
        let channel = api::parse_channel(name, &app.api_limits())?;
        let params = QueryParams::parse(req.query_string())?;
        let info = Info::parse(params.get("info"));
        api::check_channel_query(&channel, &info)?;
        let counts = app.counts(channel.as_str()).await;
        let now = Instant::now();
        let cache = (info.cache && channel.kind().is_cache())
            .then(|| app.hub.cached(channel.as_str(), now))
            .flatten()
            .map(|c| api::CachedEvent {
                event: c.event.to_string(),
                ttl: c.ttl(now),
                data: c.data,
            });
        Ok(HttpResponse::Ok().json(ChannelInfo {
            occupied: Some(counts.subscriptions > 0),
            user_count: info.user_count.then(|| counts.users.unwrap_or(0)),
            subscription_count: info.subscription_count.then_some(counts.subscriptions),
            cache,
        }))
    }
    .await;
    respond(&state, result)
}

async fn users(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let result = async {
        let (app, _) = authenticate(&state, &req, payload).await?;
        let name = req.match_info().get("channel").unwrap_or_default();
        let channel = api::parse_channel(name, &app.api_limits())?;
        api::check_users_query(&channel)?;
        let users = app
            .users(channel.as_str())
            .await
            .into_iter()
            .map(|id| api::User { id })
            .collect();
        Ok(HttpResponse::Ok().json(api::UsersResponse { users }))
    }
    .await;
    respond(&state, result)
}

async fn terminate(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let result = async {
        let (app, _) = authenticate(&state, &req, payload).await?;
        let user_id = req.match_info().get("user_id").unwrap_or_default();
        app.terminate_user(user_id);
        Ok(HttpResponse::Ok().json(serde_json::json!({})))
    }
    .await;
    respond(&state, result)
}

/// `POST /users/{user_id}/terminate_connections`: the app is the one of `auth_key`.
async fn terminate_by_key(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let result = async {
        let params = QueryParams::parse(req.query_string())?;
        let key = params.auth_key()?;
        let app = state
            .apps
            .by_key(key)
            .ok_or_else(|| ServerError::AppNotFound(key.to_owned()))?
            .clone();
        let body = read_body(payload, state.config.max_request_bytes).await?;
        verify(&state, &req, &app, &body)?;
        if !app.config.enabled {
            return Err(ServerError::AppDisabled);
        }
        let user_id = req.match_info().get("user_id").unwrap_or_default();
        app.terminate_user(user_id);
        Ok(HttpResponse::Ok().json(serde_json::json!({})))
    }
    .await;
    respond(&state, result)
}
