//! Running the server: bind, serve, and shut down gracefully on SIGTERM/SIGINT.

use std::{sync::Arc, time::Duration};

use actix_http::{HttpService, Protocol};
use actix_service::{fn_service, map_config, IntoServiceFactory, ServiceFactoryExt};
use actix_web::{
    dev::{AppConfig, Extensions},
    rt::net::TcpStream,
    web, App,
};

use chrono::Utc;

use crate::{
    config::Config,
    net::{Flusher, Socket},
    state::AppState,
    store::{Site, Store, StoreError},
};

/// Opens the configured store: PostgreSQL (migrated) with `database_url`, memory otherwise.
pub async fn open_store(config: &Config) -> Result<Store, StoreError> {
    match &config.database_url {
        Some(url) => Store::connect(url).await,
        None => Ok(Store::memory()),
    }
}

/// Registers the `[[sites]]` of the config file that the store does not have yet. A domain
/// stored with another website id is an error: the operator must decide which one is right.
pub async fn register_config_sites(config: &Config, store: &Store) -> Result<(), String> {
    for entry in &config.sites {
        let domain = relay_core::Domain::parse(&entry.domain).map_err(|e| e.to_string())?;
        match store
            .site(domain.as_str())
            .await
            .map_err(|e| e.to_string())?
        {
            Some(site) if site.website_id == entry.website_id => {}
            Some(site) => {
                return Err(format!(
                    "site {domain} is stored with website_id {} but the config file says {}",
                    site.website_id, entry.website_id
                ))
            }
            None => {
                let site = Site {
                    domain: domain.to_string(),
                    website_id: entry.website_id,
                    created_at: Utc::now(),
                };
                store.insert_site(&site).await.map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(())
}

/// Serves until SIGTERM or SIGINT, then closes every socket with 4200 and exits.
pub async fn serve(config: Config) -> std::io::Result<()> {
    let store = open_store(&config)
        .await
        .map_err(|e| std::io::Error::other(format!("cannot open the database: {e}")))?;
    register_config_sites(&config, &store)
        .await
        .map_err(std::io::Error::other)?;
    if store.is_durable() {
        tracing::info!("store: PostgreSQL");
    } else {
        tracing::info!("store: in memory (set DATABASE_URL to persist sites and backups)");
    }
    if config.cluster.redis_url.is_some() && !store.is_durable() {
        tracing::warn!("REDIS_URL without DATABASE_URL: channel state is shared, but sites, webhooks and sources are per node; give every node the same DATABASE_URL");
    }
    if config.ingest.tokens.is_empty() {
        tracing::warn!("ingestion is closed: set RELAY_INGEST_TOKEN to accept /api/events/create and backup webhooks");
    }
    if config.admin_token.is_none() {
        tracing::info!("the admin API is disabled: set RELAY_ADMIN_TOKEN to enable /admin");
    }
    let bind = config.bind;
    let workers = if config.workers == 0 {
        std::thread::available_parallelism().map_or(1, usize::from)
    } else {
        config.workers
    };
    let shutdown_timeout = config.shutdown_timeout;
    let prefix = config.path_prefix.clone();
    let state = AppState::new(config, store).map_err(std::io::Error::other)?;
    let state = web::Data::new(state);
    state.clone().into_inner().spawn_background();
    // Frames sent from this thread (background tasks, the cluster relay) are batched too.
    Flusher::install();
    let listener = listen(bind)?;
    let local = listener.local_addr()?;
    let builder = actix_web::dev::Server::build();
    let graceful = builder.graceful_shutdown_signal();
    let server_state = state.clone();
    let server = builder
        .workers(workers)
        .disable_signals()
        .shutdown_timeout(shutdown_timeout)
        .listen("relay", listener, move || {
            let prefix = prefix.clone();
            let app = App::new()
                .app_data(server_state.clone())
                .configure(|cfg| crate::configure(cfg, &prefix))
                .into_factory()
                .map_err(|err| err.error_response());
            let graceful = graceful.clone();
            let http = HttpService::build()
                // Idle keep-alive connections close at once on a graceful stop.
                .graceful_shutdown_signal(move || {
                    let graceful = graceful.clone();
                    async move { graceful.notified().await }
                })
                .client_request_timeout(Duration::from_secs(5))
                .client_disconnect_timeout(Duration::from_secs(1))
                .h1_allow_half_closed(true)
                .local_addr(local)
                // A WebSocket upgrade finds the socket's link in the connection data.
                .on_connect_ext(|socket: &Socket, data: &mut Extensions| {
                    data.insert(socket.link());
                })
                .finish(map_config(app, |_| AppConfig::default()));
            fn_service(|tcp: TcpStream| async move {
                // This worker thread writes queued frames in batches (net.rs).
                Flusher::install();
                // Frames go out as soon as they are written: no Nagle delay behind a previous
                // write (writes are already whole frames, or batches of them).
                let _ = tcp.set_nodelay(true);
                let peer = tcp.peer_addr().ok();
                Ok((Socket::new(tcp), Protocol::Http1, peer))
            })
            .and_then(http)
        })?;
    tracing::info!(addr = %local, "relay listening");
    let server = server.run();
    let handle = server.handle();
    let state: Arc<AppState> = state.into_inner();
    actix_web::rt::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: closing every connection with 4200");
        state.begin_shutdown();
        // Give sessions a moment to send their close frames.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(shutdown_timeout.max(1));
        while state
            .metrics
            .connections
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        handle.stop(true).await;
    });
    server.await
}

/// Binds the listening socket as actix-web does: address reuse, a backlog of 1,024.
fn listen(addr: std::net::SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
