//! Running the server: bind, serve, and shut down gracefully on SIGTERM/SIGINT.

use std::{sync::Arc, time::Duration};

use actix_web::{web, App, HttpServer};

use crate::{config::Config, state::AppState};

/// Serves until SIGTERM or SIGINT, then closes every socket with 4200 and exits.
pub async fn serve(config: Config) -> std::io::Result<()> {
    let bind = config.bind;
    let workers = if config.workers == 0 {
        std::thread::available_parallelism().map_or(1, usize::from)
    } else {
        config.workers
    };
    let shutdown_timeout = config.shutdown_timeout;
    let prefix = config.path_prefix.clone();
    let state = web::Data::new(AppState::new(config));
    let server_state = state.clone();
    let server = HttpServer::new(move || {
        let prefix = prefix.clone();
        App::new()
            .app_data(server_state.clone())
            .configure(|cfg| crate::configure(cfg, &prefix))
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
