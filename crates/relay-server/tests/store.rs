//! One suite for both stores: every behaviour runs against `Store::memory()` and against
//! PostgreSQL on a fresh database (`relay_test_<hex>`, created on the server named by
//! `RELAY_TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`, and dropped
//! afterwards). Without a reachable PostgreSQL the PostgreSQL cases are skipped, unless `CI` is
//! set, where they fail.

use chrono::{DateTime, Utc};
use relay_server::store::{Backup, BackupWrite, PgStore, Site, Store, StoreError, SyncedBackup};
use serde_json::json;
use uuid::Uuid;

#[macro_use]
mod common;

use common::{admin_client, with_test_db};

store_tests!(
    ping,
    site_roundtrip,
    duplicate_domain_conflicts,
    sites_ordered_by_domain,
    delete_site,
    record_backup_inserts_then_updates,
    finished_at_set_once,
    error_message_kept_when_none,
    backups_newest_first_then_id,
    sync_new_rows,
    sync_never_lowers_progress,
    sync_completed_forces_100,
    sync_replaces_metadata,
);

// ---------------------------------------------------------------------------------------------
// Helpers

/// A whole second (PostgreSQL keeps microseconds; whole seconds compare equal everywhere).
fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + secs, 0).expect("valid timestamp")
}

fn site(domain: &str, secs: i64) -> Site {
    Site {
        domain: domain.to_owned(),
        website_id: Uuid::new_v4(),
        created_at: t(secs),
    }
}

fn write(website_id: Uuid, backup_id: &str, status: &str, progress: u8, at: i64) -> BackupWrite {
    BackupWrite {
        website_id,
        backup_id: backup_id.to_owned(),
        status: status.to_owned(),
        progress,
        error_message: None,
        at: t(at),
    }
}

fn synced(backup_id: &str, status: Option<&str>, metadata: serde_json::Value) -> SyncedBackup {
    SyncedBackup {
        backup_id: backup_id.to_owned(),
        status: status.map(str::to_owned),
        metadata,
    }
}

async fn get(store: &Store, website_id: Uuid, backup_id: &str) -> Backup {
    store
        .backup(website_id, backup_id)
        .await
        .expect("backup")
        .unwrap_or_else(|| panic!("backup {backup_id} missing"))
}

// ---------------------------------------------------------------------------------------------
// Behaviours

async fn ping(store: Store) {
    store.ping().await.expect("ping");
}

async fn site_roundtrip(store: Store) {
    assert_eq!(store.site("example.com").await.expect("site"), None);
    let s = site("example.com", 1);
    store.insert_site(&s).await.expect("insert");
    assert_eq!(
        store.site("example.com").await.expect("site"),
        Some(s.clone())
    );
    assert_eq!(store.site("other.example").await.expect("site"), None);
    assert_eq!(store.sites().await.expect("sites"), vec![s]);
}

async fn duplicate_domain_conflicts(store: Store) {
    let first = site("example.com", 1);
    store.insert_site(&first).await.expect("insert");
    let err = store
        .insert_site(&site("example.com", 2))
        .await
        .expect_err("duplicate domain");
    assert!(matches!(err, StoreError::Conflict(_)), "got {err:?}");
    assert_eq!(store.site("example.com").await.expect("site"), Some(first));
    // Same website_id under another domain is fine.
    let mut alias = site("www.example.com", 3);
    alias.website_id = Uuid::new_v4();
    store.insert_site(&alias).await.expect("insert alias");
}

async fn sites_ordered_by_domain(store: Store) {
    // Byte order: '-' < '.' < letters, whatever the database's collation.
    let domains = [
        "zeta.example",
        "ab.example",
        "a.example",
        "a-b.example",
        "b.example",
    ];
    for (i, d) in domains.iter().enumerate() {
        store.insert_site(&site(d, i as i64)).await.expect("insert");
    }
    let listed: Vec<String> = store
        .sites()
        .await
        .expect("sites")
        .into_iter()
        .map(|s| s.domain)
        .collect();
    let mut expected: Vec<String> = domains.iter().map(|d| (*d).to_owned()).collect();
    expected.sort();
    assert_eq!(listed, expected);
}

async fn delete_site(store: Store) {
    store
        .insert_site(&site("a.example", 1))
        .await
        .expect("insert");
    let b = site("b.example", 2);
    store.insert_site(&b).await.expect("insert");
    assert!(store.delete_site("a.example").await.expect("delete"));
    assert!(!store.delete_site("a.example").await.expect("delete again"));
    assert!(!store
        .delete_site("never.example")
        .await
        .expect("delete unknown"));
    assert_eq!(store.site("a.example").await.expect("site"), None);
    assert_eq!(store.sites().await.expect("sites"), vec![b]);
    // The domain can be registered again.
    store
        .insert_site(&site("a.example", 3))
        .await
        .expect("re-insert");
}

async fn record_backup_inserts_then_updates(store: Store) {
    let w = Uuid::new_v4();
    assert_eq!(store.backup(w, "b1").await.expect("backup"), None);
    store
        .record_backup(&write(w, "b1", "pending", 0, 1))
        .await
        .expect("record");
    assert_eq!(
        get(&store, w, "b1").await,
        Backup {
            website_id: w,
            backup_id: "b1".into(),
            status: "pending".into(),
            progress: 0,
            error_message: None,
            metadata: None,
            created_at: t(1),
            updated_at: t(1),
            finished_at: None,
        }
    );
    store
        .record_backup(&write(w, "b1", "in_progress", 40, 2))
        .await
        .expect("record");
    // A webhook sets progress as given, even lower.
    store
        .record_backup(&write(w, "b1", "in_progress", 35, 3))
        .await
        .expect("record");
    let b = get(&store, w, "b1").await;
    assert_eq!((b.status.as_str(), b.progress), ("in_progress", 35));
    assert_eq!(
        (b.created_at, b.updated_at, b.finished_at),
        (t(1), t(3), None)
    );
    // Another site's backup with the same id is another row.
    let other = Uuid::new_v4();
    store
        .record_backup(&write(other, "b1", "pending", 0, 4))
        .await
        .expect("record");
    assert_eq!(get(&store, w, "b1").await.progress, 35);
    assert_eq!(store.backups(other).await.expect("backups").len(), 1);
}

async fn finished_at_set_once(store: Store) {
    let w = Uuid::new_v4();
    store
        .record_backup(&write(w, "b1", "in_progress", 10, 1))
        .await
        .expect("record");
    assert_eq!(get(&store, w, "b1").await.finished_at, None);
    store
        .record_backup(&write(w, "b1", "completed", 100, 2))
        .await
        .expect("record");
    assert_eq!(get(&store, w, "b1").await.finished_at, Some(t(2)));
    store
        .record_backup(&write(w, "b1", "failed", 100, 3))
        .await
        .expect("record");
    let b = get(&store, w, "b1").await;
    assert_eq!(
        (b.status.as_str(), b.finished_at, b.updated_at),
        ("failed", Some(t(2)), t(3))
    );
    // Finished on the first write.
    store
        .record_backup(&write(w, "b2", "failed", 0, 5))
        .await
        .expect("record");
    assert_eq!(get(&store, w, "b2").await.finished_at, Some(t(5)));
}

async fn error_message_kept_when_none(store: Store) {
    let w = Uuid::new_v4();
    let mut failed = write(w, "b1", "failed", 20, 1);
    failed.error_message = Some("disk full".into());
    store.record_backup(&failed).await.expect("record");
    assert_eq!(
        get(&store, w, "b1").await.error_message.as_deref(),
        Some("disk full")
    );
    store
        .record_backup(&write(w, "b1", "failed", 20, 2))
        .await
        .expect("record");
    assert_eq!(
        get(&store, w, "b1").await.error_message.as_deref(),
        Some("disk full")
    );
    let mut again = write(w, "b1", "failed", 20, 3);
    again.error_message = Some("timeout".into());
    store.record_backup(&again).await.expect("record");
    assert_eq!(
        get(&store, w, "b1").await.error_message.as_deref(),
        Some("timeout")
    );
    // Sync keeps it too.
    store
        .sync_backups(w, &[synced("b1", Some("failed"), json!({}))], t(4))
        .await
        .expect("sync");
    assert_eq!(
        get(&store, w, "b1").await.error_message.as_deref(),
        Some("timeout")
    );
}

async fn backups_newest_first_then_id(store: Store) {
    let w = Uuid::new_v4();
    for (id, at) in [("old", 1), ("b", 5), ("a", 5), ("a-1", 5), ("mid", 3)] {
        store
            .record_backup(&write(w, id, "pending", 0, at))
            .await
            .expect("record");
    }
    // Updating does not move a backup: the order is by creation.
    store
        .record_backup(&write(w, "old", "in_progress", 50, 9))
        .await
        .expect("record");
    store
        .record_backup(&write(Uuid::new_v4(), "other-site", "pending", 0, 9))
        .await
        .expect("record");
    let ids: Vec<String> = store
        .backups(w)
        .await
        .expect("backups")
        .into_iter()
        .map(|b| b.backup_id)
        .collect();
    assert_eq!(ids, ["a", "a-1", "b", "mid", "old"]);
    assert_eq!(
        store.backups(Uuid::new_v4()).await.expect("backups"),
        vec![]
    );
}

async fn sync_new_rows(store: Store) {
    let w = Uuid::new_v4();
    let items = [
        synced("listed", None, json!({"size": 1024, "type": "full"})),
        synced("running", Some("in_progress"), json!({"type": "db"})),
        synced("broken", Some("failed"), json!({})),
    ];
    assert_eq!(store.sync_backups(w, &items, t(7)).await.expect("sync"), 3);
    assert_eq!(
        get(&store, w, "listed").await,
        Backup {
            website_id: w,
            backup_id: "listed".into(),
            status: "completed".into(),
            progress: 100,
            error_message: None,
            metadata: Some(json!({"size": 1024, "type": "full"})),
            created_at: t(7),
            updated_at: t(7),
            finished_at: Some(t(7)),
        }
    );
    let running = get(&store, w, "running").await;
    assert_eq!(
        (
            running.status.as_str(),
            running.progress,
            running.finished_at
        ),
        ("in_progress", 0, None)
    );
    let broken = get(&store, w, "broken").await;
    assert_eq!(
        (broken.status.as_str(), broken.progress, broken.finished_at),
        ("failed", 0, Some(t(7)))
    );
    assert_eq!(
        store.sync_backups(w, &[], t(8)).await.expect("empty sync"),
        0
    );
    assert_eq!(store.backups(w).await.expect("backups").len(), 3);
}

async fn sync_never_lowers_progress(store: Store) {
    let w = Uuid::new_v4();
    store
        .record_backup(&write(w, "b1", "in_progress", 70, 1))
        .await
        .expect("record");
    // No status: status and progress kept.
    store
        .sync_backups(w, &[synced("b1", None, json!({"n": 1}))], t(2))
        .await
        .expect("sync");
    let b = get(&store, w, "b1").await;
    assert_eq!(
        (b.status.as_str(), b.progress, b.finished_at),
        ("in_progress", 70, None)
    );
    assert_eq!((b.created_at, b.updated_at), (t(1), t(2)));
    // An earlier status does not lower progress either.
    store
        .sync_backups(w, &[synced("b1", Some("pending"), json!({"n": 2}))], t(3))
        .await
        .expect("sync");
    let b = get(&store, w, "b1").await;
    assert_eq!((b.status.as_str(), b.progress), ("pending", 70));
    // Failed: progress kept, finished_at set.
    store
        .sync_backups(w, &[synced("b1", Some("failed"), json!({"n": 3}))], t(4))
        .await
        .expect("sync");
    let b = get(&store, w, "b1").await;
    assert_eq!(
        (b.status.as_str(), b.progress, b.finished_at),
        ("failed", 70, Some(t(4)))
    );
}

async fn sync_completed_forces_100(store: Store) {
    let w = Uuid::new_v4();
    store
        .record_backup(&write(w, "b1", "in_progress", 30, 1))
        .await
        .expect("record");
    store
        .record_backup(&write(w, "b2", "completed", 60, 1))
        .await
        .expect("record");
    store
        .sync_backups(
            w,
            &[
                synced("b1", Some("completed"), json!({})),
                synced("b2", None, json!({})),
            ],
            t(5),
        )
        .await
        .expect("sync");
    let b1 = get(&store, w, "b1").await;
    assert_eq!(
        (b1.status.as_str(), b1.progress, b1.finished_at),
        ("completed", 100, Some(t(5)))
    );
    // Already completed (status kept): forced to 100, finished_at not moved.
    let b2 = get(&store, w, "b2").await;
    assert_eq!(
        (b2.status.as_str(), b2.progress, b2.finished_at),
        ("completed", 100, Some(t(1)))
    );
}

async fn sync_replaces_metadata(store: Store) {
    let w = Uuid::new_v4();
    store
        .sync_backups(
            w,
            &[synced(
                "b1",
                None,
                json!({"size": 1, "type": "full", "nested": {"a": [1, 2]}}),
            )],
            t(1),
        )
        .await
        .expect("sync");
    store
        .sync_backups(w, &[synced("b1", None, json!({"size": 2}))], t(2))
        .await
        .expect("sync");
    let b = get(&store, w, "b1").await;
    assert_eq!(b.metadata, Some(json!({"size": 2})));
    assert_eq!((b.created_at, b.updated_at), (t(1), t(2)));
    // The same id twice in one list: the last entry wins.
    store
        .sync_backups(
            w,
            &[
                synced("b1", None, json!({"v": 1})),
                synced("b1", None, json!({"v": 2})),
            ],
            t(3),
        )
        .await
        .expect("sync");
    assert_eq!(get(&store, w, "b1").await.metadata, Some(json!({"v": 2})));
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL only

async fn applied_versions(url: &str) -> Vec<i32> {
    let client = admin_client(url).await.expect("connect");
    client
        .query(
            "SELECT version FROM relay_schema_migrations ORDER BY version",
            &[],
        )
        .await
        .expect("versions")
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test]
async fn migrations_are_idempotent() {
    with_test_db(|url| async move {
        let store = PgStore::connect(&url).await.expect("connect");
        store.migrate().await.expect("first migrate");
        let first = applied_versions(&url).await;
        assert!(!first.is_empty() && first[0] == 1, "applied: {first:?}");
        store.migrate().await.expect("second migrate");
        assert_eq!(applied_versions(&url).await, first);
        // A second node starting later, through `Store::connect`.
        let store = Store::connect(&url).await.expect("connect and migrate");
        store
            .insert_site(&site("example.com", 1))
            .await
            .expect("insert");
        assert_eq!(applied_versions(&url).await, first);
    })
    .await;
}

#[tokio::test]
async fn concurrent_migrations_from_two_pools() {
    with_test_db(|url| async move {
        let (a, b) = tokio::join!(PgStore::connect(&url), PgStore::connect(&url));
        let (a, b) = (a.expect("connect a"), b.expect("connect b"));
        let (ra, rb) = tokio::join!(
            tokio::spawn(async move { a.migrate().await }),
            tokio::spawn(async move { b.migrate().await })
        );
        ra.expect("join a").expect("migrate a");
        rb.expect("join b").expect("migrate b");
        let versions = applied_versions(&url).await;
        let mut unique = versions.clone();
        unique.dedup();
        assert_eq!(versions, unique);
        assert_eq!(versions.first(), Some(&1));
    })
    .await;
}

#[tokio::test]
async fn connect_fails_on_bad_url_or_unreachable_server() {
    let bad = PgStore::connect("postgres://user@host:notaport/db").await;
    assert!(matches!(bad, Err(StoreError::Db(_))), "bad URL: {bad:?}");
    let unreachable = PgStore::connect("postgres://postgres@127.0.0.1:1/postgres").await;
    assert!(
        matches!(unreachable, Err(StoreError::Db(_))),
        "unreachable: {unreachable:?}"
    );
    let unreachable = Store::connect("postgres://postgres@127.0.0.1:1/postgres").await;
    assert!(matches!(unreachable, Err(StoreError::Db(_))));
}
