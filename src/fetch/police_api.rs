//! The data.police.uk street-crime API, by ward polygon.
//!
//! For each ward and month, `GET /api/crimes-street/all-crime?poly=...&date=YYYY-MM`
//! returns a JSON array of crimes. Ward outlines are simplified (Douglas–Peucker,
//! the tolerance doubled from about 1 m until it fits) so the `poly` parameter
//! stays within the API's URL length limit. Requests are paced below the
//! API's rate limit (15 a second), and a 429 is retried after its
//! `Retry-After`. A crime on a shared ward edge is returned for both wards:
//! it is kept once, by its `id` (or `persistent_id` when there is no `id`).
//!
//! Each month is written as one JSON array of the unique crimes, as the API
//! returned them, which the `police_uk_api_json` ingest format reads.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use geo::{MultiPolygon, Polygon, Simplify};
use indicatif::ProgressBar;
use serde_json::Value;

use super::download::{Client, DownloadError};
use super::sources::Sources;

/// Longest `poly` parameter sent (characters). The API documents a URL
/// limit of about 4,000 characters for GET.
pub const MAX_POLY_CHARS: usize = 3_500;

/// Errors of the API route.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Download(#[from] DownloadError),
    #[error("{url}: the answer is not a JSON array of crimes: {message}")]
    BadAnswer { url: String, message: String },
    #[error(
        "ward {ward}, {month}: the API kept answering 503, which it does for an area with more than \
         10,000 crimes in a month; use --via archive for this area ({source})"
    )]
    TooManyCrimes {
        ward: String,
        month: String,
        source: Box<DownloadError>,
    },
    #[error("ward {ward}: its outline cannot be simplified below {MAX_POLY_CHARS} characters")]
    PolygonTooLong { ward: String },
}

/// One area to ask about: a code (for logs) and its outline in WGS84 lon/lat.
#[derive(Debug, Clone)]
pub struct ApiArea {
    pub code: String,
    pub geometry_wgs84: MultiPolygon<f64>,
}

/// Spaces requests at least `interval` apart.
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    last: Option<Instant>,
}

impl Pacer {
    /// At most `per_second` requests a second (0 = no pacing).
    pub fn per_second(per_second: f64) -> Pacer {
        let interval = if per_second > 0.0 {
            Duration::from_secs_f64(1.0 / per_second)
        } else {
            Duration::ZERO
        };
        Pacer { interval, last: None }
    }

    /// Sleeps until the next request may go.
    pub fn wait(&mut self) {
        if let Some(last) = self.last {
            let next = last + self.interval;
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            }
        }
        self.last = Some(Instant::now());
    }
}

/// `lat,lng:lat,lng:...` of a ring given in lon/lat, 5 decimals (about 1 m);
/// the closing point is left out.
pub fn encode_ring(ring: &geo::LineString<f64>) -> String {
    let coords = &ring.0;
    let n = if coords.len() > 1 && coords.first() == coords.last() {
        coords.len() - 1
    } else {
        coords.len()
    };
    coords[..n]
        .iter()
        .map(|c| format!("{:.5},{:.5}", c.y, c.x))
        .collect::<Vec<_>>()
        .join(":")
}

/// The `poly` parameter for each part of an area (holes are not supported
/// by the API, so only exterior rings are sent), simplified to fit `max_chars`.
pub fn poly_params(area: &MultiPolygon<f64>, max_chars: usize) -> Option<Vec<String>> {
    area.0.iter().map(|p| poly_param(p, max_chars)).collect()
}

fn poly_param(polygon: &Polygon<f64>, max_chars: usize) -> Option<String> {
    let exterior = Polygon::new(polygon.exterior().clone(), vec![]);
    let mut s = encode_ring(exterior.exterior());
    // 1e-5 degrees is about 1 m of latitude.
    let mut epsilon = 1e-5;
    while s.len() > max_chars {
        if epsilon > 0.1 {
            return None;
        }
        let simple = exterior.simplify(epsilon);
        s = encode_ring(simple.exterior());
        epsilon *= 2.0;
    }
    Some(s)
}

/// The key a crime is de-duplicated by: its API `id`, else its non-empty
/// `persistent_id`. Crimes with neither are all kept.
pub fn crime_key(crime: &Value) -> Option<String> {
    if let Some(id) = crime.get("id").filter(|v| !v.is_null()) {
        return Some(format!("id:{id}"));
    }
    match crime.get("persistent_id").and_then(Value::as_str) {
        Some(p) if !p.is_empty() => Some(format!("pid:{p}")),
        _ => None,
    }
}

/// One month's crimes over all areas, repeats removed.
#[derive(Debug, Default)]
pub struct MonthCrimes {
    /// Unique crimes, in the order first returned.
    pub crimes: Vec<Value>,
    /// Records the API returned, repeats included.
    pub returned: usize,
    /// Records dropped as repeats of one already kept.
    pub duplicates: usize,
    /// Requests made (one per area part).
    pub requests: usize,
}

impl MonthCrimes {
    /// Adds one API answer, skipping crimes already kept.
    pub fn add(&mut self, answer: Vec<Value>, seen: &mut HashSet<String>) {
        for crime in answer {
            self.returned += 1;
            let fresh = crime_key(&crime).is_none_or(|key| seen.insert(key));
            if fresh {
                self.crimes.push(crime);
            } else {
                self.duplicates += 1;
            }
        }
    }
}

/// Asks the API for every area's crimes in `month` (`YYYY-MM`).
pub fn fetch_month(
    client: &Client,
    sources: &Sources,
    areas: &[ApiArea],
    month: &str,
    pacer: &mut Pacer,
    bar: &ProgressBar,
) -> Result<MonthCrimes, ApiError> {
    let mut out = MonthCrimes::default();
    let mut seen = HashSet::new();
    for area in areas {
        let polys = poly_params(&area.geometry_wgs84, MAX_POLY_CHARS).ok_or_else(|| ApiError::PolygonTooLong {
            ward: area.code.clone(),
        })?;
        for poly in polys {
            let url = sources.police_api(&poly, month);
            pacer.wait();
            let body = client.get_bytes(&url).map_err(|e| match e {
                DownloadError::GaveUp { status: 503, .. } => ApiError::TooManyCrimes {
                    ward: area.code.clone(),
                    month: month.to_string(),
                    source: Box::new(e),
                },
                e => ApiError::Download(e),
            })?;
            out.requests += 1;
            let answer: Vec<Value> = serde_json::from_slice(&body).map_err(|e| ApiError::BadAnswer {
                url: url.clone(),
                message: e.to_string(),
            })?;
            tracing::debug!(ward = %area.code, month, crimes = answer.len(), "API answer");
            out.add(answer, &mut seen);
        }
        bar.inc(1);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{coord, LineString};
    use serde_json::json;

    #[test]
    fn ring_is_lat_lng_without_the_closing_point() {
        let ring = LineString::from(vec![(-0.1, 51.5), (-0.09, 51.5), (-0.09, 51.51), (-0.1, 51.5)]);
        assert_eq!(
            encode_ring(&ring),
            "51.50000,-0.10000:51.50000,-0.09000:51.51000,-0.09000"
        );
    }

    #[test]
    fn long_outlines_are_simplified_to_fit() {
        // A 2,000-vertex circle of ~1 km radius: ~37,000 characters unsimplified.
        let ring: Vec<_> = (0..2000)
            .map(|k| {
                let a = k as f64 / 2000.0 * std::f64::consts::TAU;
                coord! { x: -0.1 + 0.014 * a.cos(), y: 51.5 + 0.009 * a.sin() }
            })
            .collect();
        let p = MultiPolygon(vec![Polygon::new(LineString::from(ring), vec![])]);
        assert!(encode_ring(p.0[0].exterior()).len() > 30_000);
        let params = poly_params(&p, MAX_POLY_CHARS).unwrap();
        assert_eq!(params.len(), 1);
        assert!(params[0].len() <= MAX_POLY_CHARS, "{}", params[0].len());
        // Still a real outline, not a triangle.
        assert!(params[0].split(':').count() > 50);
    }

    #[test]
    fn repeats_are_kept_once_by_id_then_persistent_id() {
        let mut m = MonthCrimes::default();
        let mut seen = HashSet::new();
        m.add(
            vec![
                json!({"id": 1, "persistent_id": "a"}),
                json!({"id": 2, "persistent_id": ""}),
                json!({"persistent_id": "p"}),
                json!({"persistent_id": ""}),
            ],
            &mut seen,
        );
        m.add(
            vec![
                json!({"id": 1, "persistent_id": "a"}),
                json!({"id": 3, "persistent_id": ""}),
                json!({"persistent_id": "p"}),
                json!({"persistent_id": ""}),
            ],
            &mut seen,
        );
        assert_eq!(m.returned, 8);
        assert_eq!(m.duplicates, 2);
        assert_eq!(m.crimes.len(), 6);
    }

    #[test]
    fn pacer_spaces_requests() {
        let mut p = Pacer::per_second(50.0);
        let t = Instant::now();
        for _ in 0..6 {
            p.wait();
        }
        assert!(t.elapsed() >= Duration::from_millis(95), "{:?}", t.elapsed());
    }
}
