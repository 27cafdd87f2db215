//! Is a change in a count real? Two Poisson counts over equal exposures
//! (the same number of months) compared with the exact conditional test:
//! given their sum `n = x1 + x0`, `x1` is Binomial(`n`, ½) when the two
//! rates are equal (Przyborowski & Wilenski 1940; the "C-test" of
//! Krishnamoorthy & Thomson 2004, *J. Stat. Plan. Inference* 119:23–35).
//! The two-sided p-value doubles the smaller tail (for p = ½ the same as
//! scipy's `binomtest`, whose "minlike" rule coincides with doubling for a
//! symmetric distribution). The rate ratio's interval is the exact
//! (Clopper–Pearson) interval of the binomial proportion mapped by
//! `p / (1 − p)`.

use statrs::distribution::{Beta, Binomial, ContinuousCDF, DiscreteCDF};

/// Two-sided exact conditional p-value for "the rates behind counts `x1`
/// and `x0` (equal exposures) are equal". 1 when both are 0.
pub fn conditional_p(x1: u64, x0: u64) -> f64 {
    let n = x1 + x0;
    if n == 0 {
        return 1.0;
    }
    let Ok(b) = Binomial::new(0.5, n) else {
        return 1.0;
    };
    // P(X ≤ x1) and P(X ≥ x1).
    let lower = b.cdf(x1);
    let upper = if x1 == 0 { 1.0 } else { 1.0 - b.cdf(x1 - 1) };
    (2.0 * lower.min(upper)).min(1.0)
}

/// Exact `1 − alpha` interval of the rate ratio `x1 / x0` (equal
/// exposures): Clopper–Pearson bounds of `x1 / (x1 + x0)`, each mapped by
/// `p / (1 − p)`. The upper bound is infinite when `x0` is 0; `(0, ∞)`
/// when both are 0.
pub fn rate_ratio_interval(x1: u64, x0: u64, alpha: f64) -> (f64, f64) {
    let n = x1 + x0;
    if n == 0 {
        return (0.0, f64::INFINITY);
    }
    let (k, n) = (x1 as f64, n as f64);
    let low = if x1 == 0 {
        0.0
    } else {
        Beta::new(k, n - k + 1.0).map_or(0.0, |b| b.inverse_cdf(alpha / 2.0))
    };
    let high = if x0 == 0 {
        1.0
    } else {
        Beta::new(k + 1.0, n - k).map_or(1.0, |b| b.inverse_cdf(1.0 - alpha / 2.0))
    };
    let odds = |p: f64| if p >= 1.0 { f64::INFINITY } else { p / (1.0 - p) };
    (odds(low), odds(high))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values: scipy 1.17.1 (tests/reference/requirements.txt),
    /// `binomtest(k, n, 0.5).pvalue` and `.proportion_ci(0.95, "exact")`
    /// mapped by p / (1 − p), run on 2026-12-05.
    const SCIPY: &[(u64, u64, f64, f64, f64)] = &[
        (41, 23, 0.0327657590988232, 1.0448333731530985, 3.112006263735435),
        (10, 0, 0.001953125, 2.2415214750975356, f64::INFINITY),
        (5, 12, 0.143463134765625, 0.11499564987001291, 1.2705739365440667),
        (0, 3, 0.25, 0.0, 2.4199518933533923),
        (100, 80, 0.15653146957815167, 0.922276649928151, 1.6988184511709519),
    ];

    #[test]
    fn p_values_and_intervals_match_scipy() {
        for &(x1, x0, p, low, high) in SCIPY {
            let got = conditional_p(x1, x0);
            assert!((got - p).abs() <= 1e-9 * p.max(1e-12), "{x1} vs {x0}: p {got} vs {p}");
            let (l, h) = rate_ratio_interval(x1, x0, 0.05);
            assert!(
                (l - low).abs() <= 1e-6 * low.max(1e-9),
                "{x1} vs {x0}: low {l} vs {low}"
            );
            if high.is_infinite() {
                assert!(h.is_infinite());
            } else {
                assert!((h - high).abs() <= 1e-6 * high, "{x1} vs {x0}: high {h} vs {high}");
            }
        }
    }

    #[test]
    fn hand_worked_cases() {
        // 10 against 0: both tails are ½^10, doubled.
        assert_eq!(conditional_p(10, 0), 2.0 * 0.5f64.powi(10));
        // 3 against 3 is the centre: p = 1.
        assert_eq!(conditional_p(3, 3), 1.0);
        // 1 against 0: P(X ≥ 1 | n = 1) = ½, doubled to 1.
        assert_eq!(conditional_p(1, 0), 1.0);
        assert_eq!(conditional_p(0, 0), 1.0);
        // Symmetric in its arguments.
        assert!((conditional_p(7, 19) - conditional_p(19, 7)).abs() < 1e-12);
    }
}
