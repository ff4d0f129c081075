//! The configured applications and their runtime state. No protocol rules here.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
};

use parking_lot::Mutex;
use pusher_wire::{api::ApiLimits, presence::PresenceLimits, webhook::WebhookEvent, AppPolicy};
use tokio::sync::mpsc;

use crate::{
    config::{AppConfig, Config},
    hub::AppHub,
    metrics::Metrics,
    webhooks::pusher::Emitter,
};

/// One application at run time: its configuration, its channel registry and its counters.
#[derive(Debug)]
pub struct App {
    /// The configuration.
    pub config: AppConfig,
    /// The channel registry: the one way to channel state.
    pub hub: AppHub,
    /// The live debug feed of the console.
    pub feed: crate::console::Feed,
    connections: AtomicUsize,
    max_frame_bytes: usize,
    max_channel_name_len: usize,
    webhooks: Option<Emitter>,
    webhook_events: Mutex<Option<mpsc::Receiver<WebhookEvent>>>,
    metrics: Arc<Metrics>,
}

impl App {
    /// The app's rules as the protocol state machine needs them.
    pub fn policy(&self) -> AppPolicy<'_> {
        AppPolicy {
            key: &self.config.key,
            secret: &self.config.secret,
            client_events: self.config.enable_client_messages,
            user_authentication: self.config.enable_user_authentication,
            client_events_per_second: self.config.max_client_events_per_second,
            max_event_bytes: self.config.max_event_payload_bytes,
            max_channel_name_len: self.max_channel_name_len,
            max_frame_bytes: self.max_frame_bytes,
            presence: self.presence_limits(),
        }
    }

    /// Presence limits.
    pub fn presence_limits(&self) -> PresenceLimits {
        PresenceLimits {
            max_members: self.config.max_presence_members,
            max_user_info_bytes: self.config.max_presence_user_info_bytes,
            ..PresenceLimits::default()
        }
    }

    /// HTTP API limits.
    pub fn api_limits(&self) -> ApiLimits {
        ApiLimits {
            max_event_bytes: self.config.max_event_payload_bytes,
            max_channels: self.config.max_channels_per_trigger,
            max_batch: self.config.max_batch_size,
            max_channel_name_len: self.max_channel_name_len,
        }
    }

    /// Takes a connection slot; `false` when the app is at `max_connections`.
    pub fn try_connect(&self) -> bool {
        let max = self.config.max_connections;
        self.connections
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (max == 0 || n < max).then_some(n + 1)
            })
            .is_ok()
    }

    /// Gives a connection slot back.
    pub fn disconnect(&self) {
        self.connections.fetch_sub(1, Ordering::AcqRel);
    }

    /// Queues a Pusher-format webhook event if the app has webhooks; never waits.
    pub fn webhook(&self, event: impl FnOnce() -> WebhookEvent) {
        if let Some(emitter) = &self.webhooks {
            if !emitter.emit(event()) {
                self.metrics.count("relay_webhook_events_dropped_total", "");
            }
        }
    }

    /// The receiving end of the app's webhook events, once (for the batcher task).
    pub fn take_webhook_events(&self) -> Option<mpsc::Receiver<WebhookEvent>> {
        self.webhook_events.lock().take()
    }

    /// Open connections.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Acquire)
    }
}

/// All applications, by id and by key.
#[derive(Debug, Default)]
pub struct Apps {
    by_id: HashMap<String, Arc<App>>,
    by_key: HashMap<String, Arc<App>>,
}

impl Apps {
    /// Builds the apps of a configuration.
    pub fn new(config: &Config, metrics: &Arc<Metrics>) -> Apps {
        let mut apps = Apps::default();
        for app in &config.apps {
            let (webhooks, webhook_events) = if app.webhooks.is_empty() {
                (None, None)
            } else {
                let (emitter, rx) = Emitter::new();
                (Some(emitter), Some(rx))
            };
            let app = Arc::new(App {
                hub: AppHub::new(
                    metrics.clone(),
                    app.max_presence_members,
                    app.subscription_count_events,
                ),
                config: app.clone(),
                feed: crate::console::Feed::default(),
                connections: AtomicUsize::new(0),
                max_frame_bytes: config.max_frame_bytes,
                max_channel_name_len: config.max_channel_name_length,
                webhooks,
                webhook_events: Mutex::new(webhook_events),
                metrics: metrics.clone(),
            });
            apps.by_id.insert(app.config.id.clone(), app.clone());
            apps.by_key.insert(app.config.key.clone(), app);
        }
        apps
    }

    /// The app with this id.
    pub fn by_id(&self, id: &str) -> Option<&Arc<App>> {
        self.by_id.get(id)
    }

    /// The app with this key.
    pub fn by_key(&self, key: &str) -> Option<&Arc<App>> {
        self.by_key.get(key)
    }

    /// Every app.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<App>> {
        self.by_id.values()
    }
}
