//! Kernel density estimation with the quartic (biweight) kernel over a
//! raster of square cells in BNG metres, as density per km²:
//!
//! ```text
//! K(d) = 3 / (π h²) · (1 − d²/h²)²   for d < h, else 0      (∫ K = 1)
//! density(c) = Σ_incidents K(|c − x_k|) · 10⁶                 (per km²)
//! ```
//!
//! Default bandwidth (stated with the result): the spatial variant of
//! Silverman's rule that ArcGIS's Kernel Density uses,
//! `h = 0.9 · min(SD, √(1/ln 2) · Dm) · n^(−0.2)`, with SD the standard
//! distance and Dm the median distance to the mean centre.

use geo::Geometry;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::cost::{self, Cost, Lever, Measure};
use super::grid::{Grid, GridKind};
use super::layer::{Feature, Layer};
use super::params::{Param, ParamType, PropType, Property, Spec, Values, SELECTION};
use super::run::{Analysis, Computed, Ctx};
use super::scale::Choice;
use super::select::Selection;
use super::AnalysisError;
use crate::dataset::Dataset;

const KDE_PROPERTIES: &[Property] = &[
    Property::new("cell_id", PropType::Text, "the raster cell's id"),
    Property::new("density_per_km2", PropType::Number, "kernel density, incidents per km²"),
    Property::new(
        "baseline_density_per_km2",
        PropType::Number,
        "the baseline's density (dual KDE)",
    ),
    Property::new("relative_risk", PropType::Number, "(f/N)/(g/M), dual KDE"),
];

/// `kde`: kernel density, or dual KDE's relative risk with a baseline.
pub const KDE: Analysis = Analysis {
    spec: Spec {
        id: "kde",
        title: "Kernel density",
        about: "Quartic kernel density, incidents per km², on square cells; dual KDE (relative risk per cell) with baseline_crime_type.",
        groups: &[
            SELECTION,
            &[
                Param::metres("cell", "raster cell size").default("50"),
                Param::new(
                    "auto_max_cells",
                    ParamType::Integer,
                    "when cell is not given: the most raster cells; the 50 m default is raised in 10 m steps to keep within it (the metadata says so)",
                )
                .default("100000")
                .at_least(3.0)
                .http_only(),
                Param::metres("bandwidth", "bandwidth (search radius)")
                    .default_rule("0.9 · min(SD, √(1/ln 2)·Dm) · n^(−0.2), the spatial Silverman rule ArcGIS uses"),
                Param::new(
                    "baseline_crime_type",
                    ParamType::Text,
                    "dual KDE: crime types of the baseline (\"all\" for every crime type but anti-social behaviour, as with no crime_type); adds relative risk per cell",
                )
                .list(),
            ],
        ],
        cli: true,
        http: true,
        properties: &[KDE_PROPERTIES],
    },
    run: run_kde,
    cost: cost_kde,
    offline: None,
};

/// The cost of a KDE surface: its pixels, and each distinct incident
/// place's kernel stamped on the pixels within the bandwidth (police.uk
/// snaps London's incidents to ~100k places: at most 150,000 are assumed;
/// a bandwidth chosen from the data is assumed to be at most 1 km).
fn cost_kde(ds: &Dataset, v: &Values) -> Result<Cost, AnalysisError> {
    let req = KdeRequest::from_values(v)?;
    let area = cost::study_area_m2(ds);
    let (c, _) = interactive_cell(ds, v, req.cell_m)?;
    let cells = cost::grid_cells(area, c, false);
    let cell_lever = Some(Lever::Inverse {
        param: "cell",
        value: c,
        power: 2.0,
    });
    let h = req.bandwidth_m.unwrap_or(1000.0);
    let places = cost::incidents(ds).min(150_000.0);
    let stamp = std::f64::consts::PI * (h / c + 1.0).powi(2);
    let layers = if req.baseline.is_some() { 2.0 } else { 1.0 };
    Ok(Cost {
        cells: Measure::new(cells, cell_lever),
        // One raster buffer per worker thread.
        pairs: Measure::new(cells * rayon::current_num_threads() as f64, cell_lever),
        work: Measure::new(layers * places * stamp, cell_lever),
    })
}

impl KdeRequest {
    /// The request from checked parameter values.
    pub fn from_values(v: &Values) -> Result<KdeRequest, AnalysisError> {
        let selection = v.selection()?;
        let baseline_types = v.list("baseline_crime_type");
        let baseline = (!baseline_types.is_empty()).then(|| Selection {
            crime_types: baseline_types.into_iter().filter(|t| t != "all").collect(),
            ..selection.clone()
        });
        if let Some(b) = &baseline {
            b.types().map_err(|_| AnalysisError::Param {
                name: "baseline_crime_type".into(),
                message: "not police.uk crime types".into(),
            })?;
        }
        Ok(KdeRequest {
            selection,
            cell_m: v.number("cell")?,
            bandwidth_m: v.f64("bandwidth")?,
            baseline,
        })
    }
}

/// The raster cell: `cell` as given (or its 50 m default), raised in 10 m
/// steps when it was not given and `auto_max_cells` (HTTP) bounds the
/// raster over the study area, with the rule that raised it.
fn interactive_cell(ds: &Dataset, v: &Values, cell_m: f64) -> Result<(f64, Option<String>), AnalysisError> {
    let Some(max) = v.u64("auto_max_cells")?.filter(|_| !v.given("cell")) else {
        return Ok((cell_m, None));
    };
    let floor = cost::cell_for(cost::study_area_m2(ds), max as f64, false);
    let raised = (floor / 10.0).ceil() * 10.0;
    Ok(if raised > cell_m {
        (
            raised,
            Some(format!(
                "{raised} m: the finest 10 m step at or above {cell_m} m that keeps the raster within {max} cells (auto_max_cells; no cell was given)"
            )),
        )
    } else {
        (cell_m, None)
    })
}

fn run_kde(c: &Ctx<'_>, v: &Values) -> Result<Computed, AnalysisError> {
    let mut req = KdeRequest::from_values(v)?;
    let (cell_m, cell_rule) = interactive_cell(c.dataset, v, req.cell_m)?;
    req.cell_m = cell_m;
    let result = kde(c.dataset, &req)?;
    let summary = format!(
        "{} cells of {} m, bandwidth {:.0} m ({})",
        result.grid.cells.len(),
        req.cell_m,
        result.bandwidth.value,
        result.bandwidth.rule
    );
    let mut layer = result.to_layer();
    if let (Some(rule), Some(m)) = (cell_rule, layer.metadata.as_object_mut()) {
        m.insert("cell_rule".into(), rule.into());
    }
    Ok(Computed::layer(layer, summary))
}

/// What to compute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KdeRequest {
    pub selection: Selection,
    /// Raster cell size in metres.
    pub cell_m: f64,
    /// Bandwidth (search radius) in metres; `None` = the default rule.
    pub bandwidth_m: Option<f64>,
    /// Dual KDE: a baseline selection (e.g. all crime) smoothed with the
    /// same bandwidth; each cell then gets the relative risk
    /// `(f(c) / N) / (g(c) / M)` of the selection's share to the baseline's.
    #[serde(default)]
    pub baseline: Option<Selection>,
}

impl Default for KdeRequest {
    fn default() -> Self {
        KdeRequest {
            baseline: None,
            selection: Selection::default(),
            cell_m: 50.0,
            bandwidth_m: None,
        }
    }
}

/// The density surface.
#[derive(Debug, Clone)]
pub struct Kde {
    pub request: KdeRequest,
    pub grid: Grid,
    pub bandwidth: Choice,
    /// Incidents per km², per grid cell.
    pub density: Vec<f64>,
    pub incidents: usize,
    /// Dual KDE: the baseline's density per km² and its incident count.
    pub baseline: Option<(Vec<f64>, usize)>,
    /// The kind and crime types counted, and the baseline's.
    pub counted: super::select::Counted,
    pub baseline_counted: Option<super::select::Counted>,
}

impl Kde {
    /// Relative risk per cell (NaN where the baseline density is 0).
    pub fn relative_risk(&self) -> Option<Vec<f64>> {
        let (b, m) = self.baseline.as_ref()?;
        let n = self.incidents as f64;
        Some(
            self.density
                .iter()
                .zip(b)
                .map(|(f, g)| if *g > 0.0 { (f / n) / (g / *m as f64) } else { f64::NAN })
                .collect(),
        )
    }
}

/// The default bandwidth for points in BNG metres.
pub fn default_bandwidth(points: &[[f64; 2]]) -> Choice {
    let n = points.len() as f64;
    let (mx, my) = (
        points.iter().map(|p| p[0]).sum::<f64>() / n,
        points.iter().map(|p| p[1]).sum::<f64>() / n,
    );
    let mut d: Vec<f64> = points
        .iter()
        .map(|p| ((p[0] - mx).powi(2) + (p[1] - my).powi(2)).sqrt())
        .collect();
    let sd = (d.iter().map(|v| v * v).sum::<f64>() / n).sqrt();
    d.sort_by(f64::total_cmp);
    let dm = d[d.len() / 2];
    let h = 0.9 * sd.min((1.0 / std::f64::consts::LN_2).sqrt() * dm) * n.powf(-0.2);
    Choice {
        value: h,
        rule: format!("0.9 min(SD {sd:.0} m, sqrt(1/ln 2) Dm {dm:.0} m) n^-0.2 with n = {n}"),
    }
}

/// Computes the surface.
pub fn kde(ds: &Dataset, req: &KdeRequest) -> Result<Kde, AnalysisError> {
    super::positive_metres("cell", req.cell_m)?;
    if let Some(b) = req.bandwidth_m {
        super::positive_metres("bandwidth", b)?;
    }
    let pts = req.selection.apply(ds)?;
    if pts.is_empty() {
        return Err(AnalysisError::Empty(req.selection.to_string()));
    }
    let xy: Vec<[f64; 2]> = pts
        .easting_m
        .iter()
        .zip(&pts.northing_m)
        .map(|(e, n)| [*e, *n])
        .collect();
    let bandwidth = match req.bandwidth_m {
        Some(b) => Choice::given(b),
        None => default_bandwidth(&xy),
    };
    let grid = Grid::new(GridKind::Square, req.cell_m, ds.ward_index.polygons());
    let density = surface(&grid, &xy, bandwidth.value);
    let mut baseline_counted = None;
    let baseline = match &req.baseline {
        Some(sel) => {
            let b = sel.apply(ds)?;
            baseline_counted = Some(b.counted(sel));
            if b.is_empty() {
                return Err(AnalysisError::Param {
                    name: "baseline".into(),
                    message: "no incidents match the baseline selection".into(),
                });
            }
            let bxy: Vec<[f64; 2]> = b.easting_m.iter().zip(&b.northing_m).map(|(e, n)| [*e, *n]).collect();
            Some((surface(&grid, &bxy, bandwidth.value), bxy.len()))
        }
        None => None,
    };
    Ok(Kde {
        baseline,
        counted: pts.counted(&req.selection),
        baseline_counted,
        request: req.clone(),
        grid,
        bandwidth,
        density,
        incidents: xy.len(),
    })
}

/// Quartic density (per km²) at every cell centre of a square grid.
pub fn surface(grid: &Grid, points: &[[f64; 2]], h: f64) -> Vec<f64> {
    // Distinct locations with their multiplicity (police.uk snaps points).
    let mut weight: FxHashMap<(u64, u64), (f64, [f64; 2])> = FxHashMap::default();
    for p in points {
        weight.entry((p[0].to_bits(), p[1].to_bits())).or_insert((0.0, *p)).0 += 1.0;
    }
    let distinct: Vec<(f64, [f64; 2])> = weight.into_values().collect();
    // Dense raster over the grid's lattice, summed in per-thread buffers.
    let (c0, c1) = grid
        .cells
        .iter()
        .fold((i32::MAX, i32::MIN), |a, c| (a.0.min(c.col), a.1.max(c.col)));
    let (r0, r1) = grid
        .cells
        .iter()
        .fold((i32::MAX, i32::MIN), |a, c| (a.0.min(c.row), a.1.max(c.row)));
    if grid.cells.is_empty() {
        return Vec::new();
    }
    let (w, hgt) = ((c1 - c0 + 1) as usize, (r1 - r0 + 1) as usize);
    let cell = grid.cell_m;
    let reach = (h / cell).ceil() as i32;
    let norm = 3.0 / (std::f64::consts::PI * h * h) * 1e6;
    let raster = distinct
        .par_chunks(2048)
        .fold(
            || vec![0.0f64; w * hgt],
            |mut acc, chunk| {
                if super::cancel::requested() {
                    return acc;
                }
                for &(k, p) in chunk {
                    let pc = ((p[0] - grid.origin[0]) / cell).floor() as i32;
                    let pr = ((p[1] - grid.origin[1]) / cell).floor() as i32;
                    for r in (pr - reach).max(r0)..=(pr + reach).min(r1) {
                        let y = grid.origin[1] + (r as f64 + 0.5) * cell;
                        let dy2 = (y - p[1]).powi(2);
                        if dy2 >= h * h {
                            continue;
                        }
                        let row = (r - r0) as usize * w;
                        for c in (pc - reach).max(c0)..=(pc + reach).min(c1) {
                            let x = grid.origin[0] + (c as f64 + 0.5) * cell;
                            let u = ((x - p[0]).powi(2) + dy2) / (h * h);
                            if u < 1.0 {
                                acc[row + (c - c0) as usize] += k * (1.0 - u) * (1.0 - u);
                            }
                        }
                    }
                }
                acc
            },
        )
        .reduce(
            || vec![0.0f64; w * hgt],
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(b) {
                    *x += y;
                }
                a
            },
        );
    grid.cells
        .iter()
        .map(|c| raster[(c.row - r0) as usize * w + (c.col - c0) as usize] * norm)
        .collect()
}

impl Kde {
    /// Cells with density above zero, as polygons (WGS84).
    pub fn to_layer(&self) -> Layer {
        let rr = self.relative_risk();
        let features = (0..self.grid.cells.len())
            .filter(|&i| self.density[i] > 0.0)
            .map(|i| {
                let wgs = self.grid.polygon_wgs84(i);
                let mut props = Map::new();
                props.insert("cell_id".into(), Value::from(self.grid.id(i)));
                props.insert("density_per_km2".into(), Value::from(self.density[i]));
                if let (Some((b, _)), Some(rr)) = (&self.baseline, &rr) {
                    props.insert("baseline_density_per_km2".into(), Value::from(b[i]));
                    props.insert(
                        "relative_risk".into(),
                        if rr[i].is_finite() {
                            Value::from(rr[i])
                        } else {
                            Value::Null
                        },
                    );
                }
                Feature {
                    id: self.grid.id(i),
                    geometry: Geometry::Polygon(wgs),
                    properties: props,
                }
            })
            .collect();
        Layer {
            name: "kde".into(),
            features,
            metadata: json!({
                "statistic": "quartic kernel density, incidents per km2",
                "request": self.request,
                "cell_m": self.grid.cell_m,
                "bandwidth_m": self.bandwidth.value,
                "bandwidth_rule": self.bandwidth.rule,
                "incidents": self.incidents,
                "baseline_incidents": self.baseline.as_ref().map(|b| b.1),
                "counted": self.counted,
                "baseline_counted": self.baseline_counted,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn relative_risk_is_the_ratio_of_shares() {
        // f = (2, 4), N = 3; g = (1, 0), M = 10: RR = (2/3)/(1/10) = 6.667, NaN where g = 0.
        let kde = super::Kde {
            request: super::KdeRequest::default(),
            grid: super::Grid::new(super::GridKind::Square, 1.0, &[]),
            bandwidth: super::Choice::given(1.0),
            density: vec![2.0, 4.0],
            incidents: 3,
            baseline: Some((vec![1.0, 0.0], 10)),
            counted: Default::default(),
            baseline_counted: None,
        };
        let rr = kde.relative_risk().unwrap();
        assert!((rr[0] - 20.0 / 3.0).abs() < 1e-12 && rr[1].is_nan(), "{rr:?}");
    }

    use super::*;
    use geo::polygon;

    #[test]
    fn quartic_kernel_integrates_to_the_count() {
        // 40 incidents at one point in a 4 km square, h = 500 m, 10 m cells:
        // the surface integrates (density per km² x cell area in km²) to 40.
        let area = geo::MultiPolygon(vec![
            polygon![(x: 0.0, y: 0.0), (x: 4000.0, y: 0.0), (x: 4000.0, y: 4000.0), (x: 0.0, y: 4000.0), (x: 0.0, y: 0.0)],
        ]);
        let grid = Grid::new(GridKind::Square, 10.0, &[area]);
        let pts = vec![[2000.0, 2000.0]; 40];
        let d = surface(&grid, &pts, 500.0);
        let total: f64 = d.iter().sum::<f64>() * grid.cell_area_km2();
        assert!((total - 40.0).abs() < 0.05, "{total}");
        // At the centre: 40 · 3/(π · 0.25 km²) = 152.79 per km² at d ≈ 7 m (cell centre offset).
        let peak = d.iter().copied().fold(0.0, f64::max);
        let expected = 40.0 * 3.0 / (std::f64::consts::PI * 0.25) * (1.0f64 - 50.0 / 250_000.0).powi(2);
        assert!((peak - expected).abs() < 1e-9, "{peak} vs {expected}");
    }
}
