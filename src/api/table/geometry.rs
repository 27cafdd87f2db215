//! Feature ids and geometry in WGS84 lon/lat degrees, shareable between
//! tables ([`Shape`]); bounding boxes and the exact `bbox` test.

use std::borrow::Borrow;
use std::sync::{Arc, OnceLock};

use geo::BoundingRect;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::index::BoxIndex;
use super::Table;
use crate::analysis::grid::{CellRings, Grid};
use crate::analysis::layer::{geometry_json, push_coord};

/// Feature ids: whole numbers (incident ids) or strings (codes, cell ids;
/// shared with a `cell_id` column of the same values).
#[derive(Debug)]
pub enum Ids {
    Int(Vec<u64>),
    Str(Arc<[Box<str>]>),
}

/// Polygons over shared vertices (grid cells), each vertex's `[lon,lat]`
/// text written once.
#[derive(Debug)]
pub struct Rings {
    rings: CellRings,
    /// Vertex texts, back to back; vertex `v`'s ends at `ends[v]`.
    text: String,
    ends: Vec<u32>,
}

impl Rings {
    /// Writes the vertex texts (6 decimals), in parallel.
    pub fn new(rings: CellRings) -> Rings {
        let texts: Vec<String> = rings
            .vertices
            .par_iter()
            .with_min_len(1024)
            .map(|c| {
                let mut s = String::with_capacity(24);
                push_coord(&mut s, *c);
                s
            })
            .collect();
        let mut text = String::with_capacity(texts.iter().map(String::len).sum());
        let mut ends = Vec::with_capacity(texts.len());
        for t in &texts {
            text.push_str(t);
            ends.push(text.len() as u32);
        }
        Rings { rings, text, ends }
    }

    pub(super) fn vertex(&self, v: u32) -> &[u8] {
        let v = v as usize;
        let start = if v == 0 { 0 } else { self.ends[v - 1] as usize };
        &self.text.as_bytes()[start..self.ends[v] as usize]
    }

    pub(super) fn write(&self, i: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"type\":\"Polygon\",\"coordinates\":[[");
        for (k, &v) in self.rings.ring(i).iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            out.extend_from_slice(self.vertex(v));
        }
        out.extend_from_slice(b"]]}");
    }

    /// Writes cell `i` with each vertex written by `push` (its WGS84 lon, lat).
    pub(super) fn write_with(&self, i: usize, out: &mut Vec<u8>, push: &dyn Fn(&mut Vec<u8>, f64, f64)) {
        out.extend_from_slice(b"{\"type\":\"Polygon\",\"coordinates\":[[");
        for (k, &v) in self.rings.ring(i).iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            let c = self.rings.vertices[v as usize];
            push(out, c.x, c.y);
        }
        out.extend_from_slice(b"]]}");
    }

    pub(super) fn bbox(&self, i: usize) -> [f64; 4] {
        self.rings.ring(i).iter().fold(
            [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY],
            |b, &v| {
                let c = self.rings.vertices[v as usize];
                [b[0].min(c.x), b[1].min(c.y), b[2].max(c.x), b[3].max(c.y)]
            },
        )
    }
}

/// Feature geometry in WGS84 lon/lat degrees.
#[derive(Debug)]
pub enum Geoms {
    /// Points, `[lon, lat]`.
    Points(Vec<[f64; 2]>),
    /// GeoJSON geometry text (RFC 7946 winding, 6 decimals), its bbox
    /// `[minlon, minlat, maxlon, maxlat]` and the geometry itself (for
    /// `bbox` queries).
    Json {
        text: Vec<Box<str>>,
        bbox: Vec<[f64; 4]>,
        shapes: Vec<geo::Geometry<f64>>,
    },
    /// Grid cells.
    Rings(Rings),
}

impl Geoms {
    /// GeoJSON text and bounding boxes of `n` WGS84 geometries, written in parallel.
    pub fn json<G: Borrow<geo::Geometry<f64>>>(n: usize, geometry: impl Fn(usize) -> G + Sync) -> Geoms {
        let (text, (bbox, shapes)) = (0..n)
            .into_par_iter()
            .with_min_len(256)
            .map(|i| {
                let g = geometry(i);
                let g = g.borrow();
                let bbox = g
                    .bounding_rect()
                    .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y])
                    .unwrap_or([f64::NAN; 4]);
                (geometry_json(g).into_boxed_str(), (bbox, g.clone()))
            })
            .unzip();
        Geoms::Json { text, bbox, shapes }
    }
}

/// Feature geometry in British National Grid metres, as the dataset holds
/// it: what an item asked for in EPSG:27700 is written from (OGC API –
/// Features Part 2, [`crate::api::crs`]).
#[derive(Debug)]
pub enum BngGeoms {
    /// Points, `[easting_m, northing_m]`.
    Points(Vec<[f64; 2]>),
    /// GeoJSON geometry text, coordinates unrounded.
    Json(Vec<Box<str>>),
}

impl BngGeoms {
    /// BNG GeoJSON text of `n` geometries, written in parallel.
    pub fn json<G: Borrow<geo::Geometry<f64>>>(n: usize, geometry: impl Fn(usize) -> G + Sync) -> BngGeoms {
        BngGeoms::Json(
            (0..n)
                .into_par_iter()
                .with_min_len(256)
                .map(|i| {
                    let mut out = Vec::new();
                    crate::api::crs::geometry_json(geometry(i).borrow(), &crate::api::crs::push_bng, &mut out);
                    String::from_utf8(out).expect("JSON text is UTF-8").into_boxed_str()
                })
                .collect(),
        )
    }

    fn heap_bytes(&self) -> usize {
        match self {
            BngGeoms::Points(p) => p.len() * 16,
            BngGeoms::Json(t) => t.iter().map(|t| t.len() + 16).sum(),
        }
    }
}

/// Feature ids and geometry, shareable between tables.
#[derive(Debug)]
pub struct Shape {
    pub ids: Ids,
    pub geoms: Geoms,
    /// The same geometry in BNG as the dataset holds it, for the dataset's
    /// own layers (`None`: derived from `geoms` through OSTN15 when asked).
    pub bng: Option<BngGeoms>,
    pub(super) lookup: FxHashMap<Box<str>, u32>,
    /// The features' boxes in an R-tree, built on first use (large shapes only).
    pub(super) index: OnceLock<BoxIndex>,
}

impl Shape {
    /// Roughly the heap memory the ids, geometry and lookup hold.
    pub fn heap_bytes(&self) -> usize {
        let ids = match &self.ids {
            Ids::Int(v) => v.len() * 8,
            Ids::Str(v) => v.iter().map(|s| s.len() + 16).sum(),
        };
        let geoms = match &self.geoms {
            Geoms::Points(p) => p.len() * 16,
            Geoms::Json { text, bbox, shapes } => {
                use geo::CoordsIter;
                text.iter().map(|t| t.len() + 16).sum::<usize>()
                    + bbox.len() * 32
                    + shapes.iter().map(|g| g.coords_count() * 16 + 48).sum::<usize>()
            }
            Geoms::Rings(r) => r.rings.vertices.len() * 16 + r.rings.rings.len() * 4 + r.text.len() + r.ends.len() * 4,
        };
        // R-tree leaves (24 or 40 bytes) and about a third more for nodes.
        let index = match self.index.get() {
            Some(BoxIndex::Points(t)) => t.size() * 32,
            Some(BoxIndex::Boxes(t)) => t.size() * 54,
            None => 0,
        };
        ids + geoms + self.bng.as_ref().map_or(0, BngGeoms::heap_bytes) + self.lookup.len() * 40 + index
    }

    /// The rows whose bounding box meets `b` (`[minlon, minlat, maxlon,
    /// maxlat]`, CRS84 degrees), ascending, from the shape's R-tree (built
    /// now if not yet); `None` for a shape too small to index: scan it.
    pub fn rows_meeting(&self, b: [f64; 4]) -> Option<Vec<u32>> {
        if self.len() < BoxIndex::MIN_FEATURES {
            return None;
        }
        Some(self.index.get_or_init(|| self.build_index()).rows_meeting(b))
    }

    /// Builds the R-tree now if the shape is large enough to use one (so
    /// the first tile or `bbox` query does not wait for it).
    pub fn warm_index(&self) {
        if self.len() >= BoxIndex::MIN_FEATURES {
            self.index.get_or_init(|| self.build_index());
        }
    }

    fn build_index(&self) -> BoxIndex {
        match &self.geoms {
            Geoms::Points(p) => BoxIndex::points(p),
            Geoms::Json { bbox, .. } => BoxIndex::boxes(bbox.len(), |i| bbox[i]),
            Geoms::Rings(r) => BoxIndex::boxes(self.len(), |i| r.bbox(i)),
        }
    }

    /// A shape; builds the id lookup.
    pub fn new(ids: Ids, geoms: Geoms) -> Shape {
        let lookup = match &ids {
            Ids::Str(v) => v.iter().enumerate().map(|(i, s)| (s.clone(), i as u32)).collect(),
            Ids::Int(_) => FxHashMap::default(),
        };
        Shape {
            ids,
            geoms,
            bng: None,
            lookup,
            index: OnceLock::new(),
        }
    }

    /// With the dataset's own BNG geometry (same features, same order).
    pub fn with_bng(mut self, bng: BngGeoms) -> Shape {
        self.bng = Some(bng);
        self
    }

    /// The cells of a grid: their ids and WGS84 polygons (each shared
    /// vertex projected and written once).
    pub fn grid(grid: &Grid) -> Shape {
        let (ids, rings) = rayon::join(
            || grid.ids().into_iter().map(String::into_boxed_str).collect::<Arc<[_]>>(),
            || Rings::new(grid.rings_wgs84()),
        );
        Shape::new(Ids::Str(ids), Geoms::Rings(rings))
    }

    /// How many features.
    pub fn len(&self) -> usize {
        match &self.ids {
            Ids::Int(v) => v.len(),
            Ids::Str(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Table {
    /// A feature's bounding box `[minlon, minlat, maxlon, maxlat]`.
    pub fn bbox(&self, i: usize) -> [f64; 4] {
        match &self.shape.geoms {
            Geoms::Points(p) => [p[i][0], p[i][1], p[i][0], p[i][1]],
            Geoms::Json { bbox, .. } => bbox[i],
            Geoms::Rings(r) => r.bbox(i),
        }
    }

    /// Feature `i`'s geometry (WGS84 lon/lat).
    pub fn geometry(&self, i: usize) -> geo::Geometry<f64> {
        match &self.shape.geoms {
            Geoms::Points(p) => geo::Geometry::Point(geo::Point::new(p[i][0], p[i][1])),
            Geoms::Json { shapes, .. } => shapes[i].clone(),
            Geoms::Rings(r) => {
                let ring: Vec<geo::Coord<f64>> =
                    r.rings.ring(i).iter().map(|&v| r.rings.vertices[v as usize]).collect();
                geo::Geometry::Polygon(geo::Polygon::new(geo::LineString(ring), Vec::new()))
            }
        }
    }

    /// Whether feature `i`'s geometry meets the box `[minlon, minlat,
    /// maxlon, maxlat]` (boundary included), exactly: a ward whose bounding
    /// box reaches into the box but whose outline does not is left out.
    pub fn meets(&self, i: usize, b: [f64; 4]) -> bool {
        let rect = geo::Rect::new(geo::coord! { x: b[0], y: b[1] }, geo::coord! { x: b[2], y: b[3] });
        self.meets_region(i, b, &rect)
    }

    /// Whether feature `i`'s geometry meets `region` (WGS84; a box given in
    /// another CRS, [`crate::api::crs::bng_box_in_wgs84`]), whose bounding
    /// box is `b`.
    pub fn meets_region<R>(&self, i: usize, b: [f64; 4], region: &R) -> bool
    where
        geo::Geometry<f64>: geo::Intersects<R>,
        geo::Point<f64>: geo::Intersects<R>,
        geo::Polygon<f64>: geo::Intersects<R>,
    {
        use geo::Intersects;
        let f = self.bbox(i);
        if f[0] > b[2] || f[2] < b[0] || f[1] > b[3] || f[3] < b[1] {
            return false;
        }
        match &self.shape.geoms {
            Geoms::Points(p) => geo::Point::new(p[i][0], p[i][1]).intersects(region),
            Geoms::Json { shapes, .. } => shapes[i].intersects(region),
            Geoms::Rings(r) => {
                let ring: Vec<geo::Coord<f64>> =
                    r.rings.ring(i).iter().map(|&v| r.rings.vertices[v as usize]).collect();
                geo::Polygon::new(geo::LineString(ring), Vec::new()).intersects(region)
            }
        }
    }
}
