//! Running an external test suite (node, pytest) against the server binary: the prerequisites
//! check (skip locally, fail in CI), and a watchdog so a hung suite fails instead of hanging.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

/// The repository root.
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// A prerequisite of `suite` is missing: skips locally (returns `true`, the caller returns),
/// fails when `CI` is set.
pub(crate) fn unavailable(suite: &str, why: &str) -> bool {
    assert!(
        !relay_e2e::in_ci(),
        "{suite} e2e suite cannot run in CI: {why}"
    );
    eprintln!("skipped: {why}");
    true
}

/// Whether `node` runs.
pub(crate) fn has_node() -> bool {
    Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether every package is installed in `dir/node_modules`.
pub(crate) fn has_node_modules(dir: &Path, packages: &[&str]) -> bool {
    packages.iter().all(|p| {
        dir.join("node_modules")
            .join(p)
            .join("package.json")
            .is_file()
    })
}

/// Runs `command` with `RELAY_BIN` set to the server binary, output streamed, and asserts it
/// succeeds within `timeout` (killed and failed otherwise).
pub(crate) fn run(suite: &str, mut command: Command, timeout: Duration) {
    let bin = env!("CARGO_BIN_EXE_relay-server-e2e");
    eprintln!("running the {suite} suite against {bin}");
    let mut child = command
        .env("RELAY_BIN", bin)
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn the {suite} suite: {e}"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the suite") {
            break status;
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{suite} e2e suite did not finish within {timeout:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        status.success(),
        "{suite} e2e suite failed ({status}); see the output above"
    );
}
