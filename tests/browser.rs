//! The web map end to end in headless Chromium (Debian's `chromium` and
//! `chromium-driver`), driven over the W3C WebDriver protocol: the page
//! loads, MapLibre draws its vector tiles with WebGL (SwiftShader) at
//! several zooms with no console errors and no request leaving the host,
//! changing a control changes the hotspot layer, a click shows a feature's
//! figures and a ward's links to its briefing. A screenshot goes to
//! `target/browser/map.png`.
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
                // WebGL (the map) through SwiftShader, on machines without a GPU;
                // any host but this one fails to resolve, so a request
                // leaving the host would show as an error.
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                         "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
                         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"],
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

/// Clicks the page at viewport pixel `(x, y)` with a real pointer (W3C
/// WebDriver actions), as a user's mouse would.
fn click_at(d: &Driver, x: i64, y: i64) {
    let pointer = json!([{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"}, "actions": [
        {"type": "pointerMove", "duration": 0, "origin": "viewport", "x": x, "y": y},
        {"type": "pointerDown", "button": 0},
        {"type": "pointerUp", "button": 0},
    ]}]);
    d.call("POST", &d.session_path("/actions"), Some(json!({"actions": pointer})));
    d.call("DELETE", &d.session_path("/actions"), None);
}

/// A viewport pixel where the topmost clickable feature is on map layer
/// `layer` (the page's own click order), or `None`.
fn pixel_on(d: &Driver, layer: &str) -> Option<(i64, i64)> {
    let v = d.script(&format!(
        "const m = window.hotspotsMap, c = m.getCanvas().getBoundingClientRect();
         const layers = CLICKABLE.filter((l) => m.getLayer(l));
         for (let y = 25; y < c.height - 25; y += 9) for (let x = 25; x < c.width - 25; x += 9) {{
           const f = m.queryRenderedFeatures([x, y], {{ layers }})[0];
           if (f && f.layer.id === {}) return [Math.round(c.x + x), Math.round(c.y + y)];
         }}
         return null;",
        json!(layer)
    ));
    v.as_array().map(|a| (a[0].as_i64().unwrap(), a[1].as_i64().unwrap()))
}

/// Moves the map and waits until it has drawn the new view.
fn jump(d: &Driver, lon: f64, lat: f64, zoom: f64) {
    d.script(&format!(
        "window.hotspotsIdle = false; const m = window.hotspotsMap;
         m.once('idle', () => {{ window.hotspotsIdle = true; }});
         m.jumpTo({{ center: [{lon}, {lat}], zoom: {zoom} }});"
    ));
    d.wait_for(
        &format!("the map at zoom {zoom}"),
        "return window.hotspotsIdle === true;",
    );
}

/// Features drawn in the view on map layer `layer`, and how many distinct ids.
fn drawn(d: &Driver, layer: &str) -> (u64, u64) {
    let v = d.script(&format!(
        "const fs = window.hotspotsMap.queryRenderedFeatures({{ layers: [{}] }});
         return [fs.length, new Set(fs.map((f) => f.properties.id !== undefined ? f.properties.id : f.id)).size];",
        json!(layer)
    ));
    (v[0].as_u64().unwrap(), v[1].as_u64().unwrap())
}

/// No console errors, no request that left the host, no map errors.
fn assert_clean(d: &Driver, base: &str) {
    let logs = d.call("POST", &d.session_path("/se/log"), Some(json!({"type": "browser"})));
    let errors: Vec<&Value> = logs
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["level"] == "SEVERE")
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    let state = d.script("return window.hotspotsState;");
    assert_eq!(state["errors"], json!([]), "map errors: {state}");
    assert_eq!(
        state["external"],
        json!([]),
        "requests that would leave the host: {state}"
    );
    // The page's own requests (scripts, style, items) all went to the server.
    let resources = d.script("return performance.getEntriesByType('resource').map(e => e.name);");
    for r in resources.as_array().unwrap() {
        assert!(r.as_str().unwrap().starts_with(base), "a request left the host: {r}");
    }
}

#[test]
fn the_map_draws_its_tiles_at_several_zooms_and_its_controls_change_the_hotspots() {
    let Some((chromium, driver_path)) = browser_paths() else {
        return;
    };
    let dir = common::demo_dataset();
    let base = common::serve_dataset(&dir);
    let wards = common::http::request("GET", &format!("{base}/collections/wards/items?limit=1"), &[], None).unwrap();
    let wards_total = serde_json::from_slice::<Value>(&wards.body).unwrap()["numberMatched"]
        .as_u64()
        .unwrap();
    let mut d = Driver::start(&driver_path);
    d.open_session(&chromium, true);
    d.call(
        "POST",
        &d.session_path("/url"),
        Some(json!({"url": format!("{base}/map")})),
    );
    d.wait_for(
        "the first load",
        "return !!window.hotspotsState && window.hotspotsState.loads >= 1;",
    );
    assert!(
        d.script("return !!window.hotspotsMap.painter.context.gl;") == Value::Bool(true),
        "MapLibre draws with WebGL"
    );
    assert_clean(&d, &base);
    // The whole city in view: every ward drawn from the tiles, hot cells,
    // schools and stations.
    let (_, wards) = drawn(&d, "wards-fill");
    let (hot, _) = drawn(&d, "hotspots-fill");
    let (schools, _) = drawn(&d, "schools");
    let (stations, _) = drawn(&d, "stations");
    eprintln!("map drew {wards} wards, {hot} hotspot cell pieces, {schools} schools, {stations} stations");
    assert_eq!(wards, wards_total, "every ward drawn");
    assert!(hot > 0, "hotspot layer drawn");
    assert!(schools > 0 && stations > 0, "schools and stations drawn");
    assert!(count(&d, "script[src^='http']") == 0, "no scripts from elsewhere");

    // Zoom in on a hot cell step by step, past the tiles' deepest zoom (16,
    // over-zoomed beyond): each view is drawn from tiles of its own zoom.
    let centre = d.script(
        "const f = window.hotspotsMap.queryRenderedFeatures({ layers: ['hotspots-fill'] })
           .find((f) => f.geometry.type === 'Polygon');
         const ring = f.geometry.coordinates[0];
         const n = ring.length - 1;
         return [ring.slice(0, n).reduce((a, c) => a + c[0], 0) / n, ring.slice(0, n).reduce((a, c) => a + c[1], 0) / n];",
    );
    let (lon, lat) = (centre[0].as_f64().unwrap(), centre[1].as_f64().unwrap());
    for zoom in [11.0, 13.0, 15.0, 17.5] {
        jump(&d, lon, lat, zoom);
        let (hot, _) = drawn(&d, "hotspots-fill");
        let (wards, _) = drawn(&d, "wards-fill");
        let (incidents, _) = drawn(&d, "incidents");
        eprintln!("zoom {zoom}: {hot} hotspot pieces, {wards} ward pieces, {incidents} incidents");
        assert!(hot > 0 && wards > 0, "zoom {zoom}: hot cells and wards drawn");
        if zoom >= 13.0 {
            assert!(incidents > 0, "zoom {zoom}: incidents drawn");
        } else {
            assert_eq!(incidents, 0, "zoom {zoom}: incidents are drawn from zoom 12");
        }
    }
    let zooms = d.script("return window.hotspotsState.tileZooms;");
    for z in [11, 13, 15, 16] {
        assert!(
            zooms.as_array().unwrap().contains(&json!(z)),
            "tiles of zoom {z} asked for: {zooms}"
        );
    }
    assert!(
        !zooms.as_array().unwrap().contains(&json!(17)),
        "no tiles past 16 (over-zoomed)"
    );
    assert_clean(&d, &base);

    // Back to the city. A click on a hot cell shows its figures; a click on
    // a ward links to its briefing, which the server answers.
    jump(&d, lon, lat, 12.0);
    let (x, y) = pixel_on(&d, "hotspots-fill").expect("a hot cell on screen");
    click_at(&d, x, y);
    d.wait_for(
        "a hot cell's popup",
        "return !!document.querySelector('.maplibregl-popup-content table.props');",
    );
    let text = d.script("return document.querySelector('.maplibregl-popup-content').textContent;");
    assert!(text.as_str().unwrap().contains("gi_bin_fdr"), "{text}");
    let (x, y) = pixel_on(&d, "wards-fill").expect("a ward with no cell over it on screen");
    click_at(&d, x, y);
    d.wait_for(
        "a ward's popup",
        "return !!document.querySelector('.maplibregl-popup-content a.briefing-link');",
    );
    let href = d.script("return document.querySelector('.maplibregl-popup-content a.briefing-link').href;");
    let page = common::http::request("GET", href.as_str().unwrap(), &[], None).unwrap();
    assert_eq!(page.status, 200, "{href}");
    assert!(String::from_utf8_lossy(&page.body).contains("ward briefing"));

    // Changing the method changes the hotspot layer.
    let before = d.script("return window.hotspotsState.hotspotUrl;");
    d.script("const m = document.getElementById('method'); m.value = 'kde'; m.dispatchEvent(new Event('change'));");
    d.wait_for("the KDE layer", "return window.hotspotsState.loads >= 2;");
    let state = d.script("return window.hotspotsState;");
    assert_ne!(state["hotspotUrl"], before);
    assert!(state["hotspotUrl"]
        .as_str()
        .unwrap()
        .contains("/collections/kde/tiles/WebMercatorQuad/"));
    assert!(drawn(&d, "hotspots-fill").0 > 0, "KDE drawn");

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
    assert!(drawn(&d, "hotspots-fill").0 > 0, "burglary KDE drawn");
    assert_clean(&d, &base);

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
