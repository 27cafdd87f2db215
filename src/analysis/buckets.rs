//! Selected incidents sorted into square buckets (BNG metres) for radius
//! queries. Building it is a counting sort, O(n) with no tree to balance, so
//! it pays even for one batch of queries; a query scans the buckets that the
//! circle's bounding box touches and measures exact distances.

/// Points bucketed on a square lattice of side `bucket_m`.
#[derive(Debug, Clone)]
pub struct PointBuckets {
    origin: [f64; 2],
    bucket_m: f64,
    cols: usize,
    rows: usize,
    /// `starts[b]..starts[b + 1]` are bucket `b`'s entries in `xs`/`ys`/`ids`.
    starts: Vec<u32>,
    xs: Vec<f64>,
    ys: Vec<f64>,
    /// Position of each entry in the input slices.
    ids: Vec<u32>,
}

impl PointBuckets {
    /// Buckets the points (BNG metres); NaN coordinates are left out.
    pub fn new(easting_m: &[f64], northing_m: &[f64], bucket_m: f64) -> PointBuckets {
        assert!(bucket_m > 0.0);
        let ok = |i: usize| easting_m[i].is_finite() && northing_m[i].is_finite();
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for i in (0..easting_m.len()).filter(|&i| ok(i)) {
            x0 = x0.min(easting_m[i]);
            y0 = y0.min(northing_m[i]);
            x1 = x1.max(easting_m[i]);
            y1 = y1.max(northing_m[i]);
        }
        if x0 > x1 {
            return PointBuckets {
                origin: [0.0, 0.0],
                bucket_m,
                cols: 0,
                rows: 0,
                starts: vec![0],
                xs: Vec::new(),
                ys: Vec::new(),
                ids: Vec::new(),
            };
        }
        let cols = ((x1 - x0) / bucket_m).floor() as usize + 1;
        let rows = ((y1 - y0) / bucket_m).floor() as usize + 1;
        let bucket = |i: usize| {
            let c = ((easting_m[i] - x0) / bucket_m) as usize;
            let r = ((northing_m[i] - y0) / bucket_m) as usize;
            r.min(rows - 1) * cols + c.min(cols - 1)
        };
        let mut starts = vec![0u32; cols * rows + 1];
        for i in (0..easting_m.len()).filter(|&i| ok(i)) {
            starts[bucket(i) + 1] += 1;
        }
        for b in 1..starts.len() {
            starts[b] += starts[b - 1];
        }
        let n = starts[cols * rows] as usize;
        let mut fill = starts.clone();
        let (mut xs, mut ys, mut ids) = (vec![0.0; n], vec![0.0; n], vec![0u32; n]);
        for i in (0..easting_m.len()).filter(|&i| ok(i)) {
            let b = bucket(i);
            let at = fill[b] as usize;
            fill[b] += 1;
            xs[at] = easting_m[i];
            ys[at] = northing_m[i];
            ids[at] = i as u32;
        }
        PointBuckets {
            origin: [x0, y0],
            bucket_m,
            cols,
            rows,
            starts,
            xs,
            ys,
            ids,
        }
    }

    /// Calls `f(point position, squared distance m²)` for every point within
    /// `radius_m` of (x, y), the boundary included.
    pub fn for_each_within(&self, x: f64, y: f64, radius_m: f64, mut f: impl FnMut(u32, f64)) {
        if self.cols == 0 {
            return;
        }
        let r2 = radius_m * radius_m;
        let span = |v: f64, o: f64, n: usize| -> Option<(usize, usize)> {
            let lo = ((v - radius_m - o) / self.bucket_m).floor();
            let hi = ((v + radius_m - o) / self.bucket_m).floor();
            if hi < 0.0 || lo >= n as f64 {
                return None;
            }
            Some((lo.max(0.0) as usize, (hi as usize).min(n - 1)))
        };
        let (Some((c0, c1)), Some((r0, r1))) = (span(x, self.origin[0], self.cols), span(y, self.origin[1], self.rows))
        else {
            return;
        };
        for r in r0..=r1 {
            let (a, b) = (
                self.starts[r * self.cols + c0] as usize,
                self.starts[r * self.cols + c1 + 1] as usize,
            );
            // Buckets c0..=c1 of a row are contiguous in the sorted arrays.
            for k in a..b {
                let (dx, dy) = (self.xs[k] - x, self.ys[k] - y);
                let d2 = dx * dx + dy * dy;
                if d2 <= r2 {
                    f(self.ids[k], d2);
                }
            }
        }
    }

    /// How many points lie within each of `radii_m` (ascending) of (x, y).
    pub fn count_within(&self, x: f64, y: f64, radii_m: &[f64], counts: &mut [u32]) {
        counts.fill(0);
        let Some(&max) = radii_m.last() else { return };
        let r2: Vec<f64> = radii_m.iter().map(|r| r * r).collect();
        self.for_each_within(x, y, max, |_, d2| {
            for (k, r2) in r2.iter().enumerate() {
                if d2 <= *r2 {
                    counts[k] += 1;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn matches_brute_force_on_random_points() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let e: Vec<f64> = (0..5000).map(|_| rng.gen_range(500_000.0..505_000.0)).collect();
        let n: Vec<f64> = (0..5000).map(|_| rng.gen_range(180_000.0..184_000.0)).collect();
        let b = PointBuckets::new(&e, &n, 300.0);
        let radii = [100.0, 250.0, 400.0];
        let mut counts = [0u32; 3];
        for q in 0..200 {
            let (x, y) = (rng.gen_range(499_000.0..506_000.0), rng.gen_range(179_000.0..185_000.0));
            b.count_within(x, y, &radii, &mut counts);
            for (k, r) in radii.iter().enumerate() {
                let brute = e
                    .iter()
                    .zip(&n)
                    .filter(|(a, c)| (*a - x).powi(2) + (*c - y).powi(2) <= r * r)
                    .count();
                assert_eq!(counts[k] as usize, brute, "query {q} radius {r}");
            }
        }
    }

    #[test]
    fn boundary_is_inclusive_and_nan_is_skipped() {
        let b = PointBuckets::new(&[0.0, 100.0, f64::NAN], &[0.0, 0.0, 5.0], 50.0);
        let mut ids = Vec::new();
        b.for_each_within(0.0, 0.0, 100.0, |i, _| ids.push(i));
        ids.sort();
        assert_eq!(ids, vec![0, 1]);
    }
}
