//! OGC API – Features Part 2 (CRS by reference) on the real City of London
//! dataset: items in CRS84, EPSG:4326 (lat, lon) and British National Grid
//! (EPSG:27700) with the Parquet table's own coordinates, `bbox-crs`, the
//! `Content-Crs` header, bad values as 400 problem documents, and GDAL's
//! OAPIF driver (pyogrio's GDAL) reading the wards in their storage CRS.

use crate::common;
use crate::common::http;

use std::sync::OnceLock;

use geo_traits::to_geo::ToGeoGeometry;
use serde_json::Value;

const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
const EPSG_4326: &str = "http://www.opengis.net/def/crs/EPSG/0/4326";
const EPSG_27700: &str = "http://www.opengis.net/def/crs/EPSG/0/27700";

/// The City dataset and its server, once.
fn served(test: &str) -> Option<&'static (std::path::PathBuf, String)> {
    static S: OnceLock<(std::path::PathBuf, String)> = OnceLock::new();
    let ds = common::city_dataset(test)?;
    Some(S.get_or_init(|| {
        let base = common::serve_dataset(&ds);
        (ds, base)
    }))
}

fn get(url: &str) -> http::Reply {
    http::request("GET", url, &[], None).unwrap_or_else(|e| panic!("{url}: {e}"))
}

fn json(r: &http::Reply) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&r.body)))
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Every position of a GeoJSON geometry, in order.
fn positions(g: &Value) -> Vec<[f64; 2]> {
    fn walk(v: &Value, out: &mut Vec<[f64; 2]>) {
        match v.as_array() {
            Some(a) if a.len() == 2 && a[0].is_number() => out.push([a[0].as_f64().unwrap(), a[1].as_f64().unwrap()]),
            Some(a) => a.iter().for_each(|x| walk(x, out)),
            None => {}
        }
    }
    let mut out = Vec::new();
    walk(&g["coordinates"], &mut out);
    out
}

/// The wards' BNG polygons as the Parquet table holds them, by code.
fn parquet_bng_wards(ds: &std::path::Path) -> std::collections::HashMap<String, Vec<[f64; 2]>> {
    use geo::CoordsIter;
    let df = hotspots::dataset::read_parquet(&ds.join("wards.parquet")).unwrap();
    let codes = df.column("code").unwrap().str().unwrap().clone();
    let wkb = df.column("geometry_bng_wkb").unwrap().binary().unwrap().clone();
    codes
        .iter()
        .map(Option::unwrap)
        .zip(wkb.iter().map(Option::unwrap))
        .map(|(c, b)| {
            let g = wkb::reader::read_wkb(b).unwrap().to_geometry();
            (c.to_string(), g.coords_iter().map(|c| [c.x, c.y]).collect())
        })
        .collect()
}

#[test]
fn collections_declare_their_crs_and_the_server_conforms_to_part_2() {
    let Some((_, base)) = served("collections_declare_their_crs_and_the_server_conforms_to_part_2") else {
        return;
    };
    let conf = json(&get(&format!("{base}/conformance")));
    assert!(conf["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs"));
    for (id, storage) in [("wards", EPSG_27700), ("incidents", EPSG_27700), ("gistar", CRS84)] {
        let doc = json(&get(&format!("{base}/collections/{id}")));
        assert_eq!(doc["storageCrs"], storage, "{id}");
        assert_eq!(doc["crs"], serde_json::json!([CRS84, EPSG_4326, EPSG_27700]), "{id}");
    }
}

#[test]
fn wards_in_bng_have_the_parquet_tables_coordinates_exactly() {
    let Some((ds, base)) = served("wards_in_bng_have_the_parquet_tables_coordinates_exactly") else {
        return;
    };
    let truth = parquet_bng_wards(ds);
    let r = get(&format!(
        "{base}/collections/wards/items?limit=1000&crs={}",
        enc(EPSG_27700)
    ));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-crs"), Some(format!("<{EPSG_27700}>").as_str()));
    let fc = json(&r);
    let features = fc["features"].as_array().unwrap();
    assert_eq!(features.len(), truth.len());
    for f in features {
        let code = f["id"].as_str().unwrap();
        assert_eq!(
            positions(&f["geometry"]),
            truth[code],
            "ward {code}: not the Parquet table's numbers"
        );
    }
    // One item, the same.
    let code = features[7]["id"].as_str().unwrap();
    let r = get(&format!(
        "{base}/collections/wards/items/{code}?crs={}",
        enc(EPSG_27700)
    ));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-crs"), Some(format!("<{EPSG_27700}>").as_str()));
    assert_eq!(positions(&json(&r)["geometry"]), truth[code]);
}

#[test]
fn epsg_4326_swaps_the_axes_and_crs84_is_the_default() {
    let Some((_, base)) = served("epsg_4326_swaps_the_axes_and_crs84_is_the_default") else {
        return;
    };
    for id in ["wards", "incidents", "gistar"] {
        let plain = get(&format!("{base}/collections/{id}/items?limit=20"));
        assert_eq!(plain.header("content-crs"), Some(format!("<{CRS84}>").as_str()));
        let latlon = get(&format!(
            "{base}/collections/{id}/items?limit=20&crs={}",
            enc(EPSG_4326)
        ));
        assert_eq!(latlon.header("content-crs"), Some(format!("<{EPSG_4326}>").as_str()));
        let (a, b) = (json(&plain), json(&latlon));
        for (f, g) in a["features"]
            .as_array()
            .unwrap()
            .iter()
            .zip(b["features"].as_array().unwrap())
        {
            let swapped: Vec<[f64; 2]> = positions(&f["geometry"]).iter().map(|p| [p[1], p[0]]).collect();
            assert_eq!(positions(&g["geometry"]), swapped, "{id}");
            assert!(
                swapped.iter().all(|p| p[0] > 51.0 && p[0] < 52.0),
                "{id}: latitude first"
            );
        }
    }
}

#[test]
fn incidents_and_grid_cells_in_bng() {
    let Some((ds, base)) = served("incidents_and_grid_cells_in_bng") else {
        return;
    };
    // Incidents: the point is (easting_m, northing_m) exactly.
    let df = hotspots::dataset::read_parquet(&ds.join("incidents.parquet")).unwrap();
    let id = df.column("incident_id").unwrap().u32().unwrap().clone();
    let e = df.column("easting_m").unwrap().f64().unwrap().clone();
    let n = df.column("northing_m").unwrap().f64().unwrap().clone();
    let truth: std::collections::HashMap<u64, [f64; 2]> = id
        .into_no_null_iter()
        .zip(e.into_no_null_iter().zip(n.into_no_null_iter()))
        .map(|(i, (e, n))| (i as u64, [e, n]))
        .collect();
    let fc = json(&get(&format!(
        "{base}/collections/incidents/items?limit=500&offset=1000&crs={}",
        enc(EPSG_27700)
    )));
    let features = fc["features"].as_array().unwrap();
    assert_eq!(features.len(), 500);
    for f in features {
        let i = f["id"].as_u64().unwrap();
        assert_eq!(positions(&f["geometry"]), vec![truth[&i]], "incident {i}");
    }
    // Gi* cells of 250 m: back in BNG through OSTN15, squares of 250 m to the millimetre.
    let fc = json(&get(&format!(
        "{base}/collections/gistar/items?cell=250&limit=50&crs={}",
        enc(EPSG_27700)
    )));
    let cells = fc["features"].as_array().unwrap();
    assert!(!cells.is_empty());
    for c in cells {
        let p = positions(&c["geometry"]);
        assert_eq!(p.len(), 5, "a closed square");
        for k in 0..4 {
            let side = ((p[k + 1][0] - p[k][0]).powi(2) + (p[k + 1][1] - p[k][1]).powi(2)).sqrt();
            assert!((side - 250.0).abs() < 1e-3, "side {side} m");
        }
    }
}

#[test]
fn a_bbox_in_bng_selects_what_the_bng_coordinates_say() {
    let Some((ds, base)) = served("a_bbox_in_bng_selects_what_the_bng_coordinates_say") else {
        return;
    };
    let df = hotspots::dataset::read_parquet(&ds.join("incidents.parquet")).unwrap();
    let e: Vec<f64> = df
        .column("easting_m")
        .unwrap()
        .f64()
        .unwrap()
        .into_no_null_iter()
        .collect();
    let n: Vec<f64> = df
        .column("northing_m")
        .unwrap()
        .f64()
        .unwrap()
        .into_no_null_iter()
        .collect();
    // Boxes around the City's busiest streets (the edges half-way between
    // whole metres: no snapped point lies within millimetres of them).
    for b in [
        [532_000.5, 181_000.5, 532_600.5, 181_500.5],
        [533_100.5, 180_900.5, 533_400.5, 181_300.5],
    ] {
        let want = e
            .iter()
            .zip(&n)
            .filter(|(e, n)| **e >= b[0] && **e <= b[2] && **n >= b[1] && **n <= b[3])
            .count();
        assert!(want > 100, "a busy box: {want}");
        let bbox = format!("{},{},{},{}", b[0], b[1], b[2], b[3]);
        let fc = json(&get(&format!(
            "{base}/collections/incidents/items?limit=1&bbox={bbox}&bbox-crs={}",
            enc(EPSG_27700)
        )));
        assert_eq!(fc["numberMatched"], want, "box {b:?}");
    }
    // EPSG:4326's bbox is lat,lon: the same box as CRS84's lon,lat.
    let a = json(&get(&format!(
        "{base}/collections/incidents/items?limit=1&bbox=-0.095,51.512,-0.085,51.518"
    )));
    let b = json(&get(&format!(
        "{base}/collections/incidents/items?limit=1&bbox=51.512,-0.095,51.518,-0.085&bbox-crs={}",
        enc(EPSG_4326)
    )));
    assert_eq!(a["numberMatched"], b["numberMatched"]);
    assert!(a["numberMatched"].as_u64().unwrap() > 0);
}

#[test]
fn bad_crs_values_are_400_problem_documents() {
    let Some((_, base)) = served("bad_crs_values_are_400_problem_documents") else {
        return;
    };
    for (query, parameter) in [
        ("crs=http://www.opengis.net/def/crs/EPSG/0/3857".to_string(), "crs"),
        ("crs=EPSG:27700".to_string(), "crs"),
        (
            format!("bbox=0,0,1,1&bbox-crs={}", enc("urn:ogc:def:crs:EPSG::900913")),
            "bbox-crs",
        ),
        (format!("bbox=1,1,0,0&bbox-crs={}", enc(EPSG_27700)), "bbox"),
        (format!("bbox=-1e9,0,1,1&bbox-crs={}", enc(EPSG_27700)), "bbox"),
        (format!("bbox=95,0,96,1&bbox-crs={}", enc(EPSG_4326)), "bbox"),
    ] {
        let r = get(&format!("{base}/collections/wards/items?{query}"));
        assert_eq!(r.status, 400, "{query}");
        assert_eq!(r.header("content-type"), Some("application/problem+json"), "{query}");
        assert_eq!(
            json(&r)["parameter"],
            parameter,
            "{query}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    // One feature takes crs, not bbox-crs.
    let r = get(&format!(
        "{base}/collections/wards/items/E05009288?bbox-crs={}",
        enc(EPSG_27700)
    ));
    assert_eq!(r.status, 400);
}

/// GDAL's OAPIF driver (3.7 and later follow Part 2) reads the wards in
/// their storage CRS, EPSG:27700, and gets the Parquet table's coordinates.
/// (Debian 12's QGIS 3.22 predates its OAPIF provider's Part 2 support,
/// QGIS 3.30; GDAL's driver is the one `ogr2ogr` and Python users have.)
#[test]
fn gdal_oapif_reads_the_wards_in_british_national_grid() {
    let Some((ds, base)) = served("gdal_oapif_reads_the_wards_in_british_national_grid") else {
        return;
    };
    let Some(python) = common::reference_python("gdal_oapif_reads_the_wards_in_british_national_grid") else {
        return;
    };
    let out = std::process::Command::new(python)
        .arg(common::repo().join("tests/reference/oapif_read.py"))
        .arg(base)
        .arg("wards")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        seen["crs"].as_str().unwrap().contains("27700"),
        "GDAL {} chose {}",
        seen["gdal"],
        seen["crs"]
    );
    let truth = parquet_bng_wards(ds);
    assert_eq!(seen["rows"], truth.len());
    for (code, coords) in seen["features"].as_object().unwrap() {
        let got: Vec<[f64; 2]> = serde_json::from_value(coords.clone()).unwrap();
        assert_eq!(got, truth[code], "ward {code}");
    }
}
