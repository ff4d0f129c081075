//! Persistence: sites (domain → website_id) and backup records.
//!
//! One interface, two implementations: PostgreSQL when `DATABASE_URL` is set (durable, shared by
//! every node), in memory otherwise (so `cargo run` works on a bare machine; lost on restart).
//! The same test suite runs against both (`tests/store.rs`).

mod memory;
mod postgres;

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use memory::MemoryStore;
pub use postgres::PgStore;

/// A store failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A row with this key exists already (e.g. a domain registered twice). HTTP 409.
    #[error("{0} already exists")]
    Conflict(String),
    /// The database failed or is unreachable; the caller logs, counts and retries. HTTP 500.
    #[error("database error: {0}")]
    Db(String),
}

/// `Result` with [`StoreError`].
pub type StoreResult<T> = Result<T, StoreError>;

/// A registered site.
#[derive(Clone, Debug, Eq, PartialEq, serde::Serialize)]
pub struct Site {
    /// The normalized domain (see `relay_core::domain::normalize`).
    pub domain: String,
    /// The site's id; its events are broadcast on the channel named by it.
    pub website_id: Uuid,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
}

/// A backup as recorded from the plugin's webhooks and its backup list.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Backup {
    /// The site.
    pub website_id: Uuid,
    /// The plugin's backup id.
    pub backup_id: String,
    /// `pending`, `in_progress`, `completed`, `failed`, or what the plugin's list says.
    pub status: String,
    /// 0..=100.
    pub progress: u8,
    /// Why it failed.
    pub error_message: Option<String>,
    /// Extra fields from the plugin's backup list (size, type, …), kept as given.
    pub metadata: Option<serde_json::Value>,
    /// First seen.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// When it reached `completed` or `failed`.
    pub finished_at: Option<DateTime<Utc>>,
}

/// A change to one backup, from a webhook: inserted or updated (upsert).
#[derive(Clone, Debug, PartialEq)]
pub struct BackupWrite {
    /// The site.
    pub website_id: Uuid,
    /// The plugin's backup id.
    pub backup_id: String,
    /// The new status.
    pub status: String,
    /// The new progress.
    pub progress: u8,
    /// The error message (failed backups); `None` leaves the stored one.
    pub error_message: Option<String>,
    /// When the change happened (sets `updated_at`, and `finished_at` for completed/failed).
    pub at: DateTime<Utc>,
}

/// One entry of the plugin's backup list, for synchronization.
#[derive(Clone, Debug, PartialEq)]
pub struct SyncedBackup {
    /// The plugin's backup id.
    pub backup_id: String,
    /// The status the plugin reports, if any (a missing one leaves the stored status, or
    /// `completed` for a new row: the plugin lists finished backups).
    pub status: Option<String>,
    /// The entry as the plugin gave it.
    pub metadata: serde_json::Value,
}

/// The store: PostgreSQL or memory.
#[derive(Clone, Debug)]
pub enum Store {
    /// In memory; nothing survives a restart.
    Memory(MemoryStore),
    /// PostgreSQL through a connection pool.
    Postgres(PgStore),
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            Store::Memory($s) => $call,
            Store::Postgres($s) => $call,
        }
    };
}

impl Store {
    /// An empty in-memory store.
    pub fn memory() -> Store {
        Store::Memory(MemoryStore::default())
    }

    /// Connects to PostgreSQL and applies the migrations.
    pub async fn connect(database_url: &str) -> StoreResult<Store> {
        let store = PgStore::connect(database_url).await?;
        store.migrate().await?;
        Ok(Store::Postgres(store))
    }

    /// Whether data survives a restart.
    pub fn is_durable(&self) -> bool {
        matches!(self, Store::Postgres(_))
    }

    /// Checks that the store answers (for `/ready`).
    pub async fn ping(&self) -> StoreResult<()> {
        dispatch!(self, s => s.ping().await)
    }

    /// Registers a site; [`StoreError::Conflict`] if the domain is taken.
    pub async fn insert_site(&self, site: &Site) -> StoreResult<()> {
        dispatch!(self, s => s.insert_site(site).await)
    }

    /// Every site, ordered by domain.
    pub async fn sites(&self) -> StoreResult<Vec<Site>> {
        dispatch!(self, s => s.sites().await)
    }

    /// The site of a normalized domain.
    pub async fn site(&self, domain: &str) -> StoreResult<Option<Site>> {
        dispatch!(self, s => s.site(domain).await)
    }

    /// Removes a site; `false` if there was none.
    pub async fn delete_site(&self, domain: &str) -> StoreResult<bool> {
        dispatch!(self, s => s.delete_site(domain).await)
    }

    /// One backup.
    pub async fn backup(&self, website_id: Uuid, backup_id: &str) -> StoreResult<Option<Backup>> {
        dispatch!(self, s => s.backup(website_id, backup_id).await)
    }

    /// A site's backups, newest first (`created_at` descending, then `backup_id`).
    pub async fn backups(&self, website_id: Uuid) -> StoreResult<Vec<Backup>> {
        dispatch!(self, s => s.backups(website_id).await)
    }

    /// Inserts or updates a backup from a webhook.
    pub async fn record_backup(&self, write: &BackupWrite) -> StoreResult<()> {
        dispatch!(self, s => s.record_backup(write).await)
    }

    /// Upserts the plugin's backup list; returns how many entries were written. Progress is
    /// never lowered, and `metadata` is replaced by the plugin's entry.
    pub async fn sync_backups(
        &self,
        website_id: Uuid,
        items: &[SyncedBackup],
        at: DateTime<Utc>,
    ) -> StoreResult<usize> {
        dispatch!(self, s => s.sync_backups(website_id, items, at).await)
    }
}
