//! Spatial indexes in British National Grid metres: an R-tree of polygon
//! envelopes with exact point-in-polygon for "which ward is this point in",
//! and an R-tree of points for "nearest school/station" and radius queries.

use geo::coordinate_position::CoordPos;
use geo::{BoundingRect, Coord, CoordinatePosition, MultiPolygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::RTree;

/// Polygons (e.g. wards) indexed for point location. Coordinates in BNG metres.
pub struct AreaIndex {
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, u32>>,
    polygons: Vec<MultiPolygon<f64>>,
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
        }
    }

    pub fn len(&self) -> usize {
        self.tree.size()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.size() == 0
    }

    /// The nearest point and its distance in metres (None when empty).
    pub fn nearest(&self, easting_m: f64, northing_m: f64) -> Option<(u32, f64)> {
        self.tree
            .nearest_neighbor_iter_with_distance_2(&[easting_m, northing_m])
            .next()
            .map(|(p, d2)| (p.data, d2.sqrt()))
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
    fn nearest_and_within() {
        let idx = PointIndex::new(&[[0.0, 0.0], [100.0, 0.0], [0.0, 300.0]]);
        let (i, d) = idx.nearest(90.0, 0.0).unwrap();
        assert_eq!((i, d), (1, 10.0));
        let mut w: Vec<u32> = idx.within(0.0, 0.0, 100.0).collect();
        w.sort();
        assert_eq!(w, vec![0, 1], "a point at exactly the radius is within");
    }
}
