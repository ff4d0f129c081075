//! Running the server: bind, serve, and shut down gracefully on SIGTERM/SIGINT.

use std::{sync::Arc, time::Duration};

use actix_web::{web, App, HttpServer};

use chrono::Utc;

use crate::{
    config::Config,
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
    let server_state = state.clone();
    let server = HttpServer::new(move || {
        let prefix = prefix.clone();
        App::new()
            .app_data(server_state.clone())
            .configure(|cfg| crate::configure(cfg, &prefix))
    })
    .on_connect(|conn, _| {
        // Frames are pushed as soon as they are queued: no Nagle delay behind a previous write.
        if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
            let _ = tcp.set_nodelay(true);
        }
    })
    .workers(workers)
    .disable_signals()
    .shutdown_timeout(shutdown_timeout)
    .bind(bind)?;
    for addr in server.addrs() {
        tracing::info!(%addr, "relay listening");
    }
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
