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
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ingested_once(&DIR, test, "data/london-burglary.toml", "burglary")
}

/// The City of London all-crime dataset (data/city-of-london.toml),
/// ingested once per test binary into a temporary folder.
pub fn city_dataset(test: &str) -> Option<PathBuf> {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ingested_once(&DIR, test, "data/city-of-london.toml", "city")
}

/// The real data ingested with `config` (relative to the repo) into a
/// temporary folder kept for the life of the test binary; `None` (the
/// test skips) without the real data.
fn ingested_once(dir: &'static std::sync::OnceLock<PathBuf>, test: &str, config: &str, name: &str) -> Option<PathBuf> {
    let root = real_data(test)?;
    Some(
        dir.get_or_init(|| {
            let tmp = Box::leak(Box::new(tempfile::tempdir().unwrap()));
            let out = tmp.path().join(name);
            let config = hotspots::config::Config::load(&repo().join(config)).unwrap();
            hotspots::ingest::ingest(
                &config,
                &root,
                &out,
                &hotspots::ingest::IngestOptions {
                    quiet: true,
                    force: true,
                    ..Default::default()
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
    serve_with_config(dir, hotspots::api::ServerConfig::default())
}

/// As [`serve_dataset`], with the server's limits.
pub fn serve_with_config(dir: &std::path::Path, config: hotspots::api::ServerConfig) -> String {
    let ds = hotspots::dataset::Dataset::open(dir).unwrap();
    let state = hotspots::api::AppState::with_config(ds, config).unwrap();
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
            hotspots::api::serve(listener, state, std::future::pending())
                .await
                .unwrap();
        });
    });
    format!("http://{}", rx.recv().unwrap())
}

/// `hotspots serve` as a process of its own on 127.0.0.1 port 0 (so its
/// memory and CPU can be measured apart from the tests); killed on drop.
pub struct ServerProcess {
    pub child: std::process::Child,
    pub base: String,
}

impl ServerProcess {
    pub fn start(dataset: &std::path::Path, extra: &[&str]) -> ServerProcess {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hotspots"))
            .args(["--quiet", "serve", "--bind", "127.0.0.1:0", "--dataset"])
            .arg(dataset)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let mut lines = std::io::BufReader::new(out).lines();
        let base = loop {
            let line = lines.next().expect("the server printed its address").unwrap();
            if let Some(rest) = line.split(" on http://").nth(1) {
                break format!("http://{}", rest.trim_end_matches('/'));
            }
        };
        // Keep reading stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        ServerProcess { child, base }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A `VmRSS`/`VmHWM`-style field of /proc/PID/status, in MiB.
    pub fn memory_mib(&self, field: &str) -> f64 {
        let text = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }

    /// CPU seconds used so far (user + system).
    pub fn cpu_seconds(&self) -> f64 {
        let text = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        let after = text.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        // Fields 14 and 15 of stat (utime, stime), counted after the name.
        (ticks(11) + ticks(12)) / 100.0
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 client over `std::net` for the API and browser tests
/// (one request per connection, `Connection: close`, chunked bodies decoded;
/// no TLS, no redirects): enough to see the server's exact status, headers
/// and bytes, with no client library between.
pub mod http {
    use std::io::{Read, Write};

    /// A response: status, headers (names lower-cased) and the raw body.
    pub struct Reply {
        pub status: u16,
        pub headers: Vec<(String, String)>,
        pub body: Vec<u8>,
    }

    impl Reply {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    fn dechunk(mut raw: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") else {
                return out;
            };
            let size_text = String::from_utf8_lossy(&raw[..eol]);
            let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap_or(0);
            if size == 0 {
                return out;
            }
            let start = eol + 2;
            out.extend_from_slice(&raw[start..start + size]);
            raw = &raw[start + size + 2..];
        }
    }

    /// Sends one request to `url` (`http://host:port/path?query`).
    pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> std::io::Result<Reply> {
        let rest = url.strip_prefix("http://").expect("http:// URL");
        let (host, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let mut stream = std::net::TcpStream::connect(host)?;
        stream.set_read_timeout(Some(std::time::Duration::from_secs(300)))?;
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(b) = body {
            req.push_str(&format!("Content-Length: {}\r\n", b.len()));
        }
        req.push_str("\r\n");
        stream.write_all(req.as_bytes())?;
        if let Some(b) = body {
            stream.write_all(b)?;
        }
        // Read the head, then exactly Content-Length bytes, or to the chunked
        // terminator, or to EOF (some servers keep the connection open).
        let mut raw = Vec::new();
        let mut buf = [0u8; 65536];
        let split = loop {
            if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                break p;
            }
            let n = stream.read(&mut buf)?;
            assert!(n > 0, "connection closed before the end of the response head");
            raw.extend_from_slice(&buf[..n]);
        };
        let head_text = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
        let length = head_text
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok());
        let is_chunked = head_text.contains("transfer-encoding: chunked");
        let no_body =
            method == "HEAD" || head_text.starts_with("http/1.1 304") || head_text.starts_with("http/1.1 204");
        loop {
            let have = raw.len() - (split + 4);
            let done = no_body
                || match length {
                    Some(l) => have >= l,
                    None if is_chunked => raw.ends_with(b"0\r\n\r\n"),
                    None => false,
                };
            if done {
                break;
            }
            let n = stream.read(&mut buf)?;
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buf[..n]);
        }
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .expect("status line");
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let mut body = raw[split + 4..].to_vec();
        let chunked = headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
        if chunked {
            body = dechunk(&body);
        }
        Ok(Reply { status, headers, body })
    }
}
