//! The shared state of the server: a few handles, nothing else.

use std::sync::Arc;

use tokio::sync::watch;

use crate::{apps::Apps, config::Config, metrics::Metrics};

/// What every handler can reach.
#[derive(Debug)]
pub struct AppState {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// The applications and their channel registries.
    pub apps: Apps,
    /// Process metrics.
    pub metrics: Arc<Metrics>,
    shutdown: watch::Sender<bool>,
}

impl AppState {
    /// Builds the state of a configuration.
    pub fn new(config: Config) -> AppState {
        let metrics = Arc::new(Metrics::default());
        let apps = Apps::new(&config, &metrics);
        AppState {
            config: Arc::new(config),
            apps,
            metrics,
            shutdown: watch::channel(false).0,
        }
    }

    /// A receiver that changes when graceful shutdown starts.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Starts graceful shutdown: every session closes with 4200.
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Whether graceful shutdown has started.
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }
}
