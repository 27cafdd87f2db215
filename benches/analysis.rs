//! Analysis benchmarks on the real Met burglary data (`HOTSPOTS_DATA`), all
//! 135 months: Gi* on the 250 m grid with a 750 m band (weights included),
//! 999 permutations, Gi* on a 100 m grid, emerging hot spots over 135 months.
//!
//! `HOTSPOTS_DATA=../shared/data cargo bench --bench analysis`

mod common;

use common::{ms, time};

use hotspots::analysis::emerging::{emerging, EmergingRequest};
use hotspots::analysis::grid::{Grid, GridKind};
use hotspots::analysis::hotspot::{gi_star, HotspotRequest};
use hotspots::analysis::weights::Weights;

fn main() {
    let Some(root) = common::data() else {
        eprintln!("SKIPPED analysis bench: set HOTSPOTS_DATA to the real data folder");
        return;
    };
    let (_tmp, ds) = common::burglary_dataset(&root);

    let req = HotspotRequest {
        cell_m: Some(250.0),
        band_m: Some(750.0),
        ..Default::default()
    };
    let r = gi_star(&ds, &req).unwrap();
    println!(
        "250 m grid: {} cells, {} incidents",
        r.units.grid().unwrap().cells.len(),
        r.incidents
    );
    let (best, median) = time(10, || gi_star(&ds, &req).unwrap());
    println!(
        "Gi*, 250 m, 750 m band, end to end (select, grid, count, weights, z, FDR)  best {:>7.1} ms  median {:>7.1} ms",
        ms(best),
        ms(median)
    );
    let centres: Vec<[f64; 2]> = r.units.grid().unwrap().cells.iter().map(|c| c.centre).collect();
    let (best, _) = time(10, || {
        let w = Weights::distance_band(&centres, 750.0, false);
        hotspots::analysis::gi_star::z_scores(&r.count, &w, 1.0)
    });
    println!(
        "Gi*, 250 m, weights + z only (what libpysal+esda time)                     best {:>7.1} ms",
        ms(best)
    );
    let (best, _) = time(10, || Grid::new(GridKind::Square, 250.0, ds.ward_index.polygons()));
    println!(
        "grid of 250 m cells over the 649 wards (scanline)                           best {:>7.1} ms",
        ms(best)
    );
    let (best, _) = time(3, || {
        hotspots::analysis::permutation::pseudo_p(&r.count, &r.weights, 999, 1)
    });
    println!(
        "999 conditional permutations, 250 m                                       best {:>7.1} ms",
        ms(best)
    );

    let req100 = HotspotRequest {
        cell_m: Some(100.0),
        band_m: Some(300.0),
        ..Default::default()
    };
    let r100 = gi_star(&ds, &req100).unwrap();
    let (best, median) = time(5, || gi_star(&ds, &req100).unwrap());
    println!(
        "Gi*, 100 m grid ({} cells), 300 m band, end to end                    best {:>7.1} ms  median {:>7.1} ms",
        r100.units.grid().unwrap().cells.len(),
        ms(best),
        ms(median)
    );

    let kreq = hotspots::analysis::kde::KdeRequest::default();
    let k = hotspots::analysis::kde::kde(&ds, &kreq).unwrap();
    let (best, _) = time(3, || hotspots::analysis::kde::kde(&ds, &kreq).unwrap());
    println!(
        "KDE, 50 m raster ({} cells), bandwidth {:.0} m, end to end          best {:>7.1} ms",
        k.grid.cells.len(),
        k.bandwidth.value,
        ms(best)
    );

    let ereq = EmergingRequest::default();
    let e = emerging(&ds, &ereq).unwrap();
    let (best, _) = time(3, || emerging(&ds, &ereq).unwrap());
    println!(
        "emerging hot spots, 250 m, {} months x {} cells                        best {:>7.1} ms",
        e.months.len(),
        e.grid.cells.len(),
        ms(best)
    );
}
