//! The data.police.uk street-crime API's JSON: each file is an array of
//! crimes for one area and month. Read as `.json` files or straight from
//! `.tar.gz` archives of them.
//!
//! The API returns a crime on a shared edge for both areas, with the same
//! `id`: such repeats are rejected as duplicates. `persistent_id` is the CSV's
//! Crime ID, so the same crime in a CSV source is de-duplicated later.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Read;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::csv_incidents::Parsed;
use super::reject::{Reject, RejectReason};
use super::IngestError;

#[derive(Deserialize)]
struct ApiCrime<'a> {
    #[serde(borrow)]
    category: Option<Cow<'a, str>>,
    #[serde(borrow)]
    location: Option<ApiLocation<'a>>,
    #[serde(borrow)]
    persistent_id: Option<Cow<'a, str>>,
    id: Option<i64>,
    #[serde(borrow)]
    month: Option<Cow<'a, str>>,
    #[serde(borrow)]
    outcome_status: Option<ApiOutcome<'a>>,
}

#[derive(Deserialize)]
struct ApiLocation<'a> {
    #[serde(borrow)]
    latitude: Option<Cow<'a, str>>,
    #[serde(borrow)]
    longitude: Option<Cow<'a, str>>,
    #[serde(borrow)]
    street: Option<ApiStreet<'a>>,
}

#[derive(Deserialize)]
struct ApiStreet<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ApiOutcome<'a> {
    #[serde(borrow)]
    category: Option<Cow<'a, str>>,
}

/// The members (JSON files) of a source file: the file itself, or the
/// `.json` entries of a `.tar.gz`, in archive order, with their bytes.
pub fn members(bytes: Vec<u8>, name: &str) -> Result<Vec<(String, Vec<u8>)>, IngestError> {
    let io = |source| IngestError::Io {
        file: name.to_string(),
        source,
    };
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") || lower.ends_with(".tar") {
        let data = super::sources::decompress(bytes, name)?;
        let mut archive = tar::Archive::new(&data[..]);
        let mut out = Vec::new();
        for entry in archive.entries().map_err(io)? {
            let mut entry = entry.map_err(io)?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let path = entry.path().map_err(io)?.to_string_lossy().to_string();
            if !path.to_ascii_lowercase().ends_with(".json") {
                continue;
            }
            let mut buf = Vec::with_capacity(entry.size() as usize);
            entry.read_to_end(&mut buf).map_err(io)?;
            out.push((path, buf));
        }
        Ok(out)
    } else {
        Ok(vec![(String::new(), super::sources::decompress(bytes, name)?)])
    }
}

/// Parses the members of one source file. `rows.file` holds the member's
/// position in `members`; the pipeline maps it to the global file table.
pub fn parse(members: &[(String, Vec<u8>)]) -> Parsed {
    let mut out = Parsed::default();
    let mut seen_api_id: HashMap<i64, (u32, u32)> = HashMap::new();
    for (m, (member_name, bytes)) in members.iter().enumerate() {
        let m = m as u32;
        let bytes = super::sources::strip_bom(bytes);
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                out.rows_read += 1;
                out.rejects.push(Reject {
                    file: m,
                    line: 0,
                    reason: RejectReason::MalformedJson,
                    detail: format!("{member_name}: not UTF-8: {e}"),
                    raw: String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).to_string(),
                });
                continue;
            }
        };
        let records: Vec<&RawValue> = match serde_json::from_str(text) {
            Ok(r) => r,
            Err(e) => {
                // The whole member is one unusable "row" (e.g. a 0-byte file).
                out.rows_read += 1;
                out.rejects.push(Reject {
                    file: m,
                    line: e.line() as u32,
                    reason: RejectReason::MalformedJson,
                    detail: format!("{e} ({} bytes)", bytes.len()),
                    raw: text.chars().take(200).collect(),
                });
                continue;
            }
        };
        for (k, raw) in records.into_iter().enumerate() {
            let line = k as u32 + 1;
            out.rows_read += 1;
            let raw_str = raw.get();
            let start = raw_str.as_ptr() as usize - text.as_ptr() as usize;
            let reject = |reason, detail: String| Reject {
                file: m,
                line,
                reason,
                detail,
                raw: raw_str.to_string(),
            };
            let c: ApiCrime = match serde_json::from_str(raw_str) {
                Ok(c) => c,
                Err(e) => {
                    out.rejects.push(reject(RejectReason::MalformedJson, e.to_string()));
                    continue;
                }
            };
            if let Some(id) = c.id {
                if let Some(&(fm, fl)) = seen_api_id.get(&id) {
                    let first = &members[fm as usize].0;
                    out.rejects.push(reject(
                        RejectReason::DuplicateId,
                        format!("id {id} already read from {first} record {fl}"),
                    ));
                    continue;
                }
                seen_api_id.insert(id, (m, line));
            }
            let month_raw = c.month.as_deref().unwrap_or("");
            let Some(month) = crate::month::parse(month_raw) else {
                out.rejects
                    .push(reject(RejectReason::MalformedMonth, format!("month: {month_raw:?}")));
                continue;
            };
            let cat_raw = c.category.as_deref().unwrap_or("");
            let Some(crime_type) = crate::crime_types::canonical(cat_raw) else {
                out.rejects
                    .push(reject(RejectReason::UnknownCrimeType, format!("category: {cat_raw:?}")));
                continue;
            };
            let loc = c.location.as_ref();
            let lat_s = loc.and_then(|l| l.latitude.as_deref()).unwrap_or("").trim();
            let lon_s = loc.and_then(|l| l.longitude.as_deref()).unwrap_or("").trim();
            if lat_s.is_empty() || lon_s.is_empty() {
                out.rejects.push(reject(
                    RejectReason::MissingCoordinates,
                    "location.latitude/longitude: blank".into(),
                ));
                continue;
            }
            let (Ok(lon), Ok(lat)) = (lon_s.parse::<f64>(), lat_s.parse::<f64>()) else {
                out.rejects.push(reject(
                    RejectReason::MalformedCoordinates,
                    format!("location.longitude/latitude: {lon_s:?}, {lat_s:?}"),
                ));
                continue;
            };
            if !crate::crs::valid_lonlat(lon, lat) {
                out.rejects.push(reject(
                    RejectReason::ImpossibleCoordinates,
                    format!("location: ({lon}, {lat}) out of range"),
                ));
                continue;
            }
            let rows = &mut out.rows;
            rows.file.push(m);
            rows.line.push(line);
            rows.raw_start.push(start as u32);
            rows.raw_len.push(raw_str.len() as u32);
            rows.crime_id.push(c.persistent_id.as_deref().unwrap_or("").trim());
            rows.api_id.push(c.id.unwrap_or(-1));
            rows.month.push(month);
            rows.crime_type.push(crime_type);
            rows.x.push(lon);
            rows.y.push(lat);
            rows.location.push(
                loc.and_then(|l| l.street.as_ref())
                    .and_then(|s| s.name.as_deref())
                    .unwrap_or(""),
            );
            rows.lsoa_code.push("");
            rows.falls_within.push("");
            rows.outcome.push(
                c.outcome_status
                    .as_ref()
                    .and_then(|o| o.category.as_deref())
                    .unwrap_or(""),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = r#"[{"category":"burglary","location_type":"Force","location":{"latitude":"51.5","street":{"id":1,"name":"On or near X"},"longitude":"-0.1"},"context":"","outcome_status":null,"persistent_id":"abc","id":11,"location_subtype":"","month":"2017-07"},
{"category":"anti-social-behaviour","location":{"latitude":"51.5","longitude":"-0.1","street":{"id":1,"name":"Y"}},"persistent_id":"","id":12,"month":"2017-07"}]"#;
    const B: &str = r#"[{"category":"burglary","location":{"latitude":"51.5","longitude":"-0.1"},"persistent_id":"abc","id":11,"month":"2017-07"},{"category":"nonsense","location":{"latitude":"51.5","longitude":"-0.1"},"id":13,"month":"2017-07"}]"#;

    #[test]
    fn repeats_across_members_empty_members_and_slugs() {
        let members = vec![
            ("a.json".to_string(), A.as_bytes().to_vec()),
            ("b.json".to_string(), B.as_bytes().to_vec()),
            ("empty.json".to_string(), Vec::new()),
            ("none.json".to_string(), b"[]".to_vec()),
        ];
        let p = parse(&members);
        assert_eq!(p.rows_read, 5);
        assert_eq!(p.rows.len(), 2);
        assert_eq!(p.rows.crime_type.get(1), "Anti-social behaviour");
        assert_eq!(p.rows.crime_id.key(0).unwrap().to_string(), "abc");
        let reasons: Vec<_> = p.rejects.iter().map(|r| (r.file, r.line, r.reason)).collect();
        assert_eq!(
            reasons,
            vec![
                (1, 1, RejectReason::DuplicateId),
                (1, 2, RejectReason::UnknownCrimeType),
                (2, 1, RejectReason::MalformedJson),
            ]
        );
        let (s, l) = (p.rows.raw_start[1] as usize, p.rows.raw_len[1] as usize);
        assert!(A[s..s + l].starts_with("{\"category\":\"anti-social-behaviour\""));
    }
}
