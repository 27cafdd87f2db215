//! The dataset's own collections (wards, boroughs, incidents, schools,
//! stations), built once at startup into compact [`Table`]s. The analysis
//! collections are in [`super::analyses`].

use crate::dataset::schema::{areas, incidents as inc, pois, tables};
use polars::prelude::*;

use super::table::{BngGeoms, Geoms, Ids, Table};
use crate::dataset::{polygons_from_wkb, Dataset, DatasetError};

/// A layer of the dataset itself, ready to page.
#[derive(Debug)]
pub struct StaticCollection {
    pub id: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub table: Table,
    /// The features' extent (CRS84), computed once: `/collections` reports it.
    pub extent: Option<[f64; 4]>,
}

impl StaticCollection {
    fn new(id: &'static str, title: &'static str, description: &'static str, table: Table) -> StaticCollection {
        StaticCollection {
            id,
            title,
            description,
            extent: table.extent(),
            table,
        }
    }
}

fn col_err(table: &str, e: impl std::fmt::Display) -> DatasetError {
    DatasetError::Column {
        path: format!("{table}.parquet"),
        column: String::new(),
        message: e.to_string(),
    }
}

fn ids(df: &DataFrame, column: &str, table: &str) -> Result<Ids, DatasetError> {
    let c = df.column(column).map_err(|e| col_err(table, e))?;
    if c.dtype().is_integer() {
        let v = c.cast(&DataType::UInt64).map_err(|e| col_err(table, e))?;
        Ok(Ids::Int(
            v.u64()
                .map_err(|e| col_err(table, e))?
                .iter()
                .map(|x| x.unwrap_or(u64::MAX))
                .collect(),
        ))
    } else {
        let v = c.cast(&DataType::String).map_err(|e| col_err(table, e))?;
        Ok(Ids::Str(
            v.str()
                .map_err(|e| col_err(table, e))?
                .iter()
                .map(|x| x.unwrap_or("").into())
                .collect(),
        ))
    }
}

/// The `x`, `y` columns as points (`lon`/`lat`, or `easting_m`/`northing_m`).
fn points(df: &DataFrame, table: &str, x: &str, y: &str) -> Result<Vec<[f64; 2]>, DatasetError> {
    let get = |name: &str| -> Result<Vec<f64>, DatasetError> {
        Ok(df
            .column(name)
            .and_then(|c| c.cast(&DataType::Float64))
            .map_err(|e| col_err(table, e))?
            .f64()
            .map_err(|e| col_err(table, e))?
            .iter()
            .map(|v| v.unwrap_or(f64::NAN))
            .collect())
    };
    Ok(get(x)?.into_iter().zip(get(y)?).map(|(x, y)| [x, y]).collect())
}

fn point_table(df: &DataFrame, table: &str, id: &str, skip: &[&str]) -> Result<Table, DatasetError> {
    if df.height() == 0 {
        return Ok(Table::new(
            Ids::Str(Vec::new().into()),
            Geoms::Points(Vec::new()),
            Vec::new(),
            None,
        ));
    }
    let columns = Table::frame_columns(df, skip).map_err(|e| col_err(table, e))?;
    Ok(Table::new(
        ids(df, id, table)?,
        Geoms::Points(points(df, table, pois::LON, pois::LAT)?),
        columns,
        None,
    )
    .with_bng(BngGeoms::Points(points(df, table, pois::EASTING_M, pois::NORTHING_M)?)))
}

fn area_table(ds: &Dataset, df: &DataFrame, table: &str, counts_by: &str) -> Result<Table, DatasetError> {
    let path = ds.dir.join(format!("{table}.parquet"));
    let polys = polygons_from_wkb(df, areas::GEOMETRY, &path)?;
    let geoms: Vec<geo::Geometry<f64>> = polys.into_iter().map(geo::Geometry::MultiPolygon).collect();
    let bng: Vec<geo::Geometry<f64>> = polygons_from_wkb(df, areas::GEOMETRY_BNG_WKB, &path)?
        .into_iter()
        .map(geo::Geometry::MultiPolygon)
        .collect();
    let columns =
        Table::frame_columns(df, &[areas::GEOMETRY_BNG_WKB, areas::GEOMETRY]).map_err(|e| col_err(table, e))?;
    let mut t = Table::new(
        ids(df, areas::CODE, table)?,
        Geoms::json(geoms.len(), |i| &geoms[i]),
        columns,
        None,
    )
    .with_bng(BngGeoms::json(bng.len(), |i| &bng[i]));
    // Recorded crimes (all months and types) per area: the choropleth's figure.
    let mut counts = rustc_hash::FxHashMap::<&str, f64>::default();
    if ds.incidents.height() > 0 {
        let codes = ds
            .incidents
            .column(counts_by)
            .and_then(|c| c.str())
            .map_err(|e| col_err("incidents", e))?;
        let kinds = ds
            .incidents
            .column(inc::KIND)
            .and_then(|c| c.str())
            .map_err(|e| col_err("incidents", e))?;
        for (c, k) in codes.iter().zip(kinds.iter()) {
            if let (Some(c), Some("crime")) = (c, k) {
                *counts.entry(c).or_default() += 1.0;
            }
        }
    }
    let values = match t.ids() {
        Ids::Str(v) => v.iter().map(|c| counts.get(&**c).copied().unwrap_or(0.0)).collect(),
        Ids::Int(v) => vec![0.0; v.len()],
    };
    t.push_number_column("incidents", values);
    Ok(t)
}

/// Builds the dataset's own collections.
pub fn static_collections(ds: &Dataset) -> Result<Vec<StaticCollection>, DatasetError> {
    let mut incidents = point_table(
        &ds.incidents,
        "incidents",
        "incident_id",
        &[
            inc::INCIDENT_ID,
            inc::LON,
            inc::LAT,
            inc::EASTING_M,
            inc::NORTHING_M,
            inc::MONTH_INDEX,
        ],
    )?;
    if ds.incidents.height() > 0 {
        let m = ds
            .incidents
            .column(inc::MONTH_INDEX)
            .and_then(|c| c.cast(&DataType::UInt32))
            .map_err(|e| col_err("incidents", e))?;
        incidents.months = Some(
            m.u32()
                .map_err(|e| col_err("incidents", e))?
                .iter()
                .map(|v| v.unwrap_or(0))
                .collect(),
        );
    }
    let poi_skip = [pois::LON, pois::LAT, pois::EASTING_M, pois::NORTHING_M];
    Ok(vec![
        StaticCollection::new(
            "wards",
            "Wards",
            "Ward boundaries with their borough and the number of recorded crimes (`incidents`, all months).",
            area_table(ds, &ds.wards, tables::WARDS, inc::WARD_CODE)?,
        ),
        StaticCollection::new(
            "boroughs",
            "Boroughs",
            "Borough boundaries with the number of recorded crimes (`incidents`, all months).",
            area_table(ds, &ds.boroughs, tables::BOROUGHS, inc::BOROUGH_CODE)?,
        ),
        StaticCollection::new(
            "incidents",
            "Incidents",
            "Every accepted incident as a point (police.uk locations are snapped to anonymised map points); filter by month with datetime and by any property (crime_type=Burglary).",
            incidents,
        ),
        StaticCollection::new(
            "schools",
            "Schools",
            "Schools (points of interest).",
            point_table(&ds.schools, tables::SCHOOLS, pois::POI_ID, &poi_skip)?,
        ),
        StaticCollection::new(
            "stations",
            "Stations",
            "Rail, Underground and DLR stations (points of interest).",
            point_table(&ds.stations, tables::STATIONS, pois::POI_ID, &poi_skip)?,
        ),
    ])
}
