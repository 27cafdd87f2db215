//! A server one careless or hostile client cannot take down (issue 21):
//! cost refusals, validation before work, cancellation of abandoned work,
//! admission under a storm, a cache bounded in bytes, a graceful stop,
//! links from configuration, bounded headers and slow clients.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{self, http, ServerProcess};

fn demo() -> &'static str {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| common::serve_dataset(&common::demo_dataset()))
}

fn get(url: &str) -> http::Reply {
    http::request("GET", url, &[], None).unwrap_or_else(|e| panic!("{url}: {e}"))
}

fn json(r: &http::Reply) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&r.body)))
}

fn status(base: &str) -> Value {
    json(&get(&format!("{base}/status")))
}

/// Sends raw bytes and reads what comes back until the server closes or
/// `wait` passes.
fn raw(base: &str, request: &[u8], wait: Duration) -> (String, bool) {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    let mut closed = false;
    loop {
        match s.read(&mut buf) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), closed)
}

/// An expensive layer on the demo city: 100 m cells, a 1 km band (~300
/// neighbours each) and 999 permutations, every month. Admitted by the
/// default limits (about 4.5 × 10⁹ steps), and seconds of work.
fn expensive(seed: u64) -> String {
    format!("/collections/gistar/items?cell=100&band=1000&permutations=999&seed={seed}&datetime=../..&limit=1")
}

#[test]
fn costly_requests_are_refused_at_once_naming_the_parameter() {
    let base = demo();
    for (path, parameter, hint) in [
        ("/collections/gistar/items?cell=5&limit=1", "cell", "cell="),
        (
            "/collections/gistar/items?cell=250&band=750&permutations=100000000&limit=1",
            "permutations",
            "permutations=",
        ),
        (
            "/collections/lisa/items?cell=250&band=750&permutations=100000000&limit=1",
            "permutations",
            "permutations=",
        ),
        ("/collections/kde/items?cell=1&limit=1", "cell", "cell="),
        ("/collections/gistar/items?cell=100&band=20000&limit=1", "band", "band="),
        ("/collections/emerging/items?cell=10&limit=1", "cell", "cell="),
    ] {
        let t0 = Instant::now();
        let r = get(&format!("{base}{path}"));
        assert!(t0.elapsed() < Duration::from_secs(2), "{path}: refused before any work");
        assert_eq!(r.status, 422, "{path}: {}", String::from_utf8_lossy(&r.body));
        let doc = json(&r);
        assert_eq!(doc["parameter"], parameter, "{path}: {doc}");
        let detail = doc["detail"].as_str().unwrap();
        assert!(detail.contains("limit") && detail.contains(hint), "{path}: {detail}");
    }
}

#[test]
fn a_kde_layer_with_no_cell_keeps_to_auto_max_cells_and_says_so() {
    let base = demo();
    let meta = |q: &str| json(&get(&format!("{base}/collections/kde/items?limit=1{q}")))["metadata"].clone();
    let raised = meta("&auto_max_cells=1000");
    let cell = raised["cell_m"].as_f64().unwrap();
    assert!(cell > 50.0 && cell % 10.0 == 0.0, "{raised}");
    assert!(
        raised["cell_rule"].as_str().unwrap().contains("auto_max_cells"),
        "{raised}"
    );
    let given = meta("&auto_max_cells=1000&cell=60");
    assert_eq!(given["cell_m"], 60.0, "a given cell is kept");
    assert!(given.get("cell_rule").is_none(), "{given}");
}

#[test]
fn the_cli_warns_but_runs_what_a_server_would_refuse() {
    use std::io::BufRead;
    let out = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hotspots"))
        .args(["gistar", "--cell", "5", "--dataset"])
        .arg(common::demo_dataset())
        .arg("--out")
        .arg(out.path().join("gistar.geojson"))
        .env("RUST_LOG", "warn")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let warning = stderr
        .lines()
        .map_while(Result::ok)
        .find(|l| l.contains("--cell"))
        .expect("a warning naming --cell");
    // Still running: the CLI's user decides (stop it here, a 5 m grid takes long).
    let running = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        warning.contains("running it anyway") && warning.contains("limit"),
        "{warning}"
    );
    assert!(running, "the CLI refused instead of warning");
}

#[test]
fn every_parameter_and_filter_is_checked_before_any_work() {
    let base = demo();
    let before = status(base)["cache"]["misses"].as_u64().unwrap();
    for (path, status_code, parameter) in [
        (
            "/collections/gistar/items?cell=250&band=750&significant=maybe",
            400,
            "significant",
        ),
        ("/collections/gistar/items?cell=250&band=750&gi_z=high", 400, "gi_z"),
        ("/collections/gistar/items?cell=250&band=750&colour=red", 400, "colour"),
        ("/collections/gistar/items?crime_type=%FF", 400, "crime_type"),
        ("/collections/surge/items?teams=0", 400, "teams"),
        ("/collections/kde/items?cell=-1", 400, "cell"),
    ] {
        let r = get(&format!("{base}{path}"));
        assert_eq!(r.status, status_code, "{path}: {}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.header("content-type"), Some("application/problem+json"), "{path}");
        let doc = json(&r);
        assert_eq!(doc["parameter"], parameter, "{path}: {doc}");
        let detail = doc["detail"].as_str().unwrap();
        assert!(
            !detail.contains("Selection {") && !detail.contains("Some("),
            "a sentence, not debug output: {detail}"
        );
    }
    assert_eq!(
        status(base)["cache"]["misses"].as_u64().unwrap(),
        before,
        "nothing was computed"
    );
    // A path that is not UTF-8, and a method that is not served: problem documents too.
    for (request, code) in [
        (
            "GET /collections/%FF/items HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "400",
        ),
        (
            "DELETE /collections HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "405",
        ),
    ] {
        let (reply, _) = raw(base, request.as_bytes(), Duration::from_secs(5));
        assert!(reply.starts_with(&format!("HTTP/1.1 {code}")), "{reply}");
        assert!(
            reply
                .to_ascii_lowercase()
                .contains("content-type: application/problem+json"),
            "{reply}"
        );
        assert!(reply.contains("\"status\":"), "{reply}");
    }
}

/// Waits until the server runs and queues nothing, or panics after `limit`.
fn wait_idle(base: &str, limit: Duration) -> Duration {
    let t0 = Instant::now();
    loop {
        let s = status(base);
        let c = &s["computations"];
        if c["running"] == 0 && c["queued"] == 0 {
            return t0.elapsed();
        }
        assert!(t0.elapsed() < limit, "still busy after {limit:?}: {s}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_computation_nobody_waits_for_stops_within_a_second_or_so() {
    let dir = common::demo_dataset();
    let base = common::serve_with_config(&dir, Default::default());
    let addr = base.trim_start_matches("http://").to_string();
    let mut s = TcpStream::connect(&addr).unwrap();
    write!(s, "GET {} HTTP/1.1\r\nHost: {addr}\r\n\r\n", expensive(7)).unwrap();
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(status(&base)["computations"]["running"], 1, "the computation started");
    drop(s);
    let idle = wait_idle(&base, Duration::from_secs(3));
    let st = status(&base);
    assert_eq!(st["computations"]["cancelled"], 1, "{st}");
    assert_eq!(st["cache"]["entries"], 0, "a cancelled layer is not cached");
    eprintln!("cancelled and idle {idle:?} after the client left");
}

#[test]
fn the_cache_keeps_to_its_bytes() {
    let dir = common::demo_dataset();
    let config = hotspots::api::ServerConfig {
        cache_bytes: 4 << 20,
        ..Default::default()
    };
    let base = common::serve_with_config(&dir, config);
    for band in [500, 600, 700, 800, 900, 1000, 1100, 1200] {
        let r = get(&format!(
            "{base}/collections/kde/items?cell=150&bandwidth={band}&limit=1"
        ));
        assert_eq!(r.status, 200);
    }
    let st = status(&base);
    let bytes = st["cache"]["bytes"].as_u64().unwrap();
    assert!(bytes <= 3 << 20, "layers take at most 3/4 of the cache: {st}");
    assert!(bytes > 0, "{st}");
    assert!(st["cache"]["evictions"].as_u64().unwrap() > 0, "{st}");
    assert!(st["cache"]["entries"].as_u64().unwrap() < 8, "{st}");
    // The most recent layer is a hit.
    let r = get(&format!("{base}/collections/kde/items?cell=150&bandwidth=1200&limit=1"));
    assert_eq!(r.header("x-cache"), Some("hit"), "{:?}", r.headers);
}

#[test]
fn links_come_from_configuration_not_from_the_client() {
    let base = demo();
    let (reply, _) = raw(
        base,
        b"GET /collections HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    );
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(!reply.contains("evil.example"), "the Host header is not echoed");
    assert!(
        reply.contains(&format!("{base}/collections")),
        "links use the bound address"
    );
    let port = base.rsplit(':').next().unwrap();
    let (reply, _) = raw(
        base,
        format!("GET /collections HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n").as_bytes(),
        Duration::from_secs(5),
    );
    assert!(
        reply.contains(&format!("http://localhost:{port}/collections")),
        "a loopback name of this server is kept"
    );
}

#[test]
fn large_headers_and_slow_clients_are_bounded() {
    let dir = common::demo_dataset();
    let config = hotspots::api::ServerConfig {
        header_timeout: Duration::from_secs(1),
        ..Default::default()
    };
    let base = common::serve_with_config(&dir, config);
    let big = "x".repeat(40_000);
    let (reply, _) = raw(
        &base,
        format!("GET /collections HTTP/1.1\r\nHost: a\r\nX-Big: {big}\r\nConnection: close\r\n\r\n").as_bytes(),
        Duration::from_secs(5),
    );
    assert!(reply.starts_with("HTTP/1.1 431"), "{}", &reply[..reply.len().min(200)]);
    assert!(
        reply.contains("application/problem+json") && reply.contains("\"status\":431"),
        "{reply}"
    );
    // Hundreds of idle connections and one that never finishes its headers.
    let addr = base.trim_start_matches("http://").to_string();
    let idle: Vec<TcpStream> = (0..300).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    let t0 = Instant::now();
    let (_, closed) = raw(&base, b"GET / HTTP/1.1\r\nHost: a\r\n", Duration::from_secs(5));
    assert!(closed, "a request whose headers never end is closed");
    assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
    let r = get(&format!("{base}/collections/wards/items?limit=1"));
    assert_eq!(r.status, 200, "others are still served");
    drop(idle);
}

/// The storm: `clients` distinct expensive requests at once from clients
/// that give up after `patience`, while another client asks for single
/// features. Returns (worst single-feature latency, statuses seen).
fn storm(base: &str, clients: usize, patience: Duration, query: fn(u64) -> String) -> (Duration, Vec<u16>) {
    let code = json(&get(&format!("{base}/collections/wards/items?limit=1")))["features"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let feature = format!("/collections/wards/items/{code}");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (base, feature, stop) = (base.to_string(), feature.to_string(), stop.clone());
        std::thread::spawn(move || {
            let mut worst = Duration::ZERO;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let t0 = Instant::now();
                let r = get(&format!("{base}{feature}"));
                assert_eq!(r.status, 200);
                worst = worst.max(t0.elapsed());
                std::thread::sleep(Duration::from_millis(50));
            }
            worst
        })
    };
    let addr = base.trim_start_matches("http://").to_string();
    let asks: Vec<_> = (0..clients)
        .map(|i| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(&addr).unwrap();
                s.set_read_timeout(Some(patience)).unwrap();
                write!(
                    s,
                    "GET {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n",
                    query(100 + i as u64)
                )
                .unwrap();
                let mut buf = [0u8; 64];
                match s.read(&mut buf) {
                    Ok(n) if n >= 12 => String::from_utf8_lossy(&buf[9..12]).parse::<u16>().ok(),
                    _ => None,
                }
            })
        })
        .collect();
    let statuses: Vec<u16> = asks.into_iter().filter_map(|a| a.join().unwrap()).collect();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    (watcher.join().unwrap(), statuses)
}

#[test]
fn a_storm_of_abandoned_requests_leaves_the_server_responsive_and_idle() {
    let server = ServerProcess::start(&common::demo_dataset(), &[]);
    let base = server.base.clone();
    let rss_before = server.memory_mib("VmRSS");
    let (worst, statuses) = storm(&base, 16, Duration::from_secs(1), expensive);
    for s in &statuses {
        assert!(*s < 500 || *s == 503, "no 5xx but 503: {statuses:?}");
    }
    let idle = wait_idle(&base, Duration::from_secs(5));
    let cpu0 = server.cpu_seconds();
    std::thread::sleep(Duration::from_secs(1));
    let cpu = server.cpu_seconds() - cpu0;
    let st = status(&base);
    let peak = server.memory_mib("VmHWM");
    eprintln!(
        "storm: worst single feature {worst:?}, statuses {statuses:?}, idle {idle:?} after, CPU {cpu:.2} s in the next second, RSS {rss_before:.0} -> peak {peak:.0} MiB; {st}"
    );
    assert!(
        worst < Duration::from_millis(250),
        "single features stay fast: {worst:?}"
    );
    assert!(cpu < 0.2, "idle again: {cpu} s of CPU in a second");
    assert!(
        st["computations"]["cancelled"].as_u64().unwrap() + st["computations"]["refused_busy"].as_u64().unwrap() >= 14,
        "{st}"
    );
    assert!(peak < 1024.0, "peak resident memory {peak} MiB");
}

#[test]
fn sigterm_lets_the_request_in_flight_finish_and_exits_0() {
    let mut server = ServerProcess::start(&common::demo_dataset(), &[]);
    let base = server.base.clone();
    let url = format!("{base}/collections/gistar/items?cell=150&band=600&permutations=199&datetime=../..&limit=1");
    let asker = std::thread::spawn(move || get(&url).status);
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    let pid = server.pid().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    assert_eq!(asker.join().unwrap(), 200, "the request in flight was answered");
    let exit = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        assert!(t0.elapsed() < Duration::from_secs(15), "still running after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "exit status {exit:?}");
    eprintln!("stopped {:?} after SIGTERM", t0.elapsed());
}

#[test]
fn a_storm_on_real_data_stays_under_its_memory_ceiling() {
    let Some(dir) = common::burglary_dataset("server storm on real data") else {
        return;
    };
    let server = ServerProcess::start(&dir, &[]);
    let base = server.base.clone();
    // 250 m cells over London, a 750 m band, 999 permutations, every month:
    // 0.74 × 10⁹ steps each, admitted.
    let query = |seed: u64| {
        format!("/collections/gistar/items?cell=250&band=750&permutations=999&seed={seed}&datetime=../..&limit=1")
    };
    let (worst, statuses) = storm(&base, 16, Duration::from_secs(2), query);
    for s in &statuses {
        assert!(*s < 500 || *s == 503, "no 5xx but 503: {statuses:?}");
    }
    let idle = wait_idle(&base, Duration::from_secs(5));
    let peak = server.memory_mib("VmHWM");
    eprintln!("real-data storm: worst single feature {worst:?}, idle {idle:?} after, peak {peak:.0} MiB, statuses {statuses:?}");
    assert!(worst < Duration::from_millis(250), "{worst:?}");
    assert!(peak < 1536.0, "peak resident memory {peak} MiB, ceiling 1.5 GB");
}
