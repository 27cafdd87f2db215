//! Spatial indexes in British National Grid metres: an R-tree of polygon
//! envelopes with exact point-in-polygon for "which ward is this point in"
//! (sped up by a raster of the cells no boundary crosses), and points for
//! "nearest school/station" (a uniform grid, [`point_grid`]) and radius and
//! k-nearest queries (an R-tree).

mod point_grid;

use std::sync::OnceLock;

use geo::coordinate_position::CoordPos;
use geo::{BoundingRect, Coord, CoordinatePosition, MultiPolygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::RTree;

/// Polygons (e.g. wards) indexed for point location. Coordinates in BNG metres.
pub struct AreaIndex {
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, u32>>,
    polygons: Vec<MultiPolygon<f64>>,
    /// Built on the first [`AreaIndex::locate`].
    raster: OnceLock<Raster>,
}

/// A grid over the polygons' extent (at most [`Raster::MAX_CELLS`] cells).
/// A cell that no polygon edge touches lies wholly inside the same
/// polygons, so it stores the answer of an exact test at one of its points;
/// a cell an edge touches stores [`Raster::BOUNDARY`] and its points take
/// the exact test. In London at ~50 m cells about nine points in ten are
/// answered by the lookup alone.
struct Raster {
    x0: f64,
    y0: f64,
    cell_m: f64,
    nx: usize,
    ny: usize,
    /// Per cell (row-major from the south-west): a polygon index,
    /// [`Raster::OUTSIDE`] or [`Raster::BOUNDARY`].
    cells: Vec<u32>,
}

impl Raster {
    const MAX_CELLS: f64 = (1 << 20) as f64;
    const OUTSIDE: u32 = u32::MAX;
    const BOUNDARY: u32 = u32::MAX - 1;
    const UNSET: u32 = u32::MAX - 2;

    /// Marks every cell a polygon edge touches (closed cells, widened by a
    /// hair so that an edge along a cell border marks both sides), then
    /// labels each 4-connected run of unmarked cells with the exact answer
    /// at its first cell's centre: crossing no edge, every point of the run
    /// has that answer.
    fn new(index: &AreaIndex) -> Raster {
        // The R-tree's root envelope is the polygons' extent (inverted when empty).
        let env = index.tree.root().envelope();
        let (lo, hi) = (env.lower(), env.upper());
        let bounds = [lo[0], lo[1], hi[0], hi[1]];
        if !(bounds[0] < bounds[2] && bounds[1] < bounds[3]) {
            return Raster {
                x0: 0.0,
                y0: 0.0,
                cell_m: 1.0,
                nx: 0,
                ny: 0,
                cells: Vec::new(),
            };
        }
        let (w, h) = (bounds[2] - bounds[0], bounds[3] - bounds[1]);
        let cell_m = (w * h / Self::MAX_CELLS).sqrt().max(1e-3);
        // One cell of margin on every side.
        let (x0, y0) = (bounds[0] - cell_m, bounds[1] - cell_m);
        let nx = (w / cell_m).ceil() as usize + 2;
        let ny = (h / cell_m).ceil() as usize + 2;
        let mut cells = vec![Self::UNSET; nx * ny];
        let eps = cell_m * 1e-6;
        let col = |x: f64| (((x - x0) / cell_m).floor().max(0.0) as usize).min(nx - 1);
        let row = |y: f64| (((y - y0) / cell_m).floor().max(0.0) as usize).min(ny - 1);
        let rings = index
            .polygons
            .iter()
            .flat_map(|mp| mp.0.iter())
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()));
        for ring in rings {
            for seg in ring.lines() {
                let (a, b) = (seg.start, seg.end);
                // Pieces no longer than a cell, so their boxes hug the edge.
                let steps = ((b.x - a.x).hypot(b.y - a.y) / cell_m).ceil().max(1.0) as usize;
                for k in 0..steps {
                    let t0 = k as f64 / steps as f64;
                    let t1 = (k + 1) as f64 / steps as f64;
                    let (px, py) = (a.x + (b.x - a.x) * t0, a.y + (b.y - a.y) * t0);
                    let (qx, qy) = (a.x + (b.x - a.x) * t1, a.y + (b.y - a.y) * t1);
                    for r in row(py.min(qy) - eps)..=row(py.max(qy) + eps) {
                        for c in col(px.min(qx) - eps)..=col(px.max(qx) + eps) {
                            cells[r * nx + c] = Self::BOUNDARY;
                        }
                    }
                }
            }
        }
        let mut stack = Vec::new();
        for start in 0..cells.len() {
            if cells[start] != Self::UNSET {
                continue;
            }
            let (r, c) = (start / nx, start % nx);
            let centre = (x0 + (c as f64 + 0.5) * cell_m, y0 + (r as f64 + 0.5) * cell_m);
            let answer = index.locate_exact(centre.0, centre.1).unwrap_or(Self::OUTSIDE);
            cells[start] = answer;
            stack.push(start);
            while let Some(i) = stack.pop() {
                let (r, c) = (i / nx, i % nx);
                let mut visit = |j: usize| {
                    if cells[j] == Self::UNSET {
                        cells[j] = answer;
                        stack.push(j);
                    }
                };
                if c > 0 {
                    visit(i - 1);
                }
                if c + 1 < nx {
                    visit(i + 1);
                }
                if r > 0 {
                    visit(i - nx);
                }
                if r + 1 < ny {
                    visit(i + nx);
                }
            }
        }
        Raster {
            x0,
            y0,
            cell_m,
            nx,
            ny,
            cells,
        }
    }

    /// The cell's stored value, [`Raster::BOUNDARY`] when the point is off the grid.
    #[inline]
    fn get(&self, x: f64, y: f64) -> u32 {
        let (fx, fy) = ((x - self.x0) / self.cell_m, (y - self.y0) / self.cell_m);
        // Written so that NaN fails the test too.
        if !(fx >= 0.0 && fy >= 0.0 && fx < self.nx as f64 && fy < self.ny as f64) {
            return Self::BOUNDARY;
        }
        self.cells[fy as usize * self.nx + fx as usize]
    }
}

impl AreaIndex {
    /// Indexes the polygons; a point's answer is its position in this vector.
    pub fn new(polygons: Vec<MultiPolygon<f64>>) -> AreaIndex {
        let boxes = polygons
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let r = p.bounding_rect()?;
                Some(GeomWithData::new(
                    Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                    i as u32,
                ))
            })
            .collect();
        AreaIndex {
            tree: RTree::bulk_load(boxes),
            polygons,
            raster: OnceLock::new(),
        }
    }

    /// The polygons, in index order.
    pub fn polygons(&self) -> &[MultiPolygon<f64>] {
        &self.polygons
    }

    /// The polygon containing the point (easting, northing in metres), if any.
    ///
    /// A point on a shared edge belongs to the lowest-numbered polygon that
    /// touches it, so every point inside the study area gets exactly one
    /// answer and the answer does not depend on thread scheduling.
    pub fn locate(&self, easting_m: f64, northing_m: f64) -> Option<u32> {
        match self.raster.get_or_init(|| Raster::new(self)).get(easting_m, northing_m) {
            Raster::BOUNDARY => self.locate_exact(easting_m, northing_m),
            Raster::OUTSIDE => None,
            i => Some(i),
        }
    }

    /// [`AreaIndex::locate`] without the raster: the R-tree's candidates,
    /// each tested exactly.
    pub fn locate_exact(&self, easting_m: f64, northing_m: f64) -> Option<u32> {
        let c = Coord {
            x: easting_m,
            y: northing_m,
        };
        let mut best: Option<u32> = None;
        for cand in self.tree.locate_all_at_point(&[easting_m, northing_m]) {
            let i = cand.data;
            if best.is_some_and(|b| b <= i) {
                continue;
            }
            match self.polygons[i as usize].coordinate_position(&c) {
                CoordPos::Inside | CoordPos::OnBoundary => best = Some(i),
                CoordPos::Outside => {}
            }
        }
        best
    }
}

/// Points (e.g. schools) indexed for nearest-neighbour and radius queries.
/// Coordinates in BNG metres.
pub struct PointIndex {
    tree: RTree<GeomWithData<[f64; 2], u32>>,
    /// For [`PointIndex::nearest`], built on its first call (radius and
    /// k-nearest queries use the tree alone).
    grid: OnceLock<Option<point_grid::PointGrid>>,
}

impl PointIndex {
    /// Indexes the points; a query's answer is a position in this slice.
    pub fn new(points_m: &[[f64; 2]]) -> PointIndex {
        let items = points_m
            .iter()
            .enumerate()
            .map(|(i, p)| GeomWithData::new(*p, i as u32))
            .collect();
        PointIndex {
            tree: RTree::bulk_load(items),
            grid: OnceLock::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.tree.size()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.size() == 0
    }

    /// The nearest point and its distance in metres (None when empty); of
    /// points at the same distance, the first.
    pub fn nearest(&self, easting_m: f64, northing_m: f64) -> Option<(u32, f64)> {
        self.grid
            .get_or_init(|| point_grid::PointGrid::from_items(self.tree.iter().map(|p| (*p.geom(), p.data))))
            .as_ref()?
            .nearest([easting_m, northing_m])
    }

    /// The `k` nearest points, nearest first.
    pub fn nearest_k(&self, easting_m: f64, northing_m: f64, k: usize) -> Vec<u32> {
        self.tree
            .nearest_neighbor_iter(&[easting_m, northing_m])
            .take(k)
            .map(|p| p.data)
            .collect()
    }

    /// Every point within `radius_m` metres (inclusive).
    pub fn within(&self, easting_m: f64, northing_m: f64, radius_m: f64) -> impl Iterator<Item = u32> + '_ {
        // rstar takes the squared radius.
        self.tree
            .locate_within_distance([easting_m, northing_m], radius_m * radius_m)
            .map(|p| p.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    fn square(x0: f64, y0: f64, s: f64) -> MultiPolygon<f64> {
        MultiPolygon(vec![
            polygon![(x: x0, y: y0), (x: x0 + s, y: y0), (x: x0 + s, y: y0 + s), (x: x0, y: y0 + s), (x: x0, y: y0)],
        ])
    }

    #[test]
    fn locate_inside_outside_and_shared_edge() {
        let idx = AreaIndex::new(vec![square(0.0, 0.0, 10.0), square(10.0, 0.0, 10.0)]);
        assert_eq!(idx.locate(5.0, 5.0), Some(0));
        assert_eq!(idx.locate(15.0, 5.0), Some(1));
        assert_eq!(idx.locate(10.0, 5.0), Some(0), "shared edge goes to the lower index");
        assert_eq!(idx.locate(25.0, 5.0), None);
        assert_eq!(idx.locate(5.0, -0.001), None);
    }

    #[test]
    fn raster_answers_equal_the_exact_test() {
        use geo::{LineString, Polygon};
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        // Shared edges, a concave polygon, a hole (with a polygon inside
        // it), an overlap (the lower index wins) and a diagonal edge.
        let ring = |pts: &[(f64, f64)]| LineString::from(pts.to_vec());
        let polys = vec![
            square(0.0, 0.0, 100.0),
            square(100.0, 0.0, 100.0),
            MultiPolygon(vec![Polygon::new(
                ring(&[
                    (0.0, 100.0),
                    (200.0, 100.0),
                    (200.0, 300.0),
                    (120.0, 300.0),
                    (100.0, 150.0),
                    (80.0, 300.0),
                    (0.0, 300.0),
                    (0.0, 100.0),
                ]),
                vec![ring(&[
                    (20.0, 120.0),
                    (60.0, 120.0),
                    (60.0, 160.0),
                    (20.0, 160.0),
                    (20.0, 120.0),
                ])],
            )]),
            square(30.0, 130.0, 20.0),
            square(150.0, 50.0, 100.0),
            MultiPolygon(vec![Polygon::new(
                ring(&[(200.0, 0.0), (333.3, 0.0), (200.0, 133.3), (200.0, 0.0)]),
                vec![],
            )]),
        ];
        let idx = AreaIndex::new(polys.clone());
        let check = |x: f64, y: f64| assert_eq!(idx.locate(x, y), idx.locate_exact(x, y), "({x}, {y})");
        for _ in 0..100_000 {
            check(rng.gen_range(-20.0..360.0), rng.gen_range(-20.0..320.0));
        }
        // Points on edges and vertices.
        for p in polys.iter().flat_map(|m| m.0.iter()) {
            for r in std::iter::once(p.exterior()).chain(p.interiors()) {
                for l in r.lines() {
                    check(l.start.x, l.start.y);
                    for _ in 0..50 {
                        let t: f64 = rng.gen();
                        check(
                            l.start.x + (l.end.x - l.start.x) * t,
                            l.start.y + (l.end.y - l.start.y) * t,
                        );
                    }
                }
            }
        }
        // Off the grid, and not a number.
        check(-1e9, 5.0);
        assert_eq!(idx.locate(f64::NAN, 5.0), None);
        assert_eq!(AreaIndex::new(Vec::new()).locate(1.0, 1.0), None);
    }

    #[test]
    fn nearest_and_within() {
        let idx = PointIndex::new(&[[0.0, 0.0], [100.0, 0.0], [0.0, 300.0]]);
        let (i, d) = idx.nearest(90.0, 0.0).unwrap();
        assert_eq!((i, d), (1, 10.0));
        let mut w: Vec<u32> = idx.within(0.0, 0.0, 100.0).collect();
        w.sort();
        assert_eq!(w, vec![0, 1], "a point at exactly the radius is within");
    }
}
