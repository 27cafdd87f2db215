//! Spatial weights between analysis units, stored sparse (CSR). The focal
//! unit's own weight is not stored: Gi* adds it (`self_weight`, 1).
//!
//! Distances are between unit centres, in BNG metres. A pair at exactly the
//! threshold distance is a neighbour.

use rustc_hash::FxHashMap;

/// How weights were built (reported with every result).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WeightsSpec {
    /// w = 1 within `band_m`.
    DistanceBand { band_m: f64 },
    /// w = 1 / d within `band_m` (d in metres); Gi*'s self weight is the
    /// nearest neighbour's ([`Weights::gi_self_weight`]).
    InverseDistance { band_m: f64 },
    /// w = 1 for the `k` nearest.
    Knn { k: usize },
    /// Polygons sharing an edge (rook) or any point (queen).
    Contiguity { queen: bool },
    /// H3 cells within `k` grid steps.
    KRing { k: u32 },
}

impl WeightsSpec {
    /// A distance band, binary or inverse distance.
    pub fn band(band_m: f64, inverse: bool) -> WeightsSpec {
        if inverse {
            WeightsSpec::InverseDistance { band_m }
        } else {
            WeightsSpec::DistanceBand { band_m }
        }
    }
}

/// Sparse spatial weights: unit `i`'s neighbours are
/// `neighbours[offsets[i]..offsets[i + 1]]` with weights in `weights`
/// (empty `weights` means all 1).
#[derive(Debug, Clone)]
pub struct Weights {
    pub spec: WeightsSpec,
    pub offsets: Vec<usize>,
    pub neighbours: Vec<u32>,
    pub weights: Vec<f64>,
}

/// Relative tolerance for "at exactly the threshold": grid centres at
/// 750.000000001 m because of floating point are still at 750 m.
const EDGE_TOLERANCE: f64 = 1e-9;

/// What a distance-band matrix keeps for each pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BandValue {
    /// Weight 1 (nothing stored).
    Binary,
    /// 1 / distance in metres (1 at distance 0).
    InverseDistance,
    /// The distance in metres itself, rows unsorted: one pass over the
    /// widest band serves every narrower one ([`Weights::within_band`]).
    Distance,
}

impl BandValue {
    fn binary_or_inverse(inverse: bool) -> BandValue {
        if inverse {
            BandValue::InverseDistance
        } else {
            BandValue::Binary
        }
    }

    /// Appends one unit's `(neighbour, distance)` row.
    fn push_row(self, row: &mut [(u32, f64)], neighbours: &mut Vec<u32>, weights: &mut Vec<f64>) {
        if self != BandValue::Distance {
            row.sort_by_key(|r| r.0);
        }
        for &(j, d) in row.iter() {
            neighbours.push(j);
            match self {
                BandValue::Binary => {}
                BandValue::InverseDistance => weights.push(if d > 0.0 { 1.0 / d } else { 1.0 }),
                BandValue::Distance => weights.push(d),
            }
        }
    }
}

impl Weights {
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Unit `i`'s neighbours and their weights.
    pub fn row(&self, i: usize) -> impl Iterator<Item = (u32, f64)> + '_ {
        let range = self.offsets[i]..self.offsets[i + 1];
        let binary = self.weights.is_empty();
        range.map(move |k| (self.neighbours[k], if binary { 1.0 } else { self.weights[k] }))
    }

    pub fn neighbour_count(&self, i: usize) -> usize {
        self.offsets[i + 1] - self.offsets[i]
    }

    /// The focal unit's own weight w_ii in Gi*, consistent with the
    /// neighbours' weights and independent of the distance unit: 1 for
    /// binary, kNN, contiguity and ring weights; with inverse distance, the
    /// weight of the unit's nearest neighbour (1/d_min; 1 for an island).
    ///
    /// Why: with w_ij = 1/d in metres and w_ii = 1, a 250 m cell's 28
    /// neighbours within 750 m weigh 0.061 together, so the cell itself
    /// carries 94 % of the weight and Gi* is the cell's own count z (the
    /// correlation was 0.9999 on the London burglary grid); in kilometres it
    /// would have been spatial. Gi* is unchanged when every weight is scaled
    /// by one constant, so a self weight in the neighbours' own units makes
    /// the result independent of the unit. On square and hexagonal grids this
    /// is distances counted in cells with the cell itself at one cell
    /// (w = cell/d, w_ii = 1): a cell weighs as much as its adjacent cells,
    /// as with binary weights, and on a 250 m grid with a 750 m band the
    /// 28 neighbours carry 94 % of the weight (Σ cell/d = 15.2).
    pub fn gi_self_weight(&self, i: usize) -> f64 {
        match self.spec {
            WeightsSpec::InverseDistance { .. } => {
                let nearest = self.row(i).map(|(_, w)| w).fold(0.0f64, f64::max);
                if nearest > 0.0 {
                    nearest
                } else {
                    1.0
                }
            }
            _ => 1.0,
        }
    }

    /// Units with no neighbours at all.
    pub fn islands(&self) -> Vec<usize> {
        (0..self.len()).filter(|&i| self.neighbour_count(i) == 0).collect()
    }

    /// Units with fewer than `k` neighbours (ArcGIS recommends at least 8 for Gi*).
    pub fn fewer_than(&self, k: usize) -> Vec<usize> {
        (0..self.len()).filter(|&i| self.neighbour_count(i) < k).collect()
    }

    /// Distance-band weights over points (BNG metres): binary, or inverse distance.
    pub fn distance_band(points: &[[f64; 2]], band_m: f64, inverse: bool) -> Weights {
        Self::band_pairs(points, band_m, BandValue::binary_or_inverse(inverse))
    }

    /// Distance-band pairs over units with centres `centres` (BNG metres):
    /// on a square grid by its lattice ([`Weights::square_grid_band`]),
    /// else by a spatial hash ([`Weights::distance_band`]); the same pairs
    /// either way.
    pub fn band(grid: Option<&super::grid::Grid>, centres: &[[f64; 2]], band_m: f64, value: BandValue) -> Weights {
        match grid {
            Some(g) if g.kind == super::grid::GridKind::Square => Self::square_grid_pairs(g, band_m, value),
            _ => Self::band_pairs(centres, band_m, value),
        }
    }

    /// Whether a pair at `d` metres is within band `b` (with the same
    /// tolerance for lattice distances as [`Weights::distance_band`]).
    pub fn within_band(d: f64, band_m: f64) -> bool {
        let limit = band_m * (1.0 + EDGE_TOLERANCE);
        d * d <= limit * limit
    }

    /// The pairs within `band_m` by a spatial hash, each row in index order
    /// (unsorted for [`BandValue::Distance`], whose users only sum).
    fn band_pairs(points: &[[f64; 2]], band_m: f64, value: BandValue) -> Weights {
        let limit = band_m * (1.0 + EDGE_TOLERANCE);
        let limit2 = limit * limit;
        // Bucket the points by a grid of side `band`: neighbours lie in the 3x3 block.
        let key = |p: &[f64; 2]| ((p[0] / limit).floor() as i64, (p[1] / limit).floor() as i64);
        let mut buckets: FxHashMap<(i64, i64), Vec<u32>> = FxHashMap::default();
        for (i, p) in points.iter().enumerate() {
            buckets.entry(key(p)).or_default().push(i as u32);
        }
        let mut offsets = Vec::with_capacity(points.len() + 1);
        let mut neighbours = Vec::new();
        let mut weights = Vec::new();
        offsets.push(0);
        let mut row: Vec<(u32, f64)> = Vec::new();
        for (i, p) in points.iter().enumerate() {
            let (bx, by) = key(p);
            row.clear();
            for dx in -1..=1 {
                for dy in -1..=1 {
                    if let Some(b) = buckets.get(&(bx + dx, by + dy)) {
                        for &j in b {
                            if j as usize == i {
                                continue;
                            }
                            let q = points[j as usize];
                            let d2 = (q[0] - p[0]).powi(2) + (q[1] - p[1]).powi(2);
                            if d2 <= limit2 {
                                row.push((j, d2.sqrt()));
                            }
                        }
                    }
                }
            }
            value.push_row(&mut row, &mut neighbours, &mut weights);
            offsets.push(neighbours.len());
        }
        Weights {
            spec: WeightsSpec::band(band_m, value == BandValue::InverseDistance),
            offsets,
            neighbours,
            weights,
        }
    }

    /// Distance-band weights between the cells of a square grid: the same
    /// weights as [`Weights::distance_band`] over the cell centres, found by
    /// a stencil of lattice offsets instead of a spatial hash.
    pub fn square_grid_band(grid: &super::grid::Grid, band_m: f64, inverse: bool) -> Weights {
        Self::square_grid_pairs(grid, band_m, BandValue::binary_or_inverse(inverse))
    }

    fn square_grid_pairs(grid: &super::grid::Grid, band_m: f64, value: BandValue) -> Weights {
        debug_assert_eq!(grid.kind, super::grid::GridKind::Square);
        // Offsets with their distance; the focal cell's own weight is Gi*'s business.
        let mut stencil = super::grid::stencil_within(band_m, grid.cell_m, |d| d);
        stencil.retain(|&(dc, dr, _)| (dc, dr) != (0, 0));
        let lattice = grid.lattice();
        let mut offsets = Vec::with_capacity(grid.cells.len() + 1);
        let mut neighbours = Vec::with_capacity(grid.cells.len() * stencil.len());
        let mut weights = Vec::new();
        offsets.push(0);
        let mut row: Vec<(u32, f64)> = Vec::with_capacity(stencil.len());
        for c in &grid.cells {
            row.clear();
            row.extend(
                stencil
                    .iter()
                    .filter_map(|&(dc, dr, d)| lattice.at(c.col + dc, c.row + dr).map(|j| (j, d))),
            );
            value.push_row(&mut row, &mut neighbours, &mut weights);
            offsets.push(neighbours.len());
        }
        Weights {
            spec: WeightsSpec::band(band_m, value == BandValue::InverseDistance),
            offsets,
            neighbours,
            weights,
        }
    }

    /// k-nearest-neighbour weights (binary) via an R-tree.
    pub fn knn(points: &[[f64; 2]], k: usize) -> Weights {
        let index = crate::index::PointIndex::new(points);
        let mut offsets = vec![0];
        let mut neighbours = Vec::new();
        for (i, p) in points.iter().enumerate() {
            let mut row: Vec<u32> = index
                .nearest_k(p[0], p[1], k + 1)
                .into_iter()
                .filter(|&j| j as usize != i)
                .take(k)
                .collect();
            row.sort_unstable();
            neighbours.extend(row);
            offsets.push(neighbours.len());
        }
        Weights {
            spec: WeightsSpec::Knn { k },
            offsets,
            neighbours,
            weights: Vec::new(),
        }
    }

    /// Builds weights from explicit neighbour lists (binary).
    pub fn from_lists(spec: WeightsSpec, lists: Vec<Vec<u32>>) -> Weights {
        let mut offsets = vec![0];
        let mut neighbours = Vec::new();
        for mut l in lists {
            l.sort_unstable();
            l.dedup();
            neighbours.extend(l);
            offsets.push(neighbours.len());
        }
        Weights {
            spec,
            offsets,
            neighbours,
            weights: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn band_includes_pairs_at_exactly_the_threshold() {
        // A 250 m lattice: with a 750 m band each interior point has the 28
        // others with di² + dj² <= 9 (offsets (±3,0), (0,±3) included).
        let pts: Vec<[f64; 2]> = (0..11)
            .flat_map(|i| (0..11).map(move |j| [i as f64 * 250.0 + 125.0, j as f64 * 250.0 + 125.0]))
            .collect();
        let w = Weights::distance_band(&pts, 750.0, false);
        let centre = 5 * 11 + 5;
        assert_eq!(w.neighbour_count(centre), 28);
        // Corner: (a, b) in 0..=3 with a² + b² <= 9, less itself.
        assert_eq!(w.neighbour_count(0), 10);
        let inv = Weights::distance_band(&pts, 750.0, true);
        let (_, wt) = inv.row(centre).find(|(j, _)| *j as usize == centre + 1).unwrap();
        assert!((wt - 1.0 / 250.0).abs() < 1e-15);
    }

    #[test]
    fn knn_and_islands() {
        let pts = [[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [100.0, 0.0]];
        let w = Weights::knn(&pts, 1);
        assert_eq!(w.row(0).map(|r| r.0).collect::<Vec<_>>(), vec![1]);
        assert_eq!(w.row(2).map(|r| r.0).collect::<Vec<_>>(), vec![1]);
        let band = Weights::distance_band(&pts, 2.0, false);
        assert_eq!(band.islands(), vec![3]);
    }

    #[test]
    fn square_grid_band_equals_distance_band_over_centres() {
        use crate::analysis::grid::{Grid, GridKind};
        use geo::polygon;
        let area = geo::MultiPolygon(vec![polygon![
            (x: 0.0, y: 0.0), (x: 5000.0, y: 0.0), (x: 5000.0, y: 3000.0), (x: 2000.0, y: 4500.0), (x: 0.0, y: 3000.0), (x: 0.0, y: 0.0)
        ]]);
        let grid = Grid::new(GridKind::Square, 250.0, &[area]);
        let centres: Vec<[f64; 2]> = grid.cells.iter().map(|c| c.centre).collect();
        for (band, inverse) in [(750.0, false), (500.0, true), (250.0, false)] {
            let a = Weights::square_grid_band(&grid, band, inverse);
            let b = Weights::distance_band(&centres, band, inverse);
            assert_eq!(a.offsets, b.offsets, "band {band}");
            assert_eq!(a.neighbours, b.neighbours, "band {band}");
            assert_eq!(a.weights.len(), b.weights.len());
            for (x, y) in a.weights.iter().zip(&b.weights) {
                assert!((x - y).abs() < 1e-12 * y.abs());
            }
        }
    }
}
