//! The HTTP API over real sockets (port 0): the OGC API – Features sequence,
//! the requests QGIS makes when adding a layer, GeoJSON validity, the
//! bad-request corpus, ETags and gzip. On the demo city always; on the real
//! Met burglary data when HOTSPOTS_DATA is set.

use crate::common;

use std::collections::HashSet;
use std::io::Read;
use std::sync::OnceLock;

use serde_json::Value;

struct Reply {
    status: u16,
    content_type: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn get_with(url: &str, headers: &[(&str, &str)]) -> Reply {
    let r = common::http::request("GET", url, headers, None).unwrap_or_else(|e| panic!("{url}: {e}"));
    Reply {
        status: r.status,
        content_type: r.header("content-type").unwrap_or("").to_string(),
        body: r.body,
        headers: r.headers,
    }
}

fn get(url: &str) -> Reply {
    get_with(url, &[])
}

fn demo() -> &'static str {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| common::serve_dataset(&common::demo_dataset()))
}

fn link<'a>(doc: &'a Value, rel: &str) -> Option<&'a str> {
    doc["links"]
        .as_array()?
        .iter()
        .find(|l| l["rel"] == rel)
        .and_then(|l| l["href"].as_str())
}

/// Twice the signed area of a ring (positive = counter-clockwise).
fn ring_area2(ring: &Value) -> f64 {
    let pts: Vec<(f64, f64)> = ring
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c[0].as_f64().unwrap(), c[1].as_f64().unwrap()))
        .collect();
    assert!(
        pts.len() >= 4 && pts.first() == pts.last(),
        "ring closed with 4+ points"
    );
    pts.windows(2).map(|w| w[0].0 * w[1].1 - w[1].0 * w[0].1).sum()
}

fn check_position(c: &Value) {
    let (x, y) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
    assert!(
        (-180.0..=180.0).contains(&x) && (-90.0..=90.0).contains(&y),
        "lon/lat in range: {c}"
    );
    // London (or the demo city placed there): a sanity bound that catches swapped axes.
    assert!(x.abs() < 5.0 && (49.0..56.0).contains(&y), "lon/lat order: {c}");
}

fn check_polygon(rings: &Value) {
    for (k, ring) in rings.as_array().unwrap().iter().enumerate() {
        for c in ring.as_array().unwrap() {
            check_position(c);
        }
        let a = ring_area2(ring);
        if k == 0 {
            assert!(a > 0.0, "exterior ring counter-clockwise (RFC 7946)");
        } else {
            assert!(a < 0.0, "holes clockwise (RFC 7946)");
        }
    }
}

/// RFC 7946 checks on one feature.
fn check_feature(f: &Value) {
    assert_eq!(f["type"], "Feature");
    assert!(f["id"].is_string() || f["id"].is_number(), "id: {}", f["id"]);
    assert!(f["properties"].is_object());
    let g = &f["geometry"];
    match g["type"].as_str().unwrap() {
        "Point" => check_position(&g["coordinates"]),
        "Polygon" => check_polygon(&g["coordinates"]),
        "MultiPolygon" => g["coordinates"].as_array().unwrap().iter().for_each(check_polygon),
        other => panic!("unexpected geometry {other}"),
    }
}

/// What QGIS does when adding an OGC API – Features layer: landing page,
/// service-desc (the OpenAPI document, for the limit), the collection,
/// items?limit=10, then every `next` link. Returns the features.
fn qgis_sequence(base: &str, id: &str, extra: &str) -> Vec<Value> {
    let landing = get(&format!("{base}/")).json();
    let api_url = link(&landing, "service-desc").expect("service-desc link");
    let api = get(api_url);
    assert!(api.content_type.contains("openapi"), "{}", api.content_type);
    let api = api.json();
    let limit = &api["components"]["parameters"]["limit"]["schema"];
    assert_eq!(limit["default"], 100);
    assert_eq!(limit["maximum"], 10000);
    assert!(api["paths"][format!("/collections/{id}/items")].is_object());
    let data = link(&landing, "data").unwrap();
    let cols = get(data).json();
    assert!(cols["collections"].as_array().unwrap().iter().any(|c| c["id"] == id));
    let col = get(&format!("{base}/collections/{id}")).json();
    assert_eq!(col["id"], id);
    let bbox = &col["extent"]["spatial"]["bbox"][0];
    check_position(&Value::from(vec![bbox[0].clone(), bbox[1].clone()]));
    let items = link(&col, "items").unwrap();
    let mut next = Some(format!("{items}?limit=10{extra}"));
    let (mut features, mut matched, mut pages) = (Vec::new(), None, 0);
    while let Some(url) = next {
        let r = get(&url);
        assert_eq!(r.status, 200, "{url}: {}", String::from_utf8_lossy(&r.body));
        assert!(r.content_type.starts_with("application/geo+json"), "{}", r.content_type);
        let page = r.json();
        assert_eq!(page["type"], "FeatureCollection");
        let n = page["numberMatched"].as_u64().unwrap();
        assert_eq!(*matched.get_or_insert(n), n, "numberMatched stable across pages");
        let returned = page["numberReturned"].as_u64().unwrap();
        let fs = page["features"].as_array().unwrap();
        assert_eq!(returned as usize, fs.len());
        assert!(returned <= 10);
        assert!(page["timeStamp"].as_str().unwrap().ends_with('Z'));
        assert!(link(&page, "self").is_some());
        assert_eq!(
            link(&page, "prev").is_some(),
            pages > 0,
            "prev link from the second page on"
        );
        features.extend(fs.iter().cloned());
        next = link(&page, "next").map(str::to_string);
        pages += 1;
        assert!(pages < 5000, "runaway paging");
    }
    assert_eq!(features.len() as u64, matched.unwrap(), "pages add up to numberMatched");
    let ids: HashSet<String> = features.iter().map(|f| f["id"].to_string()).collect();
    assert_eq!(ids.len(), features.len(), "feature ids unique");
    features.iter().for_each(check_feature);
    features
}

#[test]
fn landing_conformance_collections() {
    let base = demo();
    let landing = get(&format!("{base}/"));
    assert_eq!(landing.status, 200);
    assert!(landing.content_type.starts_with("application/json"));
    let landing = landing.json();
    for rel in ["self", "service-desc", "conformance", "data"] {
        assert!(link(&landing, rel).is_some(), "landing link {rel}");
    }
    let conf = get(link(&landing, "conformance").unwrap()).json();
    let classes: Vec<&str> = conf["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for c in ["core", "geojson", "oas30", "html"] {
        assert!(
            classes.contains(&format!("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/{c}").as_str()),
            "{c}"
        );
    }
    let cols = get(link(&landing, "data").unwrap()).json();
    let ids: Vec<&str> = cols["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    for id in [
        "wards",
        "boroughs",
        "incidents",
        "schools",
        "stations",
        "gistar",
        "hex",
        "h3",
        "lisa",
        "kde",
        "emerging",
    ] {
        assert!(ids.contains(&id), "collection {id} in {ids:?}");
    }
    // Every collection's parameters are in the OpenAPI document.
    let api = get(&format!("{base}/api")).json();
    let gistar: Vec<&str> = api["paths"]["/collections/gistar/items"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for p in ["crime_type", "from", "to", "cell", "band", "harm", "kind"] {
        assert!(gistar.contains(&p), "{p} documented for gistar");
    }
    // bbox is documented as the code applies it: the geometry, not its bounding box.
    let bbox = api["components"]["parameters"]["bbox"]["description"].as_str().unwrap();
    assert!(
        bbox.contains("geometry intersects") && !bbox.contains("bounding box meets"),
        "{bbox}"
    );
    // Browsers get HTML.
    for path in ["/", "/collections", "/collections/wards"] {
        let r = get_with(
            &format!("{base}{path}"),
            &[("Accept", "text/html,application/xhtml+xml")],
        );
        assert_eq!(r.status, 200);
        assert!(r.content_type.starts_with("text/html"), "{path}: {}", r.content_type);
        assert!(String::from_utf8_lossy(&r.body).contains("<h1>"));
    }
    let map = get(&format!("{base}/map"));
    assert!(map.content_type.starts_with("text/html"));
    assert!(String::from_utf8_lossy(&map.body).contains("\"crime_types\":[\"Anti-social behaviour\""));
    let js = get(&format!("{base}/map/maplibre-gl.js"));
    assert_eq!(js.status, 200);
    assert!(js.body.len() > 1_000_000, "MapLibre GL JS served by us");
    assert!(js.content_type.starts_with("text/javascript"));
    let css = get(&format!("{base}/map/maplibre-gl.css"));
    assert_eq!(css.status, 200);
    assert!(css.content_type.starts_with("text/css"));
    assert_eq!(get(&format!("{base}/map/leaflet.js")).status, 404);
}

#[test]
fn qgis_sequence_on_the_demo_city() {
    let base = demo();
    let wards = qgis_sequence(base, "wards", "");
    assert!(wards.len() >= 10);
    assert!(wards.iter().all(|f| f["properties"]["incidents"].as_f64().is_some()));
    let boroughs = qgis_sequence(base, "boroughs", "");
    assert!(!boroughs.is_empty());
    let schools = qgis_sequence(base, "schools", "");
    assert!(!schools.is_empty());
    qgis_sequence(base, "stations", "");
    let cells = qgis_sequence(base, "gistar", "&cell=250&band=750");
    assert!(
        cells.iter().any(|f| f["properties"]["gi_bin_fdr"] == 3),
        "the demo's planted hotspots show"
    );
    // Incidents of one month, as QGIS would page them.
    let demo_month = get(&format!("{base}/collections/incidents")).json()["extent"]["temporal"]["interval"][0][0]
        .as_str()
        .unwrap()[..7]
        .to_string();
    let month = qgis_sequence(base, "incidents", &format!("&datetime={demo_month}"));
    assert!(!month.is_empty());
    assert!(month.iter().all(|f| f["properties"]["month"] == demo_month.as_str()));
}

fn numbers_as_f64(v: &Value) -> Value {
    match v {
        Value::Number(n) => Value::from(n.as_f64().unwrap()),
        Value::Array(a) => Value::Array(a.iter().map(numbers_as_f64).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), numbers_as_f64(v))).collect()),
        other => other.clone(),
    }
}

#[test]
fn gi_star_layers_served_equal_the_cli_layers() {
    // The server builds Gi* tables column by column over a shared grid shape;
    // the CLI writes `Hotspots::to_layer`. Same features, same values.
    use hotspots::analysis::hotspot::{gi_star, HotspotRequest};
    use hotspots::analysis::units::UnitKind;
    let base = demo();
    let ds = hotspots::dataset::Dataset::open(&common::demo_dataset()).unwrap();
    for (collection, query, grid, band) in [
        ("gistar", "cell=250&band=750", UnitKind::Square, 750.0),
        ("gistar", "cell=250&band=1000", UnitKind::Square, 1000.0),
        ("hex", "cell=300&band=900", UnitKind::Hex, 900.0),
        ("gistar", "grid=ward&band=1500", UnitKind::Ward, 1500.0),
    ] {
        let cell = (grid != UnitKind::Ward).then(|| if grid == UnitKind::Hex { 300.0 } else { 250.0 });
        let req = HotspotRequest {
            grid,
            cell_m: cell,
            band_m: Some(band),
            ..Default::default()
        };
        let cli: Value = serde_json::from_str(&gi_star(&ds, &req).unwrap().to_layer().to_geojson()).unwrap();
        // `datetime=../..`: every month, as the CLI counts (the server's
        // default is the latest 12 months).
        let served = get(&format!(
            "{base}/collections/{collection}/items?{query}&datetime=../..&limit=10000"
        ))
        .json();
        let (a, b) = (
            cli["features"].as_array().unwrap(),
            served["features"].as_array().unwrap(),
        );
        assert_eq!(a.len(), b.len(), "{collection}?{query}");
        for (a, b) in a.iter().zip(b) {
            // The API writes whole numbers without a fraction (8, the CLI 8.0).
            assert_eq!(numbers_as_f64(a), numbers_as_f64(b), "{collection}?{query}");
        }
    }
}

#[test]
fn items_filter_sort_select_and_cap() {
    let base = demo();
    let all = get(&format!("{base}/collections/incidents/items?limit=1")).json();
    let total = all["numberMatched"].as_u64().unwrap();
    let burglary = get(&format!(
        "{base}/collections/incidents/items?crime_type=burglary&limit=5"
    ))
    .json();
    let n = burglary["numberMatched"].as_u64().unwrap();
    assert!(n > 0 && n < total, "{n} of {total}");
    assert!(burglary["features"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["properties"]["crime_type"] == "Burglary"));
    // properties= and sortby.
    let wards = get(&format!(
        "{base}/collections/wards/items?properties=name,incidents&sortby=-incidents"
    ))
    .json();
    let fs = wards["features"].as_array().unwrap();
    let counts: Vec<f64> = fs
        .iter()
        .map(|f| f["properties"]["incidents"].as_f64().unwrap())
        .collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "sorted descending");
    assert_eq!(fs[0]["properties"].as_object().unwrap().len(), 2);
    // bbox narrows.
    let ext = &get(&format!("{base}/collections/wards")).json()["extent"]["spatial"]["bbox"][0];
    let (x0, y0) = (ext[0].as_f64().unwrap(), ext[1].as_f64().unwrap());
    let small = get(&format!(
        "{base}/collections/incidents/items?bbox={x0},{y0},{},{}&limit=1",
        x0 + 0.01,
        y0 + 0.01
    ))
    .json();
    assert!(small["numberMatched"].as_u64().unwrap() < total);
    // A limit above the maximum is capped, with a next link when more remain.
    let big = get(&format!("{base}/collections/incidents/items?limit=50000")).json();
    assert_eq!(big["numberReturned"].as_u64().unwrap(), total.min(10_000));
    if total > 10_000 {
        assert!(link(&big, "next").unwrap().contains("limit=10000"));
    }
    // One feature, by the id a page gave.
    let f = &all["features"][0];
    let one = get(&format!("{base}/collections/incidents/items/{}", f["id"]));
    assert_eq!(one.status, 200);
    let one = one.json();
    assert_eq!(one["id"], f["id"]);
    assert_eq!(one["properties"], f["properties"]);
    check_feature(&one);
}

#[test]
fn bad_requests_get_problem_documents_naming_the_parameter() {
    let base = demo();
    let corpus: &[(&str, u16, &str)] = &[
        ("/collections/incidents/items?bbox=1,2,3", 400, "bbox"),
        ("/collections/incidents/items?bbox=a,b,c,d", 400, "bbox"),
        ("/collections/incidents/items?bbox=10,60,0,50", 400, "bbox"),
        ("/collections/incidents/items?limit=0", 400, "limit"),
        ("/collections/incidents/items?limit=abc", 400, "limit"),
        ("/collections/incidents/items?offset=-3", 400, "offset"),
        ("/collections/nope", 404, "collectionId"),
        ("/collections/nope/items", 404, "collectionId"),
        ("/collections/incidents/items/999999999", 404, "featureId"),
        ("/collections/wards/items/nope", 404, "featureId"),
        ("/collections/incidents/items?colour=red", 400, "colour"),
        ("/collections/incidents/items?datetime=2024-13", 400, "datetime"),
        ("/collections/gistar/items?datetime=2024-13", 400, "datetime"),
        ("/collections/gistar/items?from=2024-13", 400, "from"),
        ("/collections/gistar/items?teams=-1", 400, "teams"),
        ("/collections/gistar/items?radius=abc", 400, "radius"),
        ("/collections/surge/items?teams=-1", 400, "teams"),
        ("/collections/surge/items?teams=0", 400, "teams"),
        ("/collections/surge/items?teams=100000", 400, "teams"),
        ("/collections/surge/items?radius=abc", 400, "radius"),
        ("/collections/surge/items?radius=-300", 400, "radius"),
        ("/collections/surge/items?predictor=magic", 400, "predictor"),
        ("/collections/poi-risk/items?radius=-5", 400, "radius"),
        (
            "/collections/poi-risk/items?radius=100&rank_radius=250",
            400,
            "rank_radius",
        ),
        ("/collections/gistar/items?cell=abc", 400, "cell"),
        ("/collections/gistar/items?cell=-5", 400, "cell"),
        ("/collections/gistar/items?crime_type=unicorns", 400, "crime_type"),
        ("/collections/gistar/items?weights=magic", 400, "weights"),
        ("/collections/gistar/items?harm=burglary", 400, "harm"),
        ("/collections/emerging/items?time_step=-1", 400, "time_step"),
        ("/collections/h3/items?resolution=99", 400, "resolution"),
        ("/collections/wards/items?sortby=nope", 400, "sortby"),
        ("/collections/wards/items?properties=nope", 400, "properties"),
        ("/collections/wards/items?datetime=2024-01", 400, "datetime"),
        ("/collections?f=pdf", 400, "f"),
        ("/?foo=1", 400, "foo"),
        ("/collections/incidents/items?limit=1&limit=2", 400, "limit"),
    ];
    for (path, status, parameter) in corpus {
        let r = get(&format!("{base}{path}"));
        assert_eq!(r.status, *status, "{path}: {}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.content_type, "application/problem+json", "{path}");
        let doc = r.json();
        assert_eq!(doc["status"], *status, "{path}");
        assert_eq!(doc["parameter"], *parameter, "{path}: {doc}");
        assert!(doc["title"].is_string() && doc["detail"].is_string() && doc["type"].is_string());
    }
    let r = get(&format!("{base}/no/such/path"));
    assert_eq!(r.status, 404);
    assert_eq!(r.content_type, "application/problem+json");
}

#[test]
fn analysis_layers_are_cached_with_etags_and_gzip() {
    let base = demo();
    let url = format!("{base}/collections/hex/items?cell=400&band=1200&crime_type=burglary&limit=5");
    let first = get(&url);
    assert_eq!(first.status, 200, "{}", String::from_utf8_lossy(&first.body));
    let again = get(&format!("{url}&offset=5"));
    assert_eq!(
        again.header("x-cache"),
        Some("hit"),
        "same parameters, no recomputation"
    );
    let etag = first.header("etag").expect("ETag").to_string();
    assert!(etag.starts_with('"') && !etag.starts_with("W/"), "strong ETag: {etag}");
    let repeat = get(&url);
    assert_eq!(repeat.header("etag"), Some(etag.as_str()));
    assert_eq!(repeat.body, first.body, "same request, same bytes");
    let not_modified = get_with(&url, &[("If-None-Match", &etag)]);
    assert_eq!(not_modified.status, 304);
    assert!(not_modified.body.is_empty());
    let changed = get_with(&url.replace("limit=5", "limit=6"), &[("If-None-Match", &etag)]);
    assert_eq!(changed.status, 200);
    // Metadata says what was computed.
    assert_eq!(first.json()["metadata"]["cell_m"], 400.0);
    // Static pages have ETags too.
    let wards = format!("{base}/collections/wards/items?limit=3");
    let e = get(&wards).header("etag").unwrap().to_string();
    assert_eq!(get_with(&wards, &[("If-None-Match", &e)]).status, 304);
    // gzip when asked.
    let gz = get_with(
        &format!("{base}/collections/wards/items?limit=50"),
        &[("Accept-Encoding", "gzip")],
    );
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz.body[..])
        .read_to_string(&mut text)
        .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["numberReturned"], 50.min(v["numberMatched"].as_u64().unwrap()));
    let plain = get(&format!("{base}/collections/wards/items?limit=50"));
    assert_eq!(plain.header("content-encoding"), None);
    assert!(gz.body.len() * 2 < plain.body.len(), "gzip shrinks GeoJSON");
    // The gzip representation has its own strong ETag; either revalidates.
    let (gz_tag, plain_tag) = (gz.header("etag").unwrap(), plain.header("etag").unwrap());
    assert_ne!(gz_tag, plain_tag, "gzip and identity bodies differ, so do their ETags");
    assert_eq!(gz.header("vary"), Some("accept-encoding"));
    let wards50 = format!("{base}/collections/wards/items?limit=50");
    for tag in [gz_tag, plain_tag] {
        let r = get_with(&wards50, &[("Accept-Encoding", "gzip"), ("If-None-Match", tag)]);
        assert_eq!(r.status, 304, "{tag}");
        assert_eq!(r.header("etag"), Some(tag));
    }
}

/// What "all crime" means (issue 22, item 6), the same in the CLI and the
/// API: with no crime type, every crime type but anti-social behaviour
/// (15 % of the demo city's records); ASB only when named; the metadata
/// lists the kind and the crime types counted, with their counts.
#[test]
fn all_crime_excludes_asb_alike_in_the_cli_and_the_api() {
    let base = demo();
    let dataset = common::demo_dataset();
    let dir = tempfile::tempdir().unwrap();
    let asb = "Anti-social behaviour";
    for (command, query, flags) in [
        ("poi-risk", "radius=100,200", vec!["--radius", "100", "--radius", "200"]),
        ("surge", "teams=2", vec!["--teams", "2"]),
        ("kde", "cell=500", vec!["--cell", "500"]),
        ("gistar", "cell=500&band=1500", vec!["--cell", "500", "--band", "1500"]),
        (
            "emerging",
            "cell=1000&band=3000",
            vec!["--cell", "1000", "--band", "3000"],
        ),
    ] {
        for named in [false, true] {
            let served = get(&format!(
                // All months, as the CLI counts (the server's default is the latest 12).
                "{base}/collections/{command}/items?{query}&limit=1&datetime=../..{}",
                if named { "&crime_type=anti-social-behaviour" } else { "" }
            ));
            assert_eq!(
                served.status,
                200,
                "{command}: {}",
                String::from_utf8_lossy(&served.body)
            );
            let api = served.json()["metadata"]["counted"].clone();
            let out = dir.path().join(format!("{command}-{named}.geojson"));
            let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hotspots"));
            cmd.arg(command)
                .arg("--dataset")
                .arg(&dataset)
                .args(&flags)
                .arg("--out")
                .arg(&out);
            if named {
                cmd.args(["--crime-type", "anti-social-behaviour"]);
            }
            let status = cmd.stdout(std::process::Stdio::null()).status().unwrap();
            assert!(status.success(), "{command}");
            let cli: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
            let cli = cli["metadata"]["counted"].clone();
            assert_eq!(
                numbers_as_f64(&api),
                numbers_as_f64(&cli),
                "{command}, ASB named: {named}"
            );
            assert_eq!(api["kind"], "crime", "{command}");
            let types = api["crime_types"].as_object().unwrap();
            if named {
                assert_eq!(types.keys().collect::<Vec<_>>(), vec![asb], "{command}");
            } else {
                assert!(types.len() >= 2 && !types.contains_key(asb), "{command}: {api}");
                assert!(api["rule"].as_str().unwrap().contains("except anti-social behaviour"));
            }
        }
    }
}

#[test]
fn every_analysis_collection_answers_on_the_demo_city() {
    let base = demo();
    for (id, q) in [
        ("gistar", "grid=ward"),
        ("h3", "resolution=8"),
        ("lisa", "cell=500&band=1500&permutations=99"),
        ("kde", "cell=200"),
        ("emerging", "cell=500&band=1500"),
        ("poi-risk", "radius=100,200&rank_radius=200"),
        ("poi-risk", "pois=stations&geometry=buffer"),
        ("surge", "teams=3&radius=300"),
        ("surge", "teams=2&near=schools&predictor=prospective"),
    ] {
        let r = get(&format!("{base}/collections/{id}/items?{q}&limit=20"));
        assert_eq!(r.status, 200, "{id}: {}", String::from_utf8_lossy(&r.body));
        let v = r.json();
        assert!(v["numberMatched"].as_u64().unwrap() > 0, "{id}");
        v["features"].as_array().unwrap().iter().for_each(check_feature);
        let fid = &v["features"][0]["id"];
        let one = get(&format!("{base}/collections/{id}/items/{}?{q}", fid.as_str().unwrap()));
        assert_eq!(one.status, 200, "{id} feature {fid}");
        assert_eq!(&one.json()["id"], fid);
    }
}

#[test]
fn graceful_shutdown_finishes_the_server() {
    let ds = hotspots::dataset::Dataset::open(&common::demo_dataset()).unwrap();
    let state = hotspots::api::AppState::new(ds).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(hotspots::api::serve(listener, state, async {
            let _ = rx.await;
        }));
        let r = tokio::task::spawn_blocking(move || get(&format!("http://{addr}/conformance")).status)
            .await
            .unwrap();
        assert_eq!(r, 200);
        tx.send(()).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(10), server)
            .await
            .expect("server stops after the shutdown signal")
            .unwrap()
            .unwrap();
    });
}

#[test]
fn qgis_sequence_on_the_real_burglary_data() {
    let Some(dir) = common::burglary_dataset("qgis_sequence_on_the_real_burglary_data") else {
        return;
    };
    let base = common::serve_dataset(&dir);
    let wards = qgis_sequence(&base, "wards", "");
    assert!(wards.len() > 600, "London's wards: {}", wards.len());
    let t0 = std::time::Instant::now();
    let cells = qgis_sequence(&base, "gistar", "&cell=250&band=750&significant=true");
    eprintln!(
        "real burglary Gi*: {} significant cells, first layer and paging in {:.2} s",
        cells.len(),
        t0.elapsed().as_secs_f64()
    );
    assert!(!cells.is_empty());
    // Incidents in a small box around Westminster, paged as QGIS does.
    let pts = qgis_sequence(
        &base,
        "incidents",
        "&bbox=-0.14,51.495,-0.125,51.505&datetime=2024-01/2024-12",
    );
    assert!(!pts.is_empty());
}
