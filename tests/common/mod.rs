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

/// The Met burglary dataset (data/london-burglary.toml), ingested once per
/// test binary into a temporary folder.
pub fn burglary_dataset(test: &str) -> Option<PathBuf> {
    use std::sync::OnceLock;
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let root = real_data(test)?;
    Some(
        DIR.get_or_init(|| {
            let tmp = Box::leak(Box::new(tempfile::tempdir().unwrap()));
            let out = tmp.path().join("burglary");
            let config = hotspots::config::Config::load(&repo().join("data/london-burglary.toml")).unwrap();
            hotspots::ingest::ingest(
                &config,
                &root,
                &out,
                &hotspots::ingest::IngestOptions {
                    quiet: true,
                    force: true,
                },
            )
            .unwrap();
            out
        })
        .clone(),
    )
}

/// The Python with PySAL (tests/reference/requirements.txt) named by
/// `HOTSPOTS_PYTHON`, or `None` (after saying the test is skipped). With
/// `HOTSPOTS_REQUIRE_REFERENCE=1` (as in CI) a missing one fails instead.
pub fn reference_python(test: &str) -> Option<PathBuf> {
    let required = std::env::var("HOTSPOTS_REQUIRE_REFERENCE").is_ok_and(|v| v == "1");
    match std::env::var_os("HOTSPOTS_PYTHON").map(PathBuf::from) {
        Some(p) if p.exists() => Some(p),
        other => {
            let msg = format!("{test}: reference Python not found (HOTSPOTS_PYTHON={other:?})");
            if required {
                panic!("{msg}, and HOTSPOTS_REQUIRE_REFERENCE=1");
            }
            eprintln!("SKIPPED {msg}");
            None
        }
    }
}

/// The demo city (seed 42), built once per test binary into a temporary folder.
pub fn demo_dataset() -> PathBuf {
    use std::sync::OnceLock;
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let tmp = Box::leak(Box::new(tempfile::tempdir().unwrap()));
        hotspots::demo::run(tmp.path(), 42, true).unwrap().dataset
    })
    .clone()
}

/// Serves a dataset on 127.0.0.1 port 0 from a background thread (for the
/// life of the test binary); returns the base URL, `http://127.0.0.1:PORT`.
pub fn serve_dataset(dir: &std::path::Path) -> String {
    let ds = hotspots::dataset::Dataset::open(dir).unwrap();
    let state = hotspots::api::AppState::new(ds).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            hotspots::api::serve(listener, state, std::future::pending()).await.unwrap();
        });
    });
    format!("http://{}", rx.recv().unwrap())
}
