//! The demo city, atomic writes and incremental re-ingest (no real data needed).

use std::path::Path;
use std::process::Command;

use hotspots::config::Config;
use hotspots::dataset::{read_manifest, Dataset};
use hotspots::ingest::{ingest, IngestOptions};

fn quiet() -> IngestOptions {
    IngestOptions {
        quiet: true,
        force: false,
        ..Default::default()
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn demo_is_deterministic_and_ingests_with_its_dirt_counted() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let da = hotspots::demo::run(a.path(), 7, true).unwrap();
    let db = hotspots::demo::run(b.path(), 7, true).unwrap();
    assert_eq!(da.ground_truth, db.ground_truth);
    assert_eq!(da.manifest.totals, db.manifest.totals);
    for f in [
        "boundaries/Demo_Ward.shp",
        "boundaries/Demo_Ward.prj",
        "police_uk/2023-01-demo-street.csv",
        "ground_truth.json",
    ] {
        assert_eq!(
            std::fs::read(da.data_root.join(f)).unwrap(),
            std::fs::read(db.data_root.join(f)).unwrap(),
            "{f}"
        );
    }
    let m = &da.manifest;
    assert_eq!(m.sources[0].files.len(), 24);
    let reasons = &m.totals.rejected_by_reason;
    assert!(reasons["missing_coordinates"] > 0);
    assert_eq!(reasons["outside_study_area"], 48, "two far points a month");
    assert_eq!(reasons["duplicate_id"], 1, "one repeated crime");
    let ds = Dataset::open(&da.dataset).unwrap();
    assert_eq!(ds.wards.height(), 64);
    assert_eq!(ds.boroughs.height(), 4);
    assert_eq!(ds.schools.height(), 48, "the school listed twice is one school");
    assert_eq!(ds.stations.height(), 16);
    assert_eq!(da.ground_truth.hotspots.len(), 8);
    // A different seed makes a different city.
    let c = tempfile::tempdir().unwrap();
    let dc = hotspots::demo::run(c.path(), 8, true).unwrap();
    assert_ne!(
        dc.ground_truth.hotspots[0].easting_m,
        da.ground_truth.hotspots[0].easting_m
    );
}

#[test]
fn killed_ingest_leaves_the_old_dataset_readable() {
    let dir = tempfile::tempdir().unwrap();
    let demo = hotspots::demo::run(dir.path(), 1, true).unwrap();
    let before = read_manifest(&demo.dataset).unwrap();
    let incidents_before = std::fs::read(demo.dataset.join("incidents.parquet")).unwrap();
    // Change the input so a finished ingest would change the dataset.
    std::fs::remove_file(demo.data_root.join("police_uk/2023-01-demo-street.csv")).unwrap();
    for table in ["incidents", "rejects", "cache"] {
        let status = Command::new(env!("CARGO_BIN_EXE_hotspots"))
            .args(["ingest", "--quiet", "--config"])
            .arg(&demo.config)
            .arg("--data-root")
            .arg(&demo.data_root)
            .arg("--out")
            .arg(&demo.dataset)
            .env(hotspots::dataset::write::ABORT_AFTER_ENV, table)
            .status()
            .unwrap();
        assert!(!status.success(), "the ingest was killed after writing {table}");
        let after = read_manifest(&demo.dataset).unwrap();
        assert_eq!(after, before, "the old manifest is intact after a kill at {table}");
        assert_eq!(
            std::fs::read(demo.dataset.join("incidents.parquet")).unwrap(),
            incidents_before
        );
        Dataset::open(&demo.dataset).unwrap();
    }
    // The next ingest completes, clears the debris and replaces the dataset.
    let config = Config::load(&demo.config).unwrap();
    let m = ingest(&config, &demo.data_root, &demo.dataset, &quiet()).unwrap();
    assert_eq!(m.sources[0].files.len(), 23);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "stale temp dirs removed: {leftovers:?}");
}

#[test]
fn reingest_with_one_more_month_parses_only_the_new_file() {
    let dir = tempfile::tempdir().unwrap();
    let demo = hotspots::demo::run(dir.path(), 3, true).unwrap();
    let root = dir.path().join("root");
    copy_dir(&demo.data_root, &root);
    let last = root.join("police_uk/2024-12-demo-street.csv");
    let held_back = std::fs::read(&last).unwrap();
    std::fs::remove_file(&last).unwrap();
    let config = Config::load(&demo.config).unwrap();
    let out = dir.path().join("ds");
    let first = ingest(&config, &root, &out, &quiet()).unwrap();
    assert!(first.sources[0].files.iter().all(|f| !f.reused));
    std::fs::write(&last, held_back).unwrap();
    let second = ingest(&config, &root, &out, &quiet()).unwrap();
    let files = &second.sources[0].files;
    assert_eq!(files.len(), 24);
    let parsed: Vec<&str> = files.iter().filter(|f| !f.reused).map(|f| f.path.as_str()).collect();
    assert_eq!(parsed, vec!["police_uk/2024-12-demo-street.csv"]);
    // Same result as a full re-parse.
    let full = ingest(
        &config,
        &root,
        &dir.path().join("full"),
        &IngestOptions {
            quiet: true,
            force: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(second.totals, full.totals);
    assert_eq!(second.totals, demo.manifest.totals);
    let a = Dataset::open(&out).unwrap();
    let b = Dataset::open(&dir.path().join("full")).unwrap();
    assert!(
        a.incidents.equals_missing(&b.incidents),
        "reused rows give the same incidents table"
    );
}

#[test]
fn config_errors_name_the_key() {
    let err = Config::from_toml("[boundaries.wards]\npath = 3\n", "bad.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad.toml") && err.contains("path"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let demo = hotspots::demo::run(dir.path(), 1, true).unwrap();
    let text = hotspots::demo::DEMO_CONFIG.replace("paths = [\"police_uk\"]", "paths = [\"nowhere/*.csv\"]");
    let config = Config::from_toml(&text, "demo.toml").unwrap();
    let err = ingest(&config, &demo.data_root, &dir.path().join("x"), &quiet())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("incidents[0].paths[0]") && err.contains("nowhere"),
        "{err}"
    );
}

#[test]
fn malformed_file_names_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let demo = hotspots::demo::run(dir.path(), 1, true).unwrap();
    let f = demo.data_root.join("police_uk/2023-02-demo-street.csv");
    std::fs::write(&f, "Crime ID,Month,Latitude,Crime type\nx,2023-02,51.5,Burglary\n").unwrap();
    let config = Config::load(&demo.config).unwrap();
    let err = ingest(&config, &demo.data_root, &dir.path().join("x"), &quiet())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("2023-02-demo-street.csv") && err.contains("line 1") && err.contains("Longitude"),
        "{err}"
    );
}

#[test]
fn geojson_wards_ingest_like_the_shapefile() {
    use hotspots::analysis::layer::{Feature, Layer};
    let dir = tempfile::tempdir().unwrap();
    let demo = hotspots::demo::run(dir.path(), 5, true).unwrap();
    // Write the demo's wards as RFC 7946 GeoJSON (WGS84) from the dataset.
    let ds = Dataset::open(&demo.dataset).unwrap();
    let polys =
        hotspots::dataset::polygons_from_wkb(&ds.wards, hotspots::dataset::schema::areas::GEOMETRY, &demo.dataset)
            .unwrap();
    let col = |name: &str| -> Vec<String> {
        ds.wards
            .column(name)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.unwrap_or("").to_string())
            .collect()
    };
    let (codes, names, boroughs) = (col("code"), col("name"), col("borough_code"));
    let features = polys
        .into_iter()
        .enumerate()
        .map(|(i, p)| Feature {
            id: codes[i].clone(),
            geometry: geo::Geometry::MultiPolygon(p),
            properties: serde_json::Map::from_iter([
                ("GSS_CODE".to_string(), serde_json::Value::from(codes[i].clone())),
                ("NAME".to_string(), serde_json::Value::from(names[i].clone())),
                ("LB_GSS_CD".to_string(), serde_json::Value::from(boroughs[i].clone())),
            ]),
        })
        .collect();
    let layer = Layer {
        name: "wards".into(),
        features,
        metadata: serde_json::json!({}),
    };
    std::fs::write(demo.data_root.join("boundaries/wards.geojson"), layer.to_geojson()).unwrap();
    let text = hotspots::demo::DEMO_CONFIG
        .replace("boundaries/Demo_Ward.shp", "boundaries/wards.geojson")
        .replace("parent_name_field = \"BOROUGH\"\n", "");
    let config = Config::from_toml(&text, "geojson.toml").unwrap();
    let m = ingest(
        &config,
        &demo.data_root,
        &dir.path().join("gj"),
        &IngestOptions {
            quiet: true,
            force: true,
            ..Default::default()
        },
    )
    .unwrap();
    let gj = Dataset::open(&dir.path().join("gj")).unwrap();
    assert_eq!(gj.wards.height(), 64);
    // Same incidents accepted, up to points within ~0.1 m (6-decimal rounding) of the city edge.
    let (a, b) = (m.totals.rows_accepted as f64, demo.manifest.totals.rows_accepted as f64);
    assert!((a - b).abs() <= 0.001 * b, "{a} vs {b}");
}

/// A reused file whose row becomes a duplicate of a new, earlier file's row
/// is rejected with its raw row (found by parsing the reused file again), as
/// a full re-parse would.
#[test]
fn reused_file_rows_can_become_cross_file_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let demo = hotspots::demo::run(dir.path(), 5, true).unwrap();
    let root = dir.path().join("root");
    copy_dir(&demo.data_root, &root);
    let config = Config::load(&demo.config).unwrap();
    let out = dir.path().join("ds");
    ingest(&config, &root, &out, &quiet()).unwrap();
    // A new file that sorts first and repeats the first crime of 2023-01.
    let jan = std::fs::read_to_string(root.join("police_uk/2023-01-demo-street.csv")).unwrap();
    let mut lines = jan.lines();
    let header = lines.next().unwrap();
    let first = lines.find(|l| !l.starts_with(',')).unwrap();
    let id = first.split(',').next().unwrap().to_string();
    std::fs::write(
        root.join("police_uk/2022-12-demo-street.csv"),
        format!("{header}\n{first}\n"),
    )
    .unwrap();
    let second = ingest(&config, &root, &out, &quiet()).unwrap();
    let jan_record = second.sources[0]
        .files
        .iter()
        .find(|f| f.path.ends_with("2023-01-demo-street.csv"))
        .unwrap();
    assert!(jan_record.reused, "the unchanged file is taken from the cache");
    assert_eq!(
        jan_record.rows_accepted + jan_record.rows_rejected,
        jan_record.rows_read
    );
    let full_dir = dir.path().join("full");
    let full = ingest(
        &config,
        &root,
        &full_dir,
        &IngestOptions {
            quiet: true,
            force: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(second.totals, full.totals);
    let a = Dataset::open(&out).unwrap();
    let b = Dataset::open(&full_dir).unwrap();
    assert!(a.incidents.equals_missing(&b.incidents));
    let (ra, rb) = (a.rejects().unwrap(), b.rejects().unwrap());
    assert!(ra.equals_missing(&rb), "same rejects, raw rows included");
    let raw = ra.column("raw").unwrap().str().unwrap();
    let detail = ra.column("detail").unwrap().str().unwrap();
    let dup = (0..ra.height())
        .find(|&i| detail.get(i).unwrap_or("").contains(&id))
        .expect("the repeated crime is rejected");
    assert_eq!(raw.get(dup), Some(first), "kept verbatim");
}
