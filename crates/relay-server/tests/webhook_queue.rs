//! Subscriber webhooks and the delivery queue: one suite for both stores, as `tests/store.rs`.
//! Every behaviour runs against `Store::memory()` and against PostgreSQL on a fresh database
//! (`relay_test_<hex>`, created on the server named by `RELAY_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`, and dropped afterwards). Without a reachable
//! PostgreSQL the PostgreSQL cases are skipped, unless `CI` is set, where they fail.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use chrono::{DateTime, TimeDelta, Utc};
use relay_server::{
    store::{QueueStats, Store, StoreError},
    webhooks::model::{
        Attempt, Claim, DeliveryState, NewDelivery, NewEvent, NewWebhook, Outcome, Target, Trigger,
        Webhook, WebhookPatch, WebhookStatus,
    },
};
use uuid::Uuid;

#[macro_use]
mod common;

use common::{admin_client, with_test_db};

store_tests!(
    webhook_crud,
    webhook_timestamps_keep_microseconds,
    webhook_status_patch,
    claim_due_oldest_first_with_limit,
    claim_excludes_targets,
    enqueue_is_idempotent_and_skips_deleted_webhooks,
    enqueue_skipped_is_not_claimable,
    expired_deliveries_are_claimable,
    complete_retry_then_succeed,
    complete_failed_counts_failures,
    complete_gone_disables,
    complete_pusher_target,
    fencing_and_reap,
    late_completion_before_reap_is_accepted,
    concurrent_claimers,
    deliveries_newest_first,
    attempts_newest_first,
    record_attempt_roundtrip_and_conflict,
    redeliver_rules,
    recover_failed_and_skipped_since,
    purge_finished_and_old,
    delete_webhook_cascades,
    signal_fires_on_enqueue,
);

// ---------------------------------------------------------------------------------------------
// Helpers

const LEASE: Duration = Duration::from_secs(30);
const URL: &str = "https://hooks.example.com/relay";

/// A whole second (PostgreSQL keeps microseconds; whole seconds compare equal everywhere).
fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + secs, 0).expect("valid timestamp")
}

fn site() -> Uuid {
    Uuid::from_u128(0x5175_0000_0000_4000_8000_0000_0000_0001)
}

fn new_webhook(name: &str) -> NewWebhook {
    NewWebhook {
        name: name.to_owned(),
        url: format!("https://{name}.example.com/hook"),
        events: vec![
            "filesystem_layer.*".to_owned(),
            "backup.completed".to_owned(),
        ],
        website_ids: Some(vec![site()]),
        status: WebhookStatus::Active,
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
        headers: BTreeMap::from([("X-Team".to_owned(), "ops".to_owned())]),
        retry_count: 5,
    }
}

async fn create(store: &Store, name: &str) -> Webhook {
    store
        .create_webhook(&new_webhook(name), t(0))
        .await
        .expect("create webhook")
}

fn event(name: &str, secs: i64) -> NewEvent {
    NewEvent {
        message_id: format!("msg_{name}"),
        event: "filesystem_layer.file_quarantine.completed".to_owned(),
        website_id: Some(site()),
        body: format!(r#"{{"event":"filesystem_layer.file_quarantine.completed","n":"{name}"}}"#),
        created_at: t(secs),
    }
}

fn sub(webhook_id: i64) -> NewDelivery {
    NewDelivery {
        target: Target::Subscriber { webhook_id },
        max_attempts: 3,
        state: DeliveryState::Pending,
        expires_at: None,
    }
}

fn pusher(app_id: &str) -> NewDelivery {
    NewDelivery {
        target: Target::Pusher {
            app_id: app_id.to_owned(),
            url: URL.to_owned(),
        },
        max_attempts: 3,
        state: DeliveryState::Pending,
        expires_at: Some(t(300)),
    }
}

fn skipped(webhook_id: i64) -> NewDelivery {
    NewDelivery {
        state: DeliveryState::Skipped,
        ..sub(webhook_id)
    }
}

async fn enqueue(store: &Store, name: &str, secs: i64, deliveries: &[NewDelivery]) -> Vec<i64> {
    store
        .enqueue(&event(name, secs), deliveries)
        .await
        .expect("enqueue")
}

async fn claim(store: &Store, now: DateTime<Utc>) -> Vec<Claim> {
    store.claim(now, 100, LEASE, &[]).await.expect("claim")
}

fn webhook_of(target: &Target) -> Option<i64> {
    match target {
        Target::Subscriber { webhook_id } => Some(*webhook_id),
        Target::Pusher { .. } => None,
    }
}

/// The attempt a worker logs for `outcome`.
fn attempt_for(claim: &Claim, outcome: &Outcome, at: DateTime<Utc>) -> Attempt {
    let (status, error) = match outcome {
        Outcome::Succeeded => (Some(200), None),
        Outcome::Retry { .. } => (Some(500), Some("HTTP 500")),
        Outcome::Failed => (None, Some("connection refused")),
        Outcome::Gone => (Some(410), Some("HTTP 410")),
    };
    Attempt {
        attempt_id: Uuid::new_v4(),
        delivery_id: Some(claim.delivery.id),
        webhook_id: webhook_of(&claim.delivery.target),
        number: claim.delivery.attempts + 1,
        status_code: status,
        duration_ms: 42,
        response: status.map(|s| format!("status {s}")),
        error: error.map(str::to_owned),
        trigger: Trigger::Scheduled,
        created_at: at,
    }
}

/// Completes `claim` with `outcome` at `now` (asserting the lease held); returns the attempt.
async fn finish(store: &Store, claim: &Claim, outcome: Outcome, now: DateTime<Utc>) -> Attempt {
    let attempt = attempt_for(claim, &outcome, now);
    assert!(
        store
            .complete(claim, &attempt, &outcome, now)
            .await
            .expect("complete"),
        "lease lost"
    );
    attempt
}

/// Claims everything due at `now` and completes it with `outcome`; returns the delivery ids.
async fn settle(store: &Store, outcome: Outcome, now: DateTime<Utc>) -> Vec<i64> {
    let mut ids = Vec::new();
    for c in claim(store, now).await {
        finish(store, &c, outcome.clone(), now).await;
        ids.push(c.delivery.id);
    }
    ids
}

async fn webhook(store: &Store, id: i64) -> Webhook {
    store
        .webhook(id)
        .await
        .expect("webhook")
        .unwrap_or_else(|| panic!("webhook {id} missing"))
}

async fn delivery(
    store: &Store,
    webhook_id: i64,
    id: i64,
) -> relay_server::webhooks::model::Delivery {
    store
        .deliveries(webhook_id, 1000)
        .await
        .expect("deliveries")
        .into_iter()
        .find(|d| d.id == id)
        .unwrap_or_else(|| panic!("delivery {id} missing"))
}

async fn stats(store: &Store) -> QueueStats {
    store.queue_stats().await.expect("queue stats")
}

fn stats_of(pending: u64, in_flight: u64, failed: u64) -> QueueStats {
    QueueStats {
        pending,
        in_flight,
        failed,
    }
}

// ---------------------------------------------------------------------------------------------
// Subscriber webhooks

async fn webhook_crud(store: Store) {
    assert_eq!(store.webhooks().await.expect("list"), vec![]);
    let a = create(&store, "a").await;
    let b = create(&store, "b").await;
    assert_eq!((a.id, b.id), (1, 2));
    let expected = Webhook {
        id: 1,
        name: "a".to_owned(),
        url: "https://a.example.com/hook".to_owned(),
        events: vec![
            "filesystem_layer.*".to_owned(),
            "backup.completed".to_owned(),
        ],
        website_ids: Some(vec![site()]),
        status: WebhookStatus::Active,
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
        headers: BTreeMap::from([("X-Team".to_owned(), "ops".to_owned())]),
        retry_count: 5,
        last_triggered_at: None,
        last_error: None,
        consecutive_failures: 0,
        disabled_reason: None,
        created_at: t(0),
        updated_at: t(0),
    };
    assert_eq!(a, expected);
    assert_eq!(
        store.webhooks().await.expect("list"),
        vec![a.clone(), b.clone()]
    );
    assert_eq!(store.webhook(1).await.expect("get"), Some(a.clone()));
    assert_eq!(store.webhook(99).await.expect("get"), None);

    // Every field at once; `website_ids: Some(None)` clears the filter.
    let patch = WebhookPatch {
        name: Some("renamed".to_owned()),
        url: Some("https://new.example.com/hook".to_owned()),
        events: Some(vec!["*".to_owned()]),
        website_ids: Some(None),
        status: Some(WebhookStatus::Inactive),
        secret: Some("whsec_other".to_owned()),
        headers: Some(BTreeMap::new()),
        retry_count: Some(0),
    };
    let updated = store
        .update_webhook(1, &patch, t(5))
        .await
        .expect("update")
        .expect("exists");
    let mut want = a.clone();
    want.name = "renamed".to_owned();
    want.url = "https://new.example.com/hook".to_owned();
    want.events = vec!["*".to_owned()];
    want.website_ids = None;
    want.status = WebhookStatus::Inactive;
    want.secret = "whsec_other".to_owned();
    want.headers = BTreeMap::new();
    want.retry_count = 0;
    want.updated_at = t(5);
    assert_eq!(updated, want);
    assert_eq!(webhook(&store, 1).await, want);

    // `None` leaves fields alone; a filter can be set again.
    let ids = vec![site(), Uuid::from_u128(7)];
    let patch = WebhookPatch {
        website_ids: Some(Some(ids.clone())),
        ..WebhookPatch::default()
    };
    let updated = store
        .update_webhook(1, &patch, t(6))
        .await
        .expect("update")
        .expect("exists");
    want.website_ids = Some(ids);
    want.updated_at = t(6);
    assert_eq!(updated, want);
    let patch = WebhookPatch {
        name: Some("again".to_owned()),
        ..WebhookPatch::default()
    };
    let updated = store
        .update_webhook(1, &patch, t(7))
        .await
        .expect("update")
        .expect("exists");
    want.name = "again".to_owned();
    want.updated_at = t(7);
    assert_eq!(updated, want);

    assert_eq!(
        store
            .update_webhook(99, &WebhookPatch::default(), t(8))
            .await
            .expect("update missing"),
        None
    );
    assert_eq!(webhook(&store, 2).await, b, "other webhook untouched");

    assert!(store.delete_webhook(2).await.expect("delete"));
    assert!(!store.delete_webhook(2).await.expect("delete again"));
    assert_eq!(store.webhook(2).await.expect("get"), None);
    // Ids are never reused.
    assert_eq!(create(&store, "c").await.id, 3);
    let ids: Vec<i64> = store
        .webhooks()
        .await
        .expect("list")
        .iter()
        .map(|w| w.id)
        .collect();
    assert_eq!(ids, vec![1, 3]);
}

async fn webhook_timestamps_keep_microseconds(store: Store) {
    let at = t(1) + TimeDelta::nanoseconds(123_456_789);
    let w = store
        .create_webhook(&new_webhook("a"), at)
        .await
        .expect("create");
    let micros = t(1) + TimeDelta::nanoseconds(123_456_000);
    assert_eq!((w.created_at, w.updated_at), (micros, micros));
    assert_eq!(webhook(&store, w.id).await.created_at, micros);
}

async fn webhook_status_patch(store: Store) {
    let w = create(&store, "a").await;
    // Two failed deliveries, then Relay disables it.
    enqueue(&store, "e1", 1, &[sub(w.id)]).await;
    enqueue(&store, "e2", 2, &[sub(w.id)]).await;
    settle(&store, Outcome::Failed, t(3)).await;
    store
        .disable_webhook(w.id, "failing for 5 days", t(4))
        .await
        .expect("disable");
    store
        .disable_webhook(99, "no such webhook", t(4))
        .await
        .expect("disable missing is a no-op");
    let disabled = webhook(&store, w.id).await;
    assert_eq!(disabled.status, WebhookStatus::Disabled);
    assert_eq!(
        disabled.disabled_reason.as_deref(),
        Some("failing for 5 days")
    );
    assert_eq!(disabled.consecutive_failures, 2);
    assert_eq!(disabled.updated_at, t(4));

    // Another status keeps the failure state...
    let inactive = WebhookPatch {
        status: Some(WebhookStatus::Inactive),
        ..WebhookPatch::default()
    };
    let paused = store
        .update_webhook(w.id, &inactive, t(5))
        .await
        .expect("update")
        .expect("exists");
    assert_eq!(paused.status, WebhookStatus::Inactive);
    assert_eq!(
        paused.disabled_reason.as_deref(),
        Some("failing for 5 days")
    );
    assert_eq!(paused.consecutive_failures, 2);

    // ...`active` clears it (last_error stays: it is history).
    let active = WebhookPatch {
        status: Some(WebhookStatus::Active),
        ..WebhookPatch::default()
    };
    let enabled = store
        .update_webhook(w.id, &active, t(6))
        .await
        .expect("update")
        .expect("exists");
    assert_eq!(enabled.status, WebhookStatus::Active);
    assert_eq!(enabled.disabled_reason, None);
    assert_eq!(enabled.consecutive_failures, 0);
    assert_eq!(enabled.last_error.as_deref(), Some("connection refused"));
    assert_eq!(enabled.updated_at, t(6));
    assert_eq!(webhook(&store, w.id).await, enabled);
}

// ---------------------------------------------------------------------------------------------
// Enqueue and claim

async fn claim_due_oldest_first_with_limit(store: Store) {
    let w = create(&store, "a").await;
    let e1 = enqueue(&store, "e1", 10, &[sub(w.id)]).await;
    let e2 = enqueue(&store, "e2", 5, &[sub(w.id)]).await;
    let e3 = enqueue(&store, "e3", 20, &[sub(w.id)]).await;
    assert!(
        e1[0] < e2[0] && e2[0] < e3[0],
        "ids ascend: {e1:?} {e2:?} {e3:?}"
    );
    assert_eq!(stats(&store).await, stats_of(3, 0, 0));
    assert_eq!(store.next_due().await.expect("next due"), Some(t(5)));

    let first = store.claim(t(15), 1, LEASE, &[]).await.expect("claim");
    assert_eq!(first.len(), 1);
    let d = &first[0].delivery;
    assert_eq!(d.id, e2[0], "oldest first");
    assert_eq!(d.target, Target::Subscriber { webhook_id: w.id });
    assert_eq!(d.message_id, "msg_e2");
    assert_eq!(d.event, "filesystem_layer.file_quarantine.completed");
    assert_eq!(d.website_id, Some(site()));
    assert_eq!(d.body, event("e2", 5).body);
    assert_eq!(d.state, DeliveryState::InFlight);
    assert_eq!((d.attempts, d.max_attempts), (0, 3));
    assert_eq!((d.next_attempt_at, d.created_at), (t(5), t(5)));
    assert_eq!((d.expires_at, d.finished_at), (None, None));
    assert_eq!((d.last_status, d.last_error.as_deref()), (None, None));

    // Only due rows: e3 is due at 20.
    let rest = claim(&store, t(15)).await;
    let ids: Vec<i64> = rest.iter().map(|c| c.delivery.id).collect();
    assert_eq!(ids, e1);
    assert_ne!(rest[0].lease, first[0].lease);
    assert!(claim(&store, t(15)).await.is_empty());
    assert_eq!(stats(&store).await, stats_of(1, 2, 0));
    assert_eq!(store.next_due().await.expect("next due"), Some(t(20)));

    let last = claim(&store, t(20)).await;
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].delivery.id, e3[0]);
    assert_eq!(store.next_due().await.expect("next due"), None);
    assert_eq!(stats(&store).await, stats_of(0, 3, 0));

    // Oldest first across many, with a limit.
    for i in 0..5 {
        enqueue(&store, &format!("m{i}"), 100 - i, &[sub(w.id)]).await;
    }
    let batch: Vec<String> = store
        .claim(t(200), 3, LEASE, &[])
        .await
        .expect("claim")
        .into_iter()
        .map(|c| c.delivery.message_id)
        .collect();
    assert_eq!(batch, vec!["msg_m4", "msg_m3", "msg_m2"]);
}

async fn claim_excludes_targets(store: Store) {
    let w1 = create(&store, "a").await;
    let w2 = create(&store, "b").await;
    let ids = enqueue(
        &store,
        "e1",
        1,
        &[sub(w1.id), sub(w2.id), pusher("app1"), pusher("app2")],
    )
    .await;
    assert_eq!(ids.len(), 4);
    assert!(ids.windows(2).all(|p| p[0] < p[1]), "in order: {ids:?}");

    let exclude = [
        Target::Subscriber { webhook_id: w1.id },
        Target::Pusher {
            app_id: "app1".to_owned(),
            url: URL.to_owned(),
        },
        // Same app, another URL: excludes nothing here.
        Target::Pusher {
            app_id: "app2".to_owned(),
            url: "https://elsewhere.example.com/".to_owned(),
        },
    ];
    let got: Vec<i64> = store
        .claim(t(1), 10, LEASE, &exclude)
        .await
        .expect("claim")
        .into_iter()
        .map(|c| c.delivery.id)
        .collect();
    assert_eq!(got, vec![ids[1], ids[3]]);
    let rest = claim(&store, t(1)).await;
    let targets: Vec<Target> = rest.into_iter().map(|c| c.delivery.target).collect();
    assert_eq!(
        targets,
        vec![
            Target::Subscriber { webhook_id: w1.id },
            Target::Pusher {
                app_id: "app1".to_owned(),
                url: URL.to_owned()
            },
        ]
    );
}

async fn enqueue_is_idempotent_and_skips_deleted_webhooks(store: Store) {
    let w = create(&store, "a").await;
    // A webhook deleted since it matched gets nothing; the other targets still do.
    let ids = store
        .enqueue(&event("e1", 1), &[sub(999), sub(w.id), pusher("app1")])
        .await
        .expect("enqueue");
    assert_eq!(ids.len(), 2);
    assert_eq!(
        store.deliveries(w.id, 10).await.expect("list")[0].id,
        ids[0]
    );
    assert_eq!(stats(&store).await, stats_of(2, 0, 0));

    // A retried enqueue (same message id) writes nothing and answers the recorded ids.
    let again = store
        .enqueue(&event("e1", 2), &[sub(w.id), sub(w.id)])
        .await
        .expect("enqueue again");
    assert_eq!(again, ids);
    assert_eq!(stats(&store).await, stats_of(2, 0, 0));

    // Only pending or skipped deliveries can be enqueued; a refused event leaves nothing.
    let in_flight = NewDelivery {
        state: DeliveryState::InFlight,
        ..sub(w.id)
    };
    assert!(store
        .enqueue(&event("e2", 2), &[sub(w.id), in_flight])
        .await
        .is_err());
    assert_eq!(stats(&store).await, stats_of(2, 0, 0));
    assert_eq!(enqueue(&store, "e2", 2, &[sub(w.id)]).await.len(), 1);

    // An event for no target at all is accepted.
    assert_eq!(enqueue(&store, "e3", 3, &[]).await, Vec::<i64>::new());
}

async fn enqueue_skipped_is_not_claimable(store: Store) {
    let w = create(&store, "a").await;
    let ids = enqueue(&store, "e1", 1, &[skipped(w.id)]).await;
    assert!(claim(&store, t(100)).await.is_empty());
    assert_eq!(store.next_due().await.expect("next due"), None);
    assert_eq!(stats(&store).await, QueueStats::default());
    let d = delivery(&store, w.id, ids[0]).await;
    assert_eq!(d.state, DeliveryState::Skipped);
    assert_eq!((d.attempts, d.finished_at), (0, None));
}

async fn expired_deliveries_are_claimable(store: Store) {
    let w = create(&store, "a").await;
    let expiring = NewDelivery {
        expires_at: Some(t(2)),
        ..sub(w.id)
    };
    let ids = enqueue(&store, "e1", 1, &[expiring]).await;
    let claims = claim(&store, t(100)).await;
    assert_eq!(claims.len(), 1, "the worker decides what expired means");
    assert_eq!(claims[0].delivery.id, ids[0]);
    assert_eq!(claims[0].delivery.expires_at, Some(t(2)));
}

// ---------------------------------------------------------------------------------------------
// Complete

async fn complete_retry_then_succeed(store: Store) {
    let w = create(&store, "a").await;
    let ids = enqueue(&store, "e1", 1, &[sub(w.id)]).await;
    let c1 = claim(&store, t(2)).await.remove(0);
    let a1 = finish(&store, &c1, Outcome::Retry { at: t(10) }, t(3)).await;

    let d = delivery(&store, w.id, ids[0]).await;
    assert_eq!(d.state, DeliveryState::Pending);
    assert_eq!((d.attempts, d.next_attempt_at), (1, t(10)));
    assert_eq!(d.last_status, Some(500));
    assert_eq!(d.last_error.as_deref(), Some("HTTP 500"));
    assert_eq!(d.finished_at, None);
    let hook = webhook(&store, w.id).await;
    assert_eq!(hook.last_error.as_deref(), Some("HTTP 500"));
    assert_eq!(hook.last_triggered_at, None);
    assert_eq!(hook.consecutive_failures, 0);
    assert_eq!(
        hook.updated_at, w.updated_at,
        "delivery results are no edit"
    );
    assert_eq!(store.next_due().await.expect("next due"), Some(t(10)));
    assert_eq!(stats(&store).await, stats_of(1, 0, 0));

    assert!(claim(&store, t(9)).await.is_empty(), "not due yet");
    let c2 = claim(&store, t(10)).await.remove(0);
    assert_eq!(c2.delivery.attempts, 1);
    assert_eq!(c2.delivery.message_id, c1.delivery.message_id);
    let a2 = finish(&store, &c2, Outcome::Succeeded, t(11)).await;

    let d = delivery(&store, w.id, ids[0]).await;
    assert_eq!(d.state, DeliveryState::Succeeded);
    assert_eq!((d.attempts, d.finished_at), (2, Some(t(11))));
    assert_eq!((d.last_status, d.last_error.as_deref()), (Some(200), None));
    let hook = webhook(&store, w.id).await;
    assert_eq!(hook.last_triggered_at, Some(t(11)));
    assert_eq!(hook.last_error, None);
    assert_eq!(hook.consecutive_failures, 0);
    assert_eq!(
        store.delivery_attempts(ids[0]).await.expect("attempts"),
        vec![a1, a2],
        "oldest first"
    );
    assert_eq!(stats(&store).await, QueueStats::default());
    assert_eq!(store.next_due().await.expect("next due"), None);

    // The lease ended with the completion.
    let again = attempt_for(&c2, &Outcome::Succeeded, t(12));
    assert!(!store
        .complete(&c2, &again, &Outcome::Succeeded, t(12))
        .await
        .expect("complete again"));
    assert_eq!(
        store
            .delivery_attempts(ids[0])
            .await
            .expect("attempts")
            .len(),
        2
    );
}

async fn complete_failed_counts_failures(store: Store) {
    let w = create(&store, "a").await;
    let e1 = enqueue(&store, "e1", 1, &[sub(w.id)]).await;
    settle(&store, Outcome::Failed, t(2)).await;
    let hook = webhook(&store, w.id).await;
    assert_eq!(hook.consecutive_failures, 1);
    assert_eq!(hook.last_error.as_deref(), Some("connection refused"));
    let d = delivery(&store, w.id, e1[0]).await;
    assert_eq!(d.state, DeliveryState::Failed);
    assert_eq!((d.attempts, d.finished_at), (1, Some(t(2))));
    assert_eq!(
        (d.last_status, d.last_error.as_deref()),
        (None, Some("connection refused"))
    );

    enqueue(&store, "e2", 3, &[sub(w.id)]).await;
    settle(&store, Outcome::Failed, t(4)).await;
    assert_eq!(webhook(&store, w.id).await.consecutive_failures, 2);
    assert_eq!(stats(&store).await, stats_of(0, 0, 2));

    // A retry is no failure for good; a success resets the count.
    enqueue(&store, "e3", 5, &[sub(w.id)]).await;
    settle(&store, Outcome::Retry { at: t(7) }, t(6)).await;
    assert_eq!(webhook(&store, w.id).await.consecutive_failures, 2);
    settle(&store, Outcome::Succeeded, t(7)).await;
    let hook = webhook(&store, w.id).await;
    assert_eq!(hook.consecutive_failures, 0);
    assert_eq!(hook.last_error, None);
    assert_eq!(
        hook.status,
        WebhookStatus::Active,
        "the store never disables by count"
    );
}

async fn complete_gone_disables(store: Store) {
    let w = create(&store, "a").await;
    let ids = enqueue(&store, "e1", 1, &[sub(w.id)]).await;
    settle(&store, Outcome::Gone, t(5)).await;
    let d = delivery(&store, w.id, ids[0]).await;
    assert_eq!(d.state, DeliveryState::Failed);
    assert_eq!((d.attempts, d.finished_at), (1, Some(t(5))));
    assert_eq!(d.last_status, Some(410));
    let hook = webhook(&store, w.id).await;
    assert_eq!(hook.status, WebhookStatus::Disabled);
    assert_eq!(hook.disabled_reason.as_deref(), Some("410 Gone"));
    assert_eq!(hook.last_error.as_deref(), Some("HTTP 410"));
    assert_eq!(hook.consecutive_failures, 1);
    assert_eq!(hook.updated_at, t(5));
    assert_eq!(hook.last_triggered_at, None);
}

async fn complete_pusher_target(store: Store) {
    let w = create(&store, "a").await;
    let ids = enqueue(&store, "p1", 1, &[pusher("app1")]).await;
    let c = claim(&store, t(2)).await.remove(0);
    assert_eq!(c.delivery.expires_at, Some(t(300)));
    // Whatever the worker says, the attempt belongs to the claimed delivery.
    let mut attempt = attempt_for(&c, &Outcome::Succeeded, t(3));
    attempt.delivery_id = None;
    attempt.webhook_id = Some(w.id);
    assert!(store
        .complete(&c, &attempt, &Outcome::Succeeded, t(3))
        .await
        .expect("complete"));
    let logged = store.delivery_attempts(ids[0]).await.expect("attempts");
    attempt.delivery_id = Some(ids[0]);
    attempt.webhook_id = None;
    assert_eq!(logged, vec![attempt]);
    assert!(store.attempts(w.id, 10).await.expect("attempts").is_empty());
    assert_eq!(webhook(&store, w.id).await, w, "subscriber untouched");
    assert!(store.deliveries(w.id, 10).await.expect("list").is_empty());
    assert_eq!(stats(&store).await, QueueStats::default());
}

// ---------------------------------------------------------------------------------------------
// Leases

async fn fencing_and_reap(store: Store) {
    let w = create(&store, "a").await;
    let ids = enqueue(&store, "e1", 1, &[sub(w.id)]).await;
    let c1 = claim(&store, t(2)).await.remove(0);

    // A wrong token writes nothing.
    let forged = Claim {
        lease: Uuid::new_v4(),
        ..c1.clone()
    };
    let attempt = attempt_for(&forged, &Outcome::Succeeded, t(3));
    assert!(!store
        .complete(&forged, &attempt, &Outcome::Succeeded, t(3))
        .await
        .expect("complete"));
    let d = delivery(&store, w.id, ids[0]).await;
    assert_eq!((d.state, d.attempts), (DeliveryState::InFlight, 0));
    assert!(store
        .delivery_attempts(ids[0])
        .await
        .expect("attempts")
        .is_empty());
    assert!(store.attempts(w.id, 10).await.expect("attempts").is_empty());
    assert_eq!(webhook(&store, w.id).await, w);

    // The lease runs to 2 + 30 s: not expired at 32, expired after.
    assert_eq!(store.reap(t(32)).await.expect("reap"), 0);
    assert_eq!(stats(&store).await, stats_of(0, 1, 0));
    assert_eq!(store.reap(t(33)).await.expect("reap"), 1);
    assert_eq!(stats(&store).await, stats_of(1, 0, 0));
    assert_eq!(store.reap(t(33)).await.expect("reap again"), 0);

    // The first worker's late completion is refused and writes nothing.
    let late = attempt_for(&c1, &Outcome::Failed, t(34));
    assert!(!store
        .complete(&c1, &late, &Outcome::Failed, t(34))
        .await
        .expect("complete"));
    let d = delivery(&store, w.id, ids[0]).await;
    assert_eq!(
        (d.state, d.attempts, d.finished_at),
        (DeliveryState::Pending, 0, None)
    );
    assert!(store
        .delivery_attempts(ids[0])
        .await
        .expect("attempts")
        .is_empty());
    assert_eq!(webhook(&store, w.id).await, w);

    // Another worker takes it: same delivery and webhook-id, new lease.
    let c2 = claim(&store, t(35)).await.remove(0);
    assert_eq!(c2.delivery.id, c1.delivery.id);
    assert_eq!(c2.delivery.message_id, c1.delivery.message_id);
    assert_ne!(c2.lease, c1.lease);
    assert!(!store
        .complete(&c1, &late, &Outcome::Failed, t(36))
        .await
        .expect("complete with the old lease"));
    finish(&store, &c2, Outcome::Succeeded, t(36)).await;
    assert_eq!(
        store
            .delivery_attempts(ids[0])
            .await
            .expect("attempts")
            .len(),
        1
    );
    assert_eq!(store.reap(t(1000)).await.expect("reap"), 0);
}

/// A lease past its time but not reaped yet is not lost: completing it avoids a second send.
async fn late_completion_before_reap_is_accepted(store: Store) {
    let w = create(&store, "a").await;
    enqueue(&store, "e1", 1, &[sub(w.id)]).await;
    let c = store
        .claim(t(2), 10, Duration::from_secs(1), &[])
        .await
        .expect("claim")
        .remove(0);
    finish(&store, &c, Outcome::Succeeded, t(100)).await;
    assert_eq!(store.reap(t(200)).await.expect("reap"), 0);
}

async fn concurrent_claimers(store: Store) {
    let mut hooks = Vec::new();
    for name in ["a", "b", "c", "d"] {
        hooks.push(sub(create(&store, name).await.id));
    }
    let mut all = BTreeSet::new();
    for i in 0..60 {
        all.extend(enqueue(&store, &format!("e{i}"), i, &hooks).await);
    }
    assert_eq!(all.len(), 240);

    let workers: Vec<_> = (0..6)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let claims = store.claim(t(1000), 7, LEASE, &[]).await.expect("claim");
                    if claims.is_empty() {
                        return got;
                    }
                    got.extend(claims.into_iter().map(|c| (c.delivery.id, c.lease)));
                }
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for worker in workers {
        claimed.extend(worker.await.expect("worker"));
    }
    let ids: BTreeSet<i64> = claimed.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids.len(), claimed.len(), "a delivery was claimed twice");
    assert_eq!(ids, all, "every delivery claimed once");
    let leases: BTreeSet<Uuid> = claimed.iter().map(|(_, lease)| *lease).collect();
    assert_eq!(leases.len(), claimed.len(), "leases are unique");
    assert_eq!(stats(&store).await, stats_of(0, 240, 0));
}

// ---------------------------------------------------------------------------------------------
// Logs

async fn deliveries_newest_first(store: Store) {
    let w = create(&store, "a").await;
    let other = create(&store, "b").await;
    let e1 = enqueue(&store, "e1", 1, &[sub(w.id)]).await[0];
    let e2 = enqueue(&store, "e2", 3, &[sub(w.id), sub(other.id)]).await[0];
    let e3 = enqueue(&store, "e3", 2, &[sub(w.id)]).await[0];
    enqueue(&store, "p1", 4, &[pusher("app1")]).await;
    let ids = |list: Vec<relay_server::webhooks::model::Delivery>| -> Vec<i64> {
        list.into_iter().map(|d| d.id).collect()
    };
    assert_eq!(
        ids(store.deliveries(w.id, 10).await.expect("list")),
        vec![e2, e3, e1]
    );
    assert_eq!(
        ids(store.deliveries(w.id, 2).await.expect("list")),
        vec![e2, e3]
    );
    assert_eq!(store.deliveries(other.id, 10).await.expect("list").len(), 1);
    assert!(store.deliveries(99, 10).await.expect("list").is_empty());
    let d = delivery(&store, w.id, e2).await;
    assert_eq!(d.message_id, "msg_e2");
    assert_eq!(d.body, event("e2", 3).body);
    assert_eq!(d.state, DeliveryState::Pending);
}

async fn attempts_newest_first(store: Store) {
    let w = create(&store, "a").await;
    let test_attempt = |secs: i64| Attempt {
        attempt_id: Uuid::new_v4(),
        delivery_id: None,
        webhook_id: Some(w.id),
        number: 1,
        status_code: Some(204),
        duration_ms: 7,
        response: None,
        error: None,
        trigger: Trigger::Test,
        created_at: t(secs),
    };
    let t5 = test_attempt(5);
    let t7 = test_attempt(7);
    store.record_attempt(&t7).await.expect("record");
    store.record_attempt(&t5).await.expect("record");
    enqueue(&store, "e1", 1, &[sub(w.id)]).await;
    let c = claim(&store, t(6)).await.remove(0);
    let a6 = finish(&store, &c, Outcome::Succeeded, t(6)).await;

    let all = store.attempts(w.id, 10).await.expect("attempts");
    assert_eq!(all, vec![t7.clone(), a6.clone(), t5]);
    assert_eq!(
        store.attempts(w.id, 2).await.expect("attempts"),
        vec![t7, a6]
    );
    assert!(store.attempts(99, 10).await.expect("attempts").is_empty());
}

async fn record_attempt_roundtrip_and_conflict(store: Store) {
    let w = create(&store, "a").await;
    let attempt = Attempt {
        attempt_id: Uuid::new_v4(),
        delivery_id: None,
        webhook_id: Some(w.id),
        number: 1,
        status_code: None,
        duration_ms: 10_000,
        response: Some("partial body…".to_owned()),
        error: Some("timed out after 10 s".to_owned()),
        trigger: Trigger::Test,
        created_at: t(5) + TimeDelta::nanoseconds(999_999),
    };
    store.record_attempt(&attempt).await.expect("record");
    let mut want = attempt.clone();
    want.created_at = t(5) + TimeDelta::nanoseconds(999_000);
    assert_eq!(
        store.attempts(w.id, 10).await.expect("attempts"),
        vec![want]
    );

    let err = store
        .record_attempt(&attempt)
        .await
        .expect_err("same attempt id");
    assert!(matches!(err, StoreError::Conflict(_)), "got {err:?}");
    let orphan = Attempt {
        attempt_id: Uuid::new_v4(),
        webhook_id: Some(99),
        ..attempt
    };
    assert!(
        store.record_attempt(&orphan).await.is_err(),
        "unknown webhook"
    );
    assert_eq!(store.attempts(w.id, 10).await.expect("attempts").len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Redeliver, recover, purge, delete

async fn redeliver_rules(store: Store) {
    let w = create(&store, "a").await;
    let other = create(&store, "b").await;
    let id = enqueue(&store, "e1", 1, &[sub(w.id)]).await[0];
    let p = enqueue(&store, "p1", 1, &[pusher("app1")]).await[0];

    // Pending and in flight: no.
    assert_eq!(
        store.redeliver(w.id, id, t(2)).await.expect("redeliver"),
        None
    );
    let c = claim(&store, t(2)).await;
    assert_eq!(
        store.redeliver(w.id, id, t(2)).await.expect("redeliver"),
        None
    );
    for c in &c {
        finish(&store, c, Outcome::Failed, t(3)).await;
    }

    // Another webhook's, a Pusher delivery, a missing one: no.
    assert_eq!(
        store
            .redeliver(other.id, id, t(4))
            .await
            .expect("redeliver"),
        None
    );
    assert_eq!(
        store.redeliver(w.id, p, t(4)).await.expect("redeliver"),
        None
    );
    assert_eq!(
        store.redeliver(w.id, 9999, t(4)).await.expect("redeliver"),
        None
    );

    // Failed: one more attempt, due now.
    let d = store
        .redeliver(w.id, id, t(10))
        .await
        .expect("redeliver")
        .expect("failed can be redelivered");
    assert_eq!(d.id, id);
    assert_eq!(d.state, DeliveryState::Pending);
    assert_eq!((d.attempts, d.max_attempts), (1, 2));
    assert_eq!(
        (d.next_attempt_at, d.finished_at, d.expires_at),
        (t(10), None, None)
    );
    assert_eq!(d.last_error.as_deref(), Some("connection refused"), "kept");
    assert_eq!(d.message_id, "msg_e1");
    assert_eq!(delivery(&store, w.id, id).await, d);
    assert_eq!(store.next_due().await.expect("next due"), Some(t(10)));
    assert_eq!(
        store.redeliver(w.id, id, t(11)).await.expect("redeliver"),
        None
    );

    // Succeeded: also.
    let c = claim(&store, t(10)).await.remove(0);
    assert_eq!(c.delivery.id, id);
    finish(&store, &c, Outcome::Succeeded, t(11)).await;
    let d = store
        .redeliver(w.id, id, t(12))
        .await
        .expect("redeliver")
        .expect("succeeded can be redelivered");
    assert_eq!((d.attempts, d.max_attempts), (2, 3));

    // Skipped: also, and the expiry goes.
    let s = enqueue(
        &store,
        "s1",
        20,
        &[NewDelivery {
            expires_at: Some(t(25)),
            ..skipped(w.id)
        }],
    )
    .await[0];
    let d = store
        .redeliver(w.id, s, t(30))
        .await
        .expect("redeliver")
        .expect("skipped can be redelivered");
    assert_eq!(d.state, DeliveryState::Pending);
    assert_eq!((d.attempts, d.max_attempts, d.expires_at), (0, 1, None));
    assert_eq!(d.next_attempt_at, t(30));
}

async fn recover_failed_and_skipped_since(store: Store) {
    let w = create(&store, "a").await;
    let other = create(&store, "b").await;
    let a = enqueue(&store, "a", 1, &[sub(w.id)]).await[0];
    let b = enqueue(&store, "b", 5, &[sub(w.id)]).await[0];
    let f = enqueue(&store, "f", 6, &[sub(other.id)]).await[0];
    settle(&store, Outcome::Failed, t(9)).await;
    let c = enqueue(&store, "c", 6, &[skipped(w.id)]).await[0];
    let d = enqueue(&store, "d", 7, &[sub(w.id)]).await[0];
    settle(&store, Outcome::Succeeded, t(9)).await;
    let e = enqueue(&store, "e", 8, &[sub(w.id)]).await[0];

    assert_eq!(store.recover(w.id, t(5), t(20)).await.expect("recover"), 2);
    let state = |id: i64, hook: i64| {
        let store = store.clone();
        async move { delivery(&store, hook, id).await }
    };
    assert_eq!(
        state(a, w.id).await.state,
        DeliveryState::Failed,
        "before since"
    );
    for id in [b, c] {
        let d = state(id, w.id).await;
        assert_eq!(d.state, DeliveryState::Pending);
        assert_eq!(d.next_attempt_at, t(20));
        assert_eq!(d.max_attempts, d.attempts + 1);
        assert_eq!(d.finished_at, None);
    }
    assert_eq!(state(d, w.id).await.state, DeliveryState::Succeeded);
    assert_eq!(state(e, w.id).await.state, DeliveryState::Pending);
    assert_eq!(
        state(f, other.id).await.state,
        DeliveryState::Failed,
        "other webhook"
    );
    assert_eq!(store.recover(w.id, t(5), t(21)).await.expect("recover"), 0);
    assert_eq!(store.recover(99, t(0), t(21)).await.expect("recover"), 0);
    assert_eq!(stats(&store).await, stats_of(3, 0, 2));
}

async fn purge_finished_and_old(store: Store) {
    let w = create(&store, "a").await;
    // Old and finished: o1 succeeded, o2 failed, p1 (Pusher) succeeded, o3 skipped.
    let o1 = enqueue(&store, "o1", 1, &[sub(w.id)]).await[0];
    settle(&store, Outcome::Succeeded, t(2)).await;
    let o2 = enqueue(&store, "o2", 3, &[sub(w.id)]).await[0];
    settle(&store, Outcome::Failed, t(4)).await;
    let p1 = enqueue(&store, "p1", 5, &[pusher("app1")]).await[0];
    settle(&store, Outcome::Succeeded, t(6)).await;
    enqueue(&store, "o3", 7, &[skipped(w.id)]).await;
    // Old but unfinished: o5 in flight, o4 pending. New and finished: n1.
    let o5 = enqueue(&store, "o5", 8, &[sub(w.id)]).await[0];
    assert_eq!(claim(&store, t(9)).await.len(), 1);
    let n1 = enqueue(&store, "n1", 1000, &[sub(w.id)]).await[0];
    let n1_attempt = {
        let c = claim(&store, t(1001)).await.remove(0);
        finish(&store, &c, Outcome::Succeeded, t(1001)).await
    };
    let o4 = enqueue(&store, "o4", 10, &[sub(w.id)]).await[0];
    let test_attempt = |secs: i64| Attempt {
        attempt_id: Uuid::new_v4(),
        delivery_id: None,
        webhook_id: Some(w.id),
        number: 1,
        status_code: Some(200),
        duration_ms: 3,
        response: None,
        error: None,
        trigger: Trigger::Test,
        created_at: t(secs),
    };
    let (old_test, new_test) = (test_attempt(2), test_attempt(1002));
    store.record_attempt(&old_test).await.expect("record");
    store.record_attempt(&new_test).await.expect("record");

    assert_eq!(store.purge(t(500), 0).await.expect("purge"), 0);
    assert_eq!(store.purge(t(500), 2).await.expect("purge"), 2);
    assert_eq!(store.purge(t(500), 2).await.expect("purge"), 2);
    assert_eq!(store.purge(t(500), 2).await.expect("purge"), 0);

    let mut left: Vec<i64> = store
        .deliveries(w.id, 100)
        .await
        .expect("list")
        .iter()
        .map(|d| d.id)
        .collect();
    left.sort_unstable();
    assert_eq!(left, vec![o5, n1, o4]);
    for id in [o1, o2, p1] {
        assert!(store
            .delivery_attempts(id)
            .await
            .expect("attempts")
            .is_empty());
    }
    assert_eq!(
        store.attempts(w.id, 100).await.expect("attempts"),
        vec![new_test, n1_attempt],
        "old attempts and the old test call are gone"
    );
    assert_eq!(stats(&store).await, stats_of(1, 1, 0));

    // Events left without deliveries went too: their message ids are new again.
    for name in ["o1", "o2", "p1", "o3"] {
        assert_eq!(
            enqueue(&store, name, 600, &[sub(w.id)]).await.len(),
            1,
            "{name}"
        );
    }
    // Events still referenced stay: enqueueing them again changes nothing.
    assert_eq!(enqueue(&store, "o4", 600, &[sub(w.id)]).await, vec![o4]);
    assert_eq!(enqueue(&store, "n1", 600, &[sub(w.id)]).await, vec![n1]);
}

async fn delete_webhook_cascades(store: Store) {
    let w1 = create(&store, "a").await;
    let w2 = create(&store, "b").await;
    let ids = enqueue(&store, "e1", 1, &[sub(w1.id), sub(w2.id), pusher("app1")]).await;
    settle(&store, Outcome::Succeeded, t(2)).await;
    let pending = enqueue(&store, "e2", 3, &[sub(w1.id)]).await[0];
    store
        .record_attempt(&Attempt {
            attempt_id: Uuid::new_v4(),
            delivery_id: None,
            webhook_id: Some(w1.id),
            number: 1,
            status_code: Some(200),
            duration_ms: 1,
            response: None,
            error: None,
            trigger: Trigger::Test,
            created_at: t(4),
        })
        .await
        .expect("record");
    assert_eq!(store.attempts(w1.id, 10).await.expect("attempts").len(), 2);

    assert!(store.delete_webhook(w1.id).await.expect("delete"));
    assert_eq!(store.webhook(w1.id).await.expect("get"), None);
    assert!(store.deliveries(w1.id, 10).await.expect("list").is_empty());
    assert!(store
        .attempts(w1.id, 10)
        .await
        .expect("attempts")
        .is_empty());
    assert!(store
        .delivery_attempts(ids[0])
        .await
        .expect("attempts")
        .is_empty());
    assert_eq!(
        store
            .redeliver(w1.id, ids[0], t(5))
            .await
            .expect("redeliver"),
        None
    );
    assert_eq!(
        store
            .redeliver(w1.id, pending, t(5))
            .await
            .expect("redeliver"),
        None
    );
    assert_eq!(stats(&store).await, QueueStats::default());
    assert!(claim(&store, t(100)).await.is_empty());

    // Others keep theirs.
    assert_eq!(store.deliveries(w2.id, 10).await.expect("list").len(), 1);
    assert_eq!(store.attempts(w2.id, 10).await.expect("attempts").len(), 1);
    assert_eq!(
        store
            .delivery_attempts(ids[2])
            .await
            .expect("attempts")
            .len(),
        1
    );
    assert!(!store.delete_webhook(w1.id).await.expect("delete again"));
}

async fn signal_fires_on_enqueue(store: Store) {
    let w = create(&store, "a").await;
    let signal = store.delivery_signal();
    let notified = signal.notified();
    tokio::pin!(notified);
    notified.as_mut().enable();
    enqueue(&store, "e1", 1, &[sub(w.id)]).await;
    tokio::time::timeout(Duration::from_secs(5), notified)
        .await
        .expect("signalled on enqueue");
    // A worker busy during the enqueue finds the signal when it next waits.
    drain(&signal).await;
    enqueue(&store, "e2", 2, &[sub(w.id)]).await;
    tokio::time::timeout(Duration::from_secs(5), signal.notified())
        .await
        .expect("signal kept for the next waiter");
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL only

/// The backend pid of the `LISTEN` connection on this database, once it is listening.
async fn listener_pid(url: &str, not: Option<i32>) -> i32 {
    let client = admin_client(url).await.expect("connect");
    for _ in 0..200 {
        let row = client
            .query_opt(
                "SELECT pid FROM pg_stat_activity
                 WHERE datname = current_database() AND query = 'LISTEN relay_deliveries'
                   AND state = 'idle' AND pid IS DISTINCT FROM $1
                 LIMIT 1",
                &[&not],
            )
            .await
            .expect("pg_stat_activity");
        if let Some(row) = row {
            return row.get(0);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no LISTEN connection");
}

/// Consumes a signal left for the next waiter, if any.
async fn drain(signal: &tokio::sync::Notify) {
    tokio::time::sleep(Duration::from_millis(200)).await;
    while tokio::time::timeout(Duration::ZERO, signal.notified())
        .await
        .is_ok()
    {}
}

/// What one node enqueues wakes the workers of another, through LISTEN/NOTIFY, also after the
/// LISTEN connection was lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signal_crosses_nodes() {
    with_test_db(|url| async move {
        let a = Store::connect(&url).await.expect("connect a");
        let b = Store::connect(&url).await.expect("connect b");
        let w = create(&a, "a").await;
        let signal = b.delivery_signal();
        let first = listener_pid(&url, None).await;

        let expect_signal = |name: &'static str, secs: i64| {
            let (a, signal) = (a.clone(), signal.clone());
            async move {
                drain(&signal).await;
                let notified = signal.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                enqueue(&a, name, secs, &[sub(w.id)]).await;
                tokio::time::timeout(Duration::from_secs(5), notified)
                    .await
                    .unwrap_or_else(|_| panic!("{name}: no signal from the other node"));
            }
        };
        expect_signal("e1", 1).await;

        // A skipped delivery is nothing to do: no signal.
        drain(&signal).await;
        a.enqueue(&event("s1", 2), &[skipped(w.id)])
            .await
            .expect("enqueue");
        assert!(
            tokio::time::timeout(Duration::from_millis(500), signal.notified())
                .await
                .is_err(),
            "woken for a skipped delivery"
        );

        // The LISTEN connection dies; the store reconnects and listens again.
        let admin = admin_client(&url).await.expect("connect");
        admin
            .execute("SELECT pg_terminate_backend($1)", &[&first])
            .await
            .expect("terminate");
        let second = listener_pid(&url, Some(first)).await;
        assert_ne!(first, second);
        expect_signal("e2", 3).await;
    })
    .await;
}

/// The migration creates the queue's tables and its partial index.
#[tokio::test]
async fn migration_creates_queue_tables() {
    with_test_db(|url| async move {
        Store::connect(&url).await.expect("connect and migrate");
        let client = admin_client(&url).await.expect("connect");
        let tables: Vec<String> = client
            .query(
                "SELECT table_name::text FROM information_schema.tables
                 WHERE table_schema = 'public' AND table_name LIKE 'webhook%'
                 ORDER BY table_name",
                &[],
            )
            .await
            .expect("tables")
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert_eq!(
            tables,
            [
                "webhook_attempts",
                "webhook_deliveries",
                "webhook_events",
                "webhooks"
            ]
        );
        let index: String = client
            .query_one(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'webhook_deliveries_due_idx'",
                &[],
            )
            .await
            .expect("due index")
            .get(0);
        assert!(index.contains("WHERE (state = 'pending'::text)"), "{index}");
    })
    .await;
}
