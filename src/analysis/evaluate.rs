//! Does it work? A rolling-origin backtest of the predictors and the surge
//! selector.
//!
//! For every origin month t with `window_months` months before it: train on
//! months t−k … t−1, score every cell of a square grid (BNG metres), and
//! take the best-scored cells covering each share `c` of the study area.
//! Against month t's incidents:
//!
//! - **hit rate** `n/N`: the share of month t's incidents in the chosen cells;
//! - **PAI** (Chainey, Tompson & Uhlig 2008) `(n/N)/(a/A)`: hit rate over area share;
//! - **PEI** (Hunt 2016) `n/n*`: hits over the most any choice of the same
//!   number of cells could have caught (the oracle: month t's own top cells);
//!   so PEI = 1 is perfect and `PAI* = (n*/N)/(a/A)` is the oracle PAI;
//! - **RRI** (Levine 2008) `(n/N)/(n₁/N₁)`: month t's hit rate over the
//!   training window's, in the same cells (below 1 when hotspots fade).
//!
//! The surge selector chooses disjoint circles (see [`super::surge`]) on its
//! predictor's scores until they cover the share `c`; its area is the cells
//! the circles cover.
//!
//! Figures are averaged over origins with their standard deviation; the
//! winner at each coverage is the method with the highest mean PAI, and
//! `won_share` is the share of origins on which it beat the runner-up.
//! RRI is infinite when the chosen cells had no incident in the training
//! window but some in month t, and undefined (0/0) when they had none in
//! either: such origins are left out of the RRI mean and counted in
//! `rri_infinite` and `rri_undefined` (the table says so).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::cost::{self, Cost, Lever, Measure};
use super::harm::HarmTable;
use super::param;
use super::params::{Param, ParamType, Spec, Values, HARM, SELECTION};
use super::predict::{disc_stencil, History, Model, Predictor, PredictorParams};
use super::run::{Analysis, Computed, Ctx, Output};
use super::select::Selection;
use super::AnalysisError;
use crate::dataset::Dataset;

/// `evaluate`: the rolling-origin backtest (a CLI command).
pub const EVALUATE: Analysis = Analysis {
    spec: Spec {
        id: "evaluate",
        title: "Rolling-origin backtest",
        about: "Rolling-origin backtest: hit rate, PAI, PEI and RRI of each predictor by coverage, over every origin month.",
        groups: &[
            SELECTION,
            &[
                Param::metres("cell", "grid cell").default("250"),
                Param::new("window", ParamType::Integer, "training months before each origin")
                    .default("12")
                    .at_least(1.0)
                    .unit("months"),
                Param::new("coverage", ParamType::Number, "coverage levels, repeatable")
                    .list()
                    .default("0.5,1,2,5")
                    .unit("% of the study area")
                    .above(0.0)
                    .at_most(100.0),
                Param::new(
                    "method",
                    ParamType::Text,
                    "methods, repeatable: counts, kde, prospective, gistar, surge (on kde) or surge_<predictor>, oracle",
                )
                .list()
                .default("counts,kde,prospective,gistar,surge"),
                Param::metres("surge_radius", "surge circle radius").default("400"),
                Param::metres("bandwidth", "KDE bandwidth").default("400"),
                Param::new("step", ParamType::Integer, "use every n-th origin month").default("1").at_least(1.0),
            ],
            HARM,
            &[Param::new("summary_out", ParamType::Path, "the summary table as CSV").cli_only()],
        ],
        cli: true,
        http: false,
        properties: &[],
    },
    run: run_evaluate,
    cost: cost_evaluate,
    offline: None,
};

/// The cost of a backtest: per origin month, every method's predictions
/// over the grid (KDE and surge smooth over the cells within the bandwidth
/// or radius).
fn cost_evaluate(ds: &Dataset, v: &Values) -> Result<Cost, AnalysisError> {
    let req = EvaluateRequest::from_values(v)?;
    let area = cost::study_area_m2(ds);
    let cells = cost::grid_cells(area, req.cell_m, false);
    let origins = (cost::months(ds) / req.step.max(1) as f64).max(1.0);
    let smooth = cost::band_neighbours(
        req.params.kde_bandwidth_m.max(req.surge_radius_m),
        req.cell_m * req.cell_m,
    );
    let lever = Some(Lever::Inverse {
        param: "cell",
        value: req.cell_m,
        power: 2.0,
    });
    Ok(Cost {
        cells: Measure::new(cells, lever),
        pairs: Measure::new(cells * cost::months(ds), lever),
        work: Measure::new(origins * req.methods.len() as f64 * cells * smooth, lever),
    })
}

impl std::str::FromStr for Method {
    type Err = String;

    /// `oracle`, `surge` (on KDE), `surge_<predictor>`, or a predictor.
    fn from_str(s: &str) -> Result<Method, String> {
        let m = s.trim().to_ascii_lowercase().replace('-', "_");
        let parsed = match m.as_str() {
            "oracle" => Ok(Method::Oracle),
            "surge" => Ok(Method::Surge(Predictor::Kde)),
            _ => match m.strip_prefix("surge_") {
                Some(p) => p.parse().map(Method::Surge),
                None => m.parse().map(Method::Predictor),
            },
        };
        parsed.map_err(|_| format!("{s:?} is not counts, kde, prospective, gistar, surge[_P] or oracle"))
    }
}

impl EvaluateRequest {
    /// The request from checked parameter values.
    pub fn from_values(v: &Values) -> Result<EvaluateRequest, AnalysisError> {
        let d = EvaluateRequest::default();
        let mut params = d.params;
        params.kde_bandwidth_m = v.number("bandwidth")?;
        let methods = v
            .list("method")
            .iter()
            .map(|m| {
                m.parse::<Method>().map_err(|message| AnalysisError::Param {
                    name: "method".into(),
                    message,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(EvaluateRequest {
            selection: v.selection()?,
            cell_m: v.number("cell")?,
            window_months: v.count("window")?,
            coverages: v.numbers("coverage")?.iter().map(|c| c / 100.0).collect(),
            methods,
            params,
            surge_radius_m: v.number("surge_radius")?,
            harm: v.harm()?,
            step: v.count("step")?,
        })
    }
}

fn run_evaluate(c: &Ctx<'_>, v: &Values) -> Result<Computed, AnalysisError> {
    let result = evaluate(c.dataset, &EvaluateRequest::from_values(v)?)?;
    let mut extras = Vec::new();
    if v.given("summary_out") {
        extras.push(("summary_out", Output::Text(result.summary_csv())));
    }
    Ok(Computed {
        main: Output::Text(result.scores_csv()),
        summary: result.table().trim_end().to_string(),
        extras,
    })
}

/// A way of choosing cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Top cells by a predictor's score.
    Predictor(Predictor),
    /// Disjoint circles on a predictor's scores.
    Surge(Predictor),
    /// The month's own top cells (a perfect predictor; PEI = 1 by definition).
    Oracle,
}

impl Method {
    pub fn name(self) -> String {
        match self {
            Method::Predictor(p) => p.as_str().to_string(),
            Method::Surge(p) => format!("surge_{}", p.as_str()),
            Method::Oracle => "oracle".into(),
        }
    }
}

/// What to backtest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluateRequest {
    /// Incidents (and the months) to use.
    pub selection: Selection,
    pub cell_m: f64,
    /// Training months before each origin.
    pub window_months: usize,
    /// Shares of the study area (0.01 = 1%).
    pub coverages: Vec<f64>,
    pub methods: Vec<Method>,
    pub params: PredictorParams,
    /// Surge circle radius, metres.
    pub surge_radius_m: f64,
    pub harm: Option<HarmTable>,
    /// Use every `step`-th origin.
    pub step: usize,
}

impl Default for EvaluateRequest {
    fn default() -> Self {
        EvaluateRequest {
            selection: Selection::default(),
            cell_m: 250.0,
            window_months: 12,
            coverages: vec![0.005, 0.01, 0.02, 0.05],
            methods: vec![
                Method::Predictor(Predictor::Counts),
                Method::Predictor(Predictor::Kde),
                Method::Predictor(Predictor::Prospective),
                Method::Predictor(Predictor::GiStar),
                Method::Surge(Predictor::Kde),
            ],
            params: PredictorParams::default(),
            surge_radius_m: 400.0,
            harm: None,
            step: 1,
        }
    }
}

/// One origin, method and coverage.
#[derive(Debug, Clone, Serialize)]
pub struct Score {
    /// The month predicted (`YYYY-MM`).
    pub month: String,
    pub method: String,
    pub coverage: f64,
    /// Cells chosen and their share of the study area.
    pub cells: usize,
    pub area_share: f64,
    pub hits: f64,
    pub total: f64,
    pub hit_rate: f64,
    pub pai: f64,
    pub pei: f64,
    pub rri: f64,
    /// The oracle's PAI at the same area.
    pub pai_max: f64,
}

/// Mean and spread over origins.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub method: String,
    pub coverage: f64,
    pub origins: usize,
    pub hit_rate_mean: f64,
    pub hit_rate_sd: f64,
    pub pai_mean: f64,
    pub pai_sd: f64,
    pub pei_mean: f64,
    pub pei_sd: f64,
    pub rri_mean: f64,
    pub rri_sd: f64,
    /// Origins left out of the RRI mean: infinite RRI (no training
    /// incidents in the chosen cells), and undefined (0/0).
    pub rri_infinite: usize,
    pub rri_undefined: usize,
}

/// The best method at one coverage.
#[derive(Debug, Clone, Serialize)]
pub struct Winner {
    pub coverage: f64,
    pub best: String,
    pub runner_up: String,
    pub pai_best: f64,
    pub pai_runner_up: f64,
    /// `pai_best / pai_runner_up`.
    pub ratio: f64,
    /// Share of origins on which the best beat the runner-up (paired).
    pub won_share: f64,
}

#[derive(Debug, Clone)]
pub struct Evaluation {
    pub request: EvaluateRequest,
    /// The kind and crime types counted.
    pub counted: super::select::Counted,
    pub scores: Vec<Score>,
    pub summary: Vec<Summary>,
    pub winners: Vec<Winner>,
    pub cells: usize,
    pub origins: usize,
}

/// Cells ordered best first (ties by cell index, for repeatable results).
fn ranked(score: &[f64]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..score.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| score[b as usize].total_cmp(&score[a as usize]).then(a.cmp(&b)));
    order
}

/// Runs the backtest.
pub fn evaluate(ds: &Dataset, req: &EvaluateRequest) -> Result<Evaluation, AnalysisError> {
    if req.window_months == 0 {
        return Err(param("window", "must be at least 1 month"));
    }
    if req.coverages.is_empty() || req.coverages.iter().any(|c| !(*c > 0.0 && *c <= 1.0)) {
        return Err(param(
            "coverage",
            "give shares of the study area in (0, 1], e.g. 0.01 for 1%",
        ));
    }
    if req.methods.is_empty() {
        return Err(param("methods", "give at least one method"));
    }
    if req.step == 0 {
        return Err(param("step", "must be at least 1"));
    }
    super::positive_metres("surge_radius", req.surge_radius_m)?;
    let history = History::build(ds, &req.selection, req.cell_m, req.harm.as_ref())?;
    let months = history.months();
    if months <= req.window_months {
        return Err(param(
            "window",
            format!(
                "{} months of data leave no origin after a {}-month training window",
                months, req.window_months
            ),
        ));
    }
    let model = Model::new(&history, req.params)?;
    let cells = history.grid.cells.len();
    let centres: Vec<[f64; 2]> = history.grid.cells.iter().map(|c| c.centre).collect();
    let disc = disc_stencil(req.surge_radius_m, req.cell_m);
    let disc_cells: Vec<Vec<u32>> = if req.methods.iter().any(|m| matches!(m, Method::Surge(_))) {
        history
            .grid
            .cells
            .iter()
            .map(|c| {
                disc.iter()
                    .filter_map(|&(dc, dr, _)| history.grid.lattice().at(c.col + dc, c.row + dr))
                    .collect()
            })
            .collect()
    } else {
        Vec::new()
    };
    let wanted: Vec<usize> = req
        .coverages
        .iter()
        .map(|c| ((c * cells as f64).round() as usize).clamp(1, cells))
        .collect();
    let origins: Vec<usize> = (req.window_months..months).step_by(req.step).collect();
    let scores: Vec<Score> = origins
        .par_iter()
        .flat_map_iter(|&t| {
            if super::cancel::requested() {
                return Vec::new();
            }
            let (from, to) = (t - req.window_months, t);
            let test = &history.values[t];
            let total: f64 = test.iter().sum();
            let train = history.window_sum(from, to);
            let train_total: f64 = train.iter().sum();
            let month = crate::month::format(history.first_month + t as u32);
            let mut oracle_sorted = test.clone();
            oracle_sorted.sort_unstable_by(|a, b| b.total_cmp(a));
            let oracle_at = |k: usize| oracle_sorted[..k.min(cells)].iter().sum::<f64>();
            let score_of = |chosen: &[u32], method: &str, coverage: f64| -> Score {
                let hits: f64 = chosen.iter().map(|&i| test[i as usize]).sum();
                let train_hits: f64 = chosen.iter().map(|&i| train[i as usize]).sum();
                let area_share = chosen.len() as f64 / cells as f64;
                let best = oracle_at(chosen.len());
                Score {
                    month: month.clone(),
                    method: method.to_string(),
                    coverage,
                    cells: chosen.len(),
                    area_share,
                    hits,
                    total,
                    hit_rate: hits / total,
                    pai: hits / total / area_share,
                    pei: if best > 0.0 { hits / best } else { f64::NAN },
                    rri: (hits / total) / (train_hits / train_total),
                    pai_max: best / total / area_share,
                }
            };
            let mut out = Vec::new();
            if total <= 0.0 {
                return out;
            }
            for &method in &req.methods {
                let name = method.name();
                match method {
                    Method::Oracle | Method::Predictor(_) => {
                        let order = match method {
                            Method::Predictor(p) => ranked(&model.predict(&history, p, from, to)),
                            _ => ranked(test),
                        };
                        for (k, &c) in req.coverages.iter().enumerate() {
                            out.push(score_of(&order[..wanted[k]], &name, c));
                        }
                    }
                    Method::Surge(p) => {
                        let s = model.predict(&history, p, from, to);
                        let circle = history.grid.convolve(&s, &disc);
                        let target = *wanted.iter().max().unwrap_or(&1);
                        let (mut covered_total, mut counted) = (0usize, 0usize);
                        let chosen = super::surge::greedy_disjoint(
                            &centres,
                            &circle,
                            req.surge_radius_m,
                            |_| true,
                            None,
                            |c| {
                                for &i in &c[counted..] {
                                    covered_total += disc_cells[i].len();
                                }
                                counted = c.len();
                                covered_total >= target
                            },
                        );
                        let mut covered: Vec<u32> = Vec::new();
                        let mut next = 0;
                        for (k, &c) in req.coverages.iter().enumerate() {
                            while covered.len() < wanted[k] && next < chosen.len() {
                                covered.extend_from_slice(&disc_cells[chosen[next]]);
                                next += 1;
                            }
                            out.push(score_of(&covered, &name, c));
                        }
                    }
                }
            }
            out
        })
        .collect();
    let summary = summarise(req, &scores);
    let winners = winners(req, &summary, &scores);
    Ok(Evaluation {
        counted: history.counted.clone(),
        request: req.clone(),
        scores,
        summary,
        winners,
        cells,
        origins: origins.len(),
    })
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let sd = if v.len() > 1 {
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (m, sd)
}

fn summarise(req: &EvaluateRequest, scores: &[Score]) -> Vec<Summary> {
    let mut out = Vec::new();
    for method in &req.methods {
        let name = method.name();
        for &c in &req.coverages {
            let rows: Vec<&Score> = scores.iter().filter(|s| s.method == name && s.coverage == c).collect();
            let col = |f: fn(&Score) -> f64| mean_sd(&rows.iter().map(|s| f(s)).collect::<Vec<_>>());
            let ((hm, hs), (pm, ps), (em, es), (rm, rs)) =
                (col(|s| s.hit_rate), col(|s| s.pai), col(|s| s.pei), col(|s| s.rri));
            let rri_infinite = rows.iter().filter(|s| s.rri.is_infinite()).count();
            let rri_undefined = rows.iter().filter(|s| s.rri.is_nan()).count();
            out.push(Summary {
                method: name.clone(),
                coverage: c,
                origins: rows.len(),
                hit_rate_mean: hm,
                hit_rate_sd: hs,
                pai_mean: pm,
                pai_sd: ps,
                pei_mean: em,
                pei_sd: es,
                rri_mean: rm,
                rri_sd: rs,
                rri_infinite,
                rri_undefined,
            });
        }
    }
    out
}

fn winners(req: &EvaluateRequest, summary: &[Summary], scores: &[Score]) -> Vec<Winner> {
    let mut out = Vec::new();
    for &c in &req.coverages {
        let mut at: Vec<&Summary> = summary
            .iter()
            .filter(|s| s.coverage == c && s.method != "oracle" && s.pai_mean.is_finite())
            .collect();
        at.sort_by(|a, b| b.pai_mean.total_cmp(&a.pai_mean));
        let (Some(best), Some(second)) = (at.first(), at.get(1)) else {
            continue;
        };
        let pai = |method: &str| -> std::collections::BTreeMap<&str, f64> {
            scores
                .iter()
                .filter(|s| s.coverage == c && s.method == method)
                .map(|s| (s.month.as_str(), s.pai))
                .collect()
        };
        let (a, b) = (pai(&best.method), pai(&second.method));
        let paired: Vec<bool> = a.iter().filter_map(|(m, x)| b.get(m).map(|y| x > y)).collect();
        out.push(Winner {
            coverage: c,
            best: best.method.clone(),
            runner_up: second.method.clone(),
            pai_best: best.pai_mean,
            pai_runner_up: second.pai_mean,
            ratio: best.pai_mean / second.pai_mean,
            won_share: paired.iter().filter(|w| **w).count() as f64 / paired.len().max(1) as f64,
        });
    }
    out
}

fn to_csv<T: Serialize>(rows: &[T]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        let _ = w.serialize(r);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

impl Evaluation {
    /// Every origin, method and coverage (long format, plot-ready).
    pub fn scores_csv(&self) -> String {
        to_csv(&self.scores)
    }

    pub fn summary_csv(&self) -> String {
        to_csv(&self.summary)
    }

    pub fn winners_csv(&self) -> String {
        to_csv(&self.winners)
    }

    /// A table for the terminal.
    pub fn table(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} origins, {} cells of {} m, {}-month training window",
            self.origins, self.cells, self.request.cell_m, self.request.window_months
        );
        let _ = writeln!(
            s,
            "counted: kind {}, {}",
            self.counted.kind,
            self.counted
                .crime_types
                .iter()
                .map(|(t, n)| format!("{t} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let _ = writeln!(
            s,
            "{:<18} {:>8} {:>16} {:>16} {:>14} {:>14} {:>9}",
            "method", "coverage", "hit rate", "PAI", "PEI", "RRI", "RRI left"
        );
        for r in &self.summary {
            let _ = writeln!(
                s,
                "{:<18} {:>7.1}% {:>8.1}% ±{:>5.1} {:>8.2} ±{:>5.2} {:>7.3} ±{:>4.2} {:>7.3} ±{:>4.2} {:>9}",
                r.method,
                r.coverage * 100.0,
                r.hit_rate_mean * 100.0,
                r.hit_rate_sd * 100.0,
                r.pai_mean,
                r.pai_sd,
                r.pei_mean,
                r.pei_sd,
                r.rri_mean,
                r.rri_sd,
                r.rri_infinite + r.rri_undefined
            );
        }
        let (inf, undef): (usize, usize) = self
            .summary
            .iter()
            .fold((0, 0), |(a, b), r| (a + r.rri_infinite, b + r.rri_undefined));
        if inf + undef > 0 {
            let _ = writeln!(
                s,
                "RRI left: origins left out of the RRI mean, {inf} infinite (no training incidents in the chosen cells) and {undef} undefined (none in either month)"
            );
        }
        for w in &self.winners {
            let _ = writeln!(
                s,
                "at {:.1}% of the area: {} wins (PAI {:.2}) over {} (PAI {:.2}), x{:.3}, on {:.0}% of origins",
                w.coverage * 100.0,
                w.best,
                w.pai_best,
                w.runner_up,
                w.pai_runner_up,
                w.ratio,
                w.won_share * 100.0
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranked_orders_best_first_with_stable_ties() {
        assert_eq!(ranked(&[1.0, 3.0, 3.0, 0.0]), vec![1, 2, 0, 3]);
    }

    /// Infinite and undefined RRI values are left out of the mean and counted.
    #[test]
    fn rri_left_out_is_counted() {
        let score = |month: &str, rri: f64| Score {
            month: month.into(),
            method: "counts".into(),
            coverage: 0.01,
            cells: 1,
            area_share: 0.01,
            hits: 1.0,
            total: 10.0,
            hit_rate: 0.1,
            pai: 10.0,
            pei: 0.5,
            rri,
            pai_max: 20.0,
        };
        let req = EvaluateRequest {
            methods: vec![Method::Predictor(Predictor::Counts)],
            coverages: vec![0.01],
            ..EvaluateRequest::default()
        };
        let scores = vec![
            score("2024-01", 0.8),
            score("2024-02", 1.0),
            score("2024-03", f64::INFINITY),
            score("2024-04", f64::NAN),
            score("2024-05", f64::INFINITY),
        ];
        let s = &summarise(&req, &scores)[0];
        assert_eq!((s.origins, s.rri_infinite, s.rri_undefined), (5, 2, 1));
        assert!((s.rri_mean - 0.9).abs() < 1e-12);
        let e = Evaluation {
            request: req,
            counted: Default::default(),
            scores,
            summary: vec![s.clone()],
            winners: Vec::new(),
            cells: 100,
            origins: 5,
        };
        assert!(e.table().contains("2 infinite"), "{}", e.table());
    }

    #[test]
    fn mean_and_sample_sd() {
        let (m, sd) = mean_sd(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(m, 5.0);
        assert!((sd - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
    }
}
