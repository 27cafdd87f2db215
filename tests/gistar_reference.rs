//! Gi* against independent computations: PySAL esda on the real Met
//! burglary grid (binary weights), the general Ord & Getis formula in numpy
//! (inverse distance), and the planted hotspots of the demo city.

use crate::common;

use std::collections::HashMap;
use std::process::Command;

use hotspots::analysis::hotspot::{gi_star, HotspotRequest, WeightKind};
use hotspots::dataset::Dataset;

/// Writes the engine's cells and counts, runs the reference script (`mode`:
/// "" for esda Gi*, "--inverse-distance", "--lisa"), returns its values in
/// grid order.
fn reference_values(
    python: &std::path::Path,
    result: &hotspots::analysis::hotspot::Hotspots,
    band: f64,
    mode: &str,
) -> Vec<f64> {
    let dir = tempfile::tempdir().unwrap();
    let cells = dir.path().join("cells.csv");
    let mut text = String::from("cell_id,x_m,y_m,count\n");
    for (i, c) in result.units.grid().unwrap().cells.iter().enumerate() {
        text.push_str(&format!(
            "{},{:?},{:?},{:?}\n",
            result.units.grid().unwrap().id(i),
            c.centre[0],
            c.centre[1],
            result.count[i]
        ));
    }
    std::fs::write(&cells, text).unwrap();
    let out = dir.path().join("ref.csv");
    let mut cmd = Command::new(python);
    cmd.arg(common::repo().join("tests/reference/gistar_esda.py"))
        .arg("--cells")
        .arg(&cells)
        .arg("--band")
        .arg(band.to_string())
        .arg("--out")
        .arg(&out);
    if !mode.is_empty() {
        cmd.arg(mode);
    }
    let status = cmd.status().unwrap();
    assert!(status.success(), "reference script failed");
    let theirs: HashMap<String, f64> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let (id, z) = l.split_once(',').unwrap();
            (id.to_string(), z.parse::<f64>().unwrap())
        })
        .collect();
    assert_eq!(theirs.len(), result.units.grid().unwrap().cells.len());
    (0..result.units.grid().unwrap().cells.len())
        .map(|i| theirs[&result.units.grid().unwrap().id(i)])
        .collect()
}

#[test]
fn gi_star_matches_esda_on_real_burglary_grid() {
    let Some(ds_dir) = common::burglary_dataset("gi_star_matches_esda") else {
        return;
    };
    let Some(python) = common::reference_python("gi_star_matches_esda") else {
        return;
    };
    let ds = Dataset::open(&ds_dir).unwrap();
    let req = HotspotRequest {
        cell_m: Some(250.0),
        band_m: Some(750.0),
        ..Default::default()
    };
    let result = gi_star(&ds, &req).unwrap();
    assert!(
        (24_000..27_000).contains(&result.units.grid().unwrap().cells.len()),
        "≈25,500 cells: {}",
        result.units.grid().unwrap().cells.len()
    );
    let pairs: Vec<(f64, f64)> = result
        .z
        .iter()
        .copied()
        .zip(reference_values(&python, &result, 750.0, ""))
        .collect();
    // Tolerance 1e-9 (absolute, on z): the two sum the same floats in different orders.
    let worst = pairs.iter().map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-9, "max |z_ours - z_esda| = {worst:e}");
    eprintln!("esda binary: {} cells, max |dz| = {worst:e}", pairs.len());

    // Inverse distance against the general formula computed independently in numpy.
    let req = HotspotRequest {
        weights: WeightKind::InverseDistance,
        ..req
    };
    let result = gi_star(&ds, &req).unwrap();
    let pairs: Vec<(f64, f64)> = result
        .z
        .iter()
        .copied()
        .zip(reference_values(&python, &result, 750.0, "--inverse-distance"))
        .collect();
    let worst = pairs.iter().map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-9, "inverse distance: max |dz| = {worst:e}");
    eprintln!("general formula, 1/d: {} cells, max |dz| = {worst:e}", pairs.len());

    // Local Moran's I against esda's Moran_Local (row-standardised binary band).
    let req = HotspotRequest {
        weights: WeightKind::Binary,
        ..req
    };
    let result = gi_star(&ds, &req).unwrap();
    let lisa = hotspots::analysis::lisa::local_morans_i(&result.count, &result.weights, 0, 1);
    let pairs: Vec<(f64, f64)> = lisa
        .i
        .iter()
        .copied()
        .zip(reference_values(&python, &result, 750.0, "--lisa"))
        .collect();
    let worst = pairs.iter().map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-9, "LISA: max |dI| = {worst:e}");
    eprintln!("esda Moran_Local: {} cells, max |dI| = {worst:e}", pairs.len());
}

#[test]
fn demo_planted_hotspots_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let demo = hotspots::demo::run(dir.path(), 42, true).unwrap();
    let ds = Dataset::open(&demo.dataset).unwrap();
    let req = HotspotRequest {
        cell_m: Some(250.0),
        band_m: Some(500.0),
        ..Default::default()
    };
    let result = gi_star(&ds, &req).unwrap();
    // Planted cells: the cell holding each planted centre, and any whose
    // centre is within 1.5 sigma of it.
    let mut planted = 0;
    let mut found = 0;
    // Over all 24 months; the hotspot planted in the final month only is the
    // emerging test's business, not this one's.
    for h in demo
        .ground_truth
        .hotspots
        .iter()
        .filter(|h| h.start_month != demo.ground_truth.last_month)
    {
        for (i, c) in result.units.grid().unwrap().cells.iter().enumerate() {
            let d = ((c.centre[0] - h.easting_m).powi(2) + (c.centre[1] - h.northing_m).powi(2)).sqrt();
            if d <= 1.5 * h.sigma_m || result.units.grid().unwrap().cell_of(h.easting_m, h.northing_m) == Some(i as u32)
            {
                planted += 1;
                if result.significant[i] && result.z[i] > 0.0 {
                    found += 1;
                }
            }
        }
    }
    let recall = found as f64 / planted as f64;
    eprintln!("demo recall: {found} of {planted} planted cells significant");
    assert!(planted >= 7, "{planted}");
    assert!(recall >= 0.9, "recall {recall} ({found} of {planted}) at FDR 0.05");
    // And few false alarms far from every planted hotspot (beyond 1 km).
    let far_hot = result
        .units
        .grid()
        .unwrap()
        .cells
        .iter()
        .enumerate()
        .filter(|(i, c)| {
            result.significant[*i]
                && result.z[*i] > 0.0
                && demo.ground_truth.hotspots.iter().all(|h| {
                    ((c.centre[0] - h.easting_m).powi(2) + (c.centre[1] - h.northing_m).powi(2)).sqrt() > 1_000.0
                })
        })
        .count();
    assert!(
        far_hot as f64 <= 0.02 * result.units.grid().unwrap().cells.len() as f64,
        "{far_hot} significant cells far from any planted hotspot"
    );
}

#[test]
fn demo_emerging_hotspots_are_classed_as_growing() {
    use hotspots::analysis::emerging::{emerging, Category, EmergingRequest};
    let dir = tempfile::tempdir().unwrap();
    let demo = hotspots::demo::run(dir.path(), 42, true).unwrap();
    let ds = Dataset::open(&demo.dataset).unwrap();
    let result = emerging(
        &ds,
        &EmergingRequest {
            band_m: 500.0,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(result.months.len(), 24);
    for h in demo.ground_truth.hotspots.iter().filter(|h| h.kind == "emerging") {
        let cell = result.grid.cell_of(h.easting_m, h.northing_m).unwrap() as usize;
        let c = result.category[cell];
        assert!(
            matches!(
                c,
                Category::IntensifyingHotSpot | Category::NewHotSpot | Category::ConsecutiveHotSpot
            ),
            "{} ({}): {c:?}",
            h.id,
            h.start_month
        );
        if h.start_month == demo.ground_truth.last_month {
            assert_eq!(c, Category::NewHotSpot, "{}", h.id);
        } else {
            assert_eq!(c, Category::IntensifyingHotSpot, "{}", h.id);
        }
    }
    // Static planted hotspots are persistent.
    for h in demo.ground_truth.hotspots.iter().filter(|h| h.kind == "static") {
        let cell = result.grid.cell_of(h.easting_m, h.northing_m).unwrap() as usize;
        assert!(
            matches!(
                result.category[cell],
                Category::PersistentHotSpot | Category::IntensifyingHotSpot | Category::DiminishingHotSpot
            ),
            "{}: {:?}",
            h.id,
            result.category[cell]
        );
    }
}

#[test]
fn ward_units_with_queen_contiguity() {
    use hotspots::analysis::units::UnitKind;
    let dir = tempfile::tempdir().unwrap();
    let demo = hotspots::demo::run(dir.path(), 42, true).unwrap();
    let ds = Dataset::open(&demo.dataset).unwrap();
    let req = HotspotRequest {
        grid: UnitKind::Ward,
        weights: WeightKind::Queen,
        ..Default::default()
    };
    let result = gi_star(&ds, &req).unwrap();
    assert_eq!(result.units.len(), 64);
    // An 8 x 8 block of wards: corner wards have 3 queen neighbours, interior ones 8.
    let counts: Vec<usize> = (0..64).map(|i| result.weights.neighbour_count(i)).collect();
    assert_eq!(counts.iter().filter(|c| **c == 3).count(), 4, "{counts:?}");
    assert_eq!(counts.iter().filter(|c| **c == 8).count(), 36, "{counts:?}");
    // Counts per ward add up to every incident (all are in a ward).
    assert_eq!(result.count.iter().sum::<f64>() as usize, result.incidents);
    let rook = gi_star(
        &ds,
        &HotspotRequest {
            weights: WeightKind::Rook,
            ..req.clone()
        },
    )
    .unwrap();
    assert!((0..64).all(|i| rook.weights.neighbour_count(i) <= 4));
    // Contiguity on a grid is refused with the parameter named.
    let err = gi_star(
        &ds,
        &HotspotRequest {
            grid: UnitKind::Square,
            ..req
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("weights"), "{err}");
}

#[test]
fn h3_units_with_k_ring_weights() {
    use hotspots::analysis::units::{UnitKind, Units};
    let dir = tempfile::tempdir().unwrap();
    let demo = hotspots::demo::run(dir.path(), 42, true).unwrap();
    let ds = Dataset::open(&demo.dataset).unwrap();
    let req = HotspotRequest {
        grid: UnitKind::H3,
        h3_resolution: 9,
        weights: WeightKind::KRing,
        k: 1,
        ..Default::default()
    };
    let result = gi_star(&ds, &req).unwrap();
    let Units::H3(h3) = &result.units else {
        panic!("H3 units")
    };
    // 144 km² / ~0.105 km² per resolution-9 cell ≈ 1,370 cells.
    assert!((1_200..1_600).contains(&h3.cells.len()), "{}", h3.cells.len());
    let six = (0..h3.cells.len())
        .filter(|&i| result.weights.neighbour_count(i) == 6)
        .count();
    assert!(
        six as f64 > 0.85 * h3.cells.len() as f64,
        "interior cells have 6 neighbours: {six}"
    );
    assert!(
        result.units.id(0).len() == 15 && result.units.id(0).starts_with("89"),
        "{}",
        result.units.id(0)
    );
    // The static planted hotspots come out hot.
    for h in demo.ground_truth.hotspots.iter().filter(|h| h.kind == "static") {
        let cell = h3.unit_of(h.lon, h.lat).unwrap() as usize;
        assert!(result.bin_fdr[cell] > 0, "{} not hot in H3", h.id);
    }
}

#[test]
fn harm_weights_sum_the_days_of_each_crime() {
    let dir = tempfile::tempdir().unwrap();
    let demo = hotspots::demo::run(dir.path(), 42, true).unwrap();
    let ds = Dataset::open(&demo.dataset).unwrap();
    let table =
        hotspots::analysis::harm::HarmTable::parse("crime_type,harm_days\nBurglary,10\nrobbery,20\n", "t.csv").unwrap();
    let req = HotspotRequest {
        cell_m: Some(250.0),
        band_m: Some(750.0),
        harm: Some(table),
        ..Default::default()
    };
    let result = gi_star(&ds, &req).unwrap();
    let types = ds.incidents.column("crime_type").unwrap().str().unwrap().clone();
    let expected: f64 = types
        .iter()
        .map(|t| match t {
            Some("Burglary") => 10.0,
            Some("Robbery") => 20.0,
            _ => 0.0,
        })
        .sum();
    let total: f64 = result.count.iter().sum();
    assert_eq!(total, expected, "every incident is in a cell of the demo city");
    assert_eq!(result.incidents_per_unit.iter().sum::<f64>() as usize, result.incidents);
    // Gi* is computed on the harm values.
    let z = hotspots::analysis::gi_star::z_scores(&result.count, &result.weights, 1.0);
    assert_eq!(z, result.z);
}

#[test]
fn cell_counts_match_a_pyproj_binning_up_to_the_projection() {
    let Some(ds_dir) = common::burglary_dataset("cell_counts_match_pyproj") else {
        return;
    };
    let Some(python) = common::reference_python("cell_counts_match_pyproj") else {
        return;
    };
    let ds = Dataset::open(&ds_dir).unwrap();
    let result = gi_star(
        &ds,
        &HotspotRequest {
            cell_m: Some(250.0),
            band_m: Some(750.0),
            ..Default::default()
        },
    )
    .unwrap();
    let grid = result.units.grid().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pts = dir.path().join("points.csv");
    let col = |c: &str| ds.incidents.column(c).unwrap().f64().unwrap().clone();
    let (lon, lat, e, n) = (col("lon"), col("lat"), col("easting_m"), col("northing_m"));
    let mut text = String::from("lon,lat,easting_m,northing_m\n");
    for i in 0..ds.incidents.height() {
        text.push_str(&format!(
            "{:?},{:?},{:?},{:?}\n",
            lon.get(i).unwrap(),
            lat.get(i).unwrap(),
            e.get(i).unwrap(),
            n.get(i).unwrap()
        ));
    }
    std::fs::write(&pts, text).unwrap();
    let out = dir.path().join("r.json");
    let status = Command::new(&python)
        .arg(common::repo().join("tests/reference/bin_counts.py"))
        .args([
            "--points",
            pts.to_str().unwrap(),
            "--cell",
            "250",
            "--out",
            out.to_str().unwrap(),
        ])
        .args(["--x0", &grid.origin[0].to_string(), "--y0", &grid.origin[1].to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    eprintln!("pyproj binning vs ours: {r}");
    let points = r["points"].as_f64().unwrap();
    let moved = r["points_binned_differently"].as_f64().unwrap();
    // Every point that changed cell did so because PROJ's ~2 m Helmert and
    // OSTN15 put it on either side of a cell edge: its shift is a few metres.
    assert!(r["max_shift_of_moved_points_m"].as_f64().unwrap() < 5.0, "{r}");
    assert!(r["max_shift_m"].as_f64().unwrap() < 5.0, "{r}");
    // A 2-3 m shift moves points within that distance of an edge: ~4 % at most on a 250 m lattice.
    assert!(moved / points < 0.04, "{r}");
}

#[test]
fn dual_kde_relative_risk() {
    use hotspots::analysis::kde::{kde, KdeRequest};
    use hotspots::analysis::select::Selection;
    let dir = tempfile::tempdir().unwrap();
    let demo = hotspots::demo::run(dir.path(), 42, true).unwrap();
    let ds = Dataset::open(&demo.dataset).unwrap();
    // Against itself the relative risk is 1 wherever there is density.
    let same = kde(
        &ds,
        &KdeRequest {
            cell_m: 200.0,
            bandwidth_m: Some(500.0),
            baseline: Some(Selection::default()),
            ..Default::default()
        },
    )
    .unwrap();
    let rr = same.relative_risk().unwrap();
    assert!(rr.iter().filter(|v| v.is_finite()).all(|v| (v - 1.0).abs() < 1e-12));
    // Burglary against all crime: shares sum the same way, so the
    // density-weighted mean of RR over the baseline is 1 (up to edge loss).
    let burglary = Selection {
        crime_types: vec!["Burglary".into()],
        ..Default::default()
    };
    let r = kde(
        &ds,
        &KdeRequest {
            selection: burglary,
            cell_m: 200.0,
            bandwidth_m: Some(500.0),
            baseline: Some(Selection::default()),
        },
    )
    .unwrap();
    let (b, _) = r.baseline.as_ref().unwrap();
    let rr = r.relative_risk().unwrap();
    let (num, den) = b
        .iter()
        .zip(&rr)
        .filter(|(_, v)| v.is_finite())
        .fold((0.0, 0.0), |(n, d), (g, v)| (n + g * v, d + g));
    assert!((num / den - 1.0).abs() < 0.02, "{}", num / den);
}
