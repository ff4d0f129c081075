//! Webhook sources and their inbox in `MemoryStore`: the semantics of
//! `migrations/0003_sources.sql` and `postgres_sources.rs`, in process memory (not durable).
//! Timestamps are truncated to microseconds, as PostgreSQL keeps them.

use std::{
    collections::{BTreeMap, HashMap},
    time::Duration,
};

use chrono::{DateTime, Utc};

use super::{
    memory_queue::{lease_until, micros},
    MemoryStore, StoreError, StoreResult,
};
use crate::sources::model::{
    Accepted, InboxItem, InboxState, NewInboxItem, NewSource, Source, SourcePatch,
};

#[derive(Debug)]
struct Row {
    item: InboxItem,
    lease_until: Option<DateTime<Utc>>,
}

/// The sources, inbox rows and seen dedup keys.
#[derive(Debug, Default)]
pub(crate) struct Sources {
    sources: BTreeMap<i64, Source>,
    last_source_id: i64,
    inbox: BTreeMap<i64, Row>,
    last_inbox_id: i64,
    /// `(source id, key)` → when the key was last accepted.
    seen: HashMap<(i64, String), DateTime<Utc>>,
}

impl MemoryStore {
    pub(super) async fn create_source(
        &self,
        new: &NewSource,
        at: DateTime<Utc>,
    ) -> StoreResult<Source> {
        let mut s = self.sources.lock();
        s.last_source_id += 1;
        let source = Source {
            id: s.last_source_id,
            kind: new.kind,
            domain: new.domain.clone(),
            secret: new.secret.clone(),
            status: new.status,
            created_at: micros(at),
            updated_at: micros(at),
        };
        s.sources.insert(source.id, source.clone());
        Ok(source)
    }

    pub(super) async fn sources(&self) -> StoreResult<Vec<Source>> {
        Ok(self.sources.lock().sources.values().cloned().collect())
    }

    pub(super) async fn source(&self, id: i64) -> StoreResult<Option<Source>> {
        Ok(self.sources.lock().sources.get(&id).cloned())
    }

    pub(super) async fn update_source(
        &self,
        id: i64,
        patch: &SourcePatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Source>> {
        let mut s = self.sources.lock();
        let Some(source) = s.sources.get_mut(&id) else {
            return Ok(None);
        };
        if let Some(kind) = patch.kind {
            source.kind = kind;
        }
        if let Some(domain) = &patch.domain {
            source.domain = domain.clone();
        }
        if let Some(secret) = &patch.secret {
            source.secret = secret.clone();
        }
        if let Some(status) = patch.status {
            source.status = status;
        }
        source.updated_at = micros(at);
        Ok(Some(source.clone()))
    }

    pub(super) async fn delete_source(&self, id: i64) -> StoreResult<bool> {
        let mut s = self.sources.lock();
        if s.sources.remove(&id).is_none() {
            return Ok(false);
        }
        s.inbox.retain(|_, row| row.item.source_id != id);
        s.seen.retain(|(source_id, _), _| *source_id != id);
        Ok(true)
    }

    pub(super) async fn accept_inbox(
        &self,
        item: &NewInboxItem,
        dedup_since: DateTime<Utc>,
    ) -> StoreResult<Accepted> {
        let mut s = self.sources.lock();
        if !s.sources.contains_key(&item.source_id) {
            return Err(StoreError::Db(format!("no source {}", item.source_id)));
        }
        if item.state == InboxState::Processed {
            return Err(StoreError::Db("an inbox row cannot start processed".into()));
        }
        let received_at = micros(item.received_at);
        if item.state == InboxState::Pending {
            if let Some(key) = &item.dedup_key {
                let entry = s.seen.entry((item.source_id, key.clone()));
                match entry {
                    std::collections::hash_map::Entry::Occupied(mut seen) => {
                        if *seen.get() >= micros(dedup_since) {
                            return Ok(Accepted::Duplicate);
                        }
                        seen.insert(received_at);
                    }
                    std::collections::hash_map::Entry::Vacant(v) => {
                        v.insert(received_at);
                    }
                }
            }
        }
        s.last_inbox_id += 1;
        let id = s.last_inbox_id;
        s.inbox.insert(
            id,
            Row {
                item: InboxItem {
                    id,
                    source_id: item.source_id,
                    dedup_key: item.dedup_key.clone(),
                    body: item.body.clone(),
                    headers: item.headers.clone(),
                    received_at,
                    state: item.state,
                    reason: item.reason.clone(),
                    processed_at: None,
                },
                lease_until: None,
            },
        );
        Ok(Accepted::New(id))
    }

    pub(super) async fn claim_inbox(
        &self,
        now: DateTime<Utc>,
        received_before: DateTime<Utc>,
        limit: usize,
        lease_for: Duration,
    ) -> StoreResult<Vec<InboxItem>> {
        let until = lease_until(now, lease_for)?;
        let now = micros(now);
        let received_before = micros(received_before);
        let mut s = self.sources.lock();
        let mut claimed = Vec::new();
        for row in s.inbox.values_mut() {
            if claimed.len() >= limit {
                break;
            }
            if row.item.state == InboxState::Pending
                && row.item.received_at <= received_before
                && row.lease_until.is_none_or(|t| t < now)
            {
                row.lease_until = Some(until);
                claimed.push(row.item.clone());
            }
        }
        Ok(claimed)
    }

    pub(super) async fn finish_inbox(
        &self,
        id: i64,
        state: InboxState,
        reason: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        if state == InboxState::Pending {
            return Err(StoreError::Db("an inbox row cannot finish pending".into()));
        }
        let mut s = self.sources.lock();
        match s.inbox.get_mut(&id) {
            Some(row) if row.item.state == InboxState::Pending => {
                row.item.state = state;
                row.item.reason = reason.map(str::to_owned);
                row.item.processed_at = Some(micros(at));
                row.lease_until = None;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    pub(super) async fn inbox(&self, source_id: i64, limit: usize) -> StoreResult<Vec<InboxItem>> {
        Ok(self
            .sources
            .lock()
            .inbox
            .values()
            .rev()
            .filter(|row| row.item.source_id == source_id)
            .take(limit)
            .map(|row| row.item.clone())
            .collect())
    }

    pub(super) async fn inbox_pending(&self) -> StoreResult<u64> {
        let s = self.sources.lock();
        let n = s
            .inbox
            .values()
            .filter(|row| row.item.state == InboxState::Pending)
            .count();
        Ok(n as u64)
    }

    pub(super) async fn purge_inbox(
        &self,
        finished_before: DateTime<Utc>,
        dedup_before: DateTime<Utc>,
        batch: usize,
    ) -> StoreResult<usize> {
        let finished_before = micros(finished_before);
        let dedup_before = micros(dedup_before);
        let mut s = self.sources.lock();
        let doomed: Vec<i64> = s
            .inbox
            .values()
            .filter(|row| {
                row.item.state != InboxState::Pending && row.item.received_at < finished_before
            })
            .map(|row| row.item.id)
            .take(batch)
            .collect();
        for id in &doomed {
            s.inbox.remove(id);
        }
        s.seen.retain(|_, seen| *seen >= dedup_before);
        Ok(doomed.len())
    }
}
