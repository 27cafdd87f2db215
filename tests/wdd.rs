//! The WDD from the dataset on the real City of London data: every count
//! against a direct count over the incident columns, automatic controls
//! clear of every treated area and ring, polygons in WGS84 and BNG giving
//! the same counts, the counts mode through the binary, errors naming the
//! parameter.

use std::collections::BTreeMap;
use std::process::Command;

use hotspots::analysis::params::Values;
use hotspots::analysis::wdd::WDD;
use hotspots::analysis::wdd_areas::compute;
use serde_json::{json, Value};

use crate::common;

fn values(pairs: &[(&str, String)]) -> Values {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in pairs {
        m.entry(k.to_string()).or_default().push(v.clone());
    }
    Values::new(WDD.spec, m).unwrap()
}

/// Incidents (kind crime, no ASB) within `r` m of `c` (inside) and in the
/// ring out to `r + b`, in the months `a..=z`: straight over the columns.
fn direct(ds: &hotspots::dataset::Dataset, c: [f64; 2], r: f64, b: f64, a: u32, z: u32) -> (f64, f64) {
    let cols = &ds.columns;
    let crime = cols.kinds.iter().position(|k| k == "crime").unwrap() as u8;
    let (mut inside, mut ring) = (0.0, 0.0);
    for i in 0..cols.len() {
        let t = &cols.crime_types[cols.crime_type[i] as usize];
        if cols.kind[i] != crime || t == "Anti-social behaviour" || cols.month[i] < a || cols.month[i] > z {
            continue;
        }
        let d = (cols.easting_m[i] - c[0]).hypot(cols.northing_m[i] - c[1]);
        if d <= r {
            inside += 1.0;
        } else if d <= r + b {
            ring += 1.0;
        }
    }
    (inside, ring)
}

#[test]
fn wdd_from_a_plan_counts_what_a_direct_count_gives() {
    let Some(dir) = common::city_dataset("wdd from a plan") else {
        return;
    };
    let ds = hotspots::dataset::Dataset::open(&dir).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // A plan as `hotspots surge` writes it: two 150 m circles in the City.
    let centres = [[532_300.0, 181_200.0], [533_000.0, 181_400.0]];
    let plan = tmp.path().join("plan.geojson");
    let features: Vec<Value> = centres
        .iter()
        .enumerate()
        .map(|(k, c)| {
            json!({"type": "Feature", "geometry": null,
                   "properties": {"rank": k + 1, "easting_m": c[0], "northing_m": c[1], "radius_m": 150.0}})
        })
        .collect();
    std::fs::write(
        &plan,
        json!({"type": "FeatureCollection", "features": features}).to_string(),
    )
    .unwrap();
    let v = values(&[
        ("plan", plan.display().to_string()),
        ("buffer", "200".into()),
        ("pre", "2019-01..2019-06".into()),
        ("post", "2019-07..2019-12".into()),
    ]);
    let r = compute(&ds, &v).unwrap();
    let m = |s: &str| hotspots::month::parse(s).unwrap();
    assert_eq!(r.areas.len(), 2);
    let mut pooled_pre = 0.0;
    for (a, c) in r.areas.iter().zip(centres) {
        let (pre_in, pre_ring) = direct(&ds, c, 150.0, 200.0, m("2019-01"), m("2019-06"));
        let (post_in, post_ring) = direct(&ds, c, 150.0, 200.0, m("2019-07"), m("2019-12"));
        assert_eq!((a.treated.inside.pre, a.treated.inside.post), (pre_in, post_in));
        assert_eq!((a.treated.ring.pre, a.treated.ring.post), (pre_ring, post_ring));
        let cc = [a.control_easting_m, a.control_northing_m];
        let (cpre, cring_pre) = direct(&ds, cc, 150.0, 200.0, m("2019-01"), m("2019-06"));
        assert_eq!((a.control.inside.pre, a.control.ring.pre), (cpre, cring_pre));
        // Controls clear of every treated circle and ring (and of each other).
        for t in centres {
            assert!(
                (cc[0] - t[0]).hypot(cc[1] - t[1]) > 2.0 * (150.0 + 200.0),
                "{cc:?} near {t:?}"
            );
        }
        // The WDD is the published formula on these counts (equal periods).
        let w = &a.result;
        let local = (post_in - pre_in) - (a.control.inside.post - a.control.inside.pre);
        assert_eq!(w.local.estimate, local);
        pooled_pre += pre_in;
    }
    let (c1, c2) = (
        [r.areas[0].control_easting_m, r.areas[0].control_northing_m],
        [r.areas[1].control_easting_m, r.areas[1].control_northing_m],
    );
    assert!((c1[0] - c2[0]).hypot(c1[1] - c2[1]) > 700.0);
    assert_eq!(r.pooled.counts.treated.pre, pooled_pre);
    assert!(r.controls.starts_with("for each treated area"));
    assert!(r.pooled.sentence.contains("the 200 m rings"), "{}", r.pooled.sentence);

    // The same first circle as a polygon, in WGS84 and in BNG (64-gon
    // inscribed: the counts agree with each other exactly).
    let ring_bng: Vec<[f64; 2]> = (0..=64)
        .map(|k| {
            let t = std::f64::consts::TAU * (k % 64) as f64 / 64.0;
            [centres[0][0] + 150.0 * t.cos(), centres[0][1] + 150.0 * t.sin()]
        })
        .collect();
    let ring_wgs: Vec<[f64; 2]> = ring_bng
        .iter()
        .map(|p| {
            let (lon, lat) = hotspots::crs::bng_to_lonlat(p[0], p[1]).unwrap();
            [lon, lat]
        })
        .collect();
    let poly = |coords: &Vec<[f64; 2]>, crs: Option<&str>| {
        let mut doc = json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [coords]}}]});
        if let Some(c) = crs {
            doc["crs"] = json!({"type": "name", "properties": {"name": c}});
        }
        doc.to_string()
    };
    let (wgs, bng) = (tmp.path().join("wgs.geojson"), tmp.path().join("bng.geojson"));
    std::fs::write(&wgs, poly(&ring_wgs, None)).unwrap();
    std::fs::write(&bng, poly(&ring_bng, Some("urn:ogc:def:crs:EPSG::27700"))).unwrap();
    let run = |path: &std::path::Path| {
        compute(
            &ds,
            &values(&[
                ("treated_areas", path.display().to_string()),
                ("control_areas", bng.display().to_string()),
                ("buffer", "200".into()),
                ("pre", "2019-01..2019-06".into()),
                ("post", "2019-07..2019-12".into()),
            ]),
        )
        .unwrap()
    };
    let (a, b) = (run(&wgs), run(&bng));
    assert_eq!(a.areas[0].treated.inside.pre, b.areas[0].treated.inside.pre);
    assert_eq!(a.areas[0].treated.ring.post, b.areas[0].treated.ring.post);
    // An inscribed 64-gon holds at most the circle's incidents.
    assert!(b.areas[0].treated.inside.pre <= r.areas[0].treated.inside.pre);
    assert!(b.areas[0].treated.inside.pre >= 0.9 * r.areas[0].treated.inside.pre);

    // Errors name the parameter.
    for (pairs, name) in [
        (
            vec![
                ("plan", plan.display().to_string()),
                ("pre", "2016-01..2016-06".into()),
                ("post", "2019-07..2019-12".into()),
            ],
            "pre",
        ),
        (
            vec![
                ("plan", plan.display().to_string()),
                ("pre", "2019-01..2019-06".into()),
                ("post", "2019-03..2019-12".into()),
            ],
            "post",
        ),
        (
            vec![("pre", "2019-01..2019-06".into()), ("post", "2019-07..2019-12".into())],
            "plan",
        ),
        (
            vec![
                ("plan", wgs.display().to_string()),
                ("pre", "2019-01..2019-06".into()),
                ("post", "2019-07..2019-12".into()),
            ],
            "plan",
        ),
    ] {
        match compute(&ds, &values(&pairs)) {
            Err(hotspots::analysis::AnalysisError::Param { name: n, message }) => assert_eq!(n, name, "{message}"),
            other => panic!("{pairs:?}: {:?}", other.map(|r| r.pooled.sentence)),
        }
    }
}

/// The counts mode needs no dataset: the binary prints the paper's example.
#[test]
fn wdd_counts_mode_runs_without_a_dataset() {
    let out = Command::new(env!("CARGO_BIN_EXE_hotspots"))
        .args([
            "wdd",
            "--treated",
            "207,110",
            "--control",
            "308,318",
            "--disp-treated",
            "178,157",
            "--disp-control",
            "150,140",
            "--alpha",
            "0.05",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["total"]["estimate"], -118.0);
    assert_eq!(v["lower"].as_f64().unwrap().round(), -196.0);
    let out = Command::new(env!("CARGO_BIN_EXE_hotspots"))
        .args(["wdd", "--treated", "207,110"])
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--control:"));
}
