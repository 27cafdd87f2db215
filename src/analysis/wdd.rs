//! Did a deployment work, and where did crime go? The weighted
//! displacement difference (WDD) test of Wheeler & Ratcliffe (2018, "A
//! simple weighted displacement difference test to evaluate place based
//! crime interventions", Crime Science 7:11) and the weighted displacement
//! quotient (WDQ) of Bowers & Johnson (2003, "Measuring the geographical
//! displacement and diffusion of benefit effects of crime prevention
//! activity", J. Quantitative Criminology 19(3)).
//!
//! With counts before (0) and after (1) in the treated area T, its control
//! C, the displacement area D around T and its control DC:
//!
//! - local `ΔT − ΔC`, displacement `ΔD − ΔDC`, total their sum (`Δx = x₁ − x₀`);
//! - variance under Poisson counts, the sum of the counts involved
//!   (`T₀ + T₁ + C₀ + C₁` locally); `z = WDD/SE`, the interval `WDD ± z_{1−α/2} SE`,
//!   the p-value two-sided normal.
//! - **Weights** (time periods of different lengths, areas of different
//!   sizes), as in Wheeler's `ptools::wdd`: each count is divided by its
//!   weight `w = time_weight × area_weight` and its variance term by `w²`.
//!   Area weights are given in the order C, T, DC, DT.
//! - **WDQ** `= (D₁/C₁ − D₀/C₀) / (T₁/C₁ − T₀/C₀)` (Bowers & Johnson's
//!   buffer measure over their success measure, with the treated area's
//!   control C for both), given only when the success measure is negative
//!   (the treated area fell against its control): above 0 the buffer
//!   improved too (diffusion of benefits), below 0 it worsened
//!   (displacement), beyond ±1 by more than the treated area improved.
//!
//! From the dataset (`--plan` or `--treated-areas`), the areas and their
//! counts come from [`super::wdd_areas`].

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal};

use super::cost::{Cost, Measure};
use super::param;
use super::params::{Param, ParamType, Spec, Values, HARM, SELECTION};

/// The incidents counted in dataset mode: crime types and kind as
/// everywhere; the months are `pre` and `post`, so `from`/`to` are offered
/// nowhere.
const WDD_SELECTION: &[Param] = &[
    SELECTION[0],
    SELECTION[1],
    SELECTION[2].http_only(),
    SELECTION[3].http_only(),
];
use super::run::{Analysis, Computed, Ctx, Output};
use super::AnalysisError;
use crate::dataset::Dataset;

/// `wdd`: the weighted displacement difference (CLI).
pub const WDD: Analysis = Analysis {
    spec: Spec {
        id: "wdd",
        title: "Did a deployment work? Weighted displacement difference",
        about: "The weighted displacement difference test (Wheeler & Ratcliffe 2018) with time and area weights, and the weighted displacement quotient (Bowers & Johnson 2003): from counts (--treated, --control, optionally --disp-treated, --disp-control; no dataset needed), or from the dataset with a surge plan's circles (--plan) or polygons (--treated-areas), rings of --buffer metres as displacement areas, controls chosen automatically or given, and --pre/--post periods.",
        groups: &[
            &[
                Param::new("treated", ParamType::Text, "counts mode: the treated area's counts PRE,POST"),
                Param::new("control", ParamType::Text, "counts mode: the control area's counts PRE,POST"),
                Param::new("disp_treated", ParamType::Text, "counts mode: the displacement area's counts PRE,POST"),
                Param::new(
                    "disp_control",
                    ParamType::Text,
                    "counts mode: the displacement control area's counts PRE,POST",
                ),
                Param::new("time_weights", ParamType::Text, "weights of the periods PRE,POST (e.g. months)")
                    .default_rule("1,1 with counts; from the dataset, the pre period's length over the post period's (estimates in post-period counts)"),
                Param::new(
                    "area_weights",
                    ParamType::Text,
                    "weights of the areas C,T,DC,DT (e.g. km²)",
                )
                .default("1,1,1,1"),
                Param::new("alpha", ParamType::Number, "1 − the interval's level")
                    .default("0.1")
                    .above(0.0)
                    .at_most(0.5),
            ],
            WDD_SELECTION,
            &[
                Param::new("plan", ParamType::Path, "dataset mode: the treated areas as a surge plan (.geojson written by hotspots surge)")
                    .cli_only(),
                Param::new(
                    "treated_areas",
                    ParamType::Path,
                    "dataset mode: the treated areas as GeoJSON polygons (WGS84, or BNG when the file's crs member says EPSG:27700)",
                )
                .cli_only(),
                Param::new(
                    "control_areas",
                    ParamType::Path,
                    "dataset mode: control areas as GeoJSON polygons, one per treated area in the same order",
                )
                .cli_only()
                .default_rule("chosen automatically (the rule is stated in the output)"),
                Param::metres("buffer", "dataset mode: width of the displacement ring around each area").default("400"),
                Param::new("pre", ParamType::Text, "dataset mode: the months before, FROM..TO (YYYY-MM..YYYY-MM)"),
                Param::new("post", ParamType::Text, "dataset mode: the months after, FROM..TO (YYYY-MM..YYYY-MM)"),
            ],
            HARM,
            &[Param::new("json", ParamType::Flag, "print the whole result as JSON instead of the summary").cli_only()],
        ],
        cli: true,
        http: false,
        properties: &[],
    },
    run: run_wdd,
    cost: cost_wdd,
    offline: Some(offline_wdd),
};

/// Counts before and after.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct PrePost {
    pub pre: f64,
    pub post: f64,
}

impl std::ops::AddAssign for PrePost {
    fn add_assign(&mut self, o: PrePost) {
        self.pre += o.pre;
        self.post += o.post;
    }
}

/// The four areas' counts and the weights.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WddCounts {
    pub treated: PrePost,
    pub control: PrePost,
    pub disp_treated: Option<PrePost>,
    pub disp_control: Option<PrePost>,
    /// (pre, post).
    pub time_weights: (f64, f64),
    /// C, T, DC, DT.
    pub area_weights: [f64; 4],
}

/// An estimate and its standard error.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    pub estimate: f64,
    pub se: f64,
}

/// The test's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WddResult {
    pub counts: WddCounts,
    pub local: Estimate,
    pub displacement: Option<Estimate>,
    pub total: Estimate,
    pub z: f64,
    /// Two-sided normal p-value of the total.
    pub p: f64,
    pub alpha: f64,
    /// The total's interval at level 1 − alpha.
    pub lower: f64,
    pub upper: f64,
    /// The displacement estimate's interval.
    pub displacement_lower: Option<f64>,
    pub displacement_upper: Option<f64>,
    /// Bowers & Johnson's WDQ, when defined (module docs).
    pub wdq: Option<f64>,
    pub wdq_note: String,
    /// In plain words.
    pub sentence: String,
}

/// A difference of weighted differences and its Poisson variance.
fn diff(t: PrePost, c: PrePost, wt: (f64, f64), wc: (f64, f64)) -> (f64, f64) {
    let est = (t.post / wt.1 - t.pre / wt.0) - (c.post / wc.1 - c.pre / wc.0);
    let var = t.post / (wt.1 * wt.1) + t.pre / (wt.0 * wt.0) + c.post / (wc.1 * wc.1) + c.pre / (wc.0 * wc.0);
    (est, var)
}

fn signed(v: f64) -> String {
    let r = v.round();
    if r < 0.0 {
        format!("\u{2212}{}", -r)
    } else if r > 0.0 {
        format!("+{r}")
    } else {
        "0".into()
    }
}

/// The WDD test (module docs). `what`: the treated areas in words
/// ("the surge areas"); `ring`: the displacement areas in words.
pub fn wdd(c: &WddCounts, alpha: f64, what: &str, ring: &str) -> WddResult {
    let (tw, aw) = (c.time_weights, c.area_weights);
    let w = |a: f64| (tw.0 * a, tw.1 * a);
    let (local, var_local) = diff(c.treated, c.control, w(aw[1]), w(aw[0]));
    let disp = match (c.disp_treated, c.disp_control) {
        (None, None) => None,
        (dt, dc) => Some(diff(dt.unwrap_or_default(), dc.unwrap_or_default(), w(aw[3]), w(aw[2]))),
    };
    let (dest, dvar) = disp.unwrap_or((0.0, 0.0));
    let total = local + dest;
    let se = (var_local + dvar).sqrt();
    let zc = Normal::standard().inverse_cdf(1.0 - alpha / 2.0);
    let z = if se > 0.0 { total / se } else { 0.0 };
    let p = 2.0 * (1.0 - Normal::standard().cdf(z.abs()));
    let (lower, upper) = (total - zc * se, total + zc * se);
    let level = format!("{:.0}% interval", 100.0 * (1.0 - alpha));
    // WDQ with the treated area's control for both measures.
    let (t, cc) = (c.treated, c.control);
    let success = if cc.post > 0.0 && cc.pre > 0.0 {
        Some(t.post / cc.post - t.pre / cc.pre)
    } else {
        None
    };
    let (wdq, wdq_note) = match (c.disp_treated, success) {
        (None, _) => (None, "no displacement areas".to_string()),
        (_, None) => (None, "the control area has no incidents in a period".to_string()),
        (Some(_), Some(s)) if s >= 0.0 => (
            None,
            "the treated area did not fall against its control (success measure ≥ 0): WDQ is not defined".to_string(),
        ),
        (Some(d), Some(s)) => {
            let q = (d.post / cc.post - d.pre / cc.pre) / s;
            let note = if q > 1.0 {
                "diffusion of benefits larger than the direct effect"
            } else if q > 0.0 {
                "diffusion of benefits into the displacement area"
            } else if q == 0.0 {
                "no change in the displacement area"
            } else if q >= -1.0 {
                "some displacement, smaller than the direct effect"
            } else {
                "displacement larger than the direct effect"
            };
            (Some(q), format!("WDQ {q:.2}: {note} (Bowers & Johnson 2003)"))
        }
    };
    let mut sentence = if upper < 0.0 {
        format!(
            "crime in {what} fell by {:.0} more than in their controls ({level} {} to {})",
            -total,
            signed(lower),
            signed(upper)
        )
    } else if lower > 0.0 {
        format!(
            "crime in {what} rose by {:.0} more than in their controls ({level} {} to {})",
            total,
            signed(lower),
            signed(upper)
        )
    } else {
        format!(
            "no detectable change in {what} against their controls ({} , {level} {} to {})",
            signed(total),
            signed(lower),
            signed(upper)
        )
        .replace(" ,", ",")
    };
    let (mut dlo, mut dhi) = (None, None);
    if let Some((d, v)) = disp {
        let (lo, hi) = (d - zc * v.sqrt(), d + zc * v.sqrt());
        dlo = Some(lo);
        dhi = Some(hi);
        let words = if hi < 0.0 {
            format!(
                "crime also fell in {ring} (diffusion of benefits: {} , {level} {} to {})",
                signed(d),
                signed(lo),
                signed(hi)
            )
        } else if lo > 0.0 {
            format!(
                "evidence of displacement into {ring} ({}, {level} {} to {})",
                signed(d),
                signed(lo),
                signed(hi)
            )
        } else {
            format!(
                "no evidence of displacement into {ring} ({}, {level} {} to {})",
                signed(d),
                signed(lo),
                signed(hi)
            )
        };
        sentence.push_str("; ");
        sentence.push_str(&words.replace(" ,", ","));
    }
    WddResult {
        counts: *c,
        local: Estimate {
            estimate: local,
            se: var_local.sqrt(),
        },
        displacement: disp.map(|(e, v)| Estimate {
            estimate: e,
            se: v.sqrt(),
        }),
        total: Estimate { estimate: total, se },
        z,
        p,
        alpha,
        lower,
        upper,
        displacement_lower: dlo,
        displacement_upper: dhi,
        wdq,
        wdq_note,
        sentence,
    }
}

/// `n` comma-separated non-negative numbers.
fn numbers(name: &str, s: &str, n: usize, positive: bool) -> Result<Vec<f64>, AnalysisError> {
    let v: Vec<f64> = s
        .split(',')
        .map(|x| x.trim().parse::<f64>().ok().filter(|x| x.is_finite()))
        .collect::<Option<Vec<_>>>()
        .filter(|v| v.len() == n)
        .ok_or_else(|| param(name, format!("{s:?} is not {n} comma-separated numbers")))?;
    if v.iter().any(|x| if positive { *x <= 0.0 } else { *x < 0.0 }) {
        return Err(param(
            name,
            format!(
                "{s:?}: every value must be {}",
                if positive { "greater than 0" } else { "at least 0" }
            ),
        ));
    }
    Ok(v)
}

/// The weights: given, or `default_time` for the periods.
pub fn weights(v: &Values, default_time: (f64, f64)) -> Result<((f64, f64), [f64; 4]), AnalysisError> {
    let time = match v.str("time_weights") {
        Some(s) => {
            let t = numbers("time_weights", s, 2, true)?;
            (t[0], t[1])
        }
        None => default_time,
    };
    let a = numbers("area_weights", v.str("area_weights").unwrap_or("1,1,1,1"), 4, true)?;
    Ok((time, [a[0], a[1], a[2], a[3]]))
}

/// Counts mode: `Ok(None)` when `treated` is not given (dataset mode).
pub fn counts_from_values(v: &Values) -> Result<Option<WddCounts>, AnalysisError> {
    let pair = |name: &str| -> Result<Option<PrePost>, AnalysisError> {
        v.str(name)
            .map(|s| numbers(name, s, 2, false).map(|x| PrePost { pre: x[0], post: x[1] }))
            .transpose()
    };
    let Some(treated) = pair("treated")? else {
        for name in ["control", "disp_treated", "disp_control"] {
            if v.given(name) {
                return Err(param("treated", format!("give the treated area's counts with {name}")));
            }
        }
        return Ok(None);
    };
    let control = pair("control")?.ok_or_else(|| param("control", "give the control area's counts PRE,POST"))?;
    for name in ["plan", "treated_areas", "control_areas", "pre", "post"] {
        if v.given(name) {
            return Err(param(
                name,
                "counts mode (treated, control) and dataset mode do not mix; give one or the other",
            ));
        }
    }
    let (time_weights, area_weights) = weights(v, (1.0, 1.0))?;
    Ok(Some(WddCounts {
        treated,
        control,
        disp_treated: pair("disp_treated")?,
        disp_control: pair("disp_control")?,
        time_weights,
        area_weights,
    }))
}

fn counts_summary(r: &WddResult) -> String {
    let mut s = format!(
        "WDD (Wheeler & Ratcliffe 2018): local {:.2} (SE {:.2})",
        r.local.estimate, r.local.se
    );
    if let Some(d) = r.displacement {
        s.push_str(&format!(", displacement {:.2} (SE {:.2})", d.estimate, d.se));
    }
    s.push_str(&format!(
        ", total {:.2} (SE {:.2}); z = {:.2}, two-sided p = {:.4}; {:.0}% interval {:.1} to {:.1}\n",
        r.total.estimate,
        r.total.se,
        r.z,
        r.p,
        100.0 * (1.0 - r.alpha),
        r.lower,
        r.upper
    ));
    s.push_str(&format!("WDQ: {}\n{}", r.wdq_note, r.sentence));
    s
}

fn offline_wdd(v: &Values) -> Result<Option<Computed>, AnalysisError> {
    let Some(counts) = counts_from_values(v)? else {
        return Ok(None);
    };
    let r = wdd(&counts, v.number("alpha")?, "the treated area", "the displacement area");
    let summary = if v.flag("json") {
        serde_json::to_string_pretty(&r).map_err(|e| AnalysisError::Data(e.to_string()))?
    } else {
        counts_summary(&r)
    };
    let json = serde_json::to_string_pretty(&r).map_err(|e| AnalysisError::Data(e.to_string()))?;
    Ok(Some(Computed {
        main: Output::Text(json + "\n"),
        summary,
        extras: Vec::new(),
    }))
}

fn run_wdd(c: &Ctx<'_>, v: &Values) -> Result<Computed, AnalysisError> {
    if let Some(done) = offline_wdd(v)? {
        return Ok(done);
    }
    super::wdd_areas::run(c.dataset, v)
}

fn cost_wdd(ds: &Dataset, v: &Values) -> Result<Cost, AnalysisError> {
    let _ = v;
    let n = super::cost::incidents(ds);
    Ok(Cost {
        cells: Measure::new(1.0, None),
        pairs: Measure::new(n, None),
        work: Measure::new(n * 4.0, None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pp(pre: f64, post: f64) -> PrePost {
        PrePost { pre, post }
    }

    /// The worked example of Wheeler & Ratcliffe (2018): treated 207 → 110,
    /// control 308 → 318, displacement 178 → 157, its control 150 → 140:
    /// WDD −118, SE √1568, z −2.98, 95% interval −196 to −40 (the paper's
    /// figures, rounded as published).
    #[test]
    fn the_papers_worked_example() {
        let c = WddCounts {
            treated: pp(207.0, 110.0),
            control: pp(308.0, 318.0),
            disp_treated: Some(pp(178.0, 157.0)),
            disp_control: Some(pp(150.0, 140.0)),
            time_weights: (1.0, 1.0),
            area_weights: [1.0; 4],
        };
        let r = wdd(&c, 0.05, "the treated area", "the displacement area");
        assert_eq!(r.total.estimate, -118.0);
        assert!((r.total.se - 1568f64.sqrt()).abs() < 1e-12);
        assert_eq!((r.z * 100.0).round() / 100.0, -2.98);
        assert_eq!((r.lower.round(), r.upper.round()), (-196.0, -40.0));
        // Hand-worked parts: local (110 − 207) − (318 − 308) = −107, SE √943;
        // displacement (157 − 178) − (140 − 150) = −11, SE √625 = 25.
        assert_eq!(r.local.estimate, -107.0);
        assert!((r.local.se - 943f64.sqrt()).abs() < 1e-12);
        assert_eq!(r.displacement.unwrap().estimate, -11.0);
        assert_eq!(r.displacement.unwrap().se, 25.0);
        assert!(r.sentence.starts_with("crime in the treated area fell by 118 more than in their controls (95% interval \u{2212}196 to \u{2212}40); no evidence of displacement"), "{}", r.sentence);
        // WDQ = (157/318 − 178/308) / (110/318 − 207/308), computed directly.
        let q = (157.0 / 318.0 - 178.0 / 308.0) / (110.0 / 318.0 - 207.0 / 308.0);
        assert!((r.wdq.unwrap() - q).abs() < 1e-15 && q > 0.0);
    }

    /// Weights: each count over time × area weight, variance over its square
    /// (the published weighted formula computed term by term here).
    #[test]
    fn weights_divide_counts_and_their_variance() {
        let c = WddCounts {
            treated: pp(20.0, 10.0),
            control: pp(20.0, 20.0),
            disp_treated: Some(pp(30.0, 20.0)),
            disp_control: Some(pp(30.0, 30.0)),
            time_weights: (2.0, 1.0),
            area_weights: [2.0, 1.5, 3.0, 3.2],
        };
        let r = wdd(&c, 0.1, "t", "d");
        let local = (10.0 / 1.5 - 20.0 / 3.0) - (20.0 / 2.0 - 20.0 / 4.0);
        let var_local: f64 = 10.0 / 2.25 + 20.0 / 9.0 + 20.0 / 4.0 + 20.0 / 16.0;
        let disp = (20.0 / 3.2 - 30.0 / 6.4) - (30.0 / 3.0 - 30.0 / 6.0);
        let var_disp: f64 = 20.0 / (3.2 * 3.2) + 30.0 / (6.4 * 6.4) + 30.0 / 9.0 + 30.0 / 36.0;
        assert!((r.local.estimate - local).abs() < 1e-12);
        assert!((r.local.se - var_local.sqrt()).abs() < 1e-12);
        assert!((r.displacement.unwrap().estimate - disp).abs() < 1e-12);
        assert!((r.total.se - (var_local + var_disp).sqrt()).abs() < 1e-12);
        let zc = 1.6448536269514722;
        assert!((r.upper - (local + disp + zc * (var_local + var_disp).sqrt())).abs() < 1e-9);
    }

    #[test]
    fn counts_are_checked_and_errors_name_the_parameter() {
        use std::collections::BTreeMap;
        let run = |pairs: &[(&str, &str)]| {
            let m: BTreeMap<String, Vec<String>> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
                .collect();
            counts_from_values(&Values::new(WDD.spec, m).unwrap())
        };
        for (pairs, name) in [
            (vec![("treated", "1,2,3"), ("control", "1,2")], "treated"),
            (vec![("treated", "1,2")], "control"),
            (vec![("treated", "1,-2"), ("control", "1,2")], "treated"),
            (
                vec![("treated", "1,2"), ("control", "1,2"), ("area_weights", "1,1,0,1")],
                "area_weights",
            ),
            (
                vec![("treated", "1,2"), ("control", "1,2"), ("pre", "2024-01..2024-06")],
                "pre",
            ),
            (vec![("control", "1,2")], "treated"),
        ] {
            match run(&pairs) {
                Err(AnalysisError::Param { name: n, .. }) => assert_eq!(n, name, "{pairs:?}"),
                other => panic!("{pairs:?}: {other:?}"),
            }
        }
        assert!(run(&[]).unwrap().is_none());
    }
}
