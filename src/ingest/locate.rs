//! Locating incidents: project to BNG (or to WGS84 for BNG sources), find
//! the ward, the nearest school and station. police.uk snaps crimes to a
//! limited set of anonymised map points (~99k places for 736k located
//! burglaries), so each distinct point is located once and remembered in a
//! sharded map that all parsing threads share.

use std::sync::Mutex;

use rustc_hash::FxHashMap;

use super::csv_incidents::Parsed;
use super::reject::{Reject, RejectReason};
use super::rows::IdKey;
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
const SHARD_BITS: u32 = 6;
const SHARDS: usize = 1 << SHARD_BITS;
const SLOT_BITS: u32 = 32 - SHARD_BITS;

/// A point id from its shard and its slot in the shard.
fn point_id(shard: usize, slot: usize) -> u32 {
    ((shard as u32) << SLOT_BITS) | slot as u32
}

/// The (shard, slot) of a point id.
fn shard_and_slot(id: u32) -> (usize, usize) {
    ((id >> SLOT_BITS) as usize, (id & ((1 << SLOT_BITS) - 1)) as usize)
}

/// One shard of the memo: distinct points and where they went.
#[derive(Default)]
struct Shard {
    /// Point id, and whether the point lies in a ward: most lookups need
    /// only these, and the 88-byte [`Located`] is another cache miss.
    ids: FxHashMap<Key, (u32, bool)>,
    points: Vec<Option<Located>>,
}

impl Shard {
    /// The id and point of a point already in the memo.
    fn hit(&self, key: &Key) -> Option<(u32, Option<Located>)> {
        self.ids
            .get(key)
            .map(|&(id, _)| (id, self.points[shard_and_slot(id).1]))
    }
}

fn in_ward(located: &Option<Located>) -> bool {
    located.is_some_and(|l| l.ward.is_some())
}

/// Locates points against the wards and POIs, memoising distinct points.
/// Each distinct point gets an id (its shard in the top bits, its slot in
/// the shard below; [`Points::get`] reads it back), so rows store 4 bytes
/// instead of the located point itself.
pub struct Locator<'a> {
    wards: &'a AreaIndex,
    schools: &'a PointIndex,
    stations: &'a PointIndex,
    memo: Vec<Mutex<Shard>>,
}

impl<'a> Locator<'a> {
    pub fn new(wards: &'a AreaIndex, schools: &'a PointIndex, stations: &'a PointIndex) -> Locator<'a> {
        Locator {
            wards,
            schools,
            stations,
            memo: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
        }
    }

    /// Distinct points located so far.
    pub fn distinct_points(&self) -> usize {
        self.memo
            .iter()
            .map(|m| m.lock().map(|m| m.points.len()).unwrap_or(0))
            .sum()
    }

    /// The memo key of a point and its shard.
    fn key(x: f64, y: f64, is_bng: bool) -> (Key, usize) {
        let key = (x.to_bits(), y.to_bits(), is_bng);
        let s = ((key.0 ^ key.1.rotate_left(17)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SHARD_BITS)) as usize;
        (key, s)
    }

    /// Locates a WGS84 (`is_bng = false`) or BNG point: its id and the point
    /// (`None` outside the area the OSTN15 transform covers).
    pub fn locate_id(&self, x: f64, y: f64, is_bng: bool) -> (u32, Option<Located>) {
        let (key, s) = Self::key(x, y, is_bng);
        if let Some(hit) = self.memo[s].lock().unwrap_or_else(|e| e.into_inner()).hit(&key) {
            return hit;
        }
        self.insert(key, s, x, y, is_bng)
    }

    /// Locates a point as [`Locator::locate_id`] does, answering only its id
    /// and whether it lies in a ward.
    pub fn locate_in_ward(&self, x: f64, y: f64, is_bng: bool) -> (u32, bool) {
        let (key, s) = Self::key(x, y, is_bng);
        if let Some(&hit) = self.memo[s].lock().unwrap_or_else(|e| e.into_inner()).ids.get(&key) {
            return hit;
        }
        let (id, located) = self.insert(key, s, x, y, is_bng);
        (id, in_ward(&located))
    }

    /// Computes a point missing from the memo (outside the lock) and records
    /// it; another thread may have raced us to it.
    fn insert(&self, key: Key, s: usize, x: f64, y: f64, is_bng: bool) -> (u32, Option<Located>) {
        let located = self.compute(x, y, is_bng);
        let mut m = self.memo[s].lock().unwrap_or_else(|e| e.into_inner());
        if let Some(hit) = m.hit(&key) {
            return hit;
        }
        let id = point_id(s, m.points.len());
        m.points.push(located);
        m.ids.insert(key, (id, in_ward(&located)));
        (id, located)
    }

    /// Locates a WGS84 (`is_bng = false`) or BNG point. `None` when it is
    /// outside the area the OSTN15 transform covers.
    pub fn locate(&self, x: f64, y: f64, is_bng: bool) -> Option<Located> {
        self.locate_id(x, y, is_bng).1
    }

    /// All points, for fast lookups once locating is over: index with
    /// [`Points::get`].
    pub fn into_points(self) -> Points {
        Points {
            shards: self
                .memo
                .into_iter()
                .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()).points)
                .collect(),
        }
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
        let mut first_at: FxHashMap<IdKey, usize> = FxHashMap::with_capacity_and_hasher(n, Default::default());
        // Rows of one file repeat few map points: look each up in the shared
        // memo once per file.
        // Values stay small (id, and whether the point lies in a ward): the
        // located point itself is fetched again only for a rejected row.
        let mut local: FxHashMap<(u64, u64), (u32, bool)> = FxHashMap::with_capacity_and_hasher(n, Default::default());
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
        let mut point = vec![u32::MAX; n];
        let is_bng = rows.bng;
        for r in 0..n {
            if let Some(id) = rows.crime_id.key(r) {
                if let Some(&first) = first_at.get(&id) {
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
            let (x, y) = (rows.x[r], rows.y[r]);
            let (id, in_ward) = *local
                .entry((x.to_bits(), y.to_bits()))
                .or_insert_with(|| self.locate_in_ward(x, y, is_bng));
            if in_ward {
                point[r] = id;
                continue;
            }
            keep[r] = false;
            match self.locate_id(x, y, is_bng).1 {
                None => {
                    let d = format!("({x}, {y}) is outside the area the OSTN15 transform covers (Great Britain)");
                    reject(r, RejectReason::ImpossibleCoordinates, d, rows);
                }
                Some(l) => {
                    let d = format!(
                        "({:.6}, {:.6}) = BNG ({:.0}, {:.0}) lies in no ward",
                        l.lon, l.lat, l.easting_m, l.northing_m
                    );
                    reject(r, RejectReason::OutsideStudyArea, d, rows);
                }
            }
        }
        drop(first_at);
        rows.point = point;
        rows.retain(&keep);
        // The coordinates live on in the points.
        rows.x = Vec::new();
        rows.y = Vec::new();
        rows.compact();
        parsed.rejects.extend(new_rejects);
        parsed.rejects.sort_by_key(|r| (r.file, r.line));
    }
}

/// The located points of an ingest, by id (see [`Locator::locate_id`]).
pub struct Points {
    shards: Vec<Vec<Option<Located>>>,
}

impl Points {
    /// The point with this id; `None` outside Great Britain.
    #[inline]
    pub fn get(&self, id: u32) -> Option<&Located> {
        let (shard, slot) = shard_and_slot(id);
        self.shards[shard][slot].as_ref()
    }
}
