//! Locating incidents: project to BNG (or to WGS84 for BNG sources), find
//! the ward, the nearest school and station. police.uk snaps crimes to a
//! limited set of anonymised map points (~99k places for 736k located
//! burglaries), so each distinct point is located once and remembered in a
//! sharded map that all parsing threads share.

use std::sync::Mutex;

use rustc_hash::{FxHashMap, FxHashSet};

use super::csv_incidents::Parsed;
use super::reject::{Reject, RejectReason};
use crate::crs;
use crate::index::{AreaIndex, PointIndex};

/// A distinct point, projected and located.
#[derive(Debug, Clone, Copy)]
pub struct Located {
    pub easting_m: f64,
    pub northing_m: f64,
    pub lon: f64,
    pub lat: f64,
    /// Index into the ward list, `None` outside the study area.
    pub ward: Option<u32>,
    /// (index into the schools list, distance in metres).
    pub school: Option<(u32, f64)>,
    pub station: Option<(u32, f64)>,
}

type Key = (u64, u64, bool);
const SHARDS: usize = 64;

/// Locates points against the wards and POIs, memoising distinct points.
pub struct Locator<'a> {
    wards: &'a AreaIndex,
    schools: &'a PointIndex,
    stations: &'a PointIndex,
    memo: Vec<Mutex<FxHashMap<Key, Option<Located>>>>,
}

impl<'a> Locator<'a> {
    pub fn new(wards: &'a AreaIndex, schools: &'a PointIndex, stations: &'a PointIndex) -> Locator<'a> {
        Locator {
            wards,
            schools,
            stations,
            memo: (0..SHARDS).map(|_| Mutex::new(FxHashMap::default())).collect(),
        }
    }

    /// Distinct points located so far.
    pub fn distinct_points(&self) -> usize {
        self.memo.iter().map(|m| m.lock().map(|m| m.len()).unwrap_or(0)).sum()
    }

    /// Locates a WGS84 (`is_bng = false`) or BNG point. `None` when it is
    /// outside the area the OSTN15 transform covers.
    pub fn locate(&self, x: f64, y: f64, is_bng: bool) -> Option<Located> {
        let key = (x.to_bits(), y.to_bits(), is_bng);
        let shard = &self.memo[(key.0 ^ key.1.rotate_left(17)).wrapping_mul(0x9E37_79B9_7F4A_7C15) as usize >> 58];
        if let Some(hit) = shard.lock().ok().and_then(|m| m.get(&key).copied()) {
            return hit;
        }
        let located = self.compute(x, y, is_bng);
        if let Ok(mut m) = shard.lock() {
            m.insert(key, located);
        }
        located
    }

    fn compute(&self, x: f64, y: f64, is_bng: bool) -> Option<Located> {
        let (e, n, lon, lat) = if is_bng {
            let (lon, lat) = crs::bng_to_lonlat(x, y)?;
            (x, y, lon, lat)
        } else {
            let (e, n) = crs::lonlat_to_bng(x, y)?;
            (e, n, x, y)
        };
        let ward = self.wards.locate(e, n);
        // Nearest POIs only matter for rows we keep.
        let (school, station) = if ward.is_some() {
            (self.schools.nearest(e, n), self.stations.nearest(e, n))
        } else {
            (None, None)
        };
        Some(Located {
            easting_m: e,
            northing_m: n,
            lon,
            lat,
            ward,
            school,
            station,
        })
    }

    /// Finishes one parsed file while its bytes are at hand: rejects repeats
    /// of a crime id within the file, locates every row, and rejects rows
    /// outside Great Britain or outside the study area. `raw(member, start,
    /// len)` gives a row's raw text; `member_name(m)` names a member.
    pub fn finish(
        &self,
        parsed: &mut Parsed,
        raw: impl Fn(u32, u32, u32) -> String,
        member_name: impl Fn(u32) -> String,
    ) {
        let rows = &mut parsed.rows;
        let n = rows.len();
        let mut keep = vec![true; n];
        let mut seen: FxHashSet<&str> = FxHashSet::default();
        let mut first_at: FxHashMap<&str, usize> = FxHashMap::default();
        let mut new_rejects = Vec::new();
        let mut reject = |r: usize, reason, detail: String, rows: &super::rows::IncidentRows| {
            new_rejects.push(Reject {
                file: rows.file[r],
                line: rows.line[r],
                reason,
                detail,
                raw: raw(rows.file[r], rows.raw_start[r], rows.raw_len[r]),
            });
        };
        let (mut ward, mut school, mut school_m, mut station, mut station_m) = (
            vec![u32::MAX; n],
            vec![u32::MAX; n],
            vec![f64::NAN; n],
            vec![u32::MAX; n],
            vec![f64::NAN; n],
        );
        let mut coords = vec![[f64::NAN; 4]; n];
        for r in 0..n {
            if let Some(id) = rows.crime_id.get_opt(r) {
                if !seen.insert(id) {
                    let first = first_at[id];
                    let detail = format!(
                        "Crime ID {id} already read at {} line {}",
                        member_name(rows.file[first]),
                        rows.line[first]
                    );
                    reject(r, RejectReason::DuplicateId, detail, rows);
                    keep[r] = false;
                    continue;
                }
                first_at.insert(id, r);
            }
            let is_bng = rows.lon[r].is_nan();
            let (x, y) = if is_bng {
                (rows.easting_m[r], rows.northing_m[r])
            } else {
                (rows.lon[r], rows.lat[r])
            };
            match self.locate(x, y, is_bng) {
                None => {
                    let d = format!("({x}, {y}) is outside the area the OSTN15 transform covers (Great Britain)");
                    reject(r, RejectReason::ImpossibleCoordinates, d, rows);
                    keep[r] = false;
                }
                Some(l) => match l.ward {
                    None => {
                        let d = format!(
                            "({:.6}, {:.6}) = BNG ({:.0}, {:.0}) lies in no ward",
                            l.lon, l.lat, l.easting_m, l.northing_m
                        );
                        reject(r, RejectReason::OutsideStudyArea, d, rows);
                        keep[r] = false;
                    }
                    Some(w) => {
                        ward[r] = w;
                        coords[r] = [l.lon, l.lat, l.easting_m, l.northing_m];
                        if let Some((i, d)) = l.school {
                            (school[r], school_m[r]) = (i, d);
                        }
                        if let Some((i, d)) = l.station {
                            (station[r], station_m[r]) = (i, d);
                        }
                    }
                },
            }
        }
        drop(seen);
        drop(first_at);
        // Both coordinate pairs, for every row (rejected ones are dropped next).
        for (r, c) in coords.into_iter().enumerate() {
            (rows.lon[r], rows.lat[r], rows.easting_m[r], rows.northing_m[r]) = (c[0], c[1], c[2], c[3]);
        }
        rows.ward = ward;
        rows.school = school;
        rows.school_m = school_m;
        rows.station = station;
        rows.station_m = station_m;
        rows.retain(&keep);
        parsed.rejects.extend(new_rejects);
        parsed.rejects.sort_by_key(|r| (r.file, r.line));
    }
}
