//! `manifest.json`: what a dataset holds and where it came from. Every
//! source file with its sha256 and its counts (read = accepted + rejected).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::{Config, IncidentFormat, IncidentKind};

/// Bumped whenever a table's schema changes incompatibly (2: GeoParquet
/// geometry columns; the WGS84 area column renamed `geometry`).
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub schema_version: u32,
    pub hotspots_version: String,
    /// Seconds since the Unix epoch, and the same as RFC 3339 UTC.
    pub built_at_unix: u64,
    pub built_at: String,
    /// Wall time of the whole ingest in seconds: reading, validating and
    /// locating the sources, and writing every table (0 until written).
    pub build_seconds: f64,
    /// CRS of the `easting_m`/`northing_m` and `*_bng_wkb` columns.
    pub crs_metric: String,
    /// CRS of the `lon`/`lat` and `*_wgs84_wkb` columns.
    pub crs_geographic: String,
    pub study_area: String,
    pub data_root: String,
    pub config: Config,
    pub boundaries_and_pois: Vec<LayerRecord>,
    pub sources: Vec<SourceRecord>,
    pub totals: Totals,
}

/// Counts over the whole dataset.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Totals {
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    pub rejected_by_reason: BTreeMap<String, u64>,
}

/// A boundary or POI layer and the files it was read from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LayerRecord {
    pub layer: String,
    pub path: String,
    /// sha256 of each file of the layer (a shapefile's .shp, .shx, .dbf, .prj, .cpg).
    pub sha256: BTreeMap<String, String>,
    pub features: u64,
    pub rows_read: u64,
    pub rows_rejected: u64,
}

/// One incident source of the config and its files.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SourceRecord {
    pub name: String,
    pub format: IncidentFormat,
    pub kind: IncidentKind,
    pub files: Vec<FileRecord>,
}

/// The physical lines of a CSV file, counted apart from its parser:
/// `read = header + blank + rows + continuation`, where rows are the data
/// records (read = accepted + rejected) and `continuation` the extra lines
/// of records with a line break inside a quoted field. `read` is what
/// `wc -l` says, plus one when the last line has no line ending.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct LineCount {
    pub read: u64,
    pub header: u64,
    pub blank: u64,
    pub continuation: u64,
}

/// One source file as stored on disk (an archive counts once, over all its members).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileRecord {
    /// Relative to the data root.
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
    /// JSON members of an archive (1 for a plain file).
    pub members: u64,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// True when the rows came from the previous dataset (file unchanged).
    pub reused: bool,
    /// Its lines (CSV files; none for the API's JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<LineCount>,
    /// Said of a file that yielded no rows: empty, or a header alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

impl Manifest {
    pub fn new(
        config: &Config,
        root: &Path,
        sources: Vec<SourceRecord>,
        layers: Vec<LayerRecord>,
        rejected_by_reason: BTreeMap<String, u64>,
    ) -> Manifest {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut totals = Totals::default();
        for f in sources.iter().flat_map(|s| &s.files) {
            totals.rows_read += f.rows_read;
            totals.rows_accepted += f.rows_accepted;
            totals.rows_rejected += f.rows_rejected;
        }
        totals.rejected_by_reason = rejected_by_reason;
        Manifest {
            schema_version: SCHEMA_VERSION,
            hotspots_version: env!("CARGO_PKG_VERSION").to_string(),
            built_at_unix: now,
            built_at: crate::month::rfc3339(now),
            // Set as the manifest is written (`dataset::write::write_atomic`).
            build_seconds: 0.0,
            crs_metric: "EPSG:27700".into(),
            crs_geographic: "EPSG:4326".into(),
            study_area: config.name.clone(),
            data_root: root.display().to_string(),
            config: config.clone(),
            boundaries_and_pois: layers,
            sources,
            totals,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(crate::month::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(crate::month::rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
        assert_eq!(crate::month::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
