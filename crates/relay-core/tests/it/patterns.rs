//! Subscriber patterns: `*`, `prefix.*`, exact names.

use relay_core::{EventName, EventNameError, EventPattern, PatternError, PatternKind};

fn pattern(text: &str) -> EventPattern {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn star_matches_everything() {
    let all = pattern("*");
    assert_eq!(all.kind(), PatternKind::All);
    assert_eq!(all, EventPattern::ALL);
    for name in relay_core::ALL_EVENT_NAMES {
        assert!(all.matches(name));
    }
    assert!(all.matches("fluent_community.post.created"));
}

#[test]
fn vertical_star_matches_the_vertical() {
    let backup = pattern("backup.*");
    assert_eq!(backup.kind(), PatternKind::Prefix("backup"));
    assert!(backup.matches("backup.backup.progress"));
    assert!(backup.matches("backup.restore.failed"));
    assert!(!backup.matches("backupx.backup.started"));
    assert!(!backup.matches("operator.backup.started"));
    assert!(!backup.matches("backup"));

    let wpcore = pattern("wpcore_layer.*");
    let matched: Vec<&str> = relay_core::ALL_EVENT_NAMES
        .iter()
        .copied()
        .filter(|n| wpcore.matches(n))
        .collect();
    assert_eq!(matched.len(), 7);
}

#[test]
fn firewall_vertical_matches_both_spellings() {
    for text in ["firewall_layer.*", "network_layer.*"] {
        let p = pattern(text);
        let matched: Vec<&str> = relay_core::ALL_EVENT_NAMES
            .iter()
            .copied()
            .filter(|n| p.matches(n))
            .collect();
        assert_eq!(
            matched,
            [
                "network_layer.firewall.attacks.blocked",
                "network_layer.firewall.blacklist.updated",
                "network_layer.firewall.whitelist.updated",
                "network_layer.firewall.toggled.on",
                "network_layer.firewall.toggled.off",
            ],
            "{text}"
        );
    }
}

#[test]
fn deeper_prefixes_and_namespaces() {
    let toggles = pattern("network_layer.firewall.toggled.*");
    assert!(toggles.matches("network_layer.firewall.toggled.on"));
    assert!(!toggles.matches("network_layer.firewall.attacks.blocked"));

    let plugins = pattern("application_layer.plugins.*");
    assert!(plugins.matches("application_layer.plugins.update.started"));
    assert!(plugins.matches("application_layer.plugins.activated"));
    assert!(!plugins.matches("application_layer.vulnerabilities_scan.started"));

    let community = pattern("fluent_community.*");
    assert!(community.matches("fluent_community.post.created"));
    assert!(!community.matches("fluent_communityx.post.created"));
    assert!(!community.matches("backup.backup.started"));
}

#[test]
fn exact_names_match_only_themselves() {
    let p = pattern("backup.backup.completed");
    assert_eq!(
        p.kind(),
        PatternKind::Exact(&EventName::try_from("backup.backup.completed").unwrap())
    );
    assert!(p.matches("backup.backup.completed"));
    assert!(!p.matches("backup.backup.completed.extra"));
    assert!(!p.matches("backup.backup.failed"));
    assert_eq!(
        EventPattern::from(EventName::try_from("operator.action.started").unwrap()).to_string(),
        "operator.action.started"
    );
}

#[test]
fn patterns_display_as_parsed() {
    for text in [
        "*",
        "backup.*",
        "network_layer.firewall.*",
        "operator.action.failed",
    ] {
        assert_eq!(pattern(text).to_string(), text);
    }
}

#[test]
fn bad_patterns_are_refused() {
    assert_eq!("".parse::<EventPattern>(), Err(PatternError::Empty));
    assert_eq!(
        "backup.*.started".parse::<EventPattern>(),
        Err(PatternError::Invalid(EventNameError::InvalidChar {
            ch: '*',
            at: 7
        }))
    );
    assert_eq!(
        ".*".parse::<EventPattern>(),
        Err(PatternError::Invalid(EventNameError::Empty))
    );
    assert_eq!(
        "backup*".parse::<EventPattern>(),
        Err(PatternError::Invalid(EventNameError::InvalidChar {
            ch: '*',
            at: 6
        }))
    );
    assert_eq!(
        "backup.started".parse::<EventPattern>(),
        Err(PatternError::Invalid(EventNameError::TooFewSegments {
            found: 2,
            min: 3
        }))
    );
}
