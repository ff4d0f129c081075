//! Runs the web console suite in `tests/browser` (headless Chromium driven by `playwright-core`)
//! against the real server binary. Screenshots go to `tests/artifacts/console/`.
//!
//! Needs `node`, `npm ci --prefix tests/browser` and Debian's `chromium` (`/usr/bin/chromium`, or
//! `RELAY_CHROMIUM`). Without them the test is skipped with a message, unless `CI` is set, where
//! it fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The whole suite must finish within this; a hung run is killed and fails.
const SUITE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn in_ci() -> bool {
    std::env::var("CI")
        .map(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
        .unwrap_or(false)
}

/// Skips (locally) or fails (in CI) with `why`. Returns `true` when the caller must return.
fn unavailable(why: &str) -> bool {
    assert!(!in_ci(), "browser e2e suite cannot run in CI: {why}");
    eprintln!("skipped: {why}");
    true
}

#[test]
fn web_console_in_headless_chromium() {
    let dir = repo_root().join("tests").join("browser");
    if Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
        && unavailable("`node` is not installed (install Node.js >= 18, then run `npm ci --prefix tests/browser`)")
    {
        return;
    }
    let installed = ["playwright-core", "pusher-js", "pusher"].iter().all(|p| {
        dir.join("node_modules")
            .join(p)
            .join("package.json")
            .is_file()
    });
    if !installed
        && unavailable("tests/browser/node_modules is missing: run `npm ci --prefix tests/browser`")
    {
        return;
    }
    let chromium = std::env::var("RELAY_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).is_file()
        && unavailable(&format!(
            "{chromium} is missing: run `apt-get install -y chromium`"
        ))
    {
        return;
    }

    let bin = env!("CARGO_BIN_EXE_relay-server-e2e");
    eprintln!("running node --test in {} against {bin}", dir.display());
    let mut child = Command::new("node")
        .arg("--test")
        .arg("--test-concurrency=1")
        .arg("console.test.mjs")
        .current_dir(&dir)
        .env("RELAY_BIN", bin)
        .env("RELAY_CHROMIUM", &chromium)
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn node");

    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break status;
        }
        if started.elapsed() > SUITE_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("browser e2e suite did not finish within {SUITE_TIMEOUT:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        status.success(),
        "browser e2e suite failed ({status}); see the output above"
    );
}
