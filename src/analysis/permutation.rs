//! Conditional permutation inference for local statistics (Gi*, local
//! Moran's I), as PySAL esda's `crand` draws it, with ties counted on both
//! sides.
//!
//! ## The draws
//! For unit `i`, its own value stays put and its `k_i` neighbours' values are
//! drawn at random, without replacement, from the other `n − 1` units, `R`
//! times. As in esda 2.9.0 (`crand.vec_permutations`), one list of `k_max`
//! distinct indices in `0..n−1` is drawn per permutation and shared by every
//! unit: unit `i` takes the first `k_i` of them, an index `d ≥ i` standing
//! for unit `d + 1` (esda indexes `z` with `i` removed). [`Draws`] holds
//! them, seeded (ChaCha8), so results are reproducible whatever the thread
//! count; [`Draws::from_indices`] takes someone else's (esda's, in the
//! tests) to check the counting on identical draws.
//!
//! ## The pseudo p-value
//! Both statistics are increasing functions of the spatial lag
//! `L_i = Σ_j w_ij x_j` over the permuted neighbours (Gi* adds a constant
//! self term; local Moran's I multiplies the standardised lag by `z_i`, so
//! it is increasing in `L_i` for `z_i > 0` and decreasing for `z_i < 0`).
//! So under conditional permutation a unit's Gi* and local Moran's I have
//! the same pseudo p (the lag's), given the same draws and `z_i ≠ 0`.
//! Counting on the lag with the original `x` and unstandardised weights
//! keeps equal arrangements exactly equal: with counts and binary weights
//! every lag is a sum of whole numbers, so a tie is a tie (esda compares
//! floating-point `I` values computed in different orders, and a true tie
//! can come out one ulp short; see `tests/reference/lisa_esda.py`).
//!
//! With `M_≥` and `M_≤` the draws whose statistic is at least, and at most,
//! the observed one:
//!
//! ```text
//! p_sim = (min(M_≥, M_≤) + 1) / (R + 1)
//! ```
//!
//! the one-tailed pseudo p on the side where the observed value falls. This
//! is esda's folded rule (`alternative='directed'`, what `G_Local` and
//! `Moran_Local` report by default in esda 2.9.0: `min(M_≥, R − M_≥)`),
//! except for ties, which esda counts on the upper side only. The two are
//! the same for a continuous statistic; with the ties that small counts
//! produce all the time, esda's rule calls a lag at the bottom of its own
//! null distribution extreme even when half the draws equal it. Example:
//! x = (0,0,0,0,0,1,2,3,4,5), a unit with x = 0 and one neighbour with x = 0:
//! 4 of the 9 values it could draw are 0, so P(lag ≤ observed) = 4/9, and
//! this rule gives ≈ 0.445 where esda's gives 1/(R + 1). A statistic that
//! cannot move under permutation (an island; a local Moran's I with
//! `z_i = 0`) ties every draw and gets p = 1.
//!
//! It is one-sided: double it (capped at 1) for a two-sided test. esda
//! warns that this default "will be uniformly too small" as a two-sided p
//! and plans to change it; we report it because it is what esda, GeoDa and
//! ArcGIS users compare with, and say so in each layer's metadata.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::weights::Weights;

/// The alternative the pseudo p-values answer, for layer metadata.
pub const ALTERNATIVE: &str = "one-tailed on the side where the observed value falls: (min(M>=, M<=) + 1)/(R + 1), ties counted on both sides (esda 2.9.0's 'directed' rule, which counts ties on the upper side only); double it for a two-sided test";

/// Relative tolerance for "equal" lags: lags that are equal in exact
/// arithmetic but summed in different orders differ by a few ulps
/// (non-binary weights); distinct lags of counts differ by far more.
const TIE_TOLERANCE: f64 = 1e-9;

/// Neighbour indices drawn for conditional permutations (see the module docs).
#[derive(Debug, Clone)]
pub struct Draws {
    /// Units.
    pub n: usize,
    /// Indices per permutation (the largest neighbour count).
    pub k_max: usize,
    pub permutations: usize,
    /// `permutations × k_max` indices in `0..n − 1`, distinct within a row.
    idx: Vec<u32>,
}

impl Draws {
    /// `permutations` rows of `k_max` distinct indices in `0..n − 1`, seeded.
    pub fn seeded(n: usize, k_max: usize, permutations: usize, seed: u64) -> Draws {
        let k_max = k_max.min(n.saturating_sub(1));
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // Work nobody waits for stops drawing (the result is discarded).
        let idx = (0..permutations)
            .take_while(|r| r % 1024 != 0 || !super::cancel::requested())
            .flat_map(|_| {
                rand::seq::index::sample(&mut rng, n.saturating_sub(1), k_max)
                    .into_iter()
                    .map(|v| v as u32)
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<u32>>();
        // Fewer rows than asked only when cancelled.
        let permutations = idx.len().checked_div(k_max).unwrap_or(permutations);
        Draws {
            n,
            k_max,
            permutations,
            idx,
        }
    }

    /// Given draws (row-major, `k_max` per permutation), checked: every
    /// index below `n − 1`, none repeated within a row.
    pub fn from_indices(n: usize, k_max: usize, idx: Vec<u32>) -> Result<Draws, String> {
        if k_max == 0 || !idx.len().is_multiple_of(k_max) {
            return Err(format!("{} indices are not rows of {k_max}", idx.len()));
        }
        for row in idx.chunks(k_max) {
            if let Some(bad) = row.iter().find(|&&d| d as usize >= n.saturating_sub(1)) {
                return Err(format!("index {bad} is not below n - 1 = {}", n.saturating_sub(1)));
            }
            let mut sorted = row.to_vec();
            sorted.sort_unstable();
            if sorted.windows(2).any(|p| p[0] == p[1]) {
                return Err("an index repeats within a permutation".into());
            }
        }
        Ok(Draws {
            n,
            k_max,
            permutations: idx.len() / k_max,
            idx,
        })
    }

    /// The indices of permutation `r`.
    pub fn row(&self, r: usize) -> &[u32] {
        &self.idx[r * self.k_max..(r + 1) * self.k_max]
    }
}

/// The largest neighbour count of `w` (the draws' row length).
pub fn k_max(w: &Weights) -> usize {
    (0..w.len()).map(|i| w.neighbour_count(i)).max().unwrap_or(0)
}

/// Seeded draws for `w` and the pseudo p-values of the lag of `x`
/// ([`folded_p`]); NaN everywhere without permutations or with fewer than
/// two units.
pub fn pseudo_p(x: &[f64], w: &Weights, permutations: usize, seed: u64) -> Vec<f64> {
    if x.len() < 2 || permutations == 0 {
        return vec![f64::NAN; x.len()];
    }
    folded_p(x, w, &Draws::seeded(x.len(), k_max(w), permutations, seed))
}

/// The pseudo p-value of each unit's lag `Σ_j w_ij x_j` against its lag
/// over permuted neighbours, `(min(M_≥, M_≤) + 1)/(R + 1)` (module docs).
///
/// Only draws that can contribute are visited: for each permutation, the
/// positions whose drawn unit (or the unit after it, the shift past `i`)
/// has `x ≠ 0`. With sparse counts that is a small share of the
/// `R × k` products, and the sums (zeros skipped) are bit for bit the same.
pub fn folded_p(x: &[f64], w: &Weights, draws: &Draws) -> Vec<f64> {
    let n = x.len();
    assert_eq!(draws.n, n, "draws for {} units, {} values", draws.n, n);
    assert!(
        (0..w.len()).all(|i| w.neighbour_count(i) <= draws.k_max),
        "draws of {} per permutation, fewer than a unit's neighbours",
        draws.k_max
    );
    let r_n = draws.permutations;
    // Per permutation, (position, drawn index) where x[d] or x[d + 1] is non-zero.
    let mut nz_off = Vec::with_capacity(r_n + 1);
    let mut nz: Vec<(u32, u32)> = Vec::new();
    nz_off.push(0);
    for r in 0..r_n {
        for (t, &d) in draws.row(r).iter().enumerate() {
            let d = d as usize;
            if x[d] != 0.0 || x.get(d + 1).is_some_and(|v| *v != 0.0) {
                nz.push((t as u32, d as u32));
            }
        }
        nz_off.push(nz.len());
    }
    let x_max = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    (0..n)
        .into_par_iter()
        .with_min_len(64)
        .map(|i| {
            // Work nobody waits for is skipped (the result is discarded).
            if super::cancel::requested() {
                return f64::NAN;
            }
            let row: Vec<f64> = w.row(i).map(|(_, wij)| wij).collect();
            let k = row.len() as u32;
            let observed: f64 = w.row(i).map(|(j, wij)| wij * x[j as usize]).sum();
            let tol = TIE_TOLERANCE * row.iter().map(|v| v.abs()).sum::<f64>() * x_max;
            let (mut ge, mut le) = (0usize, 0usize);
            for r in 0..r_n {
                let mut lag = 0.0;
                for &(t, d) in &nz[nz_off[r]..nz_off[r + 1]] {
                    if t >= k {
                        break;
                    }
                    let d = d as usize;
                    lag += row[t as usize] * x[d + usize::from(d >= i)];
                }
                ge += usize::from(lag >= observed - tol);
                le += usize::from(lag <= observed + tol);
            }
            (ge.min(le) + 1) as f64 / (r_n + 1) as f64
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::weights::WeightsSpec;

    /// The issue's example, exactly: x = (0,0,0,0,0,1,2,3,4,5); unit 0 has
    /// one neighbour, unit 1, also 0. Under the null its neighbour is one of
    /// the other 9 values, 4 of them 0: P(lag ≤ 0) = 4/9, P(lag ≥ 0) = 1.
    /// Every possible draw, once each (R = 9): M_≤ = 4, so p = 5/10; the
    /// upper-side-only rule (esda's, and this engine's before) gave
    /// min(9, 0) + 1 = 1/10.
    #[test]
    fn ties_count_on_both_sides() {
        let x = [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
        let mut lists: Vec<Vec<u32>> = vec![vec![1], vec![0]];
        lists.extend((2..10u32).map(|i| vec![if i == 9 { 8 } else { i + 1 }]));
        let w = Weights::from_lists(WeightsSpec::DistanceBand { band_m: 1.0 }, lists);
        let all = Draws::from_indices(10, 1, (0..9).collect()).unwrap();
        let p = folded_p(&x, &w, &all);
        assert_eq!(p[0], 0.5, "{p:?}");
        // Seeded, 9,999 draws: close to the exact (4/9 · R + 1)/(R + 1).
        let p = pseudo_p(&x, &w, 9_999, 3);
        assert!((p[0] - 4.0 / 9.0).abs() < 0.02, "{}", p[0]);
        assert!(p.iter().all(|p| *p > 1.0 / 10_000.0 && *p <= 1.0));
    }

    #[test]
    fn islands_and_constant_values_get_one() {
        let x = [3.0, 0.0, 1.0, 7.0];
        let w = Weights::from_lists(
            WeightsSpec::DistanceBand { band_m: 1.0 },
            vec![vec![], vec![2], vec![1], vec![]],
        );
        let p = pseudo_p(&x, &w, 999, 1);
        assert_eq!((p[0], p[3]), (1.0, 1.0), "islands: {p:?}");
        let p = pseudo_p(&[2.0; 4], &w, 999, 1);
        assert!(p.iter().all(|v| *v == 1.0), "{p:?}");
    }

    /// Against a direct count over every draw (no skipping of zeros), with
    /// non-binary weights and a unit whose shifted draws matter.
    #[test]
    fn sparse_visit_equals_the_direct_count() {
        let pts: Vec<[f64; 2]> = (0..12)
            .flat_map(|i| (0..12).map(move |j| [i as f64, j as f64]))
            .collect();
        let x: Vec<f64> = (0..pts.len())
            .map(|k| if k % 7 == 0 { (k % 5) as f64 } else { 0.0 })
            .collect();
        for inverse in [false, true] {
            let w = Weights::distance_band(&pts, 2.0, inverse);
            let draws = Draws::seeded(x.len(), k_max(&w), 499, 9);
            let fast = folded_p(&x, &w, &draws);
            let x_max = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            for (i, fast_i) in fast.iter().enumerate() {
                let row: Vec<(u32, f64)> = w.row(i).collect();
                let obs: f64 = row.iter().map(|&(j, v)| v * x[j as usize]).sum();
                let tol = 1e-9 * row.iter().map(|r| r.1).sum::<f64>() * x_max;
                let (mut ge, mut le) = (0, 0);
                for r in 0..draws.permutations {
                    let lag: f64 = row
                        .iter()
                        .zip(draws.row(r))
                        .map(|(&(_, v), &d)| {
                            let j = d as usize + usize::from(d as usize >= i);
                            assert_ne!(j, i);
                            v * x[j]
                        })
                        .sum();
                    ge += usize::from(lag >= obs - tol);
                    le += usize::from(lag <= obs + tol);
                }
                let direct = (ge.min(le) + 1) as f64 / 500.0;
                assert_eq!(*fast_i, direct, "unit {i}, inverse {inverse}");
            }
        }
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
        let p1 = pseudo_p(&x, &w, 999, 7);
        let p2 = pseudo_p(&x, &w, 999, 7);
        assert_eq!(p1, p2);
        let centre = 10 * 20 + 10;
        assert_eq!(p1[centre], 0.001, "the hot centre beats all 999 draws");
        assert!(p1.iter().all(|p| *p >= 1.0 / 1000.0 && *p <= 1.0));
    }

    #[test]
    fn given_draws_are_checked() {
        assert!(Draws::from_indices(5, 2, vec![0, 1, 3, 2]).is_ok());
        assert!(Draws::from_indices(5, 2, vec![0, 4]).is_err(), "4 is not below n - 1");
        assert!(Draws::from_indices(5, 2, vec![1, 1]).is_err(), "repeat");
        assert!(Draws::from_indices(5, 2, vec![1, 2, 3]).is_err(), "ragged");
    }
}
