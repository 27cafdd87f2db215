//! A collection's features in compact, query-ready form: ids, bounding
//! boxes (CRS84 degrees), geometry (points as lon/lat pairs, polygons as
//! pre-serialised RFC 7946 GeoJSON text, grid cells as rings over shared,
//! pre-serialised vertices), and properties held column by column (strings
//! dictionary-encoded). Pages are written straight into a byte buffer, so an
//! items page costs its features, not the collection.
//!
//! Ids and geometry (a [`Shape`]) sit behind an `Arc`: every analysis layer
//! on one grid shares them (see [`super::cache::ShapeCache`]).

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::io::Write as _;
use std::sync::Arc;

use geo::BoundingRect;
use polars::prelude::*;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde_json::Value;

use super::error::ApiError;
use super::params::ItemsQuery;
use crate::analysis::grid::{CellRings, Grid};
use crate::analysis::layer::{fixed6, geometry_json, push_coord, Layer, Values};

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

    fn vertex(&self, v: u32) -> &[u8] {
        let v = v as usize;
        let start = if v == 0 { 0 } else { self.ends[v - 1] as usize };
        &self.text.as_bytes()[start..self.ends[v] as usize]
    }

    fn write(&self, i: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"type\":\"Polygon\",\"coordinates\":[[");
        for (k, &v) in self.rings.ring(i).iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            out.extend_from_slice(self.vertex(v));
        }
        out.extend_from_slice(b"]]}");
    }

    fn bbox(&self, i: usize) -> [f64; 4] {
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

/// One property column.
#[derive(Debug)]
pub enum ColumnData {
    /// Dictionary-encoded strings; `u32::MAX` is null.
    Str { dict: Arc<[Box<str>]>, codes: Vec<u32> },
    /// Numbers; NaN is null.
    Num(Vec<f64>),
    /// Booleans; `None` is null.
    Bool(Vec<Option<bool>>),
    /// Anything else, as JSON values.
    Json(Vec<Value>),
}

/// A named property column.
#[derive(Debug)]
pub struct Column {
    pub name: String,
    /// `"name":`, escaped once.
    key_json: String,
    pub data: ColumnData,
}

/// Feature ids and geometry, shareable between tables.
#[derive(Debug)]
pub struct Shape {
    pub ids: Ids,
    pub geoms: Geoms,
    lookup: FxHashMap<Box<str>, u32>,
}

impl Shape {
    /// A shape; builds the id lookup.
    pub fn new(ids: Ids, geoms: Geoms) -> Shape {
        let lookup = match &ids {
            Ids::Str(v) => v.iter().enumerate().map(|(i, s)| (s.clone(), i as u32)).collect(),
            Ids::Int(_) => FxHashMap::default(),
        };
        Shape { ids, geoms, lookup }
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

/// The features of one collection.
#[derive(Debug)]
pub struct Table {
    pub shape: Arc<Shape>,
    pub columns: Vec<Column>,
    /// Month number per feature (`year * 12 + month - 1`), for `datetime`.
    pub months: Option<Vec<u32>>,
}

/// The features a query selected: how many matched, and the page.
#[derive(Debug)]
pub struct Page {
    pub matched: usize,
    pub rows: Vec<u32>,
    /// Column indexes to write.
    pub columns: Vec<usize>,
}

fn write_num(out: &mut Vec<u8>, v: f64) {
    if !v.is_finite() {
        out.extend_from_slice(b"null");
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        let _ = write!(out, "{}", v as i64);
    } else {
        // The shortest round-trip digits, as serde_json writes them (ryu).
        out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
    }
}

/// A JSON string. Most values (ids, codes, street names) need no escaping:
/// they are copied between quotes; the rest go through serde_json.
fn write_str(out: &mut Vec<u8>, s: &str) {
    // A fold without early exit, so the check is vectorised.
    let escapes = s
        .bytes()
        .fold(false, |any, b| any | (b < 0x20) | (b == b'"') | (b == b'\\'));
    if !escapes {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

impl Column {
    fn new(name: &str, data: ColumnData) -> Column {
        Column {
            name: name.to_string(),
            key_json: format!("{}:", Value::from(name)),
            data,
        }
    }

    /// A string column, dictionary-encoded.
    pub fn strings<'a>(name: &str, values: impl Iterator<Item = Option<&'a str>>) -> Column {
        let mut dict: Vec<Box<str>> = Vec::new();
        let mut index: FxHashMap<&'a str, u32> = FxHashMap::default();
        let codes = values
            .map(|v| match v {
                None => u32::MAX,
                Some(s) => *index.entry(s).or_insert_with(|| {
                    dict.push(s.into());
                    (dict.len() - 1) as u32
                }),
            })
            .collect();
        Column::new(
            name,
            ColumnData::Str {
                dict: dict.into(),
                codes,
            },
        )
    }

    /// A column of a layer's property; `Values::Id` shares the string ids.
    pub fn from_values(name: &str, values: Values, ids: &Ids) -> Column {
        let data = match values {
            Values::Id => match ids {
                Ids::Str(v) => ColumnData::Str {
                    dict: v.clone(),
                    codes: (0..v.len() as u32).collect(),
                },
                Ids::Int(v) => ColumnData::Num(v.iter().map(|&x| x as f64).collect()),
            },
            Values::Str(v) => return Column::strings(name, v.iter().map(|s| Some(s.as_str()))),
            Values::Num(mut v) => {
                // Non-finite numbers are null (NaN), as in the layer's JSON.
                for x in v.iter_mut().filter(|x| !x.is_finite()) {
                    *x = f64::NAN;
                }
                ColumnData::Num(v)
            }
            Values::Int(v) => ColumnData::Num(v.into_iter().map(|x| x as f64).collect()),
            Values::Bool(v) => ColumnData::Bool(v.into_iter().map(Some).collect()),
        };
        Column::new(name, data)
    }

    fn write_value(&self, i: usize, out: &mut Vec<u8>) {
        match &self.data {
            ColumnData::Str { dict, codes } => match codes[i] {
                u32::MAX => out.extend_from_slice(b"null"),
                c => write_str(out, &dict[c as usize]),
            },
            ColumnData::Num(v) => write_num(out, v[i]),
            ColumnData::Bool(v) => out.extend_from_slice(match v[i] {
                Some(true) => b"true",
                Some(false) => b"false",
                None => b"null",
            }),
            ColumnData::Json(v) => {
                let _ = serde_json::to_writer(&mut *out, &v[i]);
            }
        }
    }

    fn compare(&self, a: usize, b: usize) -> Ordering {
        match &self.data {
            ColumnData::Str { dict, codes } => match (codes[a], codes[b]) {
                (u32::MAX, u32::MAX) => Ordering::Equal,
                (u32::MAX, _) => Ordering::Greater,
                (_, u32::MAX) => Ordering::Less,
                (x, y) => dict[x as usize].cmp(&dict[y as usize]),
            },
            ColumnData::Num(v) => match (v[a].is_nan(), v[b].is_nan()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                _ => v[a].total_cmp(&v[b]),
            },
            ColumnData::Bool(v) => v[a].cmp(&v[b]),
            ColumnData::Json(v) => v[a].to_string().cmp(&v[b].to_string()),
        }
    }

    /// A predicate for `name=value`; errors name the parameter.
    fn matcher(&self, value: &str) -> Result<Box<dyn Fn(usize) -> bool + Send + Sync + '_>, ApiError> {
        match &self.data {
            ColumnData::Str { dict, codes } => {
                // Crime types match their API slugs too (`crime_type=burglary`).
                let wanted = if self.name == "crime_type" {
                    crate::crime_types::canonical(value).unwrap_or(value)
                } else {
                    value
                };
                let code = dict.iter().position(|d| &**d == wanted).map(|c| c as u32);
                Ok(Box::new(move |i| Some(codes[i]) == code))
            }
            ColumnData::Num(v) => {
                let x: f64 = value
                    .trim()
                    .parse()
                    .map_err(|_| ApiError::param(&self.name, format!("{value:?} is not a number")))?;
                Ok(Box::new(move |i| v[i] == x))
            }
            ColumnData::Bool(v) => {
                let x = match value.trim() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(ApiError::param(&self.name, format!("{value:?} is not true or false"))),
                };
                Ok(Box::new(move |i| v[i] == Some(x)))
            }
            ColumnData::Json(v) => {
                let parsed: Option<Value> = serde_json::from_str(value).ok();
                let value = value.to_string();
                Ok(Box::new(move |i| match &v[i] {
                    Value::String(s) => *s == value,
                    other => parsed.as_ref() == Some(other),
                }))
            }
        }
    }

    /// The JSON Schema type of the column, for queryables and the OpenAPI document.
    pub fn schema_type(&self) -> &'static str {
        match self.data {
            ColumnData::Str { .. } => "string",
            ColumnData::Num(_) => "number",
            ColumnData::Bool(_) => "boolean",
            ColumnData::Json(_) => "object",
        }
    }
}

impl Table {
    /// A table; builds the id lookup.
    pub fn new(ids: Ids, geoms: Geoms, columns: Vec<Column>, months: Option<Vec<u32>>) -> Table {
        Table {
            shape: Arc::new(Shape::new(ids, geoms)),
            columns,
            months,
        }
    }

    /// A table over a (shared) shape from a layer's property columns.
    pub fn from_columns(shape: Arc<Shape>, columns: crate::analysis::layer::Columns) -> Table {
        let columns = columns
            .into_iter()
            .map(|(name, values)| Column::from_values(name, values, &shape.ids))
            .collect();
        Table {
            shape,
            columns,
            months: None,
        }
    }

    /// The feature ids.
    pub fn ids(&self) -> &Ids {
        &self.shape.ids
    }

    /// How many features.
    pub fn len(&self) -> usize {
        self.shape.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The row of a feature id.
    pub fn find(&self, id: &str) -> Option<usize> {
        match &self.shape.ids {
            Ids::Str(_) => self.shape.lookup.get(id).map(|&i| i as usize),
            Ids::Int(v) => {
                let x: u64 = id.parse().ok()?;
                // Incident ids are ascending in the dataset; fall back to a scan if not.
                match v.binary_search(&x) {
                    Ok(i) => Some(i),
                    Err(_) => v.iter().position(|&y| y == x),
                }
            }
        }
    }

    /// A feature's bounding box `[minlon, minlat, maxlon, maxlat]`.
    pub fn bbox(&self, i: usize) -> [f64; 4] {
        match &self.shape.geoms {
            Geoms::Points(p) => [p[i][0], p[i][1], p[i][0], p[i][1]],
            Geoms::Json { bbox, .. } => bbox[i],
            Geoms::Rings(r) => r.bbox(i),
        }
    }

    /// Whether feature `i`'s geometry meets the box `[minlon, minlat,
    /// maxlon, maxlat]` (boundary included), exactly: a ward whose bounding
    /// box reaches into the box but whose outline does not is left out.
    pub fn meets(&self, i: usize, b: [f64; 4]) -> bool {
        use geo::Intersects;
        let f = self.bbox(i);
        if f[0] > b[2] || f[2] < b[0] || f[1] > b[3] || f[3] < b[1] {
            return false;
        }
        let rect = geo::Rect::new(geo::coord! { x: b[0], y: b[1] }, geo::coord! { x: b[2], y: b[3] });
        match &self.shape.geoms {
            // A point is its own bounding box.
            Geoms::Points(_) => true,
            Geoms::Json { shapes, .. } => shapes[i].intersects(&rect),
            Geoms::Rings(r) => {
                let ring: Vec<geo::Coord<f64>> =
                    r.rings.ring(i).iter().map(|&v| r.rings.vertices[v as usize]).collect();
                geo::Polygon::new(geo::LineString(ring), Vec::new()).intersects(&rect)
            }
        }
    }

    /// The bounding box of all features (`None` when empty).
    pub fn extent(&self) -> Option<[f64; 4]> {
        (0..self.len())
            .map(|i| self.bbox(i))
            .reduce(|a, b| [a[0].min(b[0]), a[1].min(b[1]), a[2].max(b[2]), a[3].max(b[3])])
    }

    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The columns to write for `properties=` (all when not given).
    pub fn chosen_columns(&self, properties: Option<&[String]>) -> Result<Vec<usize>, ApiError> {
        match properties {
            None => Ok((0..self.columns.len()).collect()),
            Some(names) => names
                .iter()
                .map(|n| {
                    self.column(n)
                        .ok_or_else(|| ApiError::param("properties", format!("no property `{n}` in this collection")))
                })
                .collect(),
        }
    }

    /// Applies bbox, datetime, property filters, sortby, offset and limit.
    /// `bbox` keeps the features whose geometry intersects it ([`Table::meets`]).
    pub fn query(&self, q: &ItemsQuery) -> Result<Page, ApiError> {
        let columns = self.chosen_columns(q.properties.as_deref())?;
        let mut matchers = Vec::with_capacity(q.filters.len());
        for (name, value) in &q.filters {
            let c = self
                .column(name)
                .ok_or_else(|| ApiError::UnknownParameter(name.clone()))?;
            matchers.push(self.columns[c].matcher(value)?);
        }
        let mut sort = Vec::with_capacity(q.sortby.len());
        for (name, desc) in &q.sortby {
            let c = self
                .column(name)
                .ok_or_else(|| ApiError::param("sortby", format!("no property `{name}` in this collection")))?;
            sort.push((c, *desc));
        }
        let months = match (q.datetime, &self.months) {
            (None, _) => None,
            (Some(r), Some(m)) => Some((r, m)),
            (Some(_), None) => return Err(ApiError::param("datetime", "this collection has no time dimension")),
        };
        let n = self.len();
        if q.bbox.is_none() && months.is_none() && matchers.is_empty() && sort.is_empty() {
            let start = q.offset.min(n);
            let end = (start + q.limit).min(n);
            return Ok(Page {
                matched: n,
                rows: (start as u32..end as u32).collect(),
                columns,
            });
        }
        let keep = |i: usize| -> bool {
            if q.bbox.is_some_and(|b| !self.meets(i, b)) {
                return false;
            }
            if let Some(((from, to), m)) = months {
                if from.is_some_and(|a| m[i] < a) || to.is_some_and(|b| m[i] > b) {
                    return false;
                }
            }
            matchers.iter().all(|m| m(i))
        };
        let mut rows: Vec<u32> = (0..n).filter(|&i| keep(i)).map(|i| i as u32).collect();
        if !sort.is_empty() {
            rows.sort_by(|&a, &b| {
                for &(c, desc) in &sort {
                    let o = self.columns[c].compare(a as usize, b as usize);
                    let o = if desc { o.reverse() } else { o };
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                Ordering::Equal
            });
        }
        let matched = rows.len();
        let start = q.offset.min(matched);
        let end = (start + q.limit).min(matched);
        rows.truncate(end);
        rows.drain(..start);
        Ok(Page { matched, rows, columns })
    }

    /// Writes feature `i` as GeoJSON with the given property columns.
    pub fn write_feature(&self, i: usize, columns: &[usize], out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"type\":\"Feature\",\"id\":");
        match &self.shape.ids {
            Ids::Int(v) => out.extend_from_slice(itoa::Buffer::new().format(v[i]).as_bytes()),
            Ids::Str(v) => write_str(out, &v[i]),
        }
        out.extend_from_slice(b",\"geometry\":");
        match &self.shape.geoms {
            Geoms::Points(p) => {
                let mut buf = [0u8; 32];
                out.extend_from_slice(b"{\"type\":\"Point\",\"coordinates\":[");
                out.extend_from_slice(fixed6(p[i][0], &mut buf).as_bytes());
                out.push(b',');
                out.extend_from_slice(fixed6(p[i][1], &mut buf).as_bytes());
                out.extend_from_slice(b"]}");
            }
            Geoms::Json { text, .. } => out.extend_from_slice(text[i].as_bytes()),
            Geoms::Rings(r) => r.write(i, out),
        }
        out.extend_from_slice(b",\"properties\":{");
        for (k, &c) in columns.iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            let col = &self.columns[c];
            out.extend_from_slice(col.key_json.as_bytes());
            col.write_value(i, out);
        }
        out.extend_from_slice(b"}}");
    }

    /// A table from an analysis layer: ids, geometry and properties as they are.
    pub fn from_layer(layer: &Layer) -> Table {
        let ids = Ids::Str(layer.features.iter().map(|f| f.id.as_str().into()).collect());
        let geoms = Geoms::json(layer.features.len(), |i| &layer.features[i].geometry);
        let mut names: Vec<&str> = Vec::new();
        for f in &layer.features {
            for k in f.properties.keys() {
                if !names.contains(&k.as_str()) {
                    names.push(k);
                }
            }
        }
        let columns = names
            .iter()
            .map(|&name| {
                let values = || layer.features.iter().map(move |f| f.properties.get(name));
                let all = |p: fn(&Value) -> bool| values().all(|v| v.is_none_or(|v| v.is_null() || p(v)));
                if all(Value::is_string) {
                    Column::strings(name, values().map(|v| v.and_then(Value::as_str)))
                } else if all(Value::is_number) {
                    Column::new(
                        name,
                        ColumnData::Num(
                            values()
                                .map(|v| v.and_then(Value::as_f64).unwrap_or(f64::NAN))
                                .collect(),
                        ),
                    )
                } else if all(Value::is_boolean) {
                    Column::new(
                        name,
                        ColumnData::Bool(values().map(|v| v.and_then(Value::as_bool)).collect()),
                    )
                } else {
                    Column::new(
                        name,
                        ColumnData::Json(values().map(|v| v.cloned().unwrap_or(Value::Null)).collect()),
                    )
                }
            })
            .collect();
        Table::new(ids, geoms, columns, None)
    }

    /// Property columns from a frame: strings, numbers and booleans, except `skip`.
    pub fn frame_columns(df: &DataFrame, skip: &[&str]) -> Result<Vec<Column>, PolarsError> {
        let mut out = Vec::new();
        for c in df.columns() {
            let name = c.name().as_str();
            if skip.contains(&name) {
                continue;
            }
            let dt = c.dtype();
            if dt == &DataType::String {
                out.push(Column::strings(name, c.str()?.iter()));
            } else if dt == &DataType::Boolean {
                out.push(Column::new(name, ColumnData::Bool(c.bool()?.iter().collect())));
            } else if dt.is_primitive_numeric() {
                let f = c.cast(&DataType::Float64)?;
                out.push(Column::new(
                    name,
                    ColumnData::Num(f.f64()?.iter().map(|v| v.unwrap_or(f64::NAN)).collect()),
                ));
            }
        }
        Ok(out)
    }

    /// Adds a numeric column.
    pub fn push_number_column(&mut self, name: &str, values: Vec<f64>) {
        self.columns.push(Column::new(name, ColumnData::Num(values)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::layer::Feature;
    use geo::{polygon, Geometry};
    use serde_json::{json, Map};

    #[test]
    fn numbers_and_strings_are_written_as_serde_json_writes_them() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for _ in 0..200_000 {
            let v = rng.gen_range(-1.0..1.0) * 10f64.powi(rng.gen_range(-7..17));
            let mut out = Vec::new();
            write_num(&mut out, v);
            let want = if v.fract() == 0.0 && v.abs() < 1e15 {
                format!("{}", v as i64)
            } else {
                serde_json::to_string(&v).unwrap()
            };
            let got = String::from_utf8(out).unwrap();
            assert_eq!(got, want);
            assert_eq!(got.parse::<f64>().unwrap(), v, "round trip");
        }
        for s in [
            "plain",
            "",
            "a\"quote",
            "back\\slash",
            "tab\there",
            "line\nbreak",
            "caf\u{e9} \u{7f}",
        ] {
            let mut out = Vec::new();
            write_str(&mut out, s);
            assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(s).unwrap());
        }
    }

    fn layer() -> Layer {
        let sq = |x: f64| {
            Geometry::Polygon(
                polygon![(x: x, y: 51.0), (x: x + 0.01, y: 51.0), (x: x + 0.01, y: 51.01), (x: x, y: 51.01), (x: x, y: 51.0)],
            )
        };
        let props = |c: f64, n: &str| -> Map<String, Value> {
            serde_json::from_value(json!({"count": c, "name": n, "significant": c > 1.0})).unwrap()
        };
        Layer {
            name: "t".into(),
            features: vec![
                Feature {
                    id: "a".into(),
                    geometry: Geometry::Polygon(
                        polygon![(x: 0.0, y: 51.0), (x: 0.0, y: 51.01), (x: 0.01, y: 51.01), (x: 0.0, y: 51.0)],
                    ),
                    properties: props(3.0, "x"),
                },
                Feature {
                    id: "b".into(),
                    geometry: sq(0.1),
                    properties: props(1.0, "y"),
                },
                Feature {
                    id: "c".into(),
                    geometry: sq(0.2),
                    properties: props(2.5, "x"),
                },
            ],
            metadata: json!({}),
        }
    }

    #[test]
    fn bbox_on_grid_cells_tests_the_cell_outline() {
        // One diamond-shaped cell (lon/lat): its bounding box is [0, 0, 2, 2],
        // its outline stays away from the box's corners.
        let rings = CellRings {
            stride: 5,
            vertices: vec![
                geo::coord! { x: 1.0, y: 0.0 },
                geo::coord! { x: 2.0, y: 1.0 },
                geo::coord! { x: 1.0, y: 2.0 },
                geo::coord! { x: 0.0, y: 1.0 },
            ],
            rings: vec![0, 1, 2, 3, 0],
        };
        let ids = Ids::Str(vec!["c".into()].into());
        let t = Table::new(ids, Geoms::Rings(Rings::new(rings)), Vec::new(), None);
        let q = |s: &str| {
            let (q, _) = super::super::params::items(&super::super::params::pairs(Some(s)), &[]).unwrap();
            t.query(&q).map(|p| p.matched).unwrap()
        };
        assert_eq!(q("bbox=0,0,0.3,0.3"), 0, "inside the bounding box, outside the cell");
        assert_eq!(q("bbox=0.8,0.8,1.2,1.2"), 1, "inside the cell");
        assert_eq!(q("bbox=0.4,0.4,0.6,0.6"), 1, "on the outline");
    }

    #[test]
    fn queries_filter_sort_and_page() {
        let t = Table::from_layer(&layer());
        let q = |s: &str| {
            let (q, _) = super::super::params::items(&super::super::params::pairs(Some(s)), &[]).unwrap();
            t.query(&q).map(|p| (p.matched, p.rows))
        };
        assert_eq!(q("").unwrap(), (3, vec![0, 1, 2]));
        assert_eq!(q("limit=1&offset=1").unwrap(), (3, vec![1]));
        assert_eq!(q("sortby=-count").unwrap(), (3, vec![0, 2, 1]));
        assert_eq!(q("name=x&sortby=count").unwrap(), (2, vec![2, 0]));
        assert_eq!(q("significant=true").unwrap(), (2, vec![0, 2]));
        assert_eq!(q("bbox=0.05,50,0.5,52").unwrap(), (2, vec![1, 2]));
        // Feature "a" is a triangle: its bounding box holds the south-east
        // corner (0.01, 51.0), its outline does not come near it.
        assert_eq!(q("bbox=0.009,50.9,0.02,51.001").unwrap(), (0, vec![]));
        assert_eq!(q("bbox=0.0,50.9,0.0005,51.0005").unwrap(), (1, vec![0]));
        assert_eq!(
            q("bbox=0.005,51.0,0.006,51.0").unwrap().0,
            0,
            "a degenerate box away from the outline"
        );
        assert_eq!(q("offset=10").unwrap(), (3, vec![]));
        assert_eq!(q("nope=1").unwrap_err().parameter(), Some("nope"));
        assert_eq!(q("count=abc").unwrap_err().parameter(), Some("count"));
        assert_eq!(q("sortby=nope").unwrap_err().parameter(), Some("sortby"));
        assert_eq!(q("datetime=2020-01").unwrap_err().parameter(), Some("datetime"));
        assert_eq!(t.find("c"), Some(2));
        let mut out = Vec::new();
        t.write_feature(2, &t.chosen_columns(Some(&["count".into()])).unwrap(), &mut out);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["id"], "c");
        assert_eq!(v["properties"], json!({"count": 2.5}));
        assert_eq!(v["geometry"]["type"], "Polygon");
    }
}
