//! A collection's features in compact, query-ready form: ids, bounding
//! boxes (CRS84 degrees), geometry (points as lon/lat pairs, polygons as
//! pre-serialised RFC 7946 GeoJSON text, grid cells as rings over shared,
//! pre-serialised vertices), and properties held column by column (strings
//! dictionary-encoded). Pages are written straight into a byte buffer, so an
//! items page costs its features, not the collection.
//!
//! Ids and geometry (a [`Shape`]) sit behind an `Arc`: every analysis layer
//! on one grid shares them (see [`super::cache::ShapeCache`]).

//!
//! | file | owns |
//! |---|---|
//! | `geometry.rs` | ids and geometry storage ([`Ids`], [`Geoms`], [`Shape`]); bounding boxes and the exact `bbox` test |
//! | `columns.rs` | typed property columns: values, comparison, filters |
//! | `query.rs` | filtering, sorting and paging ([`Table::query`]) |
//! | `index.rs` | an R-tree of the features' boxes for `bbox` queries and tiles ([`Shape::rows_meeting`]) |
//! | `json.rs` | GeoJSON feature writing, straight into bytes |

mod columns;
mod geometry;
mod index;
mod json;
mod query;

use std::sync::Arc;

use polars::prelude::*;
use serde_json::Value;

pub use columns::{Column, ColumnData};
pub use geometry::{BngGeoms, Geoms, Ids, Rings, Shape};
pub use query::Page;

use crate::analysis::layer::Layer;

/// The features of one collection.
#[derive(Debug)]
pub struct Table {
    pub shape: Arc<Shape>,
    pub columns: Vec<Column>,
    /// Month number per feature (`year * 12 + month - 1`), for `datetime`.
    pub months: Option<Vec<u32>>,
}

impl Table {
    /// A table; builds the id lookup.
    pub fn new(ids: Ids, geoms: Geoms, columns: Vec<Column>, months: Option<Vec<u32>>) -> Table {
        Table {
            shape: Arc::new(Shape::new(ids, geoms)),
            columns,
            months,
        }
    }

    /// With the dataset's own BNG geometry for its features (a new table:
    /// its shape is not shared yet).
    pub fn with_bng(mut self, bng: BngGeoms) -> Table {
        match Arc::get_mut(&mut self.shape) {
            Some(shape) => shape.bng = Some(bng),
            None => unreachable!("with_bng on a table whose shape is shared"),
        }
        self
    }

    /// A table over a (shared) shape from a layer's property columns.
    pub fn from_columns(shape: Arc<Shape>, columns: crate::analysis::layer::Columns) -> Table {
        let columns = columns
            .into_iter()
            .map(|(name, values)| Column::from_values(name, values, &shape.ids))
            .collect();
        Table {
            shape,
            columns,
            months: None,
        }
    }

    /// Roughly the heap memory the table holds, its shape included (even
    /// when shared with other layers on the same grid).
    pub fn heap_bytes(&self) -> usize {
        self.shape.heap_bytes()
            + self.columns.iter().map(|c| c.heap_bytes()).sum::<usize>()
            + self.months.as_ref().map_or(0, |m| m.len() * 4)
    }

    /// The feature ids.
    pub fn ids(&self) -> &Ids {
        &self.shape.ids
    }

    /// How many features.
    pub fn len(&self) -> usize {
        self.shape.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The row of a feature id.
    pub fn find(&self, id: &str) -> Option<usize> {
        match &self.shape.ids {
            Ids::Str(_) => self.shape.lookup.get(id).map(|&i| i as usize),
            Ids::Int(v) => {
                let x: u64 = id.parse().ok()?;
                // Incident ids are ascending in the dataset; fall back to a scan if not.
                match v.binary_search(&x) {
                    Ok(i) => Some(i),
                    Err(_) => v.iter().position(|&y| y == x),
                }
            }
        }
    }

    /// The bounding box of all features (`None` when empty).
    pub fn extent(&self) -> Option<[f64; 4]> {
        (0..self.len())
            .map(|i| self.bbox(i))
            .reduce(|a, b| [a[0].min(b[0]), a[1].min(b[1]), a[2].max(b[2]), a[3].max(b[3])])
    }

    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// A table from an analysis layer: ids, geometry and properties as they are.
    pub fn from_layer(layer: &Layer) -> Table {
        let ids = Ids::Str(layer.features.iter().map(|f| f.id.as_str().into()).collect());
        let geoms = Geoms::json(layer.features.len(), |i| &layer.features[i].geometry);
        let mut names: Vec<&str> = Vec::new();
        for f in &layer.features {
            for k in f.properties.keys() {
                if !names.contains(&k.as_str()) {
                    names.push(k);
                }
            }
        }
        let columns = names
            .iter()
            .map(|&name| {
                let values = || layer.features.iter().map(move |f| f.properties.get(name));
                let all = |p: fn(&Value) -> bool| values().all(|v| v.is_none_or(|v| v.is_null() || p(v)));
                if all(Value::is_string) {
                    Column::strings(name, values().map(|v| v.and_then(Value::as_str)))
                } else if all(Value::is_number) {
                    Column::new(
                        name,
                        ColumnData::Num(
                            values()
                                .map(|v| v.and_then(Value::as_f64).unwrap_or(f64::NAN))
                                .collect(),
                        ),
                    )
                } else if all(Value::is_boolean) {
                    Column::new(
                        name,
                        ColumnData::Bool(values().map(|v| v.and_then(Value::as_bool)).collect()),
                    )
                } else {
                    Column::new(
                        name,
                        ColumnData::Json(values().map(|v| v.cloned().unwrap_or(Value::Null)).collect()),
                    )
                }
            })
            .collect();
        Table::new(ids, geoms, columns, None)
    }

    /// Property columns from a frame: strings, numbers and booleans, except `skip`.
    pub fn frame_columns(df: &DataFrame, skip: &[&str]) -> Result<Vec<Column>, PolarsError> {
        let mut out = Vec::new();
        for c in df.columns() {
            let name = c.name().as_str();
            if skip.contains(&name) {
                continue;
            }
            let dt = c.dtype();
            if dt == &DataType::String {
                out.push(Column::strings(name, c.str()?.iter()));
            } else if dt == &DataType::Boolean {
                out.push(Column::new(name, ColumnData::Bool(c.bool()?.iter().collect())));
            } else if dt.is_primitive_numeric() {
                let f = c.cast(&DataType::Float64)?;
                out.push(Column::new(
                    name,
                    ColumnData::Num(f.f64()?.iter().map(|v| v.unwrap_or(f64::NAN)).collect()),
                ));
            }
        }
        Ok(out)
    }

    /// Adds a numeric column.
    pub fn push_number_column(&mut self, name: &str, values: Vec<f64>) {
        self.columns.push(Column::new(name, ColumnData::Num(values)));
    }
}

#[cfg(test)]
mod tests {
    use super::json::{write_num, write_str};
    use super::*;
    use crate::analysis::grid::CellRings;
    use crate::analysis::layer::Feature;
    use geo::{polygon, Geometry};
    use serde_json::{json, Map};

    #[test]
    fn numbers_and_strings_are_written_as_serde_json_writes_them() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for _ in 0..200_000 {
            let v = rng.gen_range(-1.0..1.0) * 10f64.powi(rng.gen_range(-7..17));
            let mut out = Vec::new();
            write_num(&mut out, v);
            let want = if v.fract() == 0.0 && v.abs() < 1e15 {
                format!("{}", v as i64)
            } else {
                serde_json::to_string(&v).unwrap()
            };
            let got = String::from_utf8(out).unwrap();
            assert_eq!(got, want);
            assert_eq!(got.parse::<f64>().unwrap(), v, "round trip");
        }
        for s in [
            "plain",
            "",
            "a\"quote",
            "back\\slash",
            "tab\there",
            "line\nbreak",
            "caf\u{e9} \u{7f}",
        ] {
            let mut out = Vec::new();
            write_str(&mut out, s);
            assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(s).unwrap());
        }
    }

    fn layer() -> Layer {
        let sq = |x: f64| {
            Geometry::Polygon(
                polygon![(x: x, y: 51.0), (x: x + 0.01, y: 51.0), (x: x + 0.01, y: 51.01), (x: x, y: 51.01), (x: x, y: 51.0)],
            )
        };
        let props = |c: f64, n: &str| -> Map<String, Value> {
            serde_json::from_value(json!({"count": c, "name": n, "significant": c > 1.0})).unwrap()
        };
        Layer {
            name: "t".into(),
            features: vec![
                Feature {
                    id: "a".into(),
                    geometry: Geometry::Polygon(
                        polygon![(x: 0.0, y: 51.0), (x: 0.0, y: 51.01), (x: 0.01, y: 51.01), (x: 0.0, y: 51.0)],
                    ),
                    properties: props(3.0, "x"),
                },
                Feature {
                    id: "b".into(),
                    geometry: sq(0.1),
                    properties: props(1.0, "y"),
                },
                Feature {
                    id: "c".into(),
                    geometry: sq(0.2),
                    properties: props(2.5, "x"),
                },
            ],
            metadata: json!({}),
        }
    }

    #[test]
    fn bbox_on_grid_cells_tests_the_cell_outline() {
        // One diamond-shaped cell (lon/lat): its bounding box is [0, 0, 2, 2],
        // its outline stays away from the box's corners.
        let rings = CellRings {
            stride: 5,
            vertices: vec![
                geo::coord! { x: 1.0, y: 0.0 },
                geo::coord! { x: 2.0, y: 1.0 },
                geo::coord! { x: 1.0, y: 2.0 },
                geo::coord! { x: 0.0, y: 1.0 },
            ],
            rings: vec![0, 1, 2, 3, 0],
        };
        let ids = Ids::Str(vec!["c".into()].into());
        let t = Table::new(ids, Geoms::Rings(Rings::new(rings)), Vec::new(), None);
        let q = |s: &str| {
            let (q, _) = super::super::params::items(&super::super::params::pairs(Some(s)).unwrap(), &[]).unwrap();
            t.query(&q).map(|p| p.matched).unwrap()
        };
        assert_eq!(q("bbox=0,0,0.3,0.3"), 0, "inside the bounding box, outside the cell");
        assert_eq!(q("bbox=0.8,0.8,1.2,1.2"), 1, "inside the cell");
        assert_eq!(q("bbox=0.4,0.4,0.6,0.6"), 1, "on the outline");
    }

    #[test]
    fn bbox_queries_on_an_indexed_table_find_what_a_scan_finds() {
        // Enough points for the R-tree (a 200 x 150 lattice over London,
        // some on the query box's edges), a property to filter and sort on.
        let n = 200 * 150;
        assert!(n >= index::BoxIndex::MIN_FEATURES);
        let points: Vec<[f64; 2]> = (0..n)
            .map(|i| [-0.5 + (i % 200) as f64 * 0.005, 51.3 + (i / 200) as f64 * 0.0025])
            .collect();
        let ids = Ids::Int((0..n as u64).collect());
        let odd = Column::strings("parity", (0..n).map(|i| Some(if i % 2 == 1 { "odd" } else { "even" })));
        let t = Table::new(ids, Geoms::Points(points.clone()), vec![odd], None);
        let q = |s: &str| {
            let (q, _) = super::super::params::items(&super::super::params::pairs(Some(s)).unwrap(), &[]).unwrap();
            t.query(&q).unwrap()
        };
        let b = [-0.2, 51.4, -0.1, 51.45];
        let inside = |i: usize| {
            let p = points[i];
            b[0] <= p[0] && p[0] <= b[2] && b[1] <= p[1] && p[1] <= b[3]
        };
        let want: Vec<u32> = (0..n).filter(|&i| inside(i)).map(|i| i as u32).collect();
        assert!(want.len() > 100);
        let page = q("bbox=-0.2,51.4,-0.1,51.45&limit=10000");
        assert!(t.shape.index.get().is_some(), "the R-tree was used");
        assert_eq!(page.matched, want.len());
        assert_eq!(page.rows, want, "the same rows in the same order as a scan");
        let odd: Vec<u32> = want.iter().copied().filter(|i| i % 2 == 1).collect();
        let page = q("bbox=-0.2,51.4,-0.1,51.45&parity=odd&limit=10&offset=3");
        assert_eq!((page.matched, page.rows), (odd.len(), odd[3..13].to_vec()));
        // A tile's candidates: the same answer as the scan the tile did before.
        let (mut all, _) =
            super::super::params::items(&super::super::params::pairs(Some("parity=even")).unwrap(), &[]).unwrap();
        all.limit = usize::MAX;
        let near = t.shape.rows_meeting(b).unwrap();
        let scan: Vec<u32> = t
            .query(&all)
            .unwrap()
            .rows
            .into_iter()
            .filter(|&i| inside(i as usize))
            .collect();
        let indexed: Vec<u32> = t.query_among(&all, Some(near)).unwrap().rows;
        assert_eq!(indexed, scan);
    }

    #[test]
    fn queries_filter_sort_and_page() {
        let t = Table::from_layer(&layer());
        let q = |s: &str| {
            let (q, _) = super::super::params::items(&super::super::params::pairs(Some(s)).unwrap(), &[]).unwrap();
            t.query(&q).map(|p| (p.matched, p.rows))
        };
        assert_eq!(q("").unwrap(), (3, vec![0, 1, 2]));
        assert_eq!(q("limit=1&offset=1").unwrap(), (3, vec![1]));
        assert_eq!(q("sortby=-count").unwrap(), (3, vec![0, 2, 1]));
        assert_eq!(q("name=x&sortby=count").unwrap(), (2, vec![2, 0]));
        assert_eq!(q("significant=true").unwrap(), (2, vec![0, 2]));
        assert_eq!(q("bbox=0.05,50,0.5,52").unwrap(), (2, vec![1, 2]));
        // Feature "a" is a triangle: its bounding box holds the south-east
        // corner (0.01, 51.0), its outline does not come near it.
        assert_eq!(q("bbox=0.009,50.9,0.02,51.001").unwrap(), (0, vec![]));
        assert_eq!(q("bbox=0.0,50.9,0.0005,51.0005").unwrap(), (1, vec![0]));
        assert_eq!(
            q("bbox=0.005,51.0,0.006,51.0").unwrap().0,
            0,
            "a degenerate box away from the outline"
        );
        assert_eq!(q("offset=10").unwrap(), (3, vec![]));
        assert_eq!(q("nope=1").unwrap_err().parameter(), Some("nope"));
        assert_eq!(q("count=abc").unwrap_err().parameter(), Some("count"));
        assert_eq!(q("sortby=nope").unwrap_err().parameter(), Some("sortby"));
        assert_eq!(q("datetime=2020-01").unwrap_err().parameter(), Some("datetime"));
        assert_eq!(t.find("c"), Some(2));
        let mut out = Vec::new();
        t.write_feature(2, &t.chosen_columns(Some(&["count".into()])).unwrap(), &mut out);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["id"], "c");
        assert_eq!(v["properties"], json!({"count": 2.5}));
        assert_eq!(v["geometry"]["type"], "Polygon");
    }
}
