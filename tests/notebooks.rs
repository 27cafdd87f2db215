//! The analyst's notebooks (notebooks/*.ipynb) run headless with nbclient:
//! `python notebooks/run_all.py` executes each into a temporary copy and exits
//! non-zero on any failing cell. The Python (with notebooks/requirements.txt
//! installed) is named by `HOTSPOTS_NB_PYTHON`; without it the tests say
//! SKIPPED, unless `HOTSPOTS_REQUIRE_NOTEBOOKS=1` (as in CI), which fails them.

use std::path::{Path, PathBuf};
use std::process::Command;

fn python(test: &str) -> Option<PathBuf> {
    let required = std::env::var("HOTSPOTS_REQUIRE_NOTEBOOKS").is_ok_and(|v| v == "1");
    match std::env::var_os("HOTSPOTS_NB_PYTHON").map(PathBuf::from) {
        Some(p) if !p.as_os_str().is_empty() => Some(p),
        _ => {
            let msg = format!("{test}: no notebook Python (set HOTSPOTS_NB_PYTHON to a venv's python with notebooks/requirements.txt)");
            if required {
                panic!("{msg}, and HOTSPOTS_REQUIRE_NOTEBOOKS=1");
            }
            eprintln!("SKIPPED {msg}");
            None
        }
    }
}

/// Runs every notebook; `data` is the real data root, or `None` for the demo city.
fn run_all(py: &Path, data: Option<PathBuf>, out: &str) {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(out);
    let mut cmd = Command::new(py);
    cmd.arg(repo.join("notebooks/run_all.py"))
        .current_dir(&repo)
        .env("HOTSPOTS_BIN", env!("CARGO_BIN_EXE_hotspots"))
        .env("HOTSPOTS_NB_OUT", &out)
        .env("MPLBACKEND", "Agg");
    match data {
        // Absolute: the notebooks' kernels run in notebooks/, not here.
        Some(d) => cmd.env("HOTSPOTS_DATA", d.canonicalize().expect("HOTSPOTS_DATA")),
        None => cmd.env_remove("HOTSPOTS_DATA"),
    };
    let status = cmd.status().expect("run notebooks/run_all.py");
    assert!(
        status.success(),
        "notebooks failed ({status}); see the cell error above"
    );
}

#[test]
fn notebooks_run_on_the_demo_city() {
    let Some(py) = python("notebooks_run_on_the_demo_city") else {
        return;
    };
    run_all(&py, None, "notebooks-demo");
}

#[test]
fn notebooks_run_on_the_real_data() {
    let Some(py) = python("notebooks_run_on_the_real_data") else {
        return;
    };
    let required = std::env::var("HOTSPOTS_REQUIRE_DATA").is_ok_and(|v| v == "1");
    match std::env::var_os("HOTSPOTS_DATA").map(PathBuf::from) {
        Some(d) if d.join("SOURCES.md").exists() => run_all(&py, Some(d), "notebooks-real"),
        other => {
            let msg = format!("notebooks_run_on_the_real_data: real data not found (HOTSPOTS_DATA={other:?})");
            if required {
                panic!("{msg}, and HOTSPOTS_REQUIRE_DATA=1");
            }
            eprintln!("SKIPPED {msg}");
        }
    }
}
