//! Precision-policing benchmarks on the real Met burglary data
//! (`HOTSPOTS_DATA`), all 135 months: radius counts for every London school
//! and station at 100/200/400 m, POI risk end to end, a 20-team surge plan,
//! and the full rolling-origin backtest.
//!
//! `HOTSPOTS_DATA=../shared/data cargo bench --bench precision`

mod common;

use common::{ms, time};

use hotspots::analysis::buckets::PointBuckets;
use hotspots::analysis::evaluate::{evaluate, EvaluateRequest};
use hotspots::analysis::poi_risk::{load_pois, poi_risk, PoiRiskRequest, PoiSet};
use hotspots::analysis::select::Selection;
use hotspots::analysis::surge::{surge, SurgeRequest};
use rayon::prelude::*;

fn main() {
    let Some(root) = common::data() else {
        eprintln!("SKIPPED precision bench: set HOTSPOTS_DATA to the real data folder");
        return;
    };
    let (_tmp, ds) = common::burglary_dataset(&root);

    // Radius counts: select all 135 months, bucket, count for every POI at three radii.
    let pois = load_pois(&ds, PoiSet::All).unwrap();
    let radii = [100.0, 200.0, 400.0];
    let sel = Selection::default();
    let count_all = || {
        let pts = sel.apply(&ds).unwrap();
        let b = PointBuckets::new(&pts.easting_m, &pts.northing_m, 400.0);
        pois.par_iter()
            .map(|p| {
                let mut c = [0u32; 3];
                b.count_within(p.easting_m, p.northing_m, &radii, &mut c);
                c[0] as u64 + c[1] as u64 + c[2] as u64
            })
            .sum::<u64>()
    };
    let (best, median) = time(10, count_all);
    println!(
        "radius counts, {} POIs x 3 radii over {} incidents (select + bucket + count)  best {:>7.1} ms  median {:>7.1} ms",
        pois.len(),
        sel.apply(&ds).unwrap().len(),
        ms(best),
        ms(median)
    );
    let pts = sel.apply(&ds).unwrap();
    let b = PointBuckets::new(&pts.easting_m, &pts.northing_m, 400.0);
    let (best, median) = time(10, || {
        pois.par_iter()
            .map(|p| {
                let mut c = [0u32; 3];
                b.count_within(p.easting_m, p.northing_m, &radii, &mut c);
                c[2] as u64
            })
            .sum::<u64>()
    });
    println!(
        "radius counts only (points already selected and bucketed)                      best {:>7.1} ms  median {:>7.1} ms",
        ms(best),
        ms(median)
    );
    let req = PoiRiskRequest::default();
    let (best, median) = time(5, || poi_risk(&ds, &req).unwrap());
    println!(
        "POI risk end to end (mask, counts, areas, Poisson p, FDR, whole-layer RR)     best {:>7.1} ms  median {:>7.1} ms",
        ms(best),
        ms(median)
    );

    let req = SurgeRequest {
        teams: 20,
        radius_m: 300.0,
        ..SurgeRequest::default()
    };
    let (best, median) = time(5, || surge(&ds, &req).unwrap());
    println!(
        "surge plan, 20 teams of 300 m, 100 m cells, KDE over the last 12 months       best {:>7.1} ms  median {:>7.1} ms",
        ms(best),
        ms(median)
    );

    let req = EvaluateRequest::default();
    let (best, _) = time(3, || evaluate(&ds, &req).unwrap());
    let e = evaluate(&ds, &req).unwrap();
    println!(
        "backtest, {} origins x {} methods x {} coverages, 250 m cells                 best {:>7.1} ms",
        e.origins,
        req.methods.len(),
        req.coverages.len(),
        ms(best)
    );
    print!("{}", e.table());
}
