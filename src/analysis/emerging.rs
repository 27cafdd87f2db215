//! Emerging hot spots: a monthly space-time cube over grid cells, Gi* in
//! every bin, the Mann–Kendall trend of each location's Gi* z-scores, and
//! ArcGIS's categories.
//!
//! Definitions followed: Esri, ArcGIS Pro 3.x documentation ("latest"),
//! the Emerging Hot Spot Analysis tool reference and "How Emerging Hot Spot
//! Analysis works" (ArcGIS AllSource "latest" carries the same definitions);
//! read for issue 22.
//!
//! **Neighbourhood.** Each bin (cell, month) has as neighbours the cells
//! within the band (and itself) in the same month and in the `time_step`
//! months before: ArcGIS's Neighborhood Time Step, "the bins at the same
//! location from the previous N time steps", default 1. So by default a
//! bin's neighbourhood spans its own month and the one before (edge bins
//! with fewer earlier months have fewer neighbours, as in ArcGIS);
//! `time_step = 0` is purely spatial, month by month (this engine's default
//! before issue 22, when `time_step` counted the bin's own month).
//! x̄ and S are taken over the whole cube, as in a space-time Gi*. A bin is
//! a significant hot (cold) spot when its Gi* p-value passes the
//! Benjamini–Hochberg FDR threshold at `alpha` over all bins and z > 0
//! (< 0). A trend is significant when the Mann–Kendall p-value is below
//! `alpha`.
//!
//! **Categories**, in Esri's current words (paraphrased), checked in this
//! order for hot spots and then, mirrored, for cold:
//! - **New**: significant hot spot in the final time step, never before.
//! - **Consecutive**: a single uninterrupted run of at least two hot bins in
//!   the final time steps, never hot before that run, and less than 90 % of
//!   bins hot.
//! - **Intensifying**: hot for at least 90 % of time steps including the
//!   final one, with a significant increasing trend in clustering intensity.
//! - **Diminishing**: the same, with a significant decreasing trend.
//! - **Historical**: the final time step is not hot, but at least 90 % were.
//! - **Persistent**: hot for at least 90 % of time steps, no significant trend.
//! - **Oscillating**: hot in the final time step, cold in some earlier one,
//!   less than 90 % hot.
//! - **Sporadic**: hot in the final time step, with a history of being
//!   on-again, off-again hot; less than 90 % hot, never cold. (Pro 2.8 and
//!   ArcMap 10.x did not require the final step: "an on-again then off-again
//!   hot spot". A location hot now and then but not in the final step is
//!   now no pattern.)
//! - **No pattern detected**: none of the above.

use geo::Geometry;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::cost::{self, Cost, Lever, Measure};
use super::grid::{Grid, GridKind};
use super::layer::{Feature, Layer};
use super::mann_kendall::{self, MannKendall};
use super::params::{Param, ParamType, PropType, Property, Spec, Values, ALPHA, SELECTION};
use super::run::{Analysis, Computed, Ctx};
use super::select::Selection;
use super::weights::Weights;
use super::{fdr, gi_star, AnalysisError};
use crate::dataset::Dataset;

const EMERGING_PROPERTIES: &[Property] = &[
    Property::new("cell_id", PropType::Text, "the cell's id"),
    Property::new("category", PropType::Text, "the emerging hot spot category"),
    Property::new("count", PropType::Number, "incidents over the months"),
    Property::new(
        "hot_months",
        PropType::Integer,
        "months the cell was a significant hot spot",
    ),
    Property::new(
        "cold_months",
        PropType::Integer,
        "months the cell was a significant cold spot",
    ),
    Property::new("final_gi_z", PropType::Number, "Gi* z in the last month"),
    Property::new(
        "trend_z",
        PropType::Number,
        "Mann-Kendall z of the monthly Gi* z-scores",
    ),
    Property::new("trend_p", PropType::Number, "Mann-Kendall p"),
    Property::new("trend_tau", PropType::Number, "Kendall's tau"),
];

/// `emerging`: emerging hot spot categories per cell.
pub const EMERGING: Analysis = Analysis {
    spec: Spec {
        id: "emerging",
        title: "Emerging hot spots",
        about: "Monthly space-time Gi*, Mann-Kendall trends and ArcGIS's emerging hot spot categories (new, consecutive, intensifying, persistent, diminishing, sporadic, oscillating, historical; cold mirrors; no pattern).",
        groups: &[
            SELECTION,
            &[
                Param::choice("grid", GridKind::NAMES, "square", "cell shape"),
                Param::metres("cell", "cell size").default("250"),
                Param::metres("band", "distance band").default("750"),
                Param::new(
                    "time_step",
                    ParamType::Integer,
                    "previous months in each bin's neighbourhood besides its own (ArcGIS's Neighborhood Time Step; 0: its own month only)",
                )
                .default("1")
                .unit("months"),
                ALPHA,
            ],
        ],
        cli: true,
        http: true,
        properties: &[EMERGING_PROPERTIES],
    },
    run: run_emerging,
    cost: cost_emerging,
    offline: None,
};

/// The cost of emerging hot spots: a Gi* per (cell, month) bin over the
/// months selected (all the dataset's when not limited).
fn cost_emerging(ds: &Dataset, v: &Values) -> Result<Cost, AnalysisError> {
    let req = EmergingRequest::from_values(v)?;
    let area = cost::study_area_m2(ds);
    let hex = req.grid == GridKind::Hex;
    let cells = cost::grid_cells(area, req.cell_m, hex);
    let months = match (req.selection.from.as_deref(), req.selection.to.as_deref()) {
        (Some(a), Some(b)) => match (crate::month::parse(a), crate::month::parse(b)) {
            (Some(a), Some(b)) if b >= a => (b - a + 1) as f64,
            _ => cost::months(ds),
        },
        _ => cost::months(ds),
    };
    let cell_lever = Some(Lever::Inverse {
        param: "cell",
        value: req.cell_m,
        power: 2.0,
    });
    let neighbours = cost::band_neighbours(req.band_m, area / cells.max(1.0)) * (req.time_step + 1) as f64;
    let bins = cells * months;
    Ok(Cost {
        cells: Measure::new(cells, cell_lever),
        pairs: Measure::new(bins, cell_lever),
        work: Measure::new(
            bins * neighbours,
            cost::neighbourhood_lever(req.cell_m, req.band_m, neighbours),
        ),
    })
}

impl EmergingRequest {
    /// The request from checked parameter values.
    pub fn from_values(v: &Values) -> Result<EmergingRequest, AnalysisError> {
        Ok(EmergingRequest {
            selection: v.selection()?,
            grid: v.choice("grid")?.unwrap_or(GridKind::Square),
            cell_m: v.number("cell")?,
            band_m: v.number("band")?,
            time_step: v.count("time_step")?,
            alpha: v.number("alpha")?,
        })
    }
}

fn run_emerging(c: &Ctx<'_>, v: &Values) -> Result<Computed, AnalysisError> {
    let layer = emerging(c.dataset, &EmergingRequest::from_values(v)?)?.to_layer();
    let summary = serde_json::to_string_pretty(&layer.metadata["categories"]).unwrap_or_default();
    Ok(Computed::layer(layer, summary))
}

/// What to compute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmergingRequest {
    pub selection: Selection,
    pub grid: GridKind,
    pub cell_m: f64,
    pub band_m: f64,
    /// Previous months in each bin's neighbourhood besides its own
    /// (ArcGIS's Neighborhood Time Step; 0 = its own month only).
    pub time_step: usize,
    pub alpha: f64,
}

impl Default for EmergingRequest {
    fn default() -> Self {
        EmergingRequest {
            selection: Selection::default(),
            grid: GridKind::Square,
            cell_m: 250.0,
            band_m: 750.0,
            time_step: 1,
            alpha: 0.05,
        }
    }
}

/// An emerging hot spot category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    NewHotSpot,
    ConsecutiveHotSpot,
    IntensifyingHotSpot,
    PersistentHotSpot,
    DiminishingHotSpot,
    SporadicHotSpot,
    OscillatingHotSpot,
    HistoricalHotSpot,
    NewColdSpot,
    ConsecutiveColdSpot,
    IntensifyingColdSpot,
    PersistentColdSpot,
    DiminishingColdSpot,
    SporadicColdSpot,
    OscillatingColdSpot,
    HistoricalColdSpot,
    NoPatternDetected,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::NewHotSpot => "new_hot_spot",
            Category::ConsecutiveHotSpot => "consecutive_hot_spot",
            Category::IntensifyingHotSpot => "intensifying_hot_spot",
            Category::PersistentHotSpot => "persistent_hot_spot",
            Category::DiminishingHotSpot => "diminishing_hot_spot",
            Category::SporadicHotSpot => "sporadic_hot_spot",
            Category::OscillatingHotSpot => "oscillating_hot_spot",
            Category::HistoricalHotSpot => "historical_hot_spot",
            Category::NewColdSpot => "new_cold_spot",
            Category::ConsecutiveColdSpot => "consecutive_cold_spot",
            Category::IntensifyingColdSpot => "intensifying_cold_spot",
            Category::PersistentColdSpot => "persistent_cold_spot",
            Category::DiminishingColdSpot => "diminishing_cold_spot",
            Category::SporadicColdSpot => "sporadic_cold_spot",
            Category::OscillatingColdSpot => "oscillating_cold_spot",
            Category::HistoricalColdSpot => "historical_cold_spot",
            Category::NoPatternDetected => "no_pattern_detected",
        }
    }
}

/// Classifies one location from its per-month significance (`hot[t]`,
/// `cold[t]`) and the Mann–Kendall trend of its z-scores (`trend_z`,
/// significant when `trend_significant`).
pub fn classify(hot: &[bool], cold: &[bool], trend_z: f64, trend_significant: bool) -> Category {
    use Category::*;
    let hot_cats = [
        NewHotSpot,
        ConsecutiveHotSpot,
        IntensifyingHotSpot,
        DiminishingHotSpot,
        HistoricalHotSpot,
        PersistentHotSpot,
        OscillatingHotSpot,
        SporadicHotSpot,
    ];
    let cold_cats = [
        NewColdSpot,
        ConsecutiveColdSpot,
        IntensifyingColdSpot,
        DiminishingColdSpot,
        HistoricalColdSpot,
        PersistentColdSpot,
        OscillatingColdSpot,
        SporadicColdSpot,
    ];
    classify_side(hot, cold, trend_z, trend_significant, &hot_cats)
        .or_else(|| classify_side(cold, hot, -trend_z, trend_significant, &cold_cats))
        .unwrap_or(NoPatternDetected)
}

/// `up` = the side being classified (hot), `other` = the opposite side;
/// `trend` is oriented so that positive means intensifying on this side.
fn classify_side(
    up: &[bool],
    other: &[bool],
    trend: f64,
    trend_significant: bool,
    cats: &[Category; 8],
) -> Option<Category> {
    let n = up.len();
    if n == 0 {
        return None;
    }
    let count = up.iter().filter(|b| **b).count();
    if count == 0 {
        return None;
    }
    let share = count as f64 / n as f64;
    let last = up[n - 1];
    let run = up.iter().rev().take_while(|b| **b).count();
    let before_run = up[..n - run].iter().any(|b| *b);
    let ever_other = other.iter().any(|b| *b);
    let [new, consecutive, intensifying, diminishing, historical, persistent, oscillating, sporadic] = *cats;
    Some(if last && count == 1 {
        new
    } else if last && !before_run && share < 0.9 {
        consecutive
    } else if last && share >= 0.9 && trend_significant && trend > 0.0 {
        intensifying
    } else if last && share >= 0.9 && trend_significant && trend < 0.0 {
        diminishing
    } else if !last && share >= 0.9 {
        historical
    } else if share >= 0.9 {
        persistent
    } else if last && ever_other {
        oscillating
    } else if last && !ever_other {
        sporadic
    } else {
        return None;
    })
}

/// Space-time Gi* of a cube `count[cell * t_n + t]` under binary spatial
/// weights `w`: each bin's neighbours are the cells within the band and
/// itself, in its own time step and the `time_step` before it (module
/// docs); n, x̄ and S over every bin of the cube.
pub fn space_time_z(count: &[f64], t_n: usize, w: &Weights, time_step: usize) -> Vec<f64> {
    let n = count.len() as f64;
    let mean = count.iter().sum::<f64>() / n;
    let s = (count.iter().map(|v| v * v).sum::<f64>() / n - mean * mean)
        .max(0.0)
        .sqrt();
    let mut z = vec![f64::NAN; count.len()];
    for i in 0..w.len() {
        if super::cancel::requested() {
            break;
        }
        for t in 0..t_n {
            let mut lag = 0.0;
            let mut sw = 0.0;
            for tt in t.saturating_sub(time_step)..=t {
                lag += count[i * t_n + tt];
                sw += 1.0;
                for (j, wij) in w.row(i) {
                    lag += wij * count[j as usize * t_n + tt];
                    sw += wij;
                }
            }
            // Binary weights: Σw² = Σw.
            let den = s * ((n * sw - sw * sw) / (n - 1.0)).sqrt();
            z[i * t_n + t] = if den > 0.0 { (lag - mean * sw) / den } else { f64::NAN };
        }
    }
    z
}

/// The result.
#[derive(Debug, Clone)]
pub struct Emerging {
    pub request: EmergingRequest,
    pub grid: Grid,
    /// Month numbers of the cube's time steps.
    pub months: Vec<u32>,
    /// Counts and Gi* z per bin, `cell * months.len() + t`.
    pub count: Vec<f64>,
    pub z: Vec<f64>,
    pub hot: Vec<bool>,
    pub cold: Vec<bool>,
    pub trend: Vec<MannKendall>,
    pub category: Vec<Category>,
    /// The kind and crime types counted.
    pub counted: super::select::Counted,
}

/// Builds the cube and classifies every cell.
pub fn emerging(ds: &Dataset, req: &EmergingRequest) -> Result<Emerging, AnalysisError> {
    super::positive_metres("cell", req.cell_m)?;
    super::positive_metres("band", req.band_m)?;
    let points = req.selection.apply(ds)?;
    if points.is_empty() {
        return Err(AnalysisError::Empty(req.selection.to_string()));
    }
    let (from, to) = req.selection.months()?;
    let first = from.unwrap_or_else(|| *points.month.iter().min().unwrap_or(&0));
    let last = to.unwrap_or_else(|| *points.month.iter().max().unwrap_or(&0));
    let months: Vec<u32> = (first..=last).collect();
    let t_n = months.len();
    if t_n < 2 {
        return Err(AnalysisError::Param {
            name: "from".into(),
            message: "an emerging hot spot analysis needs at least two months".into(),
        });
    }
    let grid = Grid::new(req.grid, req.cell_m, ds.ward_index.polygons());
    let n_cells = grid.cells.len();
    let mut count = vec![0.0; n_cells * t_n];
    for k in 0..points.len() {
        if let Some(c) = grid.cell_of(points.easting_m[k], points.northing_m[k]) {
            count[c as usize * t_n + (points.month[k] - first) as usize] += 1.0;
        }
    }
    let centres: Vec<[f64; 2]> = grid.cells.iter().map(|c| c.centre).collect();
    let w = Weights::distance_band(&centres, req.band_m, false);
    let z = space_time_z(&count, t_n, &w, req.time_step);
    let p: Vec<f64> = z.iter().map(|v| gi_star::p_two_sided(*v)).collect();
    let threshold = fdr::bh_threshold(&p, req.alpha);
    let hot: Vec<bool> = z.iter().zip(&p).map(|(z, p)| *p <= threshold && *z > 0.0).collect();
    let cold: Vec<bool> = z.iter().zip(&p).map(|(z, p)| *p <= threshold && *z < 0.0).collect();
    let mut trend = Vec::with_capacity(n_cells);
    let mut category = Vec::with_capacity(n_cells);
    for i in 0..n_cells {
        let r = i * t_n..(i + 1) * t_n;
        let mk = mann_kendall::test(&z[r.clone()]);
        let has_data = count[r.clone()].iter().any(|c| *c > 0.0);
        category.push(if has_data {
            classify(&hot[r.clone()], &cold[r], mk.z, mk.p < req.alpha)
        } else {
            Category::NoPatternDetected
        });
        trend.push(mk);
    }
    Ok(Emerging {
        request: req.clone(),
        grid,
        months,
        count,
        z,
        hot,
        cold,
        trend,
        category,
        counted: points.counted(&req.selection),
    })
}

impl Emerging {
    /// One polygon per cell (WGS84) with its category and trend.
    pub fn to_layer(&self) -> Layer {
        let t_n = self.months.len();
        let features = (0..self.grid.cells.len())
            .map(|i| {
                let wgs = self.grid.polygon_wgs84(i);
                let r = i * t_n..(i + 1) * t_n;
                let num = |v: f64| if v.is_finite() { Value::from(v) } else { Value::Null };
                let mut props = Map::new();
                props.insert("cell_id".into(), Value::from(self.grid.id(i)));
                props.insert("category".into(), Value::from(self.category[i].as_str()));
                props.insert("count".into(), Value::from(self.count[r.clone()].iter().sum::<f64>()));
                props.insert(
                    "hot_months".into(),
                    Value::from(self.hot[r.clone()].iter().filter(|b| **b).count()),
                );
                props.insert(
                    "cold_months".into(),
                    Value::from(self.cold[r.clone()].iter().filter(|b| **b).count()),
                );
                props.insert("final_gi_z".into(), num(self.z[r.end - 1]));
                props.insert("trend_z".into(), num(self.trend[i].z));
                props.insert("trend_p".into(), num(self.trend[i].p));
                props.insert("trend_tau".into(), num(self.trend[i].tau));
                Feature {
                    id: self.grid.id(i),
                    geometry: Geometry::Polygon(wgs),
                    properties: props,
                }
            })
            .collect();
        let mut tally: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
        for c in &self.category {
            *tally.entry(c.as_str()).or_default() += 1;
        }
        Layer {
            name: "emerging_hot_spots".into(),
            features,
            metadata: json!({
                "statistic": "space-time Getis-Ord Gi* per month, Mann-Kendall trend of z, ArcGIS emerging hot spot categories",
                "neighbourhood": format!(
                    "cells within {} m (and the cell itself) in the bin's month and the {} month(s) before it (ArcGIS's Neighborhood Time Step)",
                    self.request.band_m, self.request.time_step
                ),
                "category_definitions": "Esri, ArcGIS Pro 3.x (latest) \"How Emerging Hot Spot Analysis works\": sporadic and oscillating spots are hot (cold) in the final time step",
                "request": self.request,
                "first_month": crate::month::format(self.months[0]),
                "last_month": crate::month::format(*self.months.last().unwrap_or(&0)),
                "time_steps": t_n,
                "cells": self.grid.cells.len(),
                "counted": self.counted,
                "categories": tally,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Category::*;

    fn bits(s: &str) -> Vec<bool> {
        s.chars().map(|c| c == 'H').collect()
    }

    #[test]
    fn categories_follow_the_definitions() {
        let none = vec![false; 10];
        assert_eq!(classify(&bits("........HH"), &none, 2.5, true), ConsecutiveHotSpot);
        assert_eq!(classify(&bits(".........H"), &none, 1.0, false), NewHotSpot);
        assert_eq!(classify(&bits(".HHHHHHHHH"), &none, 3.0, true), IntensifyingHotSpot);
        assert_eq!(classify(&bits("HHHHHHHHHH"), &none, -3.0, true), DiminishingHotSpot);
        assert_eq!(classify(&bits("HHHHHHHHHH"), &none, 0.3, false), PersistentHotSpot);
        assert_eq!(classify(&bits("HHHHHHHHH."), &none, 0.3, false), HistoricalHotSpot);
        // Sporadic needs the final step hot (Esri's current definition);
        // Pro 2.8's wording called the first of these sporadic too.
        assert_eq!(classify(&bits("H..H..H..."), &none, 0.0, false), NoPatternDetected);
        assert_eq!(classify(&bits("H..H..H..H"), &none, 0.0, false), SporadicHotSpot);
        assert_eq!(classify(&none, &bits(".H..H...H."), 0.0, false), NoPatternDetected);
        assert_eq!(classify(&none, &bits(".H..H....H"), 0.0, false), SporadicColdSpot);
        assert_eq!(
            classify(&bits("H....H...H"), &bits("..H......."), 0.0, false),
            OscillatingHotSpot
        );
        // Cold mirror: hot and cold swapped, trend sign flipped.
        assert_eq!(classify(&none, &bits(".HHHHHHHHH"), -3.0, true), IntensifyingColdSpot);
        assert_eq!(classify(&none, &none, 0.0, false), NoPatternDetected);
    }

    /// Hand-worked space-time Gi*: two cells that neighbour each other,
    /// three months. count[cell 0] = (0, 4, 0), count[cell 1] = (2, 0, 0).
    /// n = 6, x̄ = 1, Σx² = 20, S = √(20/6 − 1) = √(7/3).
    /// Bin (0, t = 1), time_step 1: months 0 and 1, both cells: Σx = 0 + 2 +
    /// 4 + 0 = 6, Σw = 4: (6 − 4)/(√(7/3) √((24 − 16)/5)) = 2/(√(7/3) √1.6).
    /// time_step 0 (its own month): Σx = 4, Σw = 2: (4 − 2)/(√(7/3) √((12 − 4)/5)).
    /// Bin (1, t = 0) has no earlier month: the same for every time_step.
    #[test]
    fn time_step_adds_the_previous_months() {
        let w = Weights::from_lists(
            crate::analysis::weights::WeightsSpec::DistanceBand { band_m: 1.0 },
            vec![vec![1], vec![0]],
        );
        let count = [0.0, 4.0, 0.0, 2.0, 0.0, 0.0];
        let s = (7.0f64 / 3.0).sqrt();
        let z1 = space_time_z(&count, 3, &w, 1);
        assert!((z1[1] - 2.0 / (s * 1.6f64.sqrt())).abs() < 1e-12, "{z1:?}");
        let z0 = space_time_z(&count, 3, &w, 0);
        assert!((z0[1] - 2.0 / (s * 1.6f64.sqrt())).abs() < 1e-12, "{z0:?}");
        // Bin (0, t = 2), time_step 1: months 1 and 2: Σx = 4 + 0 + 0 + 0, Σw = 4.
        assert!((z1[2] - 0.0).abs() < 1e-12, "{z1:?}");
        // ... and with time_step 0 only month 2 (all zero): (0 − 2)/(S √1.6).
        assert!((z0[2] + 2.0 / (s * 1.6f64.sqrt())).abs() < 1e-12, "{z0:?}");
        assert_eq!(z1[3], z0[3]);
        // The default is ArcGIS's: one previous time step.
        assert_eq!(EmergingRequest::default().time_step, 1);
        let v = crate::analysis::params::Values::defaults(EMERGING.spec);
        assert_eq!(EmergingRequest::from_values(&v).unwrap().time_step, 1);
    }
}
