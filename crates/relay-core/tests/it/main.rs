//! Integration tests of `relay-core`: one binary, one module per area.

mod backup;
mod catalog;
mod fixtures;
mod names;
mod patterns;
mod payloads;
mod suggestions;

use std::path::PathBuf;

/// `crates/relay-core/tests/<rel>`.
fn tests_dir(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(rel)
}
