//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The real data folder named by `HOTSPOTS_DATA`, or `None` (after saying
/// the test is skipped). With `HOTSPOTS_REQUIRE_DATA=1` (as in CI) a missing
/// folder fails the test instead.
pub fn real_data(test: &str) -> Option<PathBuf> {
    let required = std::env::var("HOTSPOTS_REQUIRE_DATA").is_ok_and(|v| v == "1");
    match std::env::var_os("HOTSPOTS_DATA").map(PathBuf::from) {
        Some(p) if p.join("SOURCES.md").exists() => Some(p),
        other => {
            let msg = format!("{test}: real data not found (HOTSPOTS_DATA={other:?})");
            if required {
                panic!("{msg}, and HOTSPOTS_REQUIRE_DATA=1");
            }
            eprintln!("SKIPPED {msg}");
            None
        }
    }
}

/// The repository root (for `data/*.toml`).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
