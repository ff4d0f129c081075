//! `GET /app/{key}`: the WebSocket endpoint. Connect-time checks (spec §1.2), then one session
//! loop per connection that carries bytes and timers and lets the pure
//! [`pusher_wire::Connection`] decide everything else.

use std::{
    sync::{atomic::Ordering, Arc},
    time::{Duration, Instant},
};

use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, AggregatedMessageStream};
use pusher_wire::{
    auth::api_request::QueryParams, webhook::WebhookEvent, Action, ChannelName, Connection,
    ErrorCode, EventData, ProtocolError, ServerMessage, SocketId, TimeoutAction, Timers,
};
use serde_json::json;

use crate::{
    apps::App,
    hub::{JoinOutcome, KillSwitch, Outbox, Publication, WsFrame},
    net::Link,
    state::AppState,
};

/// Handles the upgrade of `/app/{key}`. Frames are written to the connection's socket directly
/// ([`Outbox`]); the response body ([`crate::hub::Outbound`]) flushes what the socket could
/// not take at once and ends the connection after its close frame.
pub async fn connect(
    req: HttpRequest,
    body: web::Payload,
    key: web::Path<String>,
    state: web::Data<AppState>,
) -> actix_web::Result<HttpResponse> {
    // Every connection the server accepts carries its link (server.rs).
    let Some(link) = req.conn_data::<Arc<Link>>().cloned() else {
        return Err(actix_web::error::ErrorInternalServerError(
            "connection without a socket link",
        ));
    };
    // actix-ws does the handshake and decodes inbound frames; its own outbound session is not
    // used (frames go straight to the socket).
    let (response, _session, stream) = actix_ws::handle(&req, body)?;
    let stream = stream
        .max_frame_size(state.config.max_frame_bytes.saturating_mul(4).max(1 << 20))
        .aggregate_continuations()
        .max_continuation_size(state.config.max_frame_bytes.saturating_mul(4).max(1 << 20));
    let (outbox, outbound, kill) = Outbox::new(link, state.config.max_outbound_queue);
    match admit(&req, &key, &state) {
        Ok(app) => {
            let state = state.into_inner();
            actix_web::rt::spawn(async move {
                run(state, app, stream, outbox, kill).await;
            });
        }
        Err(code) => {
            state.metrics.error(Some(code.code()));
            reject(&outbox, code, &key);
        }
    }
    Ok(response
        .set_body(actix_web::body::BodyStream::new(outbound))
        .map_into_boxed_body())
}

/// The connect-time checks, in the order of spec §1.2. Takes a connection slot on success.
fn admit(req: &HttpRequest, key: &str, state: &AppState) -> Result<Arc<App>, ErrorCode> {
    let params = QueryParams::parse(req.query_string()).unwrap_or_default();
    match params.get("protocol") {
        None if state.config.require_protocol_param => return Err(ErrorCode::NoProtocol),
        None => {}
        Some(p) => match p.parse::<u8>() {
            Ok(4..=7) => {}
            _ => return Err(ErrorCode::UnsupportedProtocol),
        },
    }
    let app = state.apps.by_key(key).ok_or(ErrorCode::AppNotFound)?;
    if !app.config.enabled {
        return Err(ErrorCode::AppDisabled);
    }
    if state.is_shutting_down() {
        return Err(ErrorCode::ReconnectImmediately);
    }
    if !app.try_connect() {
        return Err(ErrorCode::OverConnectionQuota);
    }
    Ok(app.clone())
}

/// Sends `pusher:error` with a 4000–4299 code, then closes with the same code (spec §1.2).
fn reject(outbox: &Outbox, code: ErrorCode, key: &str) {
    let message = match code {
        ErrorCode::AppNotFound => format!("App key {key} does not exist."),
        other => other.description().to_owned(),
    };
    let frame = ServerMessage::Error {
        code: Some(code),
        message: &message,
        channel: None,
    }
    .encode();
    // A fresh queue has room for both.
    outbox.send(&WsFrame::text(&frame));
    outbox.close(code.code());
}

fn socket_id() -> SocketId {
    SocketId::from_parts(
        u64::from(rand::random::<u32>()),
        u64::from(rand::random::<u32>()),
    )
}

/// Why a session ended.
enum End {
    /// Close with a Pusher code (after a `pusher:error` with it).
    Code(ErrorCode),
    /// The client closed or the transport failed; nothing more to send.
    Gone,
}

/// The session loop of one admitted connection.
async fn run(
    state: Arc<AppState>,
    app: Arc<App>,
    mut stream: AggregatedMessageStream,
    outbox: Outbox,
    kill: Arc<KillSwitch>,
) {
    let metrics = &state.metrics;
    metrics.connections.fetch_add(1, Ordering::Relaxed);
    metrics.connections_total.fetch_add(1, Ordering::Relaxed);
    let timers = Timers {
        activity_timeout: Duration::from_secs(state.config.activity_timeout),
        ping_grace: Duration::from_secs(state.config.ping_grace),
        pong_timeout: Duration::from_secs(state.config.pong_timeout),
        user_authentication_timeout: (app.config.user_authentication_timeout > 0)
            .then(|| Duration::from_secs(app.config.user_authentication_timeout)),
    };
    let mut conn = Connection::new(socket_id(), timers, Instant::now());
    let replies = Replies {
        outbox: &outbox,
        kill: &kill,
    };
    let mut shutdown = state.shutdown_signal();

    let socket_text = conn.socket_id().to_string();
    app.feed
        .emit(|| json!({"type": "connection_open", "socket_id": socket_text}));
    let end = 'session: {
        if let Err(end) = replies.text(&conn.established_frame()) {
            break 'session end;
        }
        loop {
            let deadline = tokio::time::Instant::from_std(conn.poll_timeout());
            tokio::select! {
                biased;
                code = kill.killed() => break 'session End::Code(code),
                _ = shutdown.changed() => break 'session End::Code(ErrorCode::ReconnectImmediately),
                message = stream.recv() => {
                    let now = Instant::now();
                    match message {
                        Some(Ok(AggregatedMessage::Text(text))) => {
                            metrics.messages_in.fetch_add(1, Ordering::Relaxed);
                            let result = conn.handle_frame(now, &text, &app.policy());
                            if let Err(end) = act(&state, &app, &mut conn, &replies, result, now).await {
                                break 'session end;
                            }
                        }
                        Some(Ok(AggregatedMessage::Ping(bytes))) => {
                            conn.handle_activity(now);
                            if let Err(end) = replies.send(&WsFrame::pong(&bytes)) {
                                break 'session end;
                            }
                        }
                        Some(Ok(AggregatedMessage::Pong(_) | AggregatedMessage::Binary(_))) => {
                            // Binary frames are not part of the protocol: ignored (spec §2.1).
                            conn.handle_activity(now);
                        }
                        Some(Ok(AggregatedMessage::Close(_))) | None => break 'session End::Gone,
                        Some(Err(error)) => {
                            tracing::debug!(%error, "websocket protocol error");
                            break 'session End::Gone;
                        }
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    match conn.handle_timeout(Instant::now()) {
                        TimeoutAction::None => {}
                        TimeoutAction::Ping => {
                            if let Err(end) = replies.text(&ServerMessage::Ping.encode()) {
                                break 'session end;
                            }
                        }
                        TimeoutAction::Close(code) => break 'session End::Code(code),
                    }
                }
            }
        }
    };

    // Say goodbye first (the client reconnects elsewhere at once), then clean up.
    let code = match &end {
        End::Code(code) => Some(code.code()),
        End::Gone => None,
    };
    match end {
        End::Code(code) => {
            if code == ErrorCode::OverCapacity {
                metrics.slow_consumers.fetch_add(1, Ordering::Relaxed);
            }
            metrics.error(Some(code.code()));
            // The body writes `pusher:error` and the close frame, dropping what is queued.
            outbox.kill(code);
        }
        End::Gone => outbox.close(1000),
    }

    // Leave every channel and the user registry before the socket goes away.
    let socket = conn.socket_id();
    for (channel, user_id) in conn.subscriptions() {
        leave(&app, socket, channel, user_id).await;
    }
    app.signout(socket).await;
    app.disconnect();
    app.feed
        .emit(|| json!({"type": "connection_close", "socket_id": socket_text, "code": code}));
    metrics.connections.fetch_sub(1, Ordering::Relaxed);
}

/// The connection's own replies take the same path as broadcasts (one ordered stream of
/// frames); nothing is sent once a close was requested.
struct Replies<'a> {
    outbox: &'a Outbox,
    kill: &'a KillSwitch,
}

impl Replies<'_> {
    fn send(&self, frame: &WsFrame) -> Result<(), End> {
        if let Some(code) = self.kill.code() {
            return Err(End::Code(code));
        }
        if self.outbox.send(frame) {
            return Ok(());
        }
        // A full queue has just requested 4100; otherwise the socket is gone.
        Err(self.kill.code().map_or(End::Gone, End::Code))
    }

    fn text(&self, frame: &str) -> Result<(), End> {
        self.send(&WsFrame::text(frame))
    }
}

/// Carries out what the protocol state machine decided for one frame.
async fn act(
    state: &AppState,
    app: &App,
    conn: &mut Connection,
    replies: &Replies<'_>,
    result: Result<Action, ProtocolError>,
    now: Instant,
) -> Result<(), End> {
    match result {
        Ok(Action::None) => Ok(()),
        Ok(Action::Reply(frame)) => replies.text(&frame),
        Ok(Action::Subscribe { channel, member }) => {
            match app
                .join(conn.socket_id(), replies.outbox, &channel, member, now)
                .await
            {
                Ok(outcome) => {
                    app.feed.emit(|| {
                        json!({"type": "subscribed", "channel": channel.as_str(),
                               "socket_id": conn.socket_id().to_string(), "user_id": conn.presence_user(channel.as_str())})
                    });
                    joined(app, &channel, outcome);
                    Ok(())
                }
                Err(error) => {
                    conn.remove_subscription(channel.as_str());
                    let error = ProtocolError::Presence { channel, error };
                    report(state, replies, &error)
                }
            }
        }
        Ok(Action::Unsubscribe { channel, user_id }) => {
            leave(app, conn.socket_id(), &channel, user_id.as_deref()).await;
            Ok(())
        }
        Ok(Action::ClientEvent {
            channel,
            event,
            data,
            user_id,
        }) => {
            let publication = Publication {
                event: event.as_str(),
                data: EventData::Raw(&data),
                user_id: user_id.as_deref(),
                except: Some(conn.socket_id()),
                cache: false,
            };
            app.publish(&channel, &publication, now);
            app.feed.emit(|| {
                json!({"type": "client_event", "channel": channel.as_str(), "event": event.as_str(),
                       "socket_id": conn.socket_id().to_string(), "user_id": user_id.as_deref(),
                       "data": crate::console::excerpt(data.get())})
            });
            app.webhook(|| WebhookEvent::ClientEvent {
                channel: channel.to_string(),
                event: event.as_str().to_owned(),
                data: serde_json::from_str::<String>(data.get())
                    .unwrap_or_else(|_| data.get().to_owned()),
                socket_id: conn.socket_id().to_string(),
                user_id: user_id.as_deref().map(str::to_owned),
            });
            Ok(())
        }
        Ok(Action::Signin { user, user_data }) => {
            replies.text(
                &ServerMessage::SigninSuccess {
                    user_data: &user_data,
                }
                .encode(),
            )?;
            app.signin(conn.socket_id(), replies.outbox, &user).await;
            if user.watchlist_truncated {
                let code = ErrorCode::WatchlistLimitExceeded;
                state.metrics.error(Some(code.code()));
                replies.text(
                    &ServerMessage::Error {
                        code: Some(code),
                        message: code.description(),
                        channel: None,
                    }
                    .encode(),
                )?;
            }
            Ok(())
        }
        Err(error) => report(state, replies, &error),
    }
}

/// Emits the Pusher webhook events of a join.
fn joined(app: &App, channel: &ChannelName, outcome: JoinOutcome) {
    if outcome.occupied {
        app.webhook(|| WebhookEvent::ChannelOccupied {
            channel: channel.to_string(),
        });
    }
    if let Some(user_id) = &outcome.member_added {
        app.feed.emit(
            || json!({"type": "member_added", "channel": channel.as_str(), "user_id": &**user_id}),
        );
    }
    if let Some(user_id) = outcome.member_added {
        app.webhook(|| WebhookEvent::MemberAdded {
            channel: channel.to_string(),
            user_id: user_id.into(),
        });
    }
    if outcome.cache_miss {
        app.webhook(|| WebhookEvent::CacheMiss {
            channel: channel.to_string(),
        });
    }
    subscription_count(app, channel);
}

/// Leaves a channel and emits the Pusher webhook events of it.
async fn leave(app: &App, socket: SocketId, channel: &ChannelName, user_id: Option<&str>) {
    let outcome = app.leave(socket, channel, user_id).await;
    app.feed.emit(|| {
        json!({"type": "unsubscribed", "channel": channel.as_str(), "socket_id": socket.to_string()})
    });
    if let Some(user_id) = &outcome.member_removed {
        app.feed.emit(|| json!({"type": "member_removed", "channel": channel.as_str(), "user_id": &**user_id}));
    }
    if let Some(user_id) = outcome.member_removed {
        app.webhook(|| WebhookEvent::MemberRemoved {
            channel: channel.to_string(),
            user_id: user_id.into(),
        });
    }
    if outcome.vacated {
        app.webhook(|| WebhookEvent::ChannelVacated {
            channel: channel.to_string(),
        });
    }
    subscription_count(app, channel);
}

fn subscription_count(app: &App, channel: &ChannelName) {
    if !channel.kind().is_presence() {
        app.webhook(|| WebhookEvent::SubscriptionCount {
            channel: channel.to_string(),
            subscription_count: app.hub.counts(channel.as_str()).subscriptions,
        });
    }
}

/// Sends a protocol error to the client; the connection stays open.
fn report(state: &AppState, replies: &Replies<'_>, error: &ProtocolError) -> Result<(), End> {
    state.metrics.error(error.code().map(ErrorCode::code));
    replies.text(&error.to_frame())?;
    if state.config.subscription_error_events && error.is_subscription_error() {
        if let Some(channel) = error.channel() {
            let frame = ServerMessage::SubscriptionError {
                channel,
                error: &error.to_string(),
                status: 401,
            }
            .encode();
            replies.text(&frame)?;
        }
    }
    Ok(())
}
