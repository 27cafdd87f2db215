//! The pledge: its counterfactual against statsmodels (coefficients,
//! standard errors, α̂, prediction intervals), the 2020 lockdown on the
//! real City of London data, and the CLI/API surfaces.

use std::process::Command;

use hotspots::analysis::glm::{self, Family};
use hotspots::analysis::pledge::{design, pledge, PledgeRequest, PLEDGE};
use rand::SeedableRng;
use rand_distr::{Distribution, Gamma, Poisson};
use serde_json::{json, Value};

use crate::common;

/// 24 baseline months from 2018-01 with seasonality and a trend; NB2 with
/// `alpha` (Poisson when 0) through a gamma mixture.
fn series(seed: u64, level: f64, alpha: f64) -> (Vec<u32>, Vec<f64>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let start = hotspots::month::parse("2018-01").unwrap();
    let months: Vec<u32> = (start..start + 24).collect();
    let y = months
        .iter()
        .map(|&m| {
            let season = 1.0 + 0.25 * ((m % 12) as f64 * std::f64::consts::TAU / 12.0).sin();
            let mut mu = level * season * (1.0 + 0.01 * (m - start) as f64);
            if alpha > 0.0 {
                mu *= Gamma::new(1.0 / alpha, alpha).unwrap().sample(&mut rng);
            }
            Poisson::new(mu).unwrap().sample(&mut rng)
        })
        .collect();
    (months, y)
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

fn close(what: &str, ours: &[f64], theirs: &Value, tol: f64) {
    let theirs: Vec<f64> = theirs
        .as_array()
        .unwrap_or_else(|| panic!("{what}: missing"))
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(ours.len(), theirs.len(), "{what}");
    for (k, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        assert!(
            rel(*a, *b) <= tol,
            "{what}[{k}]: ours {a} statsmodels {b} (rel {:e})",
            rel(*a, *b)
        );
    }
}

/// Coefficients and standard errors of the Poisson and NB2 GLMs (at the ML
/// α and at Breslow's moment α), the Pearson test's p-value, the α's, and
/// the delta-method prediction intervals, against statsmodels 0.15.0 /
/// scipy 1.17.1 on the same months (the design built independently in
/// Python): coefficients, SEs and intervals to 1e-6 relative, the Pearson
/// p to 1e-9 absolute, the moment α (scipy's brentq root) to 1e-8; α̂ (ML, the engine by
/// bisection of the profile score, statsmodels by Newton on the joint
/// likelihood, BFGS then Newton) to 1e-8 relative; with α̂ = 0, NB2's
/// log-likelihood on a grid of α (statsmodels) never above Poisson's.
#[test]
fn counterfactual_matches_statsmodels() {
    let Some(python) = common::reference_python("pledge counterfactual_matches_statsmodels") else {
        return;
    };
    let z = 1.959963984540054;
    let (mut nb_seen, mut boundary_seen, mut moment_seen) = (false, false, false);
    for (seed, level, alpha) in [(1, 60.0, 0.0), (2, 120.0, 0.08), (3, 15.0, 0.3), (4, 400.0, 0.02)] {
        let (months, y) = series(seed, level, alpha);
        let eval: Vec<u32> = (months[23] + 1..months[23] + 22).collect();
        let x = design(&months, months[0]);
        let xe = design(&eval, months[0]);
        let c = glm::choose(&x, &y).unwrap();
        let alpha_of = |f: Option<&glm::Fit>| match f.map(|f| f.family) {
            Some(Family::NegativeBinomial { alpha }) => alpha,
            _ => 0.0,
        };
        let (nb_alpha, moment_alpha) = (alpha_of(c.nb.as_ref()), alpha_of(c.nb_moment.as_ref()));
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("series.json");
        let out = dir.path().join("ref.json");
        std::fs::write(
            &input,
            json!({"baseline_months": months, "y": y, "eval_months": eval, "nb_alpha": nb_alpha, "nb_moment_alpha": moment_alpha, "z": z}).to_string(),
        )
        .unwrap();
        let status = Command::new(&python)
            .arg(common::repo().join("tests/reference/pledge_glm.py"))
            .arg("--input")
            .arg(&input)
            .arg("--out")
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success(), "reference script failed");
        let text = std::fs::read_to_string(&out).unwrap();
        let r: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        let case = format!("seed {seed}");
        let mut fits = vec![("poisson", &c.poisson, "predict_poisson")];
        // The deciding Pearson test.
        let pp = r["poisson"]["pearson_p"].as_f64().unwrap();
        assert!(
            (c.pearson_p - pp).abs() < 1e-9,
            "{case}: Pearson p ours {} statsmodels {pp}",
            c.pearson_p
        );
        assert!(rel(c.poisson.pearson_chi2, r["poisson"]["pearson_chi2"].as_f64().unwrap()) < 1e-6);
        if let Some(m) = &c.nb_moment {
            moment_seen = true;
            fits.push(("nb_moment", m, "predict_nb_moment"));
            let theirs = r["nb_moment"]["alpha"].as_f64().unwrap();
            assert!(
                rel(moment_alpha, theirs) < 1e-8,
                "{case}: moment alpha ours {moment_alpha} scipy {theirs}"
            );
        }
        if let Some(nb) = &c.nb {
            nb_seen = true;
            fits.push(("nb", nb, "predict_nb"));
            let theirs = r["nb_ml"]["alpha"].as_f64().unwrap();
            assert!(
                rel(nb_alpha, theirs) < 1e-8,
                "{case}: alpha ours {nb_alpha} statsmodels {theirs}"
            );
        } else {
            boundary_seen = true;
            // α̂ = 0: NB2's profile log-likelihood (statsmodels) never beats Poisson's.
            let poisson_llf = r["poisson_llf"].as_f64().unwrap();
            assert!((c.poisson.loglik - poisson_llf).abs() < 1e-6 * poisson_llf.abs());
            for pair in r["nb_profile"].as_array().unwrap() {
                assert!(
                    pair[1].as_f64().unwrap() <= poisson_llf + 1e-9,
                    "{case}: {pair} above {poisson_llf}"
                );
            }
        }
        for (name, fit, pred) in fits {
            close(&format!("{case} {name} params"), &fit.beta, &r[name]["params"], 1e-6);
            close(&format!("{case} {name} bse"), &fit.se, &r[name]["bse"], 1e-6);
            let p = &r[pred];
            let each: Vec<_> = (0..eval.len()).map(|i| fit.predict_sum(&xe, &[i])).collect();
            close(
                &format!("{case} {name} mean"),
                &each.iter().map(|q| q.mean).collect::<Vec<_>>(),
                &p["mean"],
                1e-6,
            );
            close(
                &format!("{case} {name} se_mean"),
                &each.iter().map(|q| q.se_mean).collect::<Vec<_>>(),
                &p["se_mean"],
                1e-6,
            );
            close(
                &format!("{case} {name} lower"),
                &each.iter().map(|q| q.interval(z).0).collect::<Vec<_>>(),
                &p["lower"],
                1e-6,
            );
            close(
                &format!("{case} {name} upper"),
                &each.iter().map(|q| q.interval(z).1).collect::<Vec<_>>(),
                &p["upper"],
                1e-6,
            );
            let all: Vec<usize> = (0..eval.len()).collect();
            let sum = fit.predict_sum(&xe, &all);
            assert!(
                rel(sum.mean, p["sum_mean"].as_f64().unwrap()) < 1e-6,
                "{case} {name} sum"
            );
            assert!(
                rel(sum.sd, p["sum_sd"].as_f64().unwrap()) < 1e-6,
                "{case} {name} sum sd"
            );
        }
    }
    assert!(
        nb_seen && boundary_seen && moment_seen,
        "every case: NB2 by ML {nb_seen}, ML alpha = 0 {boundary_seen}, moment alpha {moment_seen}"
    );
}

/// The City of London's all-crime counts, 2018-01..2021-09: the 2020
/// lockdown is a real shock the counterfactual must detect.
#[test]
fn the_2020_lockdown_is_detected_in_the_city_of_london() {
    let Some(out) = common::city_dataset("pledge lockdown") else {
        return;
    };
    let ds = hotspots::dataset::Dataset::open(&out).unwrap();
    let values = |pairs: &[(&str, &str)]| {
        let given = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
            .collect();
        hotspots::analysis::params::Values::new(PLEDGE.spec, given).unwrap()
    };
    let v = values(&[
        ("baseline", "2018-01..2019-12"),
        ("from", "2020-01"),
        ("to", "2021-09"),
        ("crime_type", "all"),
    ]);
    let p = pledge(&ds, &PledgeRequest::from_values(&v).unwrap()).unwrap();
    let c = &p.cumulative;
    assert!(c.pct_upper < 0.0, "cumulative not down: {}", c.verdict);
    assert!(c.verdict.starts_with("down "), "{}", c.verdict);
    // The first lockdown (from 23 March 2020): April and May are far below.
    for m in ["2020-04", "2020-05"] {
        let row = p.months.iter().find(|r| r.figures.period == m).unwrap();
        assert!(
            row.figures.difference_upper < 0.0 && row.figures.p < 0.001,
            "{m}: {}",
            row.figures.verdict
        );
        assert!(row.flagged, "{m} not flagged by the EWMA chart");
    }
    // January 2020, before the pandemic, is not flagged by the chart.
    assert!(!p.months[0].flagged, "2020-01 flagged");
    // The observed counts are the dataset's: the baseline's monthly mean
    // times 24 is the number of crimes (kind crime, no ASB) in 2018-2019.
    let rows = hotspots::analysis::select::Selection {
        from: Some("2018-01".into()),
        to: Some("2019-12".into()),
        ..Default::default()
    }
    .rows(&ds)
    .unwrap();
    assert!((p.model.baseline_monthly_mean * 24.0 - rows.len() as f64).abs() < 1e-6);

    // By ward: the City's 25 wards; BH across those given a verdict.
    let v = values(&[
        ("baseline", "2018-01..2019-12"),
        ("crime_type", "all"),
        ("to", "2021-09"),
        ("area", "borough:E09000001"),
        ("by", "ward"),
    ]);
    let p = pledge(&ds, &PledgeRequest::from_values(&v).unwrap()).unwrap();
    assert_eq!(p.areas.len(), 25);
    assert!(p.areas.iter().any(|a| a.significant));
    assert!(p.areas.iter().all(|a| a.small == a.q.is_none()));
    let layer = p.to_layer(&ds).unwrap();
    assert_eq!(layer.features.len(), 25);

    // Over HTTP: the same figures as features, bad parameters as problem documents.
    let base = common::serve_dataset(&out);
    let get = |q: &str| {
        let r = common::http::request("GET", &format!("{base}/collections/pledge/items?{q}"), &[], None).unwrap();
        (r.status, serde_json::from_slice::<Value>(&r.body).unwrap())
    };
    let (status, doc) = get("baseline=2018-01..2019-12&from=2020-01&to=2021-09&crime_type=all");
    assert_eq!(status, 200, "{doc}");
    let features = doc["features"].as_array().unwrap();
    assert_eq!(features.len(), 22, "21 months and the cumulative row");
    let april = features.iter().find(|f| f["id"] == "2020-04").unwrap();
    assert_eq!(april["properties"]["flagged"], true);
    let (status, doc) = get("baseline=2018-01..2018-12&crime_type=all");
    assert_eq!(status, 400);
    assert!(doc.to_string().contains("baseline"), "{doc}");
    let (status, doc) = get("baseline=2018-01..2019-12&to=2021-09&crime_type=all&by=ward&area=borough:E09000001");
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["features"].as_array().unwrap().len(), 25);

    // Months absent from the data and unknown areas name the parameter.
    for (pairs, name) in [
        (vec![("baseline", "2016-01..2017-12")], "baseline"),
        (vec![("baseline", "2018-01..2019-12"), ("to", "2022-06")], "to"),
        (
            vec![("baseline", "2018-01..2019-12"), ("area", "ward:E05999999")],
            "area",
        ),
        (
            vec![
                ("baseline", "2018-01..2019-12"),
                ("area", "ward:E05000001"),
                ("by", "ward"),
            ],
            "by",
        ),
    ] {
        match pledge(&ds, &PledgeRequest::from_values(&values(&pairs)).unwrap()) {
            Err(hotspots::analysis::AnalysisError::Param { name: n, message }) => {
                assert_eq!(n, name, "{pairs:?}: {message}")
            }
            other => panic!("{pairs:?}: {:?}", other.map(|p| p.cumulative.verdict)),
        }
    }
}
