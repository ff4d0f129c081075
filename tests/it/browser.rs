//! Runs the web console suite in `tests/browser` (headless Chromium driven by `playwright-core`)
//! against the real server binary. Screenshots go to `tests/artifacts/console/`.
//!
//! Needs `node`, `npm ci --prefix tests/browser` and Debian's `chromium` (`/usr/bin/chromium`, or
//! `RELAY_CHROMIUM`). Without them the test is skipped with a message, unless `CI` is set, where
//! it fails.

use std::{path::Path, process::Command, time::Duration};

use crate::suite::{has_node, has_node_modules, repo_root, run, unavailable};

/// The whole suite must finish within this; a hung run is killed and fails.
const SUITE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

#[test]
fn web_console_in_headless_chromium() {
    let dir = repo_root().join("tests").join("browser");
    if !has_node()
        && unavailable(
            "browser",
            "`node` is not installed (install Node.js >= 18, then run `npm ci --prefix tests/browser`)",
        )
    {
        return;
    }
    if !has_node_modules(&dir, &["playwright-core", "pusher-js", "pusher"])
        && unavailable(
            "browser",
            "tests/browser/node_modules is missing: run `npm ci --prefix tests/browser`",
        )
    {
        return;
    }
    let chromium = std::env::var("RELAY_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).is_file()
        && unavailable(
            "browser",
            &format!("{chromium} is missing: run `apt-get install -y chromium`"),
        )
    {
        return;
    }
    let mut command = Command::new("node");
    command
        .arg("--test")
        .arg("--test-concurrency=1")
        .arg("console.test.mjs")
        .current_dir(&dir)
        .env("RELAY_CHROMIUM", &chromium);
    run("browser", command, SUITE_TIMEOUT);
}
