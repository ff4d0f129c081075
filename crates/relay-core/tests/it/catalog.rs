//! The catalog: every name parses, has its vertical, and has fixtures.

use std::{collections::BTreeSet, fs};

use relay_core::{vertical_of, EventName, KnownEvent, Vertical, ALL_EVENT_NAMES};

use crate::tests_dir;

#[test]
fn every_name_parses_and_round_trips() {
    assert_eq!(ALL_EVENT_NAMES.len(), KnownEvent::ALL.len());
    for (&text, &known) in ALL_EVENT_NAMES.iter().zip(KnownEvent::ALL) {
        let name = EventName::try_from(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(known.as_str(), text);
        assert_eq!(name.known(), Some(known));
        assert_eq!(KnownEvent::from_name(text), Some(known));
        assert_eq!(known.name(), name);
        assert_eq!(known.vertical(), name.vertical());
        assert_eq!(known.action(), name.action());
        assert_eq!(known.prefix(), name.prefix());
        assert_eq!(vertical_of(text), Some(known.vertical()));
        assert!(known.vertical().is_known(), "{text} has no known vertical");
        assert_eq!(known.vertical().name_prefix(), name.prefix(), "{text}");
    }
}

#[test]
fn names_are_unique() {
    let unique: BTreeSet<_> = ALL_EVENT_NAMES.iter().collect();
    assert_eq!(unique.len(), ALL_EVENT_NAMES.len());
}

#[test]
fn every_seed_vertical_has_events() {
    for vertical in Vertical::KNOWN {
        assert!(
            KnownEvent::of_vertical(vertical).next().is_some(),
            "no event in vertical {vertical}"
        );
    }
}

#[test]
fn catalog_holds_the_seed_names() {
    // Seed 000, as listed there, plus `backup.backup.progress` (issue 4).
    let seed = [
        "wpcore_layer.core_reinstall.started",
        "wpcore_layer.core_reinstall.completed",
        "wpcore_layer.core_reinstall.failed",
        "wpcore_layer.core_check.started",
        "wpcore_layer.core_check.completed",
        "wpcore_layer.permissions_fix.completed",
        "wpcore_layer.permissions_fix.failed",
        "filesystem_layer.filesystem_scan.started",
        "filesystem_layer.filesystem_scan.completed",
        "filesystem_layer.filesystem_scan.failed",
        "filesystem_layer.file_quarantine.completed",
        "filesystem_layer.file_quarantine_restore.completed",
        "filesystem_layer.file_quarantine_restore.failed",
        "filesystem_layer.file_quarantine.failed",
        "filesystem_layer.file_whitelist.completed",
        "filesystem_layer.file_whitelist_remove.completed",
        "filesystem_layer.file_whitelist_remove.failed",
        "filesystem_layer.file_whitelist.failed",
        "filesystem_layer.file_restore.completed",
        "filesystem_layer.file_restore.failed",
        "filesystem_layer.file_delete.completed",
        "filesystem_layer.file_delete.failed",
        "application_layer.plugins.update.started",
        "application_layer.plugins.update.completed",
        "application_layer.plugins.update.failed",
        "application_layer.plugins.activated",
        "application_layer.plugins.deactivated",
        "application_layer.vulnerabilities_scan.started",
        "application_layer.vulnerabilities_scan.completed",
        "application_layer.vulnerabilities_scan.failed",
        "network_layer.firewall.attacks.blocked",
        "network_layer.firewall.blacklist.updated",
        "network_layer.firewall.whitelist.updated",
        "network_layer.firewall.toggled.on",
        "network_layer.firewall.toggled.off",
        "backup.backup.started",
        "backup.backup.completed",
        "backup.backup.failed",
        "backup.restore.started",
        "backup.restore.completed",
        "backup.restore.failed",
        "operator.assessment.started",
        "operator.assessment.completed",
        "operator.assessment.failed",
        "operator.action.started",
        "operator.action.completed",
        "operator.action.failed",
        "backup.backup.progress",
    ];
    let seed: BTreeSet<&str> = seed.into_iter().collect();
    let catalog: BTreeSet<&str> = ALL_EVENT_NAMES.iter().copied().collect();
    assert_eq!(seed, catalog);
}

/// Fails when a catalog name lacks a valid or an invalid fixture, and when a fixture folder
/// names no catalog event (a typo would otherwise go untested).
#[test]
fn every_name_has_valid_and_invalid_fixtures() {
    let root = tests_dir("fixtures");
    let mut missing = Vec::new();
    for name in ALL_EVENT_NAMES {
        let files: Vec<String> = fs::read_dir(root.join(name))
            .map(|dir| {
                dir.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|f| f.ends_with(".json"))
                    .collect()
            })
            .unwrap_or_default();
        for kind in ["valid-", "invalid-"] {
            if !files.iter().any(|f| f.starts_with(kind)) {
                missing.push(format!("{name}/{kind}*.json"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "missing fixtures:\n{}",
        missing.join("\n")
    );

    let mut strays = Vec::new();
    for entry in fs::read_dir(&root).expect("tests/fixtures exists") {
        let name = entry.expect("readable dir entry").file_name();
        let name = name.to_string_lossy();
        if KnownEvent::from_name(&name).is_none() {
            strays.push(name.into_owned());
        }
    }
    assert!(
        strays.is_empty(),
        "fixture folders with no catalog event: {strays:?}"
    );
}
