//! A Getis-Ord Gi* hotspot layer: incidents counted per grid cell, Gi* over
//! a distance band, p-values, Benjamini–Hochberg FDR and ArcGIS-style bins.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::cost::{self, Cost, Lever, Measure};
use super::fdr::{self, Correction};
use super::gi_star;
use super::grid::Grid;
use super::layer::{Columns, Feature, Layer, Values};
use super::params::{Param, ParamType, PropType, Property, Spec, Values as ParamValues, ALPHA, HARM, SELECTION};
use super::permutation;
use super::run::{Analysis, Computed, Ctx};
use super::scale::{self, Choice};
use super::select::Selection;
use super::units::{AreaUnits, UnitKind, Units};
use super::weights::{BandValue, Weights};
use super::AnalysisError;
use crate::dataset::Dataset;

/// Weights for Gi*.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum WeightKind {
    /// 1 within the band (the fixed distance band of ArcGIS's hot spot tools).
    #[default]
    Binary,
    /// 1/d within the band.
    InverseDistance,
    /// Polygons sharing a boundary point (ward and borough units).
    Queen,
    /// Polygons sharing a boundary edge (ward and borough units).
    Rook,
    /// H3 cells within `k` grid steps (H3 units).
    KRing,
}

crate::named_choices!(WeightKind {
    Binary => "binary",
    InverseDistance => "inverse_distance",
    Queen => "queen",
    Rook => "rook",
    KRing => "k_ring",
});

/// What to compute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HotspotRequest {
    pub selection: Selection,
    /// Units: square or hex cells, or wards or boroughs.
    pub grid: UnitKind,
    /// Cell size in metres; `None` chooses one from the data.
    pub cell_m: Option<f64>,
    /// Distance band in metres; `None` chooses one from the data.
    pub band_m: Option<f64>,
    pub weights: WeightKind,
    /// Weigh each incident by its harm (days) instead of 1.
    pub harm: Option<super::harm::HarmTable>,
    /// H3 resolution (0..=15), for H3 units.
    pub h3_resolution: u8,
    /// Ring size for k-ring weights.
    pub k: u32,
    /// Conditional permutations for pseudo p-values (0 = none).
    pub permutations: usize,
    pub seed: u64,
    /// Significance level for the `significant` flag.
    pub alpha: f64,
    /// Correction used for `significant` (bins are given both raw and FDR).
    pub correction: Correction,
    /// When the cell size is chosen from the data: the most cells it may
    /// make. A finer rule's size is raised to keep within it, and the
    /// metadata says so (the server keeps its default layers interactive
    /// this way; `None` on the CLI).
    #[serde(default)]
    pub auto_max_cells: Option<usize>,
    /// Per-cell counts computed elsewhere ([`super::cell_counts`]), used
    /// instead of counting the dataset's incidents (square grid, given cell).
    #[serde(default)]
    pub counts: Option<std::path::PathBuf>,
}

impl Default for HotspotRequest {
    fn default() -> Self {
        HotspotRequest {
            selection: Selection::default(),
            grid: UnitKind::Square,
            cell_m: None,
            band_m: None,
            weights: WeightKind::Binary,
            harm: None,
            h3_resolution: 9,
            k: 1,
            permutations: 0,
            seed: 1,
            alpha: 0.05,
            correction: Correction::Fdr,
            auto_max_cells: None,
            counts: None,
        }
    }
}

/// The result, cell by cell (same order as `grid.cells`).
#[derive(Debug, Clone)]
pub struct Hotspots {
    pub request: HotspotRequest,
    pub units: Units,
    pub cell_choice: Choice,
    pub band_choice: Choice,
    pub weights: Weights,
    /// The analysed value per unit: incident count, or total harm (days) with a harm table.
    pub count: Vec<f64>,
    /// Incident counts per unit (equal to `count` without harm weights).
    pub incidents_per_unit: Vec<f64>,
    pub z: Vec<f64>,
    pub p: Vec<f64>,
    /// BH-adjusted p (q-values).
    pub q: Vec<f64>,
    pub p_sim: Option<Vec<f64>>,
    pub bin: Vec<i8>,
    pub bin_fdr: Vec<i8>,
    pub significant: Vec<bool>,
    /// Incidents selected, and how many fell outside every kept cell.
    pub incidents: usize,
    pub outside_grid: usize,
    /// The kind and crime types counted.
    pub counted: super::select::Counted,
}

/// The Gi* parameters shared by its square-grid, hexagon and H3 layers.
pub(crate) const CELL: Param = Param::metres("cell", "cell size")
    .default_rule("chosen from the data (ArcGIS Optimized Hot Spot Analysis's rule), stated in the output's metadata");
pub(crate) const BAND: Param = Param::metres("band", "distance band")
    .default_rule("chosen from the data (the first Global Moran's I peak), stated in the output's metadata");
pub(crate) const CORRECTION: Param = Param::choice(
    "correction",
    Correction::NAMES,
    "fdr",
    "multiple-testing correction for `significant`",
);
pub(crate) const PERMUTATIONS: Param = Param::new(
    "permutations",
    ParamType::Integer,
    "conditional permutations for pseudo p-values (0: none)",
)
.default("0");
pub(crate) const SEED: Param = Param::new("seed", ParamType::Integer, "seed for the permutations").default("1");
pub(crate) const RESOLUTION: Param = Param::new(
    "resolution",
    ParamType::Integer,
    "H3 resolution (9: cells of about 0.1 km²)",
)
.default("9")
.at_most(15.0)
.cli("h3-resolution");
pub(crate) const K: Param = Param::new("k", ParamType::Integer, "ring size for k_ring weights")
    .default("1")
    .at_least(1.0);
pub(crate) const AUTO_MAX_CELLS: Param = Param::new(
    "auto_max_cells",
    ParamType::Integer,
    "when cell is not given: the most cells the size chosen from the data may make (a finer size is raised to keep within it, and the metadata says so)",
)
.default("40000")
.at_least(3.0)
.http_only();
pub(crate) const GRID: Param = Param::choice("grid", UnitKind::NAMES, "square", "units of analysis");
pub(crate) const WEIGHTS: Param = Param::choice(
    "weights",
    WeightKind::NAMES,
    "binary",
    "weights: a distance band (binary, inverse_distance), contiguity for wards and boroughs (queen, rook), rings for H3 (k_ring)",
);

/// The properties of a Gi* layer's cells (and units).
pub(crate) const UNIT_PROPERTIES: &[Property] = &[
    Property::new(
        "cell_id",
        PropType::Text,
        "the unit's id: grid cell, H3 cell, ward or borough code",
    ),
    Property::new("name", PropType::Text, "the ward's or borough's name"),
    Property::new("easting_m", PropType::Number, "centre, BNG easting (m)"),
    Property::new("northing_m", PropType::Number, "centre, BNG northing (m)"),
    Property::new(
        "count",
        PropType::Number,
        "incidents (or harm days with a harm table) in the unit",
    ),
    Property::new("per_km2", PropType::Number, "count per km²"),
    Property::new("neighbours", PropType::Integer, "neighbours in the weights"),
    Property::new("harm_*", PropType::Number, "harm figures with a harm table"),
];
/// Gi*'s own properties (besides the units' [`UNIT_PROPERTIES`]).
pub(crate) const GI_PROPERTIES: &[Property] = &[
    Property::new(
        "incidents",
        PropType::Number,
        "incidents in the unit (with a harm table)",
    ),
    Property::new("gi_z", PropType::Number, "Gi* z-score"),
    Property::new("gi_p", PropType::Number, "two-sided normal p-value"),
    Property::new("gi_q_fdr", PropType::Number, "Benjamini-Hochberg q-value"),
    Property::new("gi_p_sim", PropType::Number, "permutation pseudo p-value"),
    Property::new("gi_bin", PropType::Integer, "ArcGIS confidence bin -3..3 on the raw p"),
    Property::new("gi_bin_fdr", PropType::Integer, "ArcGIS confidence bin -3..3 under FDR"),
    Property::new(
        "significant",
        PropType::Boolean,
        "significant under the chosen correction",
    ),
];

/// `gistar`: Gi* on square cells, hexagons, H3 cells, wards or boroughs.
pub const GISTAR: Analysis = Analysis {
    spec: Spec {
        id: "gistar",
        title: "Gi* hotspots (square grid)",
        about: "Getis-Ord Gi* hotspots per cell (square cells, or hex, h3, ward, borough with grid), with Benjamini-Hochberg FDR and 90/95/99 % confidence bins (ArcGIS -3..3).",
        groups: &[
            SELECTION,
            &[GRID, CELL, AUTO_MAX_CELLS, BAND, WEIGHTS, RESOLUTION, K, ALPHA, CORRECTION, PERMUTATIONS, SEED],
            HARM,
            &[COUNTS],
        ],
        cli: true,
        http: true,
        properties: &[UNIT_PROPERTIES, GI_PROPERTIES],
    },
    run: run_gistar,
    cost: cost_hotspots,
    offline: None,
};

/// Per-cell counts from elsewhere (CLI only: a file).
pub const COUNTS: Param = Param::new(
    "counts",
    ParamType::Path,
    "per-cell counts computed elsewhere (e.g. DuckDB over a national table): Parquet with cell_id (sq{cell}-{floor(easting_m/cell)}-{floor(northing_m/cell)}) and count; square grid with --cell; the selection flags do not apply",
)
.cli_only();

/// `hex`: Gi* on hexagons (a collection of the server's).
pub const HEX: Analysis = Analysis {
    spec: Spec {
        id: "hex",
        title: "Gi* hotspots (hexagons)",
        about: "Getis-Ord Gi* on hexagonal cells whose centres are `cell` metres apart, with FDR.",
        groups: &[
            SELECTION,
            &[
                CELL,
                AUTO_MAX_CELLS,
                BAND,
                Param::choice(
                    "weights",
                    &["binary", "inverse_distance"],
                    "binary",
                    "weights within the band",
                ),
                ALPHA,
                CORRECTION,
            ],
            HARM,
        ],
        cli: false,
        http: true,
        properties: &[UNIT_PROPERTIES, GI_PROPERTIES],
    },
    run: run_gistar,
    cost: cost_hotspots,
    offline: None,
};

/// `h3`: Gi* on H3 cells (a collection of the server's).
pub const H3: Analysis = Analysis {
    spec: Spec {
        id: "h3",
        title: "Gi* hotspots (H3 cells)",
        about: "Getis-Ord Gi* on Uber H3 cells, with FDR.",
        groups: &[
            SELECTION,
            &[
                RESOLUTION,
                BAND,
                Param::choice(
                    "weights",
                    &["binary", "inverse_distance", "k_ring"],
                    "binary",
                    "weights: a distance band, or H3 rings",
                ),
                K,
                ALPHA,
                CORRECTION,
            ],
            HARM,
        ],
        cli: false,
        http: true,
        properties: &[UNIT_PROPERTIES, GI_PROPERTIES],
    },
    run: run_gistar,
    cost: cost_hotspots,
    offline: None,
};

impl HotspotRequest {
    /// The request from checked parameter values. The units are `grid`
    /// when the spec has that parameter, else the spec's own (`hex`, `h3`).
    pub fn from_values(v: &ParamValues) -> Result<HotspotRequest, AnalysisError> {
        let grid = match v.spec().id {
            "hex" => UnitKind::Hex,
            "h3" => UnitKind::H3,
            _ => v.choice("grid")?.unwrap_or(UnitKind::Square),
        };
        let opt = |name: &str| v.spec().param(name).is_some();
        let d = HotspotRequest::default();
        Ok(HotspotRequest {
            selection: v.selection()?,
            grid,
            cell_m: if opt("cell") { v.f64("cell")? } else { None },
            band_m: v.f64("band")?,
            weights: v.choice("weights")?.unwrap_or(d.weights),
            harm: v.harm()?,
            h3_resolution: if opt("resolution") {
                v.count("resolution")? as u8
            } else {
                d.h3_resolution
            },
            k: if opt("k") {
                v.count("k")?.min(u32::MAX as usize) as u32
            } else {
                d.k
            },
            permutations: if opt("permutations") {
                v.count("permutations")?
            } else {
                d.permutations
            },
            seed: if opt("seed") {
                v.u64("seed")?.unwrap_or(d.seed)
            } else {
                d.seed
            },
            alpha: v.number("alpha")?,
            correction: v.choice("correction")?.unwrap_or(d.correction),
            counts: if opt("counts") { v.given_path("counts") } else { None },
            auto_max_cells: if opt("auto_max_cells") {
                v.u64("auto_max_cells")?.map(|m| m as usize)
            } else {
                None
            },
        })
    }
}

/// The cost of a Gi* (or LISA) layer: its units, their neighbour pairs,
/// and the pairs visited once per permutation (a data-chosen band tries
/// ten distances).
pub fn cost_hotspots(ds: &Dataset, v: &ParamValues) -> Result<Cost, AnalysisError> {
    let req = HotspotRequest::from_values(v)?;
    let area = cost::study_area_m2(ds).max(1.0);
    let (cells, cell_lever) = match req.grid {
        UnitKind::Square | UnitKind::Hex => {
            let hex = req.grid == UnitKind::Hex;
            match req.cell_m {
                Some(c) => (
                    cost::grid_cells(area, c, hex),
                    Some(Lever::Inverse {
                        param: "cell",
                        value: c,
                        power: 2.0,
                    }),
                ),
                // The data's rule (2 × the mean nearest-neighbour distance of
                // distinct places) rarely goes below ~50 m on police.uk points.
                None => {
                    let rule = cost::grid_cells(area, 50.0, hex);
                    (req.auto_max_cells.map_or(rule, |m| rule.min(m as f64)), None)
                }
            }
        }
        UnitKind::H3 => (area / cost::h3_cell_area_m2(req.h3_resolution), None),
        UnitKind::Ward => (ds.wards.height() as f64, None),
        UnitKind::Borough => (ds.boroughs.height() as f64, None),
    };
    let cell_area = area / cells.max(1.0);
    let (neighbours, band_lever, band_tries) = match req.weights {
        WeightKind::Queen | WeightKind::Rook => (7.0, None, 1.0),
        WeightKind::KRing => (3.0 * (req.k as f64) * (req.k as f64 + 1.0) + 1.0, None, 1.0),
        WeightKind::Binary | WeightKind::InverseDistance => match req.band_m {
            Some(b) => (
                cost::band_neighbours(b, cell_area),
                Some(Lever::Power {
                    param: "band",
                    value: b,
                    power: 2.0,
                }),
                1.0,
            ),
            // The data-chosen band keeps to at most 30 neighbours, trying ten distances.
            None => (31.0, None, 10.0),
        },
    };
    let pairs = cells * neighbours;
    // Past a few hundred neighbours the band is what to change; else the cell.
    let band_lever = match (band_lever, req.cell_m) {
        (Some(_), Some(c)) => cost::neighbourhood_lever(c, req.band_m.unwrap_or(0.0), neighbours),
        (b, _) => b,
    };
    let permutations = match v.spec().id {
        "lisa" if req.permutations == 0 => 999.0,
        _ => req.permutations as f64,
    };
    let base = pairs * band_tries;
    let work = base + pairs * permutations;
    Ok(Cost {
        cells: Measure::new(cells, cell_lever),
        pairs: Measure::new(pairs, band_lever.or(cell_lever)),
        work: Measure::new(
            work,
            if permutations > 0.0 {
                Some(Lever::Linear {
                    param: "permutations",
                    value: permutations,
                    base,
                    per: pairs,
                })
            } else {
                band_lever.or(cell_lever)
            },
        ),
    })
}

fn run_gistar(c: &Ctx<'_>, v: &ParamValues) -> Result<Computed, AnalysisError> {
    let result = gi_star(c.dataset, &HotspotRequest::from_values(v)?)?;
    Ok(Computed::layer(result.to_layer(), result.summary()))
}

/// Selected incidents: row numbers of `ds.columns`, or copied points.
enum Selected {
    Rows(Vec<u32>),
    Points(super::select::Points),
}

impl Selected {
    fn len(&self) -> usize {
        match self {
            Selected::Rows(r) => r.len(),
            Selected::Points(p) => p.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn check_positive(name: &str, v: Option<f64>) -> Result<(), AnalysisError> {
    v.map_or(Ok(()), |v| super::positive_metres(name, v))
}

/// Computes a Gi* hotspot layer.
pub fn gi_star(ds: &Dataset, req: &HotspotRequest) -> Result<Hotspots, AnalysisError> {
    check_positive("cell", req.cell_m)?;
    check_positive("band", req.band_m)?;
    if !(req.alpha > 0.0 && req.alpha < 1.0) {
        return Err(AnalysisError::Param {
            name: "alpha".into(),
            message: "must be between 0 and 1".into(),
        });
    }
    // Which weights fit which units, checked once here.
    match (req.weights, req.grid) {
        (WeightKind::Queen | WeightKind::Rook, UnitKind::Ward | UnitKind::Borough)
        | (WeightKind::KRing, UnitKind::H3) => {}
        (WeightKind::Queen | WeightKind::Rook, _) => {
            return Err(AnalysisError::Param {
                name: "weights".into(),
                message: "queen and rook contiguity are for ward and borough units; grids use a distance band".into(),
            })
        }
        (WeightKind::KRing, _) => {
            return Err(AnalysisError::Param {
                name: "weights".into(),
                message: "k-ring weights are for H3 units".into(),
            })
        }
        _ => {}
    }
    let (units, points, cell_choice) = match req.grid.grid() {
        Some(kind) => {
            // With the cell size given, the grid only needs the selected rows'
            // coordinates, which `ds.columns` already holds: no copy. Counts
            // from a file need no rows at all.
            let points = match (req.cell_m, &req.counts) {
                (Some(_), Some(_)) if kind == super::grid::GridKind::Square => Selected::Rows(Vec::new()),
                (_, Some(_)) => {
                    return Err(AnalysisError::Param {
                        name: "counts".into(),
                        message: "counts from a file need a square grid and a given --cell".into(),
                    })
                }
                (Some(_), None) => Selected::Rows(req.selection.rows(ds)?),
                (None, None) => Selected::Points(req.selection.apply(ds)?),
            };
            if points.is_empty() && req.counts.is_none() {
                return Err(AnalysisError::Empty(req.selection.to_string()));
            }
            let cell_choice = match (req.cell_m, &points) {
                (Some(c), _) => Choice::given(c),
                (None, Selected::Rows(_)) => unreachable!("rows are selected only with a given cell"),
                (None, Selected::Points(points)) => {
                    let xy: Vec<[f64; 2]> = points
                        .easting_m
                        .iter()
                        .zip(&points.northing_m)
                        .map(|(e, n)| [*e, *n])
                        .collect();
                    let rule = scale::default_cell_size(&xy);
                    let hex = kind == super::grid::GridKind::Hex;
                    match req.auto_max_cells {
                        Some(max) => {
                            // The finest cell that keeps the grid within `max` cells.
                            let floor = super::cost::cell_for(super::cost::study_area_m2(ds), max as f64, hex);
                            if rule.value < floor {
                                Choice {
                                    value: floor.ceil(),
                                    rule: format!(
                                        "{} gave {:.0} m; raised to {:.0} m, the finest cell that keeps the layer within {max} cells (auto_max_cells)",
                                        rule.rule,
                                        rule.value,
                                        floor.ceil()
                                    ),
                                }
                            } else {
                                rule
                            }
                        }
                        None => rule,
                    }
                }
            };
            let grid = Grid::new(kind, cell_choice.value, ds.ward_index.polygons());
            if grid.cells.len() < 3 {
                return Err(AnalysisError::Param {
                    name: "cell".into(),
                    message: format!(
                        "{} m leaves {} cells in the study area",
                        cell_choice.value,
                        grid.cells.len()
                    ),
                });
            }
            (Units::Grid(grid), points, cell_choice)
        }
        None if req.grid == UnitKind::H3 => {
            let points = req.selection.apply(ds)?;
            if points.is_empty() {
                return Err(AnalysisError::Empty(req.selection.to_string()));
            }
            let h3 = super::units::H3Units::new(ds, req.h3_resolution)?;
            let rule = format!(
                "H3 resolution {} (mean edge {:.0} m)",
                req.h3_resolution,
                h3.resolution.edge_length_m()
            );
            (
                Units::H3(h3),
                Selected::Points(points),
                Choice { value: f64::NAN, rule },
            )
        }
        None => {
            let level = if req.grid == UnitKind::Ward { "ward" } else { "borough" };
            let areas = AreaUnits::from_dataset(ds, level)?;
            let points = req
                .selection
                .apply_with_areas(ds, &format!("{level}_code"), &areas.codes)?;
            if points.is_empty() {
                return Err(AnalysisError::Empty(req.selection.to_string()));
            }
            (
                Units::Areas(areas),
                Selected::Points(points),
                Choice {
                    value: f64::NAN,
                    rule: format!("{level} polygons"),
                },
            )
        }
    };
    let harm_of = |t: &str| req.harm.as_ref().map_or(1.0, |h| h.weight(t));
    let mut count = vec![0.0; units.len()];
    let mut incidents_per_unit = vec![0.0; units.len()];
    let mut outside_grid = 0;
    let mut add = |unit: Option<u32>, w: f64| match unit {
        Some(i) => {
            count[i as usize] += w;
            incidents_per_unit[i as usize] += 1.0;
        }
        None => outside_grid += 1,
    };
    match &points {
        Selected::Rows(rows) => {
            let c = &ds.columns;
            let type_weight: Vec<f64> = c.crime_types.iter().map(|t| harm_of(t)).collect();
            let Units::Grid(g) = &units else {
                unreachable!("rows are selected only for grids")
            };
            for &r in rows {
                let r = r as usize;
                add(
                    g.cell_of(c.easting_m[r], c.northing_m[r]),
                    type_weight.get(c.crime_type[r] as usize).copied().unwrap_or(0.0),
                );
            }
        }
        Selected::Points(points) => {
            let type_weight: Vec<f64> = points.types.iter().map(|t| harm_of(t)).collect();
            for k in 0..points.len() {
                let unit = match &units {
                    Units::Grid(g) => g.cell_of(points.easting_m[k], points.northing_m[k]),
                    Units::Areas(_) => Some(points.area[k]).filter(|a| *a != u32::MAX),
                    Units::H3(h) => h.unit_of(points.lon[k], points.lat[k]),
                };
                add(unit, type_weight[points.crime_type[k] as usize]);
            }
        }
    }
    if let (Some(path), Units::Grid(g)) = (&req.counts, &units) {
        count = super::cell_counts::read(path, g)?;
        incidents_per_unit = count.clone();
    }
    let counted_elsewhere = incidents_per_unit.iter().sum::<f64>() as usize;
    let centres: Vec<[f64; 2]> = (0..units.len()).map(|i| units.centre(i)).collect();
    let (weights, band_choice) = match (&units, req.weights) {
        (Units::Areas(a), WeightKind::Queen | WeightKind::Rook) => {
            let queen = req.weights == WeightKind::Queen;
            (
                a.contiguity(queen),
                Choice {
                    value: f64::NAN,
                    rule: if queen { "queen contiguity" } else { "rook contiguity" }.into(),
                },
            )
        }
        (Units::H3(h), WeightKind::KRing) => (
            h.k_ring(req.k),
            Choice {
                value: f64::NAN,
                rule: format!("H3 k-ring, k = {}", req.k),
            },
        ),
        _ => {
            let band_choice = match req.band_m {
                Some(b) => Choice::given(b),
                None => scale::default_band(units.grid(), &centres, &count, units.grid().map_or(500.0, |g| g.cell_m)),
            };
            let value = if req.weights == WeightKind::InverseDistance {
                BandValue::InverseDistance
            } else {
                BandValue::Binary
            };
            let w = Weights::band(units.grid(), &centres, band_choice.value, value);
            (w, band_choice)
        }
    };
    let z = gi_star::z_scores_with(&count, &weights, |i| weights.gi_self_weight(i));
    let p: Vec<f64> = z.iter().map(|z| gi_star::p_two_sided(*z)).collect();
    let q = fdr::bh_adjust(&p);
    let p_sim = (req.permutations > 0).then(|| permutation::pseudo_p(&count, &weights, req.permutations, req.seed));
    let bin = fdr::confidence_bins(&z, &p, Correction::None);
    let bin_fdr = fdr::confidence_bins(&z, &p, Correction::Fdr);
    let threshold = match req.correction {
        Correction::None => req.alpha,
        Correction::Fdr => fdr::bh_threshold(&p, req.alpha),
        Correction::Bonferroni => fdr::bonferroni_threshold(p.len(), req.alpha),
    };
    let significant = p.iter().map(|p| *p <= threshold).collect();
    Ok(Hotspots {
        request: req.clone(),
        units,
        incidents_per_unit,
        cell_choice,
        band_choice,
        weights,
        count,
        z,
        p,
        q,
        p_sim,
        bin,
        bin_fdr,
        significant,
        incidents: match &req.counts {
            Some(_) => counted_elsewhere,
            None => points.len(),
        },
        outside_grid,
        counted: match (&req.counts, &points) {
            (Some(path), _) => super::select::Counted {
                kind: "counted elsewhere".into(),
                crime_types: Default::default(),
                rule: format!(
                    "per-cell counts read from {} (the selection flags do not apply)",
                    path.display()
                ),
            },
            (None, Selected::Rows(rows)) => req.selection.counted_rows(ds, rows),
            (None, Selected::Points(p)) => p.counted(&req.selection),
        },
    })
}

impl Hotspots {
    /// One line for the terminal: units, scales and how many hot and cold.
    pub fn summary(&self) -> String {
        let hot = self.bin_fdr.iter().filter(|b| **b > 0).count();
        let cold = self.bin_fdr.iter().filter(|b| **b < 0).count();
        format!(
            "{} units (cell size: {}; {}), weights: {} ({}); {} hot and {} cold at 90 %+ with FDR",
            self.units.len(),
            self.cell_choice.value,
            self.cell_choice.rule,
            self.band_choice.value,
            self.band_choice.rule,
            hot,
            cold,
        )
    }

    /// Cells with fewer than 8 neighbours (ArcGIS's guidance for Gi*).
    pub fn few_neighbours(&self) -> usize {
        self.weights.fewer_than(8).len()
    }

    /// What produced the layer, for its metadata.
    pub fn metadata(&self) -> Value {
        json!({
            "statistic": "Getis-Ord Gi* (Ord & Getis 1995 general form)",
            "self_weight": match self.weights.spec {
                super::weights::WeightsSpec::InverseDistance { .. } => "the nearest neighbour's weight (1/d_min), so the result does not depend on the distance unit",
                _ => "1",
            },
            "p_sim": if self.p_sim.is_some() { Value::from(permutation::ALTERNATIVE) } else { Value::Null },
            "value": if self.request.harm.is_some() { "harm_days" } else { "count" },
            "request": self.request,
            "units": self.request.grid,
            "cell_m": self.cell_choice.value,
            "cell_rule": self.cell_choice.rule,
            "band_m": self.band_choice.value,
            "band_rule": self.band_choice.rule,
            "weights": self.weights.spec,
            "cells": self.units.len(),
            "incidents": self.incidents,
            "incidents_outside_grid": self.outside_grid,
            "counted": self.counted,
            "islands": self.weights.islands().len(),
            "cells_with_fewer_than_8_neighbours": self.few_neighbours(),
            "crs": "EPSG:4326 (lon, lat); metric work in EPSG:27700",
        })
    }

    /// The units' ids (cell ids, GSS codes, H3 indexes).
    pub fn ids(&self) -> Vec<String> {
        (0..self.units.len()).map(|i| self.units.id(i)).collect()
    }

    /// The layer's properties, column by column (see [`Hotspots::to_layer`]).
    pub fn property_columns(&self) -> Columns {
        let n = self.units.len();
        let centres: Vec<[f64; 2]> = (0..n).map(|i| self.units.centre(i)).collect();
        let per_km2 = |v: &[f64]| Values::Num((0..n).map(|i| v[i] / self.units.area_km2(i)).collect());
        let mut c: Columns = vec![("cell_id", Values::Id)];
        if let Units::Areas(a) = &self.units {
            c.push(("name", Values::Str(a.names.clone())));
        }
        c.push(("easting_m", Values::Num(centres.iter().map(|c| c[0]).collect())));
        c.push(("northing_m", Values::Num(centres.iter().map(|c| c[1]).collect())));
        c.push(("count", Values::Num(self.incidents_per_unit.clone())));
        c.push(("per_km2", per_km2(&self.incidents_per_unit)));
        if self.request.harm.is_some() {
            c.push(("harm_days", Values::Num(self.count.clone())));
            c.push(("harm_per_km2", per_km2(&self.count)));
        }
        c.push((
            "neighbours",
            Values::Int((0..n).map(|i| self.weights.neighbour_count(i) as i64).collect()),
        ));
        c.push(("gi_z", Values::Num(self.z.clone())));
        c.push(("gi_p", Values::Num(self.p.clone())));
        c.push(("gi_q_fdr", Values::Num(self.q.clone())));
        if let Some(ps) = &self.p_sim {
            c.push(("gi_p_sim", Values::Num(ps.clone())));
        }
        c.push(("gi_bin", Values::Int(self.bin.iter().map(|&b| b as i64).collect())));
        c.push((
            "gi_bin_fdr",
            Values::Int(self.bin_fdr.iter().map(|&b| b as i64).collect()),
        ));
        c.push(("significant", Values::Bool(self.significant.clone())));
        c
    }

    /// The layer: one polygon feature per cell, in WGS84, with the
    /// properties of [`Hotspots::property_columns`].
    pub fn to_layer(&self) -> Layer {
        self.layer_with("gi_star", &self.property_columns(), self.metadata())
    }

    /// A layer of these units (one polygon feature each, WGS84) with the
    /// given columns: Gi*'s own, or another statistic's on the same units.
    pub fn layer_with(&self, name: &str, columns: &Columns, metadata: serde_json::Value) -> Layer {
        let ids = self.ids();
        let properties = super::layer::properties(&ids, columns);
        let features = ids
            .into_iter()
            .zip(properties)
            .enumerate()
            .map(|(i, (id, properties))| Feature {
                id,
                geometry: self.units.geometry_wgs84(i),
                properties,
            })
            .collect();
        Layer {
            name: name.into(),
            features,
            metadata,
        }
    }
}
