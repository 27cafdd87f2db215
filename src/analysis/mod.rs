//! The analytic core: units of analysis (grids), spatial weights, and the
//! statistics an analyst puts in front of a commander. Reads a
//! [`crate::dataset::Dataset`], never raw files, and knows nothing of HTTP:
//! the CLI and the server call the same functions.
//!
//! | file | owns |
//! |---|---|
//! | `params.rs` | each analysis's parameters, declared once ([`params::Spec`]); checked [`params::Values`] with defaults |
//! | `cancel.rs` | stopping work nobody waits for: a token hot loops ask |
//! | `cost.rs` | what a request will cost (cells, neighbour pairs, work), estimated from its parameters before any work, against limits |
//! | `run.rs` | running an analysis from the CLI or the server alike; the registry [`run::ALL`] |
//! | `harm.rs` | harm weights per crime type (CCHI-style days), from a CSV or `type:days` pairs |
//! | `select.rs` | which incidents: crime types, months, kind |
//! | `grid.rs` | square and hexagon grids in BNG metres over the study area |
//! | `units.rs` | units of analysis: grid cells or wards/boroughs; queen and rook contiguity |
//! | `weights.rs` | sparse spatial weights: distance band, inverse distance, kNN |
//! | `gi_star.rs` | Getis-Ord Gi* (Ord & Getis 1995 general form) |
//! | `permutation.rs` | conditional permutation pseudo p-values for Gi* and LISA (esda's draws and folding, ties on both sides) |
//! | `fdr.rs` | Benjamini–Hochberg FDR, Bonferroni, ArcGIS confidence bins |
//! | `scale.rs` | default cell size and distance band, chosen from the data |
//! | `hotspot.rs` | a Gi* hotspot layer: counts per cell, z, p, FDR, bins |
//! | `mann_kendall.rs` | the Mann–Kendall trend test |
//! | `emerging.rs` | emerging hot spots: space-time Gi*, trends, ArcGIS categories |
//! | `kde.rs` | quartic kernel density per km², Silverman-style default bandwidth |
//! | `lisa.rs` | Local Moran's I (row-standardised, as esda), quadrants, permutation p |
//! | `study_area.rs` | the union of the wards as a fine raster: areas of buffers inside London |
//! | `buckets.rs` | selected incidents in square buckets for fast radius counts |
//! | `poi_risk.rs` | incidents around schools and stations against a background rate; the whole-layer ratio |
//! | `predict.rs` | next month per cell from past months: counts, KDE, prospective, Gi* |
//! | `surge.rs` | surge-team priority areas: greedy disjoint circles with an optimality certificate |
//! | `evaluate.rs` | rolling-origin backtest: hit rate, PAI, PEI, RRI by coverage |
//! | `glm.rs` | Poisson and negative binomial (NB2) count GLMs by IRLS; α by ML, the LR test between them; delta-method prediction intervals |
//! | `pledge.rs` | observed counts against a seasonal-trend counterfactual: per month, cumulative, EWMA chart, by area with BH |
//! | `wdd.rs` | the weighted displacement difference test (Wheeler & Ratcliffe 2018) with time and area weights, and the WDQ (Bowers & Johnson 2003) |
//! | `wdd_areas.rs` | the WDD from the dataset: treated circles or polygons, rings, automatic or given controls, counts |
//! | `layer.rs` | result layers written as GeoJSON (RFC 7946) or CSV |

pub mod buckets;
pub mod cancel;
pub mod cell_counts;
pub mod cost;
pub mod emerging;
pub mod evaluate;
pub mod fdr;
pub mod gi_star;
pub mod glm;
pub mod grid;
pub mod harm;
pub mod hotspot;
pub mod kde;
pub mod layer;
pub mod lisa;
pub mod mann_kendall;
pub mod params;
pub mod permutation;
pub mod pledge;
pub mod poi_risk;
pub mod predict;
pub mod run;
pub mod scale;
pub mod select;
pub mod study_area;
pub mod surge;
pub mod units;
pub mod wdd;
pub mod wdd_areas;
pub mod weights;

/// Errors from analyses. `Param` names the request parameter at fault.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error("parameter `{name}`: {message}")]
    Param { name: String, message: String },
    #[error("no incidents match the selection ({0})")]
    Empty(String),
    #[error("dataset: {0}")]
    Data(String),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// Cancelled: nobody waits for the result any more ([`cancel`]).
    #[error("the computation was cancelled")]
    Cancelled,
    /// The request would cost more than the server allows ([`cost`]).
    #[error("parameter `{param}`: {message}")]
    TooCostly { param: String, message: String },
}

/// An error naming the request parameter at fault.
pub(crate) fn param(name: &str, message: impl Into<String>) -> AnalysisError {
    AnalysisError::Param {
        name: name.into(),
        message: message.into(),
    }
}

/// Checks a length parameter: a finite number of metres above zero.
pub(crate) fn positive_metres(name: &str, v: f64) -> Result<(), AnalysisError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(AnalysisError::Param {
            name: name.into(),
            message: format!("must be a positive number of metres, got {v}"),
        })
    }
}
