//! Points of interest: schools (London Schools Atlas, DfE GIAS), stations,
//! and any CSV with its columns named in the config.
//!
//! POIs outside the study area are kept (a school just over the boundary is
//! still the nearest school to crimes beside it); they get no ward.

use std::collections::HashMap;

use super::csv_incidents::{raw_text, LineCounter};
use super::reject::{Reject, RejectReason};
use super::IngestError;
use crate::config::{PoiFormat, PoiSource};
use crate::crs::{self, Crs};

/// One point of interest. Coordinates in both BNG metres and WGS84 degrees.
#[derive(Debug, Clone, PartialEq)]
pub struct Poi {
    pub kind: String,
    /// Stable id: the school's URN, a station's name slug, or the id column.
    pub id: String,
    pub name: String,
    pub easting_m: f64,
    pub northing_m: f64,
    pub lon: f64,
    pub lat: f64,
    /// Other attributes worth keeping (phase, status, zone), as JSON.
    pub attributes: String,
}

/// Columns of a POI file. `x2`/`y2` are a fallback pair in `crs2`, used when
/// the first pair is blank.
#[derive(Debug, Clone)]
struct PoiColumns {
    id: Option<String>,
    name: String,
    x: String,
    y: String,
    crs: Crs,
    fallback: Option<(String, String, Crs)>,
    kind: Option<String>,
    extra: Vec<(&'static str, String)>,
}

fn columns_for(source: &PoiSource) -> PoiColumns {
    match source.format {
        // The atlas's lon/lat are primary: where the two pairs disagree by
        // kilometres the EASTING/NORTHING pair has transposed digits (URN
        // 135155: EASTING 521263 for 512631), while lon/lat match the postcode.
        PoiFormat::LondonSchoolsAtlas => PoiColumns {
            id: Some("URN".into()),
            name: "SCHOOL_NAM".into(),
            x: "longitude".into(),
            y: "latitude".into(),
            crs: Crs::Wgs84,
            fallback: Some(("EASTING".into(), "NORTHING".into(), Crs::Bng)),
            kind: None,
            extra: vec![
                ("phase", "PHASE".into()),
                ("type", "TYPE".into()),
                ("status", "STATUS".into()),
            ],
        },
        PoiFormat::Gias => PoiColumns {
            id: Some("URN".into()),
            name: "EstablishmentName".into(),
            x: "Easting".into(),
            y: "Northing".into(),
            crs: Crs::Bng,
            fallback: None,
            kind: None,
            extra: vec![
                ("phase", "PhaseOfEducation (name)".into()),
                ("status", "EstablishmentStatus (name)".into()),
            ],
        },
        PoiFormat::Stations => PoiColumns {
            id: None,
            name: "Station".into(),
            x: "OS X".into(),
            y: "OS Y".into(),
            crs: Crs::Bng,
            fallback: Some(("Longitude".into(), "Latitude".into(), Crs::Wgs84)),
            kind: None,
            extra: vec![("zone", "Zone".into())],
        },
        PoiFormat::Csv => {
            let c = source.columns.clone().expect("validated by Config::load");
            PoiColumns {
                id: Some(c.id),
                name: c.name,
                x: c.x,
                y: c.y,
                crs: Crs::parse(&c.crs).unwrap_or(Crs::Wgs84),
                fallback: None,
                kind: c.kind,
                extra: vec![],
            }
        }
    }
}

/// What one POI file yielded.
#[derive(Debug, Default)]
pub struct ParsedPois {
    pub pois: Vec<Poi>,
    pub rejects: Vec<Reject>,
    pub rows_read: u64,
}

fn slug(name: &str) -> String {
    let mut s = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('-') {
            s.push('-');
        }
    }
    s.trim_matches('-').to_string()
}

/// Parses one decompressed POI CSV. Rejects carry `file_id`.
pub fn parse(bytes: &[u8], file_id: u32, file: &str, source: &PoiSource) -> Result<ParsedPois, IngestError> {
    let cols = columns_for(source);
    let bytes = super::sources::strip_bom(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut record = csv::StringRecord::new();
    let mut out = ParsedPois::default();
    if !reader.read_record(&mut record).map_err(|e| IngestError::Format {
        file: file.into(),
        line: 1,
        field: "header".into(),
        message: e.to_string(),
    })? {
        return Ok(out);
    }
    let header: Vec<String> = record.iter().map(|h| h.trim().to_string()).collect();
    let find = |n: &str| header.iter().position(|h| h.eq_ignore_ascii_case(n));
    let required = |n: &str| {
        find(n).ok_or_else(|| IngestError::Format {
            file: file.into(),
            line: 1,
            field: n.into(),
            message: format!(
                "column missing from the header (found: {})",
                super::reject::excerpt(&header.join(", "), 200)
            ),
        })
    };
    let id_col = cols.id.as_deref().map(required).transpose()?;
    let name_col = required(&cols.name)?;
    let (x_col, y_col) = (required(&cols.x)?, required(&cols.y)?);
    let fallback = cols
        .fallback
        .as_ref()
        .and_then(|(x, y, c)| Some((find(x)?, find(y)?, *c)));
    let kind_col = cols.kind.as_deref().map(required).transpose()?;
    let extra: Vec<(&str, usize)> = cols.extra.iter().filter_map(|(k, c)| Some((*k, find(c)?))).collect();
    let width = header.len();
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut lines = LineCounter::default();
    loop {
        let (start, line) = lines.record_start(bytes, reader.position().byte() as usize);
        let ok = match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => true,
            Err(_) => false,
        };
        let end = reader.position().byte() as usize;
        out.rows_read += 1;
        let reject = |reason, detail: String| Reject {
            file: file_id,
            line,
            reason,
            detail,
            raw: raw_text(bytes, start, end),
        };
        if !ok || record.len() != width {
            out.rejects.push(reject(
                RejectReason::MalformedRow,
                format!("{} fields, the header has {width}", record.len()),
            ));
            continue;
        }
        let f = |i: usize| record.get(i).unwrap_or("").trim();
        let name = f(name_col).to_string();
        let mut id = match id_col {
            Some(i) => f(i).to_string(),
            None => slug(&name),
        };
        if let Some(&first) = seen.get(&id) {
            if id_col.is_some() {
                out.rejects.push(reject(
                    RejectReason::DuplicateId,
                    format!("id {id} already read at line {first} (one place listed twice)"),
                ));
                continue;
            }
            // Two stations of the same name: keep both, with distinct ids.
            let mut k = 2;
            while seen.contains_key(&format!("{id}-{k}")) {
                k += 1;
            }
            id = format!("{id}-{k}");
        }
        // Coordinates: the primary pair, else the fallback pair.
        let mut point = None;
        let mut problem = (
            RejectReason::MissingCoordinates,
            format!("{}/{}: blank", cols.x, cols.y),
        );
        for (xc, yc, crs) in std::iter::once((x_col, y_col, cols.crs)).chain(fallback) {
            let (xs, ys) = (f(xc), f(yc));
            if xs.is_empty() || ys.is_empty() {
                continue;
            }
            let (Ok(x), Ok(y)) = (xs.parse::<f64>(), ys.parse::<f64>()) else {
                problem = (RejectReason::MalformedCoordinates, format!("{xs:?}, {ys:?}"));
                continue;
            };
            let converted = match crs {
                Crs::Bng => crs::bng_to_lonlat(x, y).map(|(lon, lat)| (x, y, lon, lat)),
                Crs::Wgs84 => crs::lonlat_to_bng(x, y).map(|(e, n)| (e, n, x, y)),
            };
            match converted {
                Some(p) => {
                    point = Some(p);
                    break;
                }
                None => {
                    problem = (
                        RejectReason::ImpossibleCoordinates,
                        format!("({x}, {y}) outside Great Britain"),
                    )
                }
            }
        }
        let Some((easting_m, northing_m, lon, lat)) = point else {
            out.rejects.push(reject(problem.0, problem.1));
            continue;
        };
        seen.insert(id.clone(), line);
        let attributes = serde_json::Value::Object(
            extra
                .iter()
                .map(|(k, i)| (k.to_string(), serde_json::Value::String(f(*i).to_string())))
                .collect(),
        )
        .to_string();
        out.pois.push(Poi {
            kind: kind_col
                .map(|i| f(i).to_string())
                .unwrap_or_else(|| source.kind.clone()),
            id,
            name,
            easting_m,
            northing_m,
            lon,
            lat,
            attributes,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(format: PoiFormat, kind: &str) -> PoiSource {
        PoiSource {
            kind: kind.into(),
            format,
            path: "x".into(),
            columns: None,
        }
    }

    #[test]
    fn schools_atlas_duplicate_urn_is_one_school() {
        let csv = "OBJECTID,longitude,latitude,URN,SCHOOL_NAM,TYPE,PHASE,STATUS,EASTING,NORTHING\n\
            1,-0.378496,51.5074997,135155,A School,T,Primary,Open,521263,180470\n\
            2,-0.378496,51.5074997,135155,A School,T,Secondary,Open,521263,180470\n\
            3,,,200,B School,T,Primary,Open,530000,180000\n\
            4,,,300,C School,T,Primary,Open,,\n";
        let p = parse(
            csv.as_bytes(),
            0,
            "s.csv",
            &source(PoiFormat::LondonSchoolsAtlas, "school"),
        )
        .unwrap();
        assert_eq!(p.rows_read, 4);
        assert_eq!(p.pois.len(), 2);
        // lon/lat win over the atlas's transposed EASTING (pyproj gives 512631.1, 179976.0).
        assert!(
            (p.pois[0].easting_m - 512_631.1).abs() < 3.0 && (p.pois[0].northing_m - 179_976.0).abs() < 3.0,
            "{:?}",
            p.pois[0]
        );
        assert_eq!(p.pois[0].lon, -0.378496);
        assert!(p.pois[1].easting_m > 500_000.0);
        let reasons: Vec<_> = p.rejects.iter().map(|r| (r.line, r.reason)).collect();
        assert_eq!(
            reasons,
            vec![(3, RejectReason::DuplicateId), (5, RejectReason::MissingCoordinates)]
        );
    }

    #[test]
    fn stations_get_slug_ids_and_same_name_kept() {
        let csv = "Station,OS X,OS Y,Latitude,Longitude,Zone,Postcode\n\
            Abbey Road,539081,183352,51.53,0.0037,\"3\",E15 3NB\n\
            Abbey Road,539081,183352,51.53,0.0037,\"3\",E15 3NB\n";
        let p = parse(csv.as_bytes(), 0, "st.csv", &source(PoiFormat::Stations, "station")).unwrap();
        let ids: Vec<_> = p.pois.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, vec!["abbey-road", "abbey-road-2"]);
        assert_eq!(p.pois[0].attributes, r#"{"zone":"3"}"#);
    }
}
