//! OGC API – Features Part 3 on the real City of London dataset: the
//! queryables, and CQL2 filters (text and JSON) whose `numberMatched` equals
//! the same selection counted directly from `incidents.parquet`; a bad
//! filter is a 400 that says where it is wrong.

use crate::common;
use crate::common::http;

use std::sync::OnceLock;

use geo_traits::to_geo::ToGeoGeometry;
use serde_json::Value;

/// The City incidents as the Parquet table holds them.
struct Rows {
    month: Vec<String>,
    crime_type: Vec<String>,
    outcome: Vec<Option<String>>,
    station_m: Vec<Option<f64>>,
    line: Vec<u32>,
    ward: Vec<String>,
    lon: Vec<f64>,
    lat: Vec<f64>,
    easting: Vec<f64>,
    northing: Vec<f64>,
}

fn served(test: &str) -> Option<&'static (std::path::PathBuf, String, Rows)> {
    static S: OnceLock<(std::path::PathBuf, String, Rows)> = OnceLock::new();
    let ds = common::city_dataset(test)?;
    Some(S.get_or_init(|| {
        let base = common::serve_dataset(&ds);
        let df = hotspots::dataset::read_parquet(&ds.join("incidents.parquet")).unwrap();
        let s = |c: &str| -> Vec<Option<String>> {
            df.column(c)
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .map(|v| v.map(str::to_string))
                .collect()
        };
        let f = |c: &str| -> Vec<Option<f64>> { df.column(c).unwrap().f64().unwrap().iter().collect() };
        let all = |v: Vec<Option<f64>>| v.into_iter().map(Option::unwrap).collect();
        let rows = Rows {
            month: s("month").into_iter().map(Option::unwrap).collect(),
            crime_type: s("crime_type").into_iter().map(Option::unwrap).collect(),
            outcome: s("last_outcome"),
            station_m: f("nearest_station_m"),
            line: df
                .column("line")
                .unwrap()
                .u32()
                .unwrap()
                .iter()
                .map(Option::unwrap)
                .collect(),
            ward: s("ward_code").into_iter().map(Option::unwrap).collect(),
            lon: all(f("lon")),
            lat: all(f("lat")),
            easting: all(f("easting_m")),
            northing: all(f("northing_m")),
        };
        (ds, base, rows)
    }))
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn matched(base: &str, query: &str) -> u64 {
    let r = http::request(
        "GET",
        &format!("{base}/collections/incidents/items?limit=1&{query}"),
        &[],
        None,
    )
    .unwrap();
    assert_eq!(r.status, 200, "{query}: {}", String::from_utf8_lossy(&r.body));
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    v["numberMatched"].as_u64().unwrap()
}

fn text(base: &str, filter: &str) -> u64 {
    matched(base, &format!("filter={}", enc(filter)))
}

fn json(base: &str, filter: &Value) -> u64 {
    matched(
        base,
        &format!("filter-lang=cql2-json&filter={}", enc(&filter.to_string())),
    )
}

fn count(rows: &Rows, keep: impl Fn(usize) -> bool) -> u64 {
    (0..rows.month.len()).filter(|&i| keep(i)).count() as u64
}

#[test]
fn queryables_list_every_property_with_its_type() {
    let Some((_, base, _)) = served("queryables_list_every_property_with_its_type") else {
        return;
    };
    let r = http::request("GET", &format!("{base}/collections/incidents/queryables"), &[], None).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/schema+json"));
    let q: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(q["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(q["additionalProperties"], false);
    let p = &q["properties"];
    assert_eq!(p["crime_type"]["type"], "string");
    assert_eq!(p["nearest_station_m"]["type"], "number");
    assert_eq!(p["month"]["type"], "string");
    assert_eq!(p["geometry"]["format"], "geometry-any");
    let r = http::request("GET", &format!("{base}/collections/gistar/queryables"), &[], None).unwrap();
    let q: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(q["properties"]["gi_z"]["type"], "number");
    assert_eq!(q["properties"]["significant"]["type"], "boolean");
    let conf: Value = serde_json::from_slice(
        &http::request("GET", &format!("{base}/conformance"), &[], None)
            .unwrap()
            .body,
    )
    .unwrap();
    let classes = conf["conformsTo"].as_array().unwrap();
    for c in [
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
        "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    ] {
        assert!(classes.iter().any(|x| x == c), "{c}");
    }
}

#[test]
fn comparisons_logic_like_in_between_and_null_count_as_the_table_does() {
    let Some((_, base, rows)) = served("comparisons_logic_like_in_between_and_null_count_as_the_table_does") else {
        return;
    };
    let in_2019h1 = |i: usize| rows.month[i].as_str() >= "2019-01" && rows.month[i].as_str() <= "2019-06";
    let cases: Vec<(&str, u64)> = vec![
        (
            "crime_type = 'Burglary' AND month >= '2019-01' AND month <= '2019-06'",
            count(rows, |i| rows.crime_type[i] == "Burglary" && in_2019h1(i)),
        ),
        (
            "crime_type LIKE 'Theft%' OR crime_type LIKE '%theft'",
            count(rows, |i| {
                rows.crime_type[i].starts_with("Theft") || rows.crime_type[i].ends_with("theft")
            }),
        ),
        (
            "crime_type IN ('Robbery', 'Drugs') AND NOT month < '2020-01'",
            count(rows, |i| {
                (rows.crime_type[i] == "Robbery" || rows.crime_type[i] == "Drugs")
                    && rows.month[i].as_str() >= "2020-01"
            }),
        ),
        (
            "line BETWEEN 100 AND 250.5",
            count(rows, |i| (100..=250).contains(&rows.line[i])),
        ),
        // The City's config has no stations: the distance is null throughout.
        (
            "nearest_station_m IS NULL",
            count(rows, |i| rows.station_m[i].is_none()),
        ),
        ("last_outcome IS NULL", count(rows, |i| rows.outcome[i].is_none())),
        ("NOT last_outcome IS NULL", count(rows, |i| rows.outcome[i].is_some())),
        (
            "crime_type <> 'Anti-social behaviour'",
            count(rows, |i| rows.crime_type[i] != "Anti-social behaviour"),
        ),
        // The API's slugs name crime types too, as crime_type=burglary does.
        (
            "crime_type = 'burglary'",
            count(rows, |i| rows.crime_type[i] == "Burglary"),
        ),
        (
            "month >= DATE('2020-02-15') AND month < TIMESTAMP('2020-06-01T00:00:00Z')",
            count(rows, |i| {
                rows.month[i].as_str() >= "2020-02" && rows.month[i].as_str() < "2020-06"
            }),
        ),
        (
            "T_INTERSECTS(month, INTERVAL('2019-01-01', '2019-06-30'))",
            count(rows, in_2019h1),
        ),
        (
            "T_BEFORE(month, DATE('2018-03-10'))",
            count(rows, |i| rows.month[i].as_str() < "2018-03"),
        ),
        (
            "T_AFTER(month, INTERVAL('2018-01-01', '2021-06-30'))",
            count(rows, |i| rows.month[i].as_str() > "2021-06"),
        ),
    ];
    for (filter, want) in &cases {
        assert!(*want > 0, "{filter}: the City has such incidents");
        assert_eq!(text(base, filter), *want, "{filter}");
    }
    // The same as cql2-json.
    let j = serde_json::json!({"op": "and", "args": [
        {"op": "=", "args": [{"property": "crime_type"}, "Burglary"]},
        {"op": "between", "args": [{"property": "month"}, "2019-01", "2019-06"]},
    ]});
    assert_eq!(json(base, &j), cases[0].1);
    // A filter beside the other parameters: all apply.
    let both = matched(
        base,
        &format!("datetime=2019-01/2019-06&filter={}", enc("crime_type = 'Burglary'")),
    );
    assert_eq!(both, cases[0].1);
}

#[test]
fn s_intersects_with_a_ward_selects_its_incidents() {
    let Some((ds, base, rows)) = served("s_intersects_with_a_ward_selects_its_incidents") else {
        return;
    };
    use geo::Intersects;
    let wards = hotspots::dataset::read_parquet(&ds.join("wards.parquet")).unwrap();
    let codes: Vec<&str> = wards
        .column("code")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(Option::unwrap)
        .collect();
    let k = codes.iter().position(|c| *c == "E05000017").expect("a City ward");
    let geometry = |col: &str| {
        let b = wards.column(col).unwrap().binary().unwrap().get(k).unwrap();
        wkb::reader::read_wkb(b).unwrap().to_geometry()
    };
    let (wgs, bng) = (geometry("geometry"), geometry("geometry_bng_wkb"));
    let wkt = |g: &geo::Geometry<f64>| wkt::ToWkt::wkt_string(g);
    // In CRS84: what geo says of the same points and polygon.
    let want = count(rows, |i| {
        rows.crime_type[i] == "Other theft" && wgs.intersects(&geo::Point::new(rows.lon[i], rows.lat[i]))
    });
    let got = text(
        base,
        &format!("crime_type = 'Other theft' AND S_INTERSECTS(geometry, {})", wkt(&wgs)),
    );
    assert_eq!(got, want);
    // The ingest put each of them in this ward (its point-in-polygon in BNG):
    // the two agree but for points on the ward's edge.
    let by_ward = count(rows, |i| {
        rows.crime_type[i] == "Other theft" && rows.ward[i] == "E05000017"
    });
    assert!(by_ward > 100);
    assert!(
        got.abs_diff(by_ward) * 100 <= by_ward,
        "{got} against {by_ward} by ward_code"
    );
    // In BNG (filter-crs): the ward's own BNG polygon.
    let got_bng = matched(
        base,
        &format!(
            "filter-crs={}&filter={}",
            enc("http://www.opengis.net/def/crs/EPSG/0/27700"),
            enc(&format!(
                "crime_type = 'Other theft' AND S_INTERSECTS(geometry, {})",
                wkt(&bng)
            ))
        ),
    );
    assert!(
        got_bng.abs_diff(by_ward) * 100 <= by_ward,
        "{got_bng} against {by_ward}"
    );
    // A BNG BBOX: what the easting/northing columns say.
    let b = [532_000.5, 181_000.5, 532_600.5, 181_500.5];
    let want = count(rows, |i| {
        rows.easting[i] >= b[0] && rows.easting[i] <= b[2] && rows.northing[i] >= b[1] && rows.northing[i] <= b[3]
    });
    let got = matched(
        base,
        &format!(
            "filter-crs={}&filter={}",
            enc("http://www.opengis.net/def/crs/EPSG/0/27700"),
            enc(&format!(
                "S_INTERSECTS(geometry, BBOX({}, {}, {}, {}))",
                b[0], b[1], b[2], b[3]
            ))
        ),
    );
    assert_eq!(got, want);
    // S_DISJOINT is the rest.
    let disjoint = text(base, &format!("S_DISJOINT(geometry, {})", wkt(&wgs)));
    let inside = text(base, &format!("S_INTERSECTS(geometry, {})", wkt(&wgs)));
    assert_eq!(disjoint + inside, rows.month.len() as u64);
}

#[test]
fn bad_filters_are_400s_that_say_what_and_where() {
    let Some((_, base, _)) = served("bad_filters_are_400s_that_say_what_and_where") else {
        return;
    };
    for (query, parameter, says) in [
        (
            format!("filter={}", enc("crime_type = 'Burglary' AND AND month > '2019-01'")),
            "filter",
            "1:",
        ),
        (
            format!("filter={}", enc("no_such_thing = 3")),
            "filter",
            "no_such_thing",
        ),
        (format!("filter={}", enc("crime_type > 5")), "filter", "crime_type"),
        (
            format!("filter={}", enc("CASEI(crime_type) = 'burglary'")),
            "filter",
            "casei",
        ),
        (
            format!("filter-lang=cql2-json&filter={}", enc("{\"op\": \"=\"")),
            "filter",
            "line 1",
        ),
        (
            format!("filter-lang=ecql&filter={}", enc("a = 1")),
            "filter-lang",
            "cql2-text",
        ),
        (
            format!("filter-crs=EPSG:3857&filter={}", enc("a = 1")),
            "filter-crs",
            "27700",
        ),
    ] {
        let r = http::request("GET", &format!("{base}/collections/incidents/items?{query}"), &[], None).unwrap();
        assert_eq!(r.status, 400, "{query}");
        let p: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(p["parameter"], parameter, "{query}: {p}");
        assert!(p["detail"].as_str().unwrap().contains(says), "{query}: {p}");
    }
    // Analysis collections check the names before any work.
    let r = http::request(
        "GET",
        &format!("{base}/collections/gistar/items?filter={}", enc("nope > 1")),
        &[],
        None,
    )
    .unwrap();
    assert_eq!(r.status, 400);
    // And filter on their own properties.
    let r = http::request(
        "GET",
        &format!(
            "{base}/collections/gistar/items?cell=250&limit=1000&filter={}",
            enc("gi_z > 1.96 AND count >= 5")
        ),
        &[],
        None,
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let fc: Value = serde_json::from_slice(&r.body).unwrap();
    for f in fc["features"].as_array().unwrap() {
        assert!(f["properties"]["gi_z"].as_f64().unwrap() > 1.96);
        assert!(f["properties"]["count"].as_f64().unwrap() >= 5.0);
    }
}

/// A filter's cost is known before any row is tested: over the server's
/// `--max-work`, a 422 naming `filter`.
#[test]
fn a_filter_over_the_work_limit_is_refused_before_any_work() {
    let Some(ds) = common::city_dataset("a_filter_over_the_work_limit_is_refused_before_any_work") else {
        return;
    };
    let mut config = hotspots::api::ServerConfig::default();
    config.limits.max_work = 1e6;
    let base = common::serve_with_config(&ds, config);
    // A 100-vertex ring around the City: 26k incidents x ~100 steps > 10^6.
    let ring: Vec<String> = (0..=100)
        .map(|k| {
            let a = std::f64::consts::TAU * (k % 100) as f64 / 100.0;
            format!("{} {}", -0.09 + 0.02 * a.cos(), 51.515 + 0.01 * a.sin())
        })
        .collect();
    let filter = format!("S_INTERSECTS(geometry, POLYGON(({})))", ring.join(", "));
    let r = http::request(
        "GET",
        &format!("{base}/collections/incidents/items?filter={}", enc(&filter)),
        &[],
        None,
    )
    .unwrap();
    assert_eq!(r.status, 422, "{}", String::from_utf8_lossy(&r.body));
    let p: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(p["parameter"], "filter");
    // A simple one is well inside the limit.
    let r = http::request(
        "GET",
        &format!(
            "{base}/collections/incidents/items?limit=1&filter={}",
            enc("crime_type = 'Robbery'")
        ),
        &[],
        None,
    )
    .unwrap();
    assert_eq!(r.status, 200);
}
