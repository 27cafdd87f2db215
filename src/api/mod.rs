//! The HTTP API (axum): OGC API – Features Part 1 (Core, GeoJSON, OAS 3.0,
//! HTML), Part 2 (CRS by reference) and Part 3 (queryables, CQL2 filters)
//! over the dataset's layers and the analysis layers, the web map at
//! `/map`, and one problem-document error response.
//!
//! | file | owns |
//! |---|---|
//! | `mod.rs` | [`AppState`], the router, [`serve`] (takes a bound listener: tests use port 0) |
//! | `error.rs` | [`ApiError`] → RFC 9457 `application/problem+json`, naming the bad parameter |
//! | `params.rs` | strict query parsing: bbox, bbox-crs, crs, filter, limit, offset, datetime, properties, sortby; the analysis parameters go to their [`crate::analysis::params::Values`] |
//! | `crs.rs` | Part 2: the CRSs items and bboxes may be in (CRS84, EPSG:4326, EPSG:27700), axis swapping, BNG coordinates |
//! | `filter.rs` | Part 3: CQL2 (text, JSON) to a row predicate; its conformance classes and cost |
//! | `tiles.rs` | OGC API – Tiles: Mapbox Vector Tiles of every collection (WebMercatorQuad), tileset metadata, TileJSON, a byte-bounded tile cache |
//! | `table.rs` | a collection's features in compact form (ids and geometry in a shareable [`table::Shape`]); filtering, sorting, paging, GeoJSON writing |
//! | `collections.rs` | the dataset's own collections (wards, boroughs, incidents, schools, stations) |
//! | `analyses/` | the analysis collections, one per analysis offered over HTTP; Gi*'s shared-shape tables (`gistar.rs`) |
//! | `cache.rs` | computed layers cached by canonical parameters; grid shapes shared by the layers on a grid; strong ETags (per content coding) |
//! | `ogc.rs` | the OGC API – Features handlers (queryables among them) |
//! | `openapi.rs` | the OpenAPI 3.0 document at `/api` |
//! | `html.rs` | HTML for browsers (landing page, collections) |
//! | `briefing.rs` | `/wards/{code}/briefing`: a ward's briefing page ([`crate::briefing`]), its London-wide work built by the first request and kept |
//! | `map.rs` | `/map`: MapLibre GL JS (vendored, served by us) over the collections' vector tiles |
//!
//! Coordinates in every response are WGS84 lon/lat degrees (CRS84), per RFC
//! 7946, unless `crs` asks for EPSG:4326 or British National Grid.

pub mod analyses;
pub mod briefing;
pub mod cache;
pub mod collections;
pub mod compute;
pub mod crs;
pub mod error;
pub mod filter;
pub mod html;
pub mod map;
pub mod ogc;
pub mod openapi;
pub mod params;
pub mod server;
pub mod table;
pub mod tiles;

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

/// How many grids' cell shapes (ids, polygons) are kept for new layers.
pub const CACHE_GRIDS: usize = 4;

/// How the server protects itself: every limit `hotspots serve` takes.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The most a request's computation may cost ([`crate::analysis::cost`]).
    pub limits: crate::analysis::cost::Limits,
    /// Computed layers (and grid shapes) kept, in bytes.
    pub cache_bytes: usize,
    /// Heavy computations at once, and how many more may wait.
    pub slots: usize,
    pub queue: usize,
    /// Threads each computation runs on.
    pub threads: usize,
    /// Requests slower than this get a 408 (their computation is cancelled).
    pub request_timeout: Duration,
    /// A connection whose request headers do not arrive within this is closed.
    pub header_timeout: Duration,
    /// Request headers larger than this get a 431 problem document.
    pub max_header_bytes: usize,
    /// Open connections at most; more wait to be accepted.
    pub max_connections: usize,
    /// How long a stop waits for in-flight requests before cancelling their work.
    pub shutdown_grace: Duration,
    /// The base of every link (`http://host:port`); by default the bound address.
    pub public_url: Option<String>,
    /// `Host` header values links may echo (besides the public URL's host):
    /// a request naming another host gets links from the public URL.
    pub allowed_hosts: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        ServerConfig {
            limits: Default::default(),
            cache_bytes: 256 << 20,
            slots: cores,
            queue: 2 * cores,
            threads: cores,
            request_timeout: Duration::from_secs(120),
            header_timeout: Duration::from_secs(10),
            max_header_bytes: 16 << 10,
            max_connections: 4096,
            shutdown_grace: Duration::from_secs(10),
            public_url: None,
            allowed_hosts: Vec::new(),
        }
    }
}

/// Everything the handlers share.
pub struct Inner {
    pub dataset: Arc<Dataset>,
    pub statics: Vec<StaticCollection>,
    pub analyses: Vec<AnalysisCollection>,
    /// Where analysis layers are computed, admitted, cancelled and cached.
    pub engine: Arc<compute::Engine>,
    /// Cell ids and polygons of the grids layers were computed on.
    pub shapes: cache::ShapeCache,
    /// Encoded vector tiles by ETag ([`tiles`]).
    pub tiles: tiles::TileCache,
    /// What analyses keep between requests (the study-area raster of POI-risk layers).
    pub memo: crate::analysis::run::Memo,
    pub config: ServerConfig,
    /// The base of links, once known (the configured public URL, or the
    /// bound address when serving starts).
    pub public_url: std::sync::OnceLock<String>,
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
    /// The ward briefings' London-wide work, built by the first briefing
    /// request ([`briefing`]); the error text if it failed.
    pub briefing: tokio::sync::OnceCell<Result<Arc<crate::briefing::Context>, String>>,
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
        Self::with_config(dataset, ServerConfig::default())
    }

    /// As [`AppState::new`] with the server's limits.
    pub fn with_config(mut dataset: Dataset, config: ServerConfig) -> Result<AppState, DatasetError> {
        let analyses = analyses::analysis_collections();
        let statics = collections::static_collections(&dataset)?;
        dataset.release_incident_rows();
        let extent = statics
            .iter()
            .find(|c| c.id == "wards")
            .and_then(|c| c.extent)
            .or_else(|| statics.iter().find(|c| c.id == "incidents").and_then(|c| c.extent));
        let present = &dataset.columns.months_present;
        let months = present.first().copied().zip(present.last().copied());
        let nanos = cache::unix_nanos();
        Ok(AppState(Arc::new(Inner {
            dataset: Arc::new(dataset),
            statics,
            analyses,
            engine: Arc::new(compute::Engine::new(
                config.slots,
                config.queue,
                config.cache_bytes / 4 * 3,
                config.threads,
            )),
            shapes: cache::ShapeCache::new(CACHE_GRIDS, config.cache_bytes / 8),
            tiles: tiles::TileCache::new(config.cache_bytes / 8),
            memo: Default::default(),
            public_url: std::sync::OnceLock::new(),
            version: format!("{nanos:x}"),
            started: cache::now_rfc3339(),
            extent,
            months,
            cors: None,
            briefing: tokio::sync::OnceCell::new(),
            config,
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
    let timeout = state.config.request_timeout;
    let max_header = state.config.max_header_bytes;
    let mut app = Router::new()
        .route("/", get(ogc::landing))
        .route("/conformance", get(ogc::conformance))
        .route("/api", get(openapi::handler))
        .route("/collections", get(ogc::collections))
        .route("/collections/{collection_id}", get(ogc::collection))
        .route("/collections/{collection_id}/items", get(ogc::items))
        .route("/collections/{collection_id}/queryables", get(ogc::queryables))
        .route("/collections/{collection_id}/tiles", get(tiles::tilesets))
        .route("/collections/{collection_id}/tiles/{tms}", get(tiles::tileset))
        .route(
            "/collections/{collection_id}/tiles/{tms}/tilejson",
            get(tiles::tilejson),
        )
        .route(
            "/collections/{collection_id}/tiles/{tms}/{z}/{row}/{col}",
            get(tiles::tile),
        )
        .route("/collections/{collection_id}/items/{feature_id}", get(ogc::item))
        .route("/status", get(ogc::status))
        .route("/wards/{code}/briefing", get(briefing::page))
        .route("/map", get(map::page))
        .route("/map/{asset}", get(map::asset))
        .fallback(ogc::not_found)
        .with_state(state)
        .layer(CompressionLayer::new().gzip(true))
        .layer(axum::middleware::map_response(etag_per_encoding))
        .layer(axum::middleware::map_response(server::problem_for_bare_errors))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(max_header, server::limit_headers))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_request(())
                .on_response(log_response)
                // Each response is logged once, by `log_response`.
                .on_failure(()),
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

/// Serves until `shutdown` completes, then finishes in-flight requests
/// (for up to the configured grace, after which their work is cancelled)
/// and returns. See [`server`] for what each connection is held to.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tokio::spawn(briefing::warm(state.clone()));
    // The large static layers' R-trees (the incidents': about a second on
    // the full London dataset), so the first tile does not wait for them.
    let statics = state.clone();
    tokio::task::spawn_blocking(move || {
        for c in statics.statics.iter() {
            c.table.shape.warm_index();
        }
    });
    server::serve(listener, state, shutdown).await
}
