//! OGC API – Tiles over every collection: Mapbox Vector Tiles (MVT 2.1,
//! encoded by geozero) in the WebMercatorQuad tile matrix set, so a web
//! map draws the full incident layer or a fine Gi* grid without downloading
//! GeoJSON.
//!
//! | path | what |
//! |---|---|
//! | `/collections/{id}/tiles` | the collection's tilesets (one: WebMercatorQuad) |
//! | `/collections/{id}/tiles/WebMercatorQuad` | the tileset's metadata: its layer, fields, zooms and the tile URL template |
//! | `/collections/{id}/tiles/WebMercatorQuad/tilejson` | TileJSON 3.0 for MapLibre and Leaflet plug-ins |
//! | `/collections/{id}/tiles/WebMercatorQuad/{z}/{row}/{col}` | one tile (OGC API – Tiles order: tileMatrix, tileRow, tileCol) |
//!
//! A tile takes the items' parameters (an analysis's own, `filter`,
//! `datetime`, property filters, `properties`), so it shows the layer the
//! same query's items are. Below zoom 14, points that fall in one pixel
//! of a 256-pixel tile are drawn once, polygons are simplified to a
//! quarter pixel, and polygons smaller than a pixel are left out. Tiles are
//! cached by their ETag in a cache bounded in bytes.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use geozero::mvt::{tile, Message, TagsBuilder, Tile, TileValue};
use geozero::ToMvt;
use serde_json::{json, Value};

use super::error::ApiError;
use super::table::{ColumnData, Ids, Table};
use super::{ogc, params, AppState};

/// The one tile matrix set served.
pub const TMS: &str = "WebMercatorQuad";
/// Tile coordinates per side (MVT's usual 4096).
const EXTENT: u32 = 4096;
/// Deepest zoom served.
pub const MAX_ZOOM: u8 = 22;
/// Below this zoom, points are thinned to one per pixel.
const FULL_DETAIL_ZOOM: u8 = 14;
/// Half the Web Mercator world, metres (EPSG:3857).
const HALF_WORLD_M: f64 = 20_037_508.342_789_244;
/// The media type of an MVT tile.
const MVT: &str = "application/vnd.mapbox-vector-tile";

/// Encoded tiles by ETag within a byte budget, the least recently used
/// evicted first.
pub struct TileCache {
    tiles: Mutex<Tiles>,
    max_bytes: usize,
}

/// Tiles by ETag with the tick of their last use, and the bytes held.
#[derive(Default)]
struct Tiles {
    by_etag: rustc_hash::FxHashMap<String, (Arc<Vec<u8>>, u64)>,
    tick: u64,
    bytes: usize,
}

impl TileCache {
    pub fn new(max_bytes: usize) -> TileCache {
        TileCache {
            tiles: Mutex::new(Tiles::default()),
            max_bytes,
        }
    }

    fn get(&self, key: &str) -> Option<Arc<Vec<u8>>> {
        let mut t = self.tiles.lock().unwrap_or_else(|e| e.into_inner());
        t.tick += 1;
        let tick = t.tick;
        let hit = t.by_etag.get_mut(key)?;
        hit.1 = tick;
        Some(hit.0.clone())
    }

    fn put(&self, key: String, bytes: Arc<Vec<u8>>) {
        let size = key.len() + bytes.len();
        if size > self.max_bytes {
            return;
        }
        let mut t = self.tiles.lock().unwrap_or_else(|e| e.into_inner());
        t.tick += 1;
        let tick = t.tick;
        if let Some((old, _)) = t.by_etag.insert(key.clone(), (bytes, tick)) {
            t.bytes -= key.len() + old.len();
        }
        t.bytes += size;
        // Over budget: the least recently used go (a scan, on eviction only).
        while t.bytes > self.max_bytes {
            let Some(oldest) = t
                .by_etag
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some((b, _)) = t.by_etag.remove(&oldest) {
                t.bytes -= oldest.len() + b.len();
            }
        }
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.tiles.lock().unwrap_or_else(|e| e.into_inner()).bytes
    }
}

/// A tile's bounds in Web Mercator metres: `[left, bottom, right, top]`.
pub fn tile_bounds_m(z: u8, row: u32, col: u32) -> [f64; 4] {
    let size = 2.0 * HALF_WORLD_M / f64::from(1u32 << z);
    let left = -HALF_WORLD_M + f64::from(col) * size;
    let top = HALF_WORLD_M - f64::from(row) * size;
    [left, top - size, left + size, top]
}

/// The box `[minlon, minlat, maxlon, maxlat]` (CRS84 degrees) of the
/// features a tile draws: the tile and a sixteenth of a tile around it, so
/// lines and outlines run on past the edge instead of stopping at it.
pub fn padded_box(z: u8, row: u32, col: u32) -> [f64; 4] {
    let [left, bottom, right, top] = tile_bounds_m(z, row, col);
    let pad = (right - left) / 16.0;
    let (lon0, lat0) = lonlat(left - pad, bottom - pad);
    let (lon1, lat1) = lonlat(right + pad, top + pad);
    [lon0, lat0, lon1, lat1]
}

/// WGS84 lon/lat (degrees) to Web Mercator metres.
pub fn mercator(lon: f64, lat: f64) -> (f64, f64) {
    let lat = lat.clamp(-85.051_128_779_806_6, 85.051_128_779_806_6);
    let r = HALF_WORLD_M / std::f64::consts::PI;
    (
        lon.to_radians() * r,
        r * (std::f64::consts::FRAC_PI_4 + lat.to_radians() / 2.0).tan().ln(),
    )
}

/// Web Mercator metres to WGS84 lon/lat (degrees).
pub fn lonlat(x: f64, y: f64) -> (f64, f64) {
    let r = HALF_WORLD_M / std::f64::consts::PI;
    (
        (x / r).to_degrees(),
        (2.0 * (y / r).exp().atan() - std::f64::consts::FRAC_PI_2).to_degrees(),
    )
}

/// The one tile matrix set served, or a 400 naming `tileMatrixSetId`.
fn check_tms(tms: &str) -> Result<(), ApiError> {
    if tms == TMS {
        Ok(())
    } else {
        Err(ApiError::param(
            "tileMatrixSetId",
            format!("{tms:?}: this server serves {TMS} only"),
        ))
    }
}

fn check_tile(z: u8, row: u32, col: u32) -> Result<(), ApiError> {
    if z > MAX_ZOOM {
        return Err(ApiError::param(
            "tileMatrix",
            format!("zoom {z} is deeper than {MAX_ZOOM}"),
        ));
    }
    let n = 1u64 << z;
    if u64::from(row) >= n {
        return Err(ApiError::param(
            "tileRow",
            format!("row {row} is outside zoom {z} (0..{})", n - 1),
        ));
    }
    if u64::from(col) >= n {
        return Err(ApiError::param(
            "tileCol",
            format!("column {col} is outside zoom {z} (0..{})", n - 1),
        ));
    }
    Ok(())
}

/// Encodes the features of `table` that `rows` names (those of the page's
/// query) meeting tile `z/row/col` as one MVT layer called `layer`.
pub fn encode(table: &Table, rows: &[u32], columns: &[usize], layer: &str, z: u8, row: u32, col: u32) -> Vec<u8> {
    use geo::{BoundingRect, MapCoords, Simplify};
    let [left, bottom, right, top] = tile_bounds_m(z, row, col);
    let size = right - left;
    let bbox = padded_box(z, row, col);
    let pixel = size / 256.0;
    let thin = z < FULL_DETAIL_ZOOM;
    let mut seen_pixels = rustc_hash::FxHashSet::default();
    let mut tags = TagsBuilder::<String>::new();
    let mut features = Vec::new();
    for &i in rows {
        let i = i as usize;
        if !table.meets(i, bbox) {
            continue;
        }
        let g = table.geometry(i).map_coords(|c| {
            let (x, y) = mercator(c.x, c.y);
            geo::coord! {x: x, y: y}
        });
        let g = match g {
            geo::Geometry::Point(p) => {
                if thin {
                    let px = ((p.x() - left) / pixel).floor() as i64;
                    let py = ((top - p.y()) / pixel).floor() as i64;
                    if !seen_pixels.insert((px, py)) {
                        continue;
                    }
                }
                geo::Geometry::Point(p)
            }
            other => {
                let Some(r) = other.bounding_rect() else { continue };
                if thin && r.width() < pixel && r.height() < pixel {
                    continue;
                }
                match other {
                    geo::Geometry::Polygon(p) => geo::Geometry::Polygon(p.simplify(pixel / 4.0)),
                    geo::Geometry::MultiPolygon(p) => geo::Geometry::MultiPolygon(p.simplify(pixel / 4.0)),
                    g => g,
                }
            }
        };
        let Ok(mut f) = g.to_mvt(EXTENT, left, bottom, right, top) else {
            continue;
        };
        match &table.shape.ids {
            Ids::Int(v) => f.id = Some(v[i]),
            Ids::Str(v) => {
                let (k, val) = tags.insert("id".to_string(), TileValue::Str(v[i].to_string()));
                f.tags.extend([k, val]);
            }
        }
        for &c in columns {
            let column = &table.columns[c];
            let value = match &column.data {
                ColumnData::Str { dict, codes } => match codes[i] {
                    u32::MAX => None,
                    k => Some(TileValue::Str(dict[k as usize].to_string())),
                },
                ColumnData::Num(v) if v[i].is_nan() => None,
                ColumnData::Num(v) if v[i].fract() == 0.0 && v[i].abs() < 9e15 => Some(TileValue::Sint(v[i] as i64)),
                ColumnData::Num(v) => Some(TileValue::Double(v[i])),
                ColumnData::Bool(v) => v[i].map(TileValue::Bool),
                ColumnData::Json(v) => (!v[i].is_null()).then(|| TileValue::Str(v[i].to_string())),
            };
            if let Some(value) = value {
                let (k, val) = tags.insert(column.name.clone(), value);
                f.tags.extend([k, val]);
            }
        }
        features.push(f);
    }
    let (keys, values) = tags.into_tags();
    let tile = Tile {
        layers: vec![tile::Layer {
            version: 2,
            name: layer.to_string(),
            features,
            keys,
            values: values.into_iter().map(Into::into).collect(),
            extent: Some(EXTENT),
        }],
    };
    tile.encode_to_vec()
}

/// `GET /collections/{id}/tiles/WebMercatorQuad/{z}/{row}/{col}`.
pub async fn tile(
    State(st): State<AppState>,
    Path((id, tms, z, row, col)): Path<(String, String, String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let number = |name: &str, v: &str| -> Result<u32, ApiError> {
        v.parse()
            .map_err(|_| ApiError::param(name, format!("{v:?} is not a whole number")))
    };
    let z = number("tileMatrix", &z)?.min(u32::from(u8::MAX)) as u8;
    let (row, col) = (number("tileRow", &row)?, number("tileCol", &col)?);
    check_tms(&tms)?;
    check_tile(z, row, col)?;
    let pairs = params::pairs(uri.query())?;
    for (k, _) in &pairs {
        if ["limit", "offset", "bbox", "bbox-crs", "crs", "sortby", "f"].contains(&k.as_str()) {
            return Err(ApiError::UnknownParameter(k.clone()));
        }
    }
    let r = ogc::resolve(&st, &id, &pairs).await?;
    let etag = super::cache::etag(&[&r.version, &id, &format!("{z}/{row}/{col}"), uri.query().unwrap_or("")]);
    if let Some(resp) = ogc::not_modified(&headers, &etag) {
        return Ok(resp);
    }
    let bytes = match st.tiles.get(&etag) {
        Some(b) => b,
        None => {
            let table = r.table();
            let mut q = r.query.clone();
            q.limit = usize::MAX;
            q.offset = 0;
            // The R-tree's features near the tile (large tables), then the query.
            let near = table.shape.rows_meeting(padded_box(z, row, col));
            let page = table.query_among(&q, near)?;
            let b = Arc::new(encode(table, &page.rows, &page.columns, &id, z, row, col));
            st.tiles.put(etag.clone(), b.clone());
            b
        }
    };
    let mut resp = bytes.as_ref().clone().into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(MVT));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    Ok(resp)
}

/// The tile URL template of a collection, with the items' query kept.
fn template(base: &str, id: &str, query: Option<&str>, order: &str) -> String {
    let q = query
        .filter(|q| !q.is_empty())
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    format!("{base}/collections/{id}/tiles/{TMS}/{order}{q}")
}

/// The fields of a collection's features, for the tileset and TileJSON.
fn fields(st: &AppState, id: &str) -> Result<serde_json::Map<String, Value>, ApiError> {
    let found = st.find(id).ok_or_else(|| ApiError::NoCollection(id.to_string()))?;
    let mut out = serde_json::Map::new();
    match found {
        super::Found::Static(c) => {
            for col in &c.table.columns {
                out.insert(col.name.clone(), col.schema_type().into());
            }
        }
        super::Found::Analysis(c) => {
            for p in c.spec().properties.iter().flat_map(|g| g.iter()) {
                out.insert(p.name.to_string(), p.ty.json_type().into());
            }
        }
    }
    Ok(out)
}

/// `GET /collections/{id}/tiles`.
pub async fn tilesets(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    fields(&st, &id)?;
    let base = ogc::base_url(&st, &headers);
    let doc = json!({
        "links": [{"href": format!("{base}/collections/{id}/tiles"), "rel": "self", "type": "application/json"}],
        "tilesets": [tileset_link(&base, &id, uri.query())],
    });
    Ok(ogc::json_response(&doc, "application/json"))
}

fn tileset_link(base: &str, id: &str, query: Option<&str>) -> Value {
    json!({
        "title": format!("{id} as vector tiles"),
        "dataType": "vector",
        "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
        "tileMatrixSetURI": "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad",
        "links": [
            {"href": format!("{base}/collections/{id}/tiles/{TMS}"), "rel": "self", "type": "application/json", "title": "the tileset"},
            {"href": template(base, id, query, "{tileMatrix}/{tileRow}/{tileCol}"), "rel": "item", "type": MVT, "templated": true},
        ],
    })
}

/// `GET /collections/{id}/tiles/WebMercatorQuad`: the tileset's metadata.
pub async fn tileset(
    State(st): State<AppState>,
    Path((id, tms)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    check_tms(&tms)?;
    let fields = fields(&st, &id)?;
    let base = ogc::base_url(&st, &headers);
    let mut doc = tileset_link(&base, &id, uri.query());
    doc["layers"] = json!([{"id": id, "dataType": "vector", "geometryDimension": null, "propertiesSchema": {"type": "object", "properties": fields.iter().map(|(k, t)| (k.clone(), json!({"type": t}))).collect::<serde_json::Map<_, _>>()}}]);
    doc["tileMatrixSetLimits"] = json!({"minTileMatrix": "0", "maxTileMatrix": MAX_ZOOM.to_string()});
    if let Some(a) = doc["links"].as_array_mut() {
        a.push(json!({"href": format!("{base}/collections/{id}/tiles/{TMS}/tilejson"), "rel": "alternate", "type": "application/json", "title": "TileJSON"}));
    }
    Ok(ogc::json_response(&doc, "application/json"))
}

/// `GET /collections/{id}/tiles/WebMercatorQuad/tilejson`: TileJSON 3.0.
pub async fn tilejson(
    State(st): State<AppState>,
    Path((id, tms)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    check_tms(&tms)?;
    let fields = fields(&st, &id)?;
    let base = ogc::base_url(&st, &headers);
    let b = st.extent.unwrap_or([-180.0, -85.0, 180.0, 85.0]);
    let doc = json!({
        "tilejson": "3.0.0",
        "name": id,
        "tiles": [template(&base, &id, uri.query(), "{z}/{y}/{x}")],
        "minzoom": 0,
        "maxzoom": MAX_ZOOM,
        "bounds": b,
        "center": [(b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0, 10],
        "vector_layers": [{"id": id, "fields": fields}],
    });
    Ok(ogc::json_response(&doc, "application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_bounds_and_mercator_agree() {
        // Zoom 0 is the world; the tile over Charing Cross at zoom 14.
        assert_eq!(
            tile_bounds_m(0, 0, 0),
            [-HALF_WORLD_M, -HALF_WORLD_M, HALF_WORLD_M, HALF_WORLD_M]
        );
        let (x, y) = mercator(-0.1246, 51.5074);
        let n = f64::from(1u32 << 14);
        let col = ((x + HALF_WORLD_M) / (2.0 * HALF_WORLD_M) * n).floor() as u32;
        let row = ((HALF_WORLD_M - y) / (2.0 * HALF_WORLD_M) * n).floor() as u32;
        // The slippy-map formula (OSM wiki) for the same point.
        let lat = 51.5074f64.to_radians();
        let want_col = ((-0.1246 + 180.0) / 360.0 * n).floor() as u32;
        let want_row = ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor() as u32;
        assert_eq!((row, col), (want_row, want_col));
        let b = tile_bounds_m(14, row, col);
        assert!(b[0] <= x && x <= b[2] && b[1] <= y && y <= b[3]);
        let (lon, lat) = lonlat(x, y);
        assert!((lon + 0.1246).abs() < 1e-9 && (lat - 51.5074).abs() < 1e-9);
    }

    #[test]
    fn tiles_out_of_range_are_refused() {
        assert!(check_tile(23, 0, 0).is_err());
        assert_eq!(check_tile(2, 4, 0).unwrap_err().parameter(), Some("tileRow"));
        assert_eq!(check_tile(2, 0, 4).unwrap_err().parameter(), Some("tileCol"));
        assert!(check_tile(2, 3, 3).is_ok());
    }

    #[test]
    fn the_cache_keeps_within_its_bytes() {
        let c = TileCache::new(100);
        c.put("a".into(), Arc::new(vec![0; 60]));
        c.put("b".into(), Arc::new(vec![0; 30]));
        assert!(c.get("a").is_some(), "a is now the most recent");
        c.put("c".into(), Arc::new(vec![0; 30]));
        assert!(c.get("b").is_none(), "b was the least recently used");
        assert!(c.get("a").is_some() && c.get("c").is_some());
        assert!(c.bytes() <= 100);
        c.put("big".into(), Arc::new(vec![0; 200]));
        assert!(c.get("big").is_none());
    }
}
