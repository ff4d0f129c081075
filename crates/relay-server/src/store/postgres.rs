//! The PostgreSQL store: what `relay-server` uses when `DATABASE_URL` is set.
//!
//! [`PgStore`] holds a connection pool; each method takes a connection and calls one of the
//! small functions of [`db`], which take any [`GenericClient`] (a pooled connection or a
//! transaction) and keep their SQL visible. The schema lives in `migrations/` at the workspace
//! root, embedded here and applied by [`PgStore::migrate`].
//!
//! Semantics are those of [`MemoryStore`](super::MemoryStore), with two storage limits:
//! timestamps keep microseconds (PostgreSQL's precision), and a progress above 100 is refused by
//! the table's `CHECK` (callers clamp it first).

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::{error::SqlState, NoTls, Row};
use uuid::Uuid;

use super::{
    postgres_queue::Listener, Backup, BackupWrite, Site, StoreError, StoreResult, SyncedBackup,
};

/// How long to wait for a new connection (when the URL sets no `connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a caller waits for a free connection of the pool.
const POOL_WAIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections per node.
const POOL_SIZE: usize = 16;

/// Sites, backups, subscriber webhooks and the delivery queue in PostgreSQL, through a
/// connection pool (and one dedicated `LISTEN` connection, see `postgres_queue.rs`).
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// The delivery signal and its `LISTEN` task (started on first use).
    pub(super) listener: Arc<Listener>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.pool.status();
        f.debug_struct("PgStore")
            .field("size", &status.size)
            .field("available", &status.available)
            .finish()
    }
}

impl PgStore {
    /// Builds a pool for `database_url` (`postgres://user:pass@host:port/db` or the key=value
    /// form) and opens one connection to check it. [`StoreError::Db`] if the URL is invalid or
    /// the server cannot be reached. Does not migrate (see [`PgStore::migrate`]).
    pub async fn connect(database_url: &str) -> StoreResult<PgStore> {
        let mut config: tokio_postgres::Config = database_url
            .parse()
            .map_err(|e| StoreError::Db(format!("invalid database URL: {}", chain(&e))))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("relay-server");
        }
        let listener = Arc::new(Listener::new(config.clone()));
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| StoreError::Db(format!("database pool: {}", chain(&e))))?;
        let store = PgStore { pool, listener };
        store.ping().await?;
        Ok(store)
    }

    /// Applies the pending migrations of `migrations/`, in order, each in its own transaction
    /// under a transaction-level advisory lock, so nodes starting together apply each once.
    /// Running it again is a no-op.
    pub async fn migrate(&self) -> StoreResult<()> {
        let mut client = self.client().await?;
        for migration in MIGRATIONS {
            let tx = client.transaction().await.map_err(db)?;
            if db::apply_migration(&tx, migration).await? {
                tx.commit().await.map_err(db)?;
                tracing::info!(
                    version = migration.version,
                    name = migration.name,
                    "applied database migration"
                );
            } else {
                tx.rollback().await.map_err(db)?;
            }
        }
        let known = MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0);
        let newest = db::newest_migration(&client).await?;
        if newest > known {
            tracing::warn!(
                newest,
                known,
                "the database has migrations this binary does not know (a newer version ran)"
            );
        }
        Ok(())
    }

    pub(super) async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| StoreError::Db(chain(&e)))
    }

    pub(super) async fn ping(&self) -> StoreResult<()> {
        db::ping(&self.client().await?).await
    }

    pub(super) async fn insert_site(&self, site: &Site) -> StoreResult<()> {
        db::insert_site(&self.client().await?, site).await
    }

    pub(super) async fn sites(&self) -> StoreResult<Vec<Site>> {
        db::sites(&self.client().await?).await
    }

    pub(super) async fn site(&self, domain: &str) -> StoreResult<Option<Site>> {
        db::site(&self.client().await?, domain).await
    }

    pub(super) async fn delete_site(&self, domain: &str) -> StoreResult<bool> {
        db::delete_site(&self.client().await?, domain).await
    }

    pub(super) async fn backup(
        &self,
        website_id: Uuid,
        backup_id: &str,
    ) -> StoreResult<Option<Backup>> {
        db::backup(&self.client().await?, website_id, backup_id).await
    }

    pub(super) async fn backups(&self, website_id: Uuid) -> StoreResult<Vec<Backup>> {
        db::backups(&self.client().await?, website_id).await
    }

    pub(super) async fn record_backup(&self, write: &BackupWrite) -> StoreResult<()> {
        db::record_backup(&self.client().await?, write).await
    }

    pub(super) async fn sync_backups(
        &self,
        website_id: Uuid,
        items: &[SyncedBackup],
        at: DateTime<Utc>,
    ) -> StoreResult<usize> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        for item in items {
            db::sync_backup(&tx, website_id, item, at).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(items.len())
    }
}

/// One embedded migration file.
#[derive(Clone, Copy, Debug)]
struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

/// Every migration, in order. Forward-only: append new files, never edit applied ones.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "sites_and_backups",
        sql: include_str!("../../../../migrations/0001_sites_and_backups.sql"),
    },
    Migration {
        version: 2,
        name: "webhooks",
        sql: include_str!("../../../../migrations/0002_webhooks.sql"),
    },
    Migration {
        version: 3,
        name: "sources",
        sql: include_str!("../../../../migrations/0003_sources.sql"),
    },
];

/// The key of the advisory lock that serializes migrations across nodes ("relaymig").
const MIGRATION_LOCK: i64 = 0x7265_6c61_796d_6967;

/// A database error as [`StoreError::Db`], with its causes (the server's message included).
pub(super) fn db(e: tokio_postgres::Error) -> StoreError {
    StoreError::Db(chain(&e))
}

/// An error and its sources, joined by `: ` (a cause its parent already prints is skipped).
pub(super) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.ends_with(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = cause.source();
    }
    text
}

impl TryFrom<&Row> for Site {
    type Error = StoreError;

    fn try_from(row: &Row) -> StoreResult<Site> {
        Ok(Site {
            domain: row.try_get("domain").map_err(db)?,
            website_id: row.try_get("website_id").map_err(db)?,
            created_at: row.try_get("created_at").map_err(db)?,
        })
    }
}

impl TryFrom<&Row> for Backup {
    type Error = StoreError;

    fn try_from(row: &Row) -> StoreResult<Backup> {
        let progress: i16 = row.try_get("progress").map_err(db)?;
        Ok(Backup {
            website_id: row.try_get("website_id").map_err(db)?,
            backup_id: row.try_get("backup_id").map_err(db)?,
            status: row.try_get("status").map_err(db)?,
            progress: u8::try_from(progress)
                .map_err(|_| StoreError::Db(format!("backup progress {progress} out of range")))?,
            error_message: row.try_get("error_message").map_err(db)?,
            metadata: row.try_get("metadata").map_err(db)?,
            created_at: row.try_get("created_at").map_err(db)?,
            updated_at: row.try_get("updated_at").map_err(db)?,
            finished_at: row.try_get("finished_at").map_err(db)?,
        })
    }
}

/// The queries, one small function each, usable on a connection or inside a transaction.
mod db {
    use super::*;

    pub(super) async fn ping(client: &impl GenericClient) -> StoreResult<()> {
        let stmt = client.prepare_cached("SELECT 1").await.map_err(db)?;
        client.query_one(&stmt, &[]).await.map_err(db)?;
        Ok(())
    }

    /// Takes the migration lock, creates the bookkeeping table if needed and applies
    /// `migration` unless it is recorded. `true` if it was applied (the caller commits).
    pub(super) async fn apply_migration(
        client: &impl GenericClient,
        migration: &Migration,
    ) -> StoreResult<bool> {
        let lock = client
            .prepare_cached("SELECT pg_advisory_xact_lock($1)")
            .await
            .map_err(db)?;
        client
            .execute(&lock, &[&MIGRATION_LOCK])
            .await
            .map_err(db)?;
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS relay_schema_migrations (
                    version    INT         PRIMARY KEY,
                    name       TEXT        NOT NULL,
                    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
                )",
            )
            .await
            .map_err(db)?;
        let applied = client
            .prepare_cached("SELECT 1 FROM relay_schema_migrations WHERE version = $1")
            .await
            .map_err(db)?;
        if client
            .query_opt(&applied, &[&migration.version])
            .await
            .map_err(db)?
            .is_some()
        {
            return Ok(false);
        }
        client.batch_execute(migration.sql).await.map_err(|e| {
            StoreError::Db(format!(
                "migration {:04}_{}: {}",
                migration.version,
                migration.name,
                chain(&e)
            ))
        })?;
        let record = client
            .prepare_cached(
                "INSERT INTO relay_schema_migrations (version, name, applied_at) \
                 VALUES ($1, $2, now())",
            )
            .await
            .map_err(db)?;
        client
            .execute(&record, &[&migration.version, &migration.name])
            .await
            .map_err(db)?;
        Ok(true)
    }

    /// The highest recorded migration version (0 when none).
    pub(super) async fn newest_migration(client: &impl GenericClient) -> StoreResult<i32> {
        let stmt = client
            .prepare_cached(
                "SELECT COALESCE(MAX(version), 0) AS version FROM relay_schema_migrations",
            )
            .await
            .map_err(db)?;
        client
            .query_one(&stmt, &[])
            .await
            .map_err(db)?
            .try_get("version")
            .map_err(db)
    }

    pub(super) async fn insert_site(client: &impl GenericClient, site: &Site) -> StoreResult<()> {
        let stmt = client
            .prepare_cached(
                "INSERT INTO sites (domain, website_id, created_at) VALUES ($1, $2, $3)",
            )
            .await
            .map_err(db)?;
        match client
            .execute(&stmt, &[&site.domain, &site.website_id, &site.created_at])
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                Err(StoreError::Conflict(format!("site {}", site.domain)))
            }
            Err(e) => Err(db(e)),
        }
    }

    /// Ordered by the domain's bytes (`COLLATE "C"`), as the memory store's `BTreeMap`.
    pub(super) async fn sites(client: &impl GenericClient) -> StoreResult<Vec<Site>> {
        let stmt = client
            .prepare_cached(
                "SELECT domain, website_id, created_at FROM sites ORDER BY domain COLLATE \"C\"",
            )
            .await
            .map_err(db)?;
        let rows = client.query(&stmt, &[]).await.map_err(db)?;
        rows.iter().map(Site::try_from).collect()
    }

    pub(super) async fn site(
        client: &impl GenericClient,
        domain: &str,
    ) -> StoreResult<Option<Site>> {
        let stmt = client
            .prepare_cached("SELECT domain, website_id, created_at FROM sites WHERE domain = $1")
            .await
            .map_err(db)?;
        let row = client.query_opt(&stmt, &[&domain]).await.map_err(db)?;
        row.as_ref().map(Site::try_from).transpose()
    }

    pub(super) async fn delete_site(
        client: &impl GenericClient,
        domain: &str,
    ) -> StoreResult<bool> {
        let stmt = client
            .prepare_cached("DELETE FROM sites WHERE domain = $1")
            .await
            .map_err(db)?;
        Ok(client.execute(&stmt, &[&domain]).await.map_err(db)? > 0)
    }

    pub(super) async fn backup(
        client: &impl GenericClient,
        website_id: Uuid,
        backup_id: &str,
    ) -> StoreResult<Option<Backup>> {
        let stmt = client
            .prepare_cached(
                "SELECT website_id, backup_id, status, progress, error_message, metadata, \
                        created_at, updated_at, finished_at
                 FROM backups WHERE website_id = $1 AND backup_id = $2",
            )
            .await
            .map_err(db)?;
        let row = client
            .query_opt(&stmt, &[&website_id, &backup_id])
            .await
            .map_err(db)?;
        row.as_ref().map(Backup::try_from).transpose()
    }

    /// Newest first, then by the id's bytes.
    pub(super) async fn backups(
        client: &impl GenericClient,
        website_id: Uuid,
    ) -> StoreResult<Vec<Backup>> {
        let stmt = client
            .prepare_cached(
                "SELECT website_id, backup_id, status, progress, error_message, metadata, \
                        created_at, updated_at, finished_at
                 FROM backups WHERE website_id = $1
                 ORDER BY created_at DESC, backup_id COLLATE \"C\"",
            )
            .await
            .map_err(db)?;
        let rows = client.query(&stmt, &[&website_id]).await.map_err(db)?;
        rows.iter().map(Backup::try_from).collect()
    }

    /// Upsert from a webhook: status, progress and `updated_at` replaced; the error message only
    /// when one is given; `finished_at` set once, when the status becomes final.
    pub(super) async fn record_backup(
        client: &impl GenericClient,
        write: &BackupWrite,
    ) -> StoreResult<()> {
        let stmt = client
            .prepare_cached(
                "INSERT INTO backups AS b (website_id, backup_id, status, progress, error_message, \
                                           metadata, created_at, updated_at, finished_at)
                 VALUES ($1, $2, $3::text, $4, $5, NULL, $6::timestamptz, $6::timestamptz,
                         CASE WHEN $3::text IN ('completed', 'failed') THEN $6::timestamptz END)
                 ON CONFLICT (website_id, backup_id) DO UPDATE SET
                     status = EXCLUDED.status,
                     progress = EXCLUDED.progress,
                     error_message = COALESCE(EXCLUDED.error_message, b.error_message),
                     updated_at = EXCLUDED.updated_at,
                     finished_at = COALESCE(b.finished_at, EXCLUDED.finished_at)",
            )
            .await
            .map_err(db)?;
        let progress = i16::from(write.progress);
        client
            .execute(
                &stmt,
                &[
                    &write.website_id,
                    &write.backup_id,
                    &write.status,
                    &progress,
                    &write.error_message,
                    &write.at,
                ],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    /// Upsert of one entry of the plugin's list. A new row takes the given status or
    /// `completed`; an existing one keeps its status when none is given. `completed` forces
    /// progress 100, otherwise progress is left alone (never lowered). `metadata` is replaced,
    /// `finished_at` set once when the status is final.
    pub(super) async fn sync_backup(
        client: &impl GenericClient,
        website_id: Uuid,
        item: &SyncedBackup,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let stmt = client
            .prepare_cached(
                "INSERT INTO backups AS b (website_id, backup_id, status, progress, error_message, \
                                           metadata, created_at, updated_at, finished_at)
                 VALUES ($1, $2, COALESCE($3::text, 'completed'),
                         CASE WHEN COALESCE($3::text, 'completed') = 'completed'
                              THEN 100 ELSE 0 END,
                         NULL, $4::jsonb, $5::timestamptz, $5::timestamptz,
                         CASE WHEN COALESCE($3::text, 'completed') IN ('completed', 'failed')
                              THEN $5::timestamptz END)
                 ON CONFLICT (website_id, backup_id) DO UPDATE SET
                     status = COALESCE($3::text, b.status),
                     progress = CASE WHEN COALESCE($3::text, b.status) = 'completed'
                                     THEN 100 ELSE b.progress END,
                     metadata = EXCLUDED.metadata,
                     updated_at = EXCLUDED.updated_at,
                     finished_at = COALESCE(
                         b.finished_at,
                         CASE WHEN COALESCE($3::text, b.status) IN ('completed', 'failed')
                              THEN $5::timestamptz END)",
            )
            .await
            .map_err(db)?;
        client
            .execute(
                &stmt,
                &[
                    &website_id,
                    &item.backup_id,
                    &item.status,
                    &item.metadata,
                    &at,
                ],
            )
            .await
            .map_err(db)?;
        Ok(())
    }
}
