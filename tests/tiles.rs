//! Vector tiles (OGC API – Tiles, MVT, WebMercatorQuad) of the real City of
//! London dataset, decoded with geozero's MVT reader: the tile over Bank
//! holds exactly the incidents whose Web Mercator position lies in it (the
//! slippy-map formula, computed here), at their position to a tile unit;
//! low zooms thin points to a pixel; analysis layers and filters tile with
//! the items' parameters; ETags, 304s and bad tile coordinates.

use crate::common;
use crate::common::http;

use std::sync::OnceLock;

use geozero::mvt::{tile, Message, Tile};
use serde_json::Value;

struct City {
    base: String,
    /// (incident id, lon, lat, crime type)
    incidents: Vec<(u64, f64, f64, String)>,
}

fn city(test: &str) -> Option<&'static City> {
    static S: OnceLock<City> = OnceLock::new();
    let ds = common::city_dataset(test)?;
    Some(S.get_or_init(|| {
        let df = hotspots::dataset::read_parquet(&ds.join("incidents.parquet")).unwrap();
        let id = df.column("incident_id").unwrap().u32().unwrap().clone();
        let lon = df.column("lon").unwrap().f64().unwrap().clone();
        let lat = df.column("lat").unwrap().f64().unwrap().clone();
        let ty = df.column("crime_type").unwrap().str().unwrap().clone();
        let incidents = (0..df.height())
            .map(|i| {
                (
                    id.get(i).unwrap() as u64,
                    lon.get(i).unwrap(),
                    lat.get(i).unwrap(),
                    ty.get(i).unwrap().to_string(),
                )
            })
            .collect();
        City {
            base: common::serve_dataset(&ds),
            incidents,
        }
    }))
}

/// The slippy-map tile of a point (OSM wiki's formula), and its fractional
/// position in tile units (0..4096).
fn slippy(lon: f64, lat: f64, z: u8) -> ((u32, u32), (f64, f64)) {
    let n = f64::from(1u32 << z);
    let x = (lon + 180.0) / 360.0 * n;
    let r = lat.to_radians();
    let y = (1.0 - (r.tan() + 1.0 / r.cos()).ln() / std::f64::consts::PI) / 2.0 * n;
    (
        (y.floor() as u32, x.floor() as u32),
        ((x - x.floor()) * 4096.0, (y - y.floor()) * 4096.0),
    )
}

fn get(url: &str, headers: &[(&str, &str)]) -> http::Reply {
    http::request("GET", url, headers, None).unwrap_or_else(|e| panic!("{url}: {e}"))
}

fn layer(r: &http::Reply) -> tile::Layer {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), Some("application/vnd.mapbox-vector-tile"));
    let mut t = Tile::decode(r.body.as_slice()).unwrap();
    assert_eq!(t.layers.len(), 1);
    t.layers.remove(0)
}

/// A feature's first position (tile units), decoding the MoveTo command.
fn first_position(f: &tile::Feature) -> (i64, i64) {
    let zigzag = |v: u32| ((v >> 1) as i64) ^ -((v & 1) as i64);
    assert_eq!(f.geometry[0] & 7, 1, "MoveTo");
    (zigzag(f.geometry[1]), zigzag(f.geometry[2]))
}

fn tag<'a>(l: &'a tile::Layer, f: &tile::Feature, key: &str) -> Option<&'a tile::Value> {
    f.tags
        .chunks(2)
        .find(|kv| l.keys[kv[0] as usize] == key)
        .map(|kv| &l.values[kv[1] as usize])
}

#[test]
fn an_incident_tile_holds_exactly_the_incidents_in_it() {
    let Some(c) = city("an_incident_tile_holds_exactly_the_incidents_in_it") else {
        return;
    };
    let z = 15;
    let ((row, col), _) = slippy(-0.0886, 51.5133, z); // Bank junction
    let r = get(
        &format!("{}/collections/incidents/tiles/WebMercatorQuad/{z}/{row}/{col}", c.base),
        &[],
    );
    let l = layer(&r);
    assert_eq!(l.name, "incidents");
    assert_eq!(l.extent, Some(4096));
    // Every incident whose position falls in the tile or its 1/16 margin.
    let inside: Vec<&(u64, f64, f64, String)> = c
        .incidents
        .iter()
        .filter(|(_, lon, lat, _)| {
            let ((r0, c0), (x, y)) = slippy(*lon, *lat, z);
            let tx = (f64::from(c0) - f64::from(col)) * 4096.0 + x;
            let ty = (f64::from(r0) - f64::from(row)) * 4096.0 + y;
            (-256.0..=4352.0).contains(&tx) && (-256.0..=4352.0).contains(&ty)
        })
        .collect();
    assert!(inside.len() > 100, "{} incidents around Bank", inside.len());
    assert_eq!(l.features.len(), inside.len());
    let by_id: std::collections::HashMap<u64, &tile::Feature> = l.features.iter().map(|f| (f.id.unwrap(), f)).collect();
    for (id, lon, lat, ty) in &inside {
        let f = by_id[id];
        let ((r0, c0), (x, y)) = slippy(*lon, *lat, z);
        let (px, py) = first_position(f);
        let want = (
            (f64::from(c0) - f64::from(col)) * 4096.0 + x,
            (f64::from(r0) - f64::from(row)) * 4096.0 + y,
        );
        assert!(
            (px as f64 - want.0).abs() <= 1.0 && (py as f64 - want.1).abs() <= 1.0,
            "incident {id}: ({px}, {py}) against {want:?}"
        );
        assert_eq!(
            tag(&l, f, "crime_type").and_then(|v| v.string_value.as_deref()),
            Some(ty.as_str())
        );
    }
    // Revalidation.
    let etag = r.header("etag").unwrap().to_string();
    let again = get(
        &format!("{}/collections/incidents/tiles/WebMercatorQuad/{z}/{row}/{col}", c.base),
        &[("If-None-Match", &etag)],
    );
    assert_eq!(again.status, 304);
}

#[test]
fn low_zooms_thin_points_and_filters_apply() {
    let Some(c) = city("low_zooms_thin_points_and_filters_apply") else {
        return;
    };
    // Zoom 10: the City is a few pixels across; one point per pixel.
    let z = 10;
    let ((row, col), _) = slippy(-0.0886, 51.5133, z);
    let l = layer(&get(
        &format!("{}/collections/incidents/tiles/WebMercatorQuad/{z}/{row}/{col}", c.base),
        &[],
    ));
    let pixels: std::collections::HashSet<(i64, i64)> = l
        .features
        .iter()
        .map(|f| {
            let (x, y) = first_position(f);
            (x.div_euclid(16), y.div_euclid(16))
        })
        .collect();
    assert!(!l.features.is_empty());
    assert!(
        l.features.len() < c.incidents.len() / 10,
        "{} features at zoom 10",
        l.features.len()
    );
    assert!(l.features.len() <= pixels.len() + 256, "about one per pixel");
    // A filter tiles as it pages.
    let z = 14;
    let ((row, col), _) = slippy(-0.0886, 51.5133, z);
    let filter: String = form_urlencoded::byte_serialize(b"crime_type = 'Burglary'").collect();
    let l = layer(&get(
        &format!(
            "{}/collections/incidents/tiles/WebMercatorQuad/{z}/{row}/{col}?filter={filter}",
            c.base
        ),
        &[],
    ));
    assert!(!l.features.is_empty());
    for f in &l.features {
        assert_eq!(
            tag(&l, f, "crime_type").and_then(|v| v.string_value.as_deref()),
            Some("Burglary")
        );
    }
    // An analysis layer with its parameters: Gi* cells with their z.
    let l = layer(&get(
        &format!(
            "{}/collections/gistar/tiles/WebMercatorQuad/{z}/{row}/{col}?cell=250&band=750",
            c.base
        ),
        &[],
    ));
    assert_eq!(l.name, "gistar");
    assert!(l.features.len() >= 4, "{} cells", l.features.len());
    for f in &l.features {
        assert_eq!(f.r#type, Some(tile::GeomType::Polygon as i32));
        assert!(tag(&l, f, "gi_z").is_some());
        assert!(tag(&l, f, "id")
            .and_then(|v| v.string_value.as_deref())
            .unwrap()
            .starts_with("sq250-"));
    }
    // Wards as polygons.
    let l = layer(&get(
        &format!("{}/collections/wards/tiles/WebMercatorQuad/{z}/{row}/{col}", c.base),
        &[],
    ));
    assert!(l.features.iter().any(|f| tag(&l, f, "code").is_some()));
}

#[test]
fn tileset_metadata_tilejson_and_bad_tiles() {
    let Some(c) = city("tileset_metadata_tilejson_and_bad_tiles") else {
        return;
    };
    let tj: Value = serde_json::from_slice(
        &get(
            &format!("{}/collections/incidents/tiles/WebMercatorQuad/tilejson", c.base),
            &[],
        )
        .body,
    )
    .unwrap();
    assert_eq!(tj["tilejson"], "3.0.0");
    assert!(tj["tiles"][0]
        .as_str()
        .unwrap()
        .ends_with("/collections/incidents/tiles/WebMercatorQuad/{z}/{y}/{x}"));
    assert_eq!(tj["vector_layers"][0]["id"], "incidents");
    assert_eq!(tj["vector_layers"][0]["fields"]["crime_type"], "string");
    let ts: Value =
        serde_json::from_slice(&get(&format!("{}/collections/gistar/tiles?cell=250", c.base), &[]).body).unwrap();
    let item = ts["tilesets"][0]["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "item")
        .unwrap();
    assert!(item["href"]
        .as_str()
        .unwrap()
        .ends_with("{tileMatrix}/{tileRow}/{tileCol}?cell=250"));
    for (path, parameter) in [
        ("WebMercatorQuad/23/0/0", "tileMatrix"),
        ("WebMercatorQuad/2/4/0", "tileRow"),
        ("WebMercatorQuad/2/0/4", "tileCol"),
        ("WorldCRS84Quad/2/0/0", "tileMatrixSetId"),
        ("WebMercatorQuad/x/0/0", "tileMatrix"),
        ("WebMercatorQuad/2/-1/0", "tileRow"),
    ] {
        let r = get(&format!("{}/collections/incidents/tiles/{path}", c.base), &[]);
        assert_eq!(r.status, 400, "{path}");
        let p: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(p["parameter"], parameter, "{path}");
    }
    let r = get(
        &format!("{}/collections/incidents/tiles/WebMercatorQuad/3/2/3?limit=5", c.base),
        &[],
    );
    assert_eq!(r.status, 400, "paging does not apply to a tile");
}
