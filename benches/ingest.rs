//! Ingest benchmarks on the real Met burglary data (`HOTSPOTS_DATA`).
//!
//! `cargo bench --bench ingest` prints, for the whole Met burglary folder
//! (135 gzipped months, 743,520 rows) with wards, boroughs, schools and
//! stations:
//! - end-to-end ingest (read, validate, project, join, write Parquet);
//! - building the ward index (R-tree and boundary raster);
//! - the wards' vertices from BNG to WGS84, with lonlat_bng per point and
//!   with per-cell OSTN15 shifts (`crs::ostn15::CellCache`);
//! - the point-in-ward join alone, in points per second, over every
//!   located incident (distinct map points are located once, as the ingest
//!   does) and over every point without that shortcut;
//! - `Dataset::open`;
//! - the same ingest with the incident table replicated 4x (`HOTSPOTS_BENCH_REPLICATE=4`).
//!
//! Peak memory of a whole ingest is measured by `benches/peers/run_ingest_compare.sh`
//! (`/usr/bin/time -v` around the binary), since a bench harness cannot see it.

mod common;

use common::{ms, time};
use rustc_hash::FxHashMap;
use std::path::PathBuf;

use hotspots::config::Config;
use hotspots::dataset::Dataset;
use hotspots::index::AreaIndex;
use hotspots::ingest::{ingest, IngestOptions};

fn main() {
    let Some(root) = common::data() else {
        eprintln!("SKIPPED ingest bench: set HOTSPOTS_DATA to the real data folder");
        return;
    };
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = Config::load(&repo.join("data/london-burglary.toml")).expect("config");
    let out = tempfile::tempdir().expect("tempdir");
    let ds_dir = out.path().join("burglary");
    let opts = IngestOptions {
        quiet: true,
        force: true,
        ..Default::default()
    };

    let (best, median) = time(5, || ingest(&config, &root, &ds_dir, &opts).expect("ingest"));
    println!(
        "ingest, full (135 months, force re-parse)     best {:>8.1} ms  median {:>8.1} ms",
        ms(best),
        ms(median)
    );
    let incremental = IngestOptions {
        quiet: true,
        force: false,
        ..Default::default()
    };
    let (best, median) = time(5, || ingest(&config, &root, &ds_dir, &incremental).expect("ingest"));
    println!(
        "ingest, nothing changed (cache by sha256)    best {:>8.1} ms  median {:>8.1} ms",
        ms(best),
        ms(median)
    );

    let (best, median) = time(10, || Dataset::open(&ds_dir).expect("open"));
    println!(
        "Dataset::open                                best {:>8.1} ms  median {:>8.1} ms",
        ms(best),
        ms(median)
    );

    // The point-in-ward join on its own.
    let ds = Dataset::open(&ds_dir).expect("open");
    let e: Vec<f64> = ds
        .incidents
        .column("easting_m")
        .unwrap()
        .f64()
        .unwrap()
        .into_no_null_iter()
        .collect();
    let n: Vec<f64> = ds
        .incidents
        .column("northing_m")
        .unwrap()
        .f64()
        .unwrap()
        .into_no_null_iter()
        .collect();
    let polys = hotspots::dataset::polygons_from_wkb(&ds.wards, "geometry_bng_wkb", &ds_dir).unwrap();
    let (best, _) = time(5, || {
        let index = AreaIndex::new(polys.clone());
        index.locate(e[0], n[0])
    });
    println!("ward index: R-tree + boundary raster, built   {:>8.1} ms", ms(best));

    // The wards' vertices from BNG to WGS84 on one thread: lonlat_bng per
    // point, and with OSTN15's corner shifts kept per 1 km cell
    // (crs::ostn15::CellCache, as the ingest converts boundary layers).
    let vertices: Vec<[f64; 2]> = {
        use geo::CoordsIter;
        polys.iter().flat_map(|p| p.coords_iter().map(|c| [c.x, c.y])).collect()
    };
    let (plain, _) = time(5, || {
        vertices
            .iter()
            .filter_map(|v| hotspots::crs::bng_to_lonlat(v[0], v[1]))
            .count()
    });
    let (cached, _) = time(5, || {
        let mut cells = hotspots::crs::ostn15::CellCache::new();
        vertices.iter().filter_map(|v| cells.bng_to_lonlat(v[0], v[1])).count()
    });
    println!(
        "wards' {} vertices to WGS84, one thread: lonlat_bng {:.1} ms, per-cell shifts {:.1} ms",
        vertices.len(),
        ms(plain),
        ms(cached)
    );
    let index = AreaIndex::new(polys);
    let points = e.len();
    let (best, _) = time(5, || {
        use rayon::prelude::*;
        let mut distinct: FxHashMap<(u64, u64), u32> =
            FxHashMap::with_capacity_and_hasher(points / 4, Default::default());
        let mut keys = Vec::new();
        let idx: Vec<u32> = e
            .iter()
            .zip(&n)
            .map(|(x, y)| {
                let next = keys.len() as u32;
                *distinct.entry((x.to_bits(), y.to_bits())).or_insert_with(|| {
                    keys.push((*x, *y));
                    next
                })
            })
            .collect();
        let wards: Vec<Option<u32>> = keys.par_iter().map(|(x, y)| index.locate(*x, *y)).collect();
        idx.iter().filter(|i| wards[**i as usize].is_some()).count()
    });
    println!(
        "point-in-ward join, distinct points once     {:>8.1} ms  = {:>6.2} M points/s ({} points)",
        ms(best),
        points as f64 / best.as_secs_f64() / 1e6,
        points
    );
    let (best, _) = time(3, || {
        use rayon::prelude::*;
        e.par_iter()
            .zip(&n)
            .filter(|(x, y)| index.locate(**x, **y).is_some())
            .count()
    });
    println!(
        "point-in-ward join, every point              {:>8.1} ms  = {:>6.2} M points/s",
        ms(best),
        points as f64 / best.as_secs_f64() / 1e6
    );

    // Scale: the incident files replicated 4x (copies under a temp root).
    let k: usize = std::env::var("HOTSPOTS_BENCH_REPLICATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    if k > 1 {
        let big = out.path().join("root");
        replicate(&root, &big, k);
        let mut cfg = config.clone();
        cfg.incidents[0].paths = (0..k).map(|i| format!("police_uk/metropolitan_burglary_{i}")).collect();
        let (best, median) = time(3, || {
            ingest(&cfg, &big, &out.path().join("big"), &opts).expect("ingest")
        });
        println!(
            "ingest, incidents replicated {k}x             best {:>8.1} ms  median {:>8.1} ms",
            ms(best),
            ms(median)
        );
    }
}

/// Writes a root holding `k` copies of the burglary folder; copy `i > 0`
/// gets its Crime IDs suffixed with `-r{i}`, so every copy is accepted as
/// distinct crimes (the work of a 4x larger incident table).
fn replicate(root: &std::path::Path, to: &std::path::Path, k: usize) {
    use std::io::{Read, Write};
    std::fs::create_dir_all(to).unwrap();
    for sub in ["london_boundaries", "schools", "stations"] {
        std::os::unix::fs::symlink(root.join(sub).canonicalize().unwrap(), to.join(sub)).unwrap();
    }
    for i in 0..k {
        let dir = to.join(format!("police_uk/metropolitan_burglary_{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in std::fs::read_dir(root.join("police_uk/metropolitan_burglary"))
            .unwrap()
            .flatten()
        {
            if i == 0 {
                std::os::unix::fs::symlink(f.path().canonicalize().unwrap(), dir.join(f.file_name())).unwrap();
                continue;
            }
            let mut text = String::new();
            flate2::read::MultiGzDecoder::new(std::fs::File::open(f.path()).unwrap())
                .read_to_string(&mut text)
                .unwrap();
            let mut out = String::with_capacity(text.len() + text.len() / 20);
            for (n, line) in text.lines().enumerate() {
                // `index,Crime ID,...`: suffix a non-empty id.
                match line.splitn(3, ',').collect::<Vec<_>>().as_slice() {
                    [a, id, rest] if n > 0 && !id.is_empty() => out.push_str(&format!("{a},{id}-r{i},{rest}")),
                    _ => out.push_str(line),
                }
                out.push('\n');
            }
            let mut gz = flate2::write::GzEncoder::new(
                std::fs::File::create(dir.join(f.file_name())).unwrap(),
                flate2::Compression::fast(),
            );
            gz.write_all(out.as_bytes()).unwrap();
            gz.finish().unwrap();
        }
    }
}
