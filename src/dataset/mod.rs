//! The on-disk dataset: a directory of Parquet tables and `manifest.json`.
//!
//! | file | rows |
//! |---|---|
//! | `incidents.parquet` | accepted incidents, with BNG and WGS84 coordinates, ward, borough, nearest school and station |
//! | `rejects.parquet` | every row that could not be used: file, line, reason, detail, raw row |
//! | `files.parquet` | the file table `file_id` columns point into |
//! | `wards.parquet`, `boroughs.parquet` | areas: polygons as WKB in WGS84 (`geometry`) and BNG (`geometry_bng_wkb`) |
//! | `schools.parquet`, `stations.parquet`, `pois_<kind>.parquet` | points of interest, with the same two geometry columns |
//!
//! Every table with geometry is GeoParquet 1.1 ([`geoparquet`]): `geometry`
//! (WGS84) is the primary column, `geometry_bng_wkb` (EPSG:27700) a second
//! declared one, `bbox` the covering column; the incidents carry their point
//! the same way after their attribute columns.
//! | (in memory) | [`columns::IncidentColumns`]: incidents as typed vectors for fast selection |
//! | `manifest.json` | schema version, CRS, sources with sha256 and counts, build time |
//! | `cache/index.json` | the ingest's: where each source file's rows went, by sha256, so a re-ingest skips unchanged files ([`crate::ingest::cache`]) |
//!
//! Column names and reject reasons: [`schema`]. Written atomically
//! ([`write::write_atomic`]) by one writer at a time ([`lock`]); read with
//! [`Dataset::open`]. This module imports nothing from ingest, analysis or
//! the API: they build on it.

pub mod columns;
pub mod geoparquet;
pub mod lock;
pub mod manifest;
pub mod partition;
pub mod row_group;
pub mod schema;
pub mod write;

use std::path::{Path, PathBuf};

use geo::MultiPolygon;
use polars::prelude::*;

use crate::index::{AreaIndex, PointIndex};
use manifest::Manifest;

/// Errors reading or writing a dataset.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: {source}")]
    Polars { path: String, source: PolarsError },
    #[error("{path}: not a hotspots dataset (no manifest.json); create one with `hotspots ingest`")]
    NotADataset { path: String },
    #[error("{path} {what}: it is not a hotspots dataset, so it will not be replaced (its contents would be deleted); give --out a new path or an empty directory, or move it away first")]
    WouldReplace { path: String, what: String },
    #[error("{path}: bad manifest: {message}")]
    Manifest { path: String, message: String },
    #[error("{path}: column `{column}`: {message}")]
    Column {
        path: String,
        column: String,
        message: String,
    },
    #[error("simulated failure for tests: {0}")]
    Injected(String),
}

/// A table that writes itself as Parquet, for tables too large to build as
/// one frame (the incidents are written row group by row group).
pub trait TableWriter: Send + Sync {
    fn write_parquet(&self, path: &Path) -> Result<(), DatasetError>;

    /// The whole table as one frame built by polars alone: what
    /// [`TableWriter::write_parquet`] must write, for tests of writers that
    /// take a faster path.
    #[cfg(test)]
    fn reference_frame(&self) -> PolarsResult<DataFrame>;
}

impl TableWriter for DataFrame {
    fn write_parquet(&self, path: &Path) -> Result<(), DatasetError> {
        write::write_parquet(path, &mut self.clone())
    }

    #[cfg(test)]
    fn reference_frame(&self) -> PolarsResult<DataFrame> {
        Ok(self.clone())
    }
}

/// All tables of a dataset, ready to write.
pub struct Tables {
    pub incidents: Box<dyn TableWriter>,
    pub rejects: DataFrame,
    pub files: DataFrame,
    pub wards: DataFrame,
    pub boroughs: DataFrame,
    /// (table name, frame): `schools`, `stations`, `pois_<kind>`.
    pub pois: Vec<(String, DataFrame)>,
    pub manifest: Manifest,
    /// Also write the incidents Hive-partitioned by month ([`partition`]).
    pub partition_by_month: bool,
}

/// An opened dataset: its frames and the spatial indexes over them.
pub struct Dataset {
    pub dir: PathBuf,
    pub manifest: Manifest,
    /// Every column of `incidents.parquet`. Analyses read [`Dataset::columns`]
    /// instead; the HTTP server keeps only the schema once its own tables are
    /// built ([`Dataset::release_incident_rows`]).
    pub incidents: DataFrame,
    pub wards: DataFrame,
    pub boroughs: DataFrame,
    pub schools: DataFrame,
    pub stations: DataFrame,
    /// Ward polygons in BNG metres, in `wards` row order.
    pub ward_index: AreaIndex,
    /// Schools and stations in BNG metres, in their frames' row order.
    pub school_index: PointIndex,
    pub station_index: PointIndex,
    /// The incidents as typed vectors, for fast selection.
    pub columns: columns::IncidentColumns,
}

/// Reads a whole Parquet table of a dataset.
pub fn read_parquet(path: &Path) -> Result<DataFrame, DatasetError> {
    read_parquet_columns(path, None)
}

/// Reads a Parquet table, only `columns` when given.
fn read_parquet_columns(path: &Path, columns: Option<&[&str]>) -> Result<DataFrame, DatasetError> {
    let display = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| DatasetError::Io {
        path: display.clone(),
        source,
    })?;
    ParquetReader::new(file)
        .with_columns(columns.map(|c| c.iter().map(|s| s.to_string()).collect()))
        .finish()
        .map_err(|source| DatasetError::Polars { path: display, source })
}

/// Which incident columns [`Dataset::open_with`] loads into the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentFrame {
    /// Every column (the server's incidents collection, `info`).
    All,
    /// Only what [`columns::IncidentColumns`] is built from, and the frame's
    /// rows released afterwards: the analyses read the typed columns alone,
    /// so a command-line analysis holds one copy of the incidents, not two.
    AnalysisOnly,
}

/// The incident columns [`columns::IncidentColumns`] is built from.
const ANALYSIS_COLUMNS: [&str; 9] = [
    schema::incidents::MONTH_INDEX,
    schema::incidents::CRIME_TYPE,
    schema::incidents::KIND,
    schema::incidents::WARD_CODE,
    schema::incidents::BOROUGH_CODE,
    schema::incidents::EASTING_M,
    schema::incidents::NORTHING_M,
    schema::incidents::LON,
    schema::incidents::LAT,
];

fn column_err(path: &Path, column: &str, e: impl std::fmt::Display) -> DatasetError {
    DatasetError::Column {
        path: path.display().to_string(),
        column: column.to_string(),
        message: e.to_string(),
    }
}

/// Decodes a WKB (multi)polygon column into geo types.
pub fn polygons_from_wkb(df: &DataFrame, column: &str, path: &Path) -> Result<Vec<MultiPolygon<f64>>, DatasetError> {
    use geo_traits::to_geo::ToGeoGeometry;
    let col = df.column(column).map_err(|e| column_err(path, column, e))?;
    let bin = col.binary().map_err(|e| column_err(path, column, e))?;
    bin.iter()
        .map(|v| {
            let bytes = v.ok_or_else(|| column_err(path, column, "null geometry"))?;
            let wkb = wkb::reader::read_wkb(bytes).map_err(|e| column_err(path, column, e))?;
            match wkb.to_geometry() {
                geo::Geometry::MultiPolygon(mp) => Ok(mp),
                geo::Geometry::Polygon(p) => Ok(MultiPolygon(vec![p])),
                _ => Err(column_err(path, column, "not a polygon")),
            }
        })
        .collect()
}

/// The `easting_m`/`northing_m` columns as points.
pub fn points_bng(df: &DataFrame, path: &Path) -> Result<Vec<[f64; 2]>, DatasetError> {
    let e = df
        .column(schema::incidents::EASTING_M)
        .and_then(|c| c.f64().cloned())
        .map_err(|err| column_err(path, schema::incidents::EASTING_M, err))?;
    let n = df
        .column(schema::incidents::NORTHING_M)
        .and_then(|c| c.f64().cloned())
        .map_err(|err| column_err(path, schema::incidents::NORTHING_M, err))?;
    Ok(e.into_no_null_iter()
        .zip(n.into_no_null_iter())
        .map(|(e, n)| [e, n])
        .collect())
}

impl Dataset {
    /// Opens a dataset directory: reads the manifest and tables, builds the
    /// ward R-tree and the school/station point indexes.
    pub fn open(dir: &Path) -> Result<Dataset, DatasetError> {
        Dataset::open_with(dir, IncidentFrame::All)
    }

    /// Opens a dataset for the analyses: see [`IncidentFrame::AnalysisOnly`].
    pub fn open_for_analysis(dir: &Path) -> Result<Dataset, DatasetError> {
        let mut ds = Dataset::open_with(dir, IncidentFrame::AnalysisOnly)?;
        ds.release_incident_rows();
        Ok(ds)
    }

    /// Opens a dataset, loading the incident columns `frame` asks for.
    pub fn open_with(dir: &Path, frame: IncidentFrame) -> Result<Dataset, DatasetError> {
        let manifest = read_manifest(dir)?;
        let schema = schema::incidents_schema();
        let attributes: Vec<&str> = schema.iter_names().map(|n| n.as_str()).collect();
        let table = |name: &str| -> Result<DataFrame, DatasetError> {
            let p = dir.join(format!("{name}.parquet"));
            // The incidents' attribute columns only: their geometry columns
            // (for other tools) repeat `lon`/`lat` and `easting_m`/`northing_m`.
            let columns = match frame {
                _ if name != schema::tables::INCIDENTS => None,
                IncidentFrame::AnalysisOnly => Some(&ANALYSIS_COLUMNS[..]),
                IncidentFrame::All => Some(&attributes[..]),
            };
            if p.exists() {
                read_parquet_columns(&p, columns)
            } else {
                Ok(DataFrame::empty())
            }
        };
        let ((incidents, wards), (boroughs, (schools, stations))) = rayon::join(
            || (table("incidents"), table("wards")),
            || {
                (
                    table("boroughs"),
                    rayon::join(|| table("schools"), || table("stations")),
                )
            },
        );
        let (incidents, wards, boroughs, schools, stations) = (incidents?, wards?, boroughs?, schools?, stations?);
        let ward_polys = polygons_from_wkb(&wards, schema::areas::GEOMETRY_BNG_WKB, &dir.join("wards.parquet"))?;
        let point_index = |df: &DataFrame, name: &str| -> Result<PointIndex, DatasetError> {
            if df.height() == 0 {
                return Ok(PointIndex::new(&[]));
            }
            Ok(PointIndex::new(&points_bng(df, &dir.join(format!("{name}.parquet")))?))
        };
        let columns = columns::IncidentColumns::build(
            &incidents,
            &wards,
            &boroughs,
            &dir.join("incidents.parquet").display().to_string(),
        )?;
        Ok(Dataset {
            dir: dir.to_path_buf(),
            columns,
            school_index: point_index(&schools, "schools")?,
            station_index: point_index(&stations, "stations")?,
            ward_index: AreaIndex::new(ward_polys),
            manifest,
            incidents,
            wards,
            boroughs,
            schools,
            stations,
        })
    }

    /// Frees the rows of the `incidents` frame, keeping its schema: for a
    /// long-running reader that has what it needs from the typed
    /// [`Dataset::columns`] (which every analysis uses) and its own copies
    /// (the HTTP server's incidents table). The frame is the largest part of
    /// an opened dataset: ~220 MB of the Met burglaries' ~350 MB.
    pub fn release_incident_rows(&mut self) {
        self.incidents = self.incidents.clear();
    }

    /// The rejects table (read on demand: analysis never needs it).
    pub fn rejects(&self) -> Result<DataFrame, DatasetError> {
        read_parquet(&self.dir.join("rejects.parquet"))
    }

    /// The file table.
    pub fn files(&self) -> Result<DataFrame, DatasetError> {
        read_parquet(&self.dir.join("files.parquet"))
    }
}

/// Reads `manifest.json` of a dataset directory.
pub fn read_manifest(dir: &Path) -> Result<Manifest, DatasetError> {
    let path = dir.join("manifest.json");
    let display = path.display().to_string();
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(DatasetError::NotADataset {
                path: dir.display().to_string(),
            })
        }
        Err(source) => return Err(DatasetError::Io { path: display, source }),
    };
    let m: Manifest = serde_json::from_str(&text).map_err(|e| DatasetError::Manifest {
        path: display.clone(),
        message: e.to_string(),
    })?;
    if m.schema_version != manifest::SCHEMA_VERSION {
        return Err(DatasetError::Manifest {
            path: display,
            message: format!(
                "schema version {} (this build reads {}): ingest again",
                m.schema_version,
                manifest::SCHEMA_VERSION
            ),
        });
    }
    Ok(m)
}
