//! Incoming webhooks of the WordPress plugins (issue 8): Fluent Community (seed 002), Fast
//! Events (seed 004) and any Standard Webhooks sender.
//!
//! A **source** (`/admin/sources`, [`admin_api`]) names a sender, its secret and the site it
//! belongs to. Its requests arrive at `POST /hooks/{id}` ([`receive`]): verified as the kind
//! requires ([`verify`]), deduplicated by delivery key, recorded in the **inbox** (durable with
//! PostgreSQL) and answered at once. The [`processor`] then broadcasts each on the site's
//! channel (`[ingest] channel_prefix` + website id, in the ingestion app) as
//! `fluent_community.<event>`, `fast_events.<topic>` or `standard_webhooks.<type>`, with the
//! body exactly as received, and fans it out to subscriber webhooks.

pub mod admin_api;
pub mod model;
pub mod processor;
pub mod receive;
pub mod verify;

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::store::{Store, StoreResult};
use model::Source;

/// How long a looked-up source (or its absence) is reused by `POST /hooks/{id}`. Changes made
/// through this node's admin API apply at once; other nodes see them within this time.
pub const SOURCE_CACHE_TTL: Duration = Duration::from_secs(1);

/// Per-process state of the sources: the processor's wake-up signal and a short-lived cache of
/// sources, so a burst of requests does not look the same source up once per request.
#[derive(Debug, Default)]
pub struct Runtime {
    /// Notified when a request was recorded in the inbox.
    pub signal: Notify,
    cache: Mutex<HashMap<i64, (Instant, Option<Source>)>>,
}

impl Runtime {
    /// The source `id`, from the cache when looked up less than [`SOURCE_CACHE_TTL`] ago.
    pub async fn source(&self, store: &Store, id: i64) -> StoreResult<Option<Source>> {
        if let Some((at, source)) = self.cache.lock().get(&id) {
            if at.elapsed() < SOURCE_CACHE_TTL {
                return Ok(source.clone());
            }
        }
        let source = store.source(id).await?;
        let mut cache = self.cache.lock();
        if cache.len() > 10_000 {
            cache.retain(|_, (at, _)| at.elapsed() < SOURCE_CACHE_TTL);
        }
        cache.insert(id, (Instant::now(), source.clone()));
        Ok(source)
    }

    /// Forgets a cached source (after an admin change).
    pub fn forget(&self, id: i64) {
        self.cache.lock().remove(&id);
    }
}
