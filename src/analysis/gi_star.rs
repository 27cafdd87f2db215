//! Getis-Ord Gi* local statistic, in the general form of Ord & Getis (1995)
//! that is right for non-binary weights too:
//!
//! ```text
//!           Σ_j w_ij x_j − x̄ Σ_j w_ij
//! Gi* = ───────────────────────────────────────────
//!        S √[ (n Σ_j w_ij² − (Σ_j w_ij)²) / (n − 1) ]
//!
//! x̄ = Σ x_j / n,   S = √( Σ x_j² / n − x̄² )
//! ```
//!
//! with the sums over all j **including i** (w_ii = the self weight, 1).
//! Gi* is itself a z-score; p-values are two-sided from the standard normal.
//! For binary weights this is the form ArcGIS and PySAL esda (`G_Local(...,
//! transform='B', star=True)`) compute; a classic bug elsewhere is to use
//! the binary-only simplification (Σw² = Σw) with distance-decay weights.
//!
//! Ord, J.K. & Getis, A. (1995). Local spatial autocorrelation statistics:
//! distributional issues and an application. Geographical Analysis 27(4).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::weights::Weights;

/// Gi* z-scores of `x` under `w`, with `self_weight` for w_ii.
/// Returns NaN everywhere when `x` has no variance.
pub fn z_scores(x: &[f64], w: &Weights, self_weight: f64) -> Vec<f64> {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let s = (x.iter().map(|v| v * v).sum::<f64>() / n - mean * mean).max(0.0).sqrt();
    (0..x.len())
        .into_par_iter()
        .with_min_len(1024)
        .map(|i| {
            let (mut lag, mut sw, mut sw2) = (self_weight * x[i], self_weight, self_weight * self_weight);
            for (j, wij) in w.row(i) {
                lag += wij * x[j as usize];
                sw += wij;
                sw2 += wij * wij;
            }
            let den = s * ((n * sw2 - sw * sw) / (n - 1.0)).sqrt();
            if den > 0.0 {
                (lag - mean * sw) / den
            } else {
                f64::NAN
            }
        })
        .collect()
}

/// Two-sided p-value of a standard normal z-score.
pub fn p_two_sided(z: f64) -> f64 {
    if z.is_finite() {
        statrs::function::erf::erfc(z.abs() / std::f64::consts::SQRT_2)
    } else {
        f64::NAN
    }
}

/// Conditional permutation inference (as PySAL's esda does): for each unit,
/// its own value stays put and its neighbours' values are drawn at random
/// (without replacement) from the other n − 1 units, `permutations` times.
/// The pseudo p-value is `(M + 1) / (R + 1)` with M the number of draws at
/// least as extreme as observed, on the observed side (folded, one-tailed).
///
/// The random draws are shared across units (one list of distinct indices
/// per permutation, shifted past the focal unit), as esda's `crand` does;
/// seeded, so results are reproducible whatever the thread count.
pub fn permutation_p(x: &[f64], w: &Weights, self_weight: f64, permutations: usize, seed: u64) -> Vec<f64> {
    let n = x.len();
    if n < 2 || permutations == 0 {
        return vec![f64::NAN; n];
    }
    let k_max = (0..n).map(|i| w.neighbour_count(i)).max().unwrap_or(0).min(n - 1);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // One row of k_max distinct indices in 0..n-1 per permutation.
    let draws: Vec<u32> = (0..permutations)
        .flat_map(|_| {
            rand::seq::index::sample(&mut rng, n - 1, k_max)
                .into_iter()
                .map(|v| v as u32)
                .collect::<Vec<_>>()
        })
        .collect();
    (0..n)
        .into_par_iter()
        .with_min_len(256)
        .map(|i| {
            // Work nobody waits for is skipped (the result is discarded).
            if super::cancel::requested() {
                return f64::NAN;
            }
            let row: Vec<(u32, f64)> = w.row(i).collect();
            let k = row.len();
            let observed: f64 = row.iter().map(|&(j, wij)| wij * x[j as usize]).sum::<f64>() + self_weight * x[i];
            let mut larger = 0usize;
            for r in 0..permutations {
                let d = &draws[r * k_max..r * k_max + k];
                let mut lag = self_weight * x[i];
                for (t, &(_, wij)) in row.iter().enumerate() {
                    let mut j = d[t] as usize;
                    if j >= i {
                        j += 1;
                    }
                    lag += wij * x[j];
                }
                if lag >= observed {
                    larger += 1;
                }
            }
            if permutations - larger < larger {
                larger = permutations - larger;
            }
            (larger + 1) as f64 / (permutations + 1) as f64
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::weights::WeightsSpec;

    /// Hand-worked: five units on a line, x = (1, 2, 3, 10, 4), each the
    /// neighbour of the next (binary), self weight 1.
    /// n = 5, x̄ = 4, Σx² = 130, S = √(130/5 − 16) = √10.
    /// Unit 3 (x = 10): neighbours 2 and 4 -> Σw x = 3 + 10 + 4 = 17, Σw = 3,
    /// Σw² = 3: Gi* = (17 − 12) / (√10 · √((15 − 9)/4)) = 5 / (√10 · √1.5) = 1.290994...
    /// Unit 0: neighbour 1 -> Σw x = 3, Σw = Σw² = 2: (3 − 8) / (√10 · √((10 − 4)/4)) = −1.290994...
    #[test]
    fn hand_worked_line() {
        let x = [1.0, 2.0, 3.0, 10.0, 4.0];
        let w = Weights::from_lists(
            WeightsSpec::DistanceBand { band_m: 1.0 },
            vec![vec![1], vec![0, 2], vec![1, 3], vec![2, 4], vec![3]],
        );
        let z = z_scores(&x, &w, 1.0);
        let expected = 5.0 / (10f64.sqrt() * 1.5f64.sqrt());
        assert!((z[3] - expected).abs() < 1e-12, "{z:?}");
        assert!((z[0] + expected).abs() < 1e-12, "{z:?}");
        // p for z = 1.959964 is 0.05.
        let p = p_two_sided(1.959963984540054);
        // statrs's erfc is good to ~1e-11 relative here; p-values need far less.
        assert!((p - 0.05).abs() < 1e-10, "{p}");
    }

    /// Non-binary weights: unit 1 of x = (0, 5, 1) with w_10 = 0.5, w_12 = 2.
    /// x̄ = 2, S = √(26/3 − 4) = √(14/3); Σw x = 0 + 5 + 2 = 7; Σw = 3.5;
    /// Σw² = 0.25 + 1 + 4 = 5.25; den = S √((3 · 5.25 − 12.25)/2) = √(14/3) · √1.75.
    /// Gi* = (7 − 7) / den = 0. And unit 2 with w_21 = 2: Σw x = 1 + 10 = 11,
    /// Σw = 3, Σw² = 5: (11 − 6) / (√(14/3) · √((15 − 9)/2)) = 5 / (√(14/3) √3).
    /// The binary-only form (Σw² = Σw) would give 5 / (√(14/3) · √0) = ∞ here.
    #[test]
    fn hand_worked_inverse_distance() {
        let x = [0.0, 5.0, 1.0];
        let w = Weights {
            spec: WeightsSpec::InverseDistance { band_m: 1.0 },
            offsets: vec![0, 1, 3, 4],
            neighbours: vec![1, 0, 2, 1],
            weights: vec![0.5, 0.5, 2.0, 2.0],
        };
        let z = z_scores(&x, &w, 1.0);
        assert!(z[1].abs() < 1e-12, "{z:?}");
        let expected = 5.0 / ((14.0f64 / 3.0).sqrt() * 3f64.sqrt());
        assert!((z[2] - expected).abs() < 1e-12, "{z:?}");
    }

    #[test]
    fn permutations_find_a_planted_cluster_and_are_seeded() {
        // 20 x 20 lattice, a hot 3 x 3 block in the middle.
        let pts: Vec<[f64; 2]> = (0..20)
            .flat_map(|i| (0..20).map(move |j| [i as f64, j as f64]))
            .collect();
        let x: Vec<f64> = pts
            .iter()
            .enumerate()
            .map(|(k, p)| {
                if (9.0..=11.0).contains(&p[0]) && (9.0..=11.0).contains(&p[1]) {
                    20.0
                } else {
                    (k % 3) as f64
                }
            })
            .collect();
        let w = Weights::distance_band(&pts, 1.5, false);
        let p1 = permutation_p(&x, &w, 1.0, 999, 7);
        let p2 = permutation_p(&x, &w, 1.0, 999, 7);
        assert_eq!(p1, p2);
        let centre = 10 * 20 + 10;
        assert!(
            (p1[centre] - 0.001).abs() < 1e-12,
            "the hot centre beats all 999 draws: {}",
            p1[centre]
        );
        assert!(p1.iter().all(|p| *p >= 1.0 / 1000.0 && *p <= 0.5 + 1e-12));
    }
}
