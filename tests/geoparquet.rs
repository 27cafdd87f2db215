//! The dataset's tables are GeoParquet 1.1 that other tools read as
//! geometries: GeoPandas `read_parquet` and DuckDB's spatial extension
//! (tests/reference/geoparquet_read.py, versions pinned in
//! tests/reference/requirements.txt) each see the right count of rows,
//! geometries in the right CRS, and the coordinates hotspots wrote.

use crate::common;
use serde_json::Value;

/// The real Met burglary dataset (with schools and stations), read by both readers.
#[test]
fn geopandas_and_duckdb_read_every_geometry_table_in_its_crs() {
    let Some(ds) = common::burglary_dataset("geopandas_and_duckdb_read_every_geometry_table_in_its_crs") else {
        return;
    };
    let Some(python) = common::reference_python("geopandas_and_duckdb_read_every_geometry_table_in_its_crs") else {
        return;
    };
    let out = std::process::Command::new(python)
        .arg(common::repo().join("tests/reference/geoparquet_read.py"))
        .arg(&ds)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    let opened = hotspots::dataset::Dataset::open(&ds).unwrap();
    for (table, rows, types) in [
        ("wards", opened.wards.height(), &["MultiPolygon"][..]),
        ("boroughs", opened.boroughs.height(), &["MultiPolygon"]),
        ("schools", opened.schools.height(), &["Point"]),
        ("stations", opened.stations.height(), &["Point"]),
        ("incidents", opened.incidents.height(), &["Point"]),
    ] {
        let s = &seen[table];
        assert!(rows > 0, "{table} is empty in the City dataset");
        // The file's own metadata.
        let geo = &s["geo"];
        assert_eq!(geo["version"], "1.1.0", "{table}");
        assert_eq!(geo["primary_column"], "geometry", "{table}");
        assert_eq!(geo["columns"]["geometry"]["crs"]["id"]["code"], "CRS84", "{table}");
        assert_eq!(
            geo["columns"]["geometry_bng_wkb"]["crs"]["id"]["code"], 27700,
            "{table}"
        );
        // GeoPandas.
        let g = &s["geopandas"];
        assert_eq!(g["rows"], rows, "{table}: GeoPandas rows");
        assert_eq!(g["active_geometry"], "geometry", "{table}");
        assert_eq!(
            g["geometry_columns"],
            serde_json::json!(["geometry", "geometry_bng_wkb"]),
            "{table}"
        );
        assert_eq!(g["crs"]["geometry"], "OGC:CRS84", "{table}");
        assert_eq!(g["crs"]["geometry_bng_wkb"], "EPSG:27700", "{table}");
        let got: Vec<String> = serde_json::from_value(g["types"].clone()).unwrap();
        assert_eq!(got, types, "{table}: geometry types");
        // Bounds: GeoPandas' equal the metadata's, and lie around London
        // (stations reach out to Reading), lon/lat and easting/northing in
        // their places: a swapped axis or a CRS mix-up would fail here.
        assert_eq!(g["total_bounds"], geo["columns"]["geometry"]["bbox"], "{table}");
        assert_eq!(
            g["bng_total_bounds"], geo["columns"]["geometry_bng_wkb"]["bbox"],
            "{table}"
        );
        let b: [f64; 4] = serde_json::from_value(g["total_bounds"].clone()).unwrap();
        assert!(
            b[0] > -1.5 && b[2] < 1.0 && b[1] > 51.0 && b[3] < 52.0,
            "{table}: {b:?}"
        );
        let b: [f64; 4] = serde_json::from_value(g["bng_total_bounds"].clone()).unwrap();
        assert!(
            b[0] > 400e3 && b[2] < 650e3 && b[1] > 100e3 && b[3] < 260e3,
            "{table}: {b:?}"
        );
        // The two columns are one shape in two CRSs (PROJ's Helmert path
        // is good to metres: 1e-4 degrees is about 10 m).
        let d = g["bng_to_wgs84_max_distance_deg"].as_f64().unwrap();
        assert!(d < 1e-4, "{table}: a BNG geometry lies {d} degrees from its WGS84 one");
        if let Some(e) = g["bng_area_max_rel_err"].as_f64() {
            assert!(e < 1e-9, "{table}: area_km2 against the BNG polygons' area: {e}");
        }
        // Points are the lon/lat and easting/northing columns, exactly.
        for k in [
            "max_abs_x_minus_lon",
            "max_abs_y_minus_lat",
            "max_abs_x_minus_easting",
            "max_abs_y_minus_northing",
        ] {
            if let Some(v) = g[k].as_f64() {
                assert_eq!(v, 0.0, "{table}: {k}");
            }
        }
        // GeoPandas filters by the covering bbox column as by the shapes' boxes.
        assert_eq!(g["bbox_query_rows"], g["bbox_query_rows_by_bounds"], "{table}: {g}");
        assert!(g["bbox_query_rows"].as_u64().unwrap() >= 1, "{table}");
        // DuckDB.
        let d = &s["duckdb"];
        assert_eq!(d["rows"], rows, "{table}: DuckDB rows");
        // DuckDB 1.5 carries the CRS in the column type.
        assert_eq!(d["types"]["geometry"], "GEOMETRY('OGC:CRS84')", "{table}");
        assert_eq!(d["types"]["geometry_bng_wkb"], "GEOMETRY('EPSG:27700')", "{table}");
        assert_eq!(
            d["total_bounds"], g["total_bounds"],
            "{table}: DuckDB and GeoPandas bounds"
        );
        assert_eq!(d["bng_total_bounds"], g["bng_total_bounds"], "{table}");
        assert_eq!(d["bbox_mismatches"], 0, "{table}: bbox rows unlike their geometry");
        if let Some(e) = d["bng_area_max_rel_err"].as_f64() {
            assert!(e < 1e-9, "{table}: DuckDB's ST_Area against area_km2: {e}");
        }
    }
    // hotspots' own reader sees the attribute columns only.
    assert!(opened.incidents.column("geometry").is_err());
    assert_eq!(
        opened.incidents.width(),
        hotspots::dataset::schema::incidents_schema().len()
    );
}
