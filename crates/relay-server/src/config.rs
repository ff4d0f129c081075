//! Configuration in layers: built-in defaults, then a TOML file (`--config FILE` or
//! `RELAY_CONFIG`), then `RELAY_*` environment variables. Validated once; a bad key or value
//! stops the server with a clear message instead of falling back silently.

use std::{collections::HashSet, net::SocketAddr, path::Path, time::Duration};

use serde::Deserialize;

/// Development credentials used when no app is configured.
pub const DEV_APP: (&str, &str, &str) = ("app-id", "app-key", "app-secret");

/// A configuration problem; the server refuses to start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The config file is not valid TOML for this schema (unknown keys included).
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong, with the line.
        message: String,
    },
    /// An environment variable has a bad value.
    #[error("invalid value for {var}: {value:?} ({expected})")]
    Env {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A cross-field rule is broken.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The whole server configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on (HTTP API, WebSocket, health and metrics on one port).
    pub bind: SocketAddr,
    /// `activity_timeout` advertised to clients, seconds.
    pub activity_timeout: u64,
    /// Extra silence tolerated after `activity_timeout` before the server pings, seconds.
    pub ping_grace: u64,
    /// How long to wait for a reply to a server ping, seconds.
    pub pong_timeout: u64,
    /// Longest channel name (Pusher: 164).
    pub max_channel_name_length: usize,
    /// Largest WebSocket frame accepted from a client, bytes.
    pub max_frame_bytes: usize,
    /// Frames queued for one connection before it is closed as too slow (4100).
    pub max_outbound_queue: usize,
    /// Largest HTTP API request body, bytes.
    pub max_request_bytes: usize,
    /// Allowed skew of `auth_timestamp` in API requests, seconds.
    pub api_timestamp_window: u64,
    /// A path prefix in front of `/app/{key}` and `/apps/{id}` (as a reverse proxy adds it).
    pub path_prefix: String,
    /// Also send soketi-style `pusher:subscription_error` on failed subscriptions.
    pub subscription_error_events: bool,
    /// Close connections that send no `protocol` query parameter with 4008 (else assume 7).
    pub require_protocol_param: bool,
    /// How long graceful shutdown waits for sockets to close, seconds.
    pub shutdown_timeout: u64,
    /// HTTP worker threads (0 = one per core).
    pub workers: usize,
    /// Bearer token of the admin API (`/admin/...`); unset disables it. Env `RELAY_ADMIN_TOKEN`.
    pub admin_token: Option<String>,
    /// PostgreSQL URL; unset keeps everything in memory. Env `DATABASE_URL`.
    pub database_url: Option<String>,
    /// Event ingestion from the WordPress plugin and backend.
    pub ingest: IngestConfig,
    /// Synchronization of a site's backup list from the plugin's API.
    pub backup_sync: BackupSyncConfig,
    /// Sites registered at start (in addition to those stored).
    pub sites: Vec<SiteConfig>,
    /// Outgoing webhook delivery (both kinds).
    pub webhooks: WebhooksConfig,
    /// Incoming plugin webhooks at `POST /hooks/{id}` (Fluent Community, Fast Events,
    /// Standard Webhooks sources).
    pub sources: SourcesConfig,
    /// Scale-out over Redis (off without `redis_url`).
    pub cluster: ClusterConfig,
    /// The applications.
    pub apps: Vec<AppConfig>,
}

/// `[ingest]`: `POST /api/events/create` and the backup webhooks.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Accepted `x-wpfort-token` values (several for rotation). Env `RELAY_INGEST_TOKEN`,
    /// comma-separated. Empty: every ingestion request is refused with 401.
    pub tokens: Vec<String>,
    /// The app whose channels receive ingested events (default: the first app).
    pub app_id: Option<String>,
    /// Prefix of the site channel name, e.g. `private-` for authorized channels.
    pub channel_prefix: String,
    /// `reject` (400) or `relay` event names missing from the catalog.
    pub unknown_events: relay_core::UnknownEvents,
    /// Largest ingestion request body, bytes (over it: 413).
    pub max_body_bytes: usize,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            tokens: Vec::new(),
            app_id: None,
            channel_prefix: String::new(),
            unknown_events: relay_core::UnknownEvents::Reject,
            max_body_bytes: 64 * 1024,
        }
    }
}

/// `[backup_sync]`: after `backup-complete`, fetch the site's backup list from the plugin.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupSyncConfig {
    /// URL template with `{domain}`; empty disables the sync.
    pub url_template: String,
    /// API key sent to the plugin, if any.
    pub api_key: Option<String>,
    /// Header carrying the API key.
    pub api_key_header: String,
    /// Request timeout, seconds.
    pub timeout: u64,
    /// Largest response accepted, bytes.
    pub max_response_bytes: usize,
}

impl Default for BackupSyncConfig {
    fn default() -> Self {
        BackupSyncConfig {
            url_template: "https://{domain}/wp-json/wpsec/v1/backups".into(),
            api_key: None,
            api_key_header: "x-api-key".into(),
            timeout: 10,
            max_response_bytes: 1024 * 1024,
        }
    }
}

/// `[cluster]`: several nodes sharing state through Redis.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// `redis://host:port/db`; unset: a single node. Env `REDIS_URL`.
    pub redis_url: Option<String>,
    /// This node's id (default: random at start). Env `RELAY_NODE_ID`.
    pub node_id: Option<String>,
    /// How often the node announces it is alive, milliseconds.
    pub heartbeat_interval_ms: u64,
    /// A node silent this long is dead: its clients are removed, milliseconds.
    pub dead_after_ms: u64,
    /// Prefix of every Redis key and of the pub/sub channel (several clusters on one Redis).
    pub prefix: String,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            redis_url: None,
            node_id: None,
            heartbeat_interval_ms: 1000,
            dead_after_ms: 5000,
            prefix: "relay".into(),
        }
    }
}

/// `[webhooks]`: how outgoing webhooks are delivered.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Allow `http://` subscriber URLs (default: HTTPS only). Env `RELAY_WEBHOOKS_ALLOW_HTTP`.
    pub allow_http: bool,
    /// Allow deliveries to loopback, private, link-local and other internal addresses.
    /// Env `RELAY_WEBHOOKS_ALLOW_PRIVATE_NETWORKS`.
    pub allow_private_networks: bool,
    /// Seconds between attempts: the n-th retry waits the n-th value (the last one repeats),
    /// ±20 % jitter. Env `RELAY_WEBHOOKS_RETRY_SCHEDULE` (comma-separated).
    pub retry_schedule: Vec<u64>,
    /// Request timeout, seconds.
    pub timeout: u64,
    /// Concurrent requests to one endpoint (per process).
    pub max_concurrency_per_endpoint: usize,
    /// Concurrent requests in all (per process).
    pub max_concurrency: usize,
    /// Disable a subscriber webhook after this many deliveries failed in a row (0 = never).
    pub disable_after_failures: u32,
    /// Keep deliveries and attempt logs this many days.
    pub retention_days: u64,
    /// Response bytes kept in the attempt log.
    pub max_response_bytes: usize,
    /// Extra PEM root certificates trusted for HTTPS deliveries (a private CA).
    pub ca_file: Option<String>,
    /// Pusher-format webhooks: events within this many milliseconds go in one request.
    pub pusher_batch_ms: u64,
    /// Pusher-format webhooks: delay of `channel_vacated` and `member_removed`, cancelled
    /// when the state flips back (Pusher: up to 3 s).
    pub pusher_flap_delay_ms: u64,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            allow_http: false,
            allow_private_networks: false,
            retry_schedule: vec![5, 300, 1800, 7200, 18000, 36000, 36000],
            timeout: 15,
            max_concurrency_per_endpoint: 4,
            max_concurrency: 64,
            disable_after_failures: 0,
            retention_days: 30,
            max_response_bytes: 4096,
            ca_file: None,
            pusher_batch_ms: 50,
            pusher_flap_delay_ms: 3000,
        }
    }
}

/// `[sources]`: accepting the WordPress plugins' own webhooks at `POST /hooks/{id}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourcesConfig {
    /// A delivery key (Fast Events `Delivery-ID`, `webhook-id`, Fluent body signature) seen
    /// within this many seconds is a duplicate: answered 200, not broadcast again.
    pub dedup_window_secs: u64,
    /// Standard Webhooks: largest difference between `webhook-timestamp` and the clock, seconds.
    pub timestamp_tolerance_secs: u64,
    /// Largest request body, bytes (over it: 413; Fast Events: 200 and dropped).
    pub max_body_bytes: usize,
    /// Keep processed and dropped inbox rows this many days.
    pub retention_days: u64,
    /// Test/ops setting: hold accepted events this many milliseconds before broadcasting them
    /// (0 = at once). The crash-recovery test uses it to kill the server between the 200 and
    /// the broadcast.
    pub processing_delay_ms: u64,
    /// The public base URL of this server (`https://relay.example.com`), for the absolute
    /// receive URL of a source; unset: derived from the admin request's Host.
    pub public_url: Option<String>,
}

impl Default for SourcesConfig {
    fn default() -> Self {
        SourcesConfig {
            dedup_window_secs: 3 * 24 * 3600,
            timestamp_tolerance_secs: 300,
            max_body_bytes: 256 * 1024,
            retention_days: 7,
            processing_delay_ms: 0,
            public_url: None,
        }
    }
}

impl SourcesConfig {
    /// The rules of `[sources]`.
    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(format!("[sources] {m}")));
        if self.dedup_window_secs == 0 || self.timestamp_tolerance_secs == 0 {
            return bad("dedup_window_secs and timestamp_tolerance_secs must be at least 1");
        }
        if self.retention_days == 0 || self.max_body_bytes == 0 {
            return bad("retention_days and max_body_bytes must be at least 1");
        }
        if self.retention_days.saturating_mul(24 * 3600) < self.dedup_window_secs {
            return bad("retention_days must cover dedup_window_secs");
        }
        if let Some(public) = &self.public_url {
            if url::Url::parse(public).map_or(true, |u| !matches!(u.scheme(), "http" | "https")) {
                return bad(&format!("public_url {public:?} is not an http(s) URL"));
            }
        }
        Ok(())
    }
}

/// `[[apps.webhooks]]`: a Pusher-format webhook of one app.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppWebhookConfig {
    /// Where to POST.
    pub url: String,
    /// Which events: `channel_occupied`, `channel_vacated`, `member_added`, `member_removed`,
    /// `client_event`, `cache_miss`, `subscription_count`.
    pub event_types: Vec<String>,
}

/// The Pusher webhook event types.
pub const PUSHER_WEBHOOK_EVENT_TYPES: &[&str] = &[
    "channel_occupied",
    "channel_vacated",
    "member_added",
    "member_removed",
    "client_event",
    "cache_miss",
    "subscription_count",
];

/// `[[sites]]`: a site registered from the config file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// The domain (normalized on load).
    pub domain: String,
    /// Its website id.
    pub website_id: uuid::Uuid,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::from(([0, 0, 0, 0], 6001)),
            activity_timeout: 120,
            ping_grace: 10,
            pong_timeout: 30,
            max_channel_name_length: pusher_wire::channel::DEFAULT_MAX_CHANNEL_NAME_LENGTH,
            max_frame_bytes: 256 * 1024,
            max_outbound_queue: 1024,
            max_request_bytes: 1024 * 1024,
            api_timestamp_window: pusher_wire::auth::api_request::DEFAULT_TIMESTAMP_WINDOW_SECS,
            path_prefix: String::new(),
            subscription_error_events: false,
            require_protocol_param: false,
            shutdown_timeout: 10,
            workers: 0,
            admin_token: None,
            database_url: None,
            ingest: IngestConfig::default(),
            backup_sync: BackupSyncConfig::default(),
            sites: Vec::new(),
            webhooks: WebhooksConfig::default(),
            sources: SourcesConfig::default(),
            cluster: ClusterConfig::default(),
            apps: Vec::new(),
        }
    }
}

/// One application: credentials, switches and limits.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// The app id used in `/apps/{id}` (a string; numeric ids work).
    pub id: String,
    /// The public key used in `/app/{key}` and `auth` tokens.
    pub key: String,
    /// The secret for signatures.
    pub secret: String,
    /// Whether the app accepts connections and API calls.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Whether clients may send `client-` events.
    #[serde(default)]
    pub enable_client_messages: bool,
    /// Whether `pusher:signin` is accepted.
    #[serde(default = "yes")]
    pub enable_user_authentication: bool,
    /// Most concurrent connections (0 = unlimited).
    #[serde(default)]
    pub max_connections: usize,
    /// Most distinct users in one presence channel.
    #[serde(default = "default_presence_members")]
    pub max_presence_members: usize,
    /// Largest presence `user_info`, bytes.
    #[serde(default = "default_user_info_bytes")]
    pub max_presence_user_info_bytes: usize,
    /// Largest event payload, bytes (HTTP API and client events).
    #[serde(default = "default_event_bytes")]
    pub max_event_payload_bytes: usize,
    /// Client events per second per connection.
    #[serde(default = "default_client_rate")]
    pub max_client_events_per_second: u32,
    /// Most channels in one trigger.
    #[serde(default = "default_channels_per_trigger")]
    pub max_channels_per_trigger: usize,
    /// Most events in one batch.
    #[serde(default = "default_batch")]
    pub max_batch_size: usize,
    /// Seconds a connection has to sign in or subscribe to an authorized channel (0 = off).
    #[serde(default)]
    pub user_authentication_timeout: u64,
    /// Send `pusher_internal:subscription_count` to subscribers of non-presence channels.
    #[serde(default)]
    pub subscription_count_events: bool,
    /// Pusher-format webhooks of this app.
    #[serde(default)]
    pub webhooks: Vec<AppWebhookConfig>,
}

fn yes() -> bool {
    true
}
fn default_presence_members() -> usize {
    100
}
fn default_user_info_bytes() -> usize {
    1024
}
fn default_event_bytes() -> usize {
    10 * 1024
}
fn default_client_rate() -> u32 {
    10
}
fn default_channels_per_trigger() -> usize {
    100
}
fn default_batch() -> usize {
    10
}

impl AppConfig {
    /// An app with default switches and limits.
    pub fn new(id: &str, key: &str, secret: &str) -> AppConfig {
        AppConfig {
            id: id.into(),
            key: key.into(),
            secret: secret.into(),
            enabled: true,
            enable_client_messages: false,
            enable_user_authentication: true,
            max_connections: 0,
            max_presence_members: default_presence_members(),
            max_presence_user_info_bytes: default_user_info_bytes(),
            max_event_payload_bytes: default_event_bytes(),
            max_client_events_per_second: default_client_rate(),
            max_channels_per_trigger: default_channels_per_trigger(),
            max_batch_size: default_batch(),
            user_authentication_timeout: 0,
            subscription_count_events: false,
            webhooks: Vec::new(),
        }
    }
}

/// Where the configuration came from, for the start-up log.
#[derive(Clone, Debug, Default)]
pub struct Provenance {
    /// The config file, if any.
    pub file: Option<String>,
    /// Whether the development app was used because nothing was configured.
    pub dev_app: bool,
}

impl Config {
    /// Loads defaults, then `file` (or `RELAY_CONFIG`), then the environment, and validates.
    pub fn load(file: Option<&Path>) -> Result<(Config, Provenance), ConfigError> {
        Config::load_from(file, |name| std::env::var(name).ok())
    }

    /// Like [`Config::load`] with an explicit environment (for tests).
    pub fn load_from(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(Config, Provenance), ConfigError> {
        let mut provenance = Provenance::default();
        let file = file
            .map(|p| p.to_string_lossy().into_owned())
            .or_else(|| env("RELAY_CONFIG").filter(|s| !s.is_empty()));
        let mut config = match &file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                Config::from_toml(&text).map_err(|message| ConfigError::Parse {
                    path: path.clone(),
                    message,
                })?
            }
            None => Config::default(),
        };
        provenance.file = file;
        config.apply_env(&env)?;
        if config.apps.is_empty() {
            let (id, key, secret) = DEV_APP;
            config.apps.push(AppConfig::new(id, key, secret));
            provenance.dev_app = true;
        }
        config.validate()?;
        Ok((config, provenance))
    }

    /// Parses a TOML document (unknown keys are errors).
    pub fn from_toml(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    fn apply_env(&mut self, env: &impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = env("RELAY_BIND") {
            self.bind = v.parse().map_err(|_| ConfigError::Env {
                var: "RELAY_BIND",
                value: v,
                expected: "an address like 0.0.0.0:6001",
            })?;
        }
        if let Some(v) = env("RELAY_ADMIN_TOKEN").filter(|v| !v.is_empty()) {
            self.admin_token = Some(v);
        }
        if let Some(v) = env("DATABASE_URL").filter(|v| !v.is_empty()) {
            self.database_url = Some(v);
        }
        if let Some(v) = env("RELAY_INGEST_TOKEN") {
            self.ingest.tokens = v
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect();
        }
        if let Some(v) = env("REDIS_URL").filter(|v| !v.is_empty()) {
            self.cluster.redis_url = Some(v);
        }
        if let Some(v) = env("RELAY_NODE_ID").filter(|v| !v.is_empty()) {
            self.cluster.node_id = Some(v);
        }
        if let Some(v) = env_bool(env, "RELAY_WEBHOOKS_ALLOW_HTTP")? {
            self.webhooks.allow_http = v;
        }
        if let Some(v) = env_bool(env, "RELAY_WEBHOOKS_ALLOW_PRIVATE_NETWORKS")? {
            self.webhooks.allow_private_networks = v;
        }
        if let Some(v) = env("RELAY_WEBHOOKS_RETRY_SCHEDULE") {
            self.webhooks.retry_schedule = v
                .split(',')
                .map(|s| s.trim().parse::<u64>())
                .collect::<Result<_, _>>()
                .map_err(|_| ConfigError::Env {
                    var: "RELAY_WEBHOOKS_RETRY_SCHEDULE",
                    value: v.clone(),
                    expected: "comma-separated seconds, e.g. 5,300,1800",
                })?;
        }
        let id = env("RELAY_APP_ID");
        let key = env("RELAY_APP_KEY");
        let secret = env("RELAY_APP_SECRET");
        let client_messages = env_bool(env, "RELAY_APP_ENABLE_CLIENT_MESSAGES")?;
        let user_auth = env_bool(env, "RELAY_APP_ENABLE_USER_AUTHENTICATION")?;
        let any = id.is_some()
            || key.is_some()
            || secret.is_some()
            || client_messages.is_some()
            || user_auth.is_some();
        if any {
            if self.apps.is_empty() {
                let (id, key, secret) = DEV_APP;
                self.apps.push(AppConfig::new(id, key, secret));
            }
            let app = &mut self.apps[0];
            if let Some(v) = id {
                app.id = v;
            }
            if let Some(v) = key {
                app.key = v;
            }
            if let Some(v) = secret {
                app.secret = v;
            }
            if let Some(v) = client_messages {
                app.enable_client_messages = v;
            }
            if let Some(v) = user_auth {
                app.enable_user_authentication = v;
            }
        }
        Ok(())
    }

    /// Cross-field rules.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if self.activity_timeout == 0 {
            return bad("activity_timeout must be at least 1 second".into());
        }
        if self.pong_timeout == 0 {
            return bad("pong_timeout must be at least 1 second".into());
        }
        if self.max_outbound_queue == 0 {
            return bad("max_outbound_queue must be at least 1".into());
        }
        if !(1..=1024).contains(&self.max_channel_name_length) {
            return bad("max_channel_name_length must be between 1 and 1024".into());
        }
        if !self.path_prefix.is_empty()
            && (!self.path_prefix.starts_with('/') || self.path_prefix.ends_with('/'))
        {
            return bad("path_prefix must start with '/' and not end with '/'".into());
        }
        if let Some(app_id) = &self.ingest.app_id {
            if !self.apps.is_empty() && !self.apps.iter().any(|a| &a.id == app_id) {
                return bad(format!(
                    "[ingest] app_id {app_id:?} is not a configured app"
                ));
            }
        }
        if self.ingest.tokens.iter().any(|t| t.len() < 8) {
            return bad("ingest tokens must be at least 8 characters".into());
        }
        if self.admin_token.as_ref().is_some_and(|t| t.len() < 8) {
            return bad("admin_token must be at least 8 characters".into());
        }
        if !self.backup_sync.url_template.is_empty()
            && !self.backup_sync.url_template.contains("{domain}")
        {
            return bad("[backup_sync] url_template must contain {domain}".into());
        }
        for site in &self.sites {
            relay_core::Domain::parse(&site.domain)
                .map_err(|e| ConfigError::Invalid(format!("[[sites]] {:?}: {e}", site.domain)))?;
        }
        let c = &self.cluster;
        if c.heartbeat_interval_ms == 0 || c.dead_after_ms < 2 * c.heartbeat_interval_ms {
            return bad(
                "[cluster] dead_after_ms must be at least twice heartbeat_interval_ms".into(),
            );
        }
        if c.prefix.is_empty() || c.prefix.contains(char::is_whitespace) {
            return bad("[cluster] prefix must be a non-empty word".into());
        }
        if let Some(url) = &c.redis_url {
            if !(url.starts_with("redis://")
                || url.starts_with("rediss://")
                || url.starts_with("unix://"))
            {
                return bad(format!(
                    "[cluster] redis_url {url:?} must start with redis://"
                ));
            }
        }
        let w = &self.webhooks;
        if w.timeout == 0 || w.max_concurrency == 0 || w.max_concurrency_per_endpoint == 0 {
            return bad("[webhooks] timeout and concurrency limits must be at least 1".into());
        }
        if w.retention_days == 0 {
            return bad("[webhooks] retention_days must be at least 1".into());
        }
        self.sources.validate()?;
        for app in &self.apps {
            for hook in &app.webhooks {
                if url::Url::parse(&hook.url)
                    .map_or(true, |u| !matches!(u.scheme(), "http" | "https"))
                {
                    return bad(format!(
                        "app {:?}: webhook url {:?} is not an http(s) URL",
                        app.id, hook.url
                    ));
                }
                if let Some(kind) = hook
                    .event_types
                    .iter()
                    .find(|k| !PUSHER_WEBHOOK_EVENT_TYPES.contains(&k.as_str()))
                {
                    return bad(format!(
                        "app {:?}: unknown webhook event type {kind:?} (expected one of {})",
                        app.id,
                        PUSHER_WEBHOOK_EVENT_TYPES.join(", ")
                    ));
                }
            }
        }
        let mut ids = HashSet::new();
        let mut keys = HashSet::new();
        for app in &self.apps {
            if app.id.is_empty() || app.key.is_empty() || app.secret.is_empty() {
                return bad("every app needs a non-empty id, key and secret".into());
            }
            if app.key.contains(':') {
                return bad(format!("app key {:?} must not contain ':'", app.key));
            }
            if !ids.insert(app.id.as_str()) {
                return bad(format!("duplicate app id {:?}", app.id));
            }
            if !keys.insert(app.key.as_str()) {
                return bad(format!("duplicate app key {:?}", app.key));
            }
            if app.max_batch_size == 0 || app.max_channels_per_trigger == 0 {
                return bad(format!(
                    "app {:?}: max_batch_size and max_channels_per_trigger must be at least 1",
                    app.id
                ));
            }
        }
        Ok(())
    }

    /// The app receiving ingested events: `[ingest] app_id`, or the first app.
    pub fn ingest_app_id(&self) -> Option<&str> {
        self.ingest
            .app_id
            .as_deref()
            .or_else(|| self.apps.first().map(|a| a.id.as_str()))
    }

    /// `activity_timeout` as a duration.
    pub fn activity_timeout(&self) -> Duration {
        Duration::from_secs(self.activity_timeout)
    }
}

fn env_bool(
    env: &impl Fn(&str) -> Option<String>,
    var: &'static str,
) -> Result<Option<bool>, ConfigError> {
    match env(var) {
        None => Ok(None),
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(Some(true)),
            "0" | "false" | "no" | "off" => Ok(Some(false)),
            _ => Err(ConfigError::Env {
                var,
                value: v,
                expected: "true or false",
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_give_the_dev_app() {
        let (config, prov) = Config::load_from(None, env(&[])).unwrap();
        assert!(prov.dev_app);
        assert_eq!(config.apps[0].key, "app-key");
        assert_eq!(config.bind.port(), 6001);
    }

    #[test]
    fn env_overrides_the_default_app() {
        let (config, prov) = Config::load_from(
            None,
            env(&[
                ("RELAY_APP_ID", "42"),
                ("RELAY_APP_KEY", "k"),
                ("RELAY_APP_SECRET", "s"),
                ("RELAY_APP_ENABLE_CLIENT_MESSAGES", "true"),
                ("RELAY_BIND", "127.0.0.1:7000"),
            ]),
        )
        .unwrap();
        assert!(!prov.dev_app);
        assert_eq!(config.apps[0].id, "42");
        assert!(config.apps[0].enable_client_messages);
        assert_eq!(config.bind.port(), 7000);
    }

    #[test]
    fn bad_values_fail_fast() {
        assert!(matches!(
            Config::load_from(None, env(&[("RELAY_BIND", "nope")])),
            Err(ConfigError::Env {
                var: "RELAY_BIND",
                ..
            })
        ));
        assert!(matches!(
            Config::load_from(None, env(&[("RELAY_APP_ENABLE_CLIENT_MESSAGES", "maybe")])),
            Err(ConfigError::Env { .. })
        ));
        assert!(Config::from_toml("bnid = \"x\"")
            .unwrap_err()
            .contains("unknown field"));
        assert!(
            Config::from_toml("[[apps]]\nid=\"1\"\nkey=\"k\"\nsecret=\"s\"\nmax_conections=1")
                .unwrap_err()
                .contains("unknown field")
        );
        assert!(Config::from_toml("activity_timeout = \"soon\"").is_err());
    }

    #[test]
    fn the_commented_example_config_is_valid() {
        let config = Config::from_toml(include_str!("../../../examples/relay.toml")).unwrap();
        config.validate().unwrap();
        let defaults = Config::default();
        assert_eq!(config.activity_timeout, defaults.activity_timeout);
        assert_eq!(config.max_outbound_queue, defaults.max_outbound_queue);
        assert_eq!(config.apps.len(), 2);
    }

    #[test]
    fn toml_apps_and_duplicates() {
        let c = Config::from_toml(
            "bind = \"127.0.0.1:1\"\n[[apps]]\nid = \"1\"\nkey = \"a\"\nsecret = \"s\"\nmax_connections = 5\n[[apps]]\nid = \"2\"\nkey = \"b\"\nsecret = \"t\"\nenabled = false\n",
        )
        .unwrap();
        assert_eq!(c.apps.len(), 2);
        assert_eq!(c.apps[0].max_connections, 5);
        assert!(!c.apps[1].enabled);
        assert!(c.validate().is_ok());
        let dup = Config::from_toml(
            "[[apps]]\nid = \"1\"\nkey = \"a\"\nsecret = \"s\"\n[[apps]]\nid = \"1\"\nkey = \"b\"\nsecret = \"t\"\n",
        )
        .unwrap();
        assert!(dup.validate().is_err());
    }
}
