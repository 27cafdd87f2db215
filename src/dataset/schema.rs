//! The vocabulary of a dataset: its tables, their column names, and the
//! reasons a row is kept in `rejects.parquet`. Everything that writes or
//! reads a table (ingest, [`super::columns`], the API, `info`) names
//! columns through these constants, so a column is spelt in one place.
//!
//! Units live in names: `easting_m`/`northing_m` are British National Grid
//! (EPSG:27700) metres, `lon`/`lat` WGS84 (EPSG:4326) degrees, `*_m`
//! metres, `area_km2` square kilometres.

use polars::prelude::{DataType, Field, Schema};

/// The tables, as `NAME.parquet` in the dataset directory.
pub mod tables {
    pub const INCIDENTS: &str = "incidents";
    pub const REJECTS: &str = "rejects";
    pub const FILES: &str = "files";
    pub const WARDS: &str = "wards";
    pub const BOROUGHS: &str = "boroughs";
    pub const SCHOOLS: &str = "schools";
    pub const STATIONS: &str = "stations";
}

/// `incidents.parquet`: one row per accepted incident.
pub mod incidents {
    pub const INCIDENT_ID: &str = "incident_id";
    pub const SOURCE: &str = "source";
    /// `crime`, `stop_and_search` or `other`.
    pub const KIND: &str = "kind";
    pub const FILE_ID: &str = "file_id";
    pub const LINE: &str = "line";
    pub const CRIME_ID: &str = "crime_id";
    pub const API_ID: &str = "api_id";
    /// `YYYY-MM`.
    pub const MONTH: &str = "month";
    /// `year * 12 + month - 1`.
    pub const MONTH_INDEX: &str = "month_index";
    pub const CRIME_TYPE: &str = "crime_type";
    pub const LON: &str = "lon";
    pub const LAT: &str = "lat";
    pub const EASTING_M: &str = "easting_m";
    pub const NORTHING_M: &str = "northing_m";
    pub const LOCATION: &str = "location";
    pub const LSOA_CODE: &str = "lsoa_code";
    pub const FALLS_WITHIN: &str = "falls_within";
    pub const LAST_OUTCOME: &str = "last_outcome";
    pub const WARD_CODE: &str = "ward_code";
    pub const BOROUGH_CODE: &str = "borough_code";
    pub const NEAREST_SCHOOL_ID: &str = "nearest_school_id";
    pub const NEAREST_SCHOOL_M: &str = "nearest_school_m";
    pub const NEAREST_STATION_ID: &str = "nearest_station_id";
    pub const NEAREST_STATION_M: &str = "nearest_station_m";
    pub use super::geometry::*;
}

/// `rejects.parquet`: one row per row that could not be used.
pub mod rejects {
    pub const FILE_ID: &str = "file_id";
    pub const SOURCE: &str = "source";
    pub const SOURCE_FILE: &str = "source_file";
    pub const LINE: &str = "line";
    /// A [`super::RejectReason`]'s name.
    pub const REASON: &str = "reason";
    pub const DETAIL: &str = "detail";
    pub const RAW: &str = "raw";
}

/// `files.parquet`: one row per source file (or archive member).
pub mod files {
    pub const FILE_ID: &str = "file_id";
    pub const PATH: &str = "path";
    pub const SOURCE: &str = "source";
    pub const KIND: &str = "kind";
}

/// `wards.parquet` and `boroughs.parquet`.
pub mod areas {
    pub const CODE: &str = "code";
    pub const NAME: &str = "name";
    /// Wards only.
    pub const BOROUGH_CODE: &str = "borough_code";
    pub const BOROUGH_NAME: &str = "borough_name";
    pub const AREA_KM2: &str = "area_km2";
    pub use super::geometry::*;
}

/// The geometry columns of every table with geometry (areas, points of
/// interest, incidents), declared in the file's GeoParquet 1.1 metadata
/// ([`super::geoparquet`]).
pub mod geometry {
    /// The primary geometry: WKB in WGS84 lon/lat (`OGC:CRS84`).
    pub const GEOMETRY: &str = "geometry";
    /// The same geometry as WKB in British National Grid metres (EPSG:27700).
    pub const GEOMETRY_BNG_WKB: &str = "geometry_bng_wkb";
    /// GeoParquet's covering of `geometry`: struct `xmin, ymin, xmax, ymax` (degrees).
    pub const BBOX: &str = "bbox";
}

/// `schools.parquet` and `stations.parquet`.
pub mod pois {
    pub const POI_ID: &str = "poi_id";
    pub const KIND: &str = "kind";
    pub const NAME: &str = "name";
    pub const EASTING_M: &str = "easting_m";
    pub const NORTHING_M: &str = "northing_m";
    pub const LON: &str = "lon";
    pub const LAT: &str = "lat";
    pub const WARD_CODE: &str = "ward_code";
    pub const BOROUGH_CODE: &str = "borough_code";
    pub const ATTRIBUTES: &str = "attributes";
    pub use super::geometry::*;
}

/// The incidents table's columns as written: [`incidents_schema`], then
/// the point as GeoParquet geometry columns ([`geometry`]).
pub fn incidents_file_schema() -> Schema {
    let mut s = incidents_schema();
    s.extend([
        Field::new(geometry::GEOMETRY.into(), DataType::Binary),
        Field::new(geometry::GEOMETRY_BNG_WKB.into(), DataType::Binary),
        Field::new(geometry::BBOX.into(), super::geoparquet::bbox_dtype()),
    ]);
    s
}

/// The incidents table's attribute columns, in order: what the server and
/// the analyses read (the geometry columns after them repeat `lon`/`lat`
/// and `easting_m`/`northing_m` for other tools).
pub fn incidents_schema() -> Schema {
    use incidents::*;
    use DataType::*;
    [
        (INCIDENT_ID, UInt32),
        (SOURCE, String),
        (KIND, String),
        (FILE_ID, UInt32),
        (LINE, UInt32),
        (CRIME_ID, String),
        (API_ID, Int64),
        (MONTH, String),
        (MONTH_INDEX, UInt32),
        (CRIME_TYPE, String),
        (LON, Float64),
        (LAT, Float64),
        (EASTING_M, Float64),
        (NORTHING_M, Float64),
        (LOCATION, String),
        (LSOA_CODE, String),
        (FALLS_WITHIN, String),
        (LAST_OUTCOME, String),
        (WARD_CODE, String),
        (BOROUGH_CODE, String),
        (NEAREST_SCHOOL_ID, String),
        (NEAREST_SCHOOL_M, Float64),
        (NEAREST_STATION_ID, String),
        (NEAREST_STATION_M, Float64),
    ]
    .into_iter()
    .map(|(name, dtype)| Field::new(name.into(), dtype))
    .collect()
}

/// Why a row was not accepted (the `reason` column of `rejects.parquet`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// Longitude/latitude (or easting/northing) blank, e.g. police.uk "No Location".
    MissingCoordinates,
    /// Coordinates that do not parse as numbers.
    MalformedCoordinates,
    /// Coordinates out of range, or outside Great Britain (no OSTN15 transform).
    ImpossibleCoordinates,
    /// A valid point that falls in no ward of the study area.
    OutsideStudyArea,
    /// Month or date blank or not `YYYY-MM` with a real month.
    MalformedMonth,
    /// A crime type that is not a police.uk category.
    UnknownCrimeType,
    /// The same crime id (or API id) was already accepted from an earlier row.
    DuplicateId,
    /// A CSV row with the wrong number of fields, an unclosed quote, or invalid UTF-8.
    MalformedRow,
    /// A JSON member that does not parse (e.g. an empty file).
    MalformedJson,
}

impl RejectReason {
    pub const ALL: [RejectReason; 9] = [
        RejectReason::MissingCoordinates,
        RejectReason::MalformedCoordinates,
        RejectReason::ImpossibleCoordinates,
        RejectReason::OutsideStudyArea,
        RejectReason::MalformedMonth,
        RejectReason::UnknownCrimeType,
        RejectReason::DuplicateId,
        RejectReason::MalformedRow,
        RejectReason::MalformedJson,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::MissingCoordinates => "missing_coordinates",
            RejectReason::MalformedCoordinates => "malformed_coordinates",
            RejectReason::ImpossibleCoordinates => "impossible_coordinates",
            RejectReason::OutsideStudyArea => "outside_study_area",
            RejectReason::MalformedMonth => "malformed_month",
            RejectReason::UnknownCrimeType => "unknown_crime_type",
            RejectReason::DuplicateId => "duplicate_id",
            RejectReason::MalformedRow => "malformed_row",
            RejectReason::MalformedJson => "malformed_json",
        }
    }

    pub fn parse(s: &str) -> Option<RejectReason> {
        RejectReason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reject_reasons_round_trip_and_match_serde() {
        for r in RejectReason::ALL {
            assert_eq!(RejectReason::parse(r.as_str()), Some(r));
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        assert_eq!(incidents_schema().len(), 24);
    }
}
