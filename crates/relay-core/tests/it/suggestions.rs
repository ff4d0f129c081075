//! Unknown event names: rejected by default with suggestions, or relayed on request.

use relay_core::{
    edit_distance, suggestions, validate, EventName, KnownEvent, PayloadError, UnknownEvents,
};
use serde_json::value::RawValue;

#[test]
fn edit_distance_is_levenshtein() {
    assert_eq!(edit_distance("", ""), 0);
    assert_eq!(edit_distance("abc", ""), 3);
    assert_eq!(edit_distance("", "abc"), 3);
    assert_eq!(edit_distance("kitten", "sitting"), 3);
    assert_eq!(edit_distance("flaw", "lawn"), 2);
    assert_eq!(
        edit_distance("backup.backup.started", "backup.backup.started"),
        0
    );
    assert_eq!(edit_distance("héllo", "hello"), 1);
}

#[test]
fn typos_suggest_the_intended_name_first() {
    let cases = [
        (
            "wpcore_layer.core_reinstal.started",
            KnownEvent::CoreReinstallStarted,
        ),
        ("backup.backup.complete", KnownEvent::BackupCompleted),
        ("backup.backup.progres", KnownEvent::BackupProgress),
        (
            "filesystem_layer.file_quarantine.complete",
            KnownEvent::FileQuarantineCompleted,
        ),
        (
            "firewall_layer.firewall.toggled.on",
            KnownEvent::FirewallToggledOn,
        ),
        (
            "network_layer.firewall.attack.blocked",
            KnownEvent::FirewallAttacksBlocked,
        ),
        (
            "application_layer.plugin.activated",
            KnownEvent::PluginsActivated,
        ),
        ("operator.actions.failed", KnownEvent::ActionFailed),
    ];
    for (typo, intended) in cases {
        let found = suggestions(typo);
        assert_eq!(found.first(), Some(&intended), "{typo}: {found:?}");
        assert!(found.len() <= 3);
    }
}

#[test]
fn several_close_names_are_all_suggested() {
    let found = suggestions("operator.action.start");
    assert_eq!(found.first(), Some(&KnownEvent::ActionStarted));
    let names: Vec<&str> = found.iter().map(|k| k.as_str()).collect();
    assert!(names.len() <= 3, "{names:?}");
    let err = validate(
        &EventName::try_from("backup.backups.started").unwrap(),
        serde_json::from_str("{}").unwrap(),
        UnknownEvents::Reject,
    )
    .unwrap_err();
    let PayloadError::UnknownEvent { suggestions, .. } = err else {
        panic!("unknown event")
    };
    assert_eq!(suggestions[0], KnownEvent::BackupStarted);
}

#[test]
fn unrelated_names_suggest_nothing() {
    assert!(suggestions("fluent_community.post.created").is_empty());
    assert!(suggestions("x.y.z").is_empty());
}

#[test]
fn unknown_names_are_rejected_by_default_with_suggestions() {
    let name = EventName::try_from("backup.backup.complete").unwrap();
    let data: &RawValue = serde_json::from_str(r#"{"origin":"wpsec"}"#).unwrap();
    let err = validate(&name, data, UnknownEvents::default()).unwrap_err();
    match &err {
        PayloadError::UnknownEvent {
            path,
            name: found,
            suggestions,
        } => {
            assert_eq!(path, "event");
            assert_eq!(found, &name);
            assert_eq!(suggestions.first(), Some(&KnownEvent::BackupCompleted));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "event: unknown event `backup.backup.complete`; did you mean `backup.backup.completed`?"
    );
    assert_eq!(err.path(), "event");

    let name = EventName::try_from("fluent_community.post.created").unwrap();
    let err = validate(&name, data, UnknownEvents::Reject).unwrap_err();
    assert_eq!(
        err.to_string(),
        "event: unknown event `fluent_community.post.created`"
    );
}

#[test]
fn relay_policy_lets_unknown_names_through_with_a_marker() {
    // A namespace outside the known verticals: only an object is required.
    let name = EventName::try_from("fluent_community.post.created").unwrap();
    let text = r#"{"post_id": 7, "title": "Hi"}"#;
    let data: &RawValue = serde_json::from_str(text).unwrap();
    let event = validate(&name, data, UnknownEvents::Relay).unwrap();
    assert!(event.is_relayed_unknown());
    assert_eq!(event.known(), None);
    assert!(event.payload().is_none());
    assert_eq!(event.data().get(), text);

    let list: &RawValue = serde_json::from_str("[1]").unwrap();
    let err = validate(&name, list, UnknownEvents::Relay).unwrap_err();
    assert_eq!(err.to_string(), "data: expected an object, found an array");

    // An unknown name in a known vertical still follows the vertical's data structure.
    let name = EventName::try_from("wpcore_layer.core_update.started").unwrap();
    let err = validate(&name, data, UnknownEvents::Relay).unwrap_err();
    assert_eq!(err.to_string(), "data.origin: missing required field");
    let good: &RawValue = serde_json::from_str(
        r#"{"origin":"wpsec","vertical":"wpcore_layer","status":"success","message":"Update started"}"#,
    )
    .unwrap();
    let event = validate(&name, good, UnknownEvents::Relay).unwrap();
    assert!(event.is_relayed_unknown());
    assert!(event.payload().is_some());

    // Known names are not marked.
    let name = EventName::try_from("wpcore_layer.core_reinstall.started").unwrap();
    let event = validate(&name, good, UnknownEvents::Relay).unwrap();
    assert_eq!(event.known(), Some(KnownEvent::CoreReinstallStarted));
    assert!(!event.is_relayed_unknown());
}

#[test]
fn unknown_events_policy_parses_from_config() {
    assert_eq!("reject".parse::<UnknownEvents>(), Ok(UnknownEvents::Reject));
    assert_eq!("relay".parse::<UnknownEvents>(), Ok(UnknownEvents::Relay));
    assert!("allow".parse::<UnknownEvents>().is_err());
    assert_eq!(
        serde_json::from_str::<UnknownEvents>(r#""relay""#).unwrap(),
        UnknownEvents::Relay
    );
    assert_eq!(UnknownEvents::default(), UnknownEvents::Reject);
    assert_eq!(UnknownEvents::Relay.to_string(), "relay");
}
