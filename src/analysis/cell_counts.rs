//! Per-cell counts computed elsewhere (DuckDB, Sedona, BigQuery over a
//! national incident table), read for `hotspots gistar --counts`: the
//! statistics then run on the per-cell table alone.
//!
//! The file is Parquet with a text column `cell_id` and a numeric column
//! `count`. Square cells' ids are `sq{cell}-{col}-{row}` with
//! `col = floor(easting_m / cell)` and `row = floor(northing_m / cell)`
//! (British National Grid metres; [`super::grid::Grid::id`]): in SQL,
//! `'sq250-' || floor(easting_m / 250)::BIGINT || '-' || floor(northing_m / 250)::BIGINT`.
//! A cell of the grid missing from the file has no incidents; an id the
//! grid does not have (outside the study area, or another cell size) is an
//! error naming the file, row and id.

use std::path::Path;

use super::grid::Grid;
use super::{param, AnalysisError};

/// The counts per cell of `grid`, in its cell order, from `path`.
pub fn read(path: &Path, grid: &Grid) -> Result<Vec<f64>, AnalysisError> {
    let shown = path.display().to_string();
    let err = |message: String| param("counts", format!("{shown}: {message}"));
    let df = crate::dataset::read_parquet(path).map_err(|e| err(e.to_string()))?;
    let ids = df
        .column("cell_id")
        .map_err(|_| err("no column `cell_id` (text: sq{cell}-{col}-{row})".into()))?
        .str()
        .map_err(|_| err("column `cell_id` is not text".into()))?
        .clone();
    let counts = df
        .column("count")
        .map_err(|_| err("no column `count`".into()))?
        .cast(&polars::prelude::DataType::Float64)
        .map_err(|_| err("column `count` is not a number".into()))?;
    let counts = counts.f64().map_err(|_| err("column `count` is not a number".into()))?;
    let index: rustc_hash::FxHashMap<String, usize> =
        grid.ids().into_iter().enumerate().map(|(i, id)| (id, i)).collect();
    let mut out = vec![0.0; grid.cells.len()];
    for (row, (id, n)) in ids.iter().zip(counts.iter()).enumerate() {
        let id = id.ok_or_else(|| err(format!("row {row}: `cell_id` is empty")))?;
        let n = n.ok_or_else(|| err(format!("row {row} ({id}): `count` is empty")))?;
        if !(n.is_finite() && n >= 0.0) {
            return Err(err(format!("row {row} ({id}): count {n} is not a count")));
        }
        let &i = index.get(id).ok_or_else(|| {
            err(format!(
                "row {row}: cell {id:?} is not a cell of this grid ({} cells of {} m over the study area; ids look like {:?})",
                grid.cells.len(),
                grid.cell_m,
                grid.ids().first().cloned().unwrap_or_default()
            ))
        })?;
        if out[i] != 0.0 {
            return Err(err(format!("row {row}: cell {id:?} appears twice")));
        }
        out[i] = n;
    }
    Ok(out)
}
