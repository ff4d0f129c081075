//! The shared state of the server: a few handles, nothing else.

use std::sync::Arc;

use tokio::sync::watch;

use crate::{
    apps::{App, Apps},
    backup_sync::BackupWriter,
    cluster::Cluster,
    config::Config,
    metrics::Metrics,
    store::Store,
    webhooks::dispatcher::Dispatcher,
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
    /// Webhook sources: the processor's wake-up signal and the source cache.
    pub sources: crate::sources::Runtime,
    /// The outgoing HTTP client (plugin API).
    pub http: reqwest::Client,
    /// Outgoing webhook delivery.
    pub dispatcher: Dispatcher,
    /// The cluster, with `REDIS_URL`.
    pub cluster: Option<Arc<Cluster>>,
    shutdown: watch::Sender<bool>,
}

impl AppState {
    /// Builds the state of a configuration over a store. Call [`AppState::spawn_background`]
    /// inside a runtime to start the background tasks.
    pub fn new(config: Config, store: Store) -> Result<AppState, String> {
        let metrics = Arc::new(Metrics::default());
        let cluster = match config.cluster.redis_url {
            Some(_) => Some(Cluster::new(&config.cluster, metrics.clone())?),
            None => None,
        };
        let apps = Apps::new(&config, &metrics, cluster.clone());
        let backups = Arc::new(BackupWriter::new(store.clone(), metrics.clone()));
        let dispatcher = Dispatcher::new(&config.webhooks)?;
        Ok(AppState {
            config: Arc::new(config),
            apps,
            metrics,
            store,
            backups,
            sources: crate::sources::Runtime::default(),
            http: reqwest::Client::builder()
                .user_agent(concat!("Relay/", env!("CARGO_PKG_VERSION")))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            dispatcher,
            cluster,
            shutdown: watch::channel(false).0,
        })
    }

    /// Starts the background tasks: backup write retries, the webhook worker, and one Pusher
    /// webhook batcher per app with webhooks.
    pub fn spawn_background(self: &Arc<Self>) {
        tokio::spawn(self.backups.clone().run());
        crate::sources::processor::spawn(self.clone());
        crate::webhooks::dispatcher::spawn(self.clone());
        if self.apps.iter().any(|a| a.config.subscription_count_events) {
            let state = self.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    for app in state.apps.iter() {
                        for channel in app.hub.take_changed_counts() {
                            let count = app.counts(&channel).await.subscriptions;
                            let frame =
                                crate::hub::encode(pusher_wire::ServerMessage::SubscriptionCount {
                                    channel: &channel,
                                    count,
                                });
                            app.hub.deliver(&channel, &frame, None);
                        }
                    }
                }
            });
        }
        let state = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                let now = std::time::Instant::now();
                for app in state.apps.iter() {
                    app.hub.sweep_cache(now);
                }
            }
        });
        if let Some(cluster) = &self.cluster {
            crate::cluster::spawn(self.clone(), cluster.clone());
        }
        for app in self.apps.iter() {
            if let Some(rx) = app.take_webhook_events() {
                tokio::spawn(crate::webhooks::pusher::run(self.clone(), app.clone(), rx));
            }
        }
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
