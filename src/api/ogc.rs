//! OGC API – Features Part 1 handlers: landing page, conformance,
//! collections, a collection, its items and one item. Items are GeoJSON
//! (`application/geo+json`, RFC 7946: CRS84 lon/lat, 6 decimals, exterior
//! rings counter-clockwise) with `numberMatched`, `numberReturned`,
//! `timeStamp` and `self`/`next`/`prev` links; with Part 2's `crs` in
//! EPSG:4326 or British National Grid instead, saying which in the
//! `Content-Crs` header ([`super::crs`]).

use std::io::Write as _;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{json, Value};

use super::analyses::{Ctx, Output};
use super::cache::{self, Computed};
use super::error::ApiError;
use super::params::{self, Format, ItemsQuery};
use super::table::{Page, Table};
use super::{html, AppState, Found};
use crate::analysis::params::Values;

/// The conformance classes we implement.
pub const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
];

use super::crs::{ApiCrs, CRS84};
const GEOJSON: &str = "application/geo+json";

/// `http://host` from the request's Host header: links are absolute, as QGIS follows them.
pub fn base_url(st: &AppState, headers: &HeaderMap) -> String {
    let public = st
        .public_url
        .get()
        .cloned()
        .or_else(|| st.config.public_url.clone())
        .unwrap_or_else(|| "http://localhost".to_string());
    // The Host header is echoed only when it names this server: the public
    // URL's host, a configured one, or a loopback name on the same port.
    let public_host = public.split("://").nth(1).unwrap_or("").split('/').next().unwrap_or("");
    let port = public_host.rsplit_once(':').map(|(_, p)| p).unwrap_or("");
    let allowed = |h: &str| {
        h == public_host
            || st.config.allowed_hosts.iter().any(|a| a == h)
            || (!port.is_empty()
                && ["localhost", "127.0.0.1", "[::1]"]
                    .iter()
                    .any(|n| h == format!("{n}:{port}")))
    };
    match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        Some(h) if allowed(h) => format!("{}://{h}", public.split("://").next().unwrap_or("http")),
        _ => public,
    }
}

/// Whether to answer in HTML: the query's `f` (the only parameter these
/// pages take; anything else is a 400), else the `Accept` header.
fn wants_html(headers: &HeaderMap, q: Option<&str>) -> Result<bool, ApiError> {
    Ok(match params::only_format(&params::pairs(q)?)? {
        Some(Format::Html) => true,
        Some(Format::Json) => false,
        None => headers
            .get(header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("text/html")),
    })
}

pub(super) fn json_response(v: &Value, content_type: &'static str) -> Response {
    let mut r = v.to_string().into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn link(href: String, rel: &str, kind: &str, title: &str) -> Value {
    json!({"href": href, "rel": rel, "type": kind, "title": title})
}

/// `GET /`: the landing page.
pub async fn landing(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let html = wants_html(&headers, q.as_deref())?;
    let base = base_url(&st, &headers);
    if html {
        return Ok(Html(html::landing(&base, &st)).into_response());
    }
    let doc = json!({
        "title": "hotspots: crime hotspot layers for London",
        "description": "The dataset's layers and hotspot analyses as OGC API - Features collections (GeoJSON in CRS84, EPSG:4326 or British National Grid EPSG:27700 with crs=).",
        "links": [
            link(format!("{base}/"), "self", "application/json", "this document"),
            link(format!("{base}/?f=html"), "alternate", "text/html", "this document as HTML"),
            link(format!("{base}/api"), "service-desc", "application/vnd.oai.openapi+json;version=3.0", "the API definition"),
            link(format!("{base}/map"), "service-doc", "text/html", "the web map"),
            link(format!("{base}/conformance"), "conformance", "application/json", "conformance classes"),
            link(format!("{base}/collections"), "data", "application/json", "the collections"),
        ],
    });
    Ok(json_response(&doc, "application/json"))
}

/// `GET /conformance`.
pub async fn conformance(headers: HeaderMap, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let all: Vec<&str> = CONFORMANCE.iter().chain(super::filter::CONFORMANCE).copied().collect();
    if wants_html(&headers, q.as_deref())? {
        return Ok(Html(html::conformance(&all)).into_response());
    }
    Ok(json_response(&json!({ "conformsTo": all }), "application/json"))
}

/// `GET /collections/{id}/queryables` (OGC API – Features Part 3): a JSON
/// Schema of every property a `filter` (or a `name=value` parameter) may
/// name, with its type; `geometry` for `S_INTERSECTS`, `month` for the
/// temporal operators where the features have one.
pub async fn queryables(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    params::only_format(&params::pairs(q.as_deref())?)?;
    let found = st.find(&id).ok_or_else(|| ApiError::NoCollection(id.clone()))?;
    let base = base_url(&st, &headers);
    let mut props = serde_json::Map::new();
    let mut patterns = serde_json::Map::new();
    props.insert(
        super::filter::GEOMETRY.into(),
        json!({"title": "the feature's geometry", "format": "geometry-any", "x-ogc-role": "primary-geometry"}),
    );
    let title = match &found {
        Found::Static(c) => {
            for col in &c.table.columns {
                props.insert(col.name.clone(), json!({"type": col.schema_type()}));
            }
            if c.table.months.is_some() {
                props.insert(
                    "month".into(),
                    json!({"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$", "title": "the month (YYYY-MM); the temporal operators and comparisons with DATE take it as a whole month", "x-ogc-role": "primary-instant"}),
                );
            }
            c.title
        }
        Found::Analysis(c) => {
            for p in c.spec().properties.iter().flat_map(|g| g.iter()) {
                let schema = json!({"type": p.ty.json_type(), "description": p.doc});
                match p.name.strip_suffix('*') {
                    Some(prefix) => {
                        patterns.insert(format!("^{}.+$", regex_escape(prefix)), schema);
                    }
                    None => {
                        props.insert(p.name.into(), schema);
                    }
                }
            }
            c.title()
        }
    };
    let mut doc = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("{base}/collections/{id}/queryables"),
        "type": "object",
        "title": title,
        "properties": props,
        "additionalProperties": false,
    });
    if !patterns.is_empty() {
        doc["patternProperties"] = Value::Object(patterns);
    }
    Ok(json_response(&doc, "application/schema+json"))
}

/// `s` with the regular-expression metacharacters escaped.
fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$".contains(c);
            special.then_some('\\').into_iter().chain(std::iter::once(c))
        })
        .collect()
}

fn month_interval(st: &AppState) -> Value {
    match st.months {
        // From the first month's start to the end of the last (the next month's start).
        Some((a, b)) => json!([[
            format!("{}-01T00:00:00Z", crate::month::format(a)),
            format!("{}-01T00:00:00Z", crate::month::format(b + 1))
        ]]),
        None => json!([[null, null]]),
    }
}

/// A collection's description (the `/collections/{id}` document).
pub fn collection_doc(st: &AppState, base: &str, found: &Found<'_>) -> Value {
    let (id, title, description, bbox, temporal) = match found {
        Found::Static(c) => (
            c.id,
            c.title,
            c.description,
            c.extent.or(st.extent),
            c.table.months.is_some(),
        ),
        Found::Analysis(c) => (c.id(), c.title(), c.description(), st.extent, true),
    };
    // The dataset's layers are stored in BNG; analysis layers are held in WGS84.
    let storage = match found {
        Found::Static(_) => super::crs::EPSG_27700,
        Found::Analysis(_) => CRS84,
    };
    let mut extent = json!({"spatial": {"bbox": [bbox.unwrap_or([-180.0, -90.0, 180.0, 90.0])], "crs": CRS84}});
    if temporal {
        extent["temporal"] =
            json!({"interval": month_interval(st), "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"});
    }
    json!({
        "id": id,
        "title": title,
        "description": description,
        "itemType": "feature",
        "crs": super::crs::SUPPORTED,
        "storageCrs": storage,
        "extent": extent,
        "links": [
            link(format!("{base}/collections/{id}"), "self", "application/json", "this collection"),
            link(format!("{base}/collections/{id}?f=html"), "alternate", "text/html", "this collection as HTML"),
            link(format!("{base}/collections/{id}/items"), "items", GEOJSON, "the features"),
            link(format!("{base}/collections/{id}/queryables"), "http://www.opengis.net/def/rel/ogc/1.0/queryables", "application/schema+json", "what filter may name"),
        ],
    })
}

/// `GET /collections`.
pub async fn collections(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let html = wants_html(&headers, q.as_deref())?;
    let base = base_url(&st, &headers);
    let all: Vec<Found<'_>> = st
        .statics
        .iter()
        .map(Found::Static)
        .chain(st.analyses.iter().map(Found::Analysis))
        .collect();
    let docs: Vec<Value> = all.iter().map(|c| collection_doc(&st, &base, c)).collect();
    if html {
        return Ok(Html(html::collections(&docs)).into_response());
    }
    let doc = json!({
        "links": [
            link(format!("{base}/collections"), "self", "application/json", "the collections"),
            link(format!("{base}/collections?f=html"), "alternate", "text/html", "the collections as HTML"),
        ],
        "collections": docs,
    });
    Ok(json_response(&doc, "application/json"))
}

/// `GET /collections/{id}`.
pub async fn collection(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let html = wants_html(&headers, q.as_deref())?;
    let found = st.find(&id).ok_or(ApiError::NoCollection(id))?;
    let doc = collection_doc(&st, &base_url(&st, &headers), &found);
    if html {
        let params: Vec<(String, String)> = match &found {
            Found::Static(c) => c
                .table
                .columns
                .iter()
                .map(|c| (c.name.clone(), c.schema_type().to_string()))
                .collect(),
            Found::Analysis(c) => c.params().map(|p| (p.name.to_string(), p.help())).collect(),
        };
        return Ok(Html(html::collection(&doc, &params)).into_response());
    }
    Ok(json_response(&doc, "application/json"))
}

/// The layer behind a collection and the ETag seed of its responses.
pub(super) struct Resolved {
    table: TableRef,
    pub(super) query: ItemsQuery,
    pub(super) version: String,
    time_stamp: String,
    metadata: Option<Value>,
    pub(super) cache_hit: Option<bool>,
}

impl Resolved {
    pub(super) fn table(&self) -> &Table {
        self.table.get()
    }
}

enum TableRef {
    Static(AppState, usize),
    Computed(Arc<Computed>),
}

impl TableRef {
    fn get(&self) -> &Table {
        match self {
            TableRef::Static(st, i) => &st.statics[*i].table,
            TableRef::Computed(c) => &c.table,
        }
    }
}

pub(super) async fn resolve(st: &AppState, id: &str, pairs: &[(String, String)]) -> Result<Resolved, ApiError> {
    if let Some(i) = st.statics.iter().position(|c| c.id == id) {
        let (query, _) = params::items(pairs, &[])?;
        return Ok(Resolved {
            table: TableRef::Static(st.clone(), i),
            query,
            version: st.version.clone(),
            time_stamp: st.started.clone(),
            metadata: None,
            cache_hit: None,
        });
    }
    let c = *st
        .analyses
        .iter()
        .find(|c| c.id() == id)
        .ok_or_else(|| ApiError::NoCollection(id.to_string()))?;
    let spec = c.spec();
    let (mut query, raw) = params::items(pairs, &c.names())?;
    // Every parameter is checked before any work: the analysis's own
    // (types, ranges, choices), then the property filters against the
    // properties its result has, then the cost.
    let mut values = Values::new(*spec, raw)?;
    let mut defaults = serde_json::Map::new();
    match query.datetime.take() {
        Some((from, to)) => values.set_months(from.map(crate::month::format), to.map(crate::month::format))?,
        None => {
            // A layer counts the latest 12 months unless told otherwise
            // (surge trains on its own window).
            if spec.param("from").is_some() && spec.id != "surge" && !values.given("from") && !values.given("to") {
                if let Some((first, last)) = st.months {
                    let from = last.saturating_sub(11).max(first);
                    values.set_months(Some(crate::month::format(from)), Some(crate::month::format(last)))?;
                    defaults.insert(
                        "months".into(),
                        format!(
                            "{}..{}: the latest 12 months in the dataset (no from, to or datetime was given)",
                            crate::month::format(from),
                            crate::month::format(last)
                        )
                        .into(),
                    );
                }
            }
        }
    }
    for (name, value) in &query.filters {
        let prop = spec
            .property(name)
            .ok_or_else(|| ApiError::UnknownParameter(name.clone()))?;
        if !prop.ty.admits(value) {
            return Err(ApiError::param(
                name,
                format!("{value:?} is not a {} (the property's type)", prop.ty.json_type()),
            ));
        }
    }
    if let Some(f) = &query.filter {
        for name in super::filter::properties(&f.expr) {
            if name != super::filter::GEOMETRY && spec.property(name).is_none() {
                return Err(ApiError::param(
                    "filter",
                    format!("no queryable `{name}` in this collection (see /collections/{id}/queryables)"),
                ));
            }
        }
    }
    let key = format!("{}?{}", c.id(), values.canonical());
    if let Some(computed) = st.engine.cached(&key) {
        return Ok(resolved(computed, query, true));
    }
    (c.analysis.cost)(&st.dataset, &values)?.check(&st.config.limits, |p| values.given(p))?;
    let (state, layer_key) = (st.clone(), key.clone());
    let (computed, hit) = st
        .engine
        .get_or_compute(&key, move || {
            let key = layer_key;
            let t0 = std::time::Instant::now();
            let ctx = Ctx {
                dataset: &state.dataset,
                shapes: &state.shapes,
                memo: &state.memo,
            };
            let Output { table, mut metadata } = (c.run)(&ctx, c.analysis, &values)?;
            if !defaults.is_empty() {
                if let Some(m) = metadata.as_object_mut() {
                    m.insert("defaults_applied".into(), defaults.into());
                }
            }
            let compute_ms = t0.elapsed().as_secs_f64() * 1e3;
            tracing::info!(layer = %key, features = table.len(), ms = format!("{compute_ms:.1}"), "computed");
            let nanos = super::cache::unix_nanos();
            Ok(Computed {
                table,
                metadata,
                computed_at: cache::now_rfc3339(),
                compute_ms,
                version: format!("{key}@{nanos:x}"),
            })
        })
        .await?;
    Ok(resolved(computed, query, hit))
}

fn resolved(computed: Arc<Computed>, query: ItemsQuery, hit: bool) -> Resolved {
    Resolved {
        version: computed.version.clone(),
        time_stamp: computed.computed_at.clone(),
        metadata: Some(computed.metadata.clone()),
        table: TableRef::Computed(computed),
        query,
        cache_hit: Some(hit),
    }
}

/// `GET /status`: the computation engine (running, queued, cancelled,
/// refused), the layer cache (entries, bytes, hits, evictions), the
/// server's limits and its resident memory.
pub async fn status(State(st): State<AppState>, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    params::only_format(&params::pairs(q.as_deref())?)?;
    let (rss_mib, peak_mib) = crate::progress::memory_mib();
    let l = &st.config.limits;
    let mut doc = st.engine.status();
    doc["grid_shapes_bytes"] = st.shapes.bytes().into();
    doc["limits"] = json!({
        "max_cells": l.max_cells,
        "max_pairs": l.max_pairs,
        "max_work": l.max_work,
        "cache_bytes": st.config.cache_bytes,
        "request_timeout_s": st.config.request_timeout.as_secs_f64(),
    });
    doc["memory"] = json!({"rss_mib": rss_mib, "peak_mib": peak_mib});
    let mut r = json_response(&doc, "application/json");
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// A 304 when `If-None-Match` names this representation or its gzip form
/// (with the tag it named: the two differ, see [`cache::encoded_etag`]).
pub(super) fn not_modified(headers: &HeaderMap, etag: &str) -> Option<Response> {
    let inm = headers.get(header::IF_NONE_MATCH)?.to_str().ok()?;
    let tag = cache::none_match(inm, etag)?;
    let mut r = StatusCode::NOT_MODIFIED.into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    Some(r)
}

fn geojson_response(body: Vec<u8>, etag: &str, hit: Option<bool>, crs: ApiCrs) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(GEOJSON));
    if let Ok(v) = HeaderValue::from_str(&crs.header()) {
        h.insert("content-crs", v);
    }
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    if let Some(hit) = hit {
        h.insert("x-cache", HeaderValue::from_static(if hit { "hit" } else { "miss" }));
    }
    r
}

/// The items URL with `limit` and `offset` replaced (other parameters kept in order).
fn page_href(base: &str, id: &str, pairs: &[(String, String)], limit: usize, offset: usize) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(k, _)| k != "limit" && k != "offset") {
        s.append_pair(k, v);
    }
    s.append_pair("limit", &limit.to_string());
    s.append_pair("offset", &offset.to_string());
    format!("{base}/collections/{id}/items?{}", s.finish())
}

fn write_links(out: &mut Vec<u8>, links: &[Value]) {
    out.extend_from_slice(b"\"links\":");
    let _ = serde_json::to_writer(&mut *out, links);
}

/// `GET /collections/{id}/items`.
pub async fn items(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let pairs = params::pairs(uri.query())?;
    let base = base_url(&st, &headers);
    let r = resolve(&st, &id, &pairs).await?;
    let etag = cache::etag(&[&r.version, &id, &base, uri.query().unwrap_or("")]);
    if let Some(resp) = not_modified(&headers, &etag) {
        return Ok(resp);
    }
    let table = r.table.get();
    if let Some(f) = &r.query.filter {
        // The filter's cost is known before any row is tested.
        let work = super::filter::work(&f.expr, table.len());
        if work > st.config.limits.max_work {
            return Err(ApiError::TooCostly {
                parameter: "filter".into(),
                message: format!(
                    "testing {} features against this filter is about {work:.1e} steps, over the server's limit of {:.1e} (--max-work): use a simpler geometry, or bbox first",
                    table.len(),
                    st.config.limits.max_work
                ),
            });
        }
    }
    let Page { matched, rows, columns } = table.query(&r.query)?;
    let (limit, offset) = (r.query.limit, r.query.offset);
    let mut links = vec![link(
        page_href(&base, &id, &pairs, limit, offset),
        "self",
        GEOJSON,
        "this page",
    )];
    if offset + rows.len() < matched {
        links.push(link(
            page_href(&base, &id, &pairs, limit, offset + rows.len()),
            "next",
            GEOJSON,
            "next page",
        ));
    }
    if offset > 0 {
        links.push(link(
            page_href(&base, &id, &pairs, limit, offset.saturating_sub(limit)),
            "prev",
            GEOJSON,
            "previous page",
        ));
    }
    links.push(link(
        format!("{base}/collections/{id}"),
        "collection",
        "application/json",
        "the collection",
    ));
    let mut out = Vec::with_capacity(rows.len() * 256 + 1024);
    let _ = write!(
        out,
        "{{\"type\":\"FeatureCollection\",\"numberMatched\":{matched},\"numberReturned\":{},\"timeStamp\":\"{}\",",
        rows.len(),
        r.time_stamp
    );
    write_links(&mut out, &links);
    if let Some(m) = &r.metadata {
        out.extend_from_slice(b",\"metadata\":");
        let _ = serde_json::to_writer(&mut out, m);
    }
    out.extend_from_slice(b",\"features\":[");
    for (k, &i) in rows.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        table.write_feature_in(i as usize, &columns, r.query.crs, &mut out);
    }
    out.extend_from_slice(b"]}");
    Ok(geojson_response(out, &etag, r.cache_hit, r.query.crs))
}

/// `GET /collections/{id}/items/{featureId}`.
pub async fn item(
    State(st): State<AppState>,
    Path((id, feature_id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let pairs = params::pairs(uri.query())?;
    let base = base_url(&st, &headers);
    let r = resolve(&st, &id, &pairs).await?;
    let q = &r.query;
    // Only the analysis parameters, `properties` and `f` make sense for one feature.
    if let Some((name, _)) = q.filters.first() {
        return Err(ApiError::UnknownParameter(name.clone()));
    }
    for (given, name) in [
        (q.bbox.is_some(), "bbox"),
        (pairs.iter().any(|(k, _)| k == "bbox-crs"), "bbox-crs"),
        (q.filter.is_some(), "filter"),
        (q.datetime.is_some(), "datetime"),
        (!q.sortby.is_empty(), "sortby"),
        (pairs.iter().any(|(k, _)| k == "limit"), "limit"),
        (pairs.iter().any(|(k, _)| k == "offset"), "offset"),
    ] {
        if given {
            return Err(ApiError::UnknownParameter(name.into()));
        }
    }
    // HTML for `f=html`, or for a browser's `Accept: text/html` without `f`.
    let html = match q.format {
        Some(params::Format::Html) => true,
        Some(params::Format::Json) => false,
        None => headers
            .get(header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("text/html")),
    };
    let etag = cache::etag(&[
        &r.version,
        &id,
        &feature_id,
        &base,
        uri.query().unwrap_or(""),
        if html { "html" } else { "json" },
    ]);
    if let Some(resp) = not_modified(&headers, &etag) {
        return Ok(resp);
    }
    let table = r.table.get();
    let i = table.find(&feature_id).ok_or_else(|| ApiError::NoFeature {
        collection: id.clone(),
        feature: feature_id.clone(),
    })?;
    let columns = table.chosen_columns(q.properties.as_deref())?;
    let mut out = Vec::with_capacity(2048);
    table.write_feature_in(i, &columns, q.crs, &mut out);
    if html {
        // The feature's properties as a page (a ward's links to its briefing).
        let feature: Value = serde_json::from_slice(&out).map_err(|e| ApiError::Internal(e.to_string()))?;
        let mut resp = Html(html::feature(&id, &feature_id, &feature["properties"])).into_response();
        let h = resp.headers_mut();
        h.append(header::VARY, HeaderValue::from_static("accept"));
        if let Ok(v) = HeaderValue::from_str(&etag) {
            h.insert(header::ETAG, v);
        }
        return Ok(resp);
    }
    out.pop();
    out.push(b',');
    let self_href = format!(
        "{base}/collections/{id}/items/{}",
        form_urlencoded::byte_serialize(feature_id.as_bytes()).collect::<String>()
    );
    write_links(
        &mut out,
        &[
            link(self_href, "self", GEOJSON, "this feature"),
            link(
                format!("{base}/collections/{id}"),
                "collection",
                "application/json",
                "the collection",
            ),
        ],
    );
    out.push(b'}');
    let mut resp = geojson_response(out, &etag, r.cache_hit, q.crs);
    resp.headers_mut()
        .append(header::VARY, HeaderValue::from_static("accept"));
    Ok(resp)
}

/// Any other path: a 404 problem document.
pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(uri.path().to_string())
}
