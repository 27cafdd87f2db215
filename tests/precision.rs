//! Precision policing: POI risk, surge-team areas and the backtest, on the
//! demo city (planted hotspots with known places) and on the real Met
//! burglary data.

use crate::common;

use std::sync::OnceLock;

use hotspots::analysis::evaluate::{evaluate, EvaluateRequest, Method};
use hotspots::analysis::poi_risk::{poi_risk, PoiRiskRequest, PoiSet};
use hotspots::analysis::predict::Predictor;
use hotspots::analysis::select::Selection;
use hotspots::analysis::surge::{surge, SurgeRequest};
use hotspots::analysis::AnalysisError;
use hotspots::dataset::Dataset;

fn demo() -> &'static (hotspots::demo::Demo, Dataset) {
    static DEMO: OnceLock<(hotspots::demo::Demo, Dataset)> = OnceLock::new();
    DEMO.get_or_init(|| {
        let tmp = Box::leak(Box::new(tempfile::tempdir().unwrap()));
        let demo = hotspots::demo::run(tmp.path(), 42, true).unwrap();
        let ds = Dataset::open(&demo.dataset).unwrap();
        (demo, ds)
    })
}

#[test]
fn planted_school_and_station_hotspots_top_the_poi_ranking() {
    let (demo, ds) = demo();
    for (set, kind) in [(PoiSet::Schools, "school"), (PoiSet::Stations, "station")] {
        let planted: Vec<String> = demo
            .ground_truth
            .hotspots
            .iter()
            .filter_map(|h| h.near_poi.as_deref())
            .filter_map(|p| p.strip_prefix(&format!("{kind}:")))
            .map(str::to_string)
            .collect();
        assert!(!planted.is_empty());
        let r = poi_risk(
            ds,
            &PoiRiskRequest {
                pois: set,
                ..PoiRiskRequest::default()
            },
        )
        .unwrap();
        let top: Vec<String> = r
            .ranking
            .iter()
            .take(planted.len())
            .map(|&i| r.pois[i].id.clone())
            .collect();
        let mut a = top.clone();
        let mut b = planted.clone();
        a.sort();
        b.sort();
        assert_eq!(a, b, "{kind}: top of the ranking {top:?}, planted {planted:?}");
        // Each planted POI is significant after FDR at 200 m; most others are not.
        let k = r.request.radii_m.iter().position(|x| *x == 200.0).unwrap();
        for &i in r.ranking.iter().take(planted.len()) {
            assert!(
                r.risk[i][k].q_london < 0.01 && r.risk[i][k].rr_london > 2.0,
                "{:?}",
                r.risk[i][k]
            );
        }
        println!(
            "{kind}: planted {planted:?} ranked 1..{} (RR at 200 m: {:?})",
            planted.len(),
            r.ranking
                .iter()
                .take(planted.len())
                .map(|&i| (r.risk[i][k].rr_london * 10.0).round() / 10.0)
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn surge_areas_cover_the_planted_hotspots_of_the_demo() {
    let (demo, ds) = demo();
    // Persistent hotspots (planted from month 0): 3 schools, 2 stations, street-1, emerging-1.
    let persistent: Vec<_> = demo
        .ground_truth
        .hotspots
        .iter()
        .filter(|h| h.start_month == demo.ground_truth.first_month)
        .collect();
    let plan = surge(
        ds,
        &SurgeRequest {
            teams: persistent.len(),
            radius_m: 300.0,
            ..SurgeRequest::default()
        },
    )
    .unwrap();
    assert_eq!(plan.areas.len(), persistent.len());
    for h in &persistent {
        let hit = plan.areas.iter().any(|a| {
            ((a.easting_m - h.easting_m).powi(2) + (a.northing_m - h.northing_m).powi(2)).sqrt() <= a.radius_m
        });
        assert!(
            hit,
            "planted {} at ({:.0}, {:.0}) is in no surge area",
            h.id, h.easting_m, h.northing_m
        );
    }
    // Disjoint, ranked by value, and the certificate holds.
    for (i, a) in plan.areas.iter().enumerate() {
        for b in &plan.areas[i + 1..] {
            assert!(((a.easting_m - b.easting_m).powi(2) + (a.northing_m - b.northing_m).powi(2)).sqrt() > 600.0);
        }
    }
    assert!(plan.achieved <= plan.upper_bound + 1e-9 && plan.achieved > 0.0);
    println!(
        "demo surge: {} areas, proven {:.1}% of optimum; first: {}",
        plan.areas.len(),
        100.0 * plan.achieved / plan.upper_bound,
        plan.areas[0].reason
    );
    // The GeoJSON: closed rings, lon/lat in range.
    let layer = plan.to_layer();
    let v: serde_json::Value = serde_json::from_str(&layer.to_geojson()).unwrap();
    assert_eq!(v["features"].as_array().unwrap().len(), persistent.len());
    let ring = &v["features"][0]["geometry"]["coordinates"][0];
    assert_eq!(ring[0], ring[ring.as_array().unwrap().len() - 1]);
}

#[test]
fn impossible_surge_requests_are_clear_errors() {
    let (_, ds) = demo();
    let ask = |f: &dyn Fn(&mut SurgeRequest)| {
        let mut r = SurgeRequest::default();
        f(&mut r);
        surge(ds, &r)
    };
    let param_of = |e: Result<_, AnalysisError>| match e {
        Err(AnalysisError::Param { name, .. }) => name,
        Err(other) => format!("other: {other}"),
        Ok(_) => "ok".into(),
    };
    assert_eq!(param_of(ask(&|r| r.teams = 0)), "teams");
    assert_eq!(param_of(ask(&|r| r.radius_m = -5.0)), "radius");
    assert_eq!(param_of(ask(&|r| r.radius_m = 0.0)), "radius");
    assert_eq!(param_of(ask(&|r| r.teams = 100_000)), "teams");
    // More teams than fit the constraints: the demo city has 4 boroughs.
    assert_eq!(
        param_of(ask(&|r| {
            r.teams = 5;
            r.max_per_borough = Some(1)
        })),
        "teams"
    );
    assert_eq!(param_of(ask(&|r| r.max_per_borough = Some(0))), "max_per_borough");
    assert_eq!(param_of(ask(&|r| r.exclude = vec!["NOPE".into()])), "exclude");
    assert_eq!(param_of(ask(&|r| r.selection.from = Some("2024-13".into()))), "from");
    // An empty month range: no incidents.
    let empty = ask(&|r| {
        r.selection.from = Some("2030-01".into());
        r.selection.to = Some("2030-06".into());
    });
    assert!(matches!(empty, Err(AnalysisError::Empty(_))), "{:?}", empty.err());
}

#[test]
fn oracle_has_pei_one_and_counts_are_recomputed_independently_on_the_demo() {
    let (_, ds) = demo();
    let req = EvaluateRequest {
        methods: vec![
            Method::Oracle,
            Method::Predictor(Predictor::Counts),
            Method::Surge(Predictor::Kde),
        ],
        window_months: 6,
        ..EvaluateRequest::default()
    };
    let e = evaluate(ds, &req).unwrap();
    for s in e.scores.iter().filter(|s| s.method == "oracle") {
        assert!((s.pei - 1.0).abs() < 1e-12, "{s:?}");
        assert!((s.pai - s.pai_max).abs() < 1e-9, "{s:?}");
    }
    // Independent recomputation of one origin for the counts predictor, from
    // the incidents frame: count per 250 m cell by floor division of the
    // BNG coordinates, rank, and take the top 1% of cells. "All crime" is
    // every crime type but anti-social behaviour (issue 22, item 6).
    let grid = hotspots::analysis::grid::Grid::new(
        hotspots::analysis::grid::GridKind::Square,
        250.0,
        ds.ward_index.polygons(),
    );
    let s = e
        .scores
        .iter()
        .find(|s| s.method == "counts" && s.coverage == 0.01)
        .unwrap();
    let target = hotspots::month::parse(&s.month).unwrap();
    let df = &ds.incidents;
    let e_m = df.column("easting_m").unwrap().f64().unwrap().clone();
    let n_m = df.column("northing_m").unwrap().f64().unwrap().clone();
    let month = df.column("month_index").unwrap().u32().unwrap().clone();
    let crime_type = df.column("crime_type").unwrap().str().unwrap().clone();
    let mut train: std::collections::HashMap<(i64, i64), f64> = Default::default();
    let mut test: std::collections::HashMap<(i64, i64), f64> = Default::default();
    let mut test_total = 0.0;
    for i in 0..df.height() {
        let (x, y, m) = (e_m.get(i).unwrap(), n_m.get(i).unwrap(), month.get(i).unwrap());
        if grid.cell_of(x, y).is_none() || crime_type.get(i) == Some("Anti-social behaviour") {
            continue;
        }
        let key = ((x / 250.0).floor() as i64, (y / 250.0).floor() as i64);
        if m == target {
            *test.entry(key).or_default() += 1.0;
            test_total += 1.0;
        } else if m < target && m >= target - 6 {
            *train.entry(key).or_default() += 1.0;
        }
    }
    let mut ranked: Vec<((i64, i64), f64)> = train.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    let k = s.cells;
    // Ties at the cut-off make the top-k set ambiguous; the counts at the cut are what we compare.
    let cut = ranked[k - 1].1;
    let sure: f64 = ranked
        .iter()
        .filter(|r| r.1 > cut)
        .map(|r| test.get(&r.0).copied().unwrap_or(0.0))
        .sum();
    let tied: Vec<f64> = ranked
        .iter()
        .filter(|r| r.1 == cut)
        .map(|r| test.get(&r.0).copied().unwrap_or(0.0))
        .collect();
    let need = k - ranked.iter().filter(|r| r.1 > cut).count();
    let mut t = tied.clone();
    t.sort_by(|a, b| a.total_cmp(b));
    let lo = sure + t.iter().take(need).sum::<f64>();
    let hi = sure + t.iter().rev().take(need).sum::<f64>();
    assert_eq!(s.total, test_total, "test-month total");
    assert!(s.hits >= lo && s.hits <= hi, "hits {} outside [{lo}, {hi}]", s.hits);
    println!("{}", e.table());
}

#[test]
fn radius_counts_match_brute_force_on_real_data() {
    let Some(dir) = common::burglary_dataset("radius_counts_match_brute_force_on_real_data") else {
        return;
    };
    let ds = Dataset::open(&dir).unwrap();
    let req = PoiRiskRequest {
        selection: Selection {
            from: Some("2024-01".into()),
            to: Some("2024-12".into()),
            ..Selection::default()
        },
        ..PoiRiskRequest::default()
    };
    let r = poi_risk(&ds, &req).unwrap();
    let points = req.selection.apply(&ds).unwrap();
    assert!(r.pois.len() > 3000, "{} POIs", r.pois.len());
    let mut checked = 0;
    for i in (0..r.pois.len()).step_by(17) {
        let p = &r.pois[i];
        for (k, radius) in req.radii_m.iter().enumerate() {
            let brute = points
                .easting_m
                .iter()
                .zip(&points.northing_m)
                .filter(|(x, y)| (*x - p.easting_m).powi(2) + (*y - p.northing_m).powi(2) <= radius * radius)
                .count();
            assert_eq!(r.risk[i][k].count as usize, brute, "POI {} at {radius} m", p.id);
            checked += 1;
        }
    }
    println!(
        "{checked} POI-radius counts equal brute force over {} incidents",
        points.len()
    );
    // Dispersion (issue 22, item 5) against a count of the published
    // coordinates done here: Σ m² / Σ m over distinct (lon, lat).
    {
        let df = &ds.incidents;
        let month = df.column("month").unwrap().str().unwrap().clone();
        let lon = df.column("lon").unwrap().f64().unwrap().clone();
        let lat = df.column("lat").unwrap().f64().unwrap().clone();
        let mut m: std::collections::HashMap<(u64, u64), f64> = Default::default();
        for i in 0..df.height() {
            if month.get(i).unwrap().starts_with("2024-") {
                *m.entry((lon.get(i).unwrap().to_bits(), lat.get(i).unwrap().to_bits()))
                    .or_default() += 1.0;
            }
        }
        let phi = m.values().map(|k| k * k).sum::<f64>() / m.values().sum::<f64>();
        assert!(
            (r.dispersion - phi).abs() < 1e-9 && r.distinct_locations == m.len(),
            "{} vs {phi}",
            r.dispersion
        );
        assert!(
            r.dispersion > 2.0,
            "police.uk map points bundle burglaries: {}",
            r.dispersion
        );
    }
    // The ranking: only circles at least half inside London, by the EB bound.
    let k = req.radii_m.iter().position(|x| *x == req.rank_radius_m).unwrap();
    assert!(r.ranking[..r.ranked].iter().all(|&i| r.risk[i][k].inside_share >= 0.5));
    let by_old_key = {
        let mut v: Vec<usize> = (0..r.pois.len())
            .filter(|&i| r.risk[i][k].expected_london > 0.0)
            .collect();
        // The old key: the exact Poisson interval's lower bound, dispersion ignored.
        let low = |i: usize| {
            let x = &r.risk[i][k];
            hotspots::analysis::poi_risk::poisson_mean_interval(x.count as u64, 0.05).0 / x.expected_london
        };
        v.sort_by(|&a, &b| low(b).total_cmp(&low(a)));
        v
    };
    let slivers = by_old_key[..10]
        .iter()
        .filter(|&&i| r.risk[i][k].inside_share < 0.5)
        .count();
    println!(
        "burglary 2024, {} POIs ({} ranked), dispersion {:.2}; old key's top 10 held {slivers} circles less than half inside London; new top 5: {:?}",
        r.pois.len(),
        r.ranked,
        r.dispersion,
        r.ranking[..5]
            .iter()
            .map(|&i| {
                let x = &r.risk[i][k];
                format!("{} O={} E={:.1} RR={:.2} EB={:.2} [{:.2}]", r.pois[i].name, x.count, x.expected_london, x.rr_london, x.rr_eb, x.rr_eb_low)
            })
            .collect::<Vec<_>>()
    );
    for l in r.layer.iter().filter(|l| l.crime_type == "all") {
        println!(
            "burglary 2024 within {} m of a school or station: {:.0}/km² vs {:.0}/km² elsewhere, RR {:.2} [{:.2}, {:.2}]",
            l.radius_m, l.per_km2_within, l.per_km2_elsewhere, l.rr_vs_elsewhere, l.rr_low, l.rr_high
        );
        assert!(l.rr_low <= l.rr_vs_elsewhere && l.rr_vs_elsewhere <= l.rr_high);
        assert_eq!(l.incidents_within + l.incidents_elsewhere, points.len() as u64);
    }
}

#[test]
fn backtest_on_135_months_of_burglary_beats_chance_and_the_oracle_bounds_it() {
    let Some(dir) = common::burglary_dataset("backtest_on_135_months_of_burglary") else {
        return;
    };
    let ds = Dataset::open(&dir).unwrap();
    let mut req = EvaluateRequest::default();
    req.methods.push(Method::Oracle);
    let e = evaluate(&ds, &req).unwrap();
    println!("{}", e.table());
    assert!(e.origins >= 120, "{} origins", e.origins);
    for s in &e.summary {
        if s.method == "oracle" {
            assert!((s.pei_mean - 1.0).abs() < 1e-12);
            continue;
        }
        // Every method finds crime better than chance (PAI 1) and no method beats the oracle.
        assert!(s.pai_mean > 1.5, "{s:?}");
        assert!(s.pei_mean > 0.0 && s.pei_mean <= 1.0 + 1e-12, "{s:?}");
    }
    assert_eq!(e.winners.len(), req.coverages.len());
}

/// The selection bias of a surge plan's `expected_incidents` (issue 22):
/// the areas are chosen for their high prediction, so the next month's
/// count there can fall short of it, relative to London as a whole (whose
/// own realised/predicted ratio carries the season). Measured over the
/// twelve origins of 2024 on the Met burglary data (train on the 12 months
/// before; six 300 m circles on 100 m cells), in the covered cells: with
/// the counts predictor 0.93 (biased upward), with the default KDE 1.04
/// (not); the figures `surge::EXPECTED_NOTE` states. The plan's text says so.
#[test]
fn surge_expected_incidents_are_biased_upward_and_say_so() {
    let Some(dir) = common::burglary_dataset("surge_expected_incidents_are_biased_upward") else {
        return;
    };
    let ds = Dataset::open(&dir).unwrap();
    let grid = hotspots::analysis::grid::Grid::new(
        hotspots::analysis::grid::GridKind::Square,
        100.0,
        ds.ward_index.polygons(),
    );
    for (predictor, range) in [(Predictor::Counts, 0.90..0.96), (Predictor::Kde, 1.0..1.08)] {
        let (mut expected, mut realised, mut london_expected, mut london_realised) = (0.0, 0.0, 0.0, 0.0);
        for to in [
            "2023-12", "2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06", "2024-07", "2024-08",
            "2024-09", "2024-10", "2024-11",
        ] {
            let req = SurgeRequest {
                selection: Selection {
                    to: Some(to.into()),
                    ..Selection::default()
                },
                predictor,
                ..SurgeRequest::default()
            };
            let plan = surge(&ds, &req).unwrap();
            let next = Selection {
                from: Some(plan.predicted_month.clone()),
                to: Some(plan.predicted_month.clone()),
                ..Selection::default()
            }
            .apply(&ds)
            .unwrap();
            let cells: Vec<[f64; 2]> = (0..next.len())
                .filter_map(|k| grid.cell_of(next.easting_m[k], next.northing_m[k]))
                .map(|c| grid.cells[c as usize].centre)
                .collect();
            london_realised += cells.len() as f64;
            london_expected += plan.london_total;
            for a in &plan.areas {
                expected += a.expected_incidents;
                realised += cells
                    .iter()
                    .filter(|c| {
                        (c[0] - a.easting_m).powi(2) + (c[1] - a.northing_m).powi(2)
                            <= req.radius_m * req.radius_m * (1.0 + 1e-9)
                    })
                    .count() as f64;
            }
            assert!(plan.summary().contains("biased upward"), "{}", plan.summary());
            assert!(
                plan.areas[0].reason.contains("chosen for being high"),
                "{}",
                plan.areas[0].reason
            );
            assert!(plan.metadata()["expected_incidents_note"].is_string());
        }
        let (areas, london) = (realised / expected, london_realised / london_expected);
        eprintln!(
            "{predictor:?} surge, 12 origins (2024): realised/expected {realised}/{expected:.1} = {areas:.3} in the chosen \
             areas, {london_realised}/{london_expected:.0} = {london:.3} over London: {:.3} relative",
            areas / london
        );
        assert!(range.contains(&(areas / london)), "{predictor:?}: {}", areas / london);
    }
}
