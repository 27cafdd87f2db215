//! A uniform grid of points (BNG metres) for exact nearest-neighbour
//! queries: the query's cell, then rings of cells around it until no
//! unvisited cell can hold a nearer point. For London's schools and stations
//! a query reads a handful of cells, several times faster than the R-tree's
//! best-first iterator (which keeps a heap), and ties go to the lowest index
//! whatever the order of insertion.

/// Points bucketed by cell.
pub struct PointGrid {
    x0: f64,
    y0: f64,
    cell_m: f64,
    cols: usize,
    rows: usize,
    /// Cell `c`'s points are `points[starts[c]..starts[c + 1]]`.
    starts: Vec<u32>,
    /// (position, index into the indexed slice), by cell.
    points: Vec<([f64; 2], u32)>,
}

impl PointGrid {
    /// About this many points per cell on average.
    const POINTS_PER_CELL: f64 = 2.0;

    /// Buckets `points_m` (a query's answer is a position in this slice);
    /// `None` when there are none. Non-finite points are left out.
    #[cfg(test)]
    pub fn new(points_m: &[[f64; 2]]) -> Option<PointGrid> {
        Self::from_items(points_m.iter().enumerate().map(|(i, p)| (*p, i as u32)))
    }

    /// Buckets points given with the index a query answers for each;
    /// `None` when there are none. Non-finite points are left out.
    pub fn from_items(items: impl IntoIterator<Item = ([f64; 2], u32)>) -> Option<PointGrid> {
        let items: Vec<([f64; 2], u32)> = items
            .into_iter()
            .filter(|(p, _)| p[0].is_finite() && p[1].is_finite())
            .collect();
        if items.is_empty() {
            return None;
        }
        let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
        for (p, _) in &items {
            for k in 0..2 {
                lo[k] = lo[k].min(p[k]);
                hi[k] = hi[k].max(p[k]);
            }
        }
        let n = items.len();
        let (w, h) = ((hi[0] - lo[0]).max(1.0), (hi[1] - lo[1]).max(1.0));
        let cell_m = (w * h / n as f64 * Self::POINTS_PER_CELL).sqrt().max(1.0);
        let cols = (w / cell_m) as usize + 1;
        let rows = (h / cell_m) as usize + 1;
        let mut grid = PointGrid {
            x0: lo[0],
            y0: lo[1],
            cell_m,
            cols,
            rows,
            starts: vec![0; cols * rows + 1],
            points: vec![([0.0; 2], 0); n],
        };
        // Counting sort by cell.
        let cell = |p: [f64; 2]| {
            let (cx, cy) = grid.cell_of(p);
            cy * cols + cx
        };
        let cells: Vec<usize> = items.iter().map(|(p, _)| cell(*p)).collect();
        for &c in &cells {
            grid.starts[c + 1] += 1;
        }
        for c in 0..cols * rows {
            grid.starts[c + 1] += grid.starts[c];
        }
        let mut next = grid.starts.clone();
        for (c, item) in cells.into_iter().zip(items) {
            grid.points[next[c] as usize] = item;
            next[c] += 1;
        }
        Some(grid)
    }

    /// The cell of a point, clamped to the grid.
    fn cell_of(&self, p: [f64; 2]) -> (usize, usize) {
        let clamp = |v: f64, n: usize| (v.floor().max(0.0) as usize).min(n - 1);
        (
            clamp((p[0] - self.x0) / self.cell_m, self.cols),
            clamp((p[1] - self.y0) / self.cell_m, self.rows),
        )
    }

    /// The nearest point to `q` and its distance in metres; of points at the
    /// same distance, the one with the lowest index.
    pub fn nearest(&self, q: [f64; 2]) -> Option<(u32, f64)> {
        let (cx, cy) = self.cell_of(q);
        let (cx, cy) = (cx as isize, cy as isize);
        let (cols, rows) = (self.cols as isize, self.rows as isize);
        // (squared distance, index) of the best so far.
        let mut best = (f64::INFINITY, u32::MAX);
        let visit = |i: isize, j: isize, best: &mut (f64, u32)| {
            if i < 0 || j < 0 || i >= cols || j >= rows {
                return;
            }
            let c = (j * cols + i) as usize;
            for &(p, idx) in &self.points[self.starts[c] as usize..self.starts[c + 1] as usize] {
                let (dx, dy) = (p[0] - q[0], p[1] - q[1]);
                let d2 = dx * dx + dy * dy;
                if d2 < best.0 || (d2 == best.0 && idx < best.1) {
                    *best = (d2, idx);
                }
            }
        };
        for r in 0.. {
            if r == 0 {
                visit(cx, cy, &mut best);
            } else {
                for i in cx - r..=cx + r {
                    visit(i, cy - r, &mut best);
                    visit(i, cy + r, &mut best);
                }
                for j in cy - r + 1..cy + r {
                    visit(cx - r, j, &mut best);
                    visit(cx + r, j, &mut best);
                }
            }
            // Every unvisited point lies beyond a side of the visited square
            // that has cells beyond it: at least this far from `q`.
            let mut bound = f64::INFINITY;
            if cx - r > 0 {
                bound = bound.min(q[0] - (self.x0 + (cx - r) as f64 * self.cell_m));
            }
            if cx + r < cols - 1 {
                bound = bound.min(self.x0 + (cx + r + 1) as f64 * self.cell_m - q[0]);
            }
            if cy - r > 0 {
                bound = bound.min(q[1] - (self.y0 + (cy - r) as f64 * self.cell_m));
            }
            if cy + r < rows - 1 {
                bound = bound.min(self.y0 + (cy + r + 1) as f64 * self.cell_m - q[1]);
            }
            if bound == f64::INFINITY {
                break;
            }
            let bound = bound.max(0.0);
            // Strictly nearer than anything unvisited: a tie could still be
            // out there, with a lower index.
            if best.0 < bound * bound {
                break;
            }
        }
        (best.1 != u32::MAX).then(|| (best.1, best.0.sqrt()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Brute force: nearest by squared distance, ties to the lowest index.
    fn brute(points: &[[f64; 2]], q: [f64; 2]) -> Option<(u32, f64)> {
        let mut best: Option<(f64, u32)> = None;
        for (i, p) in points.iter().enumerate() {
            let (dx, dy) = (p[0] - q[0], p[1] - q[1]);
            let d2 = dx * dx + dy * dy;
            if best.is_none_or(|(b, _)| d2 < b) {
                best = Some((d2, i as u32));
            }
        }
        best.map(|(d2, i)| (i, d2.sqrt()))
    }

    #[test]
    fn agrees_with_brute_force_inside_outside_and_on_ties() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for n in [1usize, 2, 7, 300, 3500] {
            // Clustered points on a 10 m lattice (so ties happen), in a
            // London-sized box.
            let mut points: Vec<[f64; 2]> = (0..n)
                .map(|_| {
                    let (cx, cy) = if rng.gen_bool(0.5) {
                        (530_000.0, 180_000.0)
                    } else {
                        (510_000.0, 170_000.0)
                    };
                    [
                        cx + (rng.gen_range(-8000.0..8000.0f64) / 10.0).round() * 10.0,
                        cy + (rng.gen_range(-8000.0..8000.0f64) / 10.0).round() * 10.0,
                    ]
                })
                .collect();
            if n > 2 {
                points[n - 1] = points[0]; // the same place twice
            }
            let grid = PointGrid::new(&points).unwrap();
            for _ in 0..2000 {
                let q = [
                    rng.gen_range(490_000.0..560_000.0f64).round(),
                    rng.gen_range(150_000.0..200_000.0f64).round(),
                ];
                assert_eq!(grid.nearest(q), brute(&points, q), "n={n} q={q:?}");
            }
            assert_eq!(
                grid.nearest(points[0]),
                Some((0, 0.0)),
                "a tie goes to the lowest index"
            );
        }
    }

    #[test]
    fn empty_and_degenerate_sets() {
        assert!(PointGrid::new(&[]).is_none());
        assert!(PointGrid::new(&[[f64::NAN, 1.0]]).is_none());
        let same = PointGrid::new(&[[5.0, 5.0], [5.0, 5.0], [5.0, 5.0]]).unwrap();
        assert_eq!(same.nearest([8.0, 9.0]), Some((0, 5.0)));
        let line = PointGrid::new(&[[0.0, 0.0], [1000.0, 0.0], [f64::INFINITY, 0.0]]).unwrap();
        assert_eq!(line.nearest([900.0, -50.0]).map(|p| p.0), Some(1));
        assert_eq!(line.nearest([-1e6, 3.0]).map(|p| p.0), Some(0));
    }
}
