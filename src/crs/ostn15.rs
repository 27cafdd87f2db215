//! The inverse OSTN15 transform (British National Grid metres to WGS84
//! degrees) for many nearby points, with each 1 km cell's corner shifts
//! looked up once.
//!
//! `lonlat_bng::convert_osgb36_to_ll` looks up the four corner shifts of a
//! cell in OSTN15's perfect-hash table on every step of its iteration: a
//! boundary vertex costs three or four such steps, and the ~200,000
//! vertices of London's ward and borough layers lie in only ~2,000 cells.
//! [`CellCache`] runs the same iteration (OSGM15 user guide, p16, as
//! lonlat_bng 0.9.0 implements it: the same arithmetic in the same order,
//! so the result is bit-for-bit lonlat_bng's) with the corner shifts kept
//! per cell, then hands the ETRS89 grid position to lonlat_bng's public
//! `convert_etrs89_to_ll`. A point whose iteration leaves the grid goes to
//! lonlat_bng whole. The tests hold the two equal bit for bit.

use rustc_hash::FxHashMap;

/// Convergence threshold of the iteration, metres (OSGM15 guide; lonlat_bng).
const EPSILON_M: f64 = 0.0001;
/// Most refinement steps before giving up (as lonlat_bng).
const MAX_ITERATIONS: usize = 10;
/// OSTN15's grid: 701 x 1251 intersections 1 km apart from (0, 0) BNG.
const GRID_COLUMNS: i32 = 701;
const GRID_ROWS: i32 = 1251;

/// (easting, northing) shifts in metres at a cell's SW, SE, NW, NE corners,
/// or `None` where a corner lies outside OSTN15's coverage (the sea).
type Corners = Option<[(f64, f64); 4]>;

/// Corner shifts of the OSTN15 cells met so far. One per thread: cheap to
/// make, and its hit rate is highest on points in boundary order.
#[derive(Default)]
pub struct CellCache {
    cells: FxHashMap<(i32, i32), Corners>,
}

impl CellCache {
    pub fn new() -> CellCache {
        CellCache::default()
    }

    /// BNG easting/northing (metres) to WGS84 (lon, lat) in degrees: the
    /// value [`super::bng_to_lonlat`] gives, bit for bit. `None` outside
    /// OSTN15's coverage and for non-finite or absurd input.
    pub fn bng_to_lonlat(&mut self, easting_m: f64, northing_m: f64) -> Option<(f64, f64)> {
        if !(super::plausible_grid_m(easting_m) && super::plausible_grid_m(northing_m)) {
            return None;
        }
        match self.etrs89_of(easting_m, northing_m) {
            Ok(Some((e, n))) => lonlat_bng::convert_etrs89_to_ll(e, n).ok(),
            Ok(None) => None,
            Err(OffGrid) => super::bng_to_lonlat(easting_m, northing_m),
        }
    }

    /// OSGB36 grid position to ETRS89 grid position (metres), iterating
    /// on the shifts as lonlat_bng's `osgb36_to_etrs89_iterative` does.
    /// `Ok(None)` outside OSTN15's coverage or without convergence, where
    /// lonlat_bng reports an error.
    fn etrs89_of(&mut self, e: f64, n: f64) -> Result<Option<(f64, f64)>, OffGrid> {
        let Some((mut last_e, mut last_n)) = self.shifts(e, n)? else {
            return Ok(None);
        };
        for _ in 0..MAX_ITERATIONS {
            let Some((se, sn)) = self.shifts(e - last_e, n - last_n)? else {
                return Ok(None);
            };
            if (se - last_e).abs() <= EPSILON_M && (sn - last_n).abs() <= EPSILON_M {
                return Ok(Some((e - se, n - sn)));
            }
            (last_e, last_n) = (se, sn);
        }
        Ok(None)
    }

    /// The bilinearly interpolated OSTN15 (easting, northing) shift in
    /// metres at an ETRS89 grid position, as lonlat_bng's `ostn15_shifts`
    /// computes it; `None` where a corner is outside OSTN15's coverage.
    fn shifts(&mut self, x: f64, y: f64) -> Result<Option<(f64, f64)>, OffGrid> {
        // (Also false for NaN.)
        if !(x >= 0.0 && y >= 0.0) {
            return Err(OffGrid);
        }
        let e_index = (x / 1000.) as i32;
        let n_index = (y / 1000.) as i32;
        if e_index + 1 >= GRID_COLUMNS || n_index + 1 >= GRID_ROWS {
            return Err(OffGrid);
        }
        let corners = *self
            .cells
            .entry((e_index, n_index))
            .or_insert_with(|| corners_of(e_index, n_index));
        let Some([s0, s1, s2, s3]) = corners else {
            return Ok(None);
        };
        let dx = x - f64::from(e_index * 1000);
        let dy = y - f64::from(n_index * 1000);
        let t = dx / 1000.;
        let u = dy / 1000.;
        let f0 = (1. - t) * (1. - u);
        let f1 = t * (1. - u);
        let f2 = (1. - t) * u;
        let f3 = t * u;
        let se = f0 * s0.0 + f1 * s1.0 + f2 * s2.0 + f3 * s3.0;
        let sn = f0 * s0.1 + f1 * s1.1 + f2 * s2.1 + f3 * s3.1;
        Ok(Some((se, sn)))
    }
}

/// The iteration stepped off OSTN15's grid: lonlat_bng decides.
struct OffGrid;

/// A cell's corner shifts from OSTN15's table (keyed as lonlat_bng keys it).
fn corners_of(e_index: i32, n_index: i32) -> Corners {
    let at = |x: i32, y: i32| ostn15_phf::ostn15_lookup(&(x + y * GRID_COLUMNS + 1)).map(|s| (s.0, s.1));
    Some([
        at(e_index, n_index)?,
        at(e_index + 1, n_index)?,
        at(e_index, n_index + 1)?,
        at(e_index + 1, n_index + 1)?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bit-for-bit agreement with lonlat_bng (through [`crate::crs::bng_to_lonlat`],
    /// which refuses non-finite and absurd input), including `None`s.
    fn assert_same(cache: &mut CellCache, e: f64, n: f64) {
        let ours = cache.bng_to_lonlat(e, n);
        let theirs = crate::crs::bng_to_lonlat(e, n);
        assert_eq!(
            ours.map(|(a, b)| (a.to_bits(), b.to_bits())),
            theirs.map(|(a, b)| (a.to_bits(), b.to_bits())),
            "({e}, {n}): ours {ours:?}, lonlat_bng {theirs:?}"
        );
    }

    #[test]
    fn equals_lonlat_bng_bit_for_bit_across_london() {
        // A 200 m lattice over Greater London (and a margin), offset so that
        // points fall inside cells, on cell edges and on corners.
        let mut cache = CellCache::new();
        for i in 0..=300 {
            for j in 0..=250 {
                let e = 500_000.0 + 200.0 * f64::from(i) + 0.25 * f64::from(j % 5);
                let n = 150_000.0 + 200.0 * f64::from(j) + 0.5 * f64::from(i % 3);
                assert_same(&mut cache, e, n);
            }
        }
        // Cells are reused, not re-looked-up: far fewer than points.
        assert!(cache.cells.len() < 62 * 52 + 10, "{} cells", cache.cells.len());
    }

    #[test]
    fn equals_lonlat_bng_across_great_britain_and_off_it() {
        let mut cache = CellCache::new();
        // A pseudo-random scatter over OSTN15's whole extent and beyond it
        // (sea, negative, past the grid's edges, non-finite).
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..20_000 {
            let e = -50_000.0 + 800_000.0 * next();
            let n = -50_000.0 + 1_350_000.0 * next();
            assert_same(&mut cache, e, n);
        }
        for (e, n) in [
            (0.0, 0.0),
            (699_999.999, 1_249_999.999),
            (700_000.0, 300_000.0),
            (530_000.0, 1_250_000.0),
            (f64::NAN, 180_000.0),
            (530_000.0, f64::INFINITY),
            (1e12, 180_000.0),
            (-0.0, 0.0),
        ] {
            assert_same(&mut cache, e, n);
        }
    }

    #[test]
    fn os_test_points_round_trip() {
        // The OS test points (BNG) back to lon/lat and forward again with
        // lonlat_bng: within 1 cm, as `super::bng_to_lonlat` does.
        let mut cache = CellCache::new();
        for &(id, _, _, e, n) in crate::crs::tests::OS_TEST_POINTS {
            let (lon, lat) = cache.bng_to_lonlat(e, n).expect(id);
            let (e2, n2) = crate::crs::lonlat_to_bng(lon, lat).expect(id);
            assert!(
                (e2 - e).abs() < 0.01 && (n2 - n).abs() < 0.01,
                "({e2}, {n2}) vs ({e}, {n})"
            );
        }
    }
}
