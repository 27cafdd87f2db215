//! Query parameters: the OGC API – Features ones (`bbox`, `limit`,
//! `offset`, `datetime`, `properties`, `sortby`, `f`), property filters
//! (`crime_type=Burglary`), and an analysis collection's own parameters
//! (handed raw to [`crate::analysis::params::Values`], which checks them
//! against the analysis's declaration), each parsed strictly: a malformed
//! value is an [`ApiError`] naming the parameter, and a parameter nobody
//! asked for is an unknown-parameter error.

use std::collections::BTreeMap;

use super::crs::ApiCrs;
use super::error::ApiError;
use super::filter::{Filter, FilterLang};

/// Items per page when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 100;
/// The largest page; a larger `limit` is capped to this (with a `next` link).
pub const MAX_LIMIT: usize = 10_000;

/// Decodes a raw query string into (name, value) pairs, in order. A name
/// or value whose bytes, once percent-decoded, are not UTF-8 is a 400
/// naming it (never silently replaced with U+FFFD).
pub fn pairs(raw: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    let Some(q) = raw else {
        return Ok(Vec::new());
    };
    let decode = |s: &str| percent_decode(s.replace('+', " ").as_bytes());
    let mut out = Vec::new();
    for part in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let key = decode(k)
            .ok_or_else(|| ApiError::param("query", "a parameter name is not valid UTF-8 once percent-decoded"))?;
        let value =
            decode(v).ok_or_else(|| ApiError::param(&key, "the value is not valid UTF-8 once percent-decoded"))?;
        if !key.is_empty() {
            out.push((key, value));
        }
    }
    Ok(out)
}

/// Percent-decodes `bytes` (`%41` → `A`; a `%` not followed by two hex
/// digits is kept as it is, as browsers do), `None` unless the result is UTF-8.
fn percent_decode(bytes: &[u8]) -> Option<String> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push(h * 16 + l);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Output format asked for with `f=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Html,
}

/// Parses `f=json|html` (also `f=geojson`).
pub fn format(v: &str) -> Result<Format, ApiError> {
    match v.to_ascii_lowercase().as_str() {
        "json" | "geojson" | "application/json" | "application/geo+json" => Ok(Format::Json),
        "html" | "text/html" => Ok(Format::Html),
        _ => Err(ApiError::param("f", format!("{v:?} is not json or html"))),
    }
}

/// Only `f` is allowed (landing page, conformance, collections).
pub fn only_format(pairs: &[(String, String)]) -> Result<Option<Format>, ApiError> {
    let mut f = None;
    for (k, v) in pairs {
        match k.as_str() {
            "f" => f = Some(format(v)?),
            _ => return Err(ApiError::UnknownParameter(k.clone())),
        }
    }
    Ok(f)
}

/// A month range, inclusive, as month numbers (`year * 12 + month - 1`).
pub type MonthRange = (Option<u32>, Option<u32>);

/// Parses an OGC `datetime`: an instant or an interval `start/end` with
/// `..` (or empty) for open ends; only the month of each end counts.
pub fn datetime(v: &str) -> Result<MonthRange, ApiError> {
    let bad = |why: String| ApiError::param("datetime", why);
    let month = |s: &str| -> Result<Option<u32>, ApiError> {
        let s = s.trim();
        if s.is_empty() || s == ".." {
            return Ok(None);
        }
        crate::month::parse(s)
            .map(Some)
            .ok_or_else(|| bad(format!("{s:?} is not a month (YYYY-MM) or an RFC 3339 date")))
    };
    let (from, to) = match v.split_once('/') {
        Some((a, b)) => (month(a)?, month(b)?),
        None => {
            let m = month(v)?;
            if m.is_none() {
                return Err(bad("an instant cannot be open".into()));
            }
            (m, m)
        }
    };
    if let (Some(a), Some(b)) = (from, to) {
        if a > b {
            return Err(bad(format!("{v:?}: the start is after the end")));
        }
    }
    Ok((from, to))
}

/// Parses `bbox=minlon,minlat,maxlon,maxlat` (CRS84 degrees; 6 numbers
/// with heights are accepted and the heights ignored).
pub fn bbox(v: &str) -> Result<[f64; 4], ApiError> {
    lonlat_box(bbox_numbers(v, "minlon,minlat,maxlon,maxlat")?)
}

/// A bbox in `crs` (`bbox-crs`): the lon/lat box to test against, and for
/// a BNG box the WGS84 region it covers.
pub fn bbox_in(v: &str, crs: ApiCrs) -> Result<([f64; 4], Option<geo::Polygon<f64>>), ApiError> {
    match crs {
        ApiCrs::Crs84 => Ok((bbox(v)?, None)),
        ApiCrs::Epsg4326 => {
            let b = bbox_numbers(v, "minlat,minlon,maxlat,maxlon")?;
            Ok((lonlat_box([b[1], b[0], b[3], b[2]])?, None))
        }
        ApiCrs::Bng => {
            let b = bbox_numbers(v, "min_easting,min_northing,max_easting,max_northing")?;
            if b[0] > b[2] || b[1] > b[3] {
                return Err(ApiError::param("bbox", "the minimum is above the maximum"));
            }
            use geo::BoundingRect;
            let region = super::crs::bng_box_in_wgs84(b)?;
            let r = region.bounding_rect().expect("a box has a bounding box");
            Ok(([r.min().x, r.min().y, r.max().x, r.max().y], Some(region)))
        }
    }
}

/// Four numbers (of 4, or 6 with heights).
fn bbox_numbers(v: &str, order: &str) -> Result<[f64; 4], ApiError> {
    let bad = |why: String| ApiError::param("bbox", why);
    let nums: Vec<f64> = v
        .split(',')
        .map(|s| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| bad(format!("{s:?} is not a number")))
        })
        .collect::<Result<_, _>>()?;
    let b = match nums.len() {
        4 => [nums[0], nums[1], nums[2], nums[3]],
        6 => [nums[0], nums[1], nums[3], nums[4]],
        n => return Err(bad(format!("needs 4 numbers ({order}), got {n}"))),
    };
    Ok(b)
}

/// Checks a lon/lat box's ranges.
fn lonlat_box(b: [f64; 4]) -> Result<[f64; 4], ApiError> {
    let bad = |why: String| ApiError::param("bbox", why);
    if !(-180.0..=180.0).contains(&b[0]) || !(-180.0..=180.0).contains(&b[2]) {
        return Err(bad("longitudes must be within -180..180".into()));
    }
    if !(-90.0..=90.0).contains(&b[1]) || !(-90.0..=90.0).contains(&b[3]) {
        return Err(bad("latitudes must be within -90..90".into()));
    }
    if b[1] > b[3] || b[0] > b[2] {
        return Err(bad("the minimum is above the maximum".into()));
    }
    Ok(b)
}

fn count(name: &str, v: &str, min: usize) -> Result<usize, ApiError> {
    let n: usize = v
        .trim()
        .parse()
        .map_err(|_| ApiError::param(name, format!("{v:?} is not a whole number")))?;
    if n < min {
        return Err(ApiError::param(name, format!("must be at least {min}")));
    }
    Ok(n)
}

/// The standard items parameters, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemsQuery {
    /// `[minlon, minlat, maxlon, maxlat]`, whatever `bbox-crs` the box came in.
    pub bbox: Option<[f64; 4]>,
    /// A box given in BNG (`bbox-crs`), as the WGS84 region it covers.
    pub bbox_region: Option<geo::Polygon<f64>>,
    /// The CRS of the answer's geometry (`crs`).
    pub crs: ApiCrs,
    /// A CQL2 filter (`filter`, `filter-lang`, `filter-crs`).
    pub filter: Option<Filter>,
    /// The page size actually used (capped at [`MAX_LIMIT`]).
    pub limit: usize,
    pub offset: usize,
    pub datetime: Option<MonthRange>,
    /// Only these properties in each feature (`properties=a,b`).
    pub properties: Option<Vec<String>>,
    /// (property, descending), in priority order.
    pub sortby: Vec<(String, bool)>,
    /// Property filters (name, value): equality, string or number.
    pub filters: Vec<(String, String)>,
    pub format: Option<Format>,
}

impl Default for ItemsQuery {
    fn default() -> Self {
        ItemsQuery {
            bbox: None,
            bbox_region: None,
            crs: ApiCrs::Crs84,
            filter: None,
            limit: DEFAULT_LIMIT,
            offset: 0,
            datetime: None,
            properties: None,
            sortby: Vec::new(),
            filters: Vec::new(),
            format: None,
        }
    }
}

fn once<'a>(seen: &mut Vec<&'a str>, k: &'a str) -> Result<(), ApiError> {
    if seen.contains(&k) {
        return Err(ApiError::param(k, "given more than once"));
    }
    seen.push(k);
    Ok(())
}

/// Splits the query into the standard items parameters, the analysis
/// parameters named in `analysis_names` (returned raw), and property
/// filters (everything else, checked later against the layer's properties).
pub fn items(
    pairs: &[(String, String)],
    analysis_names: &[&str],
) -> Result<(ItemsQuery, BTreeMap<String, Vec<String>>), ApiError> {
    let mut q = ItemsQuery::default();
    let mut analysis: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut seen: Vec<&str> = Vec::new();
    let (mut bbox_text, mut bbox_crs) = (None, ApiCrs::Crs84);
    let (mut filter_text, mut filter_lang, mut filter_crs) = (None, FilterLang::Text, ApiCrs::Crs84);
    for (k, v) in pairs {
        let key = k.as_str();
        if analysis_names.contains(&key) {
            analysis.entry(k.clone()).or_default().push(v.clone());
            continue;
        }
        match key {
            "bbox" => {
                once(&mut seen, key)?;
                bbox_text = Some(v.as_str());
            }
            "bbox-crs" => {
                once(&mut seen, key)?;
                bbox_crs = ApiCrs::parse(key, v)?;
            }
            "crs" => {
                once(&mut seen, key)?;
                q.crs = ApiCrs::parse(key, v)?;
            }
            "filter" => {
                once(&mut seen, key)?;
                filter_text = Some(v.as_str());
            }
            "filter-lang" => {
                once(&mut seen, key)?;
                filter_lang = FilterLang::parse(v)?;
            }
            "filter-crs" => {
                once(&mut seen, key)?;
                filter_crs = ApiCrs::parse(key, v)?;
            }
            "limit" => {
                once(&mut seen, key)?;
                q.limit = count("limit", v, 1)?.min(MAX_LIMIT);
            }
            "offset" => {
                once(&mut seen, key)?;
                q.offset = count("offset", v, 0)?;
            }
            "datetime" => {
                once(&mut seen, key)?;
                q.datetime = Some(datetime(v)?);
            }
            "properties" => {
                once(&mut seen, key)?;
                q.properties = Some(
                    v.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect(),
                );
            }
            "sortby" => {
                once(&mut seen, key)?;
                for s in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let (name, desc) = match s.as_bytes()[0] {
                        b'-' => (&s[1..], true),
                        b'+' => (&s[1..], false),
                        _ => (s, false),
                    };
                    if name.is_empty() {
                        return Err(ApiError::param("sortby", format!("{s:?} names no property")));
                    }
                    q.sortby.push((name.to_string(), desc));
                }
            }
            "f" => {
                once(&mut seen, key)?;
                q.format = Some(format(v)?);
            }
            _ => q.filters.push((k.clone(), v.clone())),
        }
    }
    if let Some(v) = bbox_text {
        (q.bbox, q.bbox_region) = bbox_in(v, bbox_crs).map(|(b, r)| (Some(b), r))?;
    }
    if let Some(v) = filter_text {
        q.filter = Some(Filter {
            expr: super::filter::parse(v, filter_lang)?,
            crs: filter_crs,
        });
    }
    Ok((q, analysis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_parsing_names_the_parameter() {
        let p = |q: &str| items(&pairs(Some(q)).unwrap(), &["cell"]);
        assert_eq!(p("limit=20000").unwrap().0.limit, MAX_LIMIT);
        assert_eq!(p("limit=0").unwrap_err().parameter(), Some("limit"));
        assert_eq!(p("limit=abc").unwrap_err().parameter(), Some("limit"));
        assert_eq!(p("offset=-1").unwrap_err().parameter(), Some("offset"));
        assert_eq!(p("bbox=1,2,3").unwrap_err().parameter(), Some("bbox"));
        assert_eq!(p("bbox=0,52,-1,51").unwrap_err().parameter(), Some("bbox"));
        assert_eq!(p("bbox=0,95,1,96").unwrap_err().parameter(), Some("bbox"));
        assert_eq!(p("datetime=2024-13").unwrap_err().parameter(), Some("datetime"));
        assert_eq!(p("limit=1&limit=2").unwrap_err().parameter(), Some("limit"));
        let (q, a) =
            p("bbox=-0.2,51.4,0.1,51.6&datetime=2020-01/..&sortby=-count,name&cell=250&crime_type=Burglary").unwrap();
        assert_eq!(q.bbox, Some([-0.2, 51.4, 0.1, 51.6]));
        assert_eq!(q.datetime, Some((Some(2020 * 12), None)));
        assert_eq!(q.sortby, vec![("count".into(), true), ("name".into(), false)]);
        assert_eq!(q.filters, vec![("crime_type".to_string(), "Burglary".to_string())]);
        assert_eq!(a["cell"], vec!["250".to_string()]);
    }

    #[test]
    fn query_values_that_are_not_utf8_are_refused_not_replaced() {
        assert_eq!(
            pairs(Some("a=%41%20b+c&crime_type=Anti-social%20behaviour")).unwrap(),
            vec![
                ("a".into(), "A b c".into()),
                ("crime_type".into(), "Anti-social behaviour".into())
            ]
        );
        assert_eq!(pairs(Some("cell=%FF")).unwrap_err().parameter(), Some("cell"));
        assert_eq!(pairs(Some("%C3%28=1")).unwrap_err().parameter(), Some("query"));
        assert_eq!(pairs(Some("x=100%")).unwrap(), vec![("x".into(), "100%".into())]);
    }

    #[test]
    fn datetime_accepts_months_dates_and_open_ends() {
        assert_eq!(datetime("2024-03").unwrap(), (Some(2024 * 12 + 2), Some(2024 * 12 + 2)));
        assert_eq!(
            datetime("2024-01-01T00:00:00Z/2024-06-30T00:00:00Z").unwrap(),
            (Some(2024 * 12), Some(2024 * 12 + 5))
        );
        assert_eq!(datetime("../2024-06").unwrap(), (None, Some(2024 * 12 + 5)));
        assert!(datetime("2024-06/2024-01").is_err());
        assert!(datetime("..").is_err());
    }
}
