//! The server under a storm, on real data (issue 21): `hotspots serve` (this
//! build's binary) as its own process, then
//!
//! 1. the default layers a map or a QGIS connection asks for first: each
//!    analysis collection with no parameters, `limit=100`, uncached, timed;
//! 2. the storm: 16 distinct expensive Gi* requests (250 m, 750 m band,
//!    999 permutations, every month) from clients that give up after 2 s,
//!    while another client asks for one ward every 50 ms;
//! 3. after it: how long until `/status` shows nothing running or queued, and
//!    the server's CPU in the next second.
//!
//! Reported: the single-feature latencies during the storm (p50, p99, worst),
//! statuses, peak resident memory (VmHWM) and the time to idle.
//!
//! `HOTSPOTS_DATASET=DIR cargo bench --bench storm` for an ingested dataset
//! (the full `data/london.toml` one for the figures), else
//! `HOTSPOTS_DATA=../shared/data` ingests Met burglary first.

mod common;

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::ms;

/// One GET over a fresh connection: (status, body, wall time).
fn get(addr: &str, path: &str) -> (u16, String, Duration) {
    let t = Instant::now();
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").expect("send");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read");
    let elapsed = t.elapsed();
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    (status, body, elapsed)
}

/// A field of `/proc/PID/status` in MiB.
fn memory_mib(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// User + system CPU seconds of a process.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = after.split_whitespace().filter_map(|v| v.parse().ok()).collect();
    // Fields 14 and 15 (utime, stime) are the 12th and 13th after the name.
    (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) / 100.0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let (dir, _tmp) = match std::env::var_os("HOTSPOTS_DATASET") {
        Some(d) => (std::path::PathBuf::from(d), None),
        None => {
            let Some(root) = common::data() else {
                eprintln!("SKIPPED storm bench: set HOTSPOTS_DATA (or HOTSPOTS_DATASET)");
                return;
            };
            let (tmp, ds) = common::burglary_dataset(&root);
            let dir = ds.dir.clone();
            drop(ds);
            (dir, Some(tmp))
        }
    };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hotspots"))
        .args(["--quiet", "serve", "--bind", "127.0.0.1:0", "--dataset"])
        .arg(&dir)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start hotspots serve");
    let pid = child.id();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("the server printed its address").unwrap();
        if let Some(rest) = line.split(" on http://").nth(1) {
            break rest.trim_end_matches('/').to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    println!(
        "dataset {}; server resident {:.0} MiB",
        dir.display(),
        memory_mib(pid, "VmRSS")
    );

    println!("-- default layers (no parameters, limit=100, uncached)");
    for id in ["gistar", "hex", "h3", "lisa", "kde", "emerging", "poi-risk", "surge"] {
        let (status, body, t) = get(&addr, &format!("/collections/{id}/items?limit=100"));
        let chose = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                v["metadata"]["defaults_applied"]
                    .as_object()
                    .map(|o| o.keys().cloned().collect::<Vec<_>>().join(", "))
            })
            .unwrap_or_default();
        println!("{id:<10} {status} {:>8.1} ms   defaults applied: {chose}", ms(t));
    }

    println!("-- storm: 16 distinct Gi* (250 m, band 750 m, 999 permutations, all months), clients give up after 2 s");
    let ward = {
        let (_, body, _) = get(&addr, "/collections/wards/items?limit=1");
        let v: serde_json::Value = serde_json::from_str(&body).expect("wards json");
        v["features"][0]["id"].as_str().expect("a ward id").to_string()
    };
    let rss_before = memory_mib(pid, "VmRSS");
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (addr, stop) = (addr.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut ts = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let (status, _, t) = get(&addr, &format!("/collections/wards/items/{ward}"));
                assert_eq!(status, 200, "a single ward during the storm");
                ts.push(t);
                std::thread::sleep(Duration::from_millis(50));
            }
            ts
        })
    };
    let t_storm = Instant::now();
    let asks: Vec<_> = (0..16u64)
        .map(|i| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(&addr).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let path = format!(
                    "/collections/gistar/items?cell=250&band=750&permutations=999&seed={}&datetime=../..&limit=1",
                    100 + i
                );
                write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
                let mut buf = [0u8; 64];
                match s.read(&mut buf) {
                    Ok(n) if n >= 12 => String::from_utf8_lossy(&buf[9..12]).to_string(),
                    _ => "gave up".to_string(),
                }
            })
        })
        .collect();
    let statuses: Vec<String> = asks.into_iter().map(|a| a.join().unwrap()).collect();
    let left = t_storm.elapsed();
    // Keep asking for the ward until the server is idle again.
    let t_idle = Instant::now();
    let idle = loop {
        let (_, body, _) = get(&addr, "/status");
        let v: serde_json::Value = serde_json::from_str(&body).expect("status json");
        if v["computations"]["running"] == 0 && v["computations"]["queued"] == 0 {
            break t_idle.elapsed();
        }
        assert!(t_idle.elapsed() < Duration::from_secs(120), "still busy: {v}");
        std::thread::sleep(Duration::from_millis(20));
    };
    stop.store(true, Ordering::Relaxed);
    let mut ts = watcher.join().unwrap();
    ts.sort();
    let cpu0 = cpu_seconds(pid);
    std::thread::sleep(Duration::from_secs(1));
    let cpu = cpu_seconds(pid) - cpu0;
    let (_, status, _) = get(&addr, "/status");
    println!("clients left after {:.2} s; statuses {statuses:?}", left.as_secs_f64());
    println!(
        "single ward during the storm: {} requests, p50 {:.1} ms, p99 {:.1} ms, worst {:.1} ms",
        ts.len(),
        ms(percentile(&ts, 0.5)),
        ms(percentile(&ts, 0.99)),
        ms(*ts.last().unwrap())
    );
    println!(
        "idle {:.0} ms after the clients left; CPU in the next second {:.2} s",
        ms(idle),
        cpu
    );
    println!(
        "resident before {:.0} MiB, peak (VmHWM) {:.0} MiB, after {:.0} MiB",
        rss_before,
        memory_mib(pid, "VmHWM"),
        memory_mib(pid, "VmRSS")
    );
    println!("/status: {status}");
    let _ = child.kill();
    let _ = child.wait();
}
