//! Result layers: features with WGS84 geometry and a flat property map,
//! written as GeoJSON (RFC 7946: lon/lat, exterior rings counter-clockwise,
//! 6 decimals, a `metadata` foreign member) or as CSV (properties only).

use std::borrow::Cow;
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

/// Appends `[x,y]` with 6 decimals ([`fixed6`]).
pub fn push_coord(out: &mut String, c: geo::Coord<f64>) {
    let mut buf = [0u8; 32];
    out.push('[');
    out.push_str(&fixed6(c.x, &mut buf));
    out.push(',');
    out.push_str(&fixed6(c.y, &mut buf));
    out.push(']');
}

/// `x` with 6 decimals, the same text as `format!("{x:.6}")` (RFC 7946's
/// recommended precision: ~0.1 m in lon/lat degrees), several times faster
/// than the formatter (the server writes two per point feature): written
/// into `buf`, except for values the fast path cannot round exactly (near
/// ties at the 7th decimal, |x| ≥ 9·10^9, NaN, infinities), which are formatted.
pub fn fixed6(x: f64, buf: &mut [u8; 32]) -> Cow<'_, str> {
    let scaled = x.abs() * 1e6;
    let frac = scaled - scaled.trunc();
    // `scaled` is within half an ulp (≤ 2^-53 · scaled) of x·10^6, and
    // `frac` is exact: unless x·10^6 may lie on the other side of a tie,
    // rounding `scaled` is the exact decimal rounding of x.
    if !scaled.is_finite() || scaled >= 9.0e15 || (frac - 0.5).abs() <= scaled * 4e-16 {
        return Cow::Owned(format!("{x:.6}"));
    }
    let v = scaled.round() as u64;
    let (int, mut dec) = (v / 1_000_000, v % 1_000_000);
    let mut n = 0;
    if x.is_sign_negative() {
        buf[0] = b'-';
        n = 1;
    }
    let mut ibuf = itoa::Buffer::new();
    let digits = ibuf.format(int).as_bytes();
    buf[n..n + digits.len()].copy_from_slice(digits);
    n += digits.len();
    buf[n] = b'.';
    for k in (1..=6).rev() {
        buf[n + k] = b'0' + (dec % 10) as u8;
        dec /= 10;
    }
    n += 7;
    Cow::Borrowed(std::str::from_utf8(&buf[..n]).expect("ASCII digits"))
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
    fn fixed6_writes_what_the_formatter_writes() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut buf = [0u8; 32];
        let mut check = |x: f64| assert_eq!(fixed6(x, &mut buf), format!("{x:.6}"), "{x:e}");
        for x in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            0.0000005,
            -0.0000005,
            0.0000015,
            0.0000025,
            1e-9,
            -1e-9,
            51.5,
            -0.1278,
            179.999_999_5,
            1e12,
            -1e15,
            1e300,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            check(x);
        }
        for _ in 0..200_000 {
            // London-like lon/lat, ties at the 7th decimal, and wide magnitudes.
            check(rng.gen_range(-0.6..0.4));
            check(rng.gen_range(51.2..51.8));
            check((rng.gen_range(-2_000_000_i64..2_000_000) as f64 + 0.5) / 1e6);
            check(rng.gen_range(-1.0..1.0) * 10f64.powi(rng.gen_range(-8..16)));
        }
    }

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
