//! Webhook sources and their inbox (issue 8), one suite for both stores: every behaviour runs
//! against `Store::memory()` and against PostgreSQL on a fresh database (`relay_test_<hex>`,
//! created on the server named by `RELAY_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`, and dropped afterwards). Without a reachable
//! PostgreSQL the PostgreSQL cases are skipped, unless `CI` is set, where they fail.

use std::{collections::BTreeMap, time::Duration};

use chrono::{DateTime, Utc};
use relay_server::{
    sources::model::{
        Accepted, InboxState, NewInboxItem, NewSource, SourceKind, SourcePatch, SourceStatus,
    },
    store::Store,
};

#[macro_use]
mod common;

store_tests!(
    source_crud,
    source_ids_ascend_and_list_by_id,
    accept_and_dedup_within_window,
    dedup_is_per_source,
    dropped_items_never_claim_a_key,
    concurrent_duplicates_accept_once,
    claim_oldest_first_with_limit_and_cutoff,
    claimed_rows_are_leased,
    finish_processed_and_dropped,
    inbox_newest_first_and_pending_count,
    delete_source_removes_its_inbox,
    purge_finished_rows_and_old_keys,
    raw_body_and_headers_roundtrip,
);

// ---------------------------------------------------------------------------------------------
// Helpers

/// A whole second (PostgreSQL keeps microseconds; whole seconds compare equal everywhere).
fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + secs, 0).expect("valid timestamp")
}

fn new_source(kind: SourceKind, domain: &str) -> NewSource {
    NewSource {
        kind,
        domain: domain.to_owned(),
        secret: "s3cret-value".to_owned(),
        status: SourceStatus::Active,
    }
}

async fn source(store: &Store) -> i64 {
    store
        .create_source(&new_source(SourceKind::FastEvents, "example.com"), t(0))
        .await
        .expect("create source")
        .id
}

fn item(source_id: i64, key: Option<&str>, at: i64) -> NewInboxItem {
    NewInboxItem {
        source_id,
        dedup_key: key.map(str::to_owned),
        body: format!("{{\"n\":{at}}}").into_bytes(),
        headers: BTreeMap::from([("x-fe-webhook-topic".to_owned(), "order.created".to_owned())]),
        received_at: t(at),
        state: InboxState::Pending,
        reason: None,
    }
}

const WINDOW: i64 = 100;

/// Accepts `item` with the dedup window ending at its own time.
async fn accept(store: &Store, item: &NewInboxItem) -> Accepted {
    let since = item.received_at - chrono::TimeDelta::seconds(WINDOW);
    store.accept_inbox(item, since).await.expect("accept")
}

fn new_id(accepted: Accepted) -> i64 {
    match accepted {
        Accepted::New(id) => id,
        Accepted::Duplicate => panic!("unexpected duplicate"),
    }
}

const LEASE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// Behaviours

async fn source_crud(store: Store) {
    assert_eq!(store.source(1).await.expect("source"), None);
    let created = store
        .create_source(
            &new_source(SourceKind::FluentCommunity, "example.com"),
            t(1),
        )
        .await
        .expect("create");
    assert_eq!(created.id, 1);
    assert_eq!(created.kind, SourceKind::FluentCommunity);
    assert_eq!(created.domain, "example.com");
    assert_eq!(created.secret, "s3cret-value");
    assert_eq!(created.status, SourceStatus::Active);
    assert_eq!(created.created_at, t(1));
    assert_eq!(created.updated_at, t(1));
    assert_eq!(
        store.source(created.id).await.expect("source"),
        Some(created.clone())
    );

    let patch = SourcePatch {
        status: Some(SourceStatus::Inactive),
        secret: Some("rotated".to_owned()),
        ..SourcePatch::default()
    };
    let updated = store
        .update_source(created.id, &patch, t(5))
        .await
        .expect("update")
        .expect("exists");
    assert_eq!(updated.status, SourceStatus::Inactive);
    assert_eq!(updated.secret, "rotated");
    assert_eq!(updated.kind, SourceKind::FluentCommunity);
    assert_eq!(updated.domain, "example.com");
    assert_eq!(updated.created_at, t(1));
    assert_eq!(updated.updated_at, t(5));
    let moved = store
        .update_source(
            created.id,
            &SourcePatch {
                kind: Some(SourceKind::StandardWebhooks),
                domain: Some("other.example".to_owned()),
                ..SourcePatch::default()
            },
            t(6),
        )
        .await
        .expect("update")
        .expect("exists");
    assert_eq!(moved.kind, SourceKind::StandardWebhooks);
    assert_eq!(moved.domain, "other.example");
    assert_eq!(moved.secret, "rotated");
    assert_eq!(store.source(created.id).await.expect("source"), Some(moved));
    assert_eq!(
        store
            .update_source(99, &SourcePatch::default(), t(7))
            .await
            .expect("update"),
        None
    );

    assert!(store.delete_source(created.id).await.expect("delete"));
    assert!(!store.delete_source(created.id).await.expect("delete again"));
    assert_eq!(store.source(created.id).await.expect("source"), None);
}

async fn source_ids_ascend_and_list_by_id(store: Store) {
    let mut ids = Vec::new();
    for (i, kind) in SourceKind::ALL.into_iter().enumerate() {
        let domain = format!("site{i}.example");
        let s = store
            .create_source(&new_source(kind, &domain), t(i as i64))
            .await
            .expect("create");
        ids.push(s.id);
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    store.delete_source(ids[1]).await.expect("delete");
    let listed: Vec<(i64, SourceKind)> = store
        .sources()
        .await
        .expect("sources")
        .into_iter()
        .map(|s| (s.id, s.kind))
        .collect();
    assert_eq!(
        listed,
        vec![
            (ids[0], SourceKind::FluentCommunity),
            (ids[2], SourceKind::StandardWebhooks)
        ]
    );
    // a deleted id is not reused
    let next = store
        .create_source(&new_source(SourceKind::FastEvents, "x.example"), t(9))
        .await
        .expect("create");
    assert!(next.id > ids[2]);
}

async fn accept_and_dedup_within_window(store: Store) {
    let s = source(&store).await;
    let first = new_id(accept(&store, &item(s, Some("d-1"), 10)).await);
    // the same key within the window: nothing written
    assert_eq!(
        accept(&store, &item(s, Some("d-1"), 10 + WINDOW)).await,
        Accepted::Duplicate
    );
    assert_eq!(store.inbox(s, 10).await.expect("inbox").len(), 1);
    // another key
    let second = new_id(accept(&store, &item(s, Some("d-2"), 20)).await);
    assert!(second > first);
    // after the window the key is accepted again, and its time renewed
    let again = new_id(accept(&store, &item(s, Some("d-1"), 11 + WINDOW)).await);
    assert!(again > second);
    assert_eq!(
        accept(&store, &item(s, Some("d-1"), 12 + WINDOW)).await,
        Accepted::Duplicate
    );
    // no key: never deduplicated
    new_id(accept(&store, &item(s, None, 30)).await);
    new_id(accept(&store, &item(s, None, 30)).await);
    assert_eq!(store.inbox(s, 10).await.expect("inbox").len(), 5);
}

async fn dedup_is_per_source(store: Store) {
    let a = source(&store).await;
    let b = source(&store).await;
    new_id(accept(&store, &item(a, Some("same"), 1)).await);
    new_id(accept(&store, &item(b, Some("same"), 1)).await);
    assert_eq!(
        accept(&store, &item(b, Some("same"), 2)).await,
        Accepted::Duplicate
    );
}

async fn dropped_items_never_claim_a_key(store: Store) {
    let s = source(&store).await;
    // a forged request (dropped) with a real delivery id must not block the real one
    let mut forged = item(s, Some("d-1"), 1);
    forged.state = InboxState::Dropped;
    forged.reason = Some("invalid signature".to_owned());
    let forged_id = new_id(accept(&store, &forged).await);
    let again_id = new_id(accept(&store, &forged).await);
    assert_ne!(forged_id, again_id);
    let real = new_id(accept(&store, &item(s, Some("d-1"), 2)).await);
    let claimed = store
        .claim_inbox(t(3), t(3), 10, LEASE)
        .await
        .expect("claim");
    assert_eq!(claimed.iter().map(|i| i.id).collect::<Vec<_>>(), vec![real]);
    let listed = store.inbox(s, 10).await.expect("inbox");
    let dropped = listed.iter().find(|i| i.id == forged_id).expect("kept");
    assert_eq!(dropped.state, InboxState::Dropped);
    assert_eq!(dropped.reason.as_deref(), Some("invalid signature"));
    assert_eq!(dropped.dedup_key.as_deref(), Some("d-1"));
    // an item cannot start processed
    let mut processed = item(s, Some("d-9"), 4);
    processed.state = InboxState::Processed;
    assert!(store.accept_inbox(&processed, t(0)).await.is_err());
}

async fn concurrent_duplicates_accept_once(store: Store) {
    let s = source(&store).await;
    let tasks: Vec<_> = (0..24)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                // half of them share one key, the others have their own
                let key = if n % 2 == 0 {
                    "shared".to_owned()
                } else {
                    format!("own-{n}")
                };
                accept(&store, &item(s, Some(&key), 5)).await
            })
        })
        .collect();
    let mut new = 0;
    let mut duplicates = 0;
    for task in tasks {
        match task.await.expect("task") {
            Accepted::New(_) => new += 1,
            Accepted::Duplicate => duplicates += 1,
        }
    }
    assert_eq!((new, duplicates), (13, 11));
    assert_eq!(store.inbox_pending().await.expect("pending"), 13);
}

async fn claim_oldest_first_with_limit_and_cutoff(store: Store) {
    let s = source(&store).await;
    let ids: Vec<i64> = {
        let mut ids = Vec::new();
        for (n, at) in [10, 11, 12, 13, 20].into_iter().enumerate() {
            ids.push(new_id(
                accept(&store, &item(s, Some(&format!("k{n}")), at)).await,
            ));
        }
        ids
    };
    // received at or before the cutoff only, lowest id first, at most `limit`
    let first = store
        .claim_inbox(t(20), t(12), 2, LEASE)
        .await
        .expect("claim");
    assert_eq!(
        first.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![ids[0], ids[1]]
    );
    let second = store
        .claim_inbox(t(20), t(12), 10, LEASE)
        .await
        .expect("claim");
    assert_eq!(
        second.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![ids[2]]
    );
    let rest = store
        .claim_inbox(t(21), t(21), 10, LEASE)
        .await
        .expect("claim");
    assert_eq!(
        rest.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![ids[3], ids[4]]
    );
    assert!(store
        .claim_inbox(t(21), t(21), 10, LEASE)
        .await
        .expect("claim")
        .is_empty());
}

async fn claimed_rows_are_leased(store: Store) {
    let s = source(&store).await;
    let id = new_id(accept(&store, &item(s, Some("k"), 1)).await);
    let claimed = store
        .claim_inbox(t(2), t(2), 10, LEASE)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    // still leased 30 s later (the lease ends at t(32))
    assert!(store
        .claim_inbox(t(32), t(32), 10, LEASE)
        .await
        .expect("claim")
        .is_empty());
    // a crashed processor's row is taken again once its lease has ended
    let again = store
        .claim_inbox(t(33), t(33), 10, LEASE)
        .await
        .expect("claim");
    assert_eq!(again.iter().map(|i| i.id).collect::<Vec<_>>(), vec![id]);
    assert_eq!(again[0].state, InboxState::Pending);
}

async fn finish_processed_and_dropped(store: Store) {
    let s = source(&store).await;
    let a = new_id(accept(&store, &item(s, Some("a"), 1)).await);
    let b = new_id(accept(&store, &item(s, Some("b"), 1)).await);
    store
        .claim_inbox(t(2), t(2), 10, LEASE)
        .await
        .expect("claim");
    assert!(store
        .finish_inbox(a, InboxState::Processed, None, t(3))
        .await
        .expect("finish"));
    assert!(store
        .finish_inbox(b, InboxState::Dropped, Some("no site"), t(4))
        .await
        .expect("finish"));
    // only once
    assert!(!store
        .finish_inbox(a, InboxState::Dropped, Some("late"), t(5))
        .await
        .expect("finish again"));
    assert!(!store
        .finish_inbox(999, InboxState::Processed, None, t(5))
        .await
        .expect("finish missing"));
    assert!(store
        .finish_inbox(a, InboxState::Pending, None, t(5))
        .await
        .is_err());
    let rows = store.inbox(s, 10).await.expect("inbox");
    let row_a = rows.iter().find(|i| i.id == a).expect("a");
    assert_eq!(row_a.state, InboxState::Processed);
    assert_eq!(row_a.reason, None);
    assert_eq!(row_a.processed_at, Some(t(3)));
    let row_b = rows.iter().find(|i| i.id == b).expect("b");
    assert_eq!(row_b.state, InboxState::Dropped);
    assert_eq!(row_b.reason.as_deref(), Some("no site"));
    assert_eq!(row_b.processed_at, Some(t(4)));
    // finished rows are never claimed again, even after the lease
    assert!(store
        .claim_inbox(t(100), t(100), 10, LEASE)
        .await
        .expect("claim")
        .is_empty());
    // but the dedup key stays
    assert_eq!(
        accept(&store, &item(s, Some("a"), 50)).await,
        Accepted::Duplicate
    );
}

async fn inbox_newest_first_and_pending_count(store: Store) {
    let s = source(&store).await;
    let other = source(&store).await;
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(new_id(
            accept(&store, &item(s, Some(&format!("k{n}")), n)).await,
        ));
    }
    new_id(accept(&store, &item(other, Some("k0"), 0)).await);
    let listed: Vec<i64> = store
        .inbox(s, 3)
        .await
        .expect("inbox")
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(listed, vec![ids[3], ids[2], ids[1]]);
    assert_eq!(store.inbox_pending().await.expect("pending"), 5);
    store
        .claim_inbox(t(10), t(10), 1, LEASE)
        .await
        .expect("claim");
    store
        .finish_inbox(ids[0], InboxState::Processed, None, t(10))
        .await
        .expect("finish");
    assert_eq!(store.inbox_pending().await.expect("pending"), 4);
}

async fn delete_source_removes_its_inbox(store: Store) {
    let s = source(&store).await;
    let keep = source(&store).await;
    new_id(accept(&store, &item(s, Some("k"), 1)).await);
    let kept = new_id(accept(&store, &item(keep, Some("k"), 1)).await);
    assert!(store.delete_source(s).await.expect("delete"));
    assert!(store.inbox(s, 10).await.expect("inbox").is_empty());
    let claimed = store
        .claim_inbox(t(2), t(2), 10, LEASE)
        .await
        .expect("claim");
    assert_eq!(claimed.iter().map(|i| i.id).collect::<Vec<_>>(), vec![kept]);
    // accepting for a deleted source is an error
    assert!(store
        .accept_inbox(&item(s, Some("x"), 3), t(0))
        .await
        .is_err());
}

async fn purge_finished_rows_and_old_keys(store: Store) {
    let s = source(&store).await;
    let old_done = new_id(accept(&store, &item(s, Some("old-done"), 1)).await);
    let old_pending = new_id(accept(&store, &item(s, Some("old-pending"), 2)).await);
    store
        .claim_inbox(t(3), t(1), 10, LEASE)
        .await
        .expect("claim");
    store
        .finish_inbox(old_done, InboxState::Processed, None, t(3))
        .await
        .expect("finish");
    let mut dropped = item(s, None, 4);
    dropped.state = InboxState::Dropped;
    let old_dropped = new_id(accept(&store, &dropped).await);
    let recent = new_id(accept(&store, &item(s, Some("recent"), 500)).await);
    store
        .claim_inbox(t(501), t(501), 10, LEASE)
        .await
        .expect("claim");
    store
        .finish_inbox(recent, InboxState::Processed, None, t(501))
        .await
        .expect("finish");

    // rows finished and received before t(100); keys seen before t(200)
    let deleted = store
        .purge_inbox(t(100), t(200), 1000)
        .await
        .expect("purge");
    assert_eq!(deleted, 2);
    let left: Vec<i64> = store
        .inbox(s, 10)
        .await
        .expect("inbox")
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(left, vec![recent, old_pending]);
    assert!(!left.contains(&old_dropped));
    // the old keys are forgotten, the recent one is not
    let since = t(0);
    assert!(matches!(
        store
            .accept_inbox(&item(s, Some("old-done"), 600), since)
            .await
            .expect("accept"),
        Accepted::New(_)
    ));
    assert_eq!(
        store
            .accept_inbox(&item(s, Some("recent"), 600), since)
            .await
            .expect("accept"),
        Accepted::Duplicate
    );
    // batches
    for n in 0..5 {
        let mut d = item(s, None, 10 + n);
        d.state = InboxState::Dropped;
        accept(&store, &d).await;
    }
    assert_eq!(store.purge_inbox(t(100), t(0), 2).await.expect("purge"), 2);
    assert_eq!(store.purge_inbox(t(100), t(0), 10).await.expect("purge"), 3);
}

async fn raw_body_and_headers_roundtrip(store: Store) {
    let s = source(&store).await;
    let mut raw = item(s, Some("bytes"), 1);
    raw.body = b"{\"a\": \"\xc3\xa9\\u00e9\"}\r\n\x00\xff".to_vec();
    raw.headers = BTreeMap::from([
        ("x-fe-webhook-delivery-id".to_owned(), "42".to_owned()),
        (
            "user-agent".to_owned(),
            "Fast-Events/1.6.0 (WordPress/6.1.1)".to_owned(),
        ),
    ]);
    let id = new_id(accept(&store, &raw).await);
    let claimed = store
        .claim_inbox(t(2), t(2), 10, LEASE)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    let got = &claimed[0];
    assert_eq!(got.id, id);
    assert_eq!(got.source_id, s);
    assert_eq!(got.body, raw.body);
    assert_eq!(got.headers, raw.headers);
    assert_eq!(got.dedup_key.as_deref(), Some("bytes"));
    assert_eq!(got.received_at, t(1));
    assert_eq!(got.processed_at, None);
}
