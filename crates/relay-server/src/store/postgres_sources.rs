//! Webhook sources and their inbox in `PgStore` (tables of `migrations/0003_sources.sql`), with
//! the semantics of the memory store (`memory_sources.rs`).
//!
//! Deduplication is one statement: an upsert of `source_dedup` that only renews a key older than
//! the window, feeding the inbox insert through a CTE. Concurrent requests with one key serialize
//! on the key's row; exactly one of them inserts. The processor leases pending rows with
//! `FOR UPDATE SKIP LOCKED`, so several nodes never take the same row at once.

use std::{collections::BTreeMap, time::Duration};

use chrono::{DateTime, Utc};
use tokio_postgres::{types::Json, Row};

use super::{
    memory_queue::lease_until,
    postgres::{chain, db},
    PgStore, StoreError, StoreResult,
};
use crate::sources::model::{
    Accepted, InboxItem, InboxState, NewInboxItem, NewSource, Source, SourceKind, SourcePatch,
    SourceStatus,
};

const SOURCE_COLUMNS: &str = "id, kind, domain, secret, status, created_at, updated_at";
const INBOX_COLUMNS: &str =
    "id, source_id, dedup_key, body, headers, received_at, state, reason, processed_at";

fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

impl PgStore {
    pub(super) async fn create_source(
        &self,
        new: &NewSource,
        at: DateTime<Utc>,
    ) -> StoreResult<Source> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "INSERT INTO sources (kind, domain, secret, status, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $5) RETURNING {SOURCE_COLUMNS}"
            ))
            .await
            .map_err(db)?;
        let row = client
            .query_one(
                &stmt,
                &[
                    &new.kind.as_str(),
                    &new.domain,
                    &new.secret,
                    &new.status.as_str(),
                    &at,
                ],
            )
            .await
            .map_err(db)?;
        Source::try_from(&row)
    }

    pub(super) async fn sources(&self) -> StoreResult<Vec<Source>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!("SELECT {SOURCE_COLUMNS} FROM sources ORDER BY id"))
            .await
            .map_err(db)?;
        let rows = client.query(&stmt, &[]).await.map_err(db)?;
        rows.iter().map(Source::try_from).collect()
    }

    pub(super) async fn source(&self, id: i64) -> StoreResult<Option<Source>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {SOURCE_COLUMNS} FROM sources WHERE id = $1"
            ))
            .await
            .map_err(db)?;
        let row = client.query_opt(&stmt, &[&id]).await.map_err(db)?;
        row.as_ref().map(Source::try_from).transpose()
    }

    pub(super) async fn update_source(
        &self,
        id: i64,
        patch: &SourcePatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Source>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "UPDATE sources SET
                     kind = COALESCE($2, kind),
                     domain = COALESCE($3, domain),
                     secret = COALESCE($4, secret),
                     status = COALESCE($5, status),
                     updated_at = $6
                 WHERE id = $1 RETURNING {SOURCE_COLUMNS}"
            ))
            .await
            .map_err(db)?;
        let row = client
            .query_opt(
                &stmt,
                &[
                    &id,
                    &patch.kind.map(SourceKind::as_str),
                    &patch.domain,
                    &patch.secret,
                    &patch.status.map(SourceStatus::as_str),
                    &at,
                ],
            )
            .await
            .map_err(db)?;
        row.as_ref().map(Source::try_from).transpose()
    }

    pub(super) async fn delete_source(&self, id: i64) -> StoreResult<bool> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("DELETE FROM sources WHERE id = $1")
            .await
            .map_err(db)?;
        Ok(client.execute(&stmt, &[&id]).await.map_err(db)? > 0)
    }

    pub(super) async fn accept_inbox(
        &self,
        item: &NewInboxItem,
        dedup_since: DateTime<Utc>,
    ) -> StoreResult<Accepted> {
        if item.state == InboxState::Processed {
            return Err(StoreError::Db("an inbox row cannot start processed".into()));
        }
        let client = self.client().await?;
        let dedup = item.state == InboxState::Pending && item.dedup_key.is_some();
        let row = if dedup {
            let stmt = client
                .prepare_cached(
                    "WITH seen AS (
                         INSERT INTO source_dedup AS d (source_id, dedup_key, seen_at)
                         VALUES ($1, $2, $5)
                         ON CONFLICT (source_id, dedup_key) DO UPDATE SET seen_at = EXCLUDED.seen_at
                         WHERE d.seen_at < $8
                         RETURNING 1)
                     INSERT INTO source_inbox
                         (source_id, dedup_key, body, headers, received_at, state, reason)
                     SELECT $1, $2, $3, $4, $5, $6, $7 FROM seen
                     RETURNING id",
                )
                .await
                .map_err(db)?;
            client
                .query_opt(
                    &stmt,
                    &[
                        &item.source_id,
                        &item.dedup_key,
                        &item.body,
                        &Json(&item.headers),
                        &item.received_at,
                        &item.state.as_str(),
                        &item.reason,
                        &dedup_since,
                    ],
                )
                .await
        } else {
            let stmt = client
                .prepare_cached(
                    "INSERT INTO source_inbox
                         (source_id, dedup_key, body, headers, received_at, state, reason)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     RETURNING id",
                )
                .await
                .map_err(db)?;
            client
                .query_opt(
                    &stmt,
                    &[
                        &item.source_id,
                        &item.dedup_key,
                        &item.body,
                        &Json(&item.headers),
                        &item.received_at,
                        &item.state.as_str(),
                        &item.reason,
                    ],
                )
                .await
        };
        match row.map_err(db)? {
            Some(row) => Ok(Accepted::New(row.try_get("id").map_err(db)?)),
            None => Ok(Accepted::Duplicate),
        }
    }

    pub(super) async fn claim_inbox(
        &self,
        now: DateTime<Utc>,
        received_before: DateTime<Utc>,
        limit: usize,
        lease_for: Duration,
    ) -> StoreResult<Vec<InboxItem>> {
        let until = lease_until(now, lease_for)?;
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "WITH c AS (
                     SELECT id FROM source_inbox
                     WHERE state = 'pending' AND received_at <= $2
                       AND (lease_until IS NULL OR lease_until < $1)
                     ORDER BY id
                     LIMIT $3
                     FOR UPDATE SKIP LOCKED)
                 UPDATE source_inbox i SET lease_until = $4
                 FROM c WHERE i.id = c.id
                 RETURNING {}",
                INBOX_COLUMNS
                    .split(", ")
                    .map(|c| format!("i.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .await
            .map_err(db)?;
        let rows = client
            .query(&stmt, &[&now, &received_before, &sql_limit(limit), &until])
            .await
            .map_err(db)?;
        let mut items = rows
            .iter()
            .map(InboxItem::try_from)
            .collect::<StoreResult<Vec<_>>>()?;
        items.sort_by_key(|item| item.id);
        Ok(items)
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
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "UPDATE source_inbox
                 SET state = $2, reason = $3, processed_at = $4, lease_until = NULL
                 WHERE id = $1 AND state = 'pending'",
            )
            .await
            .map_err(db)?;
        let n = client
            .execute(&stmt, &[&id, &state.as_str(), &reason, &at])
            .await
            .map_err(db)?;
        Ok(n > 0)
    }

    pub(super) async fn inbox(&self, source_id: i64, limit: usize) -> StoreResult<Vec<InboxItem>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {INBOX_COLUMNS} FROM source_inbox WHERE source_id = $1
                 ORDER BY id DESC LIMIT $2"
            ))
            .await
            .map_err(db)?;
        let rows = client
            .query(&stmt, &[&source_id, &sql_limit(limit)])
            .await
            .map_err(db)?;
        rows.iter().map(InboxItem::try_from).collect()
    }

    pub(super) async fn inbox_pending(&self) -> StoreResult<u64> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("SELECT COUNT(*) AS n FROM source_inbox WHERE state = 'pending'")
            .await
            .map_err(db)?;
        let n: i64 = client
            .query_one(&stmt, &[])
            .await
            .map_err(db)?
            .try_get("n")
            .map_err(db)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    pub(super) async fn purge_inbox(
        &self,
        finished_before: DateTime<Utc>,
        dedup_before: DateTime<Utc>,
        batch: usize,
    ) -> StoreResult<usize> {
        let client = self.client().await?;
        let rows = client
            .prepare_cached(
                "DELETE FROM source_inbox WHERE id IN (
                     SELECT id FROM source_inbox
                     WHERE state <> 'pending' AND received_at < $1
                     ORDER BY id LIMIT $2)",
            )
            .await
            .map_err(db)?;
        let deleted = client
            .execute(&rows, &[&finished_before, &sql_limit(batch)])
            .await
            .map_err(db)?;
        let keys = client
            .prepare_cached("DELETE FROM source_dedup WHERE seen_at < $1")
            .await
            .map_err(db)?;
        client.execute(&keys, &[&dedup_before]).await.map_err(db)?;
        Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
    }
}

fn bad_value(what: &str, value: &str) -> StoreError {
    StoreError::Db(format!("unexpected {what} {value:?} in the database"))
}

impl TryFrom<&Row> for Source {
    type Error = StoreError;

    fn try_from(row: &Row) -> StoreResult<Source> {
        let kind: String = row.try_get("kind").map_err(db)?;
        let status: String = row.try_get("status").map_err(db)?;
        Ok(Source {
            id: row.try_get("id").map_err(db)?,
            kind: SourceKind::from_name(&kind).ok_or_else(|| bad_value("source kind", &kind))?,
            domain: row.try_get("domain").map_err(db)?,
            secret: row.try_get("secret").map_err(db)?,
            status: SourceStatus::from_name(&status)
                .ok_or_else(|| bad_value("source status", &status))?,
            created_at: row.try_get("created_at").map_err(db)?,
            updated_at: row.try_get("updated_at").map_err(db)?,
        })
    }
}

impl TryFrom<&Row> for InboxItem {
    type Error = StoreError;

    fn try_from(row: &Row) -> StoreResult<InboxItem> {
        let state: String = row.try_get("state").map_err(db)?;
        let Json(headers): Json<BTreeMap<String, String>> = row
            .try_get("headers")
            .map_err(|e| StoreError::Db(format!("inbox headers: {}", chain(&e))))?;
        Ok(InboxItem {
            id: row.try_get("id").map_err(db)?,
            source_id: row.try_get("source_id").map_err(db)?,
            dedup_key: row.try_get("dedup_key").map_err(db)?,
            body: row.try_get("body").map_err(db)?,
            headers,
            received_at: row.try_get("received_at").map_err(db)?,
            state: InboxState::from_name(&state).ok_or_else(|| bad_value("inbox state", &state))?,
            reason: row.try_get("reason").map_err(db)?,
            processed_at: row.try_get("processed_at").map_err(db)?,
        })
    }
}
