//! The collection registry: the dataset's own layers (wards, boroughs,
//! incidents, schools, stations), built once at startup into compact
//! [`Table`]s, and the analysis layers, each one entry of
//! [`analysis_collections`]: an id, its query parameters (documented in the
//! OpenAPI document) and a [`RunFn`] (`fn(&Ctx, &AnalysisParams) ->
//! Result<Output, _>`: most wrap a [`Layer`] with [`Output::layer`]; the Gi*
//! ones build their table column by column over a shared grid shape).
//! Adding an analysis collection is adding one entry there.

use std::sync::Arc;

use polars::prelude::*;

use super::cache::{MaskCache, ShapeCache};
use super::params::AnalysisParams;
use super::table::{Geoms, Ids, Shape, Table};
use crate::analysis::fdr::Correction;
use crate::analysis::grid::GridKind;
use crate::analysis::hotspot::{HotspotRequest, Hotspots, WeightKind};
use crate::analysis::layer::Layer;
use crate::analysis::units::UnitKind;
use crate::analysis::AnalysisError;
use crate::dataset::{polygons_from_wkb, Dataset, DatasetError};

/// One query parameter of an analysis collection.
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    pub name: &'static str,
    /// JSON Schema type: `number`, `integer` or `string`.
    pub schema: &'static str,
    /// Repeatable and comma-separated (`crime_type=Burglary,Robbery`).
    pub list: bool,
    pub default: Option<&'static str>,
    /// Allowed values, when a choice.
    pub choices: &'static [&'static str],
    pub description: &'static str,
}

const fn param(name: &'static str, schema: &'static str, description: &'static str) -> ParamSpec {
    ParamSpec {
        name,
        schema,
        list: false,
        default: None,
        choices: &[],
        description,
    }
}

const fn with_default(p: ParamSpec, default: &'static str) -> ParamSpec {
    ParamSpec {
        default: Some(default),
        ..p
    }
}

const fn choice(
    name: &'static str,
    choices: &'static [&'static str],
    default: &'static str,
    description: &'static str,
) -> ParamSpec {
    ParamSpec {
        name,
        schema: "string",
        list: false,
        default: Some(default),
        choices,
        description,
    }
}

/// What an analysis runs with: the dataset, and the grid shapes every
/// layer on one grid shares.
pub struct Ctx<'a> {
    pub dataset: &'a Dataset,
    pub shapes: &'a ShapeCache,
    pub masks: &'a MaskCache,
}

/// A computed layer: its features and metadata.
pub struct Output {
    pub table: Table,
    pub metadata: serde_json::Value,
}

impl Output {
    /// From a layer of features (geometry and property maps).
    pub fn layer(layer: Layer) -> Output {
        Output {
            table: Table::from_layer(&layer),
            metadata: layer.metadata,
        }
    }

    /// From Gi* results, column by column; grid cells share their shape
    /// (`shape`, when already at hand).
    pub fn hotspots(c: &Ctx<'_>, h: &Hotspots, shape: Option<Arc<Shape>>) -> Output {
        let shape = match (h.units.grid(), shape) {
            (Some(g), Some(s)) if s.len() == g.cells.len() => s,
            (Some(g), _) => c.shapes.grid(g.kind, g.cell_m, || Shape::grid(g)),
            (None, _) => {
                let ids: Arc<[Box<str>]> = h.ids().into_iter().map(String::into_boxed_str).collect();
                let geoms = Geoms::json(ids.len(), |i| h.units.geometry_wgs84(i));
                Arc::new(Shape::new(Ids::Str(ids), geoms))
            }
        };
        Output {
            table: Table::from_columns(shape, h.property_columns()),
            metadata: h.metadata(),
        }
    }
}

/// Computes an analysis layer from the dataset and the query's parameters.
pub type RunFn = fn(&Ctx<'_>, &AnalysisParams) -> Result<Output, AnalysisError>;

/// A layer computed on request (and cached by its parameters).
#[derive(Debug, Clone)]
pub struct AnalysisCollection {
    pub id: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// Its parameters, after the shared selection ones (`crime_type`, `from`, `to`).
    pub params: Vec<ParamSpec>,
    pub run: RunFn,
}

impl AnalysisCollection {
    /// Every parameter name, the selection ones included.
    pub fn names(&self) -> Vec<&'static str> {
        self.all_params().iter().map(|p| p.name).collect()
    }

    /// The selection parameters followed by the collection's own.
    pub fn all_params(&self) -> Vec<ParamSpec> {
        let mut v = SELECTION.to_vec();
        v.extend(self.params.iter().copied());
        v
    }

    /// The names of repeatable parameters.
    pub fn lists(&self) -> Vec<&'static str> {
        self.all_params().iter().filter(|p| p.list).map(|p| p.name).collect()
    }
}

/// The incident selection every analysis takes.
pub const SELECTION: [ParamSpec; 3] = [
    ParamSpec {
        name: "crime_type",
        schema: "string",
        list: true,
        default: None,
        choices: &[],
        description: "police.uk crime types (names or API slugs), comma-separated or repeated; default all",
    },
    param("from", "string", "first month, YYYY-MM (or use datetime=start/end)"),
    param("to", "string", "last month, YYYY-MM (or use datetime=start/end)"),
];

const CELL: ParamSpec = param("cell", "number", "cell size in metres (default: chosen from the data)");
const BAND: ParamSpec = param(
    "band",
    "number",
    "distance band in metres (default: chosen from the data)",
);
const ALPHA: ParamSpec = with_default(param("alpha", "number", "significance level"), "0.05");
const HARM: ParamSpec = param(
    "harm",
    "string",
    "weigh incidents by harm: crime_type:days pairs, comma-separated (e.g. Burglary:365,Robbery:730)",
);
const WEIGHTS_GRID: &[&str] = &["binary", "inverse_distance"];

fn harm(p: &AnalysisParams) -> Result<Option<crate::analysis::harm::HarmTable>, AnalysisError> {
    let list = p.list("harm");
    if list.is_empty() {
        return Ok(None);
    }
    let mut csv = String::from("crime_type,harm_days\n");
    for pair in &list {
        let (t, d) = pair.split_once(':').ok_or_else(|| AnalysisError::Param {
            name: "harm".into(),
            message: format!("{pair:?} is not crime_type:days"),
        })?;
        csv.push_str(&format!("\"{}\",{}\n", t.replace('"', ""), d));
    }
    crate::analysis::harm::HarmTable::parse(&csv, "the harm parameter")
        .map(Some)
        .map_err(|e| match e {
            AnalysisError::Param { message, .. } => AnalysisError::Param {
                name: "harm".into(),
                message,
            },
            other => other,
        })
}

fn weights(p: &AnalysisParams) -> Result<WeightKind, AnalysisError> {
    Ok(
        match p.choice("weights", &["binary", "inverse_distance", "queen", "rook", "k_ring"])? {
            None | Some("binary") => WeightKind::Binary,
            Some("inverse_distance") => WeightKind::InverseDistance,
            Some("queen") => WeightKind::Queen,
            Some("rook") => WeightKind::Rook,
            _ => WeightKind::KRing,
        },
    )
}

/// The Gi* request the CLI's `gistar` builds, from query parameters.
fn hotspot_request(p: &AnalysisParams, grid: UnitKind) -> Result<HotspotRequest, AnalysisError> {
    let d = HotspotRequest::default();
    let grid = match p.choice("grid", &["square", "hex", "ward", "borough"])? {
        None => grid,
        Some("square") => UnitKind::Square,
        Some("hex") => UnitKind::Hex,
        Some("ward") => UnitKind::Ward,
        _ => UnitKind::Borough,
    };
    let resolution = p.u64("resolution")?.unwrap_or(d.h3_resolution as u64);
    if resolution > 15 {
        return Err(AnalysisError::Param {
            name: "resolution".into(),
            message: "H3 resolutions are 0..=15".into(),
        });
    }
    Ok(HotspotRequest {
        selection: p.selection()?,
        grid,
        cell_m: p.f64("cell")?,
        band_m: p.f64("band")?,
        weights: weights(p)?,
        harm: harm(p)?,
        h3_resolution: resolution as u8,
        k: p.u64("k")?.unwrap_or(d.k as u64).min(u32::MAX as u64) as u32,
        permutations: p.usize("permutations")?.unwrap_or(d.permutations),
        seed: p.u64("seed")?.unwrap_or(d.seed),
        alpha: p.f64("alpha")?.unwrap_or(d.alpha),
        correction: match p.choice("correction", &["fdr", "none", "bonferroni"])? {
            None | Some("fdr") => Correction::Fdr,
            Some("none") => Correction::None,
            _ => Correction::Bonferroni,
        },
    })
}

fn gi_star_layer(c: &Ctx<'_>, p: &AnalysisParams, units: UnitKind) -> Result<Output, AnalysisError> {
    use crate::analysis::hotspot::gi_star;
    let req = hotspot_request(p, units)?;
    let ds = c.dataset;
    // A first layer on a grid also needs its cells' ids and polygons (as
    // long as Gi* itself): with the cell size given, built alongside.
    let (h, shape) = match (units.grid(), req.cell_m) {
        (Some(kind), Some(cell)) if cell.is_finite() && cell > 0.0 => {
            let (h, shape) = rayon::join(
                || gi_star(ds, &req),
                || {
                    c.shapes.grid(kind, cell, || {
                        Shape::grid(&crate::analysis::grid::Grid::new(kind, cell, ds.ward_index.polygons()))
                    })
                },
            );
            (h?, Some(shape))
        }
        _ => (gi_star(ds, &req)?, None),
    };
    Ok(Output::hotspots(c, &h, shape))
}

fn run_gistar(c: &Ctx<'_>, p: &AnalysisParams) -> Result<Output, AnalysisError> {
    gi_star_layer(c, p, UnitKind::Square)
}

fn run_hex(c: &Ctx<'_>, p: &AnalysisParams) -> Result<Output, AnalysisError> {
    gi_star_layer(c, p, UnitKind::Hex)
}

fn run_h3(c: &Ctx<'_>, p: &AnalysisParams) -> Result<Output, AnalysisError> {
    gi_star_layer(c, p, UnitKind::H3)
}

fn run_lisa(c: &Ctx<'_>, p: &AnalysisParams) -> Result<Output, AnalysisError> {
    let mut req = hotspot_request(p, UnitKind::Square)?;
    let permutations = if req.permutations == 0 { 999 } else { req.permutations };
    req.permutations = 0;
    let h = crate::analysis::hotspot::gi_star(c.dataset, &req)?;
    let l = crate::analysis::lisa::local_morans_i(&h.count, &h.weights, permutations, req.seed);
    Ok(Output::layer(crate::analysis::lisa::to_layer(&h, &l, req.alpha)))
}

fn run_kde(c: &Ctx<'_>, p: &AnalysisParams) -> Result<Output, AnalysisError> {
    let ds = c.dataset;
    let selection = p.selection()?;
    let baseline_types = p.list("baseline_crime_type");
    let baseline = (!baseline_types.is_empty()).then(|| crate::analysis::select::Selection {
        crime_types: baseline_types.into_iter().filter(|t| t != "all").collect(),
        ..selection.clone()
    });
    if let Some(b) = &baseline {
        b.types().map_err(|_| AnalysisError::Param {
            name: "baseline_crime_type".into(),
            message: "not police.uk crime types".into(),
        })?;
    }
    let req = crate::analysis::kde::KdeRequest {
        selection,
        cell_m: p
            .f64("cell")?
            .unwrap_or(crate::analysis::kde::KdeRequest::default().cell_m),
        bandwidth_m: p.f64("bandwidth")?,
        baseline,
    };
    crate::analysis::positive_metres("cell", req.cell_m)?;
    Ok(Output::layer(crate::analysis::kde::kde(ds, &req)?.to_layer()))
}

fn run_emerging(c: &Ctx<'_>, p: &AnalysisParams) -> Result<Output, AnalysisError> {
    use crate::analysis::emerging::{emerging, EmergingRequest};
    let ds = c.dataset;
    let d = EmergingRequest::default();
    let time_step = p.usize("time_step")?.unwrap_or(d.time_step);
    if time_step == 0 {
        return Err(AnalysisError::Param {
            name: "time_step".into(),
            message: "must be at least 1".into(),
        });
    }
    let req = EmergingRequest {
        selection: p.selection()?,
        grid: match p.choice("grid", &["square", "hex"])? {
            Some("hex") => GridKind::Hex,
            _ => GridKind::Square,
        },
        cell_m: p.f64("cell")?.unwrap_or(d.cell_m),
        band_m: p.f64("band")?.unwrap_or(d.band_m),
        time_step,
        alpha: p.f64("alpha")?.unwrap_or(d.alpha),
    };
    crate::analysis::positive_metres("cell", req.cell_m)?;
    crate::analysis::positive_metres("band", req.band_m)?;
    Ok(Output::layer(emerging(ds, &req)?.to_layer()))
}

fn run_poi_risk(c: &Ctx<'_>, p: &AnalysisParams) -> Result<Output, AnalysisError> {
    use crate::analysis::poi_risk::{check, poi_risk_with_mask, study_mask, PoiRiskRequest, PoiSet};
    let ds = c.dataset;
    let d = PoiRiskRequest::default();
    let mut radii: Vec<f64> = p
        .list("radius")
        .iter()
        .map(|r| {
            r.trim().parse::<f64>().map_err(|_| AnalysisError::Param {
                name: "radius".into(),
                message: format!("{r:?} is not a number of metres"),
            })
        })
        .collect::<Result<_, _>>()?;
    radii.sort_by(f64::total_cmp);
    radii.dedup();
    let radii_m = if radii.is_empty() { d.radii_m.clone() } else { radii };
    let rank_radius_m = match p.f64("rank_radius")? {
        Some(r) => r,
        None if radii_m.contains(&d.rank_radius_m) => d.rank_radius_m,
        None => radii_m[(radii_m.len() - 1) / 2],
    };
    let req = PoiRiskRequest {
        selection: p.selection()?,
        pois: match p.choice("pois", &["all", "schools", "stations"])? {
            Some("schools") => PoiSet::Schools,
            Some("stations") => PoiSet::Stations,
            _ => PoiSet::All,
        },
        radii_m,
        rank_radius_m,
        harm: harm(p)?,
        alpha: p.f64("alpha")?.unwrap_or(d.alpha),
        ..d
    };
    check(&req)?;
    let mask = c.masks.get(req.mask_cell_m, || study_mask(ds, req.mask_cell_m));
    let result = poi_risk_with_mask(ds, &req, &mask)?;
    Ok(Output::layer(match p.choice("geometry", &["point", "buffer"])? {
        Some("buffer") => result.to_buffer_layer(),
        _ => result.to_layer(),
    }))
}

fn run_surge(c: &Ctx<'_>, p: &AnalysisParams) -> Result<Output, AnalysisError> {
    use crate::analysis::poi_risk::PoiSet;
    use crate::analysis::predict::Predictor;
    use crate::analysis::surge::{surge, SurgeRequest};
    let ds = c.dataset;
    let d = SurgeRequest::default();
    let mut params = d.params;
    if let Some(b) = p.f64("bandwidth")? {
        params.kde_bandwidth_m = b;
    }
    let req = SurgeRequest {
        selection: p.selection()?,
        window_months: p
            .u64("window")?
            .map_or(d.window_months, |w| w.min(u32::MAX as u64) as u32),
        teams: p.usize("teams")?.unwrap_or(d.teams),
        radius_m: p.f64("radius")?.unwrap_or(d.radius_m),
        cell_m: p.f64("cell")?.unwrap_or(d.cell_m),
        predictor: match p.choice("predictor", &["kde", "counts", "prospective", "gistar"])? {
            Some("counts") => Predictor::Counts,
            Some("prospective") => Predictor::Prospective,
            Some("gistar") => Predictor::GiStar,
            _ => Predictor::Kde,
        },
        params,
        harm: harm(p)?,
        near: match p.choice("near", &["schools", "stations", "all"])? {
            Some("schools") => Some(PoiSet::Schools),
            Some("stations") => Some(PoiSet::Stations),
            Some(_) => Some(PoiSet::All),
            None => None,
        },
        max_per_borough: p.usize("max_per_borough")?,
        exclude: p.list("exclude"),
        alpha: p.f64("alpha")?.unwrap_or(d.alpha),
    };
    Ok(Output::layer(surge(ds, &req)?.to_layer()))
}

/// The analysis collections.
pub fn analysis_collections() -> Vec<AnalysisCollection> {
    let permutations = with_default(
        param(
            "permutations",
            "integer",
            "conditional permutations for pseudo p-values",
        ),
        "0",
    );
    let seed = with_default(param("seed", "integer", "seed for the permutations"), "1");
    let correction = choice(
        "correction",
        &["fdr", "none", "bonferroni"],
        "fdr",
        "multiple-testing correction for `significant`",
    );
    vec![
        AnalysisCollection {
            id: "gistar",
            title: "Gi* hotspots (square grid)",
            description: "Getis-Ord Gi* on square cells (or wards/boroughs with grid=), with Benjamini-Hochberg FDR and 90/95/99 % confidence bins.",
            params: vec![
                choice("grid", &["square", "ward", "borough"], "square", "units of analysis"),
                CELL,
                BAND,
                choice("weights", &["binary", "inverse_distance", "queen", "rook"], "binary", "weights within the band (queen/rook for ward and borough units)"),
                ALPHA,
                correction,
                permutations,
                seed,
                HARM,
            ],
            run: run_gistar,
        },
        AnalysisCollection {
            id: "hex",
            title: "Gi* hotspots (hexagons)",
            description: "Getis-Ord Gi* on hexagonal cells whose centres are `cell` metres apart, with FDR.",
            params: vec![CELL, BAND, choice("weights", WEIGHTS_GRID, "binary", "weights within the band"), ALPHA, correction, HARM],
            run: run_hex,
        },
        AnalysisCollection {
            id: "h3",
            title: "Gi* hotspots (H3 cells)",
            description: "Getis-Ord Gi* on Uber H3 cells, with FDR.",
            params: vec![
                with_default(param("resolution", "integer", "H3 resolution 0..=15 (9: cells of about 0.1 km2)"), "9"),
                BAND,
                choice("weights", &["binary", "inverse_distance", "k_ring"], "binary", "weights: a distance band, or H3 rings"),
                with_default(param("k", "integer", "ring size for k_ring weights"), "1"),
                ALPHA,
                correction,
                HARM,
            ],
            run: run_h3,
        },
        AnalysisCollection {
            id: "lisa",
            title: "Local Moran's I (LISA)",
            description: "Local Moran's I on grid cells: HH/LH/LL/HL quadrants with conditional permutation p and FDR.",
            params: vec![
                choice("grid", &["square", "hex", "ward", "borough"], "square", "units of analysis"),
                CELL,
                BAND,
                choice("weights", &["binary", "inverse_distance", "queen", "rook"], "binary", "weights within the band"),
                ALPHA,
                with_default(param("permutations", "integer", "conditional permutations"), "999"),
                seed,
            ],
            run: run_lisa,
        },
        AnalysisCollection {
            id: "kde",
            title: "Kernel density",
            description: "Quartic kernel density, incidents per km2, on square cells; dual KDE (relative risk) with baseline_crime_type.",
            params: vec![
                with_default(param("cell", "number", "raster cell size in metres"), "50"),
                param("bandwidth", "number", "bandwidth (search radius) in metres (default: a stated rule)"),
                ParamSpec {
                    list: true,
                    ..param("baseline_crime_type", "string", "dual KDE: crime types of the baseline (\"all\" for every type)")
                },
            ],
            run: run_kde,
        },
        AnalysisCollection {
            id: "emerging",
            title: "Emerging hot spots",
            description: "Monthly space-time Gi*, Mann-Kendall trends and ArcGIS's emerging hot spot categories.",
            params: vec![
                choice("grid", &["square", "hex"], "square", "cell shape"),
                with_default(param("cell", "number", "cell size in metres"), "250"),
                with_default(param("band", "number", "distance band in metres"), "750"),
                with_default(param("time_step", "integer", "months in each bin's neighbourhood"), "1"),
                ALPHA,
            ],
            run: run_emerging,
        },
        AnalysisCollection {
            id: "poi-risk",
            title: "Risk around schools and stations",
            description: "Incidents within each radius of every school and station against the London and borough rates: relative risk, exact 95% interval, Poisson p, BH q; ranked. The whole-layer ratio is in the response's metadata.",
            params: vec![
                choice("pois", &["all", "schools", "stations"], "all", "which points of interest"),
                ParamSpec {
                    list: true,
                    ..param("radius", "number", "radii in metres, comma-separated (default 100,200,400)")
                },
                param("rank_radius", "number", "the radius the ranking uses (default 200)"),
                choice("geometry", &["point", "buffer"], "point", "POI points, or one buffer polygon per POI and radius"),
                ALPHA,
                HARM,
            ],
            run: run_poi_risk,
        },
        AnalysisCollection {
            id: "surge",
            title: "Surge-team priority areas",
            description: "N non-overlapping circles where surge teams cover the most expected crime next month (greedy maximum-weight disjoint circles, >= 1/5 of optimal, with a per-plan certificate), ranked, each with its expected incidents, share of London, wards, schools and stations and a reason. from/to set the training months (default: the last `window` months).",
            params: vec![
                with_default(param("teams", "integer", "number of teams (areas)"), "6"),
                with_default(param("radius", "number", "radius one team covers, metres"), "300"),
                with_default(param("cell", "number", "grid cell for predictions and centres, metres"), "100"),
                choice("predictor", &["kde", "counts", "prospective", "gistar"], "kde", "how next month is predicted"),
                with_default(param("window", "integer", "training months when from is not given"), "12"),
                with_default(param("bandwidth", "number", "KDE bandwidth, metres"), "400"),
                ParamSpec {
                    choices: &["schools", "stations", "all"],
                    ..param("near", "string", "only areas with a school/station (or either) within the radius")
                },
                param("max_per_borough", "integer", "at most this many areas per borough"),
                ParamSpec {
                    list: true,
                    ..param("exclude", "string", "ward or borough codes to leave out")
                },
                ALPHA,
                HARM,
            ],
            run: run_surge,
        },
    ]
}

/// A layer of the dataset itself, ready to page.
#[derive(Debug)]
pub struct StaticCollection {
    pub id: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub table: Table,
    /// The features' extent (CRS84), computed once: `/collections` reports it.
    pub extent: Option<[f64; 4]>,
}

impl StaticCollection {
    fn new(id: &'static str, title: &'static str, description: &'static str, table: Table) -> StaticCollection {
        StaticCollection {
            id,
            title,
            description,
            extent: table.extent(),
            table,
        }
    }
}

fn col_err(table: &str, e: impl std::fmt::Display) -> DatasetError {
    DatasetError::Column {
        path: format!("{table}.parquet"),
        column: String::new(),
        message: e.to_string(),
    }
}

fn ids(df: &DataFrame, column: &str, table: &str) -> Result<Ids, DatasetError> {
    let c = df.column(column).map_err(|e| col_err(table, e))?;
    if c.dtype().is_integer() {
        let v = c.cast(&DataType::UInt64).map_err(|e| col_err(table, e))?;
        Ok(Ids::Int(
            v.u64()
                .map_err(|e| col_err(table, e))?
                .iter()
                .map(|x| x.unwrap_or(u64::MAX))
                .collect(),
        ))
    } else {
        let v = c.cast(&DataType::String).map_err(|e| col_err(table, e))?;
        Ok(Ids::Str(
            v.str()
                .map_err(|e| col_err(table, e))?
                .iter()
                .map(|x| x.unwrap_or("").into())
                .collect(),
        ))
    }
}

fn points(df: &DataFrame, table: &str) -> Result<Vec<[f64; 2]>, DatasetError> {
    let get = |name: &str| -> Result<Vec<f64>, DatasetError> {
        Ok(df
            .column(name)
            .and_then(|c| c.cast(&DataType::Float64))
            .map_err(|e| col_err(table, e))?
            .f64()
            .map_err(|e| col_err(table, e))?
            .iter()
            .map(|v| v.unwrap_or(f64::NAN))
            .collect())
    };
    Ok(get("lon")?.into_iter().zip(get("lat")?).map(|(x, y)| [x, y]).collect())
}

fn point_table(df: &DataFrame, table: &str, id: &str, skip: &[&str]) -> Result<Table, DatasetError> {
    if df.height() == 0 {
        return Ok(Table::new(
            Ids::Str(Vec::new().into()),
            Geoms::Points(Vec::new()),
            Vec::new(),
            None,
        ));
    }
    let columns = Table::frame_columns(df, skip).map_err(|e| col_err(table, e))?;
    Ok(Table::new(
        ids(df, id, table)?,
        Geoms::Points(points(df, table)?),
        columns,
        None,
    ))
}

fn area_table(ds: &Dataset, df: &DataFrame, table: &str, counts_by: &str) -> Result<Table, DatasetError> {
    let polys = polygons_from_wkb(df, "geometry_wgs84_wkb", &ds.dir.join(format!("{table}.parquet")))?;
    let geoms: Vec<geo::Geometry<f64>> = polys.into_iter().map(geo::Geometry::MultiPolygon).collect();
    let columns =
        Table::frame_columns(df, &["geometry_bng_wkb", "geometry_wgs84_wkb"]).map_err(|e| col_err(table, e))?;
    let mut t = Table::new(
        ids(df, "code", table)?,
        Geoms::json(geoms.len(), |i| &geoms[i]),
        columns,
        None,
    );
    // Recorded crimes (all months and types) per area: the choropleth's figure.
    let mut counts = rustc_hash::FxHashMap::<&str, f64>::default();
    if ds.incidents.height() > 0 {
        let codes = ds
            .incidents
            .column(counts_by)
            .and_then(|c| c.str())
            .map_err(|e| col_err("incidents", e))?;
        let kinds = ds
            .incidents
            .column("kind")
            .and_then(|c| c.str())
            .map_err(|e| col_err("incidents", e))?;
        for (c, k) in codes.iter().zip(kinds.iter()) {
            if let (Some(c), Some("crime")) = (c, k) {
                *counts.entry(c).or_default() += 1.0;
            }
        }
    }
    let values = match t.ids() {
        Ids::Str(v) => v.iter().map(|c| counts.get(&**c).copied().unwrap_or(0.0)).collect(),
        Ids::Int(v) => vec![0.0; v.len()],
    };
    t.push_number_column("incidents", values);
    Ok(t)
}

/// Builds the dataset's own collections.
pub fn static_collections(ds: &Dataset) -> Result<Vec<StaticCollection>, DatasetError> {
    let mut incidents = point_table(
        &ds.incidents,
        "incidents",
        "incident_id",
        &["incident_id", "lon", "lat", "easting_m", "northing_m", "month_index"],
    )?;
    if ds.incidents.height() > 0 {
        let m = ds
            .incidents
            .column("month_index")
            .and_then(|c| c.cast(&DataType::UInt32))
            .map_err(|e| col_err("incidents", e))?;
        incidents.months = Some(
            m.u32()
                .map_err(|e| col_err("incidents", e))?
                .iter()
                .map(|v| v.unwrap_or(0))
                .collect(),
        );
    }
    let poi_skip = ["lon", "lat", "easting_m", "northing_m"];
    Ok(vec![
        StaticCollection::new(
            "wards",
            "Wards",
            "Ward boundaries with their borough and the number of recorded crimes (`incidents`, all months).",
            area_table(ds, &ds.wards, "wards", "ward_code")?,
        ),
        StaticCollection::new(
            "boroughs",
            "Boroughs",
            "Borough boundaries with the number of recorded crimes (`incidents`, all months).",
            area_table(ds, &ds.boroughs, "boroughs", "borough_code")?,
        ),
        StaticCollection::new(
            "incidents",
            "Incidents",
            "Every accepted incident as a point (police.uk locations are snapped to anonymised map points); filter by month with datetime and by any property (crime_type=Burglary).",
            incidents,
        ),
        StaticCollection::new(
            "schools",
            "Schools",
            "Schools (points of interest).",
            point_table(&ds.schools, "schools", "poi_id", &poi_skip)?,
        ),
        StaticCollection::new(
            "stations",
            "Stations",
            "Rail, Underground and DLR stations (points of interest).",
            point_table(&ds.stations, "stations", "poi_id", &poi_skip)?,
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_analysis_collection_has_unique_documented_parameters() {
        let all = analysis_collections();
        let mut ids: Vec<_> = all.iter().map(|c| c.id).collect();
        ids.dedup();
        assert_eq!(ids.len(), all.len());
        for c in &all {
            let names = c.names();
            for (k, n) in names.iter().enumerate() {
                assert!(!names[k + 1..].contains(n), "{}: {n} twice", c.id);
            }
            assert!(c.all_params().iter().all(|p| !p.description.is_empty()));
        }
    }

    #[test]
    fn harm_pairs_become_a_harm_table_and_errors_name_harm() {
        let mut v = std::collections::BTreeMap::new();
        v.insert("harm".to_string(), vec!["burglary:365,Robbery:730".to_string()]);
        let p = AnalysisParams::new(v, &["harm"]).unwrap();
        let t = harm(&p).unwrap().unwrap();
        assert_eq!(t.days["Burglary"], 365.0);
        let mut v = std::collections::BTreeMap::new();
        v.insert("harm".to_string(), vec!["burglary=365".to_string()]);
        let p = AnalysisParams::new(v, &["harm"]).unwrap();
        assert!(matches!(harm(&p), Err(AnalysisError::Param { name, .. }) if name == "harm"));
    }
}
