//! Risk around points of interest (schools, stations): how many incidents
//! fall within each radius of each POI, against how many a uniform
//! background rate would put there.
//!
//! For POI `i` and radius `r` (BNG metres):
//! - `O` = selected incidents within `r` (exact distance, boundary included);
//! - `A` = the part of the circle inside the study area (raster of the wards
//!   at [`PoiRiskRequest::mask_cell_m`]; exactly π r² when wholly inside);
//! - `E` = λ·A with λ the London rate (incidents / study area), and `E_b`
//!   with the rate of the POI's borough;
//! - relative risk `O/E`, the one-sided p-value `P(X ≥ O | E)` (the
//!   regularised lower incomplete gamma `P(O, E)`), the exact (Garwood
//!   1936) confidence interval for `O/E`, and Benjamini–Hochberg q-values
//!   across the POIs of each radius, all allowing for over-dispersion
//!   (below).
//!
//! **Over-dispersion.** police.uk publishes each incident at one of a set of
//! anonymised map points (street centres, blocks of flats), and repeat
//! victimisation adds to the same points, so incidents arrive in bundles:
//! if the map points fall as a Poisson process, each carrying m incidents,
//! a circle's count has variance φ times its mean, with
//! `φ = Σ_k m_k² / Σ_k m_k` over the selection's distinct locations (a
//! compound Poisson count). φ is estimated from the selected incidents and
//! stated in the metadata (Met burglary: 1.39 for one month, 3.40 for 2024,
//! 16.2 for 2013-12..2025-02). The p-values and intervals treat `O/φ` events
//! against `E/φ` (a scaled, or quasi-, Poisson count): the same ratio, √φ
//! times wider on the log scale; with every incident at its own point φ = 1
//! and they are the exact Poisson figures. φ is one figure for the whole
//! study area; a circle around a single block of flats can be more
//! clumped still.
//!
//! **Ranking.** POIs are ranked by an empirical-Bayes (Poisson–gamma)
//! relative risk (Clayton & Kaldor 1987): the relative risks of the POIs at
//! a radius are taken to follow a gamma distribution whose mean and
//! variance are estimated from all of them by Marshall's (1991) moments
//! (`m = ΣO/ΣE`, `A = Σ E_i (O_i/E_i − m)² / ΣE − m/Ē`, on the scaled
//! counts); each POI's relative risk then has the posterior
//! `Gamma(m²/A + O/φ, m/A + E/φ)`, and the key is its lower `alpha/2`
//! quantile (`rr_eb_low`): credibly above expectation. The raw ratio's
//! lower bound, the old key, grows without limit as E goes to 0: three
//! incidents where 0.1 were expected (a circle almost wholly outside
//! London) gave 6.19 and outranked forty where five were expected (5.72).
//! With little expectation the data say little, and the posterior stays
//! near the prior. The prior is fitted on the POIs whose circle lies at
//! least half inside London (a sliver of a circle with a few incidents
//! would otherwise dominate the moments), and only those POIs are ranked:
//! a POI is not ranked on a circle we see less than half of (its
//! surroundings are mostly outside the data; `inside_share_r*` says how
//! much is inside). So a near-empty circle cannot top the list twice over.
//! The raw figures (`rr_london`, its interval, p and q) stay in the output
//! for every POI.
//!
//! The whole-layer answer, in the manner of Risk Terrain Modeling (Caplan &
//! Kennedy 2011): for each radius and crime type, the density of incidents
//! within `r` of any POI of the layer against the density elsewhere in the
//! study area, `RR = (n_in/A_in)/(n_out/A_out)`, with the log-normal
//! interval `exp(ln RR ± z·√(φ (1/n_in + 1/n_out)))`, and the ratio to the
//! London-wide rate.
//!
//! The background is uniform over the study area: it says where crime is
//! denser than London's average, not why (homes, footfall and opening hours
//! all differ around schools and stations).

use geo::Area;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use statrs::distribution::{ChiSquared, ContinuousCDF, Gamma};

use super::buckets::PointBuckets;
use super::cost::{self, Cost, Lever, Measure};
use super::harm::HarmTable;
use super::layer::{circle_wgs84, Feature, Layer};
use super::params::{Param, ParamType, PropType, Property, Spec, Values, ALPHA, HARM, SELECTION};
use super::run::{Analysis, Computed, Ctx, Output};
use super::select::Selection;
use super::study_area::StudyMask;
use super::AnalysisError;
use crate::dataset::schema::pois;
use crate::dataset::Dataset;

const POI_PROPERTIES: &[Property] = &[
    Property::new("poi_id", PropType::Text, "the school's or station's id"),
    Property::new("kind", PropType::Text, "school or station"),
    Property::new("name", PropType::Text, "its name"),
    Property::new("ward_code", PropType::Text, "the ward it is in"),
    Property::new("borough_code", PropType::Text, "the borough it is in"),
    Property::new("easting_m", PropType::Number, "BNG easting (m)"),
    Property::new("northing_m", PropType::Number, "BNG northing (m)"),
    Property::new("rank", PropType::Integer, "rank by the ranking key"),
    Property::new("radius_m", PropType::Number, "the buffer's radius (buffer geometry)"),
    Property::new("count_r*", PropType::Integer, "incidents within the radius"),
    Property::new("harm_r*", PropType::Number, "harm days within the radius"),
    Property::new("area_km2_r*", PropType::Number, "the buffer's area inside London"),
    Property::new("per_km2_r*", PropType::Number, "incidents per km² within the radius"),
    Property::new(
        "expected_*",
        PropType::Number,
        "expected incidents under the London or borough rate",
    ),
    Property::new("rr_*", PropType::Number, "relative risk and its interval"),
    Property::new("p_*", PropType::Number, "one-sided Poisson p"),
    Property::new("q_*", PropType::Number, "Benjamini-Hochberg q"),
    Property::new("significant_r*", PropType::Boolean, "significant at alpha after FDR"),
    Property::new("shrunk_*", PropType::Number, "shrunken relative risk"),
    Property::new("excess_*", PropType::Number, "excess incidents over expectation"),
];

/// `poi-risk`: risk around schools and stations.
pub const POI_RISK: Analysis = Analysis {
    spec: Spec {
        id: "poi-risk",
        title: "Risk around schools and stations",
        about: "Incidents within each radius of every school and station against the London and borough rates: relative risk, exact 95% interval and one-sided p allowing for the over-dispersion of police.uk's map points, BH q across POIs, and an empirical-Bayes relative risk; ranked by its lower bound (circles at least half inside London). The whole-layer ratio (density within r of any POI against elsewhere) is in the output's metadata.",
        groups: &[
            SELECTION,
            &[
                Param::choice("pois", PoiSet::NAMES, "all", "which points of interest"),
                Param::metres("radius", "radii, comma-separated or repeated").list().default("100,200,400"),
                Param::metres("rank_radius", "the radius the ranking uses")
                    .default_rule("200 when it is one of the radii, else the middle radius"),
                Param::choice(
                    "geometry",
                    &["point", "buffer"],
                    "point",
                    "POI points, or one buffer polygon per POI and radius",
                )
                .http_only(),
                ALPHA,
            ],
            HARM,
            &[
                Param::new("top", ParamType::Integer, "how many top POIs to print").default("10").cli_only(),
                Param::new("buffers_out", ParamType::Path, "also write the buffers (one circle per POI and radius) as GeoJSON")
                    .cli_only(),
                Param::new("summary_out", ParamType::Path, "also write the whole-layer comparison (per radius and crime type) as CSV")
                    .cli_only(),
            ],
        ],
        cli: true,
        http: true,
        properties: &[POI_PROPERTIES],
    },
    run: run_poi_risk,
    cost: cost_poi_risk,
    offline: None,
};

/// The cost of POI risk: POIs × radii figures, and the incidents near each
/// POI counted per radius (the study-area raster is built once and kept).
fn cost_poi_risk(ds: &Dataset, v: &Values) -> Result<Cost, AnalysisError> {
    let req = PoiRiskRequest::from_values(v)?;
    let pois = match req.pois {
        PoiSet::Schools => ds.schools.height(),
        PoiSet::Stations => ds.stations.height(),
        PoiSet::All => ds.schools.height() + ds.stations.height(),
    } as f64;
    let radii = req.radii_m.len() as f64;
    let largest = req.radii_m.iter().copied().fold(0.0, f64::max);
    let area = cost::study_area_m2(ds).max(1.0);
    let lever = Some(Lever::Power {
        param: "radius",
        value: largest,
        power: 2.0,
    });
    // Incidents within the largest radius of a POI, on average.
    let near = cost::incidents(ds) * (std::f64::consts::PI * largest * largest / area).min(1.0);
    Ok(Cost {
        cells: Measure::new(pois * radii, None),
        pairs: Measure::new(pois * radii, None),
        work: Measure::new(pois * near * radii + cost::incidents(ds), lever),
    })
}

impl PoiRiskRequest {
    /// The request from checked parameter values (radii sorted, repeats dropped).
    pub fn from_values(v: &Values) -> Result<PoiRiskRequest, AnalysisError> {
        let d = PoiRiskRequest::default();
        let mut radii_m = v.numbers("radius")?;
        radii_m.sort_by(f64::total_cmp);
        radii_m.dedup();
        let rank_radius_m = match v.f64("rank_radius")? {
            Some(r) => r,
            None if radii_m.contains(&d.rank_radius_m) => d.rank_radius_m,
            None => radii_m
                .get((radii_m.len().max(1) - 1) / 2)
                .copied()
                .unwrap_or(d.rank_radius_m),
        };
        let req = PoiRiskRequest {
            selection: v.selection()?,
            pois: v.choice("pois")?.unwrap_or_default(),
            radii_m,
            rank_radius_m,
            harm: v.harm()?,
            alpha: v.number("alpha")?,
            ..d
        };
        check(&req)?;
        Ok(req)
    }
}

fn run_poi_risk(c: &Ctx<'_>, v: &Values) -> Result<Computed, AnalysisError> {
    let req = PoiRiskRequest::from_values(v)?;
    let mask = c.memo.mask(req.mask_cell_m, || study_mask(c.dataset, req.mask_cell_m));
    let result = poi_risk_with_mask(c.dataset, &req, &mask)?;
    let main = match v.str("geometry") {
        Some("buffer") => result.to_buffer_layer(),
        _ => result.to_layer(),
    };
    let mut extras = Vec::new();
    if v.given("buffers_out") {
        extras.push(("buffers_out", Output::Layer(result.to_buffer_layer())));
    }
    if v.given("summary_out") {
        extras.push(("summary_out", Output::Text(result.layer_csv())));
    }
    Ok(Computed {
        main: Output::Layer(main),
        summary: result.summary(v.count("top")?),
        extras,
    })
}

/// Which points of interest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PoiSet {
    Schools,
    Stations,
    /// Schools and stations together.
    #[default]
    All,
}

crate::named_choices!(PoiSet {
    All => "all" | "both",
    Schools => "schools" | "school",
    Stations => "stations" | "station",
});

/// What to compute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoiRiskRequest {
    pub selection: Selection,
    pub pois: PoiSet,
    /// Radii in metres, ascending (default 100, 200, 400).
    pub radii_m: Vec<f64>,
    /// The radius POIs are ranked at (must be one of `radii_m`).
    pub rank_radius_m: f64,
    pub harm: Option<HarmTable>,
    /// FDR level, and 1 − confidence of the intervals.
    pub alpha: f64,
    /// Study-area raster cell (metres) for areas inside London.
    pub mask_cell_m: f64,
}

impl Default for PoiRiskRequest {
    fn default() -> Self {
        PoiRiskRequest {
            selection: Selection::default(),
            pois: PoiSet::All,
            radii_m: vec![100.0, 200.0, 400.0],
            rank_radius_m: 200.0,
            harm: None,
            alpha: 0.05,
            mask_cell_m: 5.0,
        }
    }
}

/// One point of interest.
#[derive(Debug, Clone)]
pub struct Poi {
    pub id: String,
    pub kind: String,
    pub name: String,
    /// BNG metres.
    pub easting_m: f64,
    pub northing_m: f64,
    /// WGS84 degrees.
    pub lon: f64,
    pub lat: f64,
    pub ward_code: String,
    pub borough_code: String,
}

/// Figures for one POI at one radius.
#[derive(Debug, Clone, Copy, Default)]
pub struct RadiusRisk {
    pub count: u32,
    /// Harm (days) within the radius; 0 without a harm table.
    pub harm_days: f64,
    /// The circle's area inside the study area, km², and its share of π r².
    pub area_km2: f64,
    pub inside_share: f64,
    pub expected_london: f64,
    pub expected_borough: f64,
    pub rr_london: f64,
    pub rr_borough: f64,
    /// Harm relative to the London harm rate.
    pub harm_rr_london: f64,
    /// One-sided Poisson p-values, P(X ≥ O | E).
    pub p_london: f64,
    pub p_borough: f64,
    /// BH q-value of `p_london` across the POIs.
    pub q_london: f64,
    /// Exact confidence interval for `rr_london` (scaled for dispersion).
    pub rr_low: f64,
    pub rr_high: f64,
    /// Empirical-Bayes relative risk: posterior mean and its interval.
    pub rr_eb: f64,
    pub rr_eb_low: f64,
    pub rr_eb_high: f64,
}

/// The whole layer at one radius for one crime type (or "all").
#[derive(Debug, Clone, Serialize)]
pub struct LayerRisk {
    pub crime_type: String,
    pub radius_m: f64,
    pub incidents_within: u64,
    pub incidents_elsewhere: u64,
    pub area_within_km2: f64,
    pub area_elsewhere_km2: f64,
    pub per_km2_within: f64,
    pub per_km2_elsewhere: f64,
    pub per_km2_london: f64,
    /// Density within r of a POI over density elsewhere, with its interval.
    pub rr_vs_elsewhere: f64,
    pub rr_low: f64,
    pub rr_high: f64,
    /// Density within r of a POI over the London-wide density.
    pub ratio_to_london: f64,
}

/// The result.
#[derive(Debug, Clone)]
pub struct PoiRisk {
    pub request: PoiRiskRequest,
    pub pois: Vec<Poi>,
    /// `risk[i][k]`: POI `i` at radius `radii_m[k]`.
    pub risk: Vec<Vec<RadiusRisk>>,
    /// POI positions, most above expectation first; the first `ranked`
    /// are ranked, the rest (no area inside London) follow unranked.
    pub ranking: Vec<usize>,
    pub ranked: usize,
    /// Dispersion φ of the counts (at least 1) and the distinct locations it came from.
    pub dispersion: f64,
    pub distinct_locations: usize,
    /// The fitted gamma prior of the relative risks, per radius.
    pub priors: Vec<GammaPrior>,
    pub layer: Vec<LayerRisk>,
    pub incidents: usize,
    pub study_area_km2: f64,
    /// The kind and crime types counted.
    pub counted: super::select::Counted,
}

/// Loads the chosen POIs from the dataset.
pub fn load_pois(ds: &Dataset, set: PoiSet) -> Result<Vec<Poi>, AnalysisError> {
    let frames: Vec<&polars::prelude::DataFrame> = match set {
        PoiSet::Schools => vec![&ds.schools],
        PoiSet::Stations => vec![&ds.stations],
        PoiSet::All => vec![&ds.schools, &ds.stations],
    };
    let mut out = Vec::new();
    for df in frames {
        if df.height() == 0 {
            continue;
        }
        let s = |c: &str| -> Result<Vec<String>, AnalysisError> {
            let col = df
                .column(c)
                .and_then(|x| x.str().cloned())
                .map_err(|e| AnalysisError::Data(format!("POI column `{c}`: {e}")))?;
            Ok(col.iter().map(|v| v.unwrap_or("").to_string()).collect())
        };
        let f = |c: &str| -> Result<Vec<f64>, AnalysisError> {
            let col = df
                .column(c)
                .and_then(|x| x.f64().cloned())
                .map_err(|e| AnalysisError::Data(format!("POI column `{c}`: {e}")))?;
            Ok(col.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
        };
        let (id, kind, name, ward, borough) = (
            s(pois::POI_ID)?,
            s(pois::KIND)?,
            s(pois::NAME)?,
            s(pois::WARD_CODE)?,
            s(pois::BOROUGH_CODE)?,
        );
        let (e, n, lon, lat) = (f(pois::EASTING_M)?, f(pois::NORTHING_M)?, f(pois::LON)?, f(pois::LAT)?);
        for i in 0..df.height() {
            out.push(Poi {
                id: id[i].clone(),
                kind: kind[i].clone(),
                name: name[i].clone(),
                easting_m: e[i],
                northing_m: n[i],
                lon: lon[i],
                lat: lat[i],
                ward_code: ward[i].clone(),
                borough_code: borough[i].clone(),
            });
        }
    }
    Ok(out)
}

/// `P(X ≥ o)` for `X ~ Poisson(e)`.
pub fn poisson_upper_p(o: u64, e: f64) -> f64 {
    poisson_upper_p_scaled(o as f64, e)
}

/// `P(X ≥ o)` for a Poisson count extended to real `o` (a count divided by
/// the dispersion φ): the regularised lower incomplete gamma `P(o, e)`,
/// which is `P(X ≥ o | e)` exactly for whole `o`.
pub fn poisson_upper_p_scaled(o: f64, e: f64) -> f64 {
    if o <= 0.0 {
        return 1.0;
    }
    if e <= 0.0 {
        return 0.0;
    }
    statrs::function::gamma::gamma_lr(o, e).clamp(0.0, 1.0)
}

/// Exact (Garwood) `1 − alpha` interval for a Poisson mean given `o` events.
pub fn poisson_mean_interval(o: u64, alpha: f64) -> (f64, f64) {
    poisson_mean_interval_scaled(o as f64, alpha)
}

/// [`poisson_mean_interval`] for real `o` (scaled counts): the chi-square
/// quantiles with `2o` and `2o + 2` degrees of freedom, halved.
pub fn poisson_mean_interval_scaled(o: f64, alpha: f64) -> (f64, f64) {
    let q = |df: f64, p: f64| ChiSquared::new(df).map(|c| c.inverse_cdf(p)).unwrap_or(f64::NAN);
    let low = if o <= 0.0 { 0.0 } else { q(2.0 * o, alpha / 2.0) / 2.0 };
    let high = q(2.0 * o + 2.0, 1.0 - alpha / 2.0) / 2.0;
    (low, high)
}

/// The dispersion of counts of incidents that arrive in bundles at shared
/// locations: `φ = Σ_k m_k² / Σ_k m_k` over the distinct (easting,
/// northing) pairs with `m_k` incidents each (module docs), at least 1;
/// and the number of distinct locations.
pub fn snap_dispersion(easting_m: &[f64], northing_m: &[f64]) -> (f64, usize) {
    let mut m: rustc_hash::FxHashMap<(u64, u64), u64> = Default::default();
    for (e, n) in easting_m.iter().zip(northing_m) {
        *m.entry((e.to_bits(), n.to_bits())).or_default() += 1;
    }
    let (s1, s2) = m
        .values()
        .fold((0f64, 0f64), |(a, b), &k| (a + k as f64, b + (k * k) as f64));
    let phi = if s1 > 0.0 { (s2 / s1).max(1.0) } else { 1.0 };
    (phi, m.len())
}

/// A gamma distribution of relative risks across POIs (shape α, rate β:
/// mean α/β, variance α/β²), the prior of the empirical-Bayes estimates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GammaPrior {
    pub shape: f64,
    pub rate: f64,
}

impl GammaPrior {
    /// Marshall's (1991) moment estimates from observed and expected counts
    /// (already divided by the dispersion): `m = ΣO/ΣE`,
    /// `A = Σ E_i (O_i/E_i − m)² / ΣE − m/Ē` over the units with `E > 0`
    /// (Ē their mean), floored at `10⁻⁶ m²` (no detectable heterogeneity:
    /// every estimate is shrunk to m); shape `m²/A`, rate `m/A`.
    pub fn fit(o: &[f64], e: &[f64]) -> GammaPrior {
        let pairs: Vec<(f64, f64)> = o
            .iter()
            .zip(e)
            .filter(|(_, e)| **e > 0.0 && e.is_finite())
            .map(|(o, e)| (*o, *e))
            .collect();
        let (so, se) = pairs.iter().fold((0.0, 0.0), |(a, b), (o, e)| (a + o, b + e));
        if pairs.is_empty() || se <= 0.0 || so <= 0.0 {
            return GammaPrior { shape: 1.0, rate: 1.0 };
        }
        let m = so / se;
        let s2 = pairs.iter().map(|(o, e)| e * (o / e - m).powi(2)).sum::<f64>() / se;
        let e_bar = se / pairs.len() as f64;
        let a = (s2 - m / e_bar).max(1e-6 * m * m);
        GammaPrior {
            shape: m * m / a,
            rate: m / a,
        }
    }

    pub fn mean(&self) -> f64 {
        self.shape / self.rate
    }

    /// The posterior of a unit's relative risk given `o` events where `e`
    /// were expected (scaled counts): its mean and `1 − alpha` interval.
    pub fn posterior(&self, o: f64, e: f64, alpha: f64) -> (f64, f64, f64) {
        let (shape, rate) = (self.shape + o, self.rate + e);
        let q = |p: f64| Gamma::new(shape, rate).map(|g| g.inverse_cdf(p)).unwrap_or(f64::NAN);
        (shape / rate, q(alpha / 2.0), q(1.0 - alpha / 2.0))
    }
}

/// The share of a circle that must lie inside the study area for its POI
/// to be ranked and to inform the prior (module docs).
pub const MIN_INSIDE_SHARE: f64 = 0.5;

/// Whether a POI's circle is seen well enough to rank it.
fn rankable(r: &RadiusRisk) -> bool {
    r.inside_share >= MIN_INSIDE_SHARE && r.expected_london > 0.0 && r.expected_london.is_finite()
}

/// The ranking: POIs whose circle is at least half inside the study area,
/// by `rr_eb_low`, then count, then position; then the unranked. Returns
/// (order, how many ranked).
fn rank(risk: &[Vec<RadiusRisk>], k: usize) -> (Vec<usize>, usize) {
    let (mut ranked, unranked): (Vec<usize>, Vec<usize>) =
        (0..risk.len()).partition(|&i| rankable(&risk[i][k]) && risk[i][k].rr_eb_low.is_finite());
    ranked.sort_by(|&a, &b| {
        let (ra, rb) = (&risk[a][k], &risk[b][k]);
        rb.rr_eb_low
            .total_cmp(&ra.rr_eb_low)
            .then(rb.count.cmp(&ra.count))
            .then(a.cmp(&b))
    });
    let n = ranked.len();
    ranked.extend(unranked);
    (ranked, n)
}

/// Checks a request's parameters (before any raster is built).
pub fn check(req: &PoiRiskRequest) -> Result<(), AnalysisError> {
    if req.radii_m.is_empty() {
        return Err(AnalysisError::Param {
            name: "radius".into(),
            message: "give at least one radius".into(),
        });
    }
    for r in &req.radii_m {
        super::positive_metres("radius", *r)?;
    }
    if !req.radii_m.windows(2).all(|w| w[0] < w[1]) {
        return Err(AnalysisError::Param {
            name: "radius".into(),
            message: "radii must be distinct and ascending".into(),
        });
    }
    if !req.radii_m.contains(&req.rank_radius_m) {
        return Err(AnalysisError::Param {
            name: "rank_radius".into(),
            message: format!("{} m is not one of the radii {:?}", req.rank_radius_m, req.radii_m),
        });
    }
    if !(req.alpha > 0.0 && req.alpha < 1.0) {
        return Err(AnalysisError::Param {
            name: "alpha".into(),
            message: "must be between 0 and 1".into(),
        });
    }
    super::positive_metres("mask_cell", req.mask_cell_m)
}

/// The study-area raster of a dataset's wards.
pub fn study_mask(ds: &Dataset, cell_m: f64) -> StudyMask {
    StudyMask::new(ds.ward_index.polygons(), cell_m)
}

/// Computes POI risk.
pub fn poi_risk(ds: &Dataset, req: &PoiRiskRequest) -> Result<PoiRisk, AnalysisError> {
    // Checked before the raster is built, so a bad request costs nothing.
    check(req)?;
    let mask = study_mask(ds, req.mask_cell_m);
    poi_risk_with_mask(ds, req, &mask)
}

/// As [`poi_risk`] with a prepared study-area raster (the server keeps one).
pub fn poi_risk_with_mask(ds: &Dataset, req: &PoiRiskRequest, mask: &StudyMask) -> Result<PoiRisk, AnalysisError> {
    check(req)?;
    let pois = load_pois(ds, req.pois)?;
    if pois.is_empty() {
        return Err(AnalysisError::Empty(format!(
            "the dataset has no {} POIs",
            req.pois.name()
        )));
    }
    let borough_codes: Vec<String> = ds
        .boroughs
        .column(crate::dataset::schema::areas::CODE)
        .and_then(|c| c.str().cloned())
        .map_err(|e| AnalysisError::Data(format!("boroughs column `code`: {e}")))?
        .iter()
        .map(|v| v.unwrap_or("").to_string())
        .collect();
    let points = req
        .selection
        .apply_with_areas(ds, crate::dataset::schema::incidents::BOROUGH_CODE, &borough_codes)?;
    if points.is_empty() {
        return Err(AnalysisError::Empty(req.selection.to_string()));
    }
    let harm: Option<Vec<f64>> = req.harm.as_ref().map(|h| {
        let w: Vec<f64> = points.types.iter().map(|t| h.weight(t)).collect();
        points.crime_type.iter().map(|&t| w[t as usize]).collect()
    });
    let n_total = points.len() as f64;
    let (phi, distinct_locations) = snap_dispersion(&points.easting_m, &points.northing_m);
    let harm_total: f64 = harm.as_ref().map_or(0.0, |h| h.iter().sum());
    let study_m2 = mask.area_m2();
    let london_rate = n_total / study_m2;
    let harm_rate = harm_total / study_m2;

    // Borough rates: incidents per m² of borough.
    let borough_polys =
        crate::dataset::polygons_from_wkb(&ds.boroughs, crate::dataset::schema::areas::GEOMETRY_BNG_WKB, &ds.dir)
            .map_err(|e| AnalysisError::Data(e.to_string()))?;
    let mut borough_n = vec![0f64; borough_codes.len()];
    for &a in &points.area {
        if let Some(c) = borough_n.get_mut(a as usize) {
            *c += 1.0;
        }
    }
    let borough_rate: rustc_hash::FxHashMap<&str, f64> = borough_codes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), borough_n[i] / borough_polys[i].unsigned_area().max(1.0)))
        .collect();

    // Buckets a quarter of the largest radius wide: a query scans ~1.6x the circle's area.
    let buckets = PointBuckets::new(
        &points.easting_m,
        &points.northing_m,
        (req.radii_m[req.radii_m.len() - 1] / 4.0).max(10.0),
    );
    let radii = &req.radii_m;
    let mut risk: Vec<Vec<RadiusRisk>> = pois
        .par_iter()
        .map(|p| {
            let mut counts = vec![0u32; radii.len()];
            let mut harm_in = vec![0f64; radii.len()];
            let r2: Vec<f64> = radii.iter().map(|r| r * r).collect();
            buckets.for_each_within(p.easting_m, p.northing_m, radii[radii.len() - 1], |id, d2| {
                for (k, r2) in r2.iter().enumerate() {
                    if d2 <= *r2 {
                        counts[k] += 1;
                        if let Some(h) = &harm {
                            harm_in[k] += h[id as usize];
                        }
                    }
                }
            });
            let b_rate = borough_rate.get(p.borough_code.as_str()).copied().unwrap_or(f64::NAN);
            radii
                .iter()
                .enumerate()
                .map(|(k, &r)| {
                    let area = mask.circle_area_inside_m2(p.easting_m, p.northing_m, r);
                    let o = counts[k] as f64;
                    let (e, eb) = (london_rate * area, b_rate * area);
                    // Scaled counts: O/φ events against E/φ (module docs).
                    let (lo, hi) = poisson_mean_interval_scaled(o / phi, req.alpha);
                    RadiusRisk {
                        count: counts[k],
                        harm_days: harm_in[k],
                        area_km2: area / 1e6,
                        inside_share: area / (std::f64::consts::PI * r * r),
                        expected_london: e,
                        expected_borough: eb,
                        rr_london: o / e,
                        rr_borough: o / eb,
                        harm_rr_london: harm_in[k] / (harm_rate * area),
                        p_london: poisson_upper_p_scaled(o / phi, e / phi),
                        p_borough: if eb.is_finite() {
                            poisson_upper_p_scaled(o / phi, eb / phi)
                        } else {
                            f64::NAN
                        },
                        q_london: f64::NAN,
                        rr_low: lo * phi / e,
                        rr_high: hi * phi / e,
                        rr_eb: f64::NAN,
                        rr_eb_low: f64::NAN,
                        rr_eb_high: f64::NAN,
                    }
                })
                .collect()
        })
        .collect();
    let mut priors = Vec::with_capacity(radii.len());
    for k in 0..radii.len() {
        let p: Vec<f64> = risk.iter().map(|r| r[k].p_london).collect();
        for (i, q) in super::fdr::bh_adjust(&p).into_iter().enumerate() {
            risk[i][k].q_london = q;
        }
        let o: Vec<f64> = risk.iter().map(|r| r[k].count as f64 / phi).collect();
        let e: Vec<f64> = risk.iter().map(|r| r[k].expected_london / phi).collect();
        let fit: Vec<usize> = (0..risk.len()).filter(|&i| rankable(&risk[i][k])).collect();
        let prior = GammaPrior::fit(
            &fit.iter().map(|&i| o[i]).collect::<Vec<_>>(),
            &fit.iter().map(|&i| e[i]).collect::<Vec<_>>(),
        );
        for (i, r) in risk.iter_mut().enumerate() {
            if e[i] > 0.0 && e[i].is_finite() {
                let (mean, low, high) = prior.posterior(o[i], e[i], req.alpha);
                (r[k].rr_eb, r[k].rr_eb_low, r[k].rr_eb_high) = (mean, low, high);
            }
        }
        priors.push(prior);
    }
    let rank_k = radii.iter().position(|r| *r == req.rank_radius_m).unwrap_or(0);
    let (ranking, ranked) = rank(&risk, rank_k);

    let layer = layer_risk(&points, &pois, radii, mask, req.alpha, phi);
    Ok(PoiRisk {
        request: req.clone(),
        pois,
        risk,
        ranking,
        ranked,
        dispersion: phi,
        distinct_locations,
        priors,
        layer,
        incidents: points.len(),
        study_area_km2: study_m2 / 1e6,
        counted: points.counted(&req.selection),
    })
}

/// The whole-layer comparison (see the module docs).
fn layer_risk(
    points: &super::select::Points,
    pois: &[Poi],
    radii: &[f64],
    mask: &StudyMask,
    alpha: f64,
    phi: f64,
) -> Vec<LayerRisk> {
    let max_r = radii[radii.len() - 1];
    let centres: Vec<[f64; 2]> = pois
        .iter()
        .filter(|p| p.easting_m.is_finite() && p.northing_m.is_finite())
        .map(|p| [p.easting_m, p.northing_m])
        .collect();
    // Each incident's squared distance to its nearest POI, if within max_r.
    let poi_buckets = PointBuckets::new(
        &centres.iter().map(|c| c[0]).collect::<Vec<_>>(),
        &centres.iter().map(|c| c[1]).collect::<Vec<_>>(),
        max_r,
    );
    let nearest2: Vec<f64> = (0..points.len())
        .into_par_iter()
        .map(|i| {
            let mut best = f64::INFINITY;
            poi_buckets.for_each_within(points.easting_m[i], points.northing_m[i], max_r, |_, d2| {
                best = best.min(d2)
            });
            best
        })
        .collect();
    let study_m2 = mask.area_m2();
    let z = statrs::distribution::Normal::standard().inverse_cdf(1.0 - alpha / 2.0);
    let mut types: Vec<(String, Option<u16>)> = vec![("all".to_string(), None)];
    if points.types.len() > 1 {
        types.extend(
            points
                .types
                .iter()
                .enumerate()
                .map(|(i, t)| (t.clone(), Some(i as u16))),
        );
    }
    let mut out = Vec::new();
    for &r in radii {
        let a_in = mask.union_of_circles_m2(&centres, r);
        let a_out = study_m2 - a_in;
        for (name, t) in &types {
            let (mut n_in, mut n_all) = (0u64, 0u64);
            for (ct, d2) in points.crime_type.iter().zip(&nearest2) {
                if t.is_some_and(|t| *ct != t) {
                    continue;
                }
                n_all += 1;
                n_in += (*d2 <= r * r) as u64;
            }
            let n_out = n_all - n_in;
            let (d_in, d_out) = (n_in as f64 / (a_in / 1e6), n_out as f64 / (a_out / 1e6));
            let rr = d_in / d_out;
            // Counts in bundles: the log-RR variance is φ times Poisson's.
            let se = (phi * (1.0 / n_in as f64 + 1.0 / n_out as f64)).sqrt();
            let per_km2_london = n_all as f64 / (study_m2 / 1e6);
            out.push(LayerRisk {
                crime_type: name.clone(),
                radius_m: r,
                incidents_within: n_in,
                incidents_elsewhere: n_out,
                area_within_km2: a_in / 1e6,
                area_elsewhere_km2: a_out / 1e6,
                per_km2_within: d_in,
                per_km2_elsewhere: d_out,
                per_km2_london,
                rr_vs_elsewhere: rr,
                rr_low: (rr.ln() - z * se).exp(),
                rr_high: (rr.ln() + z * se).exp(),
                ratio_to_london: d_in / per_km2_london,
            });
        }
    }
    out
}

fn num(v: f64) -> Value {
    if v.is_finite() {
        Value::from((v * 1e6).round() / 1e6)
    } else {
        Value::Null
    }
}

impl PoiRisk {
    /// The top `top` POIs and the whole-layer ratios, for the terminal.
    pub fn summary(&self, top: usize) -> String {
        use std::fmt::Write;
        let req = &self.request;
        let k = req.radii_m.iter().position(|r| *r == req.rank_radius_m).unwrap_or(0);
        let mut s = String::new();
        let level = 100.0 * (1.0 - req.alpha);
        let _ = writeln!(
            s,
            "{} POIs, {} incidents, study area {:.1} km², dispersion {:.2} ({} distinct locations); top {} by the lower {level:.0}% bound of the empirical-Bayes relative risk within {} m:",
            self.pois.len(),
            self.incidents,
            self.study_area_km2,
            self.dispersion,
            self.distinct_locations,
            top.min(self.ranked),
            req.rank_radius_m
        );
        for (rank, &i) in self.ranking.iter().take(top.min(self.ranked)).enumerate() {
            let (p, r) = (&self.pois[i], &self.risk[i][k]);
            let _ = writeln!(
                s,
                "{:>3}. {:<8} {:<40} {:>6} incidents, expected {:>7.1}, RR {:>5.2} [{:.2}, {:.2}], EB RR {:>5.2} [{:.2}, {:.2}], q {:.2e}",
                rank + 1,
                p.kind,
                p.name.chars().take(40).collect::<String>(),
                r.count,
                r.expected_london,
                r.rr_london,
                r.rr_low,
                r.rr_high,
                r.rr_eb,
                r.rr_eb_low,
                r.rr_eb_high,
                r.q_london
            );
        }
        for l in self.layer.iter().filter(|l| l.crime_type == "all") {
            let _ = writeln!(
                s,
                "within {:>4} m of a POI: {:.0} per km² vs {:.0} elsewhere: {:.2}x [{:.2}, {:.2}] ({:.2}x the London rate)",
                l.radius_m, l.per_km2_within, l.per_km2_elsewhere, l.rr_vs_elsewhere, l.rr_low, l.rr_high, l.ratio_to_london
            );
        }
        s.trim_end().to_string()
    }

    /// Parameters and the whole-layer answer.
    pub fn metadata(&self) -> Value {
        json!({
            "method": "observed/expected incidents within each radius under a uniform background (London and borough rates); one-sided p, Garwood exact interval, Benjamini-Hochberg q across POIs, all on counts divided by the dispersion (scaled Poisson)",
            "selection": self.request.selection,
            "pois": self.request.pois,
            "radii_m": self.request.radii_m,
            "rank_radius_m": self.request.rank_radius_m,
            "ranked_by": "lower alpha/2 quantile of the empirical-Bayes (Poisson-gamma, Clayton & Kaldor 1987; Marshall 1991 moments) relative risk at rank_radius_m (rr_eb_low); the prior is fitted on, and only ranked are, POIs whose circle is at least half inside London (inside_share >= 0.5)",
            "ranked": self.ranked,
            "dispersion": num(self.dispersion),
            "dispersion_rule": "sum of m^2 / sum of m over the selection's distinct locations (m incidents each): police.uk's shared map points make counts compound Poisson; p-values and intervals use O/dispersion events against E/dispersion",
            "distinct_locations": self.distinct_locations,
            "eb_priors": self.request.radii_m.iter().zip(&self.priors).map(|(r, p)| json!({"radius_m": r, "shape": num(p.shape), "rate": num(p.rate), "mean": num(p.mean())})).collect::<Vec<_>>(),
            "alpha": self.request.alpha,
            "harm_table": self.request.harm.as_ref().map(|h| h.source.clone()),
            "incidents": self.incidents,
            "counted": self.counted,
            "study_area_km2": num(self.study_area_km2),
            "study_area_raster_m": self.request.mask_cell_m,
            "layer": self.layer,
        })
    }

    fn properties(&self, i: usize) -> Map<String, Value> {
        let p = &self.pois[i];
        let mut m = Map::new();
        m.insert("poi_id".into(), Value::from(p.id.clone()));
        m.insert("kind".into(), Value::from(p.kind.clone()));
        m.insert("name".into(), Value::from(p.name.clone()));
        m.insert("ward_code".into(), Value::from(p.ward_code.clone()));
        m.insert("borough_code".into(), Value::from(p.borough_code.clone()));
        m.insert("easting_m".into(), num(p.easting_m));
        m.insert("northing_m".into(), num(p.northing_m));
        let rank = self
            .ranking
            .iter()
            .position(|&r| r == i)
            .filter(|r| *r < self.ranked)
            .map(|r| r + 1);
        m.insert("rank".into(), Value::from(rank));
        for (k, r) in self.request.radii_m.iter().enumerate() {
            let x = &self.risk[i][k];
            let s = format!("_r{}", r.round() as i64);
            m.insert(format!("count{s}"), Value::from(x.count));
            m.insert(format!("area_km2{s}"), num(x.area_km2));
            m.insert(format!("inside_share{s}"), num(x.inside_share));
            m.insert(format!("per_km2{s}"), num(x.count as f64 / x.area_km2));
            m.insert(format!("expected_london{s}"), num(x.expected_london));
            m.insert(format!("rr_london{s}"), num(x.rr_london));
            m.insert(format!("rr_low{s}"), num(x.rr_low));
            m.insert(format!("rr_high{s}"), num(x.rr_high));
            m.insert(format!("rr_eb{s}"), num(x.rr_eb));
            m.insert(format!("rr_eb_low{s}"), num(x.rr_eb_low));
            m.insert(format!("rr_eb_high{s}"), num(x.rr_eb_high));
            m.insert(format!("p_london{s}"), num(x.p_london));
            m.insert(format!("q_london{s}"), num(x.q_london));
            m.insert(
                format!("significant{s}"),
                Value::from(x.q_london <= self.request.alpha && x.rr_london > 1.0),
            );
            m.insert(format!("expected_borough{s}"), num(x.expected_borough));
            m.insert(format!("rr_borough{s}"), num(x.rr_borough));
            m.insert(format!("p_borough{s}"), num(x.p_borough));
            if self.request.harm.is_some() {
                m.insert(format!("harm_days{s}"), num(x.harm_days));
                m.insert(format!("harm_rr_london{s}"), num(x.harm_rr_london));
            }
        }
        m
    }

    /// POIs as points, ranked (most above expectation first).
    pub fn to_layer(&self) -> Layer {
        let features = self
            .ranking
            .iter()
            .map(|&i| {
                let p = &self.pois[i];
                Feature {
                    id: format!("{}-{}", p.kind, p.id),
                    geometry: geo::Geometry::Point(geo::Point::new(p.lon, p.lat)),
                    properties: self.properties(i),
                }
            })
            .collect();
        Layer {
            name: "poi_risk".into(),
            features,
            metadata: self.metadata(),
        }
    }

    /// One buffer polygon per POI and radius, largest radius first so that
    /// smaller circles draw on top.
    pub fn to_buffer_layer(&self) -> Layer {
        let mut features = Vec::new();
        for (k, r) in self.request.radii_m.iter().enumerate().rev() {
            for &i in &self.ranking {
                let p = &self.pois[i];
                let mut props = self.properties(i);
                props.insert("radius_m".into(), num(*r));
                props.insert("rr_london".into(), num(self.risk[i][k].rr_london));
                features.push(Feature {
                    id: format!("{}-{}-r{}", p.kind, p.id, r.round() as i64),
                    geometry: geo::Geometry::Polygon(circle_wgs84([p.easting_m, p.northing_m], *r, 48)),
                    properties: props,
                });
            }
        }
        Layer {
            name: "poi_risk_buffers".into(),
            features,
            metadata: self.metadata(),
        }
    }

    /// The whole-layer comparison as CSV.
    pub fn layer_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        for row in &self.layer {
            let _ = w.serialize(row);
        }
        String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_upper_tail_matches_direct_sum() {
        // P(X >= 3 | 1.5) = 1 - e^-1.5 (1 + 1.5 + 1.125)
        let direct = 1.0 - (-1.5f64).exp() * (1.0 + 1.5 + 1.125);
        assert!((poisson_upper_p(3, 1.5) - direct).abs() < 1e-12);
        assert_eq!(poisson_upper_p(0, 2.0), 1.0);
        // P(X >= 1 | e) = 1 - e^-e
        assert!((poisson_upper_p(1, 0.2) - (1.0 - (-0.2f64).exp())).abs() < 1e-12);
    }

    #[test]
    fn garwood_interval_matches_published_table() {
        // Exact 95% limits for a Poisson count (e.g. Ulm 1990 / standard tables):
        // o = 0: (0, 3.689); o = 1: (0.0253, 5.572); o = 10: (4.795, 18.39).
        let (l0, h0) = poisson_mean_interval(0, 0.05);
        assert_eq!(l0, 0.0);
        assert!((h0 - 3.6889).abs() < 1e-3, "{h0}");
        let (l1, h1) = poisson_mean_interval(1, 0.05);
        assert!((l1 - 0.0253).abs() < 1e-4 && (h1 - 5.5716).abs() < 1e-3, "{l1} {h1}");
        let (l10, h10) = poisson_mean_interval(10, 0.05);
        assert!(
            (l10 - 4.7954).abs() < 1e-3 && (h10 - 18.3904).abs() < 1e-3,
            "{l10} {h10}"
        );
    }

    /// Marshall's moments by hand: O = (2, 8), E = (4, 4): m = 10/8 = 1.25,
    /// r = (0.5, 2), s² = (4 · 0.75² + 4 · 0.75²)/8 = 0.5625, Ē = 4,
    /// A = 0.5625 − 1.25/4 = 0.25: shape m²/A = 6.25, rate m/A = 5.
    /// Posterior for O = 8, E = 4: Gamma(14.25, 9), mean 1.5833.
    #[test]
    fn gamma_prior_by_hand() {
        let p = GammaPrior::fit(&[2.0, 8.0], &[4.0, 4.0]);
        assert!((p.shape - 6.25).abs() < 1e-12 && (p.rate - 5.0).abs() < 1e-12, "{p:?}");
        let (mean, low, high) = p.posterior(8.0, 4.0, 0.05);
        assert!((mean - 14.25 / 9.0).abs() < 1e-12);
        // Gamma(14.25, 9) quantiles, as chi-square(28.5) / 18.
        let chi = ChiSquared::new(28.5).unwrap();
        assert!((low - chi.inverse_cdf(0.025) / 18.0).abs() < 1e-6, "{low}");
        assert!((high - chi.inverse_cdf(0.975) / 18.0).abs() < 1e-6, "{high}");
        // No heterogeneity beyond Poisson noise: everything shrinks to m.
        let flat = GammaPrior::fit(&[5.0, 5.0, 4.0, 6.0], &[5.0; 4]);
        assert!((flat.mean() - 1.0).abs() < 1e-12 && flat.shape > 1e5, "{flat:?}");
    }

    /// A POI at a radius where a whole circle expects 5.
    fn risk_of(o: u32, e: f64, prior: &GammaPrior) -> RadiusRisk {
        let (lo, _) = poisson_mean_interval(o as u64, 0.05);
        let (rr_eb, rr_eb_low, rr_eb_high) = prior.posterior(o as f64, e, 0.05);
        RadiusRisk {
            count: o,
            expected_london: e,
            inside_share: e / 5.0,
            rr_london: o as f64 / e,
            rr_low: lo / e,
            rr_eb,
            rr_eb_low,
            rr_eb_high,
            ..RadiusRisk::default()
        }
    }

    /// The case: three incidents where 0.1 were expected (a circle
    /// almost wholly outside London) against forty where five were. The old
    /// key, the exact interval's lower bound, put the first on top (6.19
    /// against 5.72). Now the near-empty circle is not ranked (2 % of it is
    /// inside London), and even its empirical-Bayes bound, which stays near
    /// the prior however small E gets, is below forty-over-five's.
    #[test]
    fn a_near_empty_circle_does_not_outrank_forty_over_five() {
        // 300 ordinary POIs with E = 5 and relative risks from 0.4 to 3.
        let mut o: Vec<u32> = (0..300).map(|i| 2 + (i % 14)).collect();
        let mut e: Vec<f64> = vec![5.0; 300];
        o.extend([3, 40, 3, 12]);
        e.extend([0.1, 5.0, 1e-9, 2.5]);
        let (tiny, forty, empty, half) = (300, 301, 302, 303);
        // The prior from the circles at least half inside, as poi_risk fits it.
        let fit: Vec<usize> = (0..o.len()).filter(|&i| e[i] / 5.0 >= MIN_INSIDE_SHARE).collect();
        let prior = GammaPrior::fit(
            &fit.iter().map(|&i| o[i] as f64).collect::<Vec<_>>(),
            &fit.iter().map(|&i| e[i]).collect::<Vec<_>>(),
        );
        let risk: Vec<Vec<RadiusRisk>> = o.iter().zip(&e).map(|(o, e)| vec![risk_of(*o, *e, &prior)]).collect();
        assert!((risk[tiny][0].rr_low - 6.19).abs() < 0.01, "{}", risk[tiny][0].rr_low);
        assert!((risk[forty][0].rr_low - 5.72).abs() < 0.01, "{}", risk[forty][0].rr_low);
        assert!(risk[tiny][0].rr_low > risk[forty][0].rr_low, "the old key's order");
        // The key: forty over five is ahead of both near-empty circles.
        for i in [tiny, empty] {
            assert!(risk[i][0].rr_eb_low < risk[forty][0].rr_eb_low, "{:?}", risk[i][0]);
        }
        let (order, ranked) = rank(&risk, 0);
        assert_eq!(ranked, 302, "all but the two near-empty circles");
        assert_eq!(order[0], forty, "{:?}", &risk[order[0]][0]);
        assert!(order[..ranked].contains(&half), "half inside is ranked");
        assert!(order[ranked..].contains(&tiny) && order[ranked..].contains(&empty));
        // The raw figures are kept.
        assert!(risk[tiny][0].rr_london == 30.0 && risk[empty][0].rr_london > 1e9);
    }

    /// The prior itself: a sliver with a few incidents would dominate
    /// Marshall's moments (E_i (O_i/E_i − m)² grows as 1/E_i), which is why
    /// it is fitted on the circles at least half inside.
    #[test]
    fn slivers_would_swamp_the_moments() {
        let mut o: Vec<f64> = (0..300).map(|i| (2 + (i % 14)) as f64).collect();
        let mut e = vec![5.0; 300];
        let good = GammaPrior::fit(&o, &e);
        o.push(3.0);
        e.push(1e-9);
        let swamped = GammaPrior::fit(&o, &e);
        assert!(good.shape > 1.0 && swamped.shape < 1e-6, "{good:?} {swamped:?}");
    }

    /// Incidents at shared points: 3 at one, 1 at another: φ = (9 + 1)/4.
    /// Scaled by φ the interval for the same ratio widens and p grows; with
    /// φ = 1 both are the exact Poisson figures.
    #[test]
    fn dispersion_of_bundled_points_widens_the_interval() {
        let (phi, distinct) = snap_dispersion(&[1.0, 1.0, 1.0, 5.0], &[2.0, 2.0, 2.0, 7.0]);
        assert_eq!((phi, distinct), (2.5, 2));
        assert_eq!(snap_dispersion(&[1.0, 2.0], &[1.0, 1.0]).0, 1.0);
        let (o, e) = (40.0, 20.0);
        let (lo1, hi1) = poisson_mean_interval_scaled(o, 0.05);
        assert_eq!((lo1, hi1), poisson_mean_interval(40, 0.05));
        assert_eq!(poisson_upper_p_scaled(o, e), poisson_upper_p(40, e));
        let (lo, hi) = poisson_mean_interval_scaled(o / 4.0, 0.05);
        let (lo, hi) = (lo * 4.0 / e, hi * 4.0 / e);
        assert!(
            lo < lo1 / e && hi > hi1 / e,
            "[{lo}, {hi}] vs [{}, {}]",
            lo1 / e,
            hi1 / e
        );
        // About √4 = 2 times wider on the log scale.
        let ratio = (hi / lo).ln() / ((hi1 / lo1).ln());
        assert!((1.8..2.3).contains(&ratio), "{ratio}");
        assert!(poisson_upper_p_scaled(o / 4.0, e / 4.0) > 10.0 * poisson_upper_p(40, e));
    }
}
