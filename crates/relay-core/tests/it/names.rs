//! `EventName`, `Origin`, `Vertical`: parsing and accessors.

use proptest::prelude::*;
use relay_core::{EventName, EventNameError, KnownEvent, Origin, Status, Vertical};

#[test]
fn accessors_split_vertical_subject_action() {
    let name = EventName::try_from("application_layer.plugins.update.started").unwrap();
    assert_eq!(name.prefix(), "application_layer");
    assert_eq!(name.vertical(), Vertical::ApplicationLayer);
    assert_eq!(name.subject(), "plugins.update");
    assert_eq!(name.action(), "started");
    assert_eq!(
        name.segments().collect::<Vec<_>>(),
        ["application_layer", "plugins", "update", "started"]
    );
    assert_eq!(name.known(), Some(KnownEvent::PluginsUpdateStarted));

    let name = EventName::try_from("fluent_community.post.created").unwrap();
    assert_eq!(name.known(), None);
    assert!(!name.vertical().is_known());
    assert_eq!(name.vertical().as_str(), "fluent_community");
}

#[test]
fn firewall_names_belong_to_firewall_layer() {
    let name = EventName::try_from("network_layer.firewall.attacks.blocked").unwrap();
    assert_eq!(name.vertical(), Vertical::FirewallLayer);
    assert_eq!(name.vertical().as_str(), "firewall_layer");
    assert_eq!(Vertical::FirewallLayer.name_prefix(), "network_layer");
    assert_eq!(Vertical::Backup.name_prefix(), "backup");
    assert_eq!(
        relay_core::vertical_of("network_layer.firewall.toggled.off"),
        Some(Vertical::FirewallLayer)
    );
    assert_eq!(relay_core::vertical_of("not a name"), None);
}

#[test]
fn invalid_names_say_why() {
    let max = EventName::MAX_LEN;
    let long = format!("a.b.{}", "c".repeat(max));
    let cases: &[(&str, EventNameError)] = &[
        ("", EventNameError::Empty),
        (&long, EventNameError::TooLong { len: max + 4, max }),
        (
            "backup.Backup.started",
            EventNameError::InvalidChar { ch: 'B', at: 7 },
        ),
        (
            "backup backup.started",
            EventNameError::InvalidChar { ch: ' ', at: 6 },
        ),
        (
            "pusher:subscribe",
            EventNameError::InvalidChar { ch: ':', at: 6 },
        ),
        ("backup..started", EventNameError::EmptySegment { index: 1 }),
        (
            ".backup.backup.started",
            EventNameError::EmptySegment { index: 0 },
        ),
        ("backup.backup.", EventNameError::EmptySegment { index: 2 }),
        (
            "backup.started",
            EventNameError::TooFewSegments { found: 2, min: 3 },
        ),
        (
            "backup",
            EventNameError::TooFewSegments { found: 1, min: 3 },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(
            EventName::try_from(*text).unwrap_err(),
            *expected,
            "{text:?}"
        );
    }
    assert_eq!(
        EventName::try_from("backup.started")
            .unwrap_err()
            .to_string(),
        "the event name has 2 segment(s), at least 3 are needed (vertical.subject.action)"
    );
}

#[test]
fn event_name_serde_round_trips() {
    let name = EventName::try_from("operator.action.failed").unwrap();
    let json = serde_json::to_string(&name).unwrap();
    assert_eq!(json, r#""operator.action.failed""#);
    assert_eq!(serde_json::from_str::<EventName>(&json).unwrap(), name);
    assert!(serde_json::from_str::<EventName>(r#""nope""#).is_err());
}

#[test]
fn origins_are_an_open_set() {
    for (text, origin) in [
        ("wpsec", Origin::Wpsec),
        ("wpfort_server", Origin::WpfortServer),
        ("wpfort_workers", Origin::WpfortWorkers),
        ("wpfort_frontend", Origin::WpfortFrontend),
        ("backend", Origin::Backend),
        ("worker", Origin::Worker),
        ("frontend", Origin::Frontend),
    ] {
        let parsed = Origin::from(text);
        assert_eq!(parsed, origin);
        assert!(parsed.is_known());
        assert_eq!(parsed.as_str(), text);
    }
    assert_eq!(Origin::Backend.canonical(), Origin::WpfortServer);
    assert_eq!(Origin::Worker.canonical(), Origin::WpfortWorkers);
    assert_eq!(Origin::Frontend.canonical(), Origin::WpfortFrontend);
    assert_eq!(Origin::Wpsec.canonical(), Origin::Wpsec);

    let placeholder = Origin::from("wpsec/backend/worker/frontend");
    assert!(!placeholder.is_known());
    assert_eq!(placeholder.to_string(), "wpsec/backend/worker/frontend");
    assert_eq!(placeholder.canonical(), placeholder);
    assert_eq!(Origin::from(String::from("cli")), Origin::from("cli"));
    assert_ne!(Origin::from("cli"), Origin::from("cron"));
    assert_eq!(
        serde_json::to_string(&placeholder).unwrap(),
        r#""wpsec/backend/worker/frontend""#
    );
    assert_eq!(
        serde_json::from_str::<Origin>(r#""wpsec""#).unwrap(),
        Origin::Wpsec
    );
}

#[test]
fn verticals_and_statuses_keep_unknown_values() {
    let known: Vec<&str> = Vertical::KNOWN.iter().map(Vertical::as_str).collect();
    assert_eq!(
        known,
        [
            "wpcore_layer",
            "filesystem_layer",
            "application_layer",
            "firewall_layer",
            "backup",
            "operator"
        ]
    );
    assert_eq!(Vertical::from("network_layer"), Vertical::FirewallLayer);
    assert!(!Vertical::from("storage_layer").is_known());
    assert_eq!(Vertical::from("storage_layer").as_str(), "storage_layer");
    assert_eq!(Status::from("in_progress"), Status::InProgress);
    assert_eq!(Status::from("skipped").as_str(), "skipped");
    assert!(!Status::from("skipped").is_known());
}

fn segment() -> impl Strategy<Value = String> {
    "[a-z0-9_-]{1,12}"
}

proptest! {
    #[test]
    fn valid_names_round_trip(segments in prop::collection::vec(segment(), 3..6)) {
        let text = segments.join(".");
        let name = EventName::try_from(text.as_str()).unwrap();
        prop_assert_eq!(name.as_str(), text.as_str());
        prop_assert_eq!(name.to_string().parse::<EventName>().unwrap(), name.clone());
        prop_assert_eq!(name.prefix(), segments[0].as_str());
        prop_assert_eq!(name.action(), segments[segments.len() - 1].as_str());
        prop_assert_eq!(name.subject(), segments[1..segments.len() - 1].join("."));
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,64}") {
        if let Ok(name) = EventName::try_from(text.as_str()) {
            prop_assert_eq!(name.as_str(), text.as_str());
            prop_assert!(name.segments().count() >= 3);
        }
    }
}
