//! The Mann–Kendall trend test (Mann 1945; Kendall 1975), with the
//! variance corrected for ties, and the continuity-corrected z-score.
//!
//! ```text
//! S = Σ_{i<j} sign(x_j − x_i)
//! Var(S) = [n(n−1)(2n+5) − Σ_t t(t−1)(2t+5)] / 18      (t: sizes of tied groups)
//! Z = (S − 1)/√Var if S > 0;  0 if S = 0;  (S + 1)/√Var if S < 0
//! ```

/// Result of a Mann–Kendall test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannKendall {
    pub s: f64,
    pub var_s: f64,
    pub z: f64,
    /// Two-sided p-value (standard normal).
    pub p: f64,
    /// Kendall's tau-a: S / (n(n−1)/2).
    pub tau: f64,
}

/// Tests a series for a monotonic trend. NaNs are skipped.
pub fn test(series: &[f64]) -> MannKendall {
    let x: Vec<f64> = series.iter().copied().filter(|v| v.is_finite()).collect();
    let n = x.len();
    let mut s = 0.0;
    for i in 0..n {
        for j in i + 1..n {
            s += (x[j] - x[i]).partial_cmp(&0.0).map_or(0.0, |o| o as i32 as f64);
        }
    }
    let mut sorted = x.clone();
    sorted.sort_by(f64::total_cmp);
    let mut ties = 0.0;
    let mut k = 0;
    while k < n {
        let mut t = 1;
        while k + t < n && sorted[k + t] == sorted[k] {
            t += 1;
        }
        let tf = t as f64;
        ties += tf * (tf - 1.0) * (2.0 * tf + 5.0);
        k += t;
    }
    let nf = n as f64;
    let var_s = (nf * (nf - 1.0) * (2.0 * nf + 5.0) - ties) / 18.0;
    let z = if var_s <= 0.0 {
        0.0
    } else if s > 0.0 {
        (s - 1.0) / var_s.sqrt()
    } else if s < 0.0 {
        (s + 1.0) / var_s.sqrt()
    } else {
        0.0
    };
    let pairs = nf * (nf - 1.0) / 2.0;
    MannKendall {
        s,
        var_s,
        z,
        p: super::gi_star::p_two_sided(z),
        tau: if pairs > 0.0 { s / pairs } else { 0.0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-worked: x = (1, 3, 2, 4, 4).
    /// Pairs (i<j): 1→3 +, 1→2 +, 1→4 +, 1→4 +, 3→2 −, 3→4 +, 3→4 +, 2→4 +, 2→4 +, 4→4 0: S = 7.
    /// Ties: one group of 2: 2·1·9 = 18. Var = (5·4·15 − 18)/18 = 282/18 = 15.6667.
    /// Z = (7 − 1)/√15.6667 = 1.51587...; tau = 7/10.
    #[test]
    fn hand_worked() {
        let r = test(&[1.0, 3.0, 2.0, 4.0, 4.0]);
        assert_eq!(r.s, 7.0);
        assert!((r.var_s - 282.0 / 18.0).abs() < 1e-12);
        assert!((r.z - 6.0 / (282.0f64 / 18.0).sqrt()).abs() < 1e-12);
        assert!((r.tau - 0.7).abs() < 1e-12);
        let down = test(&[5.0, 4.0, 3.0, 2.0, 1.0, 0.0, -1.0, -2.0, -3.0, -4.0]);
        // S = −45, Var = 10·9·25/18 = 125, Z = −44/√125 = −3.9355, p ≈ 8.3e-5.
        assert!((down.z + 44.0 / 125f64.sqrt()).abs() < 1e-12);
        assert!(down.p < 1e-4);
    }
}
