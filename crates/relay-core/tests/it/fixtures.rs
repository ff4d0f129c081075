//! Runs every payload fixture: `tests/fixtures/<event>/valid-*.json` must validate (and be
//! kept byte for byte), `invalid-*.json` must fail with the message in `invalid-*.err`.

use std::fs;

use relay_core::{validate, EventName, UnknownEvents};
use serde_json::value::RawValue;

use crate::tests_dir;

fn fixtures() -> Vec<(EventName, String, String)> {
    let mut out = Vec::new();
    for dir in fs::read_dir(tests_dir("fixtures")).expect("tests/fixtures exists") {
        let dir = dir.expect("readable dir entry").path();
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 folder name");
        let name = EventName::try_from(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        for file in fs::read_dir(&dir).expect("readable fixture folder") {
            let path = file.expect("readable dir entry").path();
            let file_name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("utf-8")
                .to_owned();
            if file_name.ends_with(".json") {
                let text = fs::read_to_string(&path).expect("readable fixture");
                out.push((name.clone(), file_name, text));
            }
        }
    }
    out.sort_by(|a, b| (a.0.as_str(), &a.1).cmp(&(b.0.as_str(), &b.1)));
    assert!(out.len() >= 2 * relay_core::ALL_EVENT_NAMES.len());
    out
}

#[test]
fn valid_fixtures_validate_and_are_kept_verbatim() {
    let mut failures = Vec::new();
    for (name, file, text) in fixtures().into_iter().filter(|f| f.1.starts_with("valid-")) {
        let raw: &RawValue = serde_json::from_str(&text).expect("fixture is JSON");
        match validate(&name, raw, UnknownEvents::Reject) {
            Ok(event) => {
                assert_eq!(event.data().get(), text.trim(), "{name}/{file}");
                assert_eq!(event.known(), name.known());
                let payload = event.payload().expect("known events have a payload");
                assert_eq!(payload.vertical, name.vertical(), "{name}/{file}");
            }
            Err(e) => failures.push(format!("{name}/{file}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "valid fixtures refused:\n{}",
        failures.join("\n")
    );
}

#[test]
fn invalid_fixtures_fail_with_the_expected_error() {
    let mut failures = Vec::new();
    for (name, file, text) in fixtures()
        .into_iter()
        .filter(|f| f.1.starts_with("invalid-"))
    {
        let err_path = tests_dir("fixtures")
            .join(name.as_str())
            .join(file.replace(".json", ".err"));
        let expected = fs::read_to_string(&err_path)
            .unwrap_or_else(|_| panic!("{name}/{file} needs an .err file with the expected error"));
        let raw: &RawValue = serde_json::from_str(&text).expect("fixture is JSON");
        // Both policies: an invalid payload of a known event fails either way.
        for policy in [UnknownEvents::Reject, UnknownEvents::Relay] {
            match validate(&name, raw, policy) {
                Ok(_) => failures.push(format!("{name}/{file}: accepted")),
                Err(e) if e.to_string() != expected.trim() => failures.push(format!(
                    "{name}/{file}:\n  expected: {}\n  found:    {e}",
                    expected.trim()
                )),
                Err(_) => {}
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
