//! The path past one machine, tested end to end on the real City of London
//! data: `hotspots ingest --partition month` writes the incidents as
//! Hive-partitioned GeoParquet; DuckDB counts them per 250 m cell with the
//! repo's SQL (data/duckdb/cell_counts.sql); `hotspots gistar --counts`
//! on those counts gives exactly the layer `hotspots gistar` computes from
//! the incidents itself.

use crate::common;

use serde_json::Value;

fn hotspots(args: &[&str]) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hotspots"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hotspots {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn duckdb_cell_counts_from_hive_partitions_give_the_same_gi_star() {
    let test = "duckdb_cell_counts_from_hive_partitions_give_the_same_gi_star";
    let Some(root) = common::real_data(test) else {
        return;
    };
    let Some(python) = common::reference_python(test) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let ds = tmp.path().join("city");
    let config = common::repo().join("data/city-of-london.toml");
    hotspots(&[
        "ingest",
        "--config",
        config.to_str().unwrap(),
        "--data-root",
        root.to_str().unwrap(),
        "--out",
        ds.to_str().unwrap(),
        "--partition",
        "month",
    ]);
    // One folder per month, the rows of incidents.parquet between them.
    let whole = hotspots::dataset::read_parquet(&ds.join("incidents.parquet")).unwrap();
    let months: std::collections::BTreeSet<String> = whole
        .column("month")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|m| m.unwrap().to_string())
        .collect();
    let mut rows = 0;
    for m in &months {
        let part = hotspots::dataset::read_parquet(&ds.join(format!("incidents/month={m}/part-0.parquet"))).unwrap();
        assert!(part.column("month").is_err(), "the month is in the folder name");
        assert!(part.column("geometry").is_ok());
        rows += part.height();
    }
    assert_eq!(std::fs::read_dir(ds.join("incidents")).unwrap().count(), months.len());
    assert_eq!(rows, whole.height());
    // DuckDB counts the partitions per cell.
    let cells = tmp.path().join("cells.parquet");
    let out = std::process::Command::new(python)
        .arg(common::repo().join("tests/reference/duckdb_cell_counts.py"))
        .arg(ds.join("incidents/*/*.parquet"))
        .arg(common::repo().join("data/duckdb/cell_counts.sql"))
        .arg(&cells)
        .arg("hive")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Gi* from the counts, and from the incidents.
    let (a, b) = (tmp.path().join("a.geojson"), tmp.path().join("b.geojson"));
    let d = ds.to_str().unwrap();
    hotspots(&["gistar", "--dataset", d, "--cell", "250", "--out", a.to_str().unwrap()]);
    hotspots(&[
        "gistar",
        "--dataset",
        d,
        "--cell",
        "250",
        "--counts",
        cells.to_str().unwrap(),
        "--out",
        b.to_str().unwrap(),
    ]);
    let read = |p: &std::path::Path| -> Value { serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap() };
    let (a, b) = (read(&a), read(&b));
    let fa = a["features"].as_array().unwrap();
    assert!(fa.len() > 1000, "{} cells", fa.len());
    assert!(
        fa.iter().any(|f| f["properties"]["gi_bin_fdr"].as_i64().unwrap() == 3),
        "hot cells"
    );
    assert_eq!(
        a["features"], b["features"],
        "every cell, its geometry and statistics, exactly"
    );
    assert_eq!(a["metadata"]["incidents"], b["metadata"]["incidents"]);
    assert_eq!(a["metadata"]["band_m"], b["metadata"]["band_m"]);
    // A cell the grid does not have is an error naming the file and the id.
    let bad = tmp.path().join("bad.parquet");
    let mut df = polars::prelude::df!("cell_id" => ["sq250-0-0"], "count" => [3i64]).unwrap();
    hotspots::dataset::write::write_parquet(&bad, &mut df).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hotspots"))
        .args([
            "gistar",
            "--dataset",
            d,
            "--cell",
            "250",
            "--counts",
            bad.to_str().unwrap(),
            "--out",
        ])
        .arg(tmp.path().join("c.geojson"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.parquet") && err.contains("sq250-0-0"), "{err}");
}
