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
//! with the sums over all j **including i** (w_ii, the self weight: 1 with
//! binary weights; with inverse-distance weights the nearest neighbour's,
//! see [`Weights::gi_self_weight`]). Gi* is itself a z-score; p-values are
//! two-sided from the standard normal. Pseudo p-values from conditional
//! permutations are in [`super::permutation`].
//! For binary weights this is the form ArcGIS and PySAL esda (`G_Local(...,
//! transform='B', star=True)`) compute; a classic bug elsewhere is to use
//! the binary-only simplification (Σw² = Σw) with distance-decay weights.
//!
//! Ord, J.K. & Getis, A. (1995). Local spatial autocorrelation statistics:
//! distributional issues and an application. Geographical Analysis 27(4).

use rayon::prelude::*;

use super::weights::Weights;

/// Gi* z-scores of `x` under `w`, with `self_weight` for every w_ii.
/// Returns NaN everywhere when `x` has no variance.
pub fn z_scores(x: &[f64], w: &Weights, self_weight: f64) -> Vec<f64> {
    z_scores_with(x, w, |_| self_weight)
}

/// Gi* z-scores of `x` under `w` with w_ii = `self_weight(i)`.
pub fn z_scores_with(x: &[f64], w: &Weights, self_weight: impl Fn(usize) -> f64 + Sync) -> Vec<f64> {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let s = (x.iter().map(|v| v * v).sum::<f64>() / n - mean * mean).max(0.0).sqrt();
    (0..x.len())
        .into_par_iter()
        .with_min_len(1024)
        .map(|i| {
            let self_weight = self_weight(i);
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

    /// Inverse distance with the nearest neighbour's weight as self weight.
    /// Units at 0, 2 and 3 m on a line, band 3 m: w_01 = 1/2, w_02 = 1/3,
    /// w_12 = 1; unit 0's self weight is 1/2. x = (0, 5, 1): x̄ = 2,
    /// S = √(14/3). Unit 0: Σw x = 0/2 + 5/2 + 1/3 = 17/6, Σw = 4/3,
    /// Σw² = 11/18; numerator 17/6 − 8/3 = 1/6; (3 · 11/18 − 16/9)/2 = 1/36,
    /// so Gi* = (1/6) / (√(14/3)/6) = √(3/14). The same in kilometres.
    #[test]
    fn hand_worked_inverse_distance_self_weight_and_units() {
        let x = [0.0, 5.0, 1.0];
        for scale in [1.0, 1e-3] {
            let pts = [[0.0, 0.0], [2.0 * scale, 0.0], [3.0 * scale, 0.0]];
            let w = Weights::distance_band(&pts, 3.0 * scale, true);
            assert!((w.gi_self_weight(0) - 0.5 / scale).abs() < 1e-9 / scale);
            let z = z_scores_with(&x, &w, |i| w.gi_self_weight(i));
            assert!((z[0] - (3.0f64 / 14.0).sqrt()).abs() < 1e-12, "scale {scale}: {z:?}");
        }
    }

    /// A 250 m grid with a 750 m band: the 28 neighbours carry 94 % of the
    /// weight (with w_ii = 1 in metres they carried 6 %), z does not change
    /// from metres to kilometres, and it is no longer the cell's own z.
    #[test]
    fn inverse_distance_gi_star_is_spatial_and_unit_free() {
        use rand::{Rng, SeedableRng};
        let metres: Vec<[f64; 2]> = (0..30)
            .flat_map(|i| (0..30).map(move |j| [i as f64 * 250.0 + 125.0, j as f64 * 250.0 + 125.0]))
            .collect();
        let km: Vec<[f64; 2]> = metres.iter().map(|p| [p[0] / 1000.0, p[1] / 1000.0]).collect();
        let (wm, wk) = (
            Weights::distance_band(&metres, 750.0, true),
            Weights::distance_band(&km, 0.75, true),
        );
        let centre = 15 * 30 + 15;
        let neighbours: f64 = wm.row(centre).map(|(_, v)| v).sum();
        let share = neighbours / (neighbours + wm.gi_self_weight(centre));
        assert!((share - 0.938).abs() < 0.001, "{share}");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let x: Vec<f64> = (0..metres.len()).map(|_| rng.gen_range(0..4) as f64).collect();
        let zm = z_scores_with(&x, &wm, |i| wm.gi_self_weight(i));
        let zk = z_scores_with(&x, &wk, |i| wk.gi_self_weight(i));
        for (a, b) in zm.iter().zip(&zk) {
            assert!((a - b).abs() < 1e-9, "{a} {b}");
        }
        // Correlation with the cell's own standardised count.
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let corr = |a: &[f64]| {
            let ma = a.iter().sum::<f64>() / n;
            let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
            for (u, v) in a.iter().zip(&x) {
                sab += (u - ma) * (v - mean);
                saa += (u - ma) * (u - ma);
                sbb += (v - mean) * (v - mean);
            }
            sab / (saa * sbb).sqrt()
        };
        let old = z_scores(&x, &wm, 1.0);
        assert!(
            corr(&old) > 0.999,
            "self weight 1 in metres is the own count: {}",
            corr(&old)
        );
        assert!(corr(&zm) < 0.6, "{}", corr(&zm));
    }
}
