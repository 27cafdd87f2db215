//! GeoJSON features written straight into a byte buffer: ids by `itoa`,
//! coordinates with 6 decimals by integer arithmetic, numbers by `ryu` as
//! serde_json writes them, strings that need no escaping copied between
//! quotes.

use std::io::Write as _;

use super::{BngGeoms, Geoms, Ids, Table};
use crate::analysis::layer::fixed6;
use crate::api::crs::{self, ApiCrs};

pub(super) fn write_num(out: &mut Vec<u8>, v: f64) {
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
pub(super) fn write_str(out: &mut Vec<u8>, s: &str) {
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

impl Table {
    /// Writes feature `i` as GeoJSON with the given property columns.
    pub fn write_feature(&self, i: usize, columns: &[usize], out: &mut Vec<u8>) {
        self.write_feature_in(i, columns, ApiCrs::Crs84, out)
    }

    /// Writes feature `i` as GeoJSON with its geometry in `crs`.
    pub fn write_feature_in(&self, i: usize, columns: &[usize], crs: ApiCrs, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"type\":\"Feature\",\"id\":");
        match &self.shape.ids {
            Ids::Int(v) => out.extend_from_slice(itoa::Buffer::new().format(v[i]).as_bytes()),
            Ids::Str(v) => write_str(out, &v[i]),
        }
        out.extend_from_slice(b",\"geometry\":");
        match crs {
            ApiCrs::Crs84 => self.write_geometry(i, out),
            ApiCrs::Epsg4326 => {
                let mut lonlat = Vec::with_capacity(256);
                self.write_geometry(i, &mut lonlat);
                crate::api::crs::swap_axes(&lonlat, out);
            }
            ApiCrs::Bng => self.write_geometry_bng(i, out),
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

    /// Feature `i`'s geometry in CRS84 (lon, lat; 6 decimals).
    fn write_geometry(&self, i: usize, out: &mut Vec<u8>) {
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
    }

    /// Feature `i`'s geometry in BNG metres: the dataset's own numbers when
    /// the shape holds them, else moved from WGS84 through OSTN15.
    fn write_geometry_bng(&self, i: usize, out: &mut Vec<u8>) {
        match (&self.shape.bng, &self.shape.geoms) {
            (Some(BngGeoms::Points(p)), _) => {
                out.extend_from_slice(b"{\"type\":\"Point\",\"coordinates\":");
                crs::push_bng(out, p[i][0], p[i][1]);
                out.push(b'}');
            }
            (Some(BngGeoms::Json(t)), _) => out.extend_from_slice(t[i].as_bytes()),
            (None, Geoms::Points(p)) => {
                out.extend_from_slice(b"{\"type\":\"Point\",\"coordinates\":");
                crs::push_bng_from_lonlat(out, p[i][0], p[i][1]);
                out.push(b'}');
            }
            (None, Geoms::Json { shapes, .. }) => crs::geometry_json(&shapes[i], &crs::push_bng_from_lonlat, out),
            (None, Geoms::Rings(r)) => r.write_with(i, out, &crs::push_bng_from_lonlat),
        }
    }
}
