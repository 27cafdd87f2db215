//! `hotspots fetch` against a local HTTP server (the real transport, on
//! port 0) serving the small recorded fixtures in `tests/fixtures/fetch/`:
//! checksums, resume after a truncated transfer, 429 with Retry-After, 404,
//! offline, the API route's de-duplication, and ingest of what was fetched.

use crate::common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use hotspots::fetch::download::{Client, DownloadError, RetryPolicy};
use hotspots::fetch::manifest::FetchManifest;
use hotspots::fetch::sources::Sources;
use hotspots::fetch::{self, FetchOptions, Via, What};
use indicatif::ProgressBar;
use sha2::{Digest, Sha256};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fetch");

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(FIXTURES).join(name)).unwrap()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

// ---------------------------------------------------------------------------
// A tiny HTTP/1.1 server: one thread per connection, `Connection: close`.

#[derive(Debug, Clone)]
struct Request {
    path: String,
    query: String,
    range: Option<String>,
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Send only this many body bytes (Content-Length stays the full length), then close.
    cut_at: Option<usize>,
}

/// Answers a request; gets how many earlier requests the same path had.
type Route = Box<dyn Fn(&Request, usize) -> Response + Send + Sync>;

struct Server {
    base: String,
    log: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    fn start(routes: Vec<(String, Route)>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let log: Arc<Mutex<Vec<Request>>> = Arc::default();
        let routes: Arc<HashMap<String, Route>> = Arc::new(routes.into_iter().collect());
        let counts: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let thread_log = log.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (routes, counts, log) = (routes.clone(), counts.clone(), thread_log.clone());
                std::thread::spawn(move || serve(stream, &routes, &counts, &log));
            }
        });
        Server { base, log }
    }

    fn requests(&self, path: &str) -> Vec<Request> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    fn all_requests(&self) -> usize {
        self.log.lock().unwrap().len()
    }
}

fn serve(
    stream: TcpStream,
    routes: &HashMap<String, Route>,
    counts: &Mutex<HashMap<String, usize>>,
    log: &Mutex<Vec<Request>>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.clone(), String::new()),
    };
    let mut range = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.trim().eq_ignore_ascii_case("range") {
                range = Some(v.trim().to_string());
            }
        }
    }
    let req = Request { path, query, range };
    log.lock().unwrap().push(req.clone());
    let n = {
        let mut c = counts.lock().unwrap();
        let n = c.entry(req.path.clone()).or_insert(0);
        *n += 1;
        *n - 1
    };
    let resp = match routes.get(&req.path) {
        Some(route) => route(&req, n),
        None => Response {
            status: 404,
            headers: vec![],
            body: b"not found".to_vec(),
            cut_at: None,
        },
    };
    let reason = match resp.status {
        200 => "OK",
        206 => "Partial Content",
        404 => "Not Found",
        429 => "Too Many Requests",
        _ => "Whatever",
    };
    let mut out = stream;
    let mut head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n",
        resp.status,
        resp.body.len()
    );
    for (k, v) in &resp.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = out.write_all(head.as_bytes());
    let send = resp.cut_at.unwrap_or(resp.body.len()).min(resp.body.len());
    let _ = out.write_all(&resp.body[..send]);
    let _ = out.flush();
    let _ = out.shutdown(std::net::Shutdown::Both);
}

/// A static file that honours `Range: bytes=N-`.
fn file_response(body: &[u8], req: &Request) -> Response {
    let from = req
        .range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.trim_end_matches('-').parse::<usize>().ok());
    match from {
        Some(from) if from < body.len() => Response {
            status: 206,
            headers: vec![(
                "Content-Range".into(),
                format!("bytes {from}-{}/{}", body.len() - 1, body.len()),
            )],
            body: body[from..].to_vec(),
            cut_at: None,
        },
        _ => Response {
            status: 200,
            headers: vec![],
            body: body.to_vec(),
            cut_at: None,
        },
    }
}

fn file(body: Vec<u8>) -> Route {
    Box::new(move |req, _| file_response(&body, req))
}

/// The first answer breaks off after `cut` bytes; later ones serve ranges.
fn truncated_first(body: Vec<u8>, cut: usize) -> Route {
    Box::new(move |req, n| {
        let mut r = file_response(&body, req);
        if n == 0 {
            r.cut_at = Some(cut);
        }
        r
    })
}

/// The first `times` answers are 429 with `Retry-After: retry_after`.
fn rate_limited_first(body: Vec<u8>, times: usize, retry_after: &'static str) -> Route {
    Box::new(move |req, n| {
        if n < times {
            Response {
                status: 429,
                headers: vec![("Retry-After".into(), retry_after.into())],
                body: b"Too many requests".to_vec(),
                cut_at: None,
            }
        } else {
            file_response(&body, req)
        }
    })
}

fn quick_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(5),
    }
}

fn zip_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in files {
        w.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// The demo city's ward and borough shapefiles, packed as the London
/// Datastore zip lays them out (built once).
fn boundary_zip() -> &'static [u8] {
    static ZIP: OnceLock<Vec<u8>> = OnceLock::new();
    ZIP.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let demo = hotspots::demo::run(dir.path(), 7, true).unwrap();
        let mut files = Vec::new();
        for entry in std::fs::read_dir(demo.data_root.join("boundaries")).unwrap() {
            let p = entry.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            let renamed = name
                .replace("Demo_Ward", "London_Ward")
                .replace("Demo_Borough", "London_Borough_Excluding_MHW");
            files.push((
                format!("statistical-gis-boundaries-london/ESRI/{renamed}"),
                std::fs::read(&p).unwrap(),
            ));
        }
        files.push((
            "statistical-gis-boundaries-london/Geography-licensing.pdf".into(),
            b"%PDF-1.4 licence".to_vec(),
        ));
        zip_of(&files)
    })
}

fn boundaries_path() -> String {
    hotspots::fetch::sources::BOUNDARIES_PATH.to_string()
}

// ---------------------------------------------------------------------------

#[test]
fn a_download_is_verified_against_its_checksum() {
    let body = fixture("2024-01-metropolitan-street.csv");
    let server = Server::start(vec![("/f.csv".into(), file(body.clone()))]);
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(quick_retries(3));
    let url = format!("{}/f.csv", server.base);
    let dest = dir.path().join("out/f.csv");

    let done = client
        .download(&url, &dest, Some(&sha256(&body)), &ProgressBar::hidden())
        .unwrap();
    assert_eq!(done.sha256, sha256(&body));
    assert_eq!(done.bytes, body.len() as u64);
    assert_eq!(done.requests, 1);
    assert_eq!(std::fs::read(&dest).unwrap(), body);
    assert!(!dir.path().join("out/f.csv.part").exists());

    // A wrong expected checksum: the file is discarded, not kept.
    let dest2 = dir.path().join("out/g.csv");
    let wrong = "0".repeat(64);
    let err = client
        .download(&url, &dest2, Some(&wrong), &ProgressBar::hidden())
        .unwrap_err();
    assert!(matches!(err, DownloadError::Checksum { .. }), "{err}");
    assert!(err.to_string().contains(&sha256(&body)), "{err}");
    assert!(!dest2.exists());
    assert!(!dir.path().join("out/g.csv.part").exists());
}

#[test]
fn a_truncated_download_is_resumed_with_a_range_request() {
    let body: Vec<u8> = (0..50_000u32).flat_map(|k| k.to_le_bytes()).collect();
    let cut = 70_001;
    let server = Server::start(vec![("/big.bin".into(), truncated_first(body.clone(), cut))]);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}/big.bin", server.base);
    let dest = dir.path().join("big.bin");

    let done = Client::new(quick_retries(3))
        .download(&url, &dest, Some(&sha256(&body)), &ProgressBar::hidden())
        .unwrap();
    assert_eq!(done.sha256, sha256(&body));
    assert_eq!(std::fs::read(&dest).unwrap(), body);
    assert_eq!(done.requests, 2);
    let reqs = server.requests("/big.bin");
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].range, None);
    assert_eq!(reqs[1].range.as_deref(), Some(format!("bytes={cut}-").as_str()));
}

#[test]
fn an_interrupted_run_leaves_a_part_file_that_the_next_run_resumes() {
    let body: Vec<u8> = (0..40_000u32).flat_map(|k| (k * 7).to_le_bytes()).collect();
    let cut = 12_345;
    let server = Server::start(vec![("/z.zip".into(), truncated_first(body.clone(), cut))]);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}/z.zip", server.base);
    let dest = dir.path().join("z.zip");

    // No retries: the first run stops with what it got.
    let err = Client::new(quick_retries(1))
        .download(&url, &dest, None, &ProgressBar::hidden())
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, DownloadError::Interrupted { have, .. } if have == cut as u64),
        "{msg}"
    );
    assert!(
        msg.contains(&url) && msg.contains("z.zip.part") && msg.contains("resume"),
        "{msg}"
    );
    assert!(!dest.exists());
    assert_eq!(
        std::fs::metadata(dir.path().join("z.zip.part")).unwrap().len(),
        cut as u64
    );

    // The next run asks only for the rest.
    let done = Client::new(quick_retries(1))
        .download(&url, &dest, None, &ProgressBar::hidden())
        .unwrap();
    assert_eq!(done.resumed_from, cut as u64);
    assert_eq!(done.sha256, sha256(&body));
    assert_eq!(
        server.requests("/z.zip")[1].range.as_deref(),
        Some(format!("bytes={cut}-").as_str())
    );
}

#[test]
fn a_429_is_retried_after_its_retry_after() {
    let body = fixture("london_stations.csv");
    let server = Server::start(vec![
        ("/limited.csv".into(), rate_limited_first(body.clone(), 1, "1")),
        ("/always.csv".into(), rate_limited_first(body.clone(), usize::MAX, "0")),
    ]);
    let dir = tempfile::tempdir().unwrap();
    // Backoff alone would wait 10 ms: a wait of a second is the Retry-After.
    let client = Client::new(quick_retries(3));
    let t = Instant::now();
    let done = client
        .download(
            &format!("{}/limited.csv", server.base),
            &dir.path().join("s.csv"),
            None,
            &ProgressBar::hidden(),
        )
        .unwrap();
    assert!(t.elapsed() >= Duration::from_millis(950), "{:?}", t.elapsed());
    assert_eq!(done.requests, 2);
    assert_eq!(std::fs::read(dir.path().join("s.csv")).unwrap(), body);
    assert_eq!(client.get_bytes(&format!("{}/limited.csv", server.base)).unwrap(), body);

    // A server that never relents: the error says so and names the URL.
    let url = format!("{}/always.csv", server.base);
    let err = client.get_bytes(&url).unwrap_err();
    assert!(
        matches!(
            err,
            DownloadError::GaveUp {
                status: 429,
                attempts: 3,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains(&url));
    assert_eq!(server.requests("/always.csv").len(), 3);
}

#[test]
fn a_404_is_a_clear_error_without_retries() {
    let server = Server::start(vec![]);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}/data/archive/2099-01.zip", server.base);
    let err = Client::new(quick_retries(4))
        .download(&url, &dir.path().join("a.zip"), None, &ProgressBar::hidden())
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, DownloadError::Status { status: 404, .. }), "{msg}");
    assert!(msg.contains(&url) && msg.contains("404"), "{msg}");
    assert_eq!(server.all_requests(), 1);
}

#[test]
fn offline_gives_a_clear_message_naming_the_url() {
    // A port nobody listens on: connection refused, as when offline.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let url = format!("{base}/x.csv");
    let dir = tempfile::tempdir().unwrap();
    let err = Client::new(quick_retries(2))
        .download(&url, &dir.path().join("x.csv"), None, &ProgressBar::hidden())
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, DownloadError::Offline { .. }), "{msg}");
    assert!(msg.contains(&url) && msg.contains("offline"), "{msg}");

    // Through the whole command too.
    let mut opts = FetchOptions::new(dir.path(), vec![]);
    opts.what = vec![What::Stations];
    opts.sources = Sources::mirror(&base);
    opts.retry = quick_retries(2);
    opts.quiet = true;
    let msg = fetch::run(&opts).unwrap_err().to_string();
    assert!(
        msg.contains(&format!("{base}/LondonStationsCSV.ashx")) && msg.contains("offline"),
        "{msg}"
    );
}

#[test]
fn the_api_route_keeps_a_crime_returned_for_two_wards_once() {
    let a = fixture("api-ward-a.json");
    let b = fixture("api-ward-b.json");
    let api: Route = Box::new(move |_req, n| Response {
        status: 200,
        headers: vec![],
        body: match n {
            0 => a.clone(),
            1 => b.clone(),
            _ => b"[]".to_vec(),
        },
        cut_at: None,
    });
    let server = Server::start(vec![
        (boundaries_path(), file(boundary_zip().to_vec())),
        ("/api/crimes-street/all-crime".into(), api),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let mut opts = FetchOptions::new(&root, fetch::parse_months("2024-01").unwrap());
    opts.what = vec![What::Boundaries, What::Crime];
    opts.via = Via::Api;
    opts.sources = Sources::mirror(&server.base);
    opts.retry = quick_retries(2);
    opts.api_requests_per_second = 0.0;
    opts.quiet = true;
    let report = fetch::run(&opts).unwrap();

    let calls = server.requests("/api/crimes-street/all-crime");
    assert_eq!(report.api.len(), 1);
    let m = &report.api[0];
    assert_eq!(m.requests, calls.len());
    assert!(calls.len() >= 64, "one request per demo ward: {}", calls.len());
    for c in &calls {
        assert!(
            c.query.starts_with("poly=") && c.query.ends_with("&date=2024-01"),
            "{}",
            c.query
        );
        assert!(c.query.len() < 4_000);
    }
    assert_eq!((m.returned, m.duplicates, m.kept), (5, 1, 4));

    let written: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(root.join("police_uk/api/2024-01-street-api.json")).unwrap()).unwrap();
    let mut ids: Vec<i64> = written.iter().map(|c| c["id"].as_i64().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, [116208998, 116208999, 116209000, 116209001]);

    // The ingest reads what was fetched, with the config written beside it.
    let config = hotspots::config::Config::load(&report.config).unwrap();
    assert_eq!(config.incidents.len(), 1);
    let ingested = hotspots::ingest::ingest(
        &config,
        &root,
        &dir.path().join("dataset"),
        &hotspots::ingest::IngestOptions {
            quiet: true,
            force: false,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(ingested.totals.rows_read, 4);
    assert_eq!(
        ingested.totals.rows_accepted, 4,
        "{:?}",
        ingested.totals.rejected_by_reason
    );
}

#[test]
fn the_archive_route_fetches_everything_ingest_needs_and_a_rerun_fetches_nothing() {
    let met = fixture("2024-01-metropolitan-street.csv");
    let city = fixture("2024-01-city-of-london-street.csv");
    let archive = zip_of(&[
        ("2024-01/2024-01-metropolitan-street.csv".into(), met.clone()),
        ("2024-01/2024-01-city-of-london-street.csv".into(), city.clone()),
        ("2024-01/2024-01-kent-street.csv".into(), b"not asked for".to_vec()),
    ]);
    let gias = fixture("edubasealldata-cp1252.csv");
    let stations = fixture("london_stations.csv");
    let server = Server::start(vec![
        (boundaries_path(), file(boundary_zip().to_vec())),
        (
            "/data/archive/2024-01.zip".into(),
            truncated_first(archive.clone(), 100),
        ),
        (
            "/edubase/downloads/public/edubasealldata20240105.csv".into(),
            file(gias.clone()),
        ),
        (
            "/LondonStationsCSV.ashx".into(),
            rate_limited_first(stations.clone(), 1, "0"),
        ),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let mut opts = FetchOptions::new(&root, fetch::parse_months("2024-01").unwrap());
    opts.forces = vec!["metropolitan".into(), "city-of-london".into(), "btp".into()];
    opts.sources = Sources::mirror(&server.base);
    opts.retry = quick_retries(3);
    opts.gias_date = Some("20240105".into());
    opts.quiet = true;
    let report = fetch::run(&opts).unwrap();

    assert_eq!(
        std::fs::read(root.join("police_uk/metropolitan/2024-01-metropolitan-street.csv")).unwrap(),
        met
    );
    assert_eq!(
        std::fs::read(root.join("police_uk/city_of_london/2024-01-city-of-london-street.csv")).unwrap(),
        city
    );
    assert!(!root.join("police_uk/kent").exists());
    assert_eq!(report.missing, ["2024-01/2024-01-btp-street.csv"]);
    let schools = std::fs::read_to_string(root.join("schools/edubasealldata.csv")).unwrap();
    assert!(
        schools.contains("St Mary’s Church") && schools.contains("École Française"),
        "{schools}"
    );
    assert!(
        !schools.contains("Closed School") && !schools.contains("Kent Grammar"),
        "{schools}"
    );
    assert_eq!(report.schools, Some(fetch::schools::Filtered { kept: 2, dropped: 2 }));
    assert_eq!(
        std::fs::read(root.join("stations/london_stations.csv")).unwrap(),
        stations
    );
    assert!(root
        .join("london_boundaries/statistical-gis-boundaries-london/ESRI/London_Ward.shp")
        .is_file());

    // The manifest records the true sha256 of every file it lists.
    let manifest = FetchManifest::load(&root).unwrap();
    for rel in [
        "downloads/police-uk-2024-01.zip",
        "police_uk/metropolitan/2024-01-metropolitan-street.csv",
        "schools/edubasealldata.csv",
        "stations/london_stations.csv",
        "london_boundaries/statistical-gis-boundaries-london/ESRI/London_Ward.shp",
    ] {
        let entry = manifest
            .files
            .get(rel)
            .unwrap_or_else(|| panic!("{rel} not in the manifest"));
        assert_eq!(entry.sha256, sha256(&std::fs::read(root.join(rel)).unwrap()), "{rel}");
    }
    assert_eq!(
        manifest.files["downloads/police-uk-2024-01.zip"].sha256,
        sha256(&archive)
    );
    assert_eq!(
        manifest.files["police_uk/metropolitan/2024-01-metropolitan-street.csv"]
            .member
            .as_deref(),
        Some("2024-01/2024-01-metropolitan-street.csv")
    );

    // Ingest works on it with the written config.
    let config = hotspots::config::Config::load(&report.config).unwrap();
    let ingested = hotspots::ingest::ingest(
        &config,
        &root,
        &dir.path().join("dataset"),
        &hotspots::ingest::IngestOptions {
            quiet: true,
            force: false,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(ingested.totals.rows_read, 6);
    assert_eq!(
        ingested.totals.rows_accepted, 6,
        "{:?}",
        ingested.totals.rejected_by_reason
    );

    // A second run verifies checksums and downloads nothing.
    let before = server.all_requests();
    let again = fetch::run(&opts).unwrap();
    assert_eq!(server.all_requests(), before);
    assert!(again.written.is_empty(), "{:?}", again.written);
    assert!(again.verified.len() >= 5, "{:?}", again.verified);

    // A file changed on disk no longer verifies and is fetched again.
    std::fs::write(root.join("stations/london_stations.csv"), "tampered").unwrap();
    let third = fetch::run(&opts).unwrap();
    assert_eq!(third.written, ["stations/london_stations.csv"]);
    assert_eq!(
        std::fs::read(root.join("stations/london_stations.csv")).unwrap(),
        stations
    );
}

#[test]
fn the_cli_fetches_from_a_mirror_and_explains_what_is_missing() {
    let stations = fixture("london_stations.csv");
    let server = Server::start(vec![("/LondonStationsCSV.ashx".into(), file(stations.clone()))]);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hotspots"))
        .args(["--quiet", "fetch", "--data-root"])
        .arg(&root)
        .args(["--what", "stations", "--base-url", &server.base])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("fetched 1 files") && stdout.contains("hotspots.toml"),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read(root.join("stations/london_stations.csv")).unwrap(),
        stations
    );

    // Crime without months: refused with a pointer to the flag, nothing fetched.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hotspots"))
        .args(["--quiet", "fetch", "--data-root"])
        .arg(&root)
        .args(["--what", "crime", "--base-url", &server.base])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("--months"), "{stderr}");

    // A typo in --what is caught by the argument parser.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hotspots"))
        .args(["fetch", "--data-root"])
        .arg(&root)
        .args(["--what", "stations,pubs"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pubs"));
}

#[test]
fn a_server_that_ignores_ranges_or_fails_once_still_gives_the_right_file() {
    let body = fixture("2024-01-city-of-london-street.csv");
    let plain = body.clone();
    let flaky = body.clone();
    let server = Server::start(vec![
        // Always the whole file with 200, whatever the Range asks.
        (
            "/plain.csv".into(),
            Box::new(move |_req: &Request, _n: usize| Response {
                status: 200,
                headers: vec![],
                body: plain.clone(),
                cut_at: None,
            }) as Route,
        ),
        // One 503 (no Retry-After: backoff applies), then the file.
        (
            "/flaky.csv".into(),
            Box::new(move |req: &Request, n: usize| {
                if n == 0 {
                    Response {
                        status: 503,
                        headers: vec![],
                        body: b"busy".to_vec(),
                        cut_at: None,
                    }
                } else {
                    file_response(&flaky, req)
                }
            }) as Route,
        ),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(quick_retries(3));

    // A stale partial file: the server answers 200, so it is replaced, not appended to.
    let dest = dir.path().join("plain.csv");
    std::fs::write(dir.path().join("plain.csv.part"), b"stale bytes from another file").unwrap();
    let done = client
        .download(
            &format!("{}/plain.csv", server.base),
            &dest,
            None,
            &ProgressBar::hidden(),
        )
        .unwrap();
    assert!(server.requests("/plain.csv")[0].range.is_some());
    assert_eq!(std::fs::read(&dest).unwrap(), body);
    assert_eq!(done.sha256, sha256(&body));

    let dest = dir.path().join("flaky.csv");
    let done = client
        .download(
            &format!("{}/flaky.csv", server.base),
            &dest,
            None,
            &ProgressBar::hidden(),
        )
        .unwrap();
    assert_eq!(done.requests, 2);
    assert_eq!(std::fs::read(&dest).unwrap(), body);
}

#[test]
fn every_real_london_ward_fits_the_api_url_limit_and_keeps_its_shape() {
    use geo::Area;
    let Some(root) = common::real_data("every_real_london_ward_fits_the_api_url_limit_and_keeps_its_shape") else {
        return;
    };
    let wards = hotspots::ingest::boundaries::read_layer(&hotspots::fetch::layout::wards_layer(), &root).unwrap();
    assert_eq!(wards.len(), 649);
    let mut requests = 0;
    let mut simplified = 0;
    for w in &wards {
        let params = fetch::police_api::poly_params(&w.geometry_wgs84, fetch::police_api::MAX_POLY_CHARS)
            .unwrap_or_else(|| panic!("{} does not fit", w.code));
        requests += params.len();
        for (poly, part) in params.iter().zip(&w.geometry_wgs84.0) {
            assert!(poly.len() <= fetch::police_api::MAX_POLY_CHARS);
            let pts: Vec<(f64, f64)> = poly
                .split(':')
                .map(|p| {
                    let (lat, lon) = p.split_once(',').unwrap();
                    (lon.parse().unwrap(), lat.parse().unwrap())
                })
                .collect();
            let sent = geo::Polygon::new(geo::LineString::from(pts), vec![]);
            let original = geo::Polygon::new(part.exterior().clone(), vec![]);
            let ratio = sent.unsigned_area() / original.unsigned_area();
            if part.exterior().0.len() > sent.exterior().0.len() + 1 {
                simplified += 1;
            }
            // Simplification may move the outline by metres, not change the ward.
            assert!((ratio - 1.0).abs() < 0.01, "{}: area ratio {ratio}", w.code);
        }
    }
    eprintln!(
        "{} wards: {requests} API requests a month, {simplified} outlines simplified",
        wards.len()
    );
}

#[test]
fn the_api_answering_503_is_explained() {
    let busy: Route = Box::new(|_req, _n| Response {
        status: 503,
        headers: vec![],
        body: b"".to_vec(),
        cut_at: None,
    });
    let server = Server::start(vec![
        (boundaries_path(), file(boundary_zip().to_vec())),
        ("/api/crimes-street/all-crime".into(), busy),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let mut opts = FetchOptions::new(dir.path(), fetch::parse_months("2024-01").unwrap());
    opts.what = vec![What::Boundaries, What::Crime];
    opts.via = Via::Api;
    opts.sources = Sources::mirror(&server.base);
    opts.retry = quick_retries(2);
    opts.api_requests_per_second = 0.0;
    opts.quiet = true;
    let msg = fetch::run(&opts).unwrap_err().to_string();
    assert!(
        msg.contains("10,000") && msg.contains("--via archive") && msg.contains("2024-01"),
        "{msg}"
    );
    assert_eq!(server.requests("/api/crimes-street/all-crime").len(), 2);
    assert!(!dir.path().join("police_uk/api/2024-01-street-api.json").exists());
}
