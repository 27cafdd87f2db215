//! `/map`: a MapLibre GL JS web map drawing the server's own vector tiles
//! ([`super::tiles`]), so the full-London incident layer and a fine Gi*
//! grid pan and zoom smoothly. Wards as a choropleth of incidents, the
//! hotspot layer of the chosen method, the incidents themselves from zoom
//! 12, schools, stations and (when the server has a `surge` collection) the
//! surge-team areas; a click shows a feature's figures, a ward's with a link
//! to its briefing. It works with no internet: no base map, no CDN, and
//! every request the page makes goes to this server.
//!
//! MapLibre GL JS 5.24.1 (BSD-3-Clause, `assets/MAPLIBRE-LICENSE.txt`) is
//! embedded in the binary, byte for byte the npm package's UMD build (one
//! file with its worker inlined; 6.x ships ES modules and a separate worker
//! file): `npm pack maplibre-gl@5.24.1` (tarball sha256 `b84d7fdf…9bfa9d`),
//! then `package/dist/maplibre-gl.js` (sha256 `a9c9e2aa…33bc7c9`) and
//! `package/dist/maplibre-gl.css` (sha256 `ab1e70d5…a7a732`). To update,
//! repeat with the new version and run the browser test.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use super::error::ApiError;
use super::AppState;

const PAGE: &str = include_str!("assets/map.html");
const MAPLIBRE_JS: &str = include_str!("assets/maplibre-gl.js");
const MAPLIBRE_CSS: &str = include_str!("assets/maplibre-gl.css");

/// The page, with the server's configuration (crime types, months, extent, collections) inlined.
pub fn render(st: &AppState) -> String {
    let config = json!({
        "crime_types": crate::crime_types::CATEGORIES.iter().take(14).map(|c| c.0).collect::<Vec<_>>(),
        "months": st.months.map(|(a, b)| [crate::month::format(a), crate::month::format(b)]),
        "extent": st.extent,
        "collections": st.statics.iter().map(|c| c.id).chain(st.analyses.iter().map(|c| c.id())).collect::<Vec<_>>(),
    });
    // `</` cannot appear in the inlined JSON (it would end the script).
    let config = config.to_string().replace("</", "<\\/");
    PAGE.replacen("/*CONFIG*/{}/*END*/", &config, 1)
}

/// `GET /map`.
pub async fn page(State(st): State<AppState>) -> Html<String> {
    Html(render(&st))
}

/// `GET /map/{asset}`: MapLibre's script and style sheet (gzip-compressed
/// on the wire by the server's compression layer: 1.06 MB → about 290 kB).
pub async fn asset(Path(name): Path<String>) -> Result<Response, ApiError> {
    let (body, kind) = match name.as_str() {
        "maplibre-gl.js" => (MAPLIBRE_JS, "text/javascript; charset=utf-8"),
        "maplibre-gl.css" => (MAPLIBRE_CSS, "text/css; charset=utf-8"),
        _ => return Err(ApiError::NotFound(format!("/map/{name}"))),
    };
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    Ok(r)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_loads_maplibre_from_us_and_has_its_controls() {
        assert!(super::PAGE.contains("src=\"/map/maplibre-gl.js\""));
        assert!(super::PAGE.contains("href=\"/map/maplibre-gl.css\""));
        assert!(!super::PAGE.contains("https://"), "no CDN");
        for id in ["crime_type", "from", "to", "method", "significant", "teams", "layers"] {
            assert!(super::PAGE.contains(&format!("id=\"{id}\"")), "{id}");
        }
        assert!(super::MAPLIBRE_JS.starts_with("/**\n * MapLibre GL JS\n"));
        assert!(super::MAPLIBRE_JS.contains("blob/v5.24.1/LICENSE.txt"));
    }
}
