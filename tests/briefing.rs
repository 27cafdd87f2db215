//! Ward briefings (`hotspots::briefing`, `hotspots briefing`,
//! `/wards/{code}/briefing`): the numbers on the page against an
//! independent count of `incidents.parquet` (read here with polars, the
//! period, the crime-type rule, the exact conditional test and BH all
//! recomputed by hand), on the demo city (where the planted hotspot's ward
//! must show hot cells) and on real data (Met burglary; City of London and
//! Met all-crime records without schools or stations); a ward with no
//! incidents; an unknown ward code (CLI error, HTTP 404 problem document).

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use hotspots::briefing::{self, figures::Briefing, Context, Options};
use hotspots::dataset::Dataset;
use polars::prelude::*;

/// What a ward's page must say, counted here from `incidents.parquet`.
#[derive(Debug)]
struct Expected {
    last: u32,
    total: u64,
    /// The same months a year earlier, when the dataset covers them.
    year_total: Option<u64>,
    /// Crime type → (period, year earlier).
    by_type: BTreeMap<String, (u64, Option<u64>)>,
    /// (location, period count, year-earlier count), most first, ties by name.
    places: Vec<(String, u64, Option<u64>)>,
}

fn strs(df: &DataFrame, name: &str) -> Vec<Option<String>> {
    df.column(name)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect()
}

/// `incidents.parquet` read independently of the engine, with its month
/// numbers.
fn incidents_and_months(dataset: &Path) -> (DataFrame, Vec<u32>) {
    let file = std::fs::File::open(dataset.join("incidents.parquet")).unwrap();
    let df = ParquetReader::new(file).finish().unwrap();
    let month: Vec<u32> = df
        .column("month_index")
        .unwrap()
        .u32()
        .unwrap()
        .iter()
        .map(|v| v.unwrap())
        .collect();
    (df, month)
}

/// Counts the ward's incidents of kind crime, every type but anti-social
/// behaviour, in the latest 12 months of the dataset and a year earlier.
fn expected(dataset: &Path, ward: &str) -> Expected {
    let (df, month) = incidents_and_months(dataset);
    let (types, kinds, wards, locations) = (
        strs(&df, "crime_type"),
        strs(&df, "kind"),
        strs(&df, "ward_code"),
        strs(&df, "location"),
    );
    let counted =
        |i: usize| kinds[i].as_deref() == Some("crime") && types[i].as_deref() != Some("Anti-social behaviour");
    let covered: BTreeSet<u32> = (0..month.len()).filter(|&i| counted(i)).map(|i| month[i]).collect();
    let last = *covered.last().unwrap();
    let period = last - 11..=last;
    let year = last - 23..=last - 12;
    let year_known = year.clone().all(|m| covered.contains(&m)) && *covered.first().unwrap() <= last - 23;
    let mut by_type: BTreeMap<String, (u64, Option<u64>)> = BTreeMap::new();
    let mut places: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for i in 0..month.len() {
        if !counted(i) || wards[i].as_deref() != Some(ward) {
            continue;
        }
        let t = types[i].clone().unwrap();
        let e = by_type.entry(t).or_insert((0, year_known.then_some(0)));
        let loc = locations[i].clone().filter(|l| !l.trim().is_empty());
        if period.contains(&month[i]) {
            e.0 += 1;
            if let Some(l) = loc {
                places.entry(l.trim().to_string()).or_default().0 += 1;
            }
        } else if year.contains(&month[i]) && year_known {
            *e.1.as_mut().unwrap() += 1;
            if let Some(l) = loc {
                places.entry(l.trim().to_string()).or_default().1 += 1;
            }
        }
    }
    by_type.retain(|_, (c, y)| *c > 0 || y.unwrap_or(0) > 0);
    let mut places: Vec<(String, u64, Option<u64>)> = places
        .into_iter()
        .filter(|(_, (c, _))| *c > 0)
        .map(|(l, (c, y))| (l, c, year_known.then_some(y)))
        .collect();
    places.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    places.truncate(10);
    Expected {
        last,
        total: by_type.values().map(|v| v.0).sum(),
        year_total: year_known.then(|| by_type.values().map(|v| v.1.unwrap()).sum()),
        by_type,
        places,
    }
}

/// Two-sided exact conditional p for x1 against x0 (Binomial(n, ½)),
/// summed here in log space, independently of the crate's statrs call.
fn conditional_p(x1: u64, x0: u64) -> f64 {
    let n = x1 + x0;
    if n == 0 {
        return 1.0;
    }
    let ln_fact: Vec<f64> = std::iter::once(0.0)
        .chain((1..=n).scan(0.0, |acc, k| {
            *acc += (k as f64).ln();
            Some(*acc)
        }))
        .collect();
    let pmf =
        |k: u64| (ln_fact[n as usize] - ln_fact[k as usize] - ln_fact[(n - k) as usize] - n as f64 * 2f64.ln()).exp();
    let lower: f64 = (0..=x1).map(pmf).sum();
    let upper: f64 = (x1..=n).map(pmf).sum();
    (2.0 * lower.min(upper)).min(1.0)
}

/// Benjamini–Hochberg q-values, by hand.
fn bh(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|a, b| p[*a].total_cmp(&p[*b]));
    let mut q = vec![0.0; m];
    let mut running = 1.0f64;
    for rank in (0..m).rev() {
        let i = order[rank];
        running = running.min(p[i] * m as f64 / (rank + 1) as f64);
        q[i] = running;
    }
    q
}

/// Checks a ward's figures and page against [`expected`].
fn check_ward(ds_dir: &Path, ds: &Dataset, ctx: &Context, ward: &str) -> (Briefing, String) {
    let e = expected(ds_dir, ward);
    let b = briefing::figures::ward_briefing(ds, ctx, ward).unwrap();
    let page = briefing::html::page(&b, "2026-12-05T00:00:00Z");
    assert_eq!(
        b.period.to, e.last,
        "{ward}: the period ends at the dataset's last month"
    );
    assert_eq!(b.period.from, e.last - 11);
    assert_eq!(b.total.current, e.total, "{ward}: total");
    assert_eq!(b.total.year_earlier, e.year_total, "{ward}: total a year earlier");
    let got: BTreeMap<String, (u64, Option<u64>)> = b
        .by_type
        .iter()
        .map(|t| (t.crime_type.clone(), (t.current, t.year_earlier)))
        .collect();
    assert_eq!(got, e.by_type, "{ward}: counts by crime type");
    // The change: p by hand, BH by hand, the verdict in words.
    if let (Some(year_total), false) = (e.year_total, b.by_type.is_empty()) {
        let p: Vec<f64> = b
            .by_type
            .iter()
            .map(|t| conditional_p(t.current, t.year_earlier.unwrap()))
            .collect();
        let q = bh(&p);
        for (t, (p, q)) in b.by_type.iter().zip(p.iter().zip(&q)) {
            assert!(
                (t.p_year.unwrap() - p).abs() <= 1e-9,
                "{ward} {}: p {} vs {p}",
                t.crime_type,
                t.p_year.unwrap()
            );
            assert!((t.q_year.unwrap() - q).abs() <= 1e-9, "{ward} {}: q", t.crime_type);
            let sentence = t.sentence(12);
            let y = t.year_earlier.unwrap();
            if t.current != y {
                let verdict = if *q <= 0.05 {
                    "(significant)"
                } else {
                    "(not significant)"
                };
                let dir = if t.current > y { "up" } else { "down" };
                assert_eq!(
                    sentence,
                    format!(
                        "{} {}, {dir} from {y} a year earlier {verdict}",
                        t.crime_type, t.current
                    )
                );
            }
        }
        let total_p = conditional_p(e.total, year_total);
        assert!((b.total.p_year.unwrap() - total_p).abs() <= 1e-9);
    }
    // The page shows those numbers.
    assert!(
        page.contains(&format!("data-count=\"{}\"", e.total)),
        "{ward}: headline count"
    );
    assert!(page.contains(&hotspots::api::html::escape(&b.total.sentence(12))));
    for (t, (c, y)) in &e.by_type {
        let row = format!(
            "data-type=\"{}\" data-current=\"{c}\" data-previous=\"{}\" data-year=\"{}\"",
            hotspots::api::html::escape(t),
            y.map_or("–".into(), |v| v.to_string()),
            y.map_or("–".into(), |v| v.to_string())
        );
        assert!(page.contains(&row), "{ward}: the page has {row}");
    }
    // The top locations: the same counts (ties broken by name on both sides).
    let got: Vec<(String, u64, Option<u64>)> = b
        .places
        .iter()
        .map(|p| (p.location.clone(), p.current, p.earlier))
        .collect();
    if !b.few {
        assert_eq!(got, e.places, "{ward}: top locations");
        for (l, c, _) in &e.places {
            let row = format!(
                "data-location=\"{}\" data-current=\"{c}\"",
                hotspots::api::html::escape(l)
            );
            assert!(page.contains(&row), "{ward}: the page has {row}");
        }
    }
    // Self-contained: no scripts, no links or sources elsewhere.
    for bad in ["<script", "http://", "https://", "src=", "@import", "url(http"] {
        assert!(!page.contains(bad), "{ward}: the page contains {bad}");
    }
    (b, page)
}

fn ward_codes(ds: &Dataset) -> Vec<String> {
    strs(&ds.wards, "code").into_iter().map(|c| c.unwrap()).collect()
}

/// The ward holding the demo's strongest static planted hotspot.
pub(crate) fn planted_ward(ds_dir: &Path, ds: &Dataset) -> String {
    let truth: hotspots::demo::GroundTruth =
        serde_json::from_str(&std::fs::read_to_string(ds_dir.parent().unwrap().join("raw/ground_truth.json")).unwrap())
            .unwrap();
    let h = truth
        .hotspots
        .iter()
        .filter(|h| h.kind == "static")
        .max_by(|a, b| a.rate_per_month.total_cmp(&b.rate_per_month))
        .expect("a static planted hotspot");
    let w = ds
        .ward_index
        .locate(h.easting_m, h.northing_m)
        .expect("the hotspot is in a ward");
    ward_codes(ds)[w as usize].clone()
}

#[test]
fn demo_pages_match_an_independent_count_and_the_planted_ward_is_hot() {
    let dir = common::demo_dataset();
    let ds = Dataset::open_for_analysis(&dir).unwrap();
    let ctx = Context::build(&ds, Options::default()).unwrap();
    let planted = planted_ward(&dir, &ds);
    let (b, page) = check_ward(&dir, &ds, &ctx, &planted);
    assert!(!b.few);
    assert!(
        b.hot_in_ward > 0,
        "the planted hotspot's ward {planted} has hot cells: {:?}",
        b.hotspot_note
    );
    assert!(page.contains("class=\"cell hot"), "hot cells drawn");
    assert!(
        page.contains(&format!("data-ward=\"{planted}\"")),
        "the ward's polygon drawn"
    );
    assert_eq!(b.monthly.len(), 36.min(b.chart.to as usize - b.chart.from as usize + 1));
    // Surge-team areas touching the ward: London's plan (`hotspots surge`
    // with its defaults) run here, each circle tested against the ward's
    // polygon with geo's point-to-polygon distance.
    let plan = hotspots::analysis::surge::surge(&ds, &Default::default()).unwrap();
    let wards = ds.wards.column("code").unwrap().str().unwrap().clone();
    let k = wards.iter().position(|c| c == Some(planted.as_str())).unwrap();
    let polygon = hotspots::dataset::polygons_from_wkb(&ds.wards, "geometry_bng_wkb", &dir).unwrap()[k].clone();
    let touching: Vec<usize> = plan
        .areas
        .iter()
        .filter(|a| {
            use geo::{Distance, Euclidean};
            Euclidean.distance(&geo::Point::new(a.easting_m, a.northing_m), &polygon) <= a.radius_m
        })
        .map(|a| a.rank)
        .collect();
    assert!(!touching.is_empty(), "the planted hotspot draws a surge team");
    assert_eq!(b.surge.iter().map(|m| m.rank).collect::<Vec<_>>(), touching);
    assert_eq!(page.matches("class=\"surge\"").count(), touching.len());
    // The demo covers too few months for the pledge's 24-month baseline
    // before the period: the page says so instead of a figure.
    assert!(b.pledge_line.starts_with("No pledge figures"), "{}", b.pledge_line);
    assert!(b.pledge_line.contains("baseline"), "{}", b.pledge_line);
    // A few more wards, spread over the list.
    let codes = ward_codes(&ds);
    for code in codes.iter().step_by((codes.len() / 4).max(1)) {
        check_ward(&dir, &ds, &ctx, code);
    }
    // A crime type named: only it is counted.
    let robbery = Context::build(
        &ds,
        Options {
            crime_types: vec!["robbery".into()],
            ..Options::default()
        },
    )
    .unwrap();
    let r = briefing::figures::ward_briefing(&ds, &robbery, &planted).unwrap();
    assert!(r.by_type.iter().all(|t| t.crime_type == "Robbery"), "{:?}", r.by_type);
    // A harm table: each type's days times its count, the total on the page.
    let harm = hotspots::analysis::harm::HarmTable::from_pairs(&["Burglary:365".into(), "Robbery:730".into()]).unwrap();
    let with_harm = Context::build(
        &ds,
        Options {
            harm: Some(harm),
            ..Options::default()
        },
    )
    .unwrap();
    let h = briefing::figures::ward_briefing(&ds, &with_harm, &planted).unwrap();
    let e = expected(&dir, &planted);
    let rows = h.harm.as_ref().unwrap();
    for row in rows {
        let days = match row.crime_type.as_str() {
            "Burglary" => 365.0,
            "Robbery" => 730.0,
            _ => 0.0,
        };
        assert_eq!(
            row.current_days,
            days * e.by_type[&row.crime_type].0 as f64,
            "{}",
            row.crime_type
        );
    }
    let total = 365.0 * e.by_type["Burglary"].0 as f64 + 730.0 * e.by_type.get("Robbery").map_or(0, |v| v.0) as f64;
    let page = briefing::html::page(&h, "now");
    assert!(
        page.contains(&format!("Total harm in the period: <b>{total:.0} days</b>")),
        "harm total {total}"
    );
}

#[test]
fn a_ward_with_no_incidents_gets_a_short_honest_page() {
    let dir = common::demo_dataset();
    let ds = Dataset::open_for_analysis(&dir).unwrap();
    // Robbery in the last month: about one a ward, so some wards have none.
    let ctx = Context::build(
        &ds,
        Options {
            months: 1,
            crime_types: vec!["Robbery".into()],
            ..Options::default()
        },
    )
    .unwrap();
    let code = ward_codes(&ds)
        .into_iter()
        .find(|c| in_last_months(&dir, c, "Robbery", 1) == 0)
        .expect("a demo ward without a robbery in the last month");
    let b = briefing::figures::ward_briefing(&ds, &ctx, &code).unwrap();
    assert_eq!(b.total.current, 0);
    assert!(b.few);
    assert!(b.cells.is_empty(), "no hotspot statistics on a short page");
    let page = briefing::html::page(&b, "now");
    assert!(page.contains("Too few incidents for hotspot statistics: 0 in the period"));
    assert!(page.contains("data-count=\"0\""));
    assert!(page.contains("class=\"ward\""), "the ward is still drawn");
}

/// Incidents of one type in a ward in the latest `months` months (of that type's records).
fn in_last_months(dir: &Path, ward: &str, crime_type: &str, months: u32) -> u64 {
    let (df, month) = incidents_and_months(dir);
    let (types, wards, kinds) = (strs(&df, "crime_type"), strs(&df, "ward_code"), strs(&df, "kind"));
    let of_type: Vec<usize> = (0..month.len())
        .filter(|&i| types[i].as_deref() == Some(crime_type) && kinds[i].as_deref() == Some("crime"))
        .collect();
    let Some(last) = of_type.iter().map(|&i| month[i]).max() else {
        return 0;
    };
    of_type
        .iter()
        .filter(|&&i| wards[i].as_deref() == Some(ward) && month[i] + months > last)
        .count() as u64
}

#[test]
fn an_unknown_ward_is_a_clear_error_on_the_command_line_and_a_404_over_http() {
    let dir = common::demo_dataset();
    let ds = Dataset::open_for_analysis(&dir).unwrap();
    let ctx = Context::build(&ds, Options::default()).unwrap();
    let e = briefing::figures::ward_briefing(&ds, &ctx, "E99999999").unwrap_err();
    assert!(matches!(e, briefing::BriefingError::UnknownWard(_)));
    assert!(e.to_string().starts_with("no ward has the code \"E99999999\""), "{e}");

    let out = tempfile::tempdir().unwrap();
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_hotspots"))
        .args(["--quiet", "briefing", "--dataset"])
        .arg(&dir)
        .args(["--ward", "E99999999", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("no ward has the code \"E99999999\""), "{stderr}");
    assert!(
        !stderr.contains("UnknownWard"),
        "a sentence, not debug output: {stderr}"
    );

    let base = common::serve_dataset(&dir);
    let r = common::http::request("GET", &format!("{base}/wards/E99999999/briefing"), &[], None).unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let doc: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(doc["parameter"], "code");
    assert!(doc["detail"].as_str().unwrap().contains("E99999999"));
    // Documented in /api with its 404.
    let r = common::http::request("GET", &format!("{base}/api"), &[], None).unwrap();
    let api: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let op = &api["paths"]["/wards/{code}/briefing"]["get"];
    assert!(op["responses"]["404"].is_object(), "{op}");
    assert!(op["responses"]["200"]["content"]["text/html"].is_object());
    // A known ward: the page, the same numbers as the library's.
    let planted = planted_ward(&dir, &ds);
    let r = common::http::request("GET", &format!("{base}/wards/{planted}/briefing"), &[], None).unwrap();
    assert_eq!(r.status, 200);
    let page = String::from_utf8(r.body).unwrap();
    let b = briefing::figures::ward_briefing(&ds, &ctx, &planted).unwrap();
    assert!(page.contains(&format!("data-count=\"{}\"", b.total.current)));
    // Query parameters are refused by name.
    let r = common::http::request("GET", &format!("{base}/wards/{planted}/briefing?months=3"), &[], None).unwrap();
    assert_eq!(r.status, 400);
    // Linked from the ward's HTML item page and from the map's ward popups.
    let r = common::http::request(
        "GET",
        &format!("{base}/collections/wards/items/{planted}?f=html"),
        &[],
        None,
    )
    .unwrap();
    assert_eq!(r.status, 200);
    let item = String::from_utf8(r.body).unwrap();
    assert!(item.contains(&format!("href=\"/wards/{planted}/briefing\"")), "{item}");
    // A browser asking for HTML gets the same page without `f=html`; a
    // GeoJSON client the feature, under another ETag.
    let url = format!("{base}/collections/wards/items/{planted}");
    let browser = common::http::request(
        "GET",
        &url,
        &[("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")],
        None,
    )
    .unwrap();
    assert_eq!(browser.status, 200);
    assert_eq!(String::from_utf8(browser.body.clone()).unwrap(), item);
    let client = common::http::request("GET", &url, &[("Accept", "application/geo+json")], None).unwrap();
    assert_eq!(client.header("content-type"), Some("application/geo+json"));
    assert_ne!(client.header("etag"), browser.header("etag"));
    assert_eq!(client.header("vary").map(|v| v.contains("accept")), Some(true));
    let r = common::http::request("GET", &format!("{base}/map"), &[], None).unwrap();
    assert!(String::from_utf8_lossy(&r.body).contains("/briefing"));
}

#[test]
fn the_command_writes_pages_and_indexes_for_a_borough() {
    let dir = common::demo_dataset();
    let ds = Dataset::open_for_analysis(&dir).unwrap();
    let boroughs = strs(&ds.boroughs, "code");
    let borough = boroughs[0].clone().unwrap();
    let out = tempfile::tempdir().unwrap();
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_hotspots"))
        .args(["--quiet", "briefing", "--dataset"])
        .arg(&dir)
        .args(["--borough", &borough, "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let index = std::fs::read_to_string(out.path().join("index.html")).unwrap();
    assert!(index.contains(&format!("href=\"{borough}/index.html\"")));
    let bindex = std::fs::read_to_string(out.path().join(&borough).join("index.html")).unwrap();
    let wards: Vec<PathBuf> = std::fs::read_dir(out.path().join(&borough))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap() != "index.html")
        .collect();
    assert!(!wards.is_empty());
    for w in &wards {
        let name = w.file_name().unwrap().to_str().unwrap();
        assert!(
            bindex.contains(&format!("href=\"{name}\"")),
            "{name} linked from the borough index"
        );
    }
    // --months out of range is refused by name.
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_hotspots"))
        .args(["--quiet", "briefing", "--dataset"])
        .arg(&dir)
        .args(["--all", "--months", "13", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("parameter `months`"));
}

#[test]
fn a_dataset_without_schools_or_stations_says_so() {
    let dir = common::demo_dataset();
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("dataset");
    std::fs::create_dir_all(&copy).unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        if p.is_file() && name != "schools.parquet" && name != "stations.parquet" {
            std::fs::copy(&p, copy.join(&name)).unwrap();
        }
    }
    let ds = Dataset::open_for_analysis(&copy).unwrap();
    assert_eq!(ds.schools.height() + ds.stations.height(), 0);
    let ctx = Context::build(&ds, Options::default()).unwrap();
    let planted = planted_ward(&dir, &ds);
    let (b, page) = check_ward(&copy, &ds, &ctx, &planted);
    assert!(b.pois.is_empty());
    assert!(page.contains("the dataset has no schools or stations"));
    assert!(b.hot_in_ward > 0, "hot spots do not need POIs");
}

#[test]
fn real_met_burglary_pages_match_an_independent_count() {
    let Some(dir) = common::burglary_dataset("briefing_real_burglary") else {
        return;
    };
    let ds = Dataset::open_for_analysis(&dir).unwrap();
    let ctx = Context::build(&ds, Options::default()).unwrap();
    // The ward with the most burglaries in the period, one in the middle,
    // and a City of London ward (the Met does not police the City: none).
    let mut totals: Vec<(u64, String)> = ward_codes(&ds)
        .into_iter()
        .map(|c| {
            let w = ctx.ward(&c).unwrap();
            let n = ctx.by_ward[w]
                .iter()
                .filter(|&&r| ctx.period.contains(ds.columns.month[r as usize]))
                .count() as u64;
            (n, c)
        })
        .collect();
    totals.sort();
    let top = totals.last().unwrap().1.clone();
    let middle = totals[totals.len() / 2].1.clone();
    let (b, page) = check_ward(&dir, &ds, &ctx, &top);
    assert!(b.total.year_earlier.is_some(), "135 months cover a year earlier");
    // The headline names the one crime type the dataset has.
    assert_eq!(b.total.crime_type, "Burglary (the only crime type in this dataset)");
    assert!(page.contains("Burglary (the only crime type in this dataset)"));
    assert!(!page.contains("All crime"));
    assert!(!b.pois.is_empty() || b.poi_note.is_some());
    check_ward(&dir, &ds, &ctx, &middle);
    let (city, _) = check_ward(&dir, &ds, &ctx, "E05000001");
    assert!(city.few, "a City ward has (almost) no Met burglaries");
}

/// Ingests the boundaries and the named police.uk folders, no schools or stations.
fn ingest_without_pois(root: &Path, out: &Path, folders: &[&str]) -> Dataset {
    let mut toml = String::from(
        r#"name = "briefing test"
[boundaries.wards]
path = "london_boundaries/statistical-gis-boundaries-london/ESRI/London_Ward.shp"
parent_code_field = "LB_GSS_CD"
parent_name_field = "BOROUGH"
[boundaries.boroughs]
path = "london_boundaries/statistical-gis-boundaries-london/ESRI/London_Borough_Excluding_MHW.shp"
"#,
    );
    for (i, f) in folders.iter().enumerate() {
        toml.push_str(&format!(
            "[[incidents]]\nname = \"s{i}\"\nformat = \"police_uk_csv\"\npaths = [\"police_uk/{f}\"]\n"
        ));
    }
    let config = hotspots::config::Config::from_toml(&toml, "briefing test config").unwrap();
    hotspots::ingest::ingest(
        &config,
        root,
        out,
        &hotspots::ingest::IngestOptions {
            quiet: true,
            force: true,
            ..Default::default()
        },
    )
    .unwrap();
    Dataset::open_for_analysis(out).unwrap()
}

#[test]
fn real_all_crime_without_pois_matches_an_independent_count() {
    let Some(root) = common::real_data("briefing_real_all_crime") else {
        return;
    };
    // City of London Police: every crime type, 2018-01..2021-09, no POIs.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("city");
    let ds = ingest_without_pois(&root, &dir, &["city_of_london"]);
    let ctx = Context::build(&ds, Options::default()).unwrap();
    assert!(ctx.poi.is_err());
    assert_eq!(hotspots::month::format(ctx.period.to), "2021-09");
    let mut city: Vec<(usize, String)> = ward_codes(&ds)
        .into_iter()
        .filter(|c| c.as_str() <= "E05000025")
        .map(|c| (ctx.by_ward[ctx.ward(&c).unwrap()].len(), c))
        .collect();
    city.sort();
    for (_, code) in city.iter().rev().take(2).chain(city.iter().take(1)) {
        let (b, page) = check_ward(&dir, &ds, &ctx, code);
        assert!(b.few || page.contains("the dataset has no schools or stations"));
        assert!(b.few || b.by_type.len() > 1, "all crime types");
    }
    let (b, page) = check_ward(&dir, &ds, &ctx, &city.last().unwrap().1);
    // The pledge line: the borough's row of `hotspots pledge --by borough`
    // over the same period, run here on its own.
    let given: std::collections::BTreeMap<String, Vec<String>> = [
        ("from", hotspots::month::format(ctx.period.from)),
        ("to", hotspots::month::format(ctx.period.to)),
        ("by", "borough".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), vec![v]))
    .collect();
    let values = hotspots::analysis::params::Values::new(hotspots::analysis::pledge::PLEDGE.spec, given).unwrap();
    let req = hotspots::analysis::pledge::PledgeRequest::from_values(&values).unwrap();
    let p = hotspots::analysis::pledge::pledge(&ds, &req).unwrap();
    let row = p.areas.iter().find(|a| a.code == b.borough_code).unwrap();
    let f = row.figures.as_ref().unwrap();
    assert!(!row.small, "the City has enough violence");
    let want = format!("{:.0} recorded against {:.0} expected", f.observed, f.expected);
    assert!(b.pledge_line.contains(&want), "{} lacks {want}", b.pledge_line);
    assert!(b.pledge_line.contains(&row.area_verdict));
    assert!(page.contains("Is it working?"));

    // With the Met's all-crime sample (2023-01 only) the period moves to
    // 2022-02..2023-01: the City's wards have no incidents in it, and no
    // earlier months are covered to compare with.
    let dir2 = tmp.path().join("city_and_met");
    let ds2 = ingest_without_pois(&root, &dir2, &["city_of_london", "metropolitan_sample"]);
    let ctx2 = Context::build(&ds2, Options::default()).unwrap();
    assert_eq!(hotspots::month::format(ctx2.period.to), "2023-01");
    assert!(ctx2.year_earlier.is_none() && ctx2.previous.is_none());
    let (b, page) = check_ward(&dir2, &ds2, &ctx2, "E05000001");
    assert_eq!(b.total.current, 0);
    assert!(page.contains("Too few incidents for hotspot statistics: 0 in the period"));
    assert!(page.contains("the dataset has no earlier months to compare with"));
}
