//! Is crime down against what it would have been? Observed monthly counts
//! of a crime basket against a counterfactual fitted on baseline months.
//!
//! **The counterfactual.** A count regression on the baseline months
//! (at least 24): `log μ_t = β₀ + Σ γ_m [month-of-year(t) = m] + δ·t`,
//! eleven month-of-year terms (January the reference) and a linear trend in
//! years since the baseline's first month. Poisson, or negative binomial
//! (NB2) when the Pearson test of over-dispersion rejects the Poisson fit
//! at 5 % (X² against χ²_{n−p}), then fitted with Breslow's (1984) moment
//! α; see [`super::glm`] for why not the likelihood-ratio test (reported). Projected over the
//! evaluation months with normal prediction intervals whose variance is the
//! model's process variance plus the parameter variance by the delta method
//! (`μ² xᵀVx`). This is the seasonal-trend counterfactual of interrupted
//! time series designs (Bernal, Cummins & Gasparrini 2017, "Interrupted
//! time series regression for the evaluation of public health
//! interventions: a tutorial", Int. J. Epidemiology 46(1)), fitted on the
//! pre-period only and projected.
//!
//! **Figures.** Per month and summed over the evaluation period: observed
//! O, expected E, the difference `D = O − E` with interval `D ± z·sd`
//! (sd the predictive standard deviation), and the percentage change
//! `100·D/E` with interval `100·(D ± z·sd)/E`; `z = D/sd` with its
//! two-sided normal p-value. The verdict says "down" when the whole
//! interval is below 0, "up" when it is above, else "no detectable change".
//! Year-on-year changes (each month against the same month a year earlier)
//! are given as a secondary view: they ignore trend and chance.
//!
//! **Control chart.** An EWMA of the evaluation months' standardised
//! residuals `r_t = D_t/sd_t` (Lucas & Saccucci 1990, Technometrics 32(1)):
//! `e_t = λ r_t + (1−λ) e_{t−1}`, `e_0 = 0`, limits
//! `±L √(λ/(2−λ)·(1−(1−λ)^{2t}))`; months outside are flagged. The limits
//! treat the residuals as independent standard normals (the shared
//! parameter uncertainty makes them slightly correlated).
//!
//! **By area** (`by=borough|ward`): the same model per area, the summed
//! evaluation-period figures per area, Benjamini–Hochberg q-values across
//! the areas given a verdict, and the verdict only where q ≤ α. Areas whose
//! baseline averages fewer than `min_monthly` incidents a month (or whose
//! model cannot be fitted) are flagged `small` and given no verdict.
//!
//! **Harm.** With a harm table each incident counts its harm days; the
//! models are then fitted to harm-day totals, for which the Poisson and
//! NB2 likelihoods are working likelihoods (NB2's α absorbs the scale).

use geo::Centroid;
use nalgebra::DMatrix;
use serde::Serialize;
use serde_json::{json, Map, Value};
use statrs::distribution::{ContinuousCDF, Normal};

use super::cost::{Cost, Measure};
use super::glm::{self, Choice, Family, GlmError};
use super::layer::{Feature, Layer};
use super::param;
use super::params::{Param, ParamType, PropType, Property, Spec, Values, ALPHA, HARM};
use super::run::{Analysis, Computed, Ctx, Output};
use super::select::Selection;
use super::AnalysisError;
use crate::dataset::Dataset;
use crate::month;

/// The default basket: police.uk's violent categories.
pub const VIOLENCE: &[&str] = &["Violence and sexual offences", "Robbery", "Possession of weapons"];

/// The fewest baseline months: two of each calendar month.
pub const MIN_BASELINE_MONTHS: u32 = 24;

/// The selection, with the violence basket as the default.
const PLEDGE_SELECTION: &[Param] = &[
    Param::new(
        "crime_type",
        ParamType::Text,
        "the crime basket: police.uk crime types (names or API slugs), comma-separated or repeated; `all` for every crime type except anti-social behaviour",
    )
    .list()
    .default("Violence and sexual offences,Robbery,Possession of weapons"),
    Param::choice(
        "kind",
        super::select::KINDS,
        "crime",
        "record kind: crime, or stop_and_search (never mixed into crime), or other",
    ),
    Param::new("from", ParamType::Month, "first evaluation month, YYYY-MM")
        .default_rule("the month after the baseline"),
    Param::new("to", ParamType::Month, "last evaluation month, YYYY-MM").default_rule("the last month in the data"),
];

/// `pledge`: observed against the counterfactual.
pub const PLEDGE: Analysis = Analysis {
    spec: Spec {
        id: "pledge",
        title: "Is crime down against its counterfactual?",
        about: "Observed monthly counts of a crime basket (violence by default) against a counterfactual: a Poisson or negative binomial regression with month-of-year seasonality and a linear trend fitted on the baseline months and projected over the evaluation months, with prediction intervals including parameter uncertainty; per month and cumulative differences, percentage changes and a verdict; an EWMA control chart; year-on-year as a secondary view; per borough or ward with Benjamini-Hochberg across areas.",
        groups: &[
            PLEDGE_SELECTION,
            &[
                Param::new(
                    "baseline",
                    ParamType::Text,
                    "baseline months the counterfactual is fitted on, FROM..TO (YYYY-MM..YYYY-MM), at least 24 months, before the evaluation months",
                )
                .default_rule("the 24 months before from"),
                Param::new(
                    "area",
                    ParamType::Text,
                    "where: london (every incident), borough:CODE or ward:CODE (GSS codes)",
                )
                .default("london"),
                Param::new("by", ParamType::Text, "the same per borough or ward of the area, with BH across areas")
                    .choices(&["borough", "ward"]),
                Param::new(
                    "min_monthly",
                    ParamType::Number,
                    "areas (with by) whose baseline averages fewer incidents a month are flagged small and given no verdict",
                )
                .default("5")
                .at_least(0.0)
                .unit("incidents a month"),
                Param::new("ewma_lambda", ParamType::Number, "EWMA control chart: weight of the newest month")
                    .default("0.2")
                    .above(0.0)
                    .at_most(1.0),
                Param::new("ewma_limit", ParamType::Number, "EWMA control chart: limits in standard deviations")
                    .default("3")
                    .above(0.0),
                ALPHA,
            ],
            HARM,
            &[Param::new("json", ParamType::Flag, "print the whole result as JSON instead of the summary").cli_only()],
        ],
        cli: true,
        http: true,
        properties: &[PROPERTIES],
    },
    run: run_pledge,
    cost: cost_pledge,
    offline: None,
};

const PROPERTIES: &[Property] = &[
    Property::new(
        "period",
        PropType::Text,
        "the month (YYYY-MM) or the evaluation period FROM..TO",
    ),
    Property::new(
        "row",
        PropType::Text,
        "month or cumulative (without by); area (with by)",
    ),
    Property::new("name", PropType::Text, "the area's name (with by)"),
    Property::new("observed", PropType::Number, "incidents (harm days with a harm table)"),
    Property::new("expected", PropType::Number, "the counterfactual's expectation"),
    Property::new(
        "expected_se",
        PropType::Number,
        "its standard error (parameter uncertainty)",
    ),
    Property::new(
        "expected_lower",
        PropType::Number,
        "prediction interval of the count, lower end",
    ),
    Property::new(
        "expected_upper",
        PropType::Number,
        "prediction interval of the count, upper end",
    ),
    Property::new("difference", PropType::Number, "observed − expected"),
    Property::new("difference_lower", PropType::Number, "its interval, lower end"),
    Property::new("difference_upper", PropType::Number, "its interval, upper end"),
    Property::new("pct_change", PropType::Number, "100 · difference / expected"),
    Property::new("pct_lower", PropType::Number, "its interval, lower end"),
    Property::new("pct_upper", PropType::Number, "its interval, upper end"),
    Property::new("z", PropType::Number, "difference / predictive sd"),
    Property::new("p", PropType::Number, "two-sided normal p-value"),
    Property::new("q", PropType::Number, "BH q-value across areas (with by)"),
    Property::new("significant", PropType::Boolean, "q ≤ alpha (with by)"),
    Property::new("small", PropType::Boolean, "too few incidents for a verdict (with by)"),
    Property::new("model", PropType::Text, "Poisson or negative binomial (NB2)"),
    Property::new("verdict", PropType::Text, "in plain words"),
    Property::new("ewma", PropType::Number, "EWMA of standardised residuals (months)"),
    Property::new("ewma_limit", PropType::Number, "its control limit (±)"),
    Property::new("flagged", PropType::Boolean, "EWMA outside its limits (months)"),
    Property::new(
        "yoy_previous",
        PropType::Number,
        "secondary view: the same month a year earlier",
    ),
    Property::new(
        "yoy_pct_change",
        PropType::Number,
        "secondary view: year-on-year % change",
    ),
    Property::new("baseline_monthly_mean", PropType::Number, "mean baseline count a month"),
];

fn glm_err(e: GlmError) -> AnalysisError {
    param(
        "baseline",
        format!("the counterfactual cannot be fitted on these baseline months: {e}"),
    )
}

/// Where the counts come from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "level", content = "code", rename_all = "snake_case")]
pub enum Area {
    London,
    Borough(String),
    Ward(String),
}

impl std::str::FromStr for Area {
    type Err = AnalysisError;

    fn from_str(s: &str) -> Result<Area, AnalysisError> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("london") {
            return Ok(Area::London);
        }
        match s.split_once(':') {
            Some((l, code)) if l.eq_ignore_ascii_case("borough") && !code.trim().is_empty() => {
                Ok(Area::Borough(code.trim().into()))
            }
            Some((l, code)) if l.eq_ignore_ascii_case("ward") && !code.trim().is_empty() => {
                Ok(Area::Ward(code.trim().into()))
            }
            _ => Err(param("area", format!("{s:?} is not london, borough:CODE or ward:CODE"))),
        }
    }
}

/// What to compare.
#[derive(Debug, Clone, Serialize)]
pub struct PledgeRequest {
    /// Crime types (empty: every type but ASB), kind; its months are unused.
    pub selection: Selection,
    /// Baseline months, inclusive (month numbers, [`crate::month`]).
    pub baseline: (u32, u32),
    /// Evaluation months, inclusive; `to = None`: the last month in the data.
    pub from: u32,
    pub to: Option<u32>,
    pub area: Area,
    /// `borough` or `ward`.
    pub by: Option<String>,
    pub min_monthly: f64,
    pub ewma_lambda: f64,
    pub ewma_limit: f64,
    pub alpha: f64,
    pub harm: Option<super::harm::HarmTable>,
}

impl PledgeRequest {
    /// The request from checked values: the periods' order and lengths
    /// checked here (the data's months when run).
    pub fn from_values(v: &Values) -> Result<PledgeRequest, AnalysisError> {
        let selection = v.selection()?;
        let (from, to) = selection.months()?;
        let baseline = match (v.month_range("baseline")?, from) {
            (Some(b), _) => b,
            (None, Some(f)) if f >= MIN_BASELINE_MONTHS => (f - MIN_BASELINE_MONTHS, f - 1),
            _ => return Err(param("baseline", "give the baseline months, e.g. 2018-01..2019-12")),
        };
        let len = baseline.1 - baseline.0 + 1;
        if len < MIN_BASELINE_MONTHS {
            return Err(param(
                "baseline",
                format!(
                    "{len} months is too short: month-of-year seasonality needs at least {MIN_BASELINE_MONTHS} months (two of each calendar month)"
                ),
            ));
        }
        let from = from.unwrap_or(baseline.1 + 1);
        if from <= baseline.1 {
            return Err(param(
                "from",
                format!(
                    "the evaluation months from {} overlap the baseline {}..{}; they must start after it",
                    month::format(from),
                    month::format(baseline.0),
                    month::format(baseline.1)
                ),
            ));
        }
        if let Some(t) = to {
            if t < from {
                return Err(param("to", "is before from"));
            }
        }
        Ok(PledgeRequest {
            selection,
            baseline,
            from,
            to,
            area: v.str("area").unwrap_or("london").parse()?,
            by: v.str("by").map(|s| s.to_ascii_lowercase()),
            min_monthly: v.number("min_monthly")?,
            ewma_lambda: v.number("ewma_lambda")?,
            ewma_limit: v.number("ewma_limit")?,
            alpha: v.number("alpha")?,
            harm: v.harm()?,
        })
    }
}

/// One row of figures: a month, the evaluation period, or an area.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub period: String,
    pub observed: f64,
    pub expected: f64,
    pub expected_se: f64,
    pub expected_lower: f64,
    pub expected_upper: f64,
    pub difference: f64,
    pub difference_lower: f64,
    pub difference_upper: f64,
    pub pct_change: f64,
    pub pct_lower: f64,
    pub pct_upper: f64,
    pub z: f64,
    pub p: f64,
    pub verdict: String,
}

/// The percentage as the verdict writes it (Unicode minus, sign shown).
fn pct(v: f64) -> String {
    let r = v.round();
    if r < 0.0 {
        format!("\u{2212}{}%", -r)
    } else if r > 0.0 {
        format!("+{r}%")
    } else {
        "0%".into()
    }
}

impl Figures {
    fn new(period: String, observed: f64, pred: glm::Prediction, z_crit: f64, level: f64) -> Figures {
        let (lo, hi) = pred.interval(z_crit);
        let d = observed - pred.mean;
        let (dlo, dhi) = (d - z_crit * pred.sd, d + z_crit * pred.sd);
        let e = pred.mean;
        let z = if pred.sd > 0.0 { d / pred.sd } else { 0.0 };
        let p = 2.0 * (1.0 - Normal::standard().cdf(z.abs()));
        let (pc, plo, phi) = (100.0 * d / e, 100.0 * dlo / e, 100.0 * dhi / e);
        let conf = format!("{:.0}% interval", 100.0 * (1.0 - level));
        let verdict = if phi < 0.0 {
            format!(
                "down {}% against expectation, {conf} {} to {}",
                (-pc).round(),
                pct(plo),
                pct(phi)
            )
        } else if plo > 0.0 {
            format!(
                "up {}% against expectation, {conf} {} to {}",
                pc.round(),
                pct(plo),
                pct(phi)
            )
        } else {
            format!(
                "no detectable change ({} against expectation, {conf} {} to {})",
                pct(pc),
                pct(plo),
                pct(phi)
            )
        };
        Figures {
            period,
            observed,
            expected: e,
            expected_se: pred.se_mean,
            expected_lower: lo,
            expected_upper: hi,
            difference: d,
            difference_lower: dlo,
            difference_upper: dhi,
            pct_change: pc,
            pct_lower: plo,
            pct_upper: phi,
            z,
            p,
            verdict,
        }
    }
}

/// One evaluation month.
#[derive(Debug, Clone, Serialize)]
pub struct MonthRow {
    #[serde(flatten)]
    pub figures: Figures,
    pub ewma: f64,
    pub ewma_limit: f64,
    pub flagged: bool,
    /// Secondary view: the same month a year earlier, and the change.
    pub yoy_previous: Option<f64>,
    pub yoy_pct_change: Option<f64>,
}

/// The fitted counterfactual, for the record.
#[derive(Debug, Clone, Serialize)]
pub struct ModelReport {
    pub family: Family,
    pub terms: Vec<String>,
    pub coefficients: Vec<f64>,
    pub standard_errors: Vec<f64>,
    /// The trend as a percentage change a year, `100(e^δ − 1)`.
    pub trend_pct_per_year: f64,
    pub overdispersion_test: String,
    /// The deciding test's p-value: `P(χ²_{n−p} > X²)` of the Poisson fit.
    pub pearson_p: f64,
    pub lr_stat: f64,
    pub lr_p: f64,
    /// NB2's α̂ by maximum likelihood (0 when the profile score is not positive at α → 0).
    pub alpha_ml: f64,
    /// NB2's α by Breslow's moments (Pearson χ² = n − p; 0 when the Poisson
    /// fit's is already below): the α of the model used when NB2 is chosen.
    pub alpha_moment: f64,
    pub pearson_dispersion: f64,
    pub baseline_monthly_mean: f64,
}

impl ModelReport {
    fn new(c: &Choice, y: &[f64]) -> ModelReport {
        let alpha_ml = match c.nb.as_ref().map(|f| f.family) {
            Some(Family::NegativeBinomial { alpha }) => alpha,
            _ => 0.0,
        };
        let alpha_moment = match c.nb_moment.as_ref().map(|f| f.family) {
            Some(Family::NegativeBinomial { alpha }) => alpha,
            _ => 0.0,
        };
        let trend = *c.fit.beta.last().unwrap_or(&0.0);
        ModelReport {
            family: c.fit.family,
            terms: term_names(),
            coefficients: c.fit.beta.clone(),
            standard_errors: c.fit.se.clone(),
            trend_pct_per_year: 100.0 * trend.exp_m1(),
            overdispersion_test: format!(
                "Pearson test: the Poisson fit's Pearson X2 against chi2 with n - p degrees of freedom; NB2 when p < {}, fitted with Breslow's moment alpha (Pearson chi2 = n - p); the likelihood-ratio test of alpha = 0 (boundary p = 0.5 P(chi2_1 > LR)) is reported, not used",
                glm::OVERDISPERSION_LEVEL
            ),
            pearson_p: c.pearson_p,
            lr_stat: c.lr_stat,
            lr_p: c.lr_p,
            alpha_ml,
            alpha_moment,
            pearson_dispersion: c.pearson_dispersion,
            baseline_monthly_mean: y.iter().sum::<f64>() / y.len() as f64,
        }
    }
}

/// One area of a `by` table.
#[derive(Debug, Clone, Serialize)]
pub struct AreaRow {
    pub code: String,
    pub name: String,
    pub index: usize,
    #[serde(flatten)]
    pub figures: Option<Figures>,
    pub q: Option<f64>,
    pub significant: bool,
    pub small: bool,
    pub model: Option<String>,
    pub baseline_monthly_mean: f64,
    /// The verdict after BH (or why none).
    pub area_verdict: String,
}

/// The whole answer.
#[derive(Debug, Clone, Serialize)]
pub struct Pledge {
    pub request: PledgeRequest,
    pub counted: super::select::Counted,
    pub baseline: String,
    pub evaluation: String,
    pub model: ModelReport,
    pub months: Vec<MonthRow>,
    pub cumulative: Figures,
    /// Months flagged by the control chart.
    pub flagged: Vec<String>,
    pub areas: Vec<AreaRow>,
    pub notes: Vec<String>,
}

const NOTE_BASKET: &str = "police.uk's \"Violence and sexual offences\" category mixes domestic and non-domestic violence, assaults with and without injury, harassment, stalking and sexual offences, and has no flag for street or indoor place; a change in the basket can come from any of them, and from recording practice";
const NOTE_YOY: &str = "year-on-year figures are a secondary view: they ignore the trend, seasonal noise and chance";

/// The names of the design's columns.
pub fn term_names() -> Vec<String> {
    let mut t = vec!["intercept".to_string()];
    for m in [
        "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ] {
        t.push(format!("month_{m}"));
    }
    t.push("trend_per_year".into());
    t
}

/// The design matrix for `months` (month numbers): intercept, eleven
/// month-of-year indicators (January the reference), trend in years since
/// `origin`.
pub fn design(months: &[u32], origin: u32) -> DMatrix<f64> {
    DMatrix::from_fn(months.len(), 13, |i, j| {
        let m = months[i];
        match j {
            0 => 1.0,
            12 => (m as f64 - origin as f64) / 12.0,
            k => f64::from(m % 12 == k as u32),
        }
    })
}

fn cost_pledge(ds: &Dataset, v: &Values) -> Result<Cost, AnalysisError> {
    let req = PledgeRequest::from_values(v)?;
    let areas = match req.by.as_deref() {
        Some("ward") => ds.wards.height() as f64,
        Some(_) => ds.boroughs.height() as f64,
        None => 1.0,
    };
    let months = super::cost::months(ds);
    Ok(Cost {
        cells: Measure::new(areas.max(months), None),
        pairs: Measure::new(areas * months, None),
        // A scan of the incidents, and per area ~100 IRLS fits of 13 terms.
        work: Measure::new(super::cost::incidents(ds) + areas * 100.0 * months * 13.0 * 13.0, None),
    })
}

fn run_pledge(c: &Ctx<'_>, v: &Values) -> Result<Computed, AnalysisError> {
    let req = PledgeRequest::from_values(v)?;
    let result = pledge(c.dataset, &req)?;
    let layer = result.to_layer(c.dataset)?;
    let summary = if v.flag("json") {
        serde_json::to_string_pretty(&result).map_err(|e| AnalysisError::Data(e.to_string()))?
    } else {
        result.summary()
    };
    Ok(Computed {
        main: Output::Layer(layer),
        summary,
        extras: Vec::new(),
    })
}

/// The codes column of `wards` or `boroughs`.
fn codes(ds: &Dataset, level: &str) -> Result<Vec<String>, AnalysisError> {
    let df = if level == "ward" { &ds.wards } else { &ds.boroughs };
    strs(df, crate::dataset::schema::areas::CODE)
}

fn strs(df: &polars::prelude::DataFrame, name: &str) -> Result<Vec<String>, AnalysisError> {
    let c = df
        .column(name)
        .and_then(|c| c.str().cloned())
        .map_err(|e| AnalysisError::Data(format!("column `{name}`: {e}")))?;
    Ok(c.iter().map(|v| v.unwrap_or("").to_string()).collect())
}

/// Monthly series and their model.
struct Series {
    choice: Choice,
    x_eval: DMatrix<f64>,
}

fn fit_series(req: &PledgeRequest, y_base: &[f64], eval_months: &[u32]) -> Result<Series, GlmError> {
    let base_months: Vec<u32> = (req.baseline.0..=req.baseline.1).collect();
    let x = design(&base_months, req.baseline.0);
    let choice = glm::choose(&x, y_base)?;
    Ok(Series {
        choice,
        x_eval: design(eval_months, req.baseline.0),
    })
}

/// Runs the comparison.
pub fn pledge(ds: &Dataset, req: &PledgeRequest) -> Result<Pledge, AnalysisError> {
    let c = &ds.columns;
    // Months the dataset has any record for.
    let present = &c.months_present;
    let last = *present
        .last()
        .ok_or_else(|| AnalysisError::Empty("the dataset has no incidents".into()))?;
    let to = req.to.unwrap_or(last);
    if to < req.from {
        return Err(param(
            "from",
            format!(
                "{} is after the last month in the data ({})",
                month::format(req.from),
                month::format(last)
            ),
        ));
    }
    for (name, lo, hi) in [("baseline", req.baseline.0, req.baseline.1), ("to", req.from, to)] {
        let missing: Vec<String> = (lo..=hi)
            .filter(|m| present.binary_search(m).is_err())
            .map(month::format)
            .collect();
        if !missing.is_empty() {
            let name = if name == "to" && req.to.is_none() { "from" } else { name };
            return Err(param(
                name,
                format!(
                    "the dataset has no records for {} of these months ({}{}); choose months it covers",
                    missing.len(),
                    missing.iter().take(6).cloned().collect::<Vec<_>>().join(", "),
                    if missing.len() > 6 { ", ..." } else { "" }
                ),
            ));
        }
    }
    // Area filter and the by-areas.
    let area_rows = |level: &str, code: &str| -> Result<u32, AnalysisError> {
        codes(ds, level)?
            .iter()
            .position(|c| c == code)
            .map(|i| i as u32)
            .ok_or_else(|| param("area", format!("{code:?} is not a {level} code of this dataset")))
    };
    let filter: Option<(bool, u32)> = match &req.area {
        Area::London => None,
        Area::Borough(code) => Some((false, area_rows("borough", code)?)),
        Area::Ward(code) => Some((true, area_rows("ward", code)?)),
    };
    let by_level = req.by.as_deref();
    let n_by = match by_level {
        Some("ward") => ds.wards.height(),
        Some("borough") => ds.boroughs.height(),
        Some(other) => return Err(param("by", format!("{other:?} is not borough or ward"))),
        None => 0,
    };
    // Which by-areas are inside the area.
    let by_inside: Vec<bool> = match (by_level, &req.area) {
        (None, _) => Vec::new(),
        (Some(_), Area::London) => vec![true; n_by],
        (Some("ward"), Area::Borough(code)) => strs(&ds.wards, crate::dataset::schema::areas::BOROUGH_CODE)?
            .iter()
            .map(|b| b == code)
            .collect(),
        (Some("borough"), Area::Borough(code)) => codes(ds, "borough")?.iter().map(|b| b == code).collect(),
        (Some(level), Area::Ward(_)) => {
            return Err(param(
                "by",
                format!("a ward has no {level}s inside it; use by with area london or borough:CODE"),
            ))
        }
        (Some(other), _) => return Err(param("by", format!("{other:?} is not borough or ward"))),
    };
    let selection = Selection {
        from: Some(month::format(req.baseline.0)),
        to: Some(month::format(to)),
        ..req.selection.clone()
    };
    let rows = selection.rows(ds)?;
    let weights: Vec<f64> = match &req.harm {
        Some(h) => c.crime_types.iter().map(|t| h.weight(t)).collect(),
        None => vec![1.0; c.crime_types.len()],
    };
    let span = (to - req.baseline.0 + 1) as usize;
    let mut total = vec![0.0; span];
    let mut per_area = vec![vec![0.0; span]; n_by];
    let mut kept = Vec::with_capacity(rows.len());
    for &r in &rows {
        let r = r as usize;
        let m = c.month[r];
        if m > req.baseline.1 && m < req.from {
            continue;
        }
        if let Some((ward, row)) = filter {
            let at = if ward { c.ward[r] } else { c.borough[r] };
            if at != row {
                continue;
            }
        }
        kept.push(r as u32);
        let k = (m - req.baseline.0) as usize;
        let w = weights.get(c.crime_type[r] as usize).copied().unwrap_or(0.0);
        total[k] += w;
        if let Some(level) = by_level {
            let a = if level == "ward" { c.ward[r] } else { c.borough[r] } as usize;
            if a < n_by {
                per_area[a][k] += w;
            }
        }
    }
    let nb = (req.baseline.1 - req.baseline.0 + 1) as usize;
    if total[..nb].iter().sum::<f64>() <= 0.0 {
        return Err(AnalysisError::Empty(format!(
            "no incidents of the basket in the baseline in this area ({})",
            req.selection
        )));
    }
    let eval_months: Vec<u32> = (req.from..=to).collect();
    let at = |series: &[f64], m: u32| series[(m - req.baseline.0) as usize];
    let z_crit = Normal::standard().inverse_cdf(1.0 - req.alpha / 2.0);
    let s = fit_series(req, &total[..nb], &eval_months).map_err(glm_err)?;
    let fit = &s.choice.fit;
    // Per month, the control chart and year-on-year.
    let mut months = Vec::with_capacity(eval_months.len());
    let (lambda, limit_l) = (req.ewma_lambda, req.ewma_limit);
    let mut e = 0.0;
    for (i, &m) in eval_months.iter().enumerate() {
        let pred = fit.predict_sum(&s.x_eval, &[i]);
        let f = Figures::new(month::format(m), at(&total, m), pred, z_crit, req.alpha);
        e = lambda * f.z + (1.0 - lambda) * e;
        let t = (i + 1) as i32;
        let limit = limit_l * (lambda / (2.0 - lambda) * (1.0 - (1.0 - lambda).powi(2 * t))).sqrt();
        let prev_m = m.checked_sub(12);
        let yoy_previous = prev_m
            .filter(|p| {
                *p >= req.baseline.0 && !(*p > req.baseline.1 && *p < req.from) && present.binary_search(p).is_ok()
            })
            .map(|p| at(&total, p));
        let yoy_pct_change = yoy_previous
            .filter(|p| *p > 0.0)
            .map(|p| 100.0 * (f.observed / p - 1.0));
        months.push(MonthRow {
            figures: f,
            ewma: e,
            ewma_limit: limit,
            flagged: e.abs() > limit,
            yoy_previous,
            yoy_pct_change,
        });
    }
    let all: Vec<usize> = (0..eval_months.len()).collect();
    let evaluation = format!("{}..{}", month::format(req.from), month::format(to));
    let cumulative = Figures::new(
        evaluation.clone(),
        eval_months.iter().map(|&m| at(&total, m)).sum(),
        fit.predict_sum(&s.x_eval, &all),
        z_crit,
        req.alpha,
    );
    let flagged = months
        .iter()
        .filter(|m| m.flagged)
        .map(|m| m.figures.period.clone())
        .collect();
    // By area.
    let mut areas = Vec::new();
    if let Some(level) = by_level {
        let area_codes = codes(ds, level)?;
        let names = strs(
            if level == "ward" { &ds.wards } else { &ds.boroughs },
            crate::dataset::schema::areas::NAME,
        )?;
        for (a, series) in per_area.iter().enumerate() {
            if !by_inside[a] {
                continue;
            }
            super::cancel::check()?;
            let base_mean = series[..nb].iter().sum::<f64>() / nb as f64;
            let mut row = AreaRow {
                code: area_codes[a].clone(),
                name: names[a].clone(),
                index: a,
                figures: None,
                q: None,
                significant: false,
                small: true,
                model: None,
                baseline_monthly_mean: base_mean,
                area_verdict: format!(
                    "too few incidents for a verdict (baseline mean {base_mean:.1} a month, below {})",
                    req.min_monthly
                ),
            };
            if base_mean >= req.min_monthly && base_mean > 0.0 {
                match fit_series(req, &series[..nb], &eval_months) {
                    Ok(sa) => {
                        let observed = eval_months.iter().map(|&m| at(series, m)).sum();
                        let pred = sa.choice.fit.predict_sum(&sa.x_eval, &all);
                        row.figures = Some(Figures::new(evaluation.clone(), observed, pred, z_crit, req.alpha));
                        row.small = false;
                        row.model = Some(sa.choice.fit.family.name().to_string());
                    }
                    Err(e) => row.area_verdict = format!("no verdict: {e}"),
                }
            }
            areas.push(row);
        }
        let tested: Vec<usize> = (0..areas.len()).filter(|&i| areas[i].figures.is_some()).collect();
        let p: Vec<f64> = tested
            .iter()
            .map(|&i| areas[i].figures.as_ref().map(|f| f.p).unwrap_or(1.0))
            .collect();
        let q = super::fdr::bh_adjust(&p);
        let n_tested = tested.len();
        for (k, &i) in tested.iter().enumerate() {
            let row = &mut areas[i];
            row.q = Some(q[k]);
            row.significant = q[k] <= req.alpha;
            if let Some(f) = &row.figures {
                row.area_verdict = if row.significant {
                    format!("{} (BH q = {:.3} across {n_tested} areas)", f.verdict, q[k])
                } else {
                    format!(
                        "no detectable change after BH across {n_tested} areas ({} against expectation, q = {:.3})",
                        pct(f.pct_change),
                        q[k]
                    )
                };
            }
        }
    }
    let counted = selection.counted_rows(ds, &kept);
    let mut notes = vec![NOTE_YOY.to_string()];
    if req.selection.crime_types.is_empty() || req.selection.types()?.contains(&"Violence and sexual offences") {
        notes.push(NOTE_BASKET.into());
    }
    if let Some(h) = &req.harm {
        let missing = h.missing(counted.crime_types.keys().map(String::as_str));
        notes.push(format!(
            "harm-weighted: each incident counts its harm days ({}); the models are fitted to harm-day totals with working likelihoods{}",
            h.source,
            if missing.is_empty() {
                String::new()
            } else {
                format!("; types without a harm value weigh 0: {}", missing.join(", "))
            }
        ));
    }
    Ok(Pledge {
        request: req.clone(),
        counted,
        baseline: format!("{}..{}", month::format(req.baseline.0), month::format(req.baseline.1)),
        evaluation,
        model: ModelReport::new(&s.choice, &total[..nb]),
        months,
        cumulative,
        flagged,
        areas,
        notes,
    })
}

fn object(v: impl Serialize) -> Map<String, Value> {
    match serde_json::to_value(v) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

impl Pledge {
    pub fn metadata(&self) -> Value {
        json!({
            "method": "observed against a counterfactual: Poisson or NB2 GLM (log link) with month-of-year terms and a linear trend, fitted on the baseline months by IRLS and projected; normal prediction intervals with delta-method parameter variance; EWMA control chart of standardised residuals; BH across areas",
            "baseline": self.baseline,
            "evaluation": self.evaluation,
            "model": self.model,
            "cumulative": self.cumulative,
            "months": self.months,
            "flagged": self.flagged,
            "counted": self.counted,
            "notes": self.notes,
            "request": self.request,
        })
    }

    /// Without `by`: a feature per evaluation month and one for the whole
    /// period, at the area's centroid (WGS84). With `by`: a feature per
    /// area (its polygon, WGS84) with the period's figures.
    pub fn to_layer(&self, ds: &Dataset) -> Result<Layer, AnalysisError> {
        let mut features = Vec::new();
        if let Some(level) = self.request.by.as_deref() {
            let units = super::units::AreaUnits::from_dataset(ds, level)?;
            for a in &self.areas {
                let mut p = object(a);
                p.remove("index");
                p.remove("code");
                p.insert("row".into(), Value::from("area"));
                let verdict = p.remove("area_verdict").unwrap_or(Value::Null);
                p.insert("verdict".into(), verdict);
                p.insert("period".into(), Value::from(self.evaluation.clone()));
                for k in [
                    "observed",
                    "expected",
                    "expected_se",
                    "expected_lower",
                    "expected_upper",
                    "difference",
                    "difference_lower",
                    "difference_upper",
                    "pct_change",
                    "pct_lower",
                    "pct_upper",
                    "z",
                    "p",
                ] {
                    p.entry(k).or_insert(Value::Null);
                }
                features.push(Feature {
                    id: a.code.clone(),
                    geometry: geo::Geometry::MultiPolygon(units.polygons_wgs84[a.index].clone()),
                    properties: p,
                });
            }
        } else {
            let centre = self.centre_wgs84(ds)?;
            for m in &self.months {
                let mut p = object(m);
                p.insert("row".into(), Value::from("month"));
                features.push(Feature {
                    id: m.figures.period.clone(),
                    geometry: geo::Geometry::Point(centre),
                    properties: p,
                });
            }
            let mut p = object(&self.cumulative);
            p.insert("row".into(), Value::from("cumulative"));
            for k in ["ewma", "ewma_limit", "flagged", "yoy_previous", "yoy_pct_change"] {
                p.insert(k.into(), Value::Null);
            }
            features.push(Feature {
                id: "cumulative".into(),
                geometry: geo::Geometry::Point(centre),
                properties: p,
            });
        }
        Ok(Layer {
            name: "pledge".into(),
            features,
            metadata: self.metadata(),
        })
    }

    /// The area's centroid, WGS84 (London: the wards' area-weighted centroids).
    fn centre_wgs84(&self, ds: &Dataset) -> Result<geo::Point<f64>, AnalysisError> {
        let (level, code) = match &self.request.area {
            Area::London => ("ward", None),
            Area::Borough(c) => ("borough", Some(c)),
            Area::Ward(c) => ("ward", Some(c)),
        };
        let u = super::units::AreaUnits::from_dataset(ds, level)?;
        let (mut x, mut y, mut w) = (0.0, 0.0, 0.0);
        for (i, poly) in u.polygons_wgs84.iter().enumerate() {
            if code.is_some_and(|c| *c != u.codes[i]) {
                continue;
            }
            if let Some(ct) = poly.centroid() {
                let a = if u.area_km2[i].is_finite() { u.area_km2[i] } else { 1.0 };
                x += a * ct.x();
                y += a * ct.y();
                w += a;
            }
        }
        Ok(geo::Point::new(
            x / w.max(f64::MIN_POSITIVE),
            y / w.max(f64::MIN_POSITIVE),
        ))
    }

    /// The terminal summary.
    pub fn summary(&self) -> String {
        let m = &self.model;
        let basket = if self.counted.crime_types.is_empty() {
            "no incidents".to_string()
        } else {
            self.counted.crime_types.keys().cloned().collect::<Vec<_>>().join(", ")
        };
        let family = match m.family {
            Family::Poisson => "Poisson".to_string(),
            Family::NegativeBinomial { alpha } => format!("negative binomial (NB2), alpha = {alpha:.4}"),
        };
        let c = &self.cumulative;
        let conf = 100.0 * (1.0 - self.request.alpha);
        let mut s = format!(
            "pledge: {basket}; baseline {} ({:.1} a month), evaluation {}\n\
             model: {family}, month-of-year terms and a trend of {:+.1}% a year; over-dispersion (Pearson test): dispersion {:.2}, p = {:.3} (likelihood-ratio test, reported: LR = {:.2}, p = {:.3})\n\
             cumulative: observed {:.0}, expected {:.1} ({conf:.0}% prediction interval {:.0} to {:.0}): {}\n",
            self.baseline,
            m.baseline_monthly_mean,
            self.evaluation,
            m.trend_pct_per_year,
            m.pearson_dispersion,
            m.pearson_p,
            m.lr_stat,
            m.lr_p,
            c.observed,
            c.expected,
            c.expected_lower,
            c.expected_upper,
            c.verdict
        );
        s.push_str(&format!(
            "control chart (EWMA, lambda {}, limits {} sd): {}\n",
            self.request.ewma_lambda,
            self.request.ewma_limit,
            if self.flagged.is_empty() {
                "no month flagged".to_string()
            } else {
                format!("flagged {}", self.flagged.join(", "))
            }
        ));
        s.push_str("month     observed  expected  change  interval          EWMA   year-on-year (secondary)\n");
        for r in &self.months {
            let f = &r.figures;
            s.push_str(&format!(
                "{}  {:>8.0}  {:>8.1}  {:>6}  {:>7} to {:>7}  {:>5.2}{}  {}\n",
                f.period,
                f.observed,
                f.expected,
                pct(f.pct_change),
                pct(f.pct_lower),
                pct(f.pct_upper),
                r.ewma,
                if r.flagged { "*" } else { " " },
                r.yoy_pct_change.map(pct).unwrap_or_else(|| "n/a".into())
            ));
        }
        if !self.areas.is_empty() {
            let tested = self.areas.iter().filter(|a| !a.small).count();
            let sig = |down: bool| {
                self.areas
                    .iter()
                    .filter(|a| a.significant && a.figures.as_ref().is_some_and(|f| (f.difference < 0.0) == down))
                    .count()
            };
            s.push_str(&format!(
                "by {}: {} areas; {} down and {} up after BH at {}; {} flagged small (no verdict)\n",
                self.request.by.as_deref().unwrap_or(""),
                self.areas.len(),
                sig(true),
                sig(false),
                self.request.alpha,
                self.areas.len() - tested
            ));
        }
        for n in &self.notes {
            s.push_str(&format!("note: {n}\n"));
        }
        s.trim_end().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn values(pairs: &[(&str, &str)]) -> Result<PledgeRequest, AnalysisError> {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in pairs {
            m.entry(k.to_string()).or_default().push(v.to_string());
        }
        PledgeRequest::from_values(&Values::new(PLEDGE.spec, m)?)
    }

    fn culprit(pairs: &[(&str, &str)]) -> String {
        match values(pairs).unwrap_err() {
            AnalysisError::Param { name, .. } => name,
            e => panic!("{e}"),
        }
    }

    #[test]
    fn periods_are_checked_and_errors_name_the_parameter() {
        assert_eq!(culprit(&[("baseline", "2018-01..2019-06")]), "baseline");
        assert!(values(&[("baseline", "2018-01..2019-06")])
            .unwrap_err()
            .to_string()
            .contains("at least 24 months"));
        assert_eq!(
            culprit(&[("baseline", "2018-01..2019-12"), ("from", "2019-06")]),
            "from"
        );
        assert_eq!(culprit(&[("baseline", "2018-01/2019-12")]), "baseline");
        assert_eq!(
            culprit(&[("crime_type", "unicorns"), ("baseline", "2018-01..2019-12")]),
            "crime_type"
        );
        assert_eq!(
            culprit(&[("area", "county:X"), ("baseline", "2018-01..2019-12")]),
            "area"
        );
        assert_eq!(culprit(&[]), "baseline");
        let r = values(&[("baseline", "2018-01..2019-12")]).unwrap();
        assert_eq!(r.from, month::parse("2020-01").unwrap());
        assert_eq!(r.selection.crime_types, VIOLENCE);
        let r = values(&[("from", "2020-01"), ("crime_type", "all")]).unwrap();
        assert_eq!(
            r.baseline,
            (month::parse("2018-01").unwrap(), month::parse("2019-12").unwrap())
        );
        assert!(r.selection.crime_types.is_empty());
    }

    #[test]
    fn design_has_month_of_year_terms_and_a_trend_in_years() {
        let jan = month::parse("2018-01").unwrap();
        let x = design(&[jan, jan + 1, jan + 13], jan);
        assert_eq!(x.row(0).iter().copied().collect::<Vec<_>>()[..2], [1.0, 0.0]);
        assert_eq!(x[(1, 1)], 1.0); // February
        assert_eq!(x[(2, 1)], 1.0); // February a year later
        assert!((x[(2, 12)] - 13.0 / 12.0).abs() < 1e-15);
        assert_eq!(term_names().len(), 13);
    }

    #[test]
    fn verdicts_follow_the_interval() {
        let pred = glm::Prediction {
            mean: 100.0,
            se_mean: 3.0,
            sd: 10.0,
        };
        let f = Figures::new("m".into(), 70.0, pred, 1.96, 0.05);
        assert!(
            f.verdict
                .starts_with("down 30% against expectation, 95% interval \u{2212}50% to \u{2212}10%"),
            "{}",
            f.verdict
        );
        let f = Figures::new("m".into(), 110.0, pred, 1.96, 0.05);
        assert!(f.verdict.starts_with("no detectable change (+10%"), "{}", f.verdict);
        let f = Figures::new("m".into(), 130.0, pred, 1.96, 0.05);
        assert!(f.verdict.starts_with("up 30%"), "{}", f.verdict);
        assert!((f.z - 3.0).abs() < 1e-12 && (f.p - 0.0026997960632601).abs() < 1e-9);
    }

    /// A planted change is recovered: baseline months drawn from the model
    /// (seasonal, trending, NB2 with α = 0.02), evaluation months at 80% of
    /// the counterfactual. Over 400 draws the cumulative 95% interval of the
    /// % change covers the true −20% at close to its nominal rate (the test
    /// allows 92–98.5%: binomial sd 1.1% around 95%), and the estimate
    /// averages −20% (within ±3 points; E is a ratio estimate, slightly
    /// biased).
    #[test]
    fn a_planted_cut_is_recovered_with_nominal_coverage() {
        use rand::SeedableRng;
        use rand_distr::{Distribution, Gamma, Poisson};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let start = month::parse("2018-01").unwrap();
        let base: Vec<u32> = (start..start + 24).collect();
        let eval: Vec<u32> = (start + 24..start + 36).collect();
        let (xb, xe) = (design(&base, start), design(&eval, start));
        let mu = |m: u32| {
            120.0
                * (1.0 + 0.3 * ((m % 12) as f64 * std::f64::consts::FRAC_PI_6).cos())
                * (0.04 * (m - start) as f64 / 12.0).exp()
        };
        let alpha = 0.02;
        let mut draw = |m: f64| {
            let g = Gamma::new(1.0 / alpha, alpha).unwrap().sample(&mut rng);
            Poisson::new(m * g).unwrap().sample(&mut rng)
        };
        let (mut covered, mut pct_sum, runs) = (0, 0.0, 400);
        for _ in 0..runs {
            let y: Vec<f64> = base.iter().map(|&m| draw(mu(m))).collect();
            let observed: f64 = eval.iter().map(|&m| draw(0.8 * mu(m))).sum();
            let all: Vec<usize> = (0..eval.len()).collect();
            let fit = glm::choose(&xb, &y).unwrap().fit;
            let f = Figures::new(
                "p".into(),
                observed,
                fit.predict_sum(&xe, &all),
                1.959963984540054,
                0.05,
            );
            // The truth: observed against the true counterfactual is −20% on average.
            if f.pct_lower <= -20.0 && -20.0 <= f.pct_upper {
                covered += 1;
            }
            pct_sum += f.pct_change;
        }
        let share = covered as f64 / runs as f64;
        eprintln!("coverage {share}, mean % change {}", pct_sum / runs as f64);
        assert!((0.92..=0.985).contains(&share), "coverage {share}");
        let mean = pct_sum / runs as f64;
        assert!((-23.0..=-17.0).contains(&mean), "mean % change {mean}");
    }
}
