//! Backup webhooks (seed 001) and the broadcasts they produce (seed 000's backup structure).

use relay_core::{
    backup::{CompleteRequest, FailedRequest, Percent, ProgressRequest, Status, Update},
    events::Metadata,
    validate, KnownEvent, UnknownEvents,
};
use serde_json::value::RawValue;

#[test]
fn seed_progress_body() {
    let body = r#"{
  "domain": "example.com",
  "backup_id": "backup_123456789",
  "status": "in_progress",
  "progress": 45.7
}"#;
    let request = ProgressRequest::parse(body).unwrap();
    assert_eq!(request.domain, "example.com");
    assert_eq!(request.backup_id, "backup_123456789");
    assert_eq!(request.status, Some(Status::InProgress));
    assert_eq!(request.progress.map(Percent::get), Some(46));

    let update = request.update(Percent::ZERO);
    assert_eq!(update.event(), KnownEvent::BackupProgress);
    assert_eq!(
        update.data(),
        r#"{"origin":"wpfort_server","vertical":"backup","status":"success","message":"Backup in progress (46%)","metadata":{"backup_id":"backup_123456789","progress":46,"status":"in_progress"}}"#
    );
}

#[test]
fn progress_is_optional_rounded_and_clamped() {
    let parse = |progress: &str| {
        let body = format!(r#"{{"domain":"a.com","backup_id":"b","progress":{progress}}}"#);
        ProgressRequest::parse(&body).map(|r| r.progress.map(Percent::get))
    };
    assert_eq!(parse("0"), Ok(Some(0)));
    assert_eq!(parse("99.5"), Ok(Some(100)));
    assert_eq!(parse("100"), Ok(Some(100)));
    assert_eq!(parse("150"), Ok(Some(100)));
    assert_eq!(parse("-4.2"), Ok(Some(0)));
    assert_eq!(parse("1e300"), Ok(Some(100)));
    assert_eq!(parse("null"), Ok(None));
    assert_eq!(
        parse(r#""45""#).unwrap_err().to_string(),
        "progress: expected a number, found a string"
    );

    let minimal = ProgressRequest::parse(r#"{"domain":"a.com","backup_id":"b"}"#).unwrap();
    assert_eq!(minimal.status, None);
    assert_eq!(minimal.progress, None);
    let update = minimal.update(Percent::new(30).unwrap());
    assert_eq!(update.status, Status::InProgress);
    assert_eq!(update.progress.get(), 30);

    let pending = ProgressRequest::parse(
        r#"{"domain":"a.com","backup_id":"b","status":"pending","progress":0}"#,
    )
    .unwrap();
    let update = pending.update(Percent::ZERO);
    assert_eq!(update.event(), KnownEvent::BackupProgress);
    assert_eq!(update.message(), "Backup pending");
}

#[test]
fn progress_status_is_a_closed_set() {
    for status in ["completed", "failed", "running", ""] {
        let body = format!(r#"{{"domain":"a.com","backup_id":"b","status":"{status}"}}"#);
        let err = ProgressRequest::parse(&body).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("status: `{status}` is not one of `pending`, `in_progress`")
        );
    }
}

#[test]
fn required_fields_are_reported() {
    let cases = [
        ("{}", "domain: missing required field"),
        (r#"{"domain":"a.com"}"#, "backup_id: missing required field"),
        (
            r#"{"domain":"a.com","backup_id":""}"#,
            "backup_id: must not be empty",
        ),
        (
            r#"{"domain":" ","backup_id":"b"}"#,
            "domain: must not be empty",
        ),
        (
            r#"{"domain":"a.com","backup_id":123}"#,
            "backup_id: expected a string, found a number",
        ),
        ("nope", "body: invalid JSON at line 1, column 2"),
    ];
    for (body, expected) in cases {
        assert_eq!(
            ProgressRequest::parse(body).unwrap_err().to_string(),
            expected,
            "{body}"
        );
        assert_eq!(
            CompleteRequest::parse(body).unwrap_err().to_string(),
            expected,
            "{body}"
        );
        assert_eq!(
            FailedRequest::parse(body).unwrap_err().to_string(),
            expected,
            "{body}"
        );
    }
}

#[test]
fn seed_complete_body() {
    let body = r#"{
  "domain": "example.com",
  "backup_id": "backup_123456789"
}"#;
    let request = CompleteRequest::parse(body).unwrap();
    assert_eq!(request.domain, "example.com");
    let update = request.update();
    assert_eq!(update.progress, Percent::COMPLETE);
    assert_eq!(update.event(), KnownEvent::BackupCompleted);
    assert_eq!(
        update.data(),
        r#"{"origin":"wpfort_server","vertical":"backup","status":"success","message":"Backup completed","metadata":{"backup_id":"backup_123456789","progress":100,"status":"completed"}}"#
    );
}

#[test]
fn seed_failed_body() {
    let body = r#"{
  "domain": "example.com",
  "backup_id": "backup_123456789",
  "error_message": "Insufficient disk space"
}"#;
    let request = FailedRequest::parse(body).unwrap();
    assert_eq!(
        request.error_message.as_deref(),
        Some("Insufficient disk space")
    );
    let update = request.update(Percent::new(62).unwrap());
    assert_eq!(update.event(), KnownEvent::BackupFailed);
    assert_eq!(
        update.data(),
        r#"{"origin":"wpfort_server","vertical":"backup","status":"failed","message":"Backup failed: Insufficient disk space","metadata":{"backup_id":"backup_123456789","progress":62,"status":"failed","error_message":"Insufficient disk space"}}"#
    );

    let bare =
        FailedRequest::parse(r#"{"domain":"a.com","backup_id":"b","error_message":null}"#).unwrap();
    assert_eq!(bare.error_message, None);
    let update = bare.update(Percent::ZERO);
    assert_eq!(update.message(), "Backup failed");
    assert!(!update.data().contains("error_message"));
}

#[test]
fn broadcasts_validate_as_their_own_events() {
    let updates = [
        Update {
            backup_id: "b\"1",
            status: Status::Pending,
            progress: Percent::ZERO,
            error_message: None,
        },
        Update {
            backup_id: "b1",
            status: Status::InProgress,
            progress: Percent::new(5).unwrap(),
            error_message: None,
        },
        Update {
            backup_id: "b1",
            status: Status::Completed,
            progress: Percent::COMPLETE,
            error_message: None,
        },
        Update {
            backup_id: "b1",
            status: Status::Failed,
            progress: Percent::ZERO,
            error_message: Some("disk\nfull"),
        },
    ];
    for update in updates {
        let data = update.data();
        let raw: &RawValue = serde_json::from_str(&data).unwrap();
        let event = validate(&update.event().name(), raw, UnknownEvents::Reject)
            .unwrap_or_else(|e| panic!("{data}: {e}"));
        let payload = event.payload().unwrap();
        assert_eq!(payload.origin, relay_core::Origin::WpfortServer);
        let Some(Metadata::Backup(meta)) = &payload.metadata else {
            panic!("backup metadata")
        };
        assert_eq!(meta.backup_id.as_deref(), Some(update.backup_id));
        assert_eq!(meta.progress, Some(f64::from(update.progress.get())));
        assert_eq!(meta.status.as_deref(), Some(update.status.as_str()));
        assert_eq!(meta.error_message.as_deref(), update.error_message);
    }
}
