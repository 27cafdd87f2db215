//! The WDD from the dataset: treated areas (a surge plan's circles or
//! GeoJSON polygons), displacement rings of `buffer` metres around them,
//! control areas (given, or chosen by the rule in [`CONTROL_RULE`]), and
//! the incidents counted in each over the `pre` and `post` months.
//! Geometry in British National Grid metres; output polygons WGS84.

use geo::{BoundingRect, Contains, MultiPolygon, Point, Polygon};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::buckets::PointBuckets;
use super::layer::{circle_wgs84, Feature, Layer};
use super::param;
use super::params::Values;
use super::run::{Computed, Output};
use super::select::Selection;
use super::wdd::{self, PrePost, WddCounts, WddResult};
use super::AnalysisError;
use crate::dataset::Dataset;
use crate::month;

/// How automatic controls are chosen, stated in every output.
pub const CONTROL_RULE: &str = "for each treated area in turn, the same shape moved to a position on a square grid (step: the circle's radius, or half the polygon's shorter side, at least 100 m) whose centre lies in the study area, whose shape and ring touch no treated area or ring and no control already chosen, with the closest pre-period count and pre-period trend (second half minus first half): score (|count difference| + |trend difference|) / sqrt(treated pre count + 1), ties to the nearest position";

/// An area in BNG metres.
#[derive(Debug, Clone)]
pub enum Shape {
    Circle { centre: [f64; 2], radius_m: f64 },
    Polygons(MultiPolygon<f64>),
}

impl Shape {
    /// Bounding box (min x, min y, max x, max y).
    fn bbox(&self) -> [f64; 4] {
        match self {
            Shape::Circle { centre, radius_m } => [
                centre[0] - radius_m,
                centre[1] - radius_m,
                centre[0] + radius_m,
                centre[1] + radius_m,
            ],
            Shape::Polygons(mp) => mp
                .bounding_rect()
                .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y])
                .unwrap_or([f64::NAN; 4]),
        }
    }

    fn centre(&self) -> [f64; 2] {
        let b = self.bbox();
        [(b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0]
    }

    /// The same shape moved by `d`.
    fn moved(&self, d: [f64; 2]) -> Shape {
        match self {
            Shape::Circle { centre, radius_m } => Shape::Circle {
                centre: [centre[0] + d[0], centre[1] + d[1]],
                radius_m: *radius_m,
            },
            Shape::Polygons(mp) => {
                use geo::MapCoords;
                Shape::Polygons(mp.map_coords(|c| geo::Coord {
                    x: c.x + d[0],
                    y: c.y + d[1],
                }))
            }
        }
    }

    /// 0 inside, 1 in the ring (outside and within `buffer_m`), 2 beyond.
    fn zone(&self, x: f64, y: f64, buffer_m: f64) -> u8 {
        match self {
            Shape::Circle { centre, radius_m } => {
                let d = ((x - centre[0]).powi(2) + (y - centre[1]).powi(2)).sqrt();
                if d <= *radius_m {
                    0
                } else if d <= radius_m + buffer_m {
                    1
                } else {
                    2
                }
            }
            Shape::Polygons(mp) => {
                if mp.contains(&Point::new(x, y)) {
                    0
                } else if distance_to_boundary(mp, x, y) <= buffer_m {
                    1
                } else {
                    2
                }
            }
        }
    }

    /// Whether this shape with its ring may touch `other` with its ring:
    /// exact for two circles, by bounding boxes otherwise (conservative).
    fn near(&self, other: &Shape, buffer_m: f64) -> bool {
        match (self, other) {
            (
                Shape::Circle {
                    centre: a,
                    radius_m: ra,
                },
                Shape::Circle {
                    centre: b,
                    radius_m: rb,
                },
            ) => ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt() <= ra + rb + 2.0 * buffer_m,
            _ => {
                let (p, q) = (self.bbox(), other.bbox());
                let g = 2.0 * buffer_m;
                !(p[2] + g < q[0] || q[2] + g < p[0] || p[3] + g < q[1] || q[3] + g < p[1])
            }
        }
    }

    /// WGS84 polygons for the output.
    fn wgs84(&self) -> Result<geo::Geometry<f64>, AnalysisError> {
        match self {
            Shape::Circle { centre, radius_m } => Ok(geo::Geometry::Polygon(circle_wgs84(*centre, *radius_m, 64))),
            Shape::Polygons(mp) => {
                let out = geo::MapCoords::try_map_coords(mp, |c| {
                    crate::crs::bng_to_lonlat(c.x, c.y)
                        .map(|(lon, lat)| geo::Coord { x: lon, y: lat })
                        .ok_or(())
                })
                .map_err(|_| AnalysisError::Data("an area lies outside British National Grid's range".into()))?;
                Ok(geo::Geometry::MultiPolygon(out))
            }
        }
    }

    /// Area, m².
    fn area_m2(&self) -> f64 {
        match self {
            Shape::Circle { radius_m, .. } => std::f64::consts::PI * radius_m * radius_m,
            Shape::Polygons(mp) => geo::Area::unsigned_area(mp),
        }
    }
}

/// Distance from (x, y) to the nearest edge of `mp`, metres.
fn distance_to_boundary(mp: &MultiPolygon<f64>, x: f64, y: f64) -> f64 {
    let mut best = f64::INFINITY;
    for poly in &mp.0 {
        for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
            for seg in ring.lines() {
                let (ax, ay, bx, by) = (seg.start.x, seg.start.y, seg.end.x, seg.end.y);
                let (dx, dy) = (bx - ax, by - ay);
                let len2 = dx * dx + dy * dy;
                let t = if len2 > 0.0 {
                    (((x - ax) * dx + (y - ay) * dy) / len2).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let (px, py) = (ax + t * dx, ay + t * dy);
                best = best.min(((x - px).powi(2) + (y - py).powi(2)).sqrt());
            }
        }
    }
    best
}

/// `YYYY-MM..YYYY-MM`, both months in the dataset.
fn period(v: &Values, name: &str, present: &[u32]) -> Result<(u32, u32), AnalysisError> {
    let (a, b) = v
        .month_range(name)?
        .ok_or_else(|| param(name, "give the months, FROM..TO (YYYY-MM..YYYY-MM)"))?;
    let missing: Vec<String> = (a..=b)
        .filter(|k| present.binary_search(k).is_err())
        .map(month::format)
        .collect();
    if !missing.is_empty() {
        return Err(param(
            name,
            format!(
                "the dataset has no records for {}; choose months it covers",
                missing.join(", ")
            ),
        ));
    }
    Ok((a, b))
}

/// Reads treated or control areas from GeoJSON: a surge plan's circles
/// (`circles`: properties `easting_m`, `northing_m`, `radius_m`), or
/// polygons in WGS84 (RFC 7946) or BNG when the file's `crs` member names
/// EPSG:27700.
pub fn read_areas(path: &std::path::Path, name: &str, circles: bool) -> Result<Vec<Shape>, AnalysisError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| AnalysisError::Io {
        path: file.clone(),
        source,
    })?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| param(name, format!("{file}: not JSON: {e}")))?;
    let features = doc["features"]
        .as_array()
        .ok_or_else(|| param(name, format!("{file}: not a GeoJSON FeatureCollection")))?;
    let crs_name = doc["crs"]["properties"]["name"].as_str().unwrap_or("");
    let bng = crs_name.contains("27700");
    let mut out = Vec::new();
    for (k, f) in features.iter().enumerate() {
        let at = |field: &str| format!("{file}, feature {k}, `{field}`");
        if circles {
            let num = |field: &str| -> Result<f64, AnalysisError> {
                f["properties"][field]
                    .as_f64()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| {
                        param(
                            name,
                            format!("{}: missing or not a number (a surge plan has it)", at(field)),
                        )
                    })
            };
            let radius_m = num("radius_m")?;
            if radius_m <= 0.0 {
                return Err(param(name, format!("{}: must be greater than 0", at("radius_m"))));
            }
            out.push(Shape::Circle {
                centre: [num("easting_m")?, num("northing_m")?],
                radius_m,
            });
            continue;
        }
        let g: geojson::Geometry = serde_json::from_value(f["geometry"].clone())
            .map_err(|e| param(name, format!("{}: {e}", at("geometry"))))?;
        let geom: geo::Geometry<f64> = g
            .try_into()
            .map_err(|e: geojson::Error| param(name, format!("{}: {e}", at("geometry"))))?;
        let mp: MultiPolygon<f64> = match geom {
            geo::Geometry::Polygon(p) => MultiPolygon(vec![p]),
            geo::Geometry::MultiPolygon(mp) => mp,
            _ => {
                return Err(param(
                    name,
                    format!("{}: not a Polygon or MultiPolygon", at("geometry")),
                ))
            }
        };
        let mp = if bng {
            mp
        } else {
            let m = geo::MapCoords::try_map_coords(&mp, |c| {
                crate::crs::lonlat_to_bng(c.x, c.y)
                    .map(|(e, n)| geo::Coord { x: e, y: n })
                    .ok_or(())
            });
            let Ok(m) = m else {
                return Err(param(
                    name,
                    format!(
                        "{}: coordinates are not WGS84 lon/lat in Great Britain (for BNG metres, say so with a crs member naming EPSG:27700)",
                        at("geometry")
                    ),
                ));
            };
            m
        };
        out.push(Shape::Polygons(mp));
    }
    if out.is_empty() {
        return Err(param(name, format!("{file}: no areas")));
    }
    Ok(out)
}

/// Incidents of the two periods, weighted.
struct Incidents {
    x: Vec<f64>,
    y: Vec<f64>,
    /// 0 pre (first half), 1 pre (second half), 2 post.
    phase: Vec<u8>,
    weight: Vec<f64>,
    buckets: PointBuckets,
}

/// Counts of one shape: inside and ring, pre and post, and the pre-period trend.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ShapeCounts {
    pub inside: PrePost,
    pub ring: PrePost,
    /// Second half of the pre period minus its first half, inside.
    pub trend: f64,
}

impl Incidents {
    fn count(&self, s: &Shape, buffer_m: f64) -> ShapeCounts {
        let c = s.centre();
        let b = s.bbox();
        let reach = ((b[2] - b[0]).powi(2) + (b[3] - b[1]).powi(2)).sqrt() / 2.0 + buffer_m;
        let mut out = ShapeCounts::default();
        self.buckets.for_each_within(c[0], c[1], reach, |i, _| {
            let i = i as usize;
            let z = s.zone(self.x[i], self.y[i], buffer_m);
            if z == 2 {
                return;
            }
            let (w, ph) = (self.weight[i], self.phase[i]);
            let target = if z == 0 { &mut out.inside } else { &mut out.ring };
            if ph == 2 {
                target.post += w;
            } else {
                target.pre += w;
                if z == 0 {
                    out.trend += if ph == 1 { w } else { -w };
                }
            }
        });
        out
    }
}

/// One treated area, its control, and the test.
#[derive(Debug, Clone, Serialize)]
pub struct AreaTest {
    pub rank: usize,
    pub treated: ShapeCounts,
    pub control: ShapeCounts,
    /// Control centre, BNG metres.
    pub control_easting_m: f64,
    pub control_northing_m: f64,
    pub result: WddResult,
}

/// The dataset-mode answer.
#[derive(Debug, Clone, Serialize)]
pub struct WddAreas {
    pub pre: String,
    pub post: String,
    pub buffer_m: f64,
    pub controls: String,
    pub areas: Vec<AreaTest>,
    pub pooled: WddResult,
    pub counted: super::select::Counted,
}

fn counts_of(t: &ShapeCounts, c: &ShapeCounts, tw: (f64, f64), aw: [f64; 4]) -> WddCounts {
    WddCounts {
        treated: t.inside,
        control: c.inside,
        disp_treated: Some(t.ring),
        disp_control: Some(c.ring),
        time_weights: tw,
        area_weights: aw,
    }
}

/// Runs the dataset mode.
pub fn run(ds: &Dataset, v: &Values) -> Result<Computed, AnalysisError> {
    let r = compute(ds, v)?;
    let summary = if v.flag("json") {
        serde_json::to_string_pretty(&r).map_err(|e| AnalysisError::Data(e.to_string()))?
    } else {
        r.summary()
    };
    Ok(Computed {
        main: Output::Layer(r.layer(ds, v)?),
        summary,
        extras: Vec::new(),
    })
}

/// The treated shapes from `plan` or `treated_areas`.
fn treated_shapes(v: &Values) -> Result<Vec<Shape>, AnalysisError> {
    match (v.given_path("plan"), v.given_path("treated_areas")) {
        (Some(p), None) => read_areas(&p, "plan", true),
        (None, Some(p)) => read_areas(&p, "treated_areas", false),
        (Some(_), Some(_)) => Err(param("treated_areas", "give --plan or --treated-areas, not both")),
        (None, None) => Err(param(
            "plan",
            "give counts (--treated and --control), or the treated areas (--plan or --treated-areas) with --pre and --post",
        )),
    }
}

/// The computation behind [`run`].
pub fn compute(ds: &Dataset, v: &Values) -> Result<WddAreas, AnalysisError> {
    let buffer_m = v.number("buffer")?;
    let treated = treated_shapes(v)?;
    let c = &ds.columns;
    let pre = period(v, "pre", &c.months_present)?;
    let post = period(v, "post", &c.months_present)?;
    if post.0 <= pre.1 {
        return Err(param("post", "must start after the pre period ends"));
    }
    let (pre_len, post_len) = ((pre.1 - pre.0 + 1) as f64, (post.1 - post.0 + 1) as f64);
    let (tw, aw) = wdd::weights(v, (pre_len / post_len, 1.0))?;
    let sel = v.selection()?;
    let selection = Selection {
        from: Some(month::format(pre.0)),
        to: Some(month::format(post.1)),
        ..sel
    };
    let rows = selection.rows(ds)?;
    let harm = v.harm()?;
    let weights: Vec<f64> = match &harm {
        Some(h) => c.crime_types.iter().map(|t| h.weight(t)).collect(),
        None => vec![1.0; c.crime_types.len()],
    };
    // The pre period's second half starts here (the first half is the shorter).
    let half = pre.0 + (pre.1 - pre.0).div_ceil(2);
    let mut inc = Incidents {
        x: Vec::new(),
        y: Vec::new(),
        phase: Vec::new(),
        weight: Vec::new(),
        buckets: PointBuckets::new(&[], &[], 100.0),
    };
    let mut kept = Vec::new();
    for &r in &rows {
        let r = r as usize;
        let m = c.month[r];
        let phase = if m >= post.0 {
            2
        } else if m > pre.1 {
            continue;
        } else if m >= half {
            1
        } else {
            0
        };
        if !(c.easting_m[r].is_finite() && c.northing_m[r].is_finite()) {
            continue;
        }
        kept.push(r as u32);
        inc.x.push(c.easting_m[r]);
        inc.y.push(c.northing_m[r]);
        inc.phase.push(phase);
        inc.weight
            .push(weights.get(c.crime_type[r] as usize).copied().unwrap_or(0.0));
    }
    if inc.x.is_empty() {
        return Err(AnalysisError::Empty(selection.to_string()));
    }
    inc.buckets = PointBuckets::new(&inc.x, &inc.y, 200.0);
    let treated_counts: Vec<ShapeCounts> = treated.iter().map(|s| inc.count(s, buffer_m)).collect();
    // Controls.
    let (controls, rule) = match v.given_path("control_areas") {
        Some(p) => {
            let given = read_areas(&p, "control_areas", false)?;
            if given.len() != treated.len() {
                return Err(param(
                    "control_areas",
                    format!(
                        "{} control areas for {} treated areas: give one per treated area, in the same order",
                        given.len(),
                        treated.len()
                    ),
                ));
            }
            (
                given,
                "given (--control-areas), paired with the treated areas in file order".to_string(),
            )
        }
        None => (
            choose_controls(ds, &inc, &treated, &treated_counts, buffer_m)?,
            CONTROL_RULE.to_string(),
        ),
    };
    let mut areas = Vec::new();
    let (mut pt, mut pc) = (ShapeCounts::default(), ShapeCounts::default());
    for (k, (t, ctl)) in treated.iter().zip(&controls).enumerate() {
        super::cancel::check()?;
        let tc = treated_counts[k];
        let cc = inc.count(ctl, buffer_m);
        let result = wdd::wdd(
            &counts_of(&tc, &cc, tw, aw),
            v.number("alpha")?,
            "the treated area",
            &format!("its {buffer_m:.0} m ring"),
        );
        pt.inside += tc.inside;
        pt.ring += tc.ring;
        pc.inside += cc.inside;
        pc.ring += cc.ring;
        let centre = ctl.centre();
        let _ = t;
        areas.push(AreaTest {
            rank: k + 1,
            treated: tc,
            control: cc,
            control_easting_m: centre[0],
            control_northing_m: centre[1],
            result,
        });
    }
    let what = if v.given("plan") {
        "the surge areas"
    } else {
        "the treated areas"
    };
    let pooled = wdd::wdd(
        &counts_of(&pt, &pc, tw, aw),
        v.number("alpha")?,
        what,
        &format!("the {buffer_m:.0} m rings"),
    );
    Ok(WddAreas {
        pre: format!("{}..{}", month::format(pre.0), month::format(pre.1)),
        post: format!("{}..{}", month::format(post.0), month::format(post.1)),
        buffer_m,
        controls: rule,
        areas,
        pooled,
        counted: selection.counted_rows(ds, &kept),
    })
}

/// Candidate control positions (BNG metres) and their counts.
type Candidates = std::sync::Arc<Vec<([f64; 2], ShapeCounts)>>;

/// Automatic controls ([`CONTROL_RULE`]).
fn choose_controls(
    ds: &Dataset,
    inc: &Incidents,
    treated: &[Shape],
    counts: &[ShapeCounts],
    buffer_m: f64,
) -> Result<Vec<Shape>, AnalysisError> {
    let polys = ds.ward_index.polygons();
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for p in polys {
        if let Some(r) = p.bounding_rect() {
            x0 = x0.min(r.min().x);
            y0 = y0.min(r.min().y);
            x1 = x1.max(r.max().x);
            y1 = y1.max(r.max().y);
        }
    }
    if x0 > x1 {
        return Err(AnalysisError::Data(
            "the dataset has no wards to place control areas in".into(),
        ));
    }
    let mut chosen: Vec<Shape> = Vec::new();
    // Candidate positions and their counts; shared by circles of one radius
    // (the grid is anchored at the study area's corner, not at the area).
    let mut by_radius: rustc_hash::FxHashMap<u64, Candidates> = rustc_hash::FxHashMap::default();
    for (k, t) in treated.iter().enumerate() {
        let b = t.bbox();
        let step = match t {
            Shape::Circle { radius_m, .. } => *radius_m,
            Shape::Polygons(_) => (b[2] - b[0]).min(b[3] - b[1]) / 2.0,
        }
        .max(100.0);
        let tc = t.centre();
        let grid = || -> Result<Vec<([f64; 2], ShapeCounts)>, AnalysisError> {
            let mut out = Vec::new();
            let mut gy = y0;
            while gy <= y1 {
                super::cancel::check()?;
                let mut gx = x0;
                while gx <= x1 {
                    if ds.ward_index.locate(gx, gy).is_some() {
                        let cand = t.moved([gx - tc[0], gy - tc[1]]);
                        out.push(([gx, gy], inc.count(&cand, buffer_m)));
                    }
                    gx += step;
                }
                gy += step;
            }
            Ok(out)
        };
        let candidates = match t {
            Shape::Circle { radius_m, .. } => match by_radius.get(&radius_m.to_bits()) {
                Some(c) => c.clone(),
                None => {
                    let c = std::sync::Arc::new(grid()?);
                    by_radius.insert(radius_m.to_bits(), c.clone());
                    c
                }
            },
            Shape::Polygons(_) => std::sync::Arc::new(grid()?),
        };
        let scale = (counts[k].inside.pre + 1.0).sqrt();
        let mut best: Option<(f64, f64, Shape)> = None;
        for (pos, cc) in candidates.iter() {
            let score = ((cc.inside.pre - counts[k].inside.pre).abs() + (cc.trend - counts[k].trend).abs()) / scale;
            let dist = (pos[0] - tc[0]).hypot(pos[1] - tc[1]);
            let better = match &best {
                None => true,
                Some((s, d, _)) => score < *s || (score == *s && dist < *d),
            };
            if !better {
                continue;
            }
            let cand = t.moved([pos[0] - tc[0], pos[1] - tc[1]]);
            if treated.iter().any(|s| s.near(&cand, buffer_m)) || chosen.iter().any(|s| s.near(&cand, buffer_m)) {
                continue;
            }
            best = Some((score, dist, cand));
        }
        let (_, _, shape) = best.ok_or_else(|| {
            param(
                "control_areas",
                format!("no room for an automatic control for treated area {} away from every treated area and ring; give --control-areas", k + 1),
            )
        })?;
        chosen.push(shape);
    }
    Ok(chosen)
}

fn object(v: impl Serialize) -> Map<String, Value> {
    match serde_json::to_value(v) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// A result's figures as flat properties.
fn figures(r: &WddResult) -> Map<String, Value> {
    let mut p = Map::new();
    let c = &r.counts;
    for (k, v) in [
        ("treated_pre", c.treated.pre),
        ("treated_post", c.treated.post),
        ("control_pre", c.control.pre),
        ("control_post", c.control.post),
        ("disp_treated_pre", c.disp_treated.unwrap_or_default().pre),
        ("disp_treated_post", c.disp_treated.unwrap_or_default().post),
        ("disp_control_pre", c.disp_control.unwrap_or_default().pre),
        ("disp_control_post", c.disp_control.unwrap_or_default().post),
        ("local", r.local.estimate),
        ("local_se", r.local.se),
        ("displacement", r.displacement.map(|d| d.estimate).unwrap_or(f64::NAN)),
        ("displacement_se", r.displacement.map(|d| d.se).unwrap_or(f64::NAN)),
        ("total", r.total.estimate),
        ("total_se", r.total.se),
        ("z", r.z),
        ("p", r.p),
        ("lower", r.lower),
        ("upper", r.upper),
        ("wdq", r.wdq.unwrap_or(f64::NAN)),
    ] {
        p.insert(k.into(), if v.is_finite() { Value::from(v) } else { Value::Null });
    }
    p.insert("sentence".into(), Value::from(r.sentence.clone()));
    p
}

impl WddAreas {
    fn layer(&self, ds: &Dataset, v: &Values) -> Result<Layer, AnalysisError> {
        let _ = ds;
        let treated = treated_shapes(v)?;
        let mut features = Vec::new();
        let mut all = Vec::new();
        for (a, t) in self.areas.iter().zip(&treated) {
            let mut p = figures(&a.result);
            p.insert("role".into(), Value::from("treated"));
            p.insert("rank".into(), Value::from(a.rank));
            p.insert("area_m2".into(), Value::from(t.area_m2()));
            let g = t.wgs84()?;
            if let geo::Geometry::Polygon(poly) = &g {
                all.push(poly.clone());
            } else if let geo::Geometry::MultiPolygon(mp) = &g {
                all.extend(mp.0.iter().cloned());
            }
            features.push(Feature {
                id: format!("treated-{}", a.rank),
                geometry: g,
                properties: p,
            });
        }
        let controls: Vec<Shape> = match v.given_path("control_areas") {
            Some(path) => read_areas(&path, "control_areas", false)?,
            None => self
                .areas
                .iter()
                .zip(&treated)
                .map(|(a, t)| {
                    let c = t.centre();
                    t.moved([a.control_easting_m - c[0], a.control_northing_m - c[1]])
                })
                .collect(),
        };
        for (a, c) in self.areas.iter().zip(&controls) {
            let mut p = Map::new();
            p.insert("role".into(), Value::from("control"));
            p.insert("rank".into(), Value::from(a.rank));
            p.insert("control_pre".into(), Value::from(a.control.inside.pre));
            p.insert("control_post".into(), Value::from(a.control.inside.post));
            p.insert("disp_control_pre".into(), Value::from(a.control.ring.pre));
            p.insert("disp_control_post".into(), Value::from(a.control.ring.post));
            features.push(Feature {
                id: format!("control-{}", a.rank),
                geometry: c.wgs84()?,
                properties: p,
            });
        }
        let mut p = figures(&self.pooled);
        p.insert("role".into(), Value::from("pooled"));
        features.push(Feature {
            id: "pooled".into(),
            geometry: geo::Geometry::MultiPolygon(MultiPolygon::<f64>(all.into_iter().collect::<Vec<Polygon<f64>>>())),
            properties: p,
        });
        Ok(Layer {
            name: "wdd".into(),
            features,
            metadata: json!({
                "method": "weighted displacement difference (Wheeler & Ratcliffe 2018) per treated area and pooled (counts summed); WDQ (Bowers & Johnson 2003)",
                "pre": self.pre,
                "post": self.post,
                "buffer_m": self.buffer_m,
                "controls": self.controls,
                "time_weights": self.pooled.counts.time_weights,
                "area_weights": self.pooled.counts.area_weights,
                "pooled": object(&self.pooled),
                "counted": self.counted,
            }),
        })
    }

    fn summary(&self) -> String {
        let mut s = format!(
            "WDD: pre {}, post {}, rings {:.0} m; time weights {:?} (estimates in post-period counts)\ncontrols: {}\n",
            self.pre, self.post, self.buffer_m, self.pooled.counts.time_weights, self.controls
        );
        s.push_str("area  treated pre→post  control pre→post  ring pre→post  ring control pre→post  total (SE)  z\n");
        for a in &self.areas {
            let r = &a.result;
            s.push_str(&format!(
                "{:>4}  {:>6.0}→{:<6.0}  {:>6.0}→{:<6.0}  {:>6.0}→{:<6.0}  {:>6.0}→{:<6.0}  {:>7.1} ({:.1})  {:.2}\n",
                a.rank,
                a.treated.inside.pre,
                a.treated.inside.post,
                a.control.inside.pre,
                a.control.inside.post,
                a.treated.ring.pre,
                a.treated.ring.post,
                a.control.ring.pre,
                a.control.ring.post,
                r.total.estimate,
                r.total.se,
                r.z
            ));
        }
        let p = &self.pooled;
        s.push_str(&format!(
            "pooled: local {:.1} (SE {:.1}), displacement {:.1} (SE {:.1}), total {:.1} (SE {:.1}), z = {:.2}, p = {:.4}; {}\n{}",
            p.local.estimate,
            p.local.se,
            p.displacement.map(|d| d.estimate).unwrap_or(0.0),
            p.displacement.map(|d| d.se).unwrap_or(0.0),
            p.total.estimate,
            p.total.se,
            p.z,
            p.p,
            p.wdq_note,
            p.sentence
        ));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_of_circles_and_polygons() {
        let c = Shape::Circle {
            centre: [0.0, 0.0],
            radius_m: 100.0,
        };
        assert_eq!(c.zone(50.0, 0.0, 400.0), 0);
        assert_eq!(c.zone(100.0, 0.0, 400.0), 0);
        assert_eq!(c.zone(300.0, 0.0, 400.0), 1);
        assert_eq!(c.zone(501.0, 0.0, 400.0), 2);
        let sq = Polygon::new(
            geo::LineString::from(vec![(0.0, 0.0), (100.0, 0.0), (100.0, 100.0), (0.0, 100.0), (0.0, 0.0)]),
            vec![],
        );
        let p = Shape::Polygons(MultiPolygon(vec![sq]));
        assert_eq!(p.zone(50.0, 50.0, 400.0), 0);
        assert_eq!(p.zone(500.0, 50.0, 400.0), 1);
        assert_eq!(p.zone(500.0, 500.0, 400.0), 2); // 400·√2 from the corner
        assert!((p.area_m2() - 1e4).abs() < 1e-9);
        let far = c.moved([1001.0, 0.0]);
        assert!(!c.near(&far, 400.0) && c.near(&c.moved([999.0, 0.0]), 400.0));
    }
}
