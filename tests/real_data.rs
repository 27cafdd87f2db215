//! Ingest of the real London data in `HOTSPOTS_DATA` (see data/README.md).

use crate::common;

use std::collections::BTreeMap;

use geo::{coordinate_position::CoordPos, CoordinatePosition};
use hotspots::config::{BoundaryLayer, Config};
use hotspots::dataset::{read_manifest, Dataset};
use hotspots::progress::Progress;
use polars::prelude::*;

fn layer(path: &str) -> BoundaryLayer {
    BoundaryLayer {
        path: format!("london_boundaries/statistical-gis-boundaries-london/ESRI/{path}"),
        crs: None,
        code_field: "GSS_CODE".into(),
        name_field: "NAME".into(),
        parent_code_field: None,
        parent_name_field: None,
    }
}

#[test]
fn ward_and_borough_counts() {
    let Some(root) = common::real_data("ward_and_borough_counts") else {
        return;
    };
    let wards = hotspots::ingest::boundaries::read_layer(&layer("London_Ward.shp"), &root).unwrap();
    let merged = hotspots::ingest::boundaries::read_layer(&layer("London_Ward_CityMerged.shp"), &root).unwrap();
    let boroughs = hotspots::ingest::boundaries::read_layer(&layer("London_Borough_Excluding_MHW.shp"), &root).unwrap();
    assert_eq!(wards.len(), 649);
    assert_eq!(merged.len(), 625);
    assert_eq!(boroughs.len(), 33);
    // Total ward area 1,594.7 km² (SOURCES.md, from shapely).
    let total: f64 = wards.iter().map(|w| w.area_km2()).sum();
    assert!((total - 1594.7).abs() < 0.1, "ward area {total}");
    // WGS84 copies land in London.
    for w in &wards {
        let c = w.geometry_wgs84.0[0].exterior().0[0];
        assert!(
            (-0.6..0.4).contains(&c.x) && (51.2..51.8).contains(&c.y),
            "{} at {c:?}",
            w.code
        );
    }
}

fn counts(df: &DataFrame, col: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for v in df.column(col).unwrap().str().unwrap().iter() {
        *out.entry(v.unwrap_or("").to_string()).or_insert(0) += 1;
    }
    out
}

/// One full ingest of every London source (the slow part), then every check on it.
#[test]
fn london_ingest_keeps_every_row_and_locates_them_right() {
    let Some(root) = common::real_data("london_ingest") else {
        return;
    };
    let config = Config::load(&common::repo().join("data/london.toml")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let ds_dir = out.path().join("london");
    let (started, clock) = (std::time::SystemTime::now(), std::time::Instant::now());
    let manifest = hotspots::ingest::ingest(
        &config,
        &root,
        &ds_dir,
        &hotspots::ingest::IngestOptions {
            quiet: true,
            force: true,
            ..Default::default()
        },
    )
    .unwrap();
    let wall = clock.elapsed().as_secs_f64();

    // The manifest on disk is the one returned, and its build time is the
    // whole ingest: at least until the last incident row was written, at
    // most the call's wall time.
    // Compared as text: serde_json's default float parsing can land one ULP
    // off (build_seconds 15.834006413 read back unequal once), so a parsed
    // manifest is not a fair test of what was written.
    assert_eq!(
        std::fs::read_to_string(ds_dir.join("manifest.json")).unwrap(),
        serde_json::to_string_pretty(&manifest).unwrap()
    );
    let back = read_manifest(&ds_dir).unwrap();
    assert!((back.build_seconds - manifest.build_seconds).abs() <= 1e-12 * manifest.build_seconds);
    assert_eq!(back.totals, manifest.totals);
    assert_eq!(back.sources, manifest.sources);
    let written = std::fs::metadata(ds_dir.join("incidents.parquet"))
        .and_then(|m| m.modified())
        .unwrap();
    let until_written = written.duration_since(started).unwrap().as_secs_f64();
    // The ingest's own clock starts a little after `started` (the call's
    // set-up), and file times come from the kernel's coarse clock: 50 ms
    // of slack below (a run saw the file 0.6 ms "after" the build time).
    assert!(
        until_written <= manifest.build_seconds + 0.05 && manifest.build_seconds <= wall,
        "build_seconds {} outside [{until_written}, {wall}]",
        manifest.build_seconds
    );

    // read = accepted + rejected, for every file.
    for s in &manifest.sources {
        for f in &s.files {
            assert_eq!(f.rows_read, f.rows_accepted + f.rows_rejected, "{}", f.path);
            let by_reason: u64 = f.rejected_by_reason.values().sum();
            assert_eq!(by_reason, f.rows_rejected, "{}", f.path);
            assert_eq!(f.sha256.len(), 64);
        }
    }
    let source = |name: &str| manifest.sources.iter().find(|s| s.name == name).unwrap();
    let sum = |name: &str, f: fn(&hotspots::dataset::manifest::FileRecord) -> u64| {
        source(name).files.iter().map(f).sum::<u64>()
    };
    let reason = |name: &str, r: &str| {
        source(name)
            .files
            .iter()
            .map(|f| f.rejected_by_reason.get(r).copied().unwrap_or(0))
            .sum::<u64>()
    };

    // Met burglary: all 135 files, 743,520 rows; the 6,703 blank-coordinate
    // rows and the points outside London kept as rejects (SOURCES.md A1).
    assert_eq!(source("met_burglary").files.len(), 135);
    assert_eq!(sum("met_burglary", |f| f.rows_read), 743_520);
    assert_eq!(reason("met_burglary", "missing_coordinates"), 6_703);
    let outside = reason("met_burglary", "outside_study_area");
    assert!(
        (400..=533).contains(&outside),
        "533 located points are outside the wards, less those rejected first as repeats: {outside}"
    );
    // Repeated Crime IDs within monthly files (8,187 among located rows, counted independently).
    assert_eq!(reason("met_burglary", "duplicate_id"), 8_187);

    // City of London: 45 files, CRLF, 2,191 blank coordinates; ASB rows with no id are not duplicates.
    assert_eq!(sum("city_of_london", |f| f.rows_read), 28_761);
    assert_eq!(reason("city_of_london", "missing_coordinates"), 2_191);
    // BTP: no ids at all, so no duplicates; about half are outside London.
    assert_eq!(sum("btp", |f| f.rows_read), 24_669);
    assert_eq!(reason("btp", "duplicate_id"), 0);
    assert!(reason("btp", "outside_study_area") > 10_000);
    // API JSON: 813,645 records plus the one 0-byte member; 39,333 repeats by API id.
    assert_eq!(sum("met_api", |f| f.rows_read), 813_645 + 1);
    assert_eq!(reason("met_api", "malformed_json"), 1);
    assert!(
        reason("met_api", "duplicate_id") >= 39_333,
        "edge repeats plus crimes already read from the CSVs"
    );
    // Stop and search: its own kind, 42,956 blank coordinates.
    assert_eq!(sum("met_stop_and_search", |f| f.rows_read), 276_208);
    assert_eq!(reason("met_stop_and_search", "missing_coordinates"), 42_956);

    let ds = Dataset::open(&ds_dir).unwrap();
    assert_eq!(ds.wards.height(), 649);
    assert_eq!(ds.boroughs.height(), 33);
    assert_eq!(ds.schools.height(), 3_493, "3,889 rows, 3,493 distinct URNs");
    assert_eq!(ds.stations.height(), 653);
    assert_eq!(ds.incidents.height() as u64, manifest.totals.rows_accepted);
    let kinds = counts(&ds.incidents, "kind");
    assert!(kinds["stop_and_search"] > 200_000);

    // What "all crime" means (issue 22, item 6), through the parameters the
    // CLI and the API share: crime without anti-social behaviour; ASB only
    // when named; stop and search only as its own kind.
    {
        use hotspots::analysis::params::Values;
        let spec = hotspots::analysis::run::find("poi-risk").unwrap().spec;
        let select = |pairs: &[(&str, &str)]| {
            let given = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
                .collect();
            let s = Values::new(spec, given).unwrap().selection().unwrap();
            let rows = s.rows(&ds).unwrap();
            (rows.len() as u64, s.counted_rows(&ds, &rows))
        };
        let crime = ds.incidents.column("kind").unwrap().str().unwrap().equal("crime");
        let types = counts(&ds.incidents.filter(&crime).unwrap(), "crime_type");
        let asb = types["Anti-social behaviour"];
        assert!(asb > 100_000, "the City and API sources carry ASB: {asb}");
        let (n, counted) = select(&[]);
        assert_eq!(n, kinds["crime"] - asb);
        assert_eq!(counted.kind, "crime");
        assert!(!counted.crime_types.contains_key("Anti-social behaviour"));
        assert_eq!(counted.crime_types.values().sum::<u64>(), n);
        let (n, counted) = select(&[("crime_type", "anti-social-behaviour")]);
        assert_eq!(n, asb);
        assert_eq!(counted.crime_types.len(), 1);
        let (n, counted) = select(&[("kind", "stop_and_search")]);
        assert_eq!(n, kinds["stop_and_search"]);
        assert_eq!(counted.kind, "stop_and_search");
        let (n, _) = select(&[("crime_type", "burglary"), ("kind", "crime")]);
        assert_eq!(n, types["Burglary"]);
    }

    // Every rejected row is kept, verbatim, with its file and line.
    let rejects = ds.rejects().unwrap();
    assert_eq!(
        rejects.height() as u64,
        manifest.totals.rows_rejected + 396,
        "plus the 396 repeated school URNs"
    );
    let raw = rejects.column("raw").unwrap().str().unwrap();
    let blank = raw.iter().filter(|r| r.is_none_or(|s| s.is_empty())).count();
    assert_eq!(blank, 1, "only the 0-byte JSON member has no raw text");

    // Point-in-ward against brute force over all 649 polygons, on a sample.
    let e = ds.incidents.column("easting_m").unwrap().f64().unwrap().clone();
    let n = ds.incidents.column("northing_m").unwrap().f64().unwrap().clone();
    let ward = ds.incidents.column("ward_code").unwrap().str().unwrap().clone();
    let codes: Vec<String> = ds
        .wards
        .column("code")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|c| c.unwrap().to_string())
        .collect();
    let polys = hotspots::dataset::polygons_from_wkb(&ds.wards, "geometry_bng_wkb", &ds_dir).unwrap();
    let step = (ds.incidents.height() / 3_000).max(1);
    let mut checked = 0;
    for i in (0..ds.incidents.height()).step_by(step) {
        let c = geo::Coord {
            x: e.get(i).unwrap(),
            y: n.get(i).unwrap(),
        };
        let brute: Vec<&str> = polys
            .iter()
            .zip(&codes)
            .filter(|(p, _)| p.coordinate_position(&c) != CoordPos::Outside)
            .map(|(_, code)| code.as_str())
            .collect();
        assert!(!brute.is_empty(), "row {i} is in no ward by brute force");
        assert_eq!(ward.get(i).unwrap(), brute[0], "row {i} at {c:?}");
        checked += 1;
    }
    assert!(checked >= 3_000);

    // Nearest school is really the nearest (brute force, on a sample).
    let school_e = ds.schools.column("easting_m").unwrap().f64().unwrap().clone();
    let school_n = ds.schools.column("northing_m").unwrap().f64().unwrap().clone();
    let dist = ds.incidents.column("nearest_school_m").unwrap().f64().unwrap().clone();
    for i in (0..ds.incidents.height()).step_by(step * 10) {
        let (x, y) = (e.get(i).unwrap(), n.get(i).unwrap());
        let best = school_e
            .iter()
            .zip(school_n.iter())
            .map(|(a, b)| ((a.unwrap() - x).powi(2) + (b.unwrap() - y).powi(2)).sqrt())
            .fold(f64::INFINITY, f64::min);
        assert!((best - dist.get(i).unwrap()).abs() < 1e-6, "row {i}");
    }
    let _ = Progress::new(true);
}
