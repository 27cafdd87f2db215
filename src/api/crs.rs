//! OGC API – Features Part 2, coordinate reference systems by reference
//! (OGC 18-058r1): the CRSs a client may ask items in (`crs`) and give a
//! `bbox` in (`bbox-crs`).
//!
//! | CRS | URI | axis order in GeoJSON |
//! |---|---|---|
//! | WGS84 lon/lat (default) | `http://www.opengis.net/def/crs/OGC/1.3/CRS84` | lon, lat |
//! | WGS84 (EPSG's axis order) | `http://www.opengis.net/def/crs/EPSG/0/4326` | lat, lon |
//! | British National Grid | `http://www.opengis.net/def/crs/EPSG/0/27700` | easting, northing (metres) |
//!
//! The dataset's layers keep their BNG coordinates as the dataset holds
//! them ([`super::table::BngGeoms`]): an item in EPSG:27700 has exactly the
//! Parquet table's numbers. Analysis layers are held in WGS84; their BNG
//! answer goes back through OSTN15 (millimetres).

use std::io::Write as _;

use super::error::ApiError;

pub const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
pub const EPSG_4326: &str = "http://www.opengis.net/def/crs/EPSG/0/4326";
pub const EPSG_27700: &str = "http://www.opengis.net/def/crs/EPSG/0/27700";

/// Every CRS items can be given in, the default first.
pub const SUPPORTED: [&str; 3] = [CRS84, EPSG_4326, EPSG_27700];

/// A CRS of the API's answers and `bbox`es.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ApiCrs {
    /// WGS84, longitude then latitude (degrees).
    #[default]
    Crs84,
    /// WGS84, latitude then longitude (degrees): EPSG's own axis order.
    Epsg4326,
    /// British National Grid, easting then northing (metres).
    Bng,
}

impl ApiCrs {
    pub fn uri(self) -> &'static str {
        match self {
            ApiCrs::Crs84 => CRS84,
            ApiCrs::Epsg4326 => EPSG_4326,
            ApiCrs::Bng => EPSG_27700,
        }
    }

    /// Parses parameter `param`'s value: one of [`SUPPORTED`] (`https` and
    /// the safe CURIEs `[OGC:CRS84]`, `[EPSG:4326]`, `[EPSG:27700]` too).
    pub fn parse(param: &str, v: &str) -> Result<ApiCrs, ApiError> {
        let t = v.trim();
        let t = t
            .strip_prefix("https://")
            .map_or_else(|| t.to_string(), |r| format!("http://{r}"));
        let found = match t.as_str() {
            CRS84 | "[OGC:CRS84]" => Some(ApiCrs::Crs84),
            EPSG_4326 | "[EPSG:4326]" => Some(ApiCrs::Epsg4326),
            EPSG_27700 | "[EPSG:27700]" => Some(ApiCrs::Bng),
            _ => None,
        };
        found.ok_or_else(|| {
            ApiError::param(
                param,
                format!(
                    "{v:?} is not a CRS this server offers; use one of {}",
                    SUPPORTED.join(", ")
                ),
            )
        })
    }

    /// The `Content-Crs` header's value: the URI in angle brackets.
    pub fn header(self) -> String {
        format!("<{}>", self.uri())
    }
}

/// Copies GeoJSON geometry text written by this crate (no spaces; every
/// position a `[x,y]` of two numbers), swapping the two numbers of each
/// position: CRS84's lon,lat become EPSG:4326's lat,lon.
pub fn swap_axes(text: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < text.len() {
        let c = text[i];
        out.push(c);
        i += 1;
        // A position opens with `[` followed by a number.
        if c == b'[' && i < text.len() && (text[i] == b'-' || text[i].is_ascii_digit()) {
            let end = text[i..].iter().position(|&b| b == b']').map_or(text.len(), |p| i + p);
            let pos = &text[i..end];
            match pos.iter().position(|&b| b == b',') {
                Some(k) => {
                    out.extend_from_slice(&pos[k + 1..]);
                    out.push(b',');
                    out.extend_from_slice(&pos[..k]);
                }
                None => out.extend_from_slice(pos),
            }
            i = end;
        }
    }
}

/// Appends a BNG coordinate as the shortest text that reads back as the
/// same `f64` (the dataset's own numbers, unrounded).
pub fn push_bng(out: &mut Vec<u8>, e: f64, n: f64) {
    let mut buf = ryu::Buffer::new();
    out.push(b'[');
    out.extend_from_slice(buf.format(e).as_bytes());
    out.push(b',');
    out.extend_from_slice(buf.format(n).as_bytes());
    out.push(b']');
}

/// Appends a coordinate moved from WGS84 to BNG through OSTN15, to the
/// millimetre (`null` outside OSTN15's cover, which no London feature is).
pub fn push_bng_from_lonlat(out: &mut Vec<u8>, lon: f64, lat: f64) {
    match crate::crs::lonlat_to_bng(lon, lat) {
        Some((e, n)) => {
            let _ = write!(out, "[{:.3},{:.3}]", e, n);
        }
        None => out.extend_from_slice(b"null"),
    }
}

/// GeoJSON geometry text of a geometry in BNG metres, with each
/// coordinate written by `push` (rings in the order the geometry has them).
pub fn geometry_json(g: &geo::Geometry<f64>, push: &dyn Fn(&mut Vec<u8>, f64, f64), out: &mut Vec<u8>) {
    use geo::Geometry as G;
    let ring = |out: &mut Vec<u8>, l: &geo::LineString<f64>| {
        out.push(b'[');
        for (k, c) in l.0.iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            push(out, c.x, c.y);
        }
        out.push(b']');
    };
    let polygon = |out: &mut Vec<u8>, p: &geo::Polygon<f64>| {
        out.push(b'[');
        ring(out, p.exterior());
        for r in p.interiors() {
            out.push(b',');
            ring(out, r);
        }
        out.push(b']');
    };
    match g {
        G::Point(p) => {
            out.extend_from_slice(b"{\"type\":\"Point\",\"coordinates\":");
            push(out, p.x(), p.y());
            out.push(b'}');
        }
        G::Polygon(p) => {
            out.extend_from_slice(b"{\"type\":\"Polygon\",\"coordinates\":");
            polygon(out, p);
            out.push(b'}');
        }
        G::MultiPolygon(mp) => {
            out.extend_from_slice(b"{\"type\":\"MultiPolygon\",\"coordinates\":[");
            for (k, p) in mp.0.iter().enumerate() {
                if k > 0 {
                    out.push(b',');
                }
                polygon(out, p);
            }
            out.extend_from_slice(b"]}");
        }
        G::LineString(l) => {
            out.extend_from_slice(b"{\"type\":\"LineString\",\"coordinates\":");
            ring(out, l);
            out.push(b'}');
        }
        other => {
            // Not produced by the engine: a polygon of its bounding box.
            use geo::BoundingRect;
            match other.bounding_rect() {
                Some(r) => geometry_json(&G::Polygon(r.to_polygon()), push, out),
                None => out.extend_from_slice(b"null"),
            }
        }
    }
}

/// A BNG box `[min_e, min_n, max_e, max_n]` (metres) as the WGS84 polygon
/// it covers, each side cut into 32 pieces moved through OSTN15 (a BNG
/// straight line is slightly curved in lon/lat; at London's scale the
/// pieces stay within millimetres of it).
pub fn bng_box_in_wgs84(b: [f64; 4]) -> Result<geo::Polygon<f64>, ApiError> {
    const PIECES: usize = 32;
    let corners = [[b[0], b[1]], [b[2], b[1]], [b[2], b[3]], [b[0], b[3]]];
    let mut ring = Vec::with_capacity(4 * PIECES + 1);
    for k in 0..4 {
        let (a, z) = (corners[k], corners[(k + 1) % 4]);
        for s in 0..PIECES {
            let t = s as f64 / PIECES as f64;
            let (e, n) = (a[0] + t * (z[0] - a[0]), a[1] + t * (z[1] - a[1]));
            let (lon, lat) = crate::crs::bng_to_lonlat(e, n).ok_or_else(|| {
                ApiError::param(
                    "bbox",
                    format!("({e}, {n}) is outside the British National Grid's cover (OSTN15)"),
                )
            })?;
            ring.push(geo::coord! { x: lon, y: lat });
        }
    }
    ring.push(ring[0]);
    Ok(geo::Polygon::new(geo::LineString(ring), Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crs_values_parse_and_unknown_ones_are_a_400_naming_the_parameter() {
        assert_eq!(ApiCrs::parse("crs", CRS84).unwrap(), ApiCrs::Crs84);
        assert_eq!(ApiCrs::parse("crs", EPSG_4326).unwrap(), ApiCrs::Epsg4326);
        assert_eq!(ApiCrs::parse("crs", EPSG_27700).unwrap(), ApiCrs::Bng);
        assert_eq!(
            ApiCrs::parse("crs", "https://www.opengis.net/def/crs/EPSG/0/27700").unwrap(),
            ApiCrs::Bng
        );
        assert_eq!(ApiCrs::parse("bbox-crs", "[EPSG:27700]").unwrap(), ApiCrs::Bng);
        let e = ApiCrs::parse("crs", "http://www.opengis.net/def/crs/EPSG/0/3857").unwrap_err();
        assert_eq!(e.parameter(), Some("crs"));
        assert_eq!(ApiCrs::Bng.header(), "<http://www.opengis.net/def/crs/EPSG/0/27700>");
    }

    #[test]
    fn swapping_axes_swaps_every_position_and_nothing_else() {
        let mut out = Vec::new();
        swap_axes(br#"{"type":"Point","coordinates":[-0.1,51.5]}"#, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"type":"Point","coordinates":[51.5,-0.1]}"#
        );
        let mut out = Vec::new();
        swap_axes(
            br#"{"type":"MultiPolygon","coordinates":[[[[0.1,51.0],[0.2,51.0],[0.2,51.1],[0.1,51.0]]]]}"#,
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"type":"MultiPolygon","coordinates":[[[[51.0,0.1],[51.0,0.2],[51.1,0.2],[51.0,0.1]]]]}"#
        );
    }

    #[test]
    fn bng_text_reads_back_as_the_same_numbers() {
        let (e, n) = (530_123.456_789_012_3, 180_987.000_000_000_1);
        let mut out = Vec::new();
        push_bng(&mut out, e, n);
        let v: [f64; 2] = serde_json::from_slice(&out).unwrap();
        assert_eq!(v, [e, n]);
    }

    #[test]
    fn a_bng_box_covers_what_its_corners_cover_in_wgs84() {
        use geo::Contains;
        let b = [530_000.0, 180_000.0, 531_000.0, 181_000.0];
        let poly = bng_box_in_wgs84(b).unwrap();
        // A point 1 m inside each corner is in; 1 m outside is out.
        for (e, n, inside) in [
            (530_001.0, 180_001.0, true),
            (530_999.0, 180_999.0, true),
            (529_999.0, 180_500.0, false),
            (530_500.0, 181_001.0, false),
        ] {
            let (lon, lat) = crate::crs::bng_to_lonlat(e, n).unwrap();
            assert_eq!(poly.contains(&geo::point!(x: lon, y: lat)), inside, "({e}, {n})");
        }
        assert!(bng_box_in_wgs84([0.0, 0.0, 1e9, 1e9]).is_err());
    }
}
