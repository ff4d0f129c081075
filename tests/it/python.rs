//! Runs the PyPI `pusher` SDK suite in `tests/python` against the real server binary.
//!
//! Needs `python3 -m pip install -r tests/python/requirements.txt`. Without the packages the
//! test is skipped with a message, unless `CI` is set, where it fails.

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use crate::suite::{repo_root, run, unavailable};

/// The whole suite must finish within this; a hung run is killed and fails.
const SUITE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

#[test]
fn pypi_sdk_suite() {
    let probe = Command::new("python3")
        .args(["-c", "import pusher, websocket, pytest"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !probe.is_ok_and(|s| s.success())
        && unavailable(
            "python",
            "python3 with the packages `pusher`, `websocket-client` and `pytest` is missing: \
             run `python3 -m pip install -r tests/python/requirements.txt`",
        )
    {
        return;
    }
    let mut command = Command::new("python3");
    command
        .args(["-m", "pytest", "-q", "tests/python"])
        .current_dir(repo_root())
        .env("PYTHONDONTWRITEBYTECODE", "1");
    run("python", command, SUITE_TIMEOUT);
}
