//! Helpers shared by the benchmarks.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The real data folder named by `HOTSPOTS_DATA`, if it holds the data.
pub fn data() -> Option<PathBuf> {
    let p = PathBuf::from(std::env::var_os("HOTSPOTS_DATA")?);
    p.join("SOURCES.md").exists().then_some(p)
}

/// Best and median of `runs` timings.
pub fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, Duration) {
    let mut ts: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed()
        })
        .collect();
    ts.sort();
    (ts[0], ts[runs / 2])
}

/// Milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The Met burglary set (data/london-burglary.toml) ingested into a
/// temporary folder, opened; the folder lives as long as the returned guard.
pub fn burglary_dataset(root: &std::path::Path) -> (tempfile::TempDir, hotspots::dataset::Dataset) {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = hotspots::config::Config::load(&repo.join("data/london-burglary.toml")).expect("config");
    let out = tempfile::tempdir().expect("tempdir");
    let dir = out.path().join("burglary");
    hotspots::ingest::ingest(
        &config,
        root,
        &dir,
        &hotspots::ingest::IngestOptions {
            quiet: true,
            force: true,
            ..Default::default()
        },
    )
    .expect("ingest");
    let ds = hotspots::dataset::Dataset::open(&dir).expect("open");
    (out, ds)
}

/// A GET over a fresh connection: (status line, body length, wall time).
pub fn get(addr: std::net::SocketAddr, path: &str) -> (String, usize, std::time::Duration) {
    use std::io::{Read, Write};
    let t = std::time::Instant::now();
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").expect("send");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read");
    let elapsed = t.elapsed();
    let text = String::from_utf8_lossy(&buf);
    let status = text.lines().next().unwrap_or("").to_string();
    let body = text.split_once("\r\n\r\n").map_or(0, |(_, b)| b.len());
    (status, body, elapsed)
}
