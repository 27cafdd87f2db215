//! Multiple-testing corrections: Benjamini–Hochberg false discovery rate
//! and Bonferroni, and ArcGIS-compatible confidence bins.
//!
//! Benjamini, Y. & Hochberg, Y. (1995). Controlling the false discovery
//! rate: a practical and powerful approach to multiple testing. JRSS B 57(1).

/// BH critical p-value at level `alpha`: the largest `p_(k)` with
/// `p_(k) <= k / m * alpha` (0 when none qualifies). A test is significant
/// when its p-value is at or below this.
pub fn bh_threshold(p: &[f64], alpha: f64) -> f64 {
    bh_thresholds(p, &[alpha])[0]
}

/// [`bh_threshold`] at several levels, sorting the p-values once.
pub fn bh_thresholds(p: &[f64], alphas: &[f64]) -> Vec<f64> {
    let mut sorted: Vec<f64> = p.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_unstable_by(f64::total_cmp);
    let m = sorted.len() as f64;
    alphas
        .iter()
        .map(|&alpha| {
            let mut threshold = 0.0;
            for (k, &pk) in sorted.iter().enumerate() {
                if pk <= (k + 1) as f64 / m * alpha {
                    threshold = pk;
                }
            }
            threshold
        })
        .collect()
}

/// BH-adjusted p-values (q-values): `q_(k) = min_{j >= k} m p_(j) / j`, capped at 1.
pub fn bh_adjust(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut q = vec![1.0; m];
    let mut running = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        let v = (p[i] * m as f64 / (rank + 1) as f64).min(1.0);
        running = running.min(v);
        q[i] = running;
    }
    q
}

/// Bonferroni threshold: `alpha / m`.
pub fn bonferroni_threshold(m: usize, alpha: f64) -> f64 {
    if m == 0 {
        0.0
    } else {
        alpha / m as f64
    }
}

/// The multiple-testing correction applied to confidence bins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Correction {
    None,
    Fdr,
    Bonferroni,
}

crate::named_choices!(Correction {
    Fdr => "fdr",
    None => "none",
    Bonferroni => "bonferroni",
});

/// ArcGIS `Gi_Bin`: ±3, ±2, ±1 for significance at 99, 95 and 90 %
/// confidence (sign of z), 0 otherwise, under the chosen correction.
pub fn confidence_bins(z: &[f64], p: &[f64], correction: Correction) -> Vec<i8> {
    let levels = [0.01, 0.05, 0.10];
    let thresholds: Vec<f64> = match correction {
        Correction::None => levels.to_vec(),
        Correction::Fdr => bh_thresholds(p, &levels),
        Correction::Bonferroni => levels.iter().map(|&a| bonferroni_threshold(p.len(), a)).collect(),
    };
    z.iter()
        .zip(p)
        .map(|(&z, &p)| {
            let level = if !p.is_finite() {
                0
            } else if p <= thresholds[0] {
                3
            } else if p <= thresholds[1] {
                2
            } else if p <= thresholds[2] {
                1
            } else {
                0
            };
            if z < 0.0 {
                -level
            } else {
                level
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-worked: m = 5, alpha = 0.05, critical values k/5*0.05 =
    /// 0.01, 0.02, 0.03, 0.04, 0.05. Sorted p: 0.005 (<=0.01 yes),
    /// 0.011 (<=0.02 yes), 0.039 (<=0.03 no), 0.040 (<=0.04 yes), 0.30 (no).
    /// The largest k that qualifies is 4, so everything up to 0.040 is
    /// significant, including 0.039 which failed its own step.
    #[test]
    fn bh_hand_worked() {
        let p = [0.30, 0.039, 0.005, 0.040, 0.011];
        assert_eq!(bh_threshold(&p, 0.05), 0.040);
        let q = bh_adjust(&p);
        // q_(5) = 0.30; q_(4) = min(0.3, 0.04*5/4=0.05) = 0.05;
        // q_(3) = min(0.05, 0.039*5/3=0.065) = 0.05; q_(2) = min(0.05, 0.011*5/2=0.0275) = 0.0275;
        // q_(1) = min(0.0275, 0.005*5) = 0.025.
        let expected = [0.30, 0.05, 0.025, 0.05, 0.0275];
        for (a, b) in q.iter().zip(expected) {
            assert!((a - b).abs() < 1e-12, "{q:?}");
        }
        assert_eq!(bonferroni_threshold(5, 0.05), 0.01);
    }

    #[test]
    fn bins_with_and_without_fdr() {
        let z = [3.0, -2.0, 1.7, 0.1];
        let p = [0.0027, 0.0455, 0.0891, 0.92];
        assert_eq!(confidence_bins(&z, &p, Correction::None), vec![3, -2, 1, 0]);
        // FDR at 0.01: 0.0027 <= 1/4*0.01? no (0.0025) -> nothing at 99 %.
        // At 0.05: 0.0027 <= 0.0125 yes, 0.0455 <= 0.025 no -> only the first.
        // At 0.10: 0.0027 <= 0.025, 0.0455 <= 0.05, 0.0891 <= 0.075 no -> first two.
        assert_eq!(confidence_bins(&z, &p, Correction::Fdr), vec![2, -1, 0, 0]);
    }
}
