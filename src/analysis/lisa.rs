//! Local Moran's I (Anselin 1995) with row-standardised weights, as PySAL
//! esda's `Moran_Local` computes it:
//!
//! ```text
//! z_i = (x_i − x̄) / σ          (σ the population standard deviation)
//! I_i = (n − 1) · z_i · Σ_j w_ij z_j / Σ_j z_j²      (w row-standardised)
//! ```
//!
//! Quadrants: HH (high value, high neighbours), LH, LL, HL, by the signs of
//! z_i and its spatial lag. Significance by conditional permutation
//! (pseudo p = (M + 1)/(R + 1)), since the analytical normal approximation
//! is poor for local Moran's I.
//!
//! Anselin, L. (1995). Local indicators of spatial association — LISA.
//! Geographical Analysis 27(2).

use super::fdr::Correction;
use super::gi_star;
use super::hotspot::{
    HotspotRequest, AUTO_MAX_CELLS, BAND, CELL, CORRECTION, GRID, K, RESOLUTION, SEED, UNIT_PROPERTIES, WEIGHTS,
};
use super::params::{Param, ParamType, PropType, Property, Spec, Values, ALPHA, HARM, SELECTION};
use super::run::{Analysis, Computed, Ctx};
use super::weights::Weights;
use super::AnalysisError;

const LISA_PROPERTIES: &[Property] = &[
    UNIT_PROPERTIES[0],
    UNIT_PROPERTIES[1],
    UNIT_PROPERTIES[2],
    UNIT_PROPERTIES[3],
    UNIT_PROPERTIES[4],
    UNIT_PROPERTIES[5],
    UNIT_PROPERTIES[6],
    UNIT_PROPERTIES[7],
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
        about: "Local Moran's I on grid cells (or wards, boroughs, H3 cells): HH/LH/LL/HL quadrants with conditional permutation p and FDR.",
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
        properties: LISA_PROPERTIES,
    },
    run: run_lisa,
    cost: super::hotspot::cost_hotspots,
};

fn run_lisa(c: &Ctx<'_>, v: &Values) -> Result<Computed, AnalysisError> {
    let mut req = HotspotRequest::from_values(v)?;
    let permutations = if req.permutations == 0 { 999 } else { req.permutations };
    // The units, counts and weights of Gi*, without its permutations.
    req.permutations = 0;
    let h = super::hotspot::gi_star(c.dataset, &req)?;
    let l = local_morans_i(&h.count, &h.weights, permutations, req.seed);
    let summary = format!("{} cells, {permutations} permutations", h.units.len());
    Ok(Computed::layer(to_layer(&h, &l, req.alpha), summary))
}

/// Local Moran's I results.
#[derive(Debug, Clone)]
pub struct Lisa {
    pub i: Vec<f64>,
    /// 1 = HH, 2 = LH, 3 = LL, 4 = HL (esda's numbering).
    pub quadrant: Vec<u8>,
    /// Pseudo p-values (NaN without permutations).
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

/// Computes local Moran's I of `x` under `w` (row-standardised here).
pub fn local_morans_i(x: &[f64], w: &Weights, permutations: usize, seed: u64) -> Lisa {
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
    // With z_i fixed, I_i is monotone in the lag, so permuting the lag (no
    // self weight) gives the same folded pseudo p-values as permuting I_i.
    let p_sim = gi_star::permutation_p(&z, &wr, 0.0, permutations, seed);
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
    let mut layer = h.to_layer();
    // `significant` under the request's correction (BH FDR by default).
    let threshold = match h.request.correction {
        Correction::Fdr => super::fdr::bh_threshold(&l.p_sim, alpha),
        Correction::Bonferroni => super::fdr::bonferroni_threshold(l.p_sim.len(), alpha),
        Correction::None => alpha,
    };
    for (k, f) in layer.features.iter_mut().enumerate() {
        let props = &mut f.properties;
        for key in [
            "gi_z",
            "gi_p",
            "gi_q_fdr",
            "gi_p_sim",
            "gi_bin",
            "gi_bin_fdr",
            "significant",
        ] {
            props.shift_remove(key);
        }
        let num = |v: f64| {
            if v.is_finite() {
                serde_json::Value::from(v)
            } else {
                serde_json::Value::Null
            }
        };
        props.insert("lisa_i".into(), num(l.i[k]));
        props.insert("quadrant".into(), serde_json::Value::from(quadrant_name(l.quadrant[k])));
        props.insert("p_sim".into(), num(l.p_sim[k]));
        props.insert("significant".into(), serde_json::Value::from(l.p_sim[k] <= threshold));
    }
    layer.name = "lisa".into();
    if let Some(m) = layer.metadata.as_object_mut() {
        let correction = match h.request.correction {
            Correction::Fdr => "BH FDR",
            Correction::Bonferroni => "Bonferroni",
            Correction::None => "no multiple-testing correction",
        };
        m.insert(
            "statistic".into(),
            format!("Local Moran's I (row-standardised weights), conditional permutation p, {correction}").into(),
        );
    }
    layer
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
}
