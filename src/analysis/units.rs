//! Units of analysis: grid cells (square, hexagon) or polygons (wards,
//! boroughs), behind one interface: how many, their ids, centres (BNG
//! metres), WGS84 geometry, and which unit an incident falls in.

use geo::{Centroid, Geometry, MultiPolygon};
use rustc_hash::FxHashMap;

use super::grid::Grid;
use super::weights::{Weights, WeightsSpec};
use super::AnalysisError;
use crate::dataset::Dataset;

/// Which units an analysis runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    Square,
    Hex,
    Ward,
    Borough,
    /// H3 cells (Uber's hexagonal index) at the request's resolution.
    H3,
}

crate::named_choices!(UnitKind {
    Square => "square",
    Hex => "hex",
    H3 => "h3",
    Ward => "ward",
    Borough => "borough",
});

impl UnitKind {
    /// The grid kind, for cell units.
    pub fn grid(self) -> Option<super::grid::GridKind> {
        match self {
            UnitKind::Square => Some(super::grid::GridKind::Square),
            UnitKind::Hex => Some(super::grid::GridKind::Hex),
            _ => None,
        }
    }
}

/// Polygon units from the dataset (wards or boroughs).
#[derive(Debug, Clone)]
pub struct AreaUnits {
    /// "ward" or "borough".
    pub level: String,
    pub codes: Vec<String>,
    pub names: Vec<String>,
    pub polygons_bng: Vec<MultiPolygon<f64>>,
    pub polygons_wgs84: Vec<MultiPolygon<f64>>,
    pub centres: Vec<[f64; 2]>,
    pub area_km2: Vec<f64>,
}

/// H3 cells whose centres lie in the study area.
#[derive(Debug, Clone)]
pub struct H3Units {
    pub resolution: h3o::Resolution,
    pub cells: Vec<h3o::CellIndex>,
    /// Cell centres in BNG metres.
    pub centres: Vec<[f64; 2]>,
    lookup: FxHashMap<h3o::CellIndex, u32>,
}

impl H3Units {
    /// The cells at `resolution` (0..=15) whose centres fall in the dataset's wards.
    pub fn new(ds: &Dataset, resolution: u8) -> Result<H3Units, AnalysisError> {
        let res = h3o::Resolution::try_from(resolution).map_err(|e| AnalysisError::Param {
            name: "h3_resolution".into(),
            message: e.to_string(),
        })?;
        // Sample the study area at a third of the cell edge, keep the distinct
        // cells hit, then those whose centre is inside a ward.
        let edge_m = res.edge_length_m();
        let step = (edge_m / 3.0).max(1.0);
        let polys = ds.ward_index.polygons();
        let grid = Grid::new(super::grid::GridKind::Square, step, polys);
        let mut seen: std::collections::BTreeSet<h3o::CellIndex> = std::collections::BTreeSet::new();
        for c in &grid.cells {
            if let Some((lon, lat)) = crate::crs::bng_to_lonlat(c.centre[0], c.centre[1]) {
                if let Ok(ll) = h3o::LatLng::new(lat, lon) {
                    seen.insert(ll.to_cell(res));
                }
            }
        }
        let mut cells = Vec::new();
        let mut centres = Vec::new();
        for cell in seen {
            let ll = h3o::LatLng::from(cell);
            if let Some((e, n)) = crate::crs::lonlat_to_bng(ll.lng(), ll.lat()) {
                if ds.ward_index.locate(e, n).is_some() {
                    cells.push(cell);
                    centres.push([e, n]);
                }
            }
        }
        let lookup = cells.iter().enumerate().map(|(i, c)| (*c, i as u32)).collect();
        Ok(H3Units {
            resolution: res,
            cells,
            centres,
            lookup,
        })
    }

    /// The unit holding a WGS84 point, if kept.
    pub fn unit_of(&self, lon: f64, lat: f64) -> Option<u32> {
        let cell = h3o::LatLng::new(lat, lon).ok()?.to_cell(self.resolution);
        self.lookup.get(&cell).copied()
    }

    /// k-ring weights: the cells within `k` steps (binary, self excluded).
    pub fn k_ring(&self, k: u32) -> Weights {
        let lists = self
            .cells
            .iter()
            .map(|c| {
                c.grid_disk::<Vec<_>>(k)
                    .into_iter()
                    .filter(|n| n != c)
                    .filter_map(|n| self.lookup.get(&n).copied())
                    .collect()
            })
            .collect();
        Weights::from_lists(WeightsSpec::KRing { k }, lists)
    }
}

/// The units an analysis runs on.
#[derive(Debug, Clone)]
pub enum Units {
    Grid(Grid),
    Areas(AreaUnits),
    H3(H3Units),
}

impl AreaUnits {
    /// Wards (`level = "ward"`) or boroughs (`"borough"`) of a dataset.
    pub fn from_dataset(ds: &Dataset, level: &str) -> Result<AreaUnits, AnalysisError> {
        let (df, file) = match level {
            "ward" => (&ds.wards, "wards.parquet"),
            "borough" => (&ds.boroughs, "boroughs.parquet"),
            other => {
                return Err(AnalysisError::Param {
                    name: "grid".into(),
                    message: format!("unknown polygon level {other:?}"),
                })
            }
        };
        if df.height() == 0 {
            return Err(AnalysisError::Data(format!("{file} is empty")));
        }
        let path = ds.dir.join(file);
        let bng = crate::dataset::polygons_from_wkb(df, crate::dataset::schema::areas::GEOMETRY_BNG_WKB, &path)
            .map_err(|e| AnalysisError::Data(e.to_string()))?;
        let wgs = crate::dataset::polygons_from_wkb(df, crate::dataset::schema::areas::GEOMETRY, &path)
            .map_err(|e| AnalysisError::Data(e.to_string()))?;
        let strs = |c: &str| -> Result<Vec<String>, AnalysisError> {
            Ok(df
                .column(c)
                .and_then(|c| c.str().cloned())
                .map_err(|e| AnalysisError::Data(format!("{file} `{c}`: {e}")))?
                .iter()
                .map(|v| v.unwrap_or("").to_string())
                .collect())
        };
        let area_km2 = df
            .column(crate::dataset::schema::areas::AREA_KM2)
            .and_then(|c| c.f64().cloned())
            .map_err(|e| AnalysisError::Data(format!("{file} `area_km2`: {e}")))?
            .iter()
            .map(|v| v.unwrap_or(f64::NAN))
            .collect();
        let centres = bng
            .iter()
            .map(|p| p.centroid().map(|c| [c.x(), c.y()]).unwrap_or([f64::NAN, f64::NAN]))
            .collect();
        Ok(AreaUnits {
            level: level.into(),
            codes: strs("code")?,
            names: strs("name")?,
            polygons_bng: bng,
            polygons_wgs84: wgs,
            centres,
            area_km2,
        })
    }

    /// Contiguity weights: polygons sharing a vertex (queen) or an edge
    /// (rook), from exactly shared coordinates (topologically clean
    /// boundaries such as the London Datastore's).
    pub fn contiguity(&self, queen: bool) -> Weights {
        let key = |c: geo::Coord<f64>| ((c.x * 1000.0).round() as i64, (c.y * 1000.0).round() as i64);
        // A vertex (queen) or an edge (rook, its two vertices in order), in mm.
        type Key = ((i64, i64), (i64, i64));
        let mut by_key: FxHashMap<Key, Vec<u32>> = FxHashMap::default();
        for (i, mp) in self.polygons_bng.iter().enumerate() {
            for poly in &mp.0 {
                for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                    if queen {
                        for c in &ring.0 {
                            by_key.entry((key(*c), (0, 0))).or_default().push(i as u32);
                        }
                    } else {
                        for seg in ring.lines() {
                            let (a, b) = (key(seg.start), key(seg.end));
                            by_key
                                .entry(if a < b { (a, b) } else { (b, a) })
                                .or_default()
                                .push(i as u32);
                        }
                    }
                }
            }
        }
        let mut lists: Vec<Vec<u32>> = vec![Vec::new(); self.codes.len()];
        for owners in by_key.values() {
            for &a in owners {
                for &b in owners {
                    if a != b {
                        lists[a as usize].push(b);
                    }
                }
            }
        }
        Weights::from_lists(WeightsSpec::Contiguity { queen }, lists)
    }
}

impl Units {
    pub fn len(&self) -> usize {
        match self {
            Units::Grid(g) => g.cells.len(),
            Units::Areas(a) => a.codes.len(),
            Units::H3(h) => h.cells.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stable id: cell id or GSS code.
    pub fn id(&self, i: usize) -> String {
        match self {
            Units::Grid(g) => g.id(i),
            Units::Areas(a) => a.codes[i].clone(),
            Units::H3(h) => h.cells[i].to_string(),
        }
    }

    /// Centre in BNG metres (cell centre, polygon centroid).
    pub fn centre(&self, i: usize) -> [f64; 2] {
        match self {
            Units::Grid(g) => g.cells[i].centre,
            Units::Areas(a) => a.centres[i],
            Units::H3(h) => h.centres[i],
        }
    }

    pub fn area_km2(&self, i: usize) -> f64 {
        match self {
            Units::Grid(g) => g.cell_area_km2(),
            Units::Areas(a) => a.area_km2[i],
            Units::H3(h) => h.cells[i].area_km2(),
        }
    }

    /// WGS84 geometry of unit `i`.
    pub fn geometry_wgs84(&self, i: usize) -> Geometry<f64> {
        match self {
            Units::Grid(g) => Geometry::Polygon(g.polygon_wgs84(i)),
            Units::Areas(a) => Geometry::MultiPolygon(a.polygons_wgs84[i].clone()),
            Units::H3(h) => {
                let mut ring: Vec<geo::Coord<f64>> = h.cells[i]
                    .boundary()
                    .iter()
                    .map(|ll| geo::Coord {
                        x: ll.lng(),
                        y: ll.lat(),
                    })
                    .collect();
                ring.push(ring[0]);
                Geometry::Polygon(geo::Polygon::new(geo::LineString(ring), vec![]))
            }
        }
    }

    /// The grid, when the units are grid cells.
    pub fn grid(&self) -> Option<&Grid> {
        match self {
            Units::Grid(g) => Some(g),
            Units::Areas(_) | Units::H3(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    fn sq(x: f64, y: f64) -> MultiPolygon<f64> {
        MultiPolygon(vec![
            polygon![(x: x, y: y), (x: x + 1.0, y: y), (x: x + 1.0, y: y + 1.0), (x: x, y: y + 1.0), (x: x, y: y)],
        ])
    }

    #[test]
    fn queen_and_rook_on_a_2x2_block() {
        // 0 1 / 2 3 (2 and 3 on the bottom row): 0 and 3 touch at a corner only.
        let polys = vec![sq(0.0, 1.0), sq(1.0, 1.0), sq(0.0, 0.0), sq(1.0, 0.0)];
        let units = AreaUnits {
            level: "ward".into(),
            codes: (0..4).map(|i| i.to_string()).collect(),
            names: vec![String::new(); 4],
            centres: vec![[0.0, 0.0]; 4],
            area_km2: vec![1e-6; 4],
            polygons_wgs84: polys.clone(),
            polygons_bng: polys,
        };
        let queen = units.contiguity(true);
        let rook = units.contiguity(false);
        assert_eq!(queen.row(0).map(|r| r.0).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(rook.row(0).map(|r| r.0).collect::<Vec<_>>(), vec![1, 2]);
    }
}
