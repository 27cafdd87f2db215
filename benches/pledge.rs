//! The pledge and the WDD on the real Met burglary data (`HOTSPOTS_DATA`),
//! against the targets: `pledge --by ward` over all 649 wards
//! ≤ 1 s, `wdd` of a 20-area surge plan with automatic controls ≤ 1 s.
//!
//! `HOTSPOTS_DATA=../shared/data cargo bench --bench pledge`

mod common;

use std::collections::BTreeMap;

use common::{ms, time};

use hotspots::analysis::params::{Spec, Values};
use hotspots::analysis::pledge::{pledge, PledgeRequest, PLEDGE};

fn values(spec: Spec, pairs: &[(&str, &str)]) -> Values {
    let m: BTreeMap<String, Vec<String>> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
        .collect();
    Values::new(spec, m).expect("valid values")
}

fn main() {
    let Some(root) = common::data() else {
        eprintln!("SKIPPED pledge bench: set HOTSPOTS_DATA to the real data folder");
        return;
    };
    let (tmp, ds) = common::burglary_dataset(&root);

    let v = values(
        PLEDGE.spec,
        &[
            ("crime_type", "Burglary"),
            ("baseline", "2022-01..2023-12"),
            ("from", "2024-01"),
            ("to", "2025-02"),
            ("by", "ward"),
        ],
    );
    let req = PledgeRequest::from_values(&v).unwrap();
    let p = pledge(&ds, &req).unwrap();
    println!(
        "pledge --by ward: {} wards ({} small), cumulative: {}",
        p.areas.len(),
        p.areas.iter().filter(|a| a.small).count(),
        p.cumulative.verdict
    );
    let (best, median) = time(5, || {
        let p = pledge(&ds, &req).unwrap();
        p.to_layer(&ds).unwrap()
    });
    println!(
        "pledge --by ward, 649 wards, burglary 2022-01..2025-02, with the layer   best {:>7.1} ms  median {:>7.1} ms",
        ms(best),
        ms(median)
    );

    // A 20-area surge plan, then its WDD with automatic controls.
    let sv = values(
        hotspots::analysis::surge::SURGE.spec,
        &[("teams", "20"), ("radius", "400"), ("to", "2024-06")],
    );
    let plan =
        hotspots::analysis::surge::surge(&ds, &hotspots::analysis::surge::SurgeRequest::from_values(&sv).unwrap())
            .unwrap();
    let path = tmp.path().join("plan.geojson");
    plan.to_layer().write(&path).unwrap();
    let wv = values(
        hotspots::analysis::wdd::WDD.spec,
        &[
            ("plan", path.to_str().unwrap()),
            ("buffer", "400"),
            ("pre", "2024-01..2024-06"),
            ("post", "2024-07..2024-12"),
        ],
    );
    let r = hotspots::analysis::wdd_areas::compute(&ds, &wv).unwrap();
    println!("wdd: {} areas; {}", r.areas.len(), r.pooled.sentence);
    let (best, median) = time(5, || hotspots::analysis::wdd_areas::compute(&ds, &wv).unwrap());
    println!(
        "wdd of a 20-area plan (400 m circles, 400 m rings), automatic controls       best {:>7.1} ms  median {:>7.1} ms",
        ms(best),
        ms(median)
    );
}
