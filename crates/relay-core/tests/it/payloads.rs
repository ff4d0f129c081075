//! Whole requests and payloads: the seed's curl example, the wrapper format, typed fields and
//! error paths.

use std::fs;

use relay_core::{
    events::Metadata, validate, EventName, Expected, IngestRequest, JsonType, KnownEvent, Origin,
    PayloadError, Status, UnknownEvents, UrlError, Vertical,
};
use serde_json::value::RawValue;

use crate::tests_dir;

fn raw(text: &str) -> &RawValue {
    serde_json::from_str(text).expect("test JSON")
}

fn name(text: &str) -> EventName {
    EventName::try_from(text).expect("test name")
}

#[test]
fn seed_curl_example_validates_verbatim() {
    let body = fs::read_to_string(tests_dir("bodies/seed-curl.json")).unwrap();
    let request = IngestRequest::parse(&body).unwrap();
    assert_eq!(request.domain(), "sub2.test-wpworld.uk");
    assert_eq!(
        request.event().known(),
        Some(KnownEvent::CoreReinstallStarted)
    );

    let event = request.validate(UnknownEvents::Reject).unwrap();
    assert!(event.is_wrapped());
    // What is broadcast is the request's `data`, byte for byte.
    let start = body.find(r#"{"event": "wpcore_layer"#).unwrap();
    assert_eq!(event.data().get(), &body[start..body.len() - 1]);
    assert!(event.inner().get().starts_with("{\n            \"origin\""));

    let payload = event.payload().unwrap();
    assert_eq!(payload.origin.as_str(), "wpsec/backend/worker/frontend");
    assert!(!payload.origin.is_known());
    assert_eq!(payload.vertical, Vertical::WpcoreLayer);
    assert_eq!(payload.status, Status::Success);
    assert_eq!(payload.message, "WordPress core reinstall started");
    assert_eq!(
        payload.operation_id.as_deref(),
        Some("wpsec_core_reinstall_685cac1d3fe1f9.94536193")
    );
    assert_eq!(payload.version.as_deref(), Some("current"));
    assert_eq!(
        payload.started_at.unwrap().to_string(),
        "2025-06-26 02:10:37"
    );
    let endpoint = payload.check_status_endpoint.as_ref().unwrap();
    assert_eq!(endpoint.host_str(), Some("dev.wptech.group"));
    assert_eq!(endpoint.path(), "/wp-json/wpsec/v1/core-reinstall");
    assert!(payload.metadata.is_none());
    assert!(payload.extra.is_empty());
}

const CORE: &str =
    r#"{"origin":"wpsec","vertical":"wpcore_layer","status":"success","message":"Started"}"#;

#[test]
fn wrapper_and_bare_payloads_both_validate() {
    let n = name("wpcore_layer.core_check.started");

    let bare = validate(&n, raw(CORE), UnknownEvents::Reject).unwrap();
    assert!(!bare.is_wrapped());
    assert_eq!(bare.inner().get(), CORE);

    let wrapped_text = format!(r#"{{"event":"wpcore_layer.core_check.started","data":{CORE}}}"#);
    let wrapped = validate(&n, raw(&wrapped_text), UnknownEvents::Reject).unwrap();
    assert!(wrapped.is_wrapped());
    assert_eq!(wrapped.data().get(), wrapped_text);
    assert_eq!(wrapped.inner().get(), CORE);

    // The wrapper's `event` is optional, but must match when present.
    let no_event = format!(r#"{{"data":{CORE}}}"#);
    assert!(validate(&n, raw(&no_event), UnknownEvents::Reject)
        .unwrap()
        .is_wrapped());
    let other = format!(r#"{{"event":"backup.backup.started","data":{CORE}}}"#);
    let err = validate(&n, raw(&other), UnknownEvents::Reject).unwrap_err();
    assert_eq!(
        err,
        PayloadError::EventMismatch {
            path: err.path().clone(),
            expected: n.clone(),
            found: "backup.backup.started".into()
        }
    );
    assert_eq!(err.path(), "data.event");
    let numeric = format!(r#"{{"event":7,"data":{CORE}}}"#);
    assert_eq!(
        validate(&n, raw(&numeric), UnknownEvents::Reject)
            .unwrap_err()
            .to_string(),
        "data.event: expected a string, found a number"
    );

    // Errors inside a wrapper point into it.
    let bad = r#"{"event":"wpcore_layer.core_check.started","data":{"origin":"wpsec","vertical":"wpcore_layer","status":"success","message":"x","check_status_endpoint":"/relative"}}"#;
    let err = validate(&n, raw(bad), UnknownEvents::Reject).unwrap_err();
    assert_eq!(err.path(), "data.data.check_status_endpoint");
    assert!(matches!(
        err,
        PayloadError::InvalidUrl {
            reason: UrlError::Parse(_),
            ..
        }
    ));

    let not_object = r#"{"event":"wpcore_layer.core_check.started","data":"{}"}"#;
    assert_eq!(
        validate(&n, raw(not_object), UnknownEvents::Reject).unwrap_err(),
        PayloadError::WrongType {
            path: relay_core::Path::root().child("data").child("data"),
            expected: Expected::Object,
            found: JsonType::String,
        }
    );
}

#[test]
fn an_object_with_origin_is_never_a_wrapper() {
    // A payload that happens to carry a `data` field of its own stays a bare payload.
    let text =
        r#"{"origin":"wpsec","vertical":"backup","status":"success","message":"m","data":{"x":1}}"#;
    let event = validate(
        &name("backup.restore.started"),
        raw(text),
        UnknownEvents::Reject,
    )
    .unwrap();
    assert!(!event.is_wrapped());
    let payload = event.payload().unwrap();
    assert_eq!(payload.extra.len(), 1);
    assert_eq!(payload.extra[0].0, "data");
    assert_eq!(payload.extra[0].1.get(), r#"{"x":1}"#);
}

#[test]
fn firewall_payloads_accept_both_vertical_spellings() {
    let n = name("network_layer.firewall.attacks.blocked");
    for vertical in ["firewall_layer", "network_layer"] {
        let text = format!(
            r#"{{"origin":"wpsec","vertical":"{vertical}","status":"success","message":"Attack blocked",
               "metadata":{{"attack_type":"XSS","attack_time":"2025-06-26T02:10:37Z","rule":"941100"}}}}"#
        );
        let event = validate(&n, raw(&text), UnknownEvents::Reject).unwrap();
        let payload = event.payload().unwrap();
        assert_eq!(payload.vertical, Vertical::FirewallLayer);
        let Some(Metadata::Firewall(meta)) = &payload.metadata else {
            panic!("firewall metadata")
        };
        assert_eq!(meta.attack_type.as_deref(), Some("XSS"));
        assert_eq!(meta.attack_time.unwrap().offset_minutes(), Some(0));
        assert_eq!(meta.extra.len(), 1);
    }
    // ...but `network_layer` is not a spelling of any other vertical.
    let text = r#"{"origin":"wpsec","vertical":"network_layer","status":"success","message":"m"}"#;
    let err = validate(
        &name("backup.backup.started"),
        raw(text),
        UnknownEvents::Reject,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "data.vertical: `network_layer` does not match event `backup.backup.started`, whose vertical is `backup`"
    );
}

#[test]
fn typed_metadata_per_vertical() {
    let app = r#"{"origin":"backend","vertical":"application_layer","status":"success","message":"Plugin updated",
        "metadata":{"plugin_name":"akismet","plugin_version":"5.3","plugin_status":"active"}}"#;
    let event = validate(
        &name("application_layer.plugins.update.completed"),
        raw(app),
        UnknownEvents::Reject,
    )
    .unwrap();
    let payload = event.payload().unwrap();
    assert_eq!(payload.origin, Origin::Backend);
    assert_eq!(payload.origin.canonical(), Origin::WpfortServer);
    let Some(Metadata::Application(meta)) = &payload.metadata else {
        panic!("application metadata")
    };
    assert_eq!(meta.plugin_name.as_deref(), Some("akismet"));

    let backup = r#"{"origin":"wpfort_server","vertical":"backup","status":"success","message":"m",
        "metadata":{"backup_id":"b1","backup_size":104857600,"progress":12.5,"status":"in_progress"}}"#;
    let event = validate(
        &name("backup.backup.progress"),
        raw(backup),
        UnknownEvents::Reject,
    )
    .unwrap();
    let Some(Metadata::Backup(meta)) = &event.payload().unwrap().metadata else {
        panic!("backup metadata")
    };
    assert_eq!(meta.backup_id.as_deref(), Some("b1"));
    assert_eq!(meta.backup_size.unwrap().get(), "104857600");
    assert_eq!(meta.progress, Some(12.5));

    let size = r#"{"origin":"wpsec","vertical":"backup","status":"success","message":"m","metadata":{"backup_size":[1]}}"#;
    assert_eq!(
        validate(
            &name("backup.backup.completed"),
            raw(size),
            UnknownEvents::Reject
        )
        .unwrap_err()
        .to_string(),
        "data.metadata.backup_size: expected a string or a number, found an array"
    );

    let op = r#"{"origin":"wpsec","vertical":"operator","status":"success","message":"m",
        "metadata":{"assessment_id":"a1","metadata":{"score":9}}}"#;
    let event = validate(
        &name("operator.assessment.completed"),
        raw(op),
        UnknownEvents::Reject,
    )
    .unwrap();
    let Some(Metadata::Operator(meta)) = &event.payload().unwrap().metadata else {
        panic!("operator metadata")
    };
    assert_eq!(meta.metadata.unwrap().get(), r#"{"score":9}"#);

    let fs = r#"{"origin":"wpsec","vertical":"filesystem_layer","status":"success","message":"m","metadata":{"files":3}}"#;
    let event = validate(
        &name("filesystem_layer.file_delete.completed"),
        raw(fs),
        UnknownEvents::Reject,
    )
    .unwrap();
    let Some(Metadata::Object(meta)) = &event.payload().unwrap().metadata else {
        panic!("object metadata")
    };
    assert_eq!(meta.get(), r#"{"files":3}"#);
}

#[test]
fn escaped_keys_and_values_are_understood() {
    let text = r#"{"orig\u0069n":"wp\u0073ec","vertical":"backup","status":"success","message":"line\nbreak"}"#;
    let event = validate(
        &name("backup.backup.started"),
        raw(text),
        UnknownEvents::Reject,
    )
    .unwrap();
    let payload = event.payload().unwrap();
    assert_eq!(payload.origin, Origin::Wpsec);
    assert_eq!(payload.message, "line\nbreak");
    assert_eq!(event.data().get(), text);
}

#[test]
fn url_problems_are_specific() {
    let n = name("filesystem_layer.filesystem_scan.started");
    let with = |url: &str| {
        format!(
            r#"{{"origin":"wpsec","vertical":"filesystem_layer","status":"success","message":"m","check_status_endpoint":"{url}"}}"#
        )
    };
    let reason = |url: &str| match validate(&n, raw(&with(url)), UnknownEvents::Reject) {
        Err(PayloadError::InvalidUrl { path, reason }) => {
            assert_eq!(path, "data.check_status_endpoint");
            Some(reason)
        }
        Err(other) => panic!("{url}: {other}"),
        Ok(_) => None,
    };
    assert_eq!(reason("https://example.com/x?y=1"), None);
    assert_eq!(reason("http://127.0.0.1:8080/status"), None);
    assert_eq!(reason("javascript:alert(1)"), Some(UrlError::Scheme));
    assert_eq!(reason("file:///etc/passwd"), Some(UrlError::Scheme));
    assert_eq!(
        reason("wp-json/wpsec/v1"),
        Some(UrlError::Parse(url::ParseError::RelativeUrlWithoutBase))
    );
    assert_eq!(
        reason(""),
        Some(UrlError::Parse(url::ParseError::RelativeUrlWithoutBase))
    );
}

#[test]
fn request_body_errors_name_the_field() {
    let cases = [
        ("not json", "body: invalid JSON at line 1, column 2"),
        ("[]", "body: expected an object, found an array"),
        (
            r#"{"event":"backup.backup.started","data":{}}"#,
            "domain: missing required field",
        ),
        (
            r#"{"domain":"","event":"backup.backup.started","data":{}}"#,
            "domain: must not be empty",
        ),
        (
            r#"{"domain":"a.com","data":{}}"#,
            "event: missing required field",
        ),
        (
            r#"{"domain":"a.com","event":null,"data":{}}"#,
            "event: expected a string, found null",
        ),
        (
            r#"{"domain":"a.com","event":"Backup","data":{}}"#,
            "event: the event name has 'B' at byte 0; only a-z, 0-9, `_`, `-` and `.` are allowed",
        ),
        (
            r#"{"domain":"a.com","event":"backup.backup.started"}"#,
            "data: missing required field",
        ),
        (
            r#"{"domain":"a.com","domain":"b.com","event":"backup.backup.started","data":{}}"#,
            "domain: the field appears more than once",
        ),
    ];
    for (body, expected) in cases {
        let err = IngestRequest::parse(body).unwrap_err();
        assert_eq!(err.to_string(), expected, "{body}");
    }

    let body = r#"{"domain":"a.com","event":"backup.backup.started","data":null}"#;
    let request = IngestRequest::parse(body).unwrap();
    assert_eq!(
        request
            .validate(UnknownEvents::Reject)
            .unwrap_err()
            .to_string(),
        "data: expected an object, found null"
    );
    let body = r#"{"domain":"a.com","event":"backup.backup.started","data":{"origin":"wpsec"}}"#;
    let request = IngestRequest::parse(body).unwrap();
    assert_eq!(
        request
            .validate(UnknownEvents::Reject)
            .unwrap_err()
            .to_string(),
        "data.vertical: missing required field"
    );
}

#[test]
fn required_fields_and_null_optionals() {
    let n = name("operator.action.completed");
    let base = r#""origin":"wpsec","vertical":"operator","status":"success","message":"m""#;
    let ok = format!(r#"{{{base},"operation_id":null,"metadata":null,"started_at":null}}"#);
    let event = validate(&n, raw(&ok), UnknownEvents::Reject).unwrap();
    assert!(event.payload().unwrap().metadata.is_none());

    for (field, found) in [("origin", "null"), ("status", "null"), ("message", "null")] {
        let text = format!(
            r#"{{{}}}"#,
            base.replace(
                &format!(r#""{field}":"#),
                &format!(r#""{field}":null,"was_{field}":"#)
            )
        );
        let err = validate(&n, raw(&text), UnknownEvents::Reject).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("data.{field}: expected a string, found {found}")
        );
    }
    let empty_status = format!(
        r#"{{{}}}"#,
        base.replace(r#""status":"success""#, r#""status":"""#)
    );
    assert_eq!(
        validate(&n, raw(&empty_status), UnknownEvents::Reject)
            .unwrap_err()
            .to_string(),
        "data.status: must not be empty"
    );
    let custom_status = format!(r#"{{{}}}"#, base.replace("success", "skipped"));
    let event = validate(&n, raw(&custom_status), UnknownEvents::Reject).unwrap();
    assert_eq!(event.payload().unwrap().status.as_str(), "skipped");
}
