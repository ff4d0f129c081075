//! Runs the pusher-js / npm `pusher` suite in `tests/node` against the real server binary.
//!
//! Needs `node` and `npm ci --prefix tests/node`. Without them the test is skipped with a message,
//! unless `CI` is set, where it fails.

use std::{process::Command, time::Duration};

use crate::suite::{has_node, has_node_modules, repo_root, run, unavailable};

/// The whole suite must finish within this; a hung run is killed and fails.
const SUITE_TIMEOUT: Duration = Duration::from_secs(20 * 60);

#[test]
fn pusher_js_and_npm_sdk_suite() {
    let dir = repo_root().join("tests").join("node");
    if !has_node()
        && unavailable(
            "node",
            "`node` is not installed (install Node.js >= 18, then run `npm ci --prefix tests/node`)",
        )
    {
        return;
    }
    if !has_node_modules(&dir, &["pusher-js", "pusher"])
        && unavailable(
            "node",
            "tests/node/node_modules is missing: run `npm ci --prefix tests/node`",
        )
    {
        return;
    }
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("read tests/node")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".test.mjs"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no *.test.mjs files in {}",
        dir.display()
    );
    let mut command = Command::new("node");
    command
        .arg("--test")
        .arg("--test-concurrency=1")
        .args(&files)
        .current_dir(&dir);
    run("node", command, SUITE_TIMEOUT);
}
