//! `/map`: a Leaflet web map over the collections, with Leaflet 1.9.4
//! (BSD-2-Clause, `assets/LEAFLET-LICENSE`) embedded in the binary: it works
//! with no internet and draws no base-map tiles. Wards as a choropleth of
//! incidents, the hotspot layer of the chosen method, schools, stations and
//! (when the server has a `surge` collection) the surge-team areas.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use super::error::ApiError;
use super::AppState;

const PAGE: &str = include_str!("assets/map.html");
const LEAFLET_JS: &str = include_str!("assets/leaflet.js");
const LEAFLET_CSS: &str = include_str!("assets/leaflet.css");

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

/// `GET /map/{asset}`: Leaflet's script and style sheet.
pub async fn asset(Path(name): Path<String>) -> Result<Response, ApiError> {
    let (body, kind) = match name.as_str() {
        "leaflet.js" => (LEAFLET_JS, "text/javascript; charset=utf-8"),
        "leaflet.css" => (LEAFLET_CSS, "text/css; charset=utf-8"),
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
    fn the_page_loads_leaflet_from_us_and_has_its_controls() {
        assert!(super::PAGE.contains("src=\"/map/leaflet.js\""));
        assert!(!super::PAGE.contains("https://"), "no CDN");
        for id in ["crime_type", "from", "to", "method", "teams"] {
            assert!(super::PAGE.contains(&format!("id=\"{id}\"")), "{id}");
        }
        assert!(super::LEAFLET_JS.contains("1.9.4"));
    }
}
