//! The web map end to end in headless Chromium (Debian's `chromium` and
//! `chromium-driver`), driven over the W3C WebDriver protocol: the page
//! loads, its layers draw (SVG paths per layer), changing a control changes
//! the hotspot layer, a click shows a feature's figures. A screenshot goes
//! to `target/browser/map.png`.
//!
//! Skipped with a message when Chromium is absent, unless
//! `HOTSPOTS_REQUIRE_BROWSER=1` (as in CI), when it fails instead.

use crate::common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn browser_paths() -> Option<(PathBuf, PathBuf)> {
    let required = std::env::var("HOTSPOTS_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    // Chromium found as `hotspots briefing --pdf` finds it.
    let chromium = hotspots::briefing::pdf::find_chromium();
    let driver = std::env::var_os("HOTSPOTS_CHROMEDRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/usr/bin/chromedriver".into());
    let chromium = match chromium {
        Ok(c) if driver.exists() => return Some((c, driver)),
        Ok(c) => c.display().to_string(),
        Err(e) => e.to_string(),
    };
    let msg = format!(
        "browser test: Chromium ({chromium}) or {} not found (apt-get install chromium chromium-driver)",
        driver.display()
    );
    if required {
        panic!("{msg}, and HOTSPOTS_REQUIRE_BROWSER=1");
    }
    eprintln!("SKIPPED {msg}");
    None
}

/// A chromedriver process, killed on drop.
struct Driver {
    child: Child,
    url: String,
    session: Option<String>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(s) = &self.session {
            let _ = common::http::request("DELETE", &format!("{}/session/{s}", self.url), &[], None);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn start(driver: &std::path::Path) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        let t0 = Instant::now();
        loop {
            if let Ok(r) = common::http::request("GET", &format!("{url}/status"), &[], None) {
                let v: Value = serde_json::from_slice(&r.body).unwrap_or_default();
                if v["value"]["ready"] == true {
                    break;
                }
            }
            assert!(t0.elapsed() < Duration::from_secs(20), "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Driver {
            child,
            url,
            session: None,
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.url);
        let body = body.map(|b| b.to_string());
        let r = common::http::request(
            method,
            &url,
            &[("Content-Type", "application/json; charset=utf-8")],
            body.as_deref().map(str::as_bytes),
        )
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let v: Value = serde_json::from_slice(&r.body)
            .unwrap_or_else(|e| panic!("{method} {path}: {} ({e})", String::from_utf8_lossy(&r.body)));
        assert_eq!(r.status, 200, "{method} {path}: {v}");
        v["value"].clone()
    }

    /// A headless Chromium session at 1280 × 900; `console_log` keeps the
    /// browser's console for `/se/log`.
    fn open_session(&mut self, chromium: &std::path::Path, console_log: bool) {
        let mut caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"],
            },
        });
        if console_log {
            caps["goog:loggingPrefs"] = json!({"browser": "ALL"});
        }
        let session = self.call("POST", "/session", Some(json!({"capabilities": {"alwaysMatch": caps}})));
        self.session = Some(session["sessionId"].as_str().unwrap().to_string());
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session.as_deref().unwrap())
    }

    fn script(&self, script: &str) -> Value {
        self.call(
            "POST",
            &self.session_path("/execute/sync"),
            Some(json!({"script": script, "args": []})),
        )
    }

    /// Polls a script until it returns true.
    fn wait_for(&self, what: &str, script: &str) {
        let t0 = Instant::now();
        while self.script(script) != Value::Bool(true) {
            let state = self.script("return window.hotspotsState || null;");
            assert!(
                t0.elapsed() < Duration::from_secs(300),
                "timed out waiting for {what}; state {state}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn count(d: &Driver, selector: &str) -> u64 {
    d.script(&format!("return document.querySelectorAll({});", json!(selector)))
        .as_array()
        .map(|a| a.len() as u64)
        .unwrap_or(0)
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let digits: Vec<u32> = s.bytes().filter_map(val).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (k, d)| acc | d << (18 - 6 * k));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..chunk.len() - 1]);
    }
    out
}

#[test]
fn the_map_draws_its_layers_and_its_controls_change_the_hotspots() {
    let Some((chromium, driver_path)) = browser_paths() else {
        return;
    };
    let base = common::serve_dataset(&common::demo_dataset());
    let mut d = Driver::start(&driver_path);
    d.open_session(&chromium, false);

    d.call(
        "POST",
        &d.session_path("/url"),
        Some(json!({"url": format!("{base}/map")})),
    );
    d.wait_for(
        "the first load",
        "return !!window.hotspotsState && window.hotspotsState.loads >= 1;",
    );
    let state = d.script("return window.hotspotsState;");
    assert_eq!(state["errors"], json!([]), "no load errors: {state}");
    let (wards, hot, schools, stations) = (
        count(&d, "path.hs-ward"),
        count(&d, "path.hs-hotspot"),
        count(&d, "path.hs-schools"),
        count(&d, "path.hs-stations"),
    );
    eprintln!("map drew {wards} wards, {hot} hotspot cells, {schools} schools, {stations} stations");
    assert!(wards >= 10, "ward choropleth drawn");
    assert_eq!(wards, state["wardFeatures"].as_u64().unwrap());
    assert!(hot > 0, "hotspot layer drawn");
    assert!(schools > 0 && stations > 0, "schools and stations drawn");
    assert!(count(&d, "script[src^='http']") == 0, "no scripts from elsewhere");

    // A click shows the feature's figures: a real click on whichever
    // feature is topmost at the centre of a hotspot cell.
    let target = d.script(
        "const r = document.querySelector('path.hs-hotspot').getBoundingClientRect();
         const top = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
         top.classList.add('click-me');
         return top.getAttribute('class');",
    );
    assert!(
        target.as_str().unwrap_or("").contains("hs-"),
        "a feature is under the point: {target}"
    );
    let marker = d.call(
        "POST",
        &d.session_path("/element"),
        Some(json!({"using": "css selector", "value": ".click-me"})),
    );
    let eid = marker
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    d.call(
        "POST",
        &d.session_path(&format!("/element/{eid}/click")),
        Some(json!({})),
    );
    d.wait_for(
        "a popup",
        "return !!document.querySelector('.leaflet-popup-content table.props');",
    );

    // Changing the method changes the hotspot layer.
    let before = d.script("return window.hotspotsState.hotspotUrl;");
    d.script("const m = document.getElementById('method'); m.value = 'kde'; m.dispatchEvent(new Event('change'));");
    d.wait_for("the KDE layer", "return window.hotspotsState.loads >= 2;");
    let state = d.script("return window.hotspotsState;");
    assert_ne!(state["hotspotUrl"], before);
    assert!(state["hotspotUrl"].as_str().unwrap().contains("/collections/kde/items"));
    let kde_cells = count(&d, "path.hs-hotspot");
    assert!(kde_cells > 0, "KDE drawn");
    assert_eq!(kde_cells, state["hotspotFeatures"].as_u64().unwrap());
    assert_ne!(kde_cells, hot, "a different layer");

    // Changing the crime type re-queries with it.
    d.script(
        "const c = document.getElementById('crime_type'); c.value = 'Burglary'; c.dispatchEvent(new Event('change'));",
    );
    d.wait_for("the burglary layer", "return window.hotspotsState.loads >= 3;");
    let state = d.script("return window.hotspotsState;");
    assert!(
        state["hotspotUrl"].as_str().unwrap().contains("crime_type=Burglary"),
        "{state}"
    );
    assert_eq!(state["errors"], json!([]), "{state}");

    let png = base64_decode(d.call("GET", &d.session_path("/screenshot"), None).as_str().unwrap());
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/browser");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("map.png"), &png).unwrap();
    eprintln!("screenshot: {}", dir.join("map.png").display());
}

#[test]
fn base64_decodes() {
    assert_eq!(base64_decode("aGVsbG8="), b"hello");
    assert_eq!(base64_decode("aGk="), b"hi");
    assert_eq!(base64_decode("YWJj"), b"abc");
}

/// Runs a poppler tool (`pdfinfo`, `pdftotext`) on a PDF, or `None` when it
/// is not installed (a failure with `HOTSPOTS_REQUIRE_BROWSER=1`).
fn poppler(tool: &str, pdf: &std::path::Path) -> Option<String> {
    let mut cmd = Command::new(tool);
    cmd.arg(pdf);
    if tool == "pdftotext" {
        cmd.arg("-");
    }
    let out = match cmd.output() {
        Ok(o) => o,
        Err(e) => {
            let msg = format!("briefing PDF test: {tool} not found ({e}); apt-get install poppler-utils");
            if std::env::var("HOTSPOTS_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
                panic!("{msg}, and HOTSPOTS_REQUIRE_BROWSER=1");
            }
            eprintln!("SKIPPED {msg}");
            return None;
        }
    };
    assert!(
        out.status.success(),
        "{tool} {}: {}",
        pdf.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn pdf_pages(pdf: &std::path::Path) -> Option<usize> {
    let info = poppler("pdfinfo", pdf)?;
    let pages = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .map(|v| v.trim().parse::<usize>().unwrap())
        .expect("pdfinfo gives Pages");
    // The crate's own count of page objects agrees with poppler's.
    assert_eq!(hotspots::briefing::pdf::page_count(&std::fs::read(pdf).unwrap()), pages);
    Some(pages)
}

#[test]
fn a_ward_briefing_renders_in_chromium_and_prints_to_pdf() {
    let Some((chromium, driver_path)) = browser_paths() else {
        return;
    };
    let dir = common::demo_dataset();
    let ds = hotspots::dataset::Dataset::open_for_analysis(&dir).unwrap();
    let ward = crate::briefing::planted_ward(&dir, &ds);
    let base = common::serve_dataset(&dir);
    let mut d = Driver::start(&driver_path);
    d.open_session(&chromium, true);
    d.call(
        "POST",
        &d.session_path("/url"),
        Some(json!({"url": format!("{base}/wards/{ward}/briefing")})),
    );
    d.wait_for("the page", "return document.readyState === 'complete';");
    // No console errors.
    let logs = d.call("POST", &d.session_path("/se/log"), Some(json!({"type": "browser"})));
    let errors: Vec<&Value> = logs
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["level"] == "SEVERE")
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    // No request at all besides the page itself (so none leaves the host).
    let resources = d.script("return performance.getEntriesByType('resource').map(e => e.name);");
    assert_eq!(resources, json!([]), "the page loads nothing else");
    let nav = d.script("return performance.getEntriesByType('navigation').map(e => e.name);");
    assert!(nav[0].as_str().unwrap().starts_with(&base));
    // The map: the ward's polygon, drawn at a real size, and hot cells.
    assert_eq!(count(&d, &format!("svg.map path.ward[data-ward='{ward}']")), 1);
    let bbox = d.script("const b = document.querySelector('svg.map path.ward').getBBox(); return [b.width, b.height];");
    assert!(
        bbox[0].as_f64().unwrap() > 50.0 && bbox[1].as_f64().unwrap() > 50.0,
        "{bbox}"
    );
    assert!(count(&d, "svg.map rect.cell.hot") > 0, "hot cells drawn");
    assert!(count(&d, "svg.chart rect.month") >= 12, "the monthly chart drawn");
    let headline = d.script("return document.querySelector('p.headline').textContent;");
    let headline = headline.as_str().unwrap().to_string();
    let name = d.script("return document.querySelector('h1').textContent;");
    let name = name.as_str().unwrap().trim_end_matches(" ward briefing").to_string();
    let png = base64_decode(d.call("GET", &d.session_path("/screenshot"), None).as_str().unwrap());
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/browser");
    std::fs::create_dir_all(&shots).unwrap();
    std::fs::write(shots.join("briefing.png"), &png).unwrap();
    drop(d);

    // The PDFs of the ward's borough, printed by `hotspots briefing --pdf`'s code.
    let ctx = hotspots::briefing::Context::build(&ds, hotspots::briefing::Options::default()).unwrap();
    let b = hotspots::briefing::figures::ward_briefing(&ds, &ctx, &ward).unwrap();
    let out = tempfile::tempdir().unwrap();
    let written = hotspots::briefing::output::write(
        &ds,
        &ctx,
        &hotspots::briefing::output::Scope::Borough(b.borough_code.clone()),
        out.path(),
        true,
        "2026-12-05T00:00:00Z",
    )
    .unwrap();
    assert_eq!(written.pdfs, written.pages + 1);
    let bdir = out.path().join(&b.borough_code);
    let Some(pages) = pdf_pages(&bdir.join(format!("{ward}.pdf"))) else {
        return;
    };
    assert!((1..=2).contains(&pages), "one or two A4 pages, got {pages}");
    let text = poppler("pdftotext", &bdir.join(format!("{ward}.pdf"))).unwrap();
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains(&name), "the PDF names the ward {name}");
    let headline_flat = headline.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(&headline_flat),
        "the PDF has the headline {headline_flat:?}"
    );
    assert!(flat.contains(&format!("All crime {}", b.total.current)));
    // The borough's combined PDF: every ward's pages, each ward from a new page.
    let mut sum = 0;
    for f in &written.files {
        sum += pdf_pages(&f.with_extension("pdf")).unwrap();
    }
    assert_eq!(pdf_pages(&bdir.join("all-wards.pdf")).unwrap(), sum);
}
