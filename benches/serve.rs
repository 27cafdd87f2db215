//! Server benchmarks on the real Met burglary data, all 135 months: the time
//! to open the dataset and prepare the collections, resident memory after
//! each step, and the first (uncached) Gi* layer request over real HTTP,
//! then a second Gi* layer on the same grid with other parameters, and a
//! cached repeat; then the parts of an uncached layer in process (Gi*, the
//! grid's shape, the table). wrk figures are
//! `benches/peers/run_serve_bench.sh`'s.
//!
//! `HOTSPOTS_DATA=../shared/data cargo bench --bench serve`, or
//! `HOTSPOTS_DATASET=DIR` for an ingested dataset (skips the ingest).

mod common;

use std::time::{Duration, Instant};

use common::{get, ms};
use hotspots::analysis::hotspot::{gi_star, HotspotRequest};
use hotspots::api::table::{Shape, Table};

/// Resident memory in MB (Linux `/proc/self/status`).
fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// The ward with the most incidents, and its WGS84 polygon as WKT.
fn busiest_ward(dir: &std::path::Path) -> (String, String) {
    use geo_traits::to_geo::ToGeoGeometry;
    let inc = hotspots::dataset::read_parquet(&dir.join("incidents.parquet")).expect("incidents");
    let mut counts = std::collections::HashMap::<String, usize>::new();
    for w in inc.column("ward_code").unwrap().str().unwrap().iter().flatten() {
        *counts.entry(w.to_string()).or_default() += 1;
    }
    let best = counts.into_iter().max_by_key(|(_, n)| *n).expect("a ward").0;
    let wards = hotspots::dataset::read_parquet(&dir.join("wards.parquet")).expect("wards");
    let k = wards
        .column("code")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .position(|c| c == Some(best.as_str()))
        .expect("the ward");
    let wkb = wards
        .column("geometry")
        .unwrap()
        .binary()
        .unwrap()
        .get(k)
        .unwrap()
        .to_vec();
    let g = wkb::reader::read_wkb(&wkb).unwrap().to_geometry();
    (best, wkt::ToWkt::wkt_string(&g))
}

fn main() {
    // As `hotspots serve`: 4 KiB pages.
    hotspots::sys::small_pages();
    // The ingested dataset's folder, and the guard that deletes it at the end.
    let (dir, _tmp) = match std::env::var_os("HOTSPOTS_DATASET") {
        Some(d) => (std::path::PathBuf::from(d), None),
        None => {
            let Some(root) = common::data() else {
                eprintln!("SKIPPED serve bench: set HOTSPOTS_DATA (or HOTSPOTS_DATASET)");
                return;
            };
            let (tmp, ds) = common::burglary_dataset(&root);
            let dir = ds.dir.clone();
            drop(ds);
            (dir, Some(tmp))
        }
    };
    println!("resident at start: {:.0} MB", rss_mb());
    let t = Instant::now();
    let ds = hotspots::dataset::Dataset::open(&dir).expect("open");
    println!(
        "Dataset::open: {:.0} ms, {} incidents; resident {:.0} MB",
        ms(t.elapsed()),
        ds.columns.len(),
        rss_mb()
    );
    let frame_mb = ds.incidents.estimated_size() as f64 / 1e6;
    println!("  of which the incidents frame (polars' estimate): {frame_mb:.0} MB");
    let t = Instant::now();
    let state = hotspots::api::AppState::new(ds).expect("state");
    println!(
        "AppState::new (collections in compact form, frame rows freed): {:.0} ms; resident {:.0} MB",
        ms(t.elapsed()),
        rss_mb()
    );
    // As `hotspots serve`: give what loading freed back to the OS.
    hotspots::api::release_free_memory();
    println!("resident after collecting: {:.0} MB", rss_mb());

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(hotspots::api::serve(listener, state, async {
        let _ = rx.await;
    }));
    let gistar = |q: &str| format!("/collections/gistar/items?cell=250&{q}&limit=100");
    let report = |what: &str, path: &str| {
        let (status, len, t) = get(addr, path);
        assert!(status.contains("200"), "{path}: {status}");
        println!("{what:<58} {:>7.1} ms  ({len} bytes)", ms(t));
    };
    report("first (uncached) Gi* layer, 250 m, band 750 m", &gistar("band=750"));
    report("repeat (cached)", &gistar("band=750"));
    report("Gi* on the same grid, band 1000 m (uncached)", &gistar("band=1000"));
    report(
        "Gi* on the same grid, burglary, FDR off (uncached)",
        &gistar("band=750&crime_type=burglary&correction=none"),
    );
    report(
        "Gi* hex grid, 250 m, band 750 m (uncached)",
        "/collections/hex/items?cell=250&band=750&limit=100",
    );
    report(
        "Gi* 100 m grid, band 300 m (uncached)",
        "/collections/gistar/items?cell=100&band=300&limit=100",
    );
    let mut times: Vec<Duration> = (0..7)
        .map(|k| get(addr, &gistar(&format!("band={}", 760 + 10 * k))).2)
        .collect();
    times.sort();
    println!(
        "uncached Gi* layers on the 250 m grid, 7 bands              best {:>7.1} ms  median {:>7.1} ms",
        ms(times[0]),
        ms(times[3])
    );
    report(
        "page of 100 incidents",
        "/collections/incidents/items?limit=100&offset=5000",
    );
    report("page of 100 wards", "/collections/wards/items?limit=100");
    // OGC API – Features Part 2 and 3: the same pages in British National
    // Grid, and a filter over every incident (median of 15 requests each).
    let median = |what: &str, path: &str| {
        let mut runs: Vec<(Duration, usize)> = (0..15)
            .map(|_| {
                let (status, len, t) = get(addr, path);
                assert!(status.contains("200"), "{path}: {status}");
                (t, len)
            })
            .collect();
        runs.sort();
        let (t, len) = runs[runs.len() / 2];
        println!("{what:<58} {:>7.1} ms  ({len} bytes, median of 15)", ms(t));
    };
    let bng = "crs=http%3A%2F%2Fwww.opengis.net%2Fdef%2Fcrs%2FEPSG%2F0%2F27700";
    median("page of 100 wards, CRS84", "/collections/wards/items?limit=100");
    median(
        "page of 100 wards, EPSG:27700",
        &format!("/collections/wards/items?limit=100&{bng}"),
    );
    median(
        "page of 100 incidents, CRS84",
        "/collections/incidents/items?limit=100&offset=5000",
    );
    median(
        "page of 100 incidents, EPSG:27700",
        &format!("/collections/incidents/items?limit=100&offset=5000&{bng}"),
    );
    let (ward, wkt) = busiest_ward(&dir);
    let filter =
        format!("crime_type = 'Burglary' AND month BETWEEN '2023-01' AND '2023-12' AND S_INTERSECTS(geometry, {wkt})");
    let filter: String = form_urlencoded::byte_serialize(filter.as_bytes()).collect();
    median(
        &format!("filter: burglary, 2023, S_INTERSECTS ward {ward}"),
        &format!("/collections/incidents/items?limit=100&filter={filter}"),
    );
    println!("resident after the requests: {:.0} MB", rss_mb());
    let _ = tx.send(());
    let _ = rt.block_on(server);

    // The parts of an uncached Gi* layer, in process.
    let ds = hotspots::dataset::Dataset::open(&dir).expect("open");
    let req = HotspotRequest {
        cell_m: Some(250.0),
        band_m: Some(750.0),
        ..Default::default()
    };
    let h = gi_star(&ds, &req).unwrap();
    let grid = h.units.grid().unwrap();
    let (best, median) = common::time(7, || gi_star(&ds, &req).unwrap());
    println!(
        "  Gi* (select, grid, count, weights, z, FDR)                best {:>7.1} ms  median {:>7.1} ms",
        ms(best),
        ms(median)
    );
    let (best, median) = common::time(7, || grid.rings_wgs84());
    println!(
        "  cell rings in WGS84 ({} vertices for {} cells)       best {:>7.1} ms  median {:>7.1} ms",
        grid.rings_wgs84().vertices.len(),
        grid.cells.len(),
        ms(best),
        ms(median)
    );
    let (best, median) = common::time(7, || Shape::grid(grid));
    println!(
        "  grid shape (ids, rings, vertex text)                      best {:>7.1} ms  median {:>7.1} ms",
        ms(best),
        ms(median)
    );
    let shape = std::sync::Arc::new(Shape::grid(grid));
    let (best, median) = common::time(7, || Table::from_columns(shape.clone(), h.property_columns()));
    println!(
        "  table from the property columns                           best {:>7.1} ms  median {:>7.1} ms",
        ms(best),
        ms(median)
    );
    let (best, median) = common::time(3, || h.to_layer());
    println!(
        "  (for comparison: the layer as features with JSON maps)    best {:>7.1} ms  median {:>7.1} ms",
        ms(best),
        ms(median)
    );
    drop(ds);
    let mut opens: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(hotspots::dataset::Dataset::open(&dir).expect("open"));
            t.elapsed()
        })
        .collect();
    opens.sort();
    println!(
        "Dataset::open, 5 runs                                       best {:>7.1} ms  median {:>7.1} ms",
        ms(opens[0]),
        ms(opens[2])
    );
}
