//! Local Moran's I (Anselin 1995) with row-standardised weights, as PySAL
//! esda's `Moran_Local` computes it:
//!
//! ```text
//! z_i = (x_i − x̄) / σ          (σ the population standard deviation)
//! I_i = (n − 1) · z_i · Σ_j w_ij z_j / Σ_j z_j²      (w row-standardised)
//! ```
//!
//! Quadrants: HH (high value, high neighbours), LH, LL, HL, by the signs of
//! z_i and its spatial lag. Significance by conditional permutation, since
//! the analytical normal approximation is poor for local Moran's I: the
//! pseudo p-value of I_i among the I_i of `R` permutations of the
//! neighbours, `(min(M_≥, M_≤) + 1)/(R + 1)`: one-tailed on the side where
//! the observed I_i falls (esda 2.9.0 `Moran_Local`'s `p_sim`, its
//! `'directed'` rule), with ties counted on both sides (esda counts them on
//! the upper side only). See [`super::permutation`] for the draws, the
//! rule and why.
//!
//! I_i is monotone in the lag for fixed z_i (increasing for z_i > 0,
//! decreasing for z_i < 0), and the rule is symmetric in M_≥ and M_≤, so
//! the counts are taken on the lag of the counts themselves, where equal
//! arrangements are exactly equal (a lag of whole numbers). With z_i = 0,
//! I_i is 0 under every permutation: every draw ties and p = 1.
//!
//! Why ties matter: with small counts most cells are 0 and so are most of
//! their neighbours. A 0 cell (z_i < 0) with 0 neighbours has the largest
//! I_i it can have, and about a quarter of the draws equal it (60 × 60
//! lattice, 28 neighbours, Poisson mean 0.05). Comparing the lag on one
//! side only, as this engine did, gave p = 1/(R + 1) to every such cell:
//! ~900 of 3,600 cells "significant LL" after BH where there is nothing;
//! esda's upper-side rule gives the same p = 1/(R + 1) to a lone non-zero
//! cell among 0 neighbours (an "HL outlier" when half the draws tie it),
//! and floating-point I values make some of its true ties miss by an ulp.
//! This rule calls none of them (`tests/gistar_reference.rs`).
//!
//! Anselin, L. (1995). Local indicators of spatial association — LISA.
//! Geographical Analysis 27(2).

use super::fdr::Correction;
use super::hotspot::{
    HotspotRequest, Hotspots, AUTO_MAX_CELLS, BAND, CELL, CORRECTION, GRID, K, RESOLUTION, SEED, UNIT_PROPERTIES,
    WEIGHTS,
};
use super::layer::Values as LayerValues;
use super::params::{Param, ParamType, PropType, Property, Spec, Values, ALPHA, HARM, SELECTION};
use super::permutation;
use super::run::{Analysis, Computed, Ctx};
use super::weights::Weights;
use super::AnalysisError;

/// LISA's own properties (besides the units' [`UNIT_PROPERTIES`]).
const LISA_PROPERTIES: &[Property] = &[
    Property::new("lisa_i", PropType::Number, "local Moran's I"),
    Property::new("quadrant", PropType::Text, "HH, LH, LL or HL"),
    Property::new("p_sim", PropType::Number, "permutation pseudo p-value"),
    Property::new(
        "significant",
        PropType::Boolean,
        "significant under the chosen correction",
    ),
];

/// `lisa`: Local Moran's I on the Gi* units.
pub const LISA: Analysis = Analysis {
    spec: Spec {
        id: "lisa",
        title: "Local Moran's I (LISA)",
        about: "Local Moran's I on grid cells (or wards, boroughs, H3 cells): HH/LH/LL/HL quadrants with conditional permutation p (one-tailed on the observed side, as esda's; ties counted on both sides) and FDR.",
        groups: &[
            SELECTION,
            &[
                GRID,
                CELL,
                AUTO_MAX_CELLS,
                BAND,
                WEIGHTS,
                RESOLUTION,
                K,
                ALPHA,
                CORRECTION,
                Param::new("permutations", ParamType::Integer, "conditional permutations (0 also means 999)").default("999"),
                SEED,
            ],
            HARM,
        ],
        cli: true,
        http: true,
        properties: &[UNIT_PROPERTIES, LISA_PROPERTIES],
    },
    run: run_lisa,
    cost: super::hotspot::cost_hotspots,
    offline: None,
};

fn run_lisa(c: &Ctx<'_>, v: &Values) -> Result<Computed, AnalysisError> {
    let (h, l, alpha) = compute(c.dataset, v)?;
    let summary = format!("{} cells, {} permutations", h.units.len(), permutations(v)?);
    Ok(Computed::layer(to_layer(&h, &l, alpha), summary))
}

/// The permutations asked for (0 means 999).
fn permutations(v: &Values) -> Result<usize, AnalysisError> {
    let p = HotspotRequest::from_values(v)?.permutations;
    Ok(if p == 0 { 999 } else { p })
}

/// LISA from checked values: Gi*'s units, counts and weights (Gi* run
/// without its permutations), local Moran's I on them, and the request's
/// alpha. The CLI's layer and the server's table are both made from this.
pub fn compute(ds: &crate::dataset::Dataset, v: &Values) -> Result<(Hotspots, Lisa, f64), AnalysisError> {
    let mut req = HotspotRequest::from_values(v)?;
    let permutations = permutations(v)?;
    req.permutations = 0;
    let h = super::hotspot::gi_star(ds, &req)?;
    let l = local_morans_i(&h.count, &h.weights, permutations, req.seed);
    Ok((h, l, req.alpha))
}

/// Local Moran's I results.
#[derive(Debug, Clone)]
pub struct Lisa {
    pub i: Vec<f64>,
    /// 1 = HH, 2 = LH, 3 = LL, 4 = HL (esda's numbering).
    pub quadrant: Vec<u8>,
    /// Pseudo p-values, one-tailed on the observed side (NaN without permutations).
    pub p_sim: Vec<f64>,
}

/// Row-standardised copy of binary or general weights.
pub fn row_standardised(w: &Weights) -> Weights {
    let mut out = w.clone();
    out.weights = (0..w.len())
        .flat_map(|i| {
            let row: Vec<f64> = w.row(i).map(|(_, v)| v).collect();
            let s: f64 = row.iter().sum();
            row.into_iter().map(move |v| if s > 0.0 { v / s } else { 0.0 })
        })
        .collect();
    out
}

/// Computes local Moran's I of `x` under `w` (row-standardised here), with
/// `permutations` seeded conditional permutations (0: no `p_sim`).
pub fn local_morans_i(x: &[f64], w: &Weights, permutations: usize, seed: u64) -> Lisa {
    let draws = (x.len() >= 2 && permutations > 0)
        .then(|| permutation::Draws::seeded(x.len(), permutation::k_max(w), permutations, seed));
    local_morans_i_with(x, w, draws.as_ref())
}

/// As [`local_morans_i`] with given draws (`None`: no `p_sim`).
pub fn local_morans_i_with(x: &[f64], w: &Weights, draws: Option<&permutation::Draws>) -> Lisa {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let sd = (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    let z: Vec<f64> = x.iter().map(|v| if sd > 0.0 { (v - mean) / sd } else { 0.0 }).collect();
    let den: f64 = z.iter().map(|v| v * v).sum();
    let wr = row_standardised(w);
    let mut i_stat = Vec::with_capacity(z.len());
    let mut quadrant = Vec::with_capacity(z.len());
    for (k, &zk) in z.iter().enumerate() {
        let lag: f64 = wr.row(k).map(|(j, wij)| wij * z[j as usize]).sum();
        i_stat.push(if den > 0.0 {
            (n - 1.0) * zk * lag / den
        } else {
            f64::NAN
        });
        quadrant.push(match (zk > 0.0, lag > 0.0) {
            (true, true) => 1,
            (false, true) => 2,
            (false, false) => 3,
            (true, false) => 4,
        });
    }
    // I_i is monotone in the lag of x for fixed z_i and the rule is
    // symmetric in M_≥ and M_≤ (module docs); I_i ≡ 0 when z_i = 0.
    let p_sim = match draws {
        Some(d) => permutation::folded_p(x, w, d)
            .into_iter()
            .zip(&z)
            .map(|(p, zi)| if *zi == 0.0 { 1.0 } else { p })
            .collect(),
        None => vec![f64::NAN; x.len()],
    };
    Lisa {
        i: i_stat,
        quadrant,
        p_sim,
    }
}

/// Quadrant names.
pub fn quadrant_name(q: u8) -> &'static str {
    match q {
        1 => "HH",
        2 => "LH",
        3 => "LL",
        _ => "HL",
    }
}

/// A LISA layer on the same cells, counts and weights as a Gi* run.
pub fn to_layer(h: &super::hotspot::Hotspots, l: &Lisa, alpha: f64) -> super::layer::Layer {
    h.layer_with("lisa", &columns(h, l, alpha), metadata(h))
}

/// LISA's properties per unit: the units' columns of Gi* (without Gi*'s
/// own statistics), then `lisa_i`, `quadrant`, `p_sim` and `significant`
/// under the request's correction (BH FDR by default).
pub fn columns(h: &super::hotspot::Hotspots, l: &Lisa, alpha: f64) -> super::layer::Columns {
    const GI_ONLY: [&str; 7] = [
        "gi_z",
        "gi_p",
        "gi_q_fdr",
        "gi_p_sim",
        "gi_bin",
        "gi_bin_fdr",
        "significant",
    ];
    let threshold = match h.request.correction {
        Correction::Fdr => super::fdr::bh_threshold(&l.p_sim, alpha),
        Correction::Bonferroni => super::fdr::bonferroni_threshold(l.p_sim.len(), alpha),
        Correction::None => alpha,
    };
    let mut c: super::layer::Columns = h
        .property_columns()
        .into_iter()
        .filter(|(name, _)| !GI_ONLY.contains(name))
        .collect();
    c.push(("lisa_i", LayerValues::Num(l.i.clone())));
    c.push((
        "quadrant",
        LayerValues::Str(l.quadrant.iter().map(|&q| quadrant_name(q).to_string()).collect()),
    ));
    c.push(("p_sim", LayerValues::Num(l.p_sim.clone())));
    c.push((
        "significant",
        LayerValues::Bool(l.p_sim.iter().map(|&p| p <= threshold).collect()),
    ));
    c
}

/// The layer's metadata: the units' and weights' (as Gi*'s), the statistic
/// and the permutation rule.
pub fn metadata(h: &super::hotspot::Hotspots) -> serde_json::Value {
    let mut m = h.metadata();
    if let Some(m) = m.as_object_mut() {
        let correction = match h.request.correction {
            Correction::Fdr => "BH FDR",
            Correction::Bonferroni => "Bonferroni",
            Correction::None => "no multiple-testing correction",
        };
        m.insert(
            "statistic".into(),
            format!("Local Moran's I (row-standardised weights), conditional permutation p, {correction}").into(),
        );
        m.insert("p_sim".into(), permutation::ALTERNATIVE.into());
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::weights::WeightsSpec;

    /// Hand-worked: x = (1, 2, 3, 4) on a line (rook). x̄ = 2.5, σ = √1.25.
    /// z = (−1.5, −0.5, 0.5, 1.5)/√1.25, Σz² = 4.
    /// Unit 0: lag = z_1 = −0.5/√1.25; I_0 = 3 · (−1.5)(−0.5)/1.25 / 4 = 0.45.
    /// Unit 1: lag = (z_0 + z_2)/2 = −0.5/√1.25; I_1 = 3 · (−0.5)(−0.5)/1.25/4 = 0.15.
    #[test]
    fn hand_worked_line() {
        let w = Weights::from_lists(
            WeightsSpec::Contiguity { queen: false },
            vec![vec![1], vec![0, 2], vec![1, 3], vec![2]],
        );
        let l = local_morans_i(&[1.0, 2.0, 3.0, 4.0], &w, 0, 1);
        assert!((l.i[0] - 0.45).abs() < 1e-12, "{:?}", l.i);
        assert!((l.i[1] - 0.15).abs() < 1e-12, "{:?}", l.i);
        assert_eq!(l.quadrant, vec![3, 3, 1, 1]);
    }

    /// The issue's reproduction: a 60 × 60 lattice, 28 neighbours (band of
    /// 3 cells), Poisson counts with mean 0.05, BH at 0.05. Permuting the
    /// lag and comparing on one side called ~900 cells significant (mostly
    /// "LL" in empty areas); esda's upper-side tie rule calls none at 999
    /// permutations but 40-50 "HL" at 9,999. There is no spatial structure
    /// here: nothing may be significant, at either number of permutations.
    #[test]
    fn no_spurious_clusters_on_sparse_counts() {
        use rand::Rng;
        use rand::SeedableRng;
        let pts: Vec<[f64; 2]> = (0..60)
            .flat_map(|i| (0..60).map(move |j| [i as f64, j as f64]))
            .collect();
        let w = Weights::distance_band(&pts, 3.0, false);
        assert_eq!(w.neighbour_count(30 * 60 + 30), 28);
        for seed in [1u64, 2, 3] {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let x: Vec<f64> = (0..pts.len())
                .map(|_| {
                    // Poisson(0.05) by inversion.
                    let (u, mut k, mut p) = (rng.gen::<f64>(), 0u32, (-0.05f64).exp());
                    let mut cdf = p;
                    while u > cdf {
                        k += 1;
                        p *= 0.05 / k as f64;
                        cdf += p;
                    }
                    k as f64
                })
                .collect();
            assert!(x.iter().sum::<f64>() > 100.0);
            for permutations in [999, 9_999] {
                let l = local_morans_i(&x, &w, permutations, seed);
                let t = crate::analysis::fdr::bh_threshold(&l.p_sim, 0.05);
                let significant = l.p_sim.iter().filter(|p| **p <= t).count();
                assert_eq!(significant, 0, "seed {seed}, {permutations} permutations");
                // Empty cells amid empty neighbours tie about a quarter of the draws.
                let k = (0..x.len())
                    .find(|&i| x[i] == 0.0 && w.row(i).all(|(j, _)| x[j as usize] == 0.0) && w.neighbour_count(i) == 28)
                    .unwrap();
                assert!((0.15..0.35).contains(&l.p_sim[k]), "{}", l.p_sim[k]);
            }
        }
    }
}
