//! GeoParquet 1.1 (<https://geoparquet.org/releases/v1.1.0/>): the `geo`
//! file metadata that lets GeoPandas, DuckDB, GDAL, QGIS, Sedona and
//! BigQuery see a table's geometry columns as geometries.
//!
//! Every table with geometry declares:
//! - `geometry`, the primary column: WKB in WGS84 longitude/latitude
//!   (`OGC:CRS84`, the GeoParquet default, also written out as PROJJSON);
//! - `geometry_bng_wkb`: the same shapes as WKB in British National Grid
//!   metres (EPSG:27700), the CRS every metric analysis works in;
//! - `bbox`, the covering column of `geometry`: a struct of `xmin`, `ymin`,
//!   `xmax`, `ymax` (degrees) per row, whose Parquet statistics let a reader
//!   skip row groups outside a query box.
//!
//! Each declared column carries its encoding, geometry types, CRS and the
//! table's bounding box. The PROJJSON documents in `projjson/` are pyproj
//! 3.7.2's (PROJ 9.5.1) `CRS.to_json_dict()` of `OGC:CRS84` and `EPSG:27700`.

use geo::BoundingRect;
use polars::prelude::*;
use polars_arrow::array::{Array, MutableBinaryViewArray, PrimitiveArray, StructArray};
use polars_arrow::datatypes::{ArrowDataType, Field as ArrowField};
use serde_json::{json, Value};

use super::schema::geometry as col;
use super::DatasetError;

/// The GeoParquet version written.
pub const VERSION: &str = "1.1.0";

/// The file metadata key GeoParquet readers look for.
pub const KEY: &str = "geo";

/// A geometry column's coordinate reference system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crs {
    /// WGS84 longitude, latitude in degrees (`OGC:CRS84`).
    Crs84,
    /// British National Grid easting, northing in metres (EPSG:27700).
    Bng,
}

impl Crs {
    /// The CRS as PROJJSON.
    pub fn projjson(self) -> Value {
        let text = match self {
            Crs::Crs84 => include_str!("projjson/ogc_crs84.json"),
            Crs::Bng => include_str!("projjson/epsg_27700.json"),
        };
        serde_json::from_str(text).expect("the bundled PROJJSON parses")
    }

    /// The CRS of a declared geometry column, by its name.
    pub fn of_column(name: &str) -> Option<Crs> {
        match name {
            col::GEOMETRY => Some(Crs::Crs84),
            col::GEOMETRY_BNG_WKB => Some(Crs::Bng),
            _ => None,
        }
    }
}

/// An axis-aligned box, in the units of its CRS; empty until a point is added.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    pub xmin: f64,
    pub ymin: f64,
    pub xmax: f64,
    pub ymax: f64,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            xmin: f64::INFINITY,
            ymin: f64::INFINITY,
            xmax: f64::NEG_INFINITY,
            ymax: f64::NEG_INFINITY,
        }
    }
}

impl Bounds {
    /// The box of one point.
    pub fn point(x: f64, y: f64) -> Bounds {
        Bounds {
            xmin: x,
            ymin: y,
            xmax: x,
            ymax: y,
        }
    }

    /// Grows the box to hold `other`.
    pub fn add(&mut self, other: Bounds) {
        self.xmin = self.xmin.min(other.xmin);
        self.ymin = self.ymin.min(other.ymin);
        self.xmax = self.xmax.max(other.xmax);
        self.ymax = self.ymax.max(other.ymax);
    }

    pub fn is_empty(&self) -> bool {
        !(self.xmin <= self.xmax && self.ymin <= self.ymax)
    }

    /// `[xmin, ymin, xmax, ymax]`, or `None` when empty.
    pub fn to_array(self) -> Option<[f64; 4]> {
        (!self.is_empty()).then_some([self.xmin, self.ymin, self.xmax, self.ymax])
    }
}

/// What the metadata says of one geometry column.
#[derive(Debug, Clone)]
pub struct GeoColumn {
    pub name: String,
    pub crs: Crs,
    /// GeoParquet geometry type names (`Point`, `MultiPolygon`, …), sorted.
    pub geometry_types: Vec<String>,
    pub bounds: Bounds,
    /// Whether the `bbox` struct column covers this column.
    pub covered: bool,
}

/// The `geo` metadata document of a table whose geometry columns are
/// `columns` (the first is the primary column).
pub fn metadata(columns: &[GeoColumn]) -> Value {
    let mut out = serde_json::Map::new();
    for c in columns {
        let mut m = serde_json::Map::new();
        m.insert("encoding".into(), "WKB".into());
        m.insert("geometry_types".into(), json!(c.geometry_types));
        m.insert("crs".into(), c.crs.projjson());
        m.insert("edges".into(), "planar".into());
        if let Some(b) = c.bounds.to_array() {
            m.insert("bbox".into(), json!(b));
        }
        if c.covered {
            m.insert(
                "covering".into(),
                json!({"bbox": {
                    "xmin": [col::BBOX, "xmin"],
                    "ymin": [col::BBOX, "ymin"],
                    "xmax": [col::BBOX, "xmax"],
                    "ymax": [col::BBOX, "ymax"],
                }}),
            );
        }
        out.insert(c.name.clone(), Value::Object(m));
    }
    json!({
        "version": VERSION,
        "primary_column": columns.first().map(|c| c.name.as_str()).unwrap_or(col::GEOMETRY),
        "columns": out,
    })
}

/// The key-value metadata of a table's Parquet footer: the Arrow schema in
/// Arrow's classic types, and the `geo` document when the table has
/// geometry columns.
///
/// polars would write the Arrow schema with its own view types
/// (`string_view`, `binary_view`), which pyarrow 26 reads but cannot filter
/// (GeoPandas' `read_parquet(bbox=…)` failed with "Function 'array_filter'
/// has no kernel matching input types (string_view, bool)"). The columns'
/// Parquet bytes are the same either way.
pub fn footer(schema: &Schema, geo: Option<&[GeoColumn]>) -> polars::io::parquet::write::KeyValueMetadata {
    let arrow = polars_parquet::write::schema_to_metadata_key(&schema.to_arrow(CompatLevel::oldest()));
    let mut kv = vec![arrow];
    if let Some(columns) = geo {
        kv.push(polars_parquet::write::KeyValue {
            key: KEY.to_string(),
            value: Some(metadata(columns).to_string()),
        });
    }
    polars::io::parquet::write::KeyValueMetadata::Static(kv)
}

/// A (multi)polygon as little-endian ISO WKB.
pub fn multipolygon_wkb(g: &geo::MultiPolygon<f64>) -> Vec<u8> {
    let mut buf = Vec::new();
    wkb::writer::write_geometry(
        &mut buf,
        g,
        &wkb::writer::WriteOptions {
            endianness: wkb::Endianness::LittleEndian,
        },
    )
    .expect("writing WKB to a Vec cannot fail");
    buf
}

/// A point as little-endian ISO WKB (21 bytes).
pub fn point_wkb(x: f64, y: f64) -> [u8; 21] {
    let mut b = [0u8; 21];
    b[0] = 1;
    b[1..5].copy_from_slice(&1u32.to_le_bytes());
    b[5..13].copy_from_slice(&x.to_le_bytes());
    b[13..21].copy_from_slice(&y.to_le_bytes());
    b
}

/// A WKB point column (Arrow `BinaryView`) from coordinates.
pub fn point_wkb_array(xy: impl Iterator<Item = (f64, f64)>, len: usize) -> Box<dyn Array> {
    let mut a = MutableBinaryViewArray::<[u8]>::with_capacity(len);
    for (x, y) in xy {
        a.push_value(point_wkb(x, y));
    }
    a.freeze().boxed()
}

/// The Arrow type of the `bbox` covering column.
pub fn bbox_arrow_type() -> ArrowDataType {
    ArrowDataType::Struct(
        ["xmin", "ymin", "xmax", "ymax"]
            .into_iter()
            .map(|n| ArrowField::new(n.into(), ArrowDataType::Float64, false))
            .collect(),
    )
}

/// The polars type of the `bbox` covering column.
pub fn bbox_dtype() -> DataType {
    DataType::Struct(
        ["xmin", "ymin", "xmax", "ymax"]
            .into_iter()
            .map(|n| Field::new(n.into(), DataType::Float64))
            .collect(),
    )
}

/// The `bbox` covering column of points (each box is its point), as Arrow.
pub fn point_bbox_array(x: Vec<f64>, y: Vec<f64>) -> Box<dyn Array> {
    let len = x.len();
    let x = PrimitiveArray::from_vec(x);
    let y = PrimitiveArray::from_vec(y);
    // The min and max of a point's box share the point's buffer.
    let values: Vec<Box<dyn Array>> = vec![x.clone().boxed(), y.clone().boxed(), x.boxed(), y.boxed()];
    StructArray::new(bbox_arrow_type(), len, values, None).boxed()
}

/// The `bbox` covering column of the given boxes, as a polars column.
fn bbox_column(boxes: &[Bounds]) -> PolarsResult<Column> {
    let part = |name: &str, f: fn(&Bounds) -> f64| Series::new(name.into(), boxes.iter().map(f).collect::<Vec<_>>());
    let fields = [
        part("xmin", |b| b.xmin),
        part("ymin", |b| b.ymin),
        part("xmax", |b| b.xmax),
        part("ymax", |b| b.ymax),
    ];
    Ok(StructChunked::from_series(col::BBOX.into(), boxes.len(), fields.iter())?.into_column())
}

/// The GeoParquet type name of a geometry.
fn type_name(g: &geo::Geometry<f64>) -> &'static str {
    match g {
        geo::Geometry::Point(_) => "Point",
        geo::Geometry::Line(_) | geo::Geometry::LineString(_) => "LineString",
        geo::Geometry::Polygon(_) | geo::Geometry::Rect(_) | geo::Geometry::Triangle(_) => "Polygon",
        geo::Geometry::MultiPoint(_) => "MultiPoint",
        geo::Geometry::MultiLineString(_) => "MultiLineString",
        geo::Geometry::MultiPolygon(_) => "MultiPolygon",
        geo::Geometry::GeometryCollection(_) => "GeometryCollection",
    }
}

/// Reads a WKB column: per row its box, and the column's types and box.
fn describe(df: &DataFrame, name: &str, path: &str) -> Result<(Vec<Bounds>, GeoColumn), DatasetError> {
    use geo_traits::to_geo::ToGeoGeometry;
    let err = |message: String| DatasetError::Column {
        path: path.to_string(),
        column: name.to_string(),
        message,
    };
    let bin = df
        .column(name)
        .and_then(|c| c.binary().cloned())
        .map_err(|e| err(e.to_string()))?;
    let mut boxes = Vec::with_capacity(bin.len());
    let mut types = std::collections::BTreeSet::new();
    let mut all = Bounds::default();
    for (row, v) in bin.iter().enumerate() {
        let bytes = v.ok_or_else(|| err(format!("row {row}: null geometry")))?;
        let g = wkb::reader::read_wkb(bytes)
            .map_err(|e| err(format!("row {row}: {e}")))?
            .to_geometry();
        types.insert(type_name(&g).to_string());
        let b = g.bounding_rect().map_or_else(Bounds::default, |r| Bounds {
            xmin: r.min().x,
            ymin: r.min().y,
            xmax: r.max().x,
            ymax: r.max().y,
        });
        all.add(b);
        boxes.push(b);
    }
    let crs = Crs::of_column(name).expect("describe is called on declared columns");
    Ok((
        boxes,
        GeoColumn {
            name: name.to_string(),
            crs,
            geometry_types: types.into_iter().collect(),
            bounds: all,
            covered: name == col::GEOMETRY,
        },
    ))
}

/// Prepares a frame for writing as GeoParquet: if it has the geometry
/// columns (`geometry`, and `geometry_bng_wkb` if present), appends the
/// `bbox` covering column (replacing an old one) and returns the `geo`
/// metadata. A frame without `geometry` is left as it is (`None`).
pub fn prepare(df: &mut DataFrame, path: &str) -> Result<Option<Vec<GeoColumn>>, DatasetError> {
    if df.column(col::GEOMETRY).is_err() {
        return Ok(None);
    }
    let (boxes, primary) = describe(df, col::GEOMETRY, path)?;
    let mut columns = vec![primary];
    if df.column(col::GEOMETRY_BNG_WKB).is_ok() {
        columns.push(describe(df, col::GEOMETRY_BNG_WKB, path)?.1);
    }
    let bbox = bbox_column(&boxes).map_err(|source| DatasetError::Polars {
        path: path.to_string(),
        source,
    })?;
    let _ = df.drop_in_place(col::BBOX);
    df.with_column(bbox).map_err(|source| DatasetError::Polars {
        path: path.to_string(),
        source,
    })?;
    Ok(Some(columns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_is_21_bytes_of_iso_wkb_that_reads_back() {
        use geo_traits::to_geo::ToGeoGeometry;
        let b = point_wkb(-0.1276, 51.5072);
        let g = wkb::reader::read_wkb(&b).unwrap().to_geometry();
        assert_eq!(g, geo::Geometry::Point(geo::Point::new(-0.1276, 51.5072)));
    }

    #[test]
    fn prepare_adds_a_covering_bbox_and_declares_both_crs() {
        let sq = |x: f64, y: f64, d: f64| {
            let p = geo::Polygon::new(
                geo::LineString::from(vec![(x, y), (x + d, y), (x + d, y + d), (x, y + d), (x, y)]),
                vec![],
            );
            multipolygon_wkb(&geo::MultiPolygon(vec![p]))
        };
        let wgs = [sq(-0.2, 51.4, 0.1), sq(-0.1, 51.5, 0.05)];
        let bng = [sq(520_000.0, 170_000.0, 1000.0), sq(530_000.0, 180_000.0, 500.0)];
        let mut df = DataFrame::new(
            2,
            vec![
                Column::new("code".into(), ["a", "b"]),
                Column::new(
                    col::GEOMETRY_BNG_WKB.into(),
                    bng.iter().map(|b| b.as_slice()).collect::<Vec<_>>(),
                ),
                Column::new(
                    col::GEOMETRY.into(),
                    wgs.iter().map(|b| b.as_slice()).collect::<Vec<_>>(),
                ),
            ],
        )
        .unwrap();
        let cols = prepare(&mut df, "t.parquet").unwrap().unwrap();
        let m = metadata(&cols);
        assert_eq!(m["version"], "1.1.0");
        assert_eq!(m["primary_column"], "geometry");
        let g = &m["columns"]["geometry"];
        assert_eq!(g["encoding"], "WKB");
        assert_eq!(g["geometry_types"], json!(["MultiPolygon"]));
        assert_eq!(g["crs"]["id"]["authority"], "OGC");
        assert_eq!(g["crs"]["id"]["code"], "CRS84");
        let bb: Vec<f64> = serde_json::from_value(g["bbox"].clone()).unwrap();
        let want = [-0.2, 51.4, -0.05, 51.55];
        for (a, b) in bb.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{bb:?}");
        }
        assert_eq!(g["covering"]["bbox"]["xmax"], json!(["bbox", "xmax"]));
        let b = &m["columns"]["geometry_bng_wkb"];
        assert_eq!(b["crs"]["id"]["code"], 27700);
        assert_eq!(b["bbox"], json!([520000.0, 170000.0, 530500.0, 180500.0]));
        assert!(b.get("covering").is_none());
        // The covering column: row 1's box.
        let s = df.column(col::BBOX).unwrap().struct_().unwrap().clone();
        let fields = s.fields_as_series();
        let xmax: Vec<f64> = fields[2].f64().unwrap().into_no_null_iter().collect();
        assert!((xmax[1] - -0.05).abs() < 1e-12);
    }

    #[test]
    fn a_frame_without_geometry_is_not_geoparquet() {
        let mut df = DataFrame::new(1, vec![Column::new("x".into(), [1.0])]).unwrap();
        assert!(prepare(&mut df, "t").unwrap().is_none());
        assert_eq!(df.width(), 1);
    }

    #[test]
    fn an_empty_box_is_left_out() {
        assert_eq!(Bounds::default().to_array(), None);
        let mut b = Bounds::point(1.0, 2.0);
        b.add(Bounds::point(-1.0, 3.0));
        assert_eq!(b.to_array(), Some([-1.0, 2.0, 1.0, 3.0]));
    }
}
