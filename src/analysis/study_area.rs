//! The study area (the union of the wards) as a fine raster mask in BNG
//! metres, for areas that polygons make slow: how much of a buffer around a
//! school lies inside London, and the area of the union of many buffers.
//!
//! A cell of side `cell_m` counts as inside when its centre is inside a
//! ward (scanline fill, as the analysis grids). Areas are therefore
//! measured to within about one cell along each boundary; a circle wholly
//! inside the study area gets its exact area π r².

use geo::{BoundingRect, MultiPolygon};

use super::grid::row_intervals;

/// A raster of the study area.
#[derive(Debug, Clone)]
pub struct StudyMask {
    /// South-west corner of cell (0, 0), BNG metres.
    pub origin: [f64; 2],
    pub cell_m: f64,
    pub cols: usize,
    pub rows: usize,
    inside: Vec<bool>,
    inside_cells: usize,
}

impl StudyMask {
    /// Rasterises `areas` (BNG polygons) at `cell_m` metres.
    pub fn new(areas: &[MultiPolygon<f64>], cell_m: f64) -> StudyMask {
        let bbox = areas.iter().filter_map(|a| a.bounding_rect()).reduce(|a, b| {
            geo::Rect::new(
                geo::Coord {
                    x: a.min().x.min(b.min().x),
                    y: a.min().y.min(b.min().y),
                },
                geo::Coord {
                    x: a.max().x.max(b.max().x),
                    y: a.max().y.max(b.max().y),
                },
            )
        });
        let Some(bbox) = bbox else {
            return StudyMask {
                origin: [0.0, 0.0],
                cell_m,
                cols: 0,
                rows: 0,
                inside: Vec::new(),
                inside_cells: 0,
            };
        };
        let origin = [
            (bbox.min().x / cell_m).floor() * cell_m,
            (bbox.min().y / cell_m).floor() * cell_m,
        ];
        let cols = ((bbox.max().x - origin[0]) / cell_m).ceil() as usize + 1;
        let rows = ((bbox.max().y - origin[1]) / cell_m).ceil() as usize + 1;
        let mut inside = vec![false; cols * rows];
        let intervals = row_intervals(areas, origin[1] + 0.5 * cell_m, cell_m, rows);
        for (row, ivs) in intervals.iter().enumerate() {
            for &(x0, x1) in ivs {
                // Columns whose centres lie in [x0, x1).
                let c0 = ((x0 - origin[0]) / cell_m - 0.5).ceil().max(0.0) as usize;
                let c1 = (((x1 - origin[0]) / cell_m - 0.5).ceil() as i64 - 1).min(cols as i64 - 1);
                if c1 < c0 as i64 {
                    continue;
                }
                inside[row * cols + c0..=row * cols + c1 as usize].fill(true);
            }
        }
        let inside_cells = inside.iter().filter(|v| **v).count();
        StudyMask {
            origin,
            cell_m,
            cols,
            rows,
            inside,
            inside_cells,
        }
    }

    /// The study area in m² (inside cells × cell area).
    pub fn area_m2(&self) -> f64 {
        self.inside_cells as f64 * self.cell_m * self.cell_m
    }

    /// Whether the cell containing the point (BNG metres) is inside.
    pub fn contains(&self, easting_m: f64, northing_m: f64) -> bool {
        self.index_of(easting_m, northing_m).is_some_and(|i| self.inside[i])
    }

    fn index_of(&self, x: f64, y: f64) -> Option<usize> {
        let c = ((x - self.origin[0]) / self.cell_m).floor();
        let r = ((y - self.origin[1]) / self.cell_m).floor();
        if c < 0.0 || r < 0.0 || c >= self.cols as f64 || r >= self.rows as f64 {
            return None;
        }
        Some(r as usize * self.cols + c as usize)
    }

    /// Calls `f(cell index, inside)` for every cell whose centre is within
    /// `radius_m` of the point.
    fn for_each_in_circle(&self, x: f64, y: f64, radius_m: f64, mut f: impl FnMut(usize, bool)) {
        let r2 = radius_m * radius_m;
        let cell = self.cell_m;
        let row_lo = ((y - radius_m - self.origin[1]) / cell - 0.5).ceil() as i64;
        let row_hi = ((y + radius_m - self.origin[1]) / cell - 0.5).floor() as i64;
        for row in row_lo..=row_hi {
            let cy = self.origin[1] + (row as f64 + 0.5) * cell;
            let dy2 = (cy - y) * (cy - y);
            if dy2 > r2 {
                continue;
            }
            let half = (r2 - dy2).sqrt();
            let col_lo = ((x - half - self.origin[0]) / cell - 0.5).ceil() as i64;
            let col_hi = ((x + half - self.origin[0]) / cell - 0.5).floor() as i64;
            for col in col_lo..=col_hi {
                let index = (row >= 0 && col >= 0 && (row as usize) < self.rows && (col as usize) < self.cols)
                    .then(|| row as usize * self.cols + col as usize);
                let inside = index.is_some_and(|i| self.inside[i]);
                f(index.unwrap_or(usize::MAX), inside);
            }
        }
    }

    /// The part of the circle inside the study area, in m²: π r² times the
    /// share of the circle's raster cells that are inside (exactly π r²
    /// when every cell is inside).
    pub fn circle_area_inside_m2(&self, easting_m: f64, northing_m: f64, radius_m: f64) -> f64 {
        let (mut total, mut inside) = (0usize, 0usize);
        self.for_each_in_circle(easting_m, northing_m, radius_m, |_, i| {
            total += 1;
            inside += i as usize;
        });
        let full = std::f64::consts::PI * radius_m * radius_m;
        if total == 0 {
            // A circle smaller than a cell: inside if its centre's cell is.
            return if self.contains(easting_m, northing_m) {
                full
            } else {
                0.0
            };
        }
        if inside == total {
            full
        } else {
            full * inside as f64 / total as f64
        }
    }

    /// Area (m²) inside the study area of the union of circles of `radius_m`
    /// around `centres`.
    pub fn union_of_circles_m2(&self, centres: &[[f64; 2]], radius_m: f64) -> f64 {
        let mut covered = vec![false; self.inside.len()];
        let mut n = 0usize;
        for c in centres {
            self.for_each_in_circle(c[0], c[1], radius_m, |i, inside| {
                if inside && !covered[i] {
                    covered[i] = true;
                    n += 1;
                }
            });
        }
        n as f64 * self.cell_m * self.cell_m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    fn square(x0: f64, y0: f64, s: f64) -> MultiPolygon<f64> {
        MultiPolygon(vec![polygon![
            (x: x0, y: y0), (x: x0 + s, y: y0), (x: x0 + s, y: y0 + s), (x: x0, y: y0 + s), (x: x0, y: y0)
        ]])
    }

    #[test]
    fn area_of_a_square_study_area_is_exact_on_cell_boundaries() {
        let m = StudyMask::new(&[square(1000.0, 2000.0, 3000.0)], 10.0);
        assert!((m.area_m2() - 9e6).abs() < 1e-6, "{}", m.area_m2());
        assert!(m.contains(1005.0, 2005.0));
        assert!(!m.contains(995.0, 2005.0));
    }

    #[test]
    fn circle_inside_is_pi_r_squared_and_half_outside_is_about_half() {
        let m = StudyMask::new(&[square(0.0, 0.0, 10_000.0)], 10.0);
        let full = std::f64::consts::PI * 400.0 * 400.0;
        assert_eq!(m.circle_area_inside_m2(5000.0, 5000.0, 400.0), full);
        // Centred on the west edge: half the circle is inside (±2% at 10 m cells).
        let half = m.circle_area_inside_m2(0.0, 5000.0, 400.0);
        assert!((half / (full / 2.0) - 1.0).abs() < 0.02, "{half}");
        // Centred on a corner: a quarter.
        let quarter = m.circle_area_inside_m2(0.0, 0.0, 400.0);
        assert!((quarter / (full / 4.0) - 1.0).abs() < 0.03, "{quarter}");
    }

    #[test]
    fn union_counts_overlap_once() {
        let m = StudyMask::new(&[square(0.0, 0.0, 10_000.0)], 5.0);
        let one = m.union_of_circles_m2(&[[5000.0, 5000.0]], 200.0);
        let same_twice = m.union_of_circles_m2(&[[5000.0, 5000.0], [5000.0, 5000.0]], 200.0);
        let apart = m.union_of_circles_m2(&[[3000.0, 5000.0], [7000.0, 5000.0]], 200.0);
        assert_eq!(one, same_twice);
        assert_eq!(apart, 2.0 * one);
        let pi_r2 = std::f64::consts::PI * 200.0 * 200.0;
        assert!((one / pi_r2 - 1.0).abs() < 0.01, "{one} vs {pi_r2}");
    }
}
