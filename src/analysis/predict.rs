//! Predicting next month's crime per grid cell from past months: the
//! predictors the surge planner and the backtest share.
//!
//! A [`History`] holds, for a square grid in BNG metres, each month's count
//! (or harm) per cell. A predictor turns a window of months into a score per
//! cell; for `counts`, `kde` and `prospective` the score is an expected
//! count for one month (their totals equal the window's mean monthly total),
//! for `gi_star` it is the Gi* z-score.
//!
//! | predictor | score of cell j |
//! |---|---|
//! | `counts` | mean monthly count in j over the window |
//! | `kde` | the mean monthly counts smoothed with a quartic kernel of bandwidth h (weights (1 − d²/h²)² over cell centres, normalised to sum 1) |
//! | `prospective` | Bowers, Johnson & Pease (2004) prospective hotspotting: Σ over months m and cells i within the band of count(i, m) · 1/(1 + d_ij/cell) · 1/age(m), age 1 for the last month |
//! | `gi_star` | Gi* z of the window's total counts, fixed distance band (Ord & Getis 1995) |
//!
//! Smoothing works on cell counts (incidents snapped to their cell centre),
//! not on points: at the 100–250 m cells of a deployment plan that costs
//! little accuracy and lets one pass over the lattice serve every month.

use serde::{Deserialize, Serialize};

use super::grid::{Grid, GridKind};
use super::harm::HarmTable;
use super::select::Selection;
use super::weights::Weights;
use super::AnalysisError;
use crate::dataset::Dataset;

/// How a cell's next month is predicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Predictor {
    Counts,
    Kde,
    Prospective,
    GiStar,
}

crate::named_choices!(Predictor {
    Kde => "kde",
    Counts => "counts" | "recent" | "recent_counts",
    Prospective => "prospective",
    GiStar => "gistar" | "gi_star",
});

impl Predictor {
    pub const ALL: [Predictor; 4] = [
        Predictor::Counts,
        Predictor::Kde,
        Predictor::Prospective,
        Predictor::GiStar,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Predictor::Counts => "counts",
            Predictor::Kde => "kde",
            Predictor::Prospective => "prospective",
            Predictor::GiStar => "gi_star",
        }
    }
}

/// Predictor settings (metres).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PredictorParams {
    /// Quartic kernel bandwidth for `kde`.
    pub kde_bandwidth_m: f64,
    /// Distance band for `gi_star`.
    pub gi_band_m: f64,
    /// Neighbourhood for `prospective` (Bowers et al. used 400 m).
    pub prospective_band_m: f64,
}

impl Default for PredictorParams {
    fn default() -> Self {
        PredictorParams {
            kde_bandwidth_m: 400.0,
            gi_band_m: 750.0,
            prospective_band_m: 400.0,
        }
    }
}

pub use super::grid::Stencil;

/// Cells within `radius_m` of a cell centre (centre distance ≤ r), weight 1.
pub fn disc_stencil(radius_m: f64, cell_m: f64) -> Stencil {
    super::grid::stencil_within(radius_m, cell_m, |_| 1.0)
}

/// Quartic kernel weights, normalised to sum 1.
pub fn quartic_stencil(h_m: f64, cell_m: f64) -> Stencil {
    let mut s = super::grid::stencil_within(h_m, cell_m, |d| {
        let u = d / h_m;
        (1.0 - u * u).powi(2)
    });
    let total: f64 = s.iter().map(|t| t.2).sum();
    for t in s.iter_mut() {
        t.2 /= total;
    }
    s
}

/// Prospective weights 1/(1 + d/cell).
pub fn prospective_stencil(band_m: f64, cell_m: f64) -> Stencil {
    super::grid::stencil_within(band_m, cell_m, |d| 1.0 / (1.0 + d / cell_m))
}

/// Monthly values per cell of a square grid.
#[derive(Debug, Clone)]
pub struct History {
    pub grid: Grid,
    /// Month number of `values[0]`.
    pub first_month: u32,
    /// `values[m][cell]`: incidents (or harm, days) in month `first_month + m`.
    pub values: Vec<Vec<f64>>,
    /// Incidents selected, and those outside every cell.
    pub incidents: usize,
    pub outside_grid: usize,
    /// The kind and crime types counted.
    pub counted: super::select::Counted,
}

impl History {
    /// Counts the selected incidents per month and cell of a `cell_m` square
    /// grid, over the selection's months (or the data's when it gives none).
    pub fn build(
        ds: &Dataset,
        selection: &Selection,
        cell_m: f64,
        harm: Option<&HarmTable>,
    ) -> Result<History, AnalysisError> {
        super::positive_metres("cell", cell_m)?;
        let points = selection.apply(ds)?;
        if points.is_empty() {
            return Err(AnalysisError::Empty(selection.to_string()));
        }
        let grid = Grid::new(GridKind::Square, cell_m, ds.ward_index.polygons());
        if grid.cells.is_empty() {
            return Err(AnalysisError::Param {
                name: "cell".into(),
                message: format!("no {cell_m} m cell has its centre inside the study area; use a smaller cell"),
            });
        }
        // The selection's month range when given (months without incidents
        // still count), else the data's.
        let (from, to) = selection.months()?;
        let first = from.unwrap_or_else(|| *points.month.iter().min().unwrap_or(&0));
        let last = to.unwrap_or_else(|| *points.month.iter().max().unwrap_or(&0));
        let weight: Vec<f64> = match harm {
            Some(h) => points.types.iter().map(|t| h.weight(t)).collect(),
            None => vec![1.0; points.types.len()],
        };
        let mut values = vec![vec![0.0; grid.cells.len()]; (last - first + 1) as usize];
        let mut outside = 0;
        for i in 0..points.len() {
            match grid.cell_of(points.easting_m[i], points.northing_m[i]) {
                Some(c) => {
                    values[(points.month[i] - first) as usize][c as usize] += weight[points.crime_type[i] as usize]
                }
                None => outside += 1,
            }
        }
        Ok(History {
            grid,
            first_month: first,
            values,
            incidents: points.len(),
            outside_grid: outside,
            counted: points.counted(selection),
        })
    }

    pub fn months(&self) -> usize {
        self.values.len()
    }

    /// Σ of `values` over months `from..to` (indices into `values`).
    pub fn window_sum(&self, from: usize, to: usize) -> Vec<f64> {
        let mut s = vec![0.0; self.grid.cells.len()];
        for m in &self.values[from..to] {
            for (a, v) in s.iter_mut().zip(m) {
                *a += v;
            }
        }
        s
    }
}

/// A predictor ready to run on a history: its stencils and weights built once.
pub struct Model {
    pub params: PredictorParams,
    quartic: Stencil,
    prospective: Stencil,
    gi_weights: std::sync::OnceLock<Weights>,
}

impl Model {
    pub fn new(history: &History, params: PredictorParams) -> Result<Model, AnalysisError> {
        super::positive_metres("bandwidth", params.kde_bandwidth_m)?;
        super::positive_metres("band", params.gi_band_m)?;
        super::positive_metres("prospective_band", params.prospective_band_m)?;
        let cell = history.grid.cell_m;
        Ok(Model {
            params,
            quartic: quartic_stencil(params.kde_bandwidth_m, cell),
            prospective: prospective_stencil(params.prospective_band_m, cell),
            gi_weights: std::sync::OnceLock::new(),
        })
    }

    fn gi_weights(&self, history: &History) -> &Weights {
        self.gi_weights.get_or_init(|| {
            let centres: Vec<[f64; 2]> = history.grid.cells.iter().map(|c| c.centre).collect();
            Weights::distance_band(&centres, self.params.gi_band_m, false)
        })
    }

    /// Scores per cell from months `from..to` of the history (indices into
    /// `history.values`), predicting month `to`.
    pub fn predict(&self, history: &History, predictor: Predictor, from: usize, to: usize) -> Vec<f64> {
        let k = (to - from).max(1) as f64;
        match predictor {
            Predictor::Counts => history.window_sum(from, to).into_iter().map(|v| v / k).collect(),
            Predictor::Kde => {
                let mean: Vec<f64> = history.window_sum(from, to).into_iter().map(|v| v / k).collect();
                history.grid.convolve(&mean, &self.quartic)
            }
            Predictor::Prospective => {
                let mut decayed = vec![0.0; history.grid.cells.len()];
                for (m, month) in history.values[from..to].iter().enumerate() {
                    let age = (to - from - m) as f64;
                    for (a, v) in decayed.iter_mut().zip(month) {
                        *a += v / age;
                    }
                }
                let mut s = history.grid.convolve(&decayed, &self.prospective);
                // Scale to the window's mean monthly total, so scores read as expected counts.
                let (total, mean_total) = (
                    s.iter().sum::<f64>(),
                    history.window_sum(from, to).iter().sum::<f64>() / k,
                );
                if total > 0.0 {
                    for v in s.iter_mut() {
                        *v *= mean_total / total;
                    }
                }
                s
            }
            Predictor::GiStar => {
                let x = history.window_sum(from, to);
                let w = self.gi_weights(history);
                super::gi_star::z_scores(&x, w, 1.0)
                    .into_iter()
                    .map(|z| if z.is_finite() { z } else { 0.0 })
                    .collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quartic_stencil_sums_to_one_and_peaks_at_the_centre() {
        let s = quartic_stencil(400.0, 100.0);
        assert!((s.iter().map(|t| t.2).sum::<f64>() - 1.0).abs() < 1e-12);
        let centre = s.iter().find(|t| t.0 == 0 && t.1 == 0).unwrap().2;
        assert!(s.iter().all(|t| t.2 <= centre));
        // Cells at exactly h have weight 0; none beyond h.
        assert!(s
            .iter()
            .all(|t| ((t.0 * t.0 + t.1 * t.1) as f64).sqrt() * 100.0 <= 400.0 + 1e-6));
    }

    #[test]
    fn disc_stencil_counts_lattice_points_in_the_circle() {
        // Lattice points with x² + y² ≤ 9: Gauss circle problem N(3) = 29.
        assert_eq!(disc_stencil(300.0, 100.0).len(), 29);
        assert_eq!(disc_stencil(99.0, 100.0).len(), 1);
    }
}
