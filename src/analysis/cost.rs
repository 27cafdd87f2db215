//! What a request will cost, estimated from its parameters and the dataset
//! before any work starts, and the limits a server holds it to.
//!
//! Three measures, each with a limit ([`Limits`]):
//! - **cells**: features of the result (grid cells, raster pixels, cells ×
//!   months, POIs × radii): bounds the result's memory and the response;
//! - **pairs**: what is held at once while computing (neighbour pairs of
//!   the spatial weights, cells × months of a space-time cube): bounds the
//!   computation's memory;
//! - **work**: elementary steps (pair visits × (1 + permutations), pixels ×
//!   kernel cells, ...): bounds the computation's time; on this project's
//!   2-core machine about 10⁹ steps take a second.
//!
//! Each analysis's `cost` function (beside its [`super::params::Spec`])
//! returns a [`Cost`]; a measure names the parameter that sets it (a
//! [`Lever`]), so a refusal can say which parameter to change and to what.

use super::params::Values;
use super::AnalysisError;
use crate::dataset::Dataset;

/// The most a request may cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub max_cells: f64,
    pub max_pairs: f64,
    pub max_work: f64,
}

impl Default for Limits {
    /// Admits every documented use on all-London data: a 100 m grid
    /// (159,452 cells, 300 m band: 4.6 M pairs), 999 permutations on 250 m
    /// cells (25,521 cells × 29 neighbours × 1,000: 0.74 × 10⁹ steps), a
    /// 50 m KDE raster (637,905 pixels).
    fn default() -> Limits {
        Limits {
            max_cells: 1_000_000.0,
            max_pairs: 20_000_000.0,
            max_work: 5e9,
        }
    }
}

/// How a measure depends on one parameter, to suggest an admissible value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Lever {
    /// The measure is proportional to `value^-power` (a cell size: power 2).
    Inverse {
        param: &'static str,
        value: f64,
        power: f64,
    },
    /// The measure is proportional to `value^power` (a band, a radius).
    Power {
        param: &'static str,
        value: f64,
        power: f64,
    },
    /// The measure is `base + per · value` (permutations).
    Linear {
        param: &'static str,
        value: f64,
        base: f64,
        per: f64,
    },
}

impl Lever {
    pub fn param(&self) -> &'static str {
        match self {
            Lever::Inverse { param, .. } | Lever::Power { param, .. } | Lever::Linear { param, .. } => param,
        }
    }

    /// The value of the parameter nearest its current one whose measure
    /// keeps to `limit`, as a sentence fragment ("cell=40 or more").
    fn suggestion(&self, measure: f64, limit: f64) -> Option<String> {
        match *self {
            Lever::Inverse { param, value, power } => {
                let v = value * (measure / limit).powf(1.0 / power);
                Some(format!("{param}={} or more", round_up(v)))
            }
            Lever::Power { param, value, power } => {
                let v = value * (limit / measure).powf(1.0 / power);
                (v > 0.0).then(|| format!("{param}={} or less", round_down(v)))
            }
            Lever::Linear { param, base, per, .. } => {
                let v = ((limit - base) / per).floor();
                (v >= 0.0).then(|| format!("{param}={v} or less"))
            }
        }
    }
}

/// Two significant figures, rounded up (rounded down for [`round_down`]).
fn round_up(v: f64) -> f64 {
    let scale = 10f64.powf(v.abs().log10().floor() - 1.0);
    (v / scale).ceil() * scale
}

fn round_down(v: f64) -> f64 {
    let scale = 10f64.powf(v.abs().log10().floor() - 1.0);
    (v / scale).floor() * scale
}

/// One measure of a request's cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measure {
    pub value: f64,
    /// The parameter that sets it, if one does.
    pub lever: Option<Lever>,
}

impl Measure {
    pub fn new(value: f64, lever: Option<Lever>) -> Measure {
        Measure { value, lever }
    }
}

/// A request's estimated cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cost {
    pub cells: Measure,
    pub pairs: Measure,
    pub work: Measure,
}

/// A whole number with thousands separators.
pub fn thousands(v: f64) -> String {
    let s = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Cost {
    /// The measures over their limits, as (parameter, sentence), worst first.
    pub fn excesses(&self, limits: &Limits) -> Vec<(String, String)> {
        self.excesses_given(limits, |_| false)
    }

    /// As [`Cost::excesses`], those set by a parameter the user gave first
    /// (what they changed is what to change back).
    pub fn excesses_given(&self, limits: &Limits, given: impl Fn(&str) -> bool) -> Vec<(String, String)> {
        let mut out: Vec<(f64, String, String)> = Vec::new();
        for (m, limit, what) in [
            (self.cells, limits.max_cells, "features in the result"),
            (
                self.pairs,
                limits.max_pairs,
                "neighbour pairs (or cells × months) held while computing",
            ),
            (self.work, limits.max_work, "steps of work"),
        ] {
            if m.value > limit {
                let param = m
                    .lever
                    .map(|l| l.param().to_string())
                    .unwrap_or_else(|| "crime_type".into());
                let suggestion = m
                    .lever
                    .and_then(|l| l.suggestion(m.value, limit))
                    .map(|s| format!("; try {s}"))
                    .unwrap_or_default();
                out.push((
                    m.value / limit,
                    param,
                    format!(
                        "the request would make an estimated {} {what}, over this server's limit of {}{suggestion}",
                        thousands(m.value),
                        thousands(limit)
                    ),
                ));
            }
        }
        out.sort_by(|a, b| given(&b.1).cmp(&given(&a.1)).then(b.0.total_cmp(&a.0)));
        out.into_iter().map(|(_, p, m)| (p, m)).collect()
    }

    /// `Err(TooCostly)` naming the parameter when a measure is over its
    /// limit (one the user gave, when one of those is at fault).
    pub fn check(&self, limits: &Limits, given: impl Fn(&str) -> bool) -> Result<(), AnalysisError> {
        match self.excesses_given(limits, given).into_iter().next() {
            None => Ok(()),
            Some((param, message)) => Err(AnalysisError::TooCostly { param, message }),
        }
    }
}

/// Estimates a request's cost.
pub type CostFn = fn(&Dataset, &Values) -> Result<Cost, AnalysisError>;

/// The study area (the wards' total area), square metres.
pub fn study_area_m2(ds: &Dataset) -> f64 {
    ds.wards
        .column(crate::dataset::schema::areas::AREA_KM2)
        .ok()
        .and_then(|c| c.f64().ok().map(|v| v.iter().flatten().sum::<f64>()))
        .unwrap_or(0.0)
        * 1e6
}

/// Incidents in the dataset (an upper bound on any selection).
pub fn incidents(ds: &Dataset) -> f64 {
    ds.columns.month.len() as f64
}

/// Months the dataset spans.
pub fn months(ds: &Dataset) -> f64 {
    let m = &ds.columns.months_present;
    match (m.first(), m.last()) {
        (Some(a), Some(b)) => (b - a + 1) as f64,
        _ => 1.0,
    }
}

/// Cells of a grid of `cell_m` over the study area (`hex`: hexagons whose
/// centres are `cell_m` apart, area √3/2 · cell²).
pub fn grid_cells(area_m2: f64, cell_m: f64, hex: bool) -> f64 {
    let cell_area = if hex { 3f64.sqrt() / 2.0 } else { 1.0 } * cell_m * cell_m;
    area_m2 / cell_area
}

/// The cell size at which a grid over `area_m2` has `cells` cells.
pub fn cell_for(area_m2: f64, cells: f64, hex: bool) -> f64 {
    let shape = if hex { 3f64.sqrt() / 2.0 } else { 1.0 };
    (area_m2 / (cells.max(1.0) * shape)).sqrt()
}

/// Neighbours within `band_m` of a cell of area `cell_area_m2`, itself included.
pub fn band_neighbours(band_m: f64, cell_area_m2: f64) -> f64 {
    std::f64::consts::PI * band_m * band_m / cell_area_m2 + 1.0
}

/// What to change when cells × neighbours is too much: the band when a
/// cell has hundreds of neighbours (the band is wide for the cell), else
/// the cell (cells × neighbours then goes as cell⁻⁴).
pub fn neighbourhood_lever(cell_m: f64, band_m: f64, neighbours: f64) -> Option<Lever> {
    Some(if neighbours > 300.0 {
        Lever::Power {
            param: "band",
            value: band_m,
            power: 2.0,
        }
    } else {
        Lever::Inverse {
            param: "cell",
            value: cell_m,
            power: 4.0,
        }
    })
}

/// Average area of an H3 cell at `resolution`, square metres (4,357,449 km²
/// at resolution 0, a seventh of it per level).
pub fn h3_cell_area_m2(resolution: u8) -> f64 {
    4.357_449e12 / 7f64.powi(resolution as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_parameter_and_an_admissible_value() {
        // London at 25 m: ~2.55 M cells, over a limit of 1 M: cell=40 (39.9) or more.
        let area = 1_594.7e6;
        let cells = grid_cells(area, 25.0, false);
        let cost = Cost {
            cells: Measure::new(
                cells,
                Some(Lever::Inverse {
                    param: "cell",
                    value: 25.0,
                    power: 2.0,
                }),
            ),
            pairs: Measure::new(0.0, None),
            work: Measure::new(
                1e3 + 25_000.0 * 1e8,
                Some(Lever::Linear {
                    param: "permutations",
                    value: 1e8,
                    base: 1e3,
                    per: 25_000.0,
                }),
            ),
        };
        let e = cost.excesses(&Limits::default());
        assert_eq!(e[0].0, "permutations", "the worst excess first: {e:?}");
        assert!(e[0].1.contains("permutations=199999 or less"), "{}", e[0].1);
        assert_eq!(e[1].0, "cell");
        assert!(
            e[1].1.contains("2,551,520 features") && e[1].1.contains("cell=40 or more"),
            "{}",
            e[1].1
        );
        assert!(
            matches!(cost.check(&Limits::default(), |_| false), Err(AnalysisError::TooCostly { param, .. }) if param == "permutations")
        );
        assert!(
            matches!(cost.check(&Limits::default(), |p| p == "cell"), Err(AnalysisError::TooCostly { param, .. }) if param == "cell")
        );
        assert_eq!(thousands(1234567.0), "1,234,567");
        assert_eq!(round_up(39.9), 40.0);
        assert_eq!(round_down(1234.0), 1200.0);
    }
}
