//! The inbox processor: takes `pending` inbox rows, broadcasts each on its site's channel with
//! its namespaced event name and its body exactly as received, fans it out to subscriber
//! webhooks, and marks it `processed` (or `dropped`, with a reason).
//!
//! One task per process. Rows are leased (`FOR UPDATE SKIP LOCKED` in PostgreSQL), so several
//! nodes share the inbox without taking a row twice; a row whose node died is taken again when
//! its lease ends. Rows are broadcast in the order they were accepted. Delivery is at least
//! once: a crash after the broadcast and before the row is marked broadcasts it again on
//! restart (the window is the few milliseconds between the two). With PostgreSQL the inbox is
//! durable: rows answered 200 and not yet broadcast are broadcast after a restart.

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::{TimeDelta, Utc};
use futures_util::future::join_all;

use super::model::{InboxItem, InboxState, Source};
use crate::{
    state::AppState,
    store::{Site, StoreError},
};

/// Rows taken per claim.
const BATCH: usize = 200;
/// How long a claimed row is reserved for this process.
const LEASE: Duration = Duration::from_secs(30);
/// The longest the processor sleeps without looking at the inbox (rows accepted by other
/// nodes, delayed rows, expired leases).
const POLL_EVERY: Duration = Duration::from_millis(250);
/// How often old rows and dedup keys are purged.
const PURGE_EVERY: Duration = Duration::from_secs(600);
/// Rows deleted per purge statement.
const PURGE_BATCH: usize = 1000;

/// Starts the processor.
pub fn spawn(state: Arc<AppState>) {
    tokio::spawn(run(state));
}

async fn run(state: Arc<AppState>) {
    let cfg = state.config.sources.clone();
    let delay = TimeDelta::milliseconds(i64::try_from(cfg.processing_delay_ms).unwrap_or(0));
    if cfg.processing_delay_ms > 0 {
        tracing::warn!(
            delay_ms = cfg.processing_delay_ms,
            "[sources] processing_delay_ms is set: accepted webhooks are broadcast late"
        );
    }
    let mut next_purge = tokio::time::Instant::now() + PURGE_EVERY;
    loop {
        let now = Utc::now();
        match state
            .store
            .claim_inbox(now, now - delay, BATCH, LEASE)
            .await
        {
            Ok(items) if !items.is_empty() => {
                let full = items.len() == BATCH;
                process(&state, items).await;
                if full {
                    continue;
                }
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "could not claim source inbox rows; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        if tokio::time::Instant::now() >= next_purge {
            next_purge = tokio::time::Instant::now() + PURGE_EVERY;
            purge(&state).await;
        }
        tokio::select! {
            () = state.sources.signal.notified() => {}
            () = tokio::time::sleep(POLL_EVERY) => {}
        }
    }
}

async fn purge(state: &AppState) {
    let cfg = &state.config.sources;
    let now = Utc::now();
    let keep = TimeDelta::days(i64::try_from(cfg.retention_days).unwrap_or(36500));
    let window =
        TimeDelta::seconds(i64::try_from(cfg.dedup_window_secs).unwrap_or(i64::MAX / 1000));
    loop {
        match state
            .store
            .purge_inbox(now - keep, now - window, PURGE_BATCH)
            .await
        {
            Ok(n) if n == PURGE_BATCH => continue,
            Ok(_) => break,
            Err(error) => {
                tracing::warn!(%error, "could not purge the source inbox");
                break;
            }
        }
    }
}

/// Where a row goes: its event name, the site, and the body as text.
struct Ready {
    item: InboxItem,
    event: String,
    site: Site,
    text: String,
}

/// Broadcasts a batch in order, then fans out and marks the rows concurrently.
async fn process(state: &AppState, items: Vec<InboxItem>) {
    let mut sources: HashMap<i64, Option<Source>> = HashMap::new();
    let mut sites: HashMap<String, Option<Site>> = HashMap::new();
    let mut ready = Vec::with_capacity(items.len());
    let mut dropped = Vec::new();
    for item in items {
        match prepare(state, &mut sources, &mut sites, item).await {
            Ok(Ok(r)) => ready.push(r),
            Ok(Err((item, reason))) => dropped.push((item, reason)),
            // The store failed: leave the row pending; it is taken again after its lease.
            Err(error) => tracing::warn!(%error, "could not prepare a source inbox row"),
        }
    }
    for r in &ready {
        match crate::ingest::site_channel(state, &r.site)
            .and_then(|channel| crate::ingest::broadcast(state, &channel, &r.event, &r.text))
        {
            Ok(()) => {}
            Err(failure) => tracing::error!(?failure, "could not broadcast a source event"),
        }
    }
    let finish_ready = ready.iter().map(|r| async move {
        let data = if serde_json::from_str::<serde::de::IgnoredAny>(&r.text).is_ok() {
            std::borrow::Cow::Borrowed(r.text.as_str())
        } else {
            std::borrow::Cow::Owned(crate::webhooks::json_string(&r.text))
        };
        crate::webhooks::dispatcher::publish_event(
            state,
            &r.event,
            r.site.website_id,
            &r.site.domain,
            &data,
        )
        .await;
        finish(state, &r.item, InboxState::Processed, None).await;
        state
            .metrics
            .count("relay_source_events_total", "broadcast");
    });
    let finish_dropped = dropped.iter().map(|(item, reason)| async move {
        tracing::warn!(
            inbox_id = item.id,
            source_id = item.source_id,
            reason = %reason,
            "source event dropped"
        );
        finish(state, item, InboxState::Dropped, Some(reason)).await;
        state.metrics.count("relay_source_events_total", "dropped");
    });
    join_all(finish_ready).await;
    join_all(finish_dropped).await;
}

async fn finish(state: &AppState, item: &InboxItem, to: InboxState, reason: Option<&str>) {
    if let Err(error) = state
        .store
        .finish_inbox(item.id, to, reason, Utc::now())
        .await
    {
        tracing::warn!(%error, inbox_id = item.id, "could not mark a source inbox row");
    }
}

type Prepared = Result<Ready, (InboxItem, String)>;

async fn prepare(
    state: &AppState,
    sources: &mut HashMap<i64, Option<Source>>,
    sites: &mut HashMap<String, Option<Site>>,
    item: InboxItem,
) -> Result<Prepared, StoreError> {
    let source = match sources.get(&item.source_id) {
        Some(source) => source.clone(),
        None => {
            let source = state.store.source(item.source_id).await?;
            sources.insert(item.source_id, source.clone());
            source
        }
    };
    let Some(source) = source else {
        return Ok(Err((item, "the source was deleted".to_owned())));
    };
    let site = match sites.get(&source.domain) {
        Some(site) => site.clone(),
        None => {
            let site = state.store.site(&source.domain).await?;
            sites.insert(source.domain.clone(), site.clone());
            site
        }
    };
    let Some(site) = site else {
        let reason = format!(
            "no site {} (register it with POST /admin/sites)",
            source.domain
        );
        return Ok(Err((item, reason)));
    };
    let event = match super::verify::event_name(source.kind, &item.headers, &item.body) {
        Ok(event) => event,
        Err(why) => return Ok(Err((item, why.to_owned()))),
    };
    let Ok(text) = String::from_utf8(item.body.clone()) else {
        return Ok(Err((item, "the body is not UTF-8".to_owned())));
    };
    Ok(Ok(Ready {
        item,
        event,
        site,
        text,
    }))
}
