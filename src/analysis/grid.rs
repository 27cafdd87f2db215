//! Analysis grids in British National Grid metres: square fishnets and
//! pointy-top hexagons. The origin is snapped to a multiple of the cell
//! size, and a cell is kept when its centre lies inside the study area
//! (the union of the wards), found by scanline fill of the ward polygons.

use geo::{BoundingRect, Coord, LineString, MultiPolygon, Polygon};

/// Square or hexagonal cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GridKind {
    /// Squares of side `cell_m`.
    Square,
    /// Pointy-top hexagons whose centres are `cell_m` apart (flat-to-flat
    /// width `cell_m`, area √3/2 · cell_m²).
    Hex,
}

crate::named_choices!(GridKind {
    Square => "square",
    Hex => "hex",
});

/// One cell: its lattice position and centre (BNG metres).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridCell {
    pub col: i32,
    pub row: i32,
    pub centre: [f64; 2],
}

/// A grid over the study area.
#[derive(Debug, Clone)]
pub struct Grid {
    pub kind: GridKind,
    pub cell_m: f64,
    /// Lattice origin (BNG metres), a multiple of `cell_m`.
    pub origin: [f64; 2],
    pub cells: Vec<GridCell>,
    lattice: Lattice,
}

/// Offsets (in cells) and weights of a convolution over a grid's lattice.
pub type Stencil = Vec<(i32, i32, f64)>;

/// The lattice offsets (in cells) whose centres lie within `radius_m` of
/// the origin cell's centre, the offset (0, 0) included, each with
/// `w(distance in metres)`. A cell exactly at the radius counts (1e-9
/// relative tolerance, for floating-point centres).
pub fn stencil_within(radius_m: f64, cell_m: f64, w: impl Fn(f64) -> f64) -> Stencil {
    let limit = radius_m * (1.0 + 1e-9);
    let reach = (limit / cell_m).floor() as i32;
    let mut out = Vec::new();
    for dr in -reach..=reach {
        for dc in -reach..=reach {
            let d = ((dc * dc + dr * dr) as f64).sqrt() * cell_m;
            if d <= limit {
                out.push((dc, dr, w(d)));
            }
        }
    }
    out
}

/// A grid's cells on their dense (col, row) lattice: O(1) lookups.
#[derive(Debug, Clone)]
pub struct Lattice {
    c0: i32,
    r0: i32,
    width: usize,
    height: usize,
    /// Cell index at each lattice position (`u32::MAX` where no cell was kept).
    index: Vec<u32>,
}

impl Lattice {
    pub fn new(cells: &[GridCell]) -> Lattice {
        let (mut c0, mut c1, mut r0, mut r1) = (i32::MAX, i32::MIN, i32::MAX, i32::MIN);
        for c in cells {
            c0 = c0.min(c.col);
            c1 = c1.max(c.col);
            r0 = r0.min(c.row);
            r1 = r1.max(c.row);
        }
        if cells.is_empty() {
            return Lattice {
                c0: 0,
                r0: 0,
                width: 0,
                height: 0,
                index: Vec::new(),
            };
        }
        let (width, height) = ((c1 - c0 + 1) as usize, (r1 - r0 + 1) as usize);
        let mut index = vec![u32::MAX; width * height];
        for (i, c) in cells.iter().enumerate() {
            index[(c.row - r0) as usize * width + (c.col - c0) as usize] = i as u32;
        }
        Lattice {
            c0,
            r0,
            width,
            height,
            index,
        }
    }

    /// The cell at (col, row), if kept.
    pub fn at(&self, col: i32, row: i32) -> Option<u32> {
        let (c, r) = (col - self.c0, row - self.r0);
        if c < 0 || r < 0 || c as usize >= self.width || r as usize >= self.height {
            return None;
        }
        let i = self.index[r as usize * self.width + c as usize];
        (i != u32::MAX).then_some(i)
    }

    /// `out[j] = Σ_(dc, dr, w) w · values[cell at j + (dc, dr)]` over kept cells.
    pub fn convolve(&self, cells: &[GridCell], values: &[f64], stencil: &Stencil) -> Vec<f64> {
        use rayon::prelude::*;
        cells
            .par_iter()
            .with_min_len(2048)
            .map(|c| {
                stencil
                    .iter()
                    .map(|&(dc, dr, w)| self.at(c.col + dc, c.row + dr).map_or(0.0, |k| w * values[k as usize]))
                    .sum()
            })
            .collect()
    }
}

/// Scanline fill: for each horizontal line `y0 + row * dy` (`row` in
/// `0..rows`), the x-intervals `[x0, x1)` inside `areas` (BNG metres).
/// Each polygon's ring crossings are paired even-odd, so holes are outside.
pub(crate) fn row_intervals(areas: &[MultiPolygon<f64>], y0: f64, dy: f64, rows: usize) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = vec![Vec::new(); rows];
    let mut crossings: Vec<Vec<f64>> = vec![Vec::new(); rows];
    let last_row = rows as i64 - 1;
    for mp in areas {
        for poly in &mp.0 {
            for c in crossings.iter_mut() {
                c.clear();
            }
            for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                for seg in ring.lines() {
                    let (a, b) = (seg.start, seg.end);
                    let (lo, hi) = if a.y < b.y { (a, b) } else { (b, a) };
                    if lo.y == hi.y {
                        continue;
                    }
                    let first = (((lo.y - y0) / dy).ceil() as i64).max(0);
                    let last = (((hi.y - y0) / dy).ceil() as i64 - 1).min(last_row);
                    for row in first..=last {
                        let yc = y0 + row as f64 * dy;
                        if yc >= lo.y && yc < hi.y {
                            crossings[row as usize].push(lo.x + (yc - lo.y) * (hi.x - lo.x) / (hi.y - lo.y));
                        }
                    }
                }
            }
            for (row, xs) in crossings.iter_mut().enumerate() {
                if xs.is_empty() {
                    continue;
                }
                xs.sort_by(f64::total_cmp);
                out[row].extend(xs.chunks_exact(2).map(|p| (p[0], p[1])));
            }
        }
    }
    out
}

impl Grid {
    /// The cells whose centres fall inside `areas` (BNG polygons).
    pub fn new(kind: GridKind, cell_m: f64, areas: &[MultiPolygon<f64>]) -> Grid {
        assert!(cell_m > 0.0, "cell size must be positive");
        let bbox = areas.iter().filter_map(|a| a.bounding_rect()).reduce(|a, b| {
            geo::Rect::new(
                Coord {
                    x: a.min().x.min(b.min().x),
                    y: a.min().y.min(b.min().y),
                },
                Coord {
                    x: a.max().x.max(b.max().x),
                    y: a.max().y.max(b.max().y),
                },
            )
        });
        let Some(bbox) = bbox else {
            return Grid {
                kind,
                cell_m,
                origin: [0.0, 0.0],
                cells: Vec::new(),
                lattice: Lattice::new(&[]),
            };
        };
        let origin = [
            (bbox.min().x / cell_m).floor() * cell_m,
            (bbox.min().y / cell_m).floor() * cell_m,
        ];
        let mut grid = Grid {
            kind,
            cell_m,
            origin,
            cells: Vec::new(),
            lattice: Lattice::new(&[]),
        };
        let (dy, row_count) = match kind {
            GridKind::Square => (cell_m, ((bbox.max().y - origin[1]) / cell_m).ceil() as i32 + 1),
            GridKind::Hex => (
                grid.hex_radius() * 1.5,
                ((bbox.max().y - origin[1]) / (grid.hex_radius() * 1.5)).ceil() as i32 + 2,
            ),
        };
        let y0 = grid.row_centre_y(0);
        let mut inside: Vec<(i32, i32)> = Vec::new();
        for (row, intervals) in row_intervals(areas, y0, dy, row_count.max(0) as usize)
            .iter()
            .enumerate()
        {
            for &(x0, x1) in intervals {
                let (c0, c1) = grid.cols_between(row as i32, x0, x1);
                for col in c0..=c1 {
                    inside.push((col, row as i32));
                }
            }
        }
        // Column-major order, each cell once (polygons sharing an edge can both claim it).
        inside.sort_unstable();
        inside.dedup();
        grid.cells = inside
            .into_iter()
            .map(|(col, row)| GridCell {
                col,
                row,
                centre: grid.centre_of(col, row),
            })
            .collect();
        grid.lattice = Lattice::new(&grid.cells);
        grid
    }

    /// The cells on their dense lattice.
    pub fn lattice(&self) -> &Lattice {
        &self.lattice
    }

    /// Convolves per-cell values with a stencil (see [`Lattice::convolve`]).
    pub fn convolve(&self, values: &[f64], stencil: &Stencil) -> Vec<f64> {
        self.lattice.convolve(&self.cells, values, stencil)
    }

    fn hex_radius(&self) -> f64 {
        self.cell_m / 3f64.sqrt()
    }

    fn row_centre_y(&self, row: i32) -> f64 {
        match self.kind {
            GridKind::Square => self.origin[1] + (row as f64 + 0.5) * self.cell_m,
            GridKind::Hex => self.origin[1] + row as f64 * self.hex_radius() * 1.5,
        }
    }

    fn row_shift(&self, row: i32) -> f64 {
        match self.kind {
            GridKind::Square => 0.5 * self.cell_m,
            // Odd rows of pointy-top hexes are shifted half a cell.
            GridKind::Hex => {
                if row.rem_euclid(2) == 1 {
                    0.5 * self.cell_m
                } else {
                    0.0
                }
            }
        }
    }

    /// Centre (BNG metres) of the cell at (col, row).
    pub fn centre_of(&self, col: i32, row: i32) -> [f64; 2] {
        [
            self.origin[0] + col as f64 * self.cell_m + self.row_shift(row),
            self.row_centre_y(row),
        ]
    }

    /// Columns whose centres on `row` lie in [x0, x1).
    fn cols_between(&self, row: i32, x0: f64, x1: f64) -> (i32, i32) {
        let shift = self.origin[0] + self.row_shift(row);
        let c0 = ((x0 - shift) / self.cell_m).ceil() as i32;
        let mut c1 = ((x1 - shift) / self.cell_m).ceil() as i32 - 1;
        if c1 < c0 {
            c1 = c0 - 1;
        }
        (c0, c1)
    }

    /// The cell containing the point (BNG metres), if it is a kept cell.
    pub fn cell_of(&self, easting_m: f64, northing_m: f64) -> Option<u32> {
        let key = match self.kind {
            GridKind::Square => (
                ((easting_m - self.origin[0]) / self.cell_m).floor() as i32,
                ((northing_m - self.origin[1]) / self.cell_m).floor() as i32,
            ),
            GridKind::Hex => self.hex_of(easting_m, northing_m),
        };
        self.lattice.at(key.0, key.1)
    }

    /// Offset (odd-row shifted) coordinates of the hexagon containing a point.
    fn hex_of(&self, x: f64, y: f64) -> (i32, i32) {
        // To axial (pointy-top), round in cube coordinates, back to offset.
        let r = self.hex_radius();
        let px = x - self.origin[0];
        let py = y - self.origin[1];
        let q = (3f64.sqrt() / 3.0 * px - py / 3.0) / r;
        let rr = (2.0 / 3.0 * py) / r;
        let (x3, z3) = (q, rr);
        let y3 = -x3 - z3;
        let (mut rx, ry, mut rz) = (x3.round(), y3.round(), z3.round());
        let (dx, dy, dz) = ((rx - x3).abs(), (ry - y3).abs(), (rz - z3).abs());
        if dx > dy && dx > dz {
            rx = -ry - rz;
        } else if dy <= dz {
            rz = -rx - ry;
        }
        let row = rz as i32;
        let col = rx as i32 + (row - (row & 1)) / 2;
        (col, row)
    }

    /// Area of one cell in km².
    pub fn cell_area_km2(&self) -> f64 {
        match self.kind {
            GridKind::Square => self.cell_m * self.cell_m / 1e6,
            GridKind::Hex => 3f64.sqrt() / 2.0 * self.cell_m * self.cell_m / 1e6,
        }
    }

    /// A stable id: `sq250-<col>-<row>` or `hex250-<col>-<row>` (lattice
    /// positions relative to BNG 0,0, so ids agree between runs).
    pub fn id(&self, i: usize) -> String {
        let (prefix, oc, or) = self.id_parts();
        let c = self.cells[i];
        format!("{prefix}-{}-{}", oc + c.col as i64, or + c.row as i64)
    }

    /// Every cell's [`Grid::id`], in parallel (the prefix written once).
    pub fn ids(&self) -> Vec<String> {
        use rayon::prelude::*;
        use std::fmt::Write as _;
        let (prefix, oc, or) = self.id_parts();
        self.cells
            .par_iter()
            .with_min_len(1024)
            .map(|c| {
                let mut s = String::with_capacity(prefix.len() + 16);
                s.push_str(&prefix);
                let _ = write!(s, "-{}-{}", oc + c.col as i64, or + c.row as i64);
                s
            })
            .collect()
    }

    /// An id's prefix (`sq250`) and the lattice offsets of column and row 0.
    fn id_parts(&self) -> (String, i64, i64) {
        let oc = (self.origin[0] / self.cell_m).round() as i64;
        let or = match self.kind {
            GridKind::Square => (self.origin[1] / self.cell_m).round() as i64,
            GridKind::Hex => (self.origin[1] / (self.hex_radius() * 1.5)).round() as i64,
        };
        let prefix = match self.kind {
            GridKind::Square => "sq",
            GridKind::Hex => "hex",
        };
        (format!("{prefix}{}", self.cell_m), oc, or)
    }

    /// The cell's polygon in WGS84 lon/lat (vertices through OSTN15).
    pub fn polygon_wgs84(&self, i: usize) -> Polygon<f64> {
        use geo::MapCoords;
        self.polygon_bng(i).map_coords(|c| {
            let (x, y) = crate::crs::bng_to_lonlat(c.x, c.y).unwrap_or((f64::NAN, f64::NAN));
            Coord { x, y }
        })
    }

    /// The cell's polygon in BNG metres (counter-clockwise, closed).
    pub fn polygon_bng(&self, i: usize) -> Polygon<f64> {
        let mut ring = Vec::with_capacity(self.ring_len());
        self.push_ring_bng(i, &mut ring);
        Polygon::new(LineString(ring), vec![])
    }

    /// Coordinates in a cell's closed ring: 5 (squares) or 7 (hexagons).
    pub fn ring_len(&self) -> usize {
        match self.kind {
            GridKind::Square => 5,
            GridKind::Hex => 7,
        }
    }

    /// Appends the closed ring of cell `i` in BNG metres (counter-clockwise).
    fn push_ring_bng(&self, i: usize, out: &mut Vec<Coord<f64>>) {
        let [x, y] = self.cells[i].centre;
        let start = out.len();
        match self.kind {
            GridKind::Square => {
                let h = self.cell_m / 2.0;
                for (x, y) in [(x - h, y - h), (x + h, y - h), (x + h, y + h), (x - h, y + h)] {
                    out.push(Coord { x, y });
                }
            }
            GridKind::Hex => {
                let r = self.hex_radius();
                for k in 0..6 {
                    let a = std::f64::consts::PI / 180.0 * (60.0 * k as f64 - 30.0);
                    out.push(Coord {
                        x: x + r * a.cos(),
                        y: y + r * a.sin(),
                    });
                }
            }
        }
        out.push(out[start]);
    }

    /// Every cell's ring in WGS84 lon/lat at once (the rings of
    /// [`Grid::polygon_wgs84`]). Cells share corners (a square's with up to
    /// three others), so each distinct vertex is projected once, in parallel.
    pub fn rings_wgs84(&self) -> CellRings {
        use rayon::prelude::*;
        let stride = self.ring_len();
        let mut bng = Vec::with_capacity(self.cells.len() * stride);
        for i in 0..self.cells.len() {
            self.push_ring_bng(i, &mut bng);
        }
        // Shared vertices are found by their position to the millimetre
        // (hexagon corners computed from neighbouring centres differ in the
        // last bits).
        let key = |c: &Coord<f64>| ((c.x * 1000.0).round() as i64, (c.y * 1000.0).round() as i64);
        let mut index: rustc_hash::FxHashMap<(i64, i64), u32> = rustc_hash::FxHashMap::default();
        index.reserve(self.cells.len() + self.cells.len() / 4);
        let mut unique: Vec<Coord<f64>> = Vec::with_capacity(self.cells.len() * 3 / 2);
        let mut rings: Vec<u32> = bng
            .iter()
            .map(|c| {
                *index.entry(key(c)).or_insert_with(|| {
                    unique.push(*c);
                    (unique.len() - 1) as u32
                })
            })
            .collect();
        let vertices: Vec<Coord<f64>> = unique
            .par_iter()
            .with_min_len(1024)
            .map(|c| {
                let (x, y) = crate::crs::bng_to_lonlat(c.x, c.y).unwrap_or((f64::NAN, f64::NAN));
                Coord { x, y }
            })
            .collect();
        // Counter-clockwise in lon/lat too (RFC 7946's right-hand rule):
        // turn any ring the projection flipped.
        for ring in rings.chunks_exact_mut(stride) {
            let area2: f64 = ring
                .windows(2)
                .map(|w| {
                    let (a, b) = (vertices[w[0] as usize], vertices[w[1] as usize]);
                    a.x * b.y - b.x * a.y
                })
                .sum();
            if area2 < 0.0 {
                ring.reverse();
            }
        }
        CellRings {
            stride,
            vertices,
            rings,
        }
    }
}

/// The rings of a grid's cells in WGS84, over shared vertices: cell `i`'s
/// closed ring is `vertices[rings[i * stride + k]]` for `k` in `0..stride`,
/// counter-clockwise (BNG to WGS84 keeps the orientation).
#[derive(Debug, Clone)]
pub struct CellRings {
    /// Coordinates per ring, the closing one included.
    pub stride: usize,
    /// Distinct vertices, lon/lat degrees (NaN where the projection failed).
    pub vertices: Vec<Coord<f64>>,
    /// Vertex indices, `stride` per cell.
    pub rings: Vec<u32>,
}

impl CellRings {
    /// How many cells.
    pub fn len(&self) -> usize {
        self.rings.len() / self.stride.max(1)
    }

    pub fn is_empty(&self) -> bool {
        self.rings.is_empty()
    }

    /// The vertex indices of cell `i`'s ring.
    pub fn ring(&self, i: usize) -> &[u32] {
        &self.rings[i * self.stride..(i + 1) * self.stride]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    fn square_area(x0: f64, y0: f64, s: f64) -> MultiPolygon<f64> {
        MultiPolygon(vec![
            polygon![(x: x0, y: y0), (x: x0 + s, y: y0), (x: x0 + s, y: y0 + s), (x: x0, y: y0 + s), (x: x0, y: y0)],
        ])
    }

    #[test]
    fn square_grid_snaps_origin_and_keeps_centres_inside() {
        // A 1 km square from (10_100, 20_100): origin snaps to (10_000, 20_000).
        let g = Grid::new(GridKind::Square, 250.0, &[square_area(10_100.0, 20_100.0, 1_000.0)]);
        assert_eq!(g.origin, [10_000.0, 20_000.0]);
        // Centres at 10_125 + 250k: inside [10_100, 11_100) are 10_125..10_875 and 11_125? no -> 4 per axis.
        assert_eq!(g.cells.len(), 16);
        assert!(g.cells.iter().all(|c| c.centre[0] > 10_100.0 && c.centre[0] < 11_100.0));
        assert_eq!(g.cell_of(10_130.0, 20_130.0), Some(0));
        assert_eq!(
            g.cell_of(10_010.0, 20_010.0),
            Some(0),
            "the whole square of a kept centre counts"
        );
        assert_eq!(g.cell_of(9_990.0, 20_130.0), None, "outside the kept cells");
        assert_eq!(g.id(0), "sq250-40-80");
        assert_eq!(g.ids()[0], "sq250-40-80");
    }

    #[test]
    fn shared_rings_match_each_cell_projected_alone() {
        let area = square_area(530_000.0, 180_000.0, 3_000.0);
        for kind in [GridKind::Square, GridKind::Hex] {
            let g = Grid::new(kind, 250.0, std::slice::from_ref(&area));
            let r = g.rings_wgs84();
            assert_eq!(r.len(), g.cells.len());
            assert!(
                r.vertices.len() < g.cells.len() * (r.stride - 1),
                "{kind:?}: vertices are shared"
            );
            for i in 0..g.cells.len() {
                let alone = g.polygon_wgs84(i);
                let shared: Vec<Coord<f64>> = r.ring(i).iter().map(|&v| r.vertices[v as usize]).collect();
                assert_eq!(alone.exterior().0.len(), shared.len());
                for (a, b) in alone.exterior().0.iter().zip(&shared) {
                    assert!(
                        (a.x - b.x).abs() < 1e-9 && (a.y - b.y).abs() < 1e-9,
                        "{kind:?} cell {i}"
                    );
                }
            }
        }
    }

    #[test]
    fn hex_grid_covers_area_and_points_find_their_hexagon() {
        let area = square_area(0.0, 0.0, 2_000.0);
        let g = Grid::new(GridKind::Hex, 200.0, &[area]);
        // Area / hex area ≈ 4e6 / (√3/2 · 4e4) ≈ 115 cells.
        assert!((100..=130).contains(&g.cells.len()), "{}", g.cells.len());
        for (i, c) in g.cells.iter().enumerate() {
            assert_eq!(g.cell_of(c.centre[0], c.centre[1]), Some(i as u32), "centre of {i}");
        }
        // Hexagons are the Voronoi cells of their centres: a point belongs to
        // the nearest centre.
        for k in 0..2_000 {
            let p = [
                (k * 7919 % 1_600) as f64 + 200.0 + 0.37,
                (k * 104_729 % 1_600) as f64 + 200.0 + 0.61,
            ];
            let nearest = (0..g.cells.len())
                .min_by(|&a, &b| {
                    let d = |i: usize| (g.cells[i].centre[0] - p[0]).powi(2) + (g.cells[i].centre[1] - p[1]).powi(2);
                    d(a).total_cmp(&d(b))
                })
                .unwrap();
            assert_eq!(g.cell_of(p[0], p[1]), Some(nearest as u32), "point {p:?}");
        }
        // Neighbouring centres are cell_m apart.
        let w = crate::analysis::weights::Weights::distance_band(
            &g.cells.iter().map(|c| c.centre).collect::<Vec<_>>(),
            200.0,
            false,
        );
        let interior = (0..g.cells.len()).filter(|&i| w.neighbour_count(i) == 6).count();
        assert!(
            interior > 60,
            "interior hexes have 6 neighbours at exactly cell_m: {interior}"
        );
    }
}
