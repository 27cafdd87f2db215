//! The OpenAPI 3.0 document at `/api` (the landing page's `service-desc`).
//! QGIS reads `components.parameters.limit` for the default and maximum
//! page size; every collection's items path lists its own parameters.

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::ogc::base_url;
use super::params::{self, DEFAULT_LIMIT, MAX_LIMIT};
use super::AppState;
use crate::analysis::params::{Param, ParamType};

fn query_param(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema, "style": "form", "explode": false})
}

/// A bound as JSON: an integer when it is one.
fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        Value::from(x as i64)
    } else {
        Value::from(x)
    }
}

/// A declared default in its JSON type.
fn default_value(p: &Param, d: &str) -> Value {
    match p.ty {
        ParamType::Number => d.parse::<f64>().map(number).unwrap_or_else(|_| d.into()),
        ParamType::Integer => d.parse::<i64>().map(Value::from).unwrap_or_else(|_| d.into()),
        _ => d.into(),
    }
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/parameters/{name}")})
}

/// The error answers an operation can give, each a problem document.
/// Every operation can answer 400 (a bad parameter, a query that is not
/// UTF-8), 408 (too slow), 431 (headers too large); `with` adds 404 (no
/// such collection or feature), 422 (nothing to analyse, or a request
/// over the server's cost limits) and 503 (busy, or stopping).
fn problem_responses(with: &[u16]) -> Value {
    let problem = json!({"application/problem+json": {"schema": {"$ref": "#/components/schemas/problem"}}});
    let mut r = json!({
        "400": {"description": "a malformed or unknown parameter (the problem document names it)", "content": problem},
        "408": {"description": "the request took longer than the server allows", "content": problem},
        "431": {"description": "the request's headers are too large", "content": problem},
    });
    for code in with {
        let description = match code {
            404 => "no such collection or feature",
            422 => "nothing to analyse (no incidents match), or the request would cost more than the server's limits (the problem document names the parameter to change and an admissible value)",
            503 => "the server is busy (every computation slot and the queue are taken) or stopping; retry after the Retry-After header's seconds",
            _ => "error",
        };
        r[code.to_string()] = json!({"description": description, "content": problem});
    }
    r
}

fn items_op(id: &str, title: &str, extra: Vec<Value>) -> Value {
    let mut parameters: Vec<Value> = [
        "bbox",
        "bbox-crs",
        "crs",
        "filter",
        "filter-lang",
        "filter-crs",
        "limit",
        "offset",
        "datetime",
        "properties",
        "sortby",
        "f",
    ]
    .iter()
    .map(|n| reference(n))
    .collect();
    parameters.extend(extra);
    let mut responses = problem_responses(&[404, 422, 503]);
    responses["304"] = json!({"description": "not modified (If-None-Match names this page's ETag)"});
    responses["200"] = json!({
        "description": "a page of features (GeoJSON FeatureCollection; CRS84 unless crs says otherwise, as the Content-Crs header tells)",
        "content": {"application/geo+json": {"schema": {"$ref": "#/components/schemas/featureCollection"}}},
    });
    json!({"get": {
        "operationId": format!("getItems_{id}"),
        "summary": format!("features of {title}"),
        "tags": [id],
        "parameters": parameters,
        "responses": responses,
    }})
}

fn queryables_op(id: &str, title: &str) -> Value {
    let mut responses = problem_responses(&[404]);
    responses["200"] = json!({
        "description": "a JSON Schema of the properties a filter may name (OGC API - Features Part 3)",
        "content": {"application/schema+json": {"schema": {"type": "object"}}},
    });
    json!({"get": {
        "operationId": format!("getQueryables_{id}"),
        "summary": format!("the queryables of {title}"),
        "tags": [id],
        "parameters": [reference("f")],
        "responses": responses,
    }})
}

fn item_op(id: &str, title: &str, extra: Vec<Value>) -> Value {
    let mut parameters = vec![reference("featureId"), reference("crs"), reference("f")];
    parameters.extend(extra);
    let mut responses = problem_responses(&[404, 422, 503]);
    responses["304"] = json!({"description": "not modified (If-None-Match names this feature's ETag)"});
    responses["200"] = json!({
        "description": "one feature (GeoJSON; with f=html a page of its properties, a ward's linking to its briefing)",
        "content": {"application/geo+json": {"schema": {"type": "object"}}, "text/html": {"schema": {"type": "string"}}},
    });
    json!({"get": {
        "operationId": format!("getItem_{id}"),
        "summary": format!("one feature of {title}"),
        "tags": [id],
        "parameters": parameters,
        "responses": responses,
    }})
}

/// The document for this server.
pub fn document(st: &AppState, base: &str) -> Value {
    let mut paths = Map::new();
    let simple = |op: &str, summary: &str| {
        let mut responses = problem_responses(&[]);
        responses["200"] = json!({"description": summary, "content": {"application/json": {"schema": {"type": "object"}}, "text/html": {"schema": {"type": "string"}}}});
        json!({"get": {"operationId": op, "summary": summary, "parameters": [reference("f")], "responses": responses}})
    };
    paths.insert("/".into(), simple("getLandingPage", "the landing page"));
    paths.insert(
        "/conformance".into(),
        simple("getConformance", "the conformance classes"),
    );
    paths.insert("/collections".into(), simple("getCollections", "the collections"));
    let mut api_responses = problem_responses(&[]);
    api_responses["200"] = json!({"description": "OpenAPI 3.0", "content": {"application/vnd.oai.openapi+json;version=3.0": {"schema": {"type": "object"}}}});
    paths.insert(
        "/api".into(),
        json!({"get": {"operationId": "getApi", "summary": "this document", "parameters": [reference("f")], "responses": api_responses}}),
    );
    let mut status_responses = problem_responses(&[]);
    status_responses["200"] = json!({"description": "the computation engine, the layer cache, the limits and the memory in use", "content": {"application/json": {"schema": {"type": "object"}}}});
    paths.insert(
        "/status".into(),
        json!({"get": {"operationId": "getStatus", "summary": "the server's load and cache", "parameters": [reference("f")], "responses": status_responses}}),
    );
    let mut briefing_responses = problem_responses(&[404, 503]);
    briefing_responses["404"]["description"] =
        "no ward has this code (the problem document's `parameter` is `code`)".into();
    briefing_responses["200"] = json!({"description": "the ward's briefing: one self-contained HTML page (inline styles and SVG, no requests elsewhere, an A4 print stylesheet); the first request also does the London-wide work every briefing shares", "content": {"text/html": {"schema": {"type": "string"}}}});
    paths.insert(
        "/wards/{code}/briefing".into(),
        json!({"get": {
            "operationId": "getWardBriefing",
            "summary": "a ward's briefing for its neighbourhood team (the latest 12 months, every crime type but anti-social behaviour)",
            "tags": ["wards"],
            "parameters": [{"name": "code", "in": "path", "required": true, "description": "the ward's code (`code` of /collections/wards/items)", "schema": {"type": "string"}}],
            "responses": briefing_responses,
        }}),
    );
    for c in &st.statics {
        let mut col = simple(&format!("describeCollection_{}", c.id), c.title);
        col["get"]["tags"] = json!([c.id]);
        paths.insert(format!("/collections/{}", c.id), col);
        let filters: Vec<Value> = c
            .table
            .columns
            .iter()
            .map(|col| {
                query_param(
                    &col.name,
                    &format!("features whose `{}` equals this", col.name),
                    json!({"type": col.schema_type()}),
                )
            })
            .collect();
        paths.insert(format!("/collections/{}/items", c.id), items_op(c.id, c.title, filters));
        paths.insert(
            format!("/collections/{}/queryables", c.id),
            queryables_op(c.id, c.title),
        );
        paths.insert(
            format!("/collections/{}/items/{{featureId}}", c.id),
            item_op(c.id, c.title, vec![]),
        );
    }
    for c in &st.analyses {
        let mut col = simple(&format!("describeCollection_{}", c.id()), c.title());
        col["get"]["tags"] = json!([c.id()]);
        paths.insert(format!("/collections/{}", c.id()), col);
        let own: Vec<Value> = c
            .params()
            .map(|p| {
                let mut schema = json!({"type": p.ty.json_type()});
                if let Some(d) = p.default.filter(|_| !p.list) {
                    schema["default"] = default_value(p, d);
                }
                if !p.choices.is_empty() {
                    schema["enum"] = json!(p.choices);
                }
                if p.ty == ParamType::Month {
                    schema["pattern"] = "^[0-9]{4}-[0-9]{2}$".into();
                }
                if let Some(lo) = p.min {
                    schema["minimum"] = number(lo);
                    if p.min_exclusive {
                        schema["exclusiveMinimum"] = true.into();
                    }
                } else if p.ty == ParamType::Integer {
                    schema["minimum"] = 0.into();
                }
                if let Some(hi) = p.max {
                    schema["maximum"] = number(hi);
                }
                if p.list {
                    schema = json!({"type": "array", "items": schema});
                    if let Some(d) = p.default {
                        schema["default"] = d.split(',').map(|x| default_value(p, x.trim())).collect();
                    }
                }
                query_param(p.name, &p.help(), schema)
            })
            .collect();
        paths.insert(
            format!("/collections/{}/queryables", c.id()),
            queryables_op(c.id(), c.title()),
        );
        paths.insert(
            format!("/collections/{}/items", c.id()),
            items_op(c.id(), c.title(), own.clone()),
        );
        paths.insert(
            format!("/collections/{}/items/{{featureId}}", c.id()),
            item_op(c.id(), c.title(), own),
        );
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "hotspots",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Crime hotspot layers for London as OGC API - Features (Part 1: Core, GeoJSON, OAS 3.0, HTML; Part 2: CRS by reference). Coordinates are CRS84 (WGS84 lon/lat) unless crs asks for EPSG:4326 or British National Grid (EPSG:27700). Errors are RFC 9457 problem documents naming the parameter at fault.",
        },
        "servers": [{"url": base}],
        "paths": paths,
        "components": {
            "parameters": {
                "limit": {"name": "limit", "in": "query", "required": false, "style": "form", "explode": false,
                    "description": format!("features per page (default {DEFAULT_LIMIT}; larger values are capped at {MAX_LIMIT}, with a next link)"),
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}},
                "offset": query_param("offset", "features to skip (next/prev links set it)", json!({"type": "integer", "minimum": 0, "default": 0})),
                "bbox": {"name": "bbox", "in": "query", "required": false, "style": "form", "explode": false,
                    "description": "minlon,minlat,maxlon,maxlat in CRS84 degrees (or in bbox-crs): features whose geometry intersects it, boundary included (a feature whose bounding box reaches into it but whose outline does not is left out)",
                    "schema": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}},
                "crs": query_param("crs", "the CRS of the features' geometry (OGC API - Features Part 2): CRS84 lon/lat (default), EPSG:4326 lat/lon, or British National Grid EPSG:27700 easting/northing in metres (the dataset's own coordinates for its layers)", json!({"type": "string", "format": "uri", "enum": super::crs::SUPPORTED, "default": super::crs::CRS84})),
                "filter": query_param("filter", "a CQL2 expression over the collection's queryables (/collections/{id}/queryables): comparisons, AND/OR/NOT, LIKE, IN, BETWEEN, IS NULL, S_INTERSECTS(geometry, ...) and temporal operators on month; e.g. crime_type = 'Burglary' AND month >= '2024-01' AND S_INTERSECTS(geometry, POLYGON((...)))", json!({"type": "string"})),
                "filter-lang": query_param("filter-lang", "the language of filter", json!({"type": "string", "enum": ["cql2-text", "cql2-json"], "default": "cql2-text"})),
                "filter-crs": query_param("filter-crs", "the CRS of the geometries in filter", json!({"type": "string", "format": "uri", "enum": super::crs::SUPPORTED, "default": super::crs::CRS84})),
                "bbox-crs": query_param("bbox-crs", "the CRS of bbox: CRS84 (default), EPSG:4326 (minlat,minlon,maxlat,maxlon) or EPSG:27700 (metres)", json!({"type": "string", "format": "uri", "enum": super::crs::SUPPORTED, "default": super::crs::CRS84})),
                "datetime": query_param("datetime", "a month (2024-03), a date-time, or an interval start/end with .. for open ends; months are whole", json!({"type": "string"})),
                "properties": query_param("properties", "only these properties, comma-separated", json!({"type": "array", "items": {"type": "string"}})),
                "sortby": query_param("sortby", "sort by properties, comma-separated; - for descending (sortby=-count)", json!({"type": "array", "items": {"type": "string"}})),
                "f": query_param("f", "response format", json!({"type": "string", "enum": ["json", "html"]})),
                "featureId": {"name": "featureId", "in": "path", "required": true, "description": "the feature's id", "schema": {"type": "string"}},
            },
            "schemas": {
                "problem": {"type": "object", "description": "RFC 9457 problem document", "properties": {
                    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                    "detail": {"type": "string"}, "parameter": {"type": "string"}}},
                "featureCollection": {"type": "object", "required": ["type", "features"], "properties": {
                    "type": {"type": "string", "enum": ["FeatureCollection"]},
                    "features": {"type": "array", "items": {"type": "object"}},
                    "numberMatched": {"type": "integer"}, "numberReturned": {"type": "integer"},
                    "timeStamp": {"type": "string", "format": "date-time"},
                    "links": {"type": "array", "items": {"type": "object"}}}},
            },
        },
    })
}

/// `GET /api`.
pub async fn handler(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    params::only_format(&params::pairs(q.as_deref())?)?;
    let mut r = document(&st, &base_url(&st, &headers)).to_string().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.oai.openapi+json;version=3.0"),
    );
    Ok(r)
}
