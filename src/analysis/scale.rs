//! Choosing the scale of analysis from the data, as ArcGIS's Optimized Hot
//! Spot Analysis does (its `OptimizedHotSpotAnalysis.py` / `SSUtilities.py`;
//! Esri's prose for these steps was not available to us), and saying which
//! rule made the choice:
//!
//! - Cell size: nearest-neighbour distances between *distinct* incident
//!   locations; locational outliers (z of the distance >= 3, population sd)
//!   excluded; `2 * max(mean, median)` of the rest, rounded up to the next
//!   whole metre, and at most a tenth of the study area's larger side.
//! - Distance band: Incremental Spatial Autocorrelation: Global Moran's I z
//!   at ten distances, starting where every cell has a neighbour and stepping
//!   by the mean nearest-neighbour distance; the first peak with z > 1.65.
//!   Without one, the mean distance to the K-th nearest cell, K = 5 % of the
//!   cells (at least 3, at most 30), capped at the standard distance.

use super::grid::Grid;
use super::weights::{BandValue, Weights};

/// A chosen value and the rule that chose it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Choice {
    pub value: f64,
    pub rule: String,
}

impl Choice {
    /// A value the user gave.
    pub fn given(value: f64) -> Choice {
        Choice {
            value,
            rule: "given".into(),
        }
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// Nearest-neighbour distance of each point (metres).
fn nn_distances(points: &[[f64; 2]]) -> Vec<f64> {
    let index = crate::index::PointIndex::new(points);
    points
        .iter()
        .map(|p| {
            let k = index.nearest_k(p[0], p[1], 2);
            let q = points[k[1] as usize];
            ((q[0] - p[0]).powi(2) + (q[1] - p[1]).powi(2)).sqrt()
        })
        .collect()
}

/// Splits distances into (kept, outliers) by z >= 3 (population sd).
fn without_outliers(d: &[f64]) -> (Vec<f64>, usize) {
    let m = mean(d);
    let sd = (d.iter().map(|x| (x - m).powi(2)).sum::<f64>() / d.len().max(1) as f64).sqrt();
    let kept: Vec<f64> = d.iter().copied().filter(|x| sd == 0.0 || (x - m) / sd < 3.0).collect();
    let outliers = d.len() - kept.len();
    (kept, outliers)
}

/// Default cell size (metres) for points in BNG metres.
pub fn default_cell_size(points: &[[f64; 2]]) -> Choice {
    let mut distinct: Vec<[f64; 2]> = points.to_vec();
    distinct.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    distinct.dedup();
    if distinct.len() < 3 {
        return Choice {
            value: 250.0,
            rule: "fewer than 3 distinct locations: 250 m".into(),
        };
    }
    let (mut kept, outliers) = without_outliers(&nn_distances(&distinct));
    let (mk, md) = (mean(&kept), median(&mut kept));
    let extent = {
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for p in &distinct {
            (x0, y0, x1, y1) = (x0.min(p[0]), y0.min(p[1]), x1.max(p[0]), y1.max(p[1]));
        }
        (x1 - x0).max(y1 - y0)
    };
    let raw = (2.0 * mk.max(md)).trunc() + 1.0;
    let value = raw.min((0.1 * extent).max(1.0));
    Choice {
        value,
        rule: format!(
            "ArcGIS OHSA rule: nearest-neighbour distances of {} distinct locations, {} locational outliers excluded; 2 x max(mean {:.1} m, median {:.1} m) rounded up{}",
            distinct.len(),
            outliers,
            mk,
            md,
            if value < raw { ", capped at a tenth of the extent" } else { "" }
        ),
    }
}

/// Global Moran's I z-score (normality assumption) for binary symmetric weights.
pub fn morans_i_z(x: &[f64], w: &Weights) -> f64 {
    let n = x.len() as f64;
    let mean = mean(x);
    let dev: Vec<f64> = x.iter().map(|v| v - mean).collect();
    let m2: f64 = dev.iter().map(|d| d * d).sum();
    let (mut s0, mut num, mut s2) = (0.0, 0.0, 0.0);
    for i in 0..x.len() {
        let mut wi = 0.0;
        for (j, wij) in w.row(i) {
            num += wij * dev[i] * dev[j as usize];
            wi += wij;
        }
        s0 += wi;
        s2 += (2.0 * wi).powi(2);
    }
    if s0 == 0.0 || m2 == 0.0 {
        return f64::NAN;
    }
    let s1 = 2.0 * s0;
    let i_stat = n / s0 * num / m2;
    let e = -1.0 / (n - 1.0);
    let var = (n * n * s1 - n * s2 + 3.0 * s0 * s0) / ((n * n - 1.0) * s0 * s0) - e * e;
    (i_stat - e) / var.sqrt()
}

/// [`morans_i_z`] with binary distance-band weights at each of `bands_m`
/// (ascending, metres), from one pass over the pairs within the widest:
/// per band, S0 (ordered pairs), Σ over pairs of the deviations' products,
/// and each unit's neighbour count for S2. Equal to building each band's
/// weights and calling [`morans_i_z`] (tested), at the cost of one.
pub fn morans_i_z_bands(grid: Option<&Grid>, centres: &[[f64; 2]], x: &[f64], bands_m: &[f64]) -> Vec<f64> {
    let n = x.len() as f64;
    let Some(&widest) = bands_m.last() else {
        return Vec::new();
    };
    debug_assert!(bands_m.windows(2).all(|w| w[0] <= w[1]), "bands ascending");
    let pairs = Weights::band(grid, centres, widest, BandValue::Distance);
    let mean = mean(x);
    let dev: Vec<f64> = x.iter().map(|v| v - mean).collect();
    let m2: f64 = dev.iter().map(|d| d * d).sum();
    let b = bands_m.len();
    let (mut s0, mut num, mut s2) = (vec![0.0; b], vec![0.0; b], vec![0.0; b]);
    let mut k_i = vec![0.0; b];
    let mut num_i = vec![0.0; b];
    for i in 0..x.len() {
        k_i.iter_mut().for_each(|v| *v = 0.0);
        num_i.iter_mut().for_each(|v| *v = 0.0);
        for (j, d) in pairs.row(i) {
            // The narrowest band holding the pair; it counts for every wider one.
            let Some(first) = bands_m.iter().position(|&band| Weights::within_band(d, band)) else {
                continue;
            };
            k_i[first] += 1.0;
            num_i[first] += dev[i] * dev[j as usize];
        }
        let (mut k, mut nm) = (0.0, 0.0);
        for t in 0..b {
            k += k_i[t];
            nm += num_i[t];
            s0[t] += k;
            num[t] += nm;
            s2[t] += (2.0 * k) * (2.0 * k);
        }
    }
    (0..b)
        .map(|t| {
            if s0[t] == 0.0 || m2 == 0.0 {
                return f64::NAN;
            }
            let s1 = 2.0 * s0[t];
            let i_stat = n / s0[t] * num[t] / m2;
            let e = -1.0 / (n - 1.0);
            let var = (n * n * s1 - n * s2[t] + 3.0 * s0[t] * s0[t]) / ((n * n - 1.0) * s0[t] * s0[t]) - e * e;
            (i_stat - e) / var.sqrt()
        })
        .collect()
}

/// Default distance band (metres) for cell centres with values `x`.
/// `grid`: the units' square grid, when they are one (its lattice finds
/// the pairs faster than a spatial hash).
pub fn default_band(grid: Option<&Grid>, centres: &[[f64; 2]], x: &[f64], _cell_m: f64) -> Choice {
    let n = centres.len();
    if n < 4 {
        return Choice {
            value: _cell_m * 3.0,
            rule: "fewer than 4 cells: 3 cells".into(),
        };
    }
    let (kept, _) = without_outliers(&nn_distances(centres));
    let start = kept.iter().copied().fold(0.0f64, f64::max);
    let step = mean(&kept);
    // Standard distance: sqrt of the mean squared distance to the mean centre.
    let (mx, my) = (
        mean(&centres.iter().map(|p| p[0]).collect::<Vec<_>>()),
        mean(&centres.iter().map(|p| p[1]).collect::<Vec<_>>()),
    );
    let standard = (centres
        .iter()
        .map(|p| (p[0] - mx).powi(2) + (p[1] - my).powi(2))
        .sum::<f64>()
        / n as f64)
        .sqrt();
    let distances: Vec<f64> = (0..10).map(|k| start + k as f64 * step).collect();
    let zs = morans_i_z_bands(grid, centres, x, &distances);
    for c in 1..zs.len() - 1 {
        let rose = (1..=c).any(|k| zs[k] > zs[k - 1]);
        if rose && zs[c + 1] < zs[c] && zs[c] > 1.65 {
            return Choice {
                value: distances[c],
                rule: format!(
                    "ArcGIS OHSA rule: first peak of Global Moran's I z over {:.0}..{:.0} m in {:.0} m steps: z = {:.2} at {:.0} m",
                    distances[0], distances[9], step, zs[c], distances[c]
                ),
            };
        }
    }
    let k = ((0.05 * n as f64) as usize).clamp(3, 30).min(n - 1);
    let index = crate::index::PointIndex::new(centres);
    let kth = centres
        .iter()
        .map(|p| {
            let nb = index.nearest_k(p[0], p[1], k + 1);
            let q = centres[nb[k] as usize];
            ((q[0] - p[0]).powi(2) + (q[1] - p[1]).powi(2)).sqrt()
        })
        .sum::<f64>()
        / n as f64;
    let value = kth.min(standard);
    Choice {
        value,
        rule: format!(
            "ArcGIS OHSA rule: no Global Moran's I peak above z 1.65 in {:.0}..{:.0} m; mean distance to the {k}th nearest cell{}",
            distances[0],
            distances[9],
            if value < kth { ", capped at the standard distance" } else { "" }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn morans_i_hand_checked() {
        // Four cells on a line, x = (1, 2, 3, 4), rook neighbours.
        // dev = (-1.5, -0.5, 0.5, 1.5), m2 = 5; Σ w d_i d_j over ordered pairs
        // = 2(0.75 - 0.25 + 0.75) = 2.5; S0 = 6; I = 4/6 · 2.5/5 = 1/3.
        // E = -1/3; S1 = 12; S2 = (2)² + (4)² + (4)² + (2)² = 40;
        // Var = (16·12 - 4·40 + 3·36)/(15·36) - 1/9 = 140/540 - 60/540 = 80/540.
        let w = Weights::from_lists(
            super::super::weights::WeightsSpec::Contiguity { queen: false },
            vec![vec![1], vec![0, 2], vec![1, 3], vec![2]],
        );
        let z = morans_i_z(&[1.0, 2.0, 3.0, 4.0], &w);
        let expected = (1.0 / 3.0 + 1.0 / 3.0) / (80.0f64 / 540.0).sqrt();
        assert!((z - expected).abs() < 1e-12, "{z} vs {expected}");
    }

    #[test]
    fn one_pass_over_bands_equals_each_band_built_alone() {
        // A 40 × 30 lattice of 100 m cells (bands on lattice distances test
        // the edge tolerance) with a lumpy pattern, and a scattered set.
        let lattice: Vec<[f64; 2]> = (0..40)
            .flat_map(|i| (0..30).map(move |j| [i as f64 * 100.0, j as f64 * 100.0]))
            .collect();
        let scattered: Vec<[f64; 2]> = (0..700)
            .map(|k| {
                let t = k as f64;
                [(t * 7919.0) % 3001.0, (t * 104_729.0) % 2003.0]
            })
            .collect();
        for pts in [lattice, scattered] {
            let x: Vec<f64> = pts
                .iter()
                .map(|p| ((p[0] / 300.0).sin() * (p[1] / 500.0).cos() * 5.0 + 5.0).round())
                .collect();
            let bands: Vec<f64> = (0..10).map(|k| 100.0 + 100.0 * k as f64).collect();
            let one_pass = morans_i_z_bands(None, &pts, &x, &bands);
            for (t, &band) in bands.iter().enumerate() {
                let alone = morans_i_z(&x, &Weights::distance_band(&pts, band, false));
                assert!(
                    (one_pass[t] - alone).abs() <= 1e-9 * alone.abs().max(1.0),
                    "band {band}: {} vs {alone}",
                    one_pass[t]
                );
            }
        }
    }

    #[test]
    fn a_square_grid_finds_the_same_bands_by_its_lattice() {
        use crate::analysis::grid::GridKind;
        use geo::polygon;
        let area = geo::MultiPolygon(vec![polygon![
            (x: 0.0, y: 0.0), (x: 5000.0, y: 0.0), (x: 5000.0, y: 3000.0), (x: 2000.0, y: 4500.0), (x: 0.0, y: 3000.0), (x: 0.0, y: 0.0)
        ]]);
        let grid = Grid::new(GridKind::Square, 250.0, &[area]);
        let centres: Vec<[f64; 2]> = grid.cells.iter().map(|c| c.centre).collect();
        let x: Vec<f64> = centres
            .iter()
            .map(|p| ((p[0] / 700.0).sin() * (p[1] / 900.0).cos() * 4.0 + 4.0).round())
            .collect();
        // Bands on lattice distances (250 m steps) and between them.
        let bands: Vec<f64> = (1..=10).map(|k| 180.0 * k as f64 + 70.0).collect();
        let by_lattice = morans_i_z_bands(Some(&grid), &centres, &x, &bands);
        let by_hash = morans_i_z_bands(None, &centres, &x, &bands);
        for (t, band) in bands.iter().enumerate() {
            let alone = morans_i_z(&x, &Weights::distance_band(&centres, *band, false));
            for z in [by_lattice[t], by_hash[t]] {
                assert!(
                    (z - alone).abs() <= 1e-9 * alone.abs().max(1.0),
                    "band {band}: {z} vs {alone}"
                );
            }
        }
        assert_eq!(
            default_band(Some(&grid), &centres, &x, 250.0).value,
            default_band(None, &centres, &x, 250.0).value
        );
    }

    #[test]
    fn cell_size_ignores_outliers() {
        // A 10 m lattice and one far point.
        let mut pts: Vec<[f64; 2]> = (0..30)
            .flat_map(|i| (0..30).map(move |j| [i as f64 * 10.0, j as f64 * 10.0]))
            .collect();
        pts.push([1e6, 1e6]);
        let c = default_cell_size(&pts);
        // NN distance 10 m everywhere: 2 x 10 = 20, rounded up = 21.
        assert_eq!(c.value, 21.0, "{}", c.rule);
        assert!(c.rule.contains("1 locational outliers"), "{}", c.rule);
    }
}
