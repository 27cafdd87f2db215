//! Result layers: features with WGS84 geometry and a flat property map,
//! written as GeoJSON (RFC 7946: lon/lat, exterior rings counter-clockwise,
//! 6 decimals, a `metadata` foreign member) or as CSV (properties only).

use std::fmt::Write as _;
use std::path::Path;

use geo::{Geometry, MapCoords, Orient};
use serde_json::{Map, Value};

use super::AnalysisError;

/// One feature of a layer.
#[derive(Debug, Clone)]
pub struct Feature {
    /// Stable id (cell id, ward code, ...).
    pub id: String,
    /// Geometry in WGS84 lon/lat degrees.
    pub geometry: Geometry<f64>,
    pub properties: Map<String, Value>,
}

/// A result layer and what produced it.
#[derive(Debug, Clone)]
pub struct Layer {
    pub name: String,
    pub features: Vec<Feature>,
    /// Parameters and choices (cell size and why, band and why, ...).
    pub metadata: Value,
}

/// One property of every feature, as a column: layers built column by
/// column (the API's tables) skip a JSON map per feature.
#[derive(Debug, Clone)]
pub enum Values {
    /// The feature's id (a `cell_id` property).
    Id,
    Str(Vec<String>),
    /// Numbers; non-finite ones are null.
    Num(Vec<f64>),
    /// Whole numbers (written without a fraction).
    Int(Vec<i64>),
    Bool(Vec<bool>),
}

impl Values {
    /// The value of feature `i` (whose id is `id`) as JSON.
    pub fn json(&self, i: usize, id: &str) -> Value {
        match self {
            Values::Id => Value::from(id),
            Values::Str(v) => Value::from(v[i].as_str()),
            Values::Num(v) if v[i].is_finite() => Value::from(v[i]),
            Values::Num(_) => Value::Null,
            Values::Int(v) => Value::from(v[i]),
            Values::Bool(v) => Value::from(v[i]),
        }
    }
}

/// Named property columns, in property order.
pub type Columns = Vec<(&'static str, Values)>;

/// Property maps from columns, one per feature.
pub fn properties(ids: &[String], columns: &Columns) -> Vec<Map<String, Value>> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            columns
                .iter()
                .map(|(name, v)| (name.to_string(), v.json(i, id)))
                .collect()
        })
        .collect()
}

fn push_coord(out: &mut String, c: geo::Coord<f64>) {
    let _ = write!(out, "[{:.6},{:.6}]", c.x, c.y);
}

fn push_ring(out: &mut String, ring: &geo::LineString<f64>) {
    out.push('[');
    for (k, c) in ring.0.iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        push_coord(out, *c);
    }
    out.push(']');
}

fn push_polygon(out: &mut String, p: &geo::Polygon<f64>) {
    out.push('[');
    push_ring(out, p.exterior());
    for r in p.interiors() {
        out.push(',');
        push_ring(out, r);
    }
    out.push(']');
}

/// GeoJSON geometry text, RFC 7946 winding (exterior counter-clockwise).
pub fn geometry_json(g: &Geometry<f64>) -> String {
    let mut out = String::new();
    match g {
        Geometry::Point(p) => {
            out.push_str("{\"type\":\"Point\",\"coordinates\":");
            push_coord(&mut out, p.0);
            out.push('}');
        }
        Geometry::Polygon(p) => {
            out.push_str("{\"type\":\"Polygon\",\"coordinates\":");
            push_polygon(&mut out, &p.orient(geo::orient::Direction::Default));
            out.push('}');
        }
        Geometry::MultiPolygon(mp) => {
            out.push_str("{\"type\":\"MultiPolygon\",\"coordinates\":[");
            for (k, p) in mp.orient(geo::orient::Direction::Default).0.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                push_polygon(&mut out, p);
            }
            out.push_str("]}");
        }
        other => {
            // Other types are not produced by the engine; fall back to geojson's writer.
            let v = geojson::Geometry::from(&other.map_coords(|c| c));
            out.push_str(&serde_json::to_string(&v).unwrap_or_else(|_| "null".into()));
        }
    }
    out
}

/// A circle of `radius_m` around a BNG point as a WGS84 polygon with
/// `vertices` corners (counter-clockwise, closed; vertices through OSTN15).
pub fn circle_wgs84(centre_bng: [f64; 2], radius_m: f64, vertices: usize) -> geo::Polygon<f64> {
    let ring: Vec<geo::Coord<f64>> = (0..=vertices)
        .map(|k| {
            let a = 2.0 * std::f64::consts::PI * (k % vertices) as f64 / vertices as f64;
            let (x, y) = (centre_bng[0] + radius_m * a.cos(), centre_bng[1] + radius_m * a.sin());
            let (lon, lat) = crate::crs::bng_to_lonlat(x, y).unwrap_or((f64::NAN, f64::NAN));
            geo::Coord { x: lon, y: lat }
        })
        .collect();
    geo::Polygon::new(geo::LineString(ring), vec![])
}

impl Layer {
    /// The layer as a GeoJSON FeatureCollection.
    pub fn to_geojson(&self) -> String {
        let mut out = String::with_capacity(self.features.len() * 400);
        out.push_str("{\"type\":\"FeatureCollection\",\"name\":");
        out.push_str(&Value::String(self.name.clone()).to_string());
        out.push_str(",\"metadata\":");
        out.push_str(&self.metadata.to_string());
        out.push_str(",\"features\":[");
        for (k, f) in self.features.iter().enumerate() {
            if k > 0 {
                out.push(',');
            }
            out.push_str("{\"type\":\"Feature\",\"id\":");
            out.push_str(&Value::String(f.id.clone()).to_string());
            out.push_str(",\"geometry\":");
            out.push_str(&geometry_json(&f.geometry));
            out.push_str(",\"properties\":");
            out.push_str(&Value::Object(f.properties.clone()).to_string());
            out.push('}');
        }
        out.push_str("]}");
        out
    }

    /// The properties as CSV (header from the first feature), with `id` first.
    pub fn to_csv(&self) -> String {
        let Some(first) = self.features.first() else {
            return "id\n".into();
        };
        let keys: Vec<&String> = first.properties.keys().collect();
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header = vec!["id".to_string()];
        header.extend(keys.iter().map(|k| k.to_string()));
        let _ = w.write_record(&header);
        for f in &self.features {
            let mut rec = vec![f.id.clone()];
            for k in &keys {
                rec.push(match f.properties.get(*k) {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Null) | None => String::new(),
                    Some(v) => v.to_string(),
                });
            }
            let _ = w.write_record(&rec);
        }
        String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
    }

    /// Writes GeoJSON (`.geojson`/`.json`) or CSV (`.csv`), by extension.
    pub fn write(&self, path: &Path) -> Result<(), AnalysisError> {
        let text = match path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref()
        {
            Some("csv") => self.to_csv(),
            _ => self.to_geojson(),
        };
        std::fs::write(path, text).map_err(|source| AnalysisError::Io {
            path: path.display().to_string(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    #[test]
    fn geojson_is_rfc7946_counter_clockwise_with_six_decimals() {
        // Clockwise input ring.
        let p = polygon![(x: 0.0, y: 0.0), (x: 0.0, y: 1.0), (x: 1.0, y: 1.0), (x: 1.0, y: 0.0), (x: 0.0, y: 0.0)];
        let layer = Layer {
            name: "t".into(),
            features: vec![Feature {
                id: "a".into(),
                geometry: Geometry::Polygon(p),
                properties: Map::from_iter([("z".to_string(), Value::from(1.5))]),
            }],
            metadata: serde_json::json!({"cell_m": 250}),
        };
        let text = layer.to_geojson();
        let v: Value = serde_json::from_str(&text).unwrap();
        let ring = v["features"][0]["geometry"]["coordinates"][0].as_array().unwrap();
        let pts: Vec<(f64, f64)> = ring
            .iter()
            .map(|c| (c[0].as_f64().unwrap(), c[1].as_f64().unwrap()))
            .collect();
        let area2: f64 = pts.windows(2).map(|w| w[0].0 * w[1].1 - w[1].0 * w[0].1).sum();
        assert!(area2 > 0.0, "exterior ring is counter-clockwise: {pts:?}");
        assert!(text.contains("[0.000000,0.000000]"));
        assert_eq!(v["features"][0]["id"], "a");
        assert_eq!(layer.to_csv(), "id,z\na,1.5\n");
    }
}
