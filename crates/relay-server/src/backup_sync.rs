//! Backup records that never fail a webhook: writes that the store refuses are retried in the
//! background (newest write per backup wins), and after `backup-complete` the site's backup list
//! is fetched from the plugin's API and upserted.

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::Utc;
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::{
    metrics::Metrics,
    state::AppState,
    store::{BackupWrite, Site, Store, SyncedBackup},
};

/// Most backups waiting for a retried write; beyond it a write is dropped and logged.
pub const MAX_PENDING_WRITES: usize = 10_000;

/// Writes backup records, retrying failed writes in the background.
#[derive(Debug)]
pub struct BackupWriter {
    store: Store,
    metrics: Arc<Metrics>,
    pending: Mutex<HashMap<(Uuid, String), BackupWrite>>,
    wake: Notify,
}

impl BackupWriter {
    /// A writer over `store`; call [`BackupWriter::run`] once in the background.
    pub fn new(store: Store, metrics: Arc<Metrics>) -> BackupWriter {
        BackupWriter {
            store,
            metrics,
            pending: Mutex::new(HashMap::new()),
            wake: Notify::new(),
        }
    }

    /// Records a write now, or queues it for retry. Never fails; later writes of a backup with a
    /// pending retry replace it, so an old state never overwrites a newer one.
    pub async fn record(&self, write: BackupWrite) {
        let key = (write.website_id, write.backup_id.clone());
        {
            let mut pending = self.pending.lock();
            if let Some(queued) = pending.get_mut(&key) {
                *queued = write;
                return;
            }
        }
        if let Err(error) = self.store.record_backup(&write).await {
            tracing::error!(%error, backup_id = %write.backup_id, "backup write failed; will retry");
            self.metrics.count("relay_backup_write_failures_total", "");
            self.queue(key, write);
        }
    }

    fn queue(&self, key: (Uuid, String), write: BackupWrite) {
        let mut pending = self.pending.lock();
        if pending.len() >= MAX_PENDING_WRITES && !pending.contains_key(&key) {
            tracing::error!(backup_id = %write.backup_id, "too many pending backup writes; dropping one");
            return;
        }
        pending.insert(key, write);
        self.wake.notify_one();
    }

    /// Backups waiting for a retried write.
    pub fn pending(&self) -> usize {
        self.pending.lock().len()
    }

    /// Retries pending writes with an exponential back-off (1 s doubling to 60 s) until they
    /// succeed.
    pub async fn run(self: Arc<Self>) {
        let mut delay = Duration::from_secs(1);
        loop {
            if self.pending.lock().is_empty() {
                self.wake.notified().await;
                delay = Duration::from_secs(1);
            }
            tokio::time::sleep(delay).await;
            let batch: Vec<BackupWrite> = self.pending.lock().values().cloned().collect();
            let mut failed = false;
            for write in batch {
                match self.store.record_backup(&write).await {
                    Ok(()) => {
                        let key = (write.website_id, write.backup_id.clone());
                        let mut pending = self.pending.lock();
                        // Only if no newer write replaced it meanwhile.
                        if pending.get(&key) == Some(&write) {
                            pending.remove(&key);
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "backup write retry failed");
                        self.metrics.count("relay_backup_write_failures_total", "");
                        failed = true;
                        break;
                    }
                }
            }
            delay = if failed {
                (delay * 2).min(Duration::from_secs(60))
            } else {
                Duration::from_secs(1)
            };
        }
    }
}

/// Fetches the site's backup list from the plugin in the background (3 attempts).
pub fn spawn(state: Arc<AppState>, site: Site) {
    if state.config.backup_sync.url_template.is_empty() {
        return;
    }
    tokio::spawn(async move {
        for attempt in 0..3u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_secs(2u64.pow(attempt))).await;
            }
            match sync(&state, &site).await {
                Ok(count) => {
                    tracing::info!(domain = %site.domain, count, "backup list synchronized");
                    state.metrics.count("relay_backup_syncs_total", "ok");
                    return;
                }
                Err(error) => {
                    tracing::warn!(domain = %site.domain, %error, attempt, "backup list sync failed");
                    state
                        .metrics
                        .count("relay_backup_syncs_total", error.outcome());
                }
            }
        }
    });
}

/// Why a sync failed.
#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error("request failed: {0}")]
    Http(String),
    #[error("plugin answered {0}")]
    Status(u16),
    #[error("response too large")]
    TooLarge,
    #[error("unusable response: {0}")]
    Garbage(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl SyncError {
    fn outcome(&self) -> &'static str {
        match self {
            SyncError::Http(_) => "http_error",
            SyncError::Status(_) => "bad_status",
            SyncError::TooLarge => "too_large",
            SyncError::Garbage(_) => "garbage",
            SyncError::Store(_) => "store_error",
        }
    }
}

async fn sync(state: &AppState, site: &Site) -> Result<usize, SyncError> {
    let cfg = &state.config.backup_sync;
    let url = cfg.url_template.replace("{domain}", &site.domain);
    let mut request = state
        .http
        .get(&url)
        .timeout(Duration::from_secs(cfg.timeout))
        .header("accept", "application/json");
    if let Some(key) = &cfg.api_key {
        request = request.header(cfg.api_key_header.as_str(), key);
    }
    let response = request
        .send()
        .await
        .map_err(|e| SyncError::Http(e.to_string()))?;
    if !response.status().is_success() {
        return Err(SyncError::Status(response.status().as_u16()));
    }
    let mut response = response;
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| SyncError::Http(e.to_string()))?
    {
        if body.len() + chunk.len() > cfg.max_response_bytes {
            return Err(SyncError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    let items = parse_backup_list(&body).map_err(SyncError::Garbage)?;
    Ok(state
        .store
        .sync_backups(site.website_id, &items, Utc::now())
        .await?)
}

/// Reads the plugin's backup list tolerantly: a bare array, or one under `backups`, `data`,
/// `data.backups` or `items`; each entry an object with an id under `backup_id`, `id`, `name`
/// or `file`. Entries without an id are skipped.
pub fn parse_backup_list(body: &[u8]) -> Result<Vec<SyncedBackup>, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let list = [
        Some(&value),
        value.get("backups"),
        value.get("data"),
        value.get("data").and_then(|d| d.get("backups")),
        value.get("items"),
    ]
    .into_iter()
    .flatten()
    .find_map(Value::as_array)
    .ok_or_else(|| "no backup list in the response".to_owned())?;
    Ok(list
        .iter()
        .filter_map(|item| {
            let id =
                ["backup_id", "id", "name", "file"]
                    .iter()
                    .find_map(|k| match item.get(k)? {
                        Value::String(s) if !s.is_empty() && s.len() <= 256 => Some(s.clone()),
                        Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    })?;
            let status = item
                .get("status")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty() && s.len() <= 64)
                .map(str::to_owned);
            Some(SyncedBackup {
                backup_id: id,
                status,
                metadata: item.clone(),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerant_parsing() {
        let ids = |body: &str| -> Vec<String> {
            parse_backup_list(body.as_bytes())
                .unwrap()
                .into_iter()
                .map(|b| b.backup_id)
                .collect()
        };
        assert_eq!(
            ids(r#"[{"id":"a"},{"backup_id":7},{"nothing":1},"x"]"#),
            ["a", "7"]
        );
        assert_eq!(ids(r#"{"backups":[{"name":"b"}]}"#), ["b"]);
        assert_eq!(
            ids(r#"{"success":true,"data":{"backups":[{"id":"c","status":"completed"}]}}"#),
            ["c"]
        );
        assert_eq!(ids(r#"{"data":[{"file":"d.zip"}]}"#), ["d.zip"]);
        assert!(parse_backup_list(b"<html>").is_err());
        assert!(parse_backup_list(br#"{"ok":true}"#).is_err());
        let list = parse_backup_list(br#"[{"id":"a","status":"failed","size":"1MB"}]"#).unwrap();
        assert_eq!(list[0].status.as_deref(), Some("failed"));
        assert_eq!(list[0].metadata["size"], "1MB");
    }
}
