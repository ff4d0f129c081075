//! The shared state of the server: a few handles, nothing else.

use std::sync::Arc;

use tokio::sync::watch;

use crate::{
    apps::{App, Apps},
    backup_sync::BackupWriter,
    config::Config,
    metrics::Metrics,
    store::Store,
};

/// What every handler can reach.
#[derive(Debug)]
pub struct AppState {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// The applications and their channel registries.
    pub apps: Apps,
    /// Process metrics.
    pub metrics: Arc<Metrics>,
    /// Sites and backups.
    pub store: Store,
    /// Backup record writes with background retry.
    pub backups: Arc<BackupWriter>,
    /// The outgoing HTTP client (plugin API).
    pub http: reqwest::Client,
    shutdown: watch::Sender<bool>,
}

impl AppState {
    /// Builds the state of a configuration over a store. Call [`AppState::spawn_background`]
    /// inside a runtime to start the background tasks.
    pub fn new(config: Config, store: Store) -> AppState {
        let metrics = Arc::new(Metrics::default());
        let apps = Apps::new(&config, &metrics);
        let backups = Arc::new(BackupWriter::new(store.clone(), metrics.clone()));
        AppState {
            config: Arc::new(config),
            apps,
            metrics,
            store,
            backups,
            http: reqwest::Client::builder()
                .user_agent(concat!("Relay/", env!("CARGO_PKG_VERSION")))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            shutdown: watch::channel(false).0,
        }
    }

    /// Starts the background tasks (backup write retries).
    pub fn spawn_background(&self) {
        tokio::spawn(self.backups.clone().run());
    }

    /// The app that receives ingested events.
    pub fn ingest_app(&self) -> Option<&Arc<App>> {
        self.config
            .ingest_app_id()
            .and_then(|id| self.apps.by_id(id))
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
