//! The HTTP API (axum): OGC API – Features Part 1 (Core, GeoJSON, OAS 3.0,
//! HTML) over the dataset's layers and the analysis layers, the web map at
//! `/map`, and one problem-document error response.
//!
//! | file | owns |
//! |---|---|
//! | `mod.rs` | [`AppState`], the router, [`serve`] (takes a bound listener: tests use port 0) |
//! | `error.rs` | [`ApiError`] → RFC 9457 `application/problem+json`, naming the bad parameter |
//! | `params.rs` | strict query parsing: bbox, limit, offset, datetime, properties, sortby; the analysis parameters go to their [`crate::analysis::params::Values`] |
//! | `table.rs` | a collection's features in compact form (ids and geometry in a shareable [`table::Shape`]); filtering, sorting, paging, GeoJSON writing |
//! | `collections.rs` | the dataset's own collections (wards, boroughs, incidents, schools, stations) |
//! | `analyses/` | the analysis collections, one per analysis offered over HTTP; Gi*'s shared-shape tables (`gistar.rs`) |
//! | `cache.rs` | computed layers cached by canonical parameters; grid shapes shared by the layers on a grid; strong ETags (per content coding) |
//! | `ogc.rs` | the OGC API – Features handlers |
//! | `openapi.rs` | the OpenAPI 3.0 document at `/api` |
//! | `html.rs` | HTML for browsers (landing page, collections) |
//! | `map.rs` | `/map`: Leaflet (vendored, served by us) over the collections |
//!
//! Coordinates in every response are WGS84 lon/lat degrees (CRS84), per RFC 7946.

pub mod analyses;
pub mod cache;
pub mod collections;
pub mod error;
pub mod html;
pub mod map;
pub mod ogc;
pub mod openapi;
pub mod params;
pub mod table;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderValue, Method, Request};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use tower_http::compression::CompressionLayer;
use tower_http::cors::CorsLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use error::ApiError;

use crate::dataset::{Dataset, DatasetError};
use analyses::AnalysisCollection;
use collections::StaticCollection;

/// How many computed layers the cache keeps.
pub const CACHE_LAYERS: usize = 32;

/// Features all cached layers may hold together (a 250 m Gi* layer has
/// ~25k, a 50 m KDE layer ~640k): bounds the server's memory whatever mix of
/// parameters it is asked for.
pub const CACHE_FEATURES: usize = 1_500_000;

/// How many grids' cell shapes (ids, polygons) are kept for new layers.
pub const CACHE_GRIDS: usize = 4;

/// Everything the handlers share.
pub struct Inner {
    pub dataset: Arc<Dataset>,
    pub statics: Vec<StaticCollection>,
    pub analyses: Vec<AnalysisCollection>,
    pub cache: cache::LayerCache,
    /// Cell ids and polygons of the grids layers were computed on.
    pub shapes: cache::ShapeCache,
    /// What analyses keep between requests (the study-area raster of POI-risk layers).
    pub memo: crate::analysis::run::Memo,
    /// Startup token: part of the ETags of static responses.
    pub version: String,
    /// Startup time (RFC 3339): the `timeStamp` of static pages.
    pub started: String,
    /// The study area `[minlon, minlat, maxlon, maxlat]` (CRS84).
    pub extent: Option<[f64; 4]>,
    /// First and last month of incidents (month numbers).
    pub months: Option<(u32, u32)>,
    /// `Access-Control-Allow-Origin` to send (`*` or an origin); none by default.
    pub cors: Option<String>,
    /// Requests slower than this get a 408.
    pub timeout: Duration,
}

/// The shared state (cheap to clone).
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Where a collection id leads.
pub enum Found<'a> {
    Static(&'a StaticCollection),
    Analysis(&'a AnalysisCollection),
}

impl AppState {
    /// Builds the static collections from an opened dataset (under a second
    /// for the full Met data: every feature is put in compact form once).
    /// The incidents frame's rows are then freed: the incidents collection
    /// has its own table and analyses read the dataset's typed columns.
    pub fn new(dataset: Dataset) -> Result<AppState, DatasetError> {
        Self::with_analyses(dataset, analyses::analysis_collections())
    }

    /// As [`AppState::new`] with a given list of analysis collections.
    pub fn with_analyses(mut dataset: Dataset, analyses: Vec<AnalysisCollection>) -> Result<AppState, DatasetError> {
        let statics = collections::static_collections(&dataset)?;
        dataset.release_incident_rows();
        let extent = statics
            .iter()
            .find(|c| c.id == "wards")
            .and_then(|c| c.extent)
            .or_else(|| statics.iter().find(|c| c.id == "incidents").and_then(|c| c.extent));
        let months = statics
            .iter()
            .find(|c| c.id == "incidents")
            .and_then(|c| c.table.months.as_ref())
            .and_then(|m| Some((*m.iter().min()?, *m.iter().max()?)));
        let nanos = cache::unix_nanos();
        Ok(AppState(Arc::new(Inner {
            dataset: Arc::new(dataset),
            statics,
            analyses,
            cache: cache::LayerCache::new(CACHE_LAYERS, CACHE_FEATURES),
            shapes: cache::ShapeCache::new(CACHE_GRIDS),
            memo: Default::default(),
            version: format!("{nanos:x}"),
            started: cache::now_rfc3339(),
            extent,
            months,
            cors: None,
            timeout: Duration::from_secs(120),
        })))
    }

    /// Sends CORS headers allowing `origin` (`*` for any).
    pub fn with_cors(self, origin: Option<String>) -> AppState {
        let mut inner = Arc::try_unwrap(self.0).unwrap_or_else(|_| panic!("with_cors before the state is shared"));
        inner.cors = origin;
        AppState(Arc::new(inner))
    }

    /// A collection by id.
    pub fn find(&self, id: &str) -> Option<Found<'_>> {
        if let Some(s) = self.statics.iter().find(|c| c.id == id) {
            return Some(Found::Static(s));
        }
        self.analyses.iter().find(|c| c.id() == id).map(Found::Analysis)
    }
}

/// Hands the allocator's free pages back to the OS (see [`crate::sys::release_free_memory`]).
pub fn release_free_memory() {
    crate::sys::release_free_memory()
}

/// The router: every route, the middleware (timeout, gzip, optional CORS,
/// one log line per request) and a problem document for unknown paths.
pub fn router(state: AppState) -> Router {
    let cors = state.cors.as_deref().and_then(|o| {
        let layer = CorsLayer::new().allow_methods([Method::GET, Method::HEAD]);
        if o == "*" {
            Some(layer.allow_origin(tower_http::cors::Any))
        } else {
            HeaderValue::from_str(o).ok().map(|v| layer.allow_origin(v))
        }
    });
    let timeout = state.timeout;
    let mut app = Router::new()
        .route("/", get(ogc::landing))
        .route("/conformance", get(ogc::conformance))
        .route("/api", get(openapi::handler))
        .route("/collections", get(ogc::collections))
        .route("/collections/{collection_id}", get(ogc::collection))
        .route("/collections/{collection_id}/items", get(ogc::items))
        .route("/collections/{collection_id}/items/{feature_id}", get(ogc::item))
        .route("/map", get(map::page))
        .route("/map/{asset}", get(map::asset))
        .fallback(ogc::not_found)
        .with_state(state)
        .layer(CompressionLayer::new().gzip(true))
        .layer(axum::middleware::map_response(etag_per_encoding))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_request(())
                .on_response(log_response),
        );
    if let Some(c) = cors {
        app = app.layer(c);
    }
    app
}

/// A compressed response is another representation: its ETag names the
/// coding ([`cache::encoded_etag`]); `If-None-Match` takes either form.
async fn etag_per_encoding(mut r: Response) -> Response {
    let h = r.headers_mut();
    let tagged = match (h.get(header::CONTENT_ENCODING), h.get(header::ETAG)) {
        (Some(enc), Some(tag)) => match (enc.to_str(), tag.to_str()) {
            (Ok(enc), Ok(tag)) => HeaderValue::from_str(&cache::encoded_etag(tag, enc)).ok(),
            _ => None,
        },
        _ => None,
    };
    if let Some(v) = tagged {
        h.insert(header::ETAG, v);
    }
    r
}

fn request_span<B>(r: &Request<B>) -> tracing::Span {
    tracing::info_span!("http", method = %r.method(), uri = %r.uri())
}

/// The one log line per request: status and latency (in the request's span).
fn log_response<B>(r: &axum::http::Response<B>, latency: Duration, _span: &tracing::Span) {
    tracing::info!(
        status = r.status().as_u16(),
        ms = format!("{:.2}", latency.as_secs_f64() * 1e3),
        "served"
    );
}

/// Serves until `shutdown` completes, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
