//! The incidents as Hive-partitioned GeoParquet (`incidents/month=YYYY-MM/
//! part-0.parquet`), beside `incidents.parquet`, for engines built for
//! tables past one machine: DuckDB (`read_parquet('incidents/*/*.parquet',
//! hive_partitioning = true)`), Apache Sedona, BigQuery external tables.
//! Each part is GeoParquet 1.1 as the table is ([`super::geoparquet`]);
//! the month lives in the folder name, as Hive partitioning has it, not in
//! the part's columns.

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::*;

use super::schema::incidents as col;
use super::DatasetError;

/// The folder the partitions go in, inside the dataset.
pub const DIR: &str = "incidents";

/// Writes `incidents` (a written `incidents.parquet`) partitioned by month
/// under `dir`; returns the number of partitions.
pub fn write_by_month(incidents: &Path, dir: &Path) -> Result<usize, DatasetError> {
    let shown = incidents.display().to_string();
    let polars_err = |source: PolarsError| DatasetError::Polars {
        path: shown.clone(),
        source,
    };
    let df = super::read_parquet(incidents)?;
    let mut groups: BTreeMap<String, Vec<IdxSize>> = BTreeMap::new();
    let months = df
        .column(col::MONTH)
        .and_then(|c| c.str().cloned())
        .map_err(polars_err)?;
    for (i, m) in months.iter().enumerate() {
        let m = m.ok_or_else(|| DatasetError::Column {
            path: shown.clone(),
            column: col::MONTH.into(),
            message: format!("row {i}: no month"),
        })?;
        groups.entry(m.to_string()).or_default().push(i as IdxSize);
    }
    std::fs::create_dir_all(dir).map_err(|source| DatasetError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    for (month, rows) in &groups {
        let mut part = df
            .take(&IdxCa::from_vec("rows".into(), rows.clone()))
            .map_err(polars_err)?;
        part.drop_in_place(col::MONTH).map_err(polars_err)?;
        let folder = dir.join(format!("{}={month}", col::MONTH));
        std::fs::create_dir_all(&folder).map_err(|source| DatasetError::Io {
            path: folder.display().to_string(),
            source,
        })?;
        super::write::write_parquet(&folder.join("part-0.parquet"), &mut part)?;
    }
    Ok(groups.len())
}
