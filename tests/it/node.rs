//! Runs the pusher-js / npm `pusher` suite in `tests/node` against the real server binary.
//!
//! Needs `node` and `npm ci --prefix tests/node`. Without them the test is skipped with a message,
//! unless `CI` is set, where it fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The whole suite must finish within this; a hung run is killed and fails.
const SUITE_TIMEOUT: Duration = Duration::from_secs(20 * 60);

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
    assert!(!in_ci(), "node e2e suite cannot run in CI: {why}");
    eprintln!("skipped: {why}");
    true
}

#[test]
fn pusher_js_and_npm_sdk_suite() {
    let dir = repo_root().join("tests").join("node");
    if Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
        && unavailable("`node` is not installed (install Node.js >= 18, then run `npm ci --prefix tests/node`)")
    {
        return;
    }
    let installed = ["pusher-js", "pusher"].iter().all(|p| {
        dir.join("node_modules")
            .join(p)
            .join("package.json")
            .is_file()
    });
    if !installed
        && unavailable("tests/node/node_modules is missing: run `npm ci --prefix tests/node`")
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

    let bin = env!("CARGO_BIN_EXE_relay-server-e2e");
    eprintln!("running node --test in {} against {bin}", dir.display());
    let mut child = Command::new("node")
        .arg("--test")
        .arg("--test-concurrency=1")
        .args(&files)
        .current_dir(&dir)
        .env("RELAY_BIN", bin)
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
            panic!("node e2e suite did not finish within {SUITE_TIMEOUT:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        status.success(),
        "node e2e suite failed ({status}); see the output above"
    );
}
