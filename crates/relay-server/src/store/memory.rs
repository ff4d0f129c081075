//! The in-memory store: what `relay-server` uses without `DATABASE_URL`. Not durable.

use std::{collections::BTreeMap, sync::Arc};

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use tokio::sync::Notify;
use uuid::Uuid;

use super::{
    memory_queue::Queue, Backup, BackupWrite, Site, StoreError, StoreResult, SyncedBackup,
};

#[derive(Debug, Default)]
pub(super) struct Inner {
    sites: BTreeMap<String, Site>,
    backups: BTreeMap<(Uuid, String), Backup>,
    /// Subscriber webhooks and the delivery queue (`memory_queue.rs`).
    pub(super) queue: Queue,
}

/// Sites, backups, subscriber webhooks and the delivery queue in process memory.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    pub(super) inner: Arc<Mutex<Inner>>,
    /// Woken when deliveries become due (enqueue, redeliver, recover, reap).
    pub(super) signal: Arc<Notify>,
    /// Webhook sources and their inbox (`memory_sources.rs`).
    pub(super) sources: Arc<Mutex<super::memory_sources::Sources>>,
}

fn is_finished(status: &str) -> bool {
    matches!(status, "completed" | "failed")
}

impl MemoryStore {
    pub(super) async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }

    pub(super) async fn insert_site(&self, site: &Site) -> StoreResult<()> {
        let mut inner = self.inner.lock();
        if inner.sites.contains_key(&site.domain) {
            return Err(StoreError::Conflict(format!("site {}", site.domain)));
        }
        inner.sites.insert(site.domain.clone(), site.clone());
        Ok(())
    }

    pub(super) async fn sites(&self) -> StoreResult<Vec<Site>> {
        Ok(self.inner.lock().sites.values().cloned().collect())
    }

    pub(super) async fn site(&self, domain: &str) -> StoreResult<Option<Site>> {
        Ok(self.inner.lock().sites.get(domain).cloned())
    }

    pub(super) async fn delete_site(&self, domain: &str) -> StoreResult<bool> {
        Ok(self.inner.lock().sites.remove(domain).is_some())
    }

    pub(super) async fn backup(
        &self,
        website_id: Uuid,
        backup_id: &str,
    ) -> StoreResult<Option<Backup>> {
        Ok(self
            .inner
            .lock()
            .backups
            .get(&(website_id, backup_id.to_owned()))
            .cloned())
    }

    pub(super) async fn backups(&self, website_id: Uuid) -> StoreResult<Vec<Backup>> {
        let inner = self.inner.lock();
        let mut list: Vec<Backup> = inner
            .backups
            .values()
            .filter(|b| b.website_id == website_id)
            .cloned()
            .collect();
        list.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| a.backup_id.cmp(&b.backup_id))
        });
        Ok(list)
    }

    pub(super) async fn record_backup(&self, write: &BackupWrite) -> StoreResult<()> {
        let mut inner = self.inner.lock();
        let key = (write.website_id, write.backup_id.clone());
        let entry = inner.backups.entry(key).or_insert_with(|| Backup {
            website_id: write.website_id,
            backup_id: write.backup_id.clone(),
            status: write.status.clone(),
            progress: write.progress,
            error_message: None,
            metadata: None,
            created_at: write.at,
            updated_at: write.at,
            finished_at: None,
        });
        entry.status = write.status.clone();
        entry.progress = write.progress;
        if write.error_message.is_some() {
            entry.error_message = write.error_message.clone();
        }
        entry.updated_at = write.at;
        if is_finished(&write.status) {
            entry.finished_at.get_or_insert(write.at);
        }
        Ok(())
    }

    pub(super) async fn sync_backups(
        &self,
        website_id: Uuid,
        items: &[SyncedBackup],
        at: DateTime<Utc>,
    ) -> StoreResult<usize> {
        let mut inner = self.inner.lock();
        for item in items {
            let key = (website_id, item.backup_id.clone());
            let status = item.status.clone();
            let entry = inner.backups.entry(key).or_insert_with(|| Backup {
                website_id,
                backup_id: item.backup_id.clone(),
                status: status.clone().unwrap_or_else(|| "completed".into()),
                progress: 0,
                error_message: None,
                metadata: None,
                created_at: at,
                updated_at: at,
                finished_at: None,
            });
            if let Some(status) = status {
                entry.status = status;
            }
            if entry.status == "completed" {
                entry.progress = 100;
            }
            if is_finished(&entry.status) {
                entry.finished_at.get_or_insert(at);
            }
            entry.metadata = Some(item.metadata.clone());
            entry.updated_at = at;
        }
        Ok(items.len())
    }
}
