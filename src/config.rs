//! The ingest configuration (`data/london.toml`): which files hold the
//! boundaries, incidents and points of interest, and how their fields map.
//!
//! Paths are relative to the `--data-root` given on the command line. A path
//! may name a file, a folder (every file in it whose name ends in `.csv`,
//! `.csv.gz`, `.json` or `.tar.gz`, sorted) or a glob (`police_uk/btp/*.csv.gz`).

use std::path::Path;

use serde::Deserialize;

use crate::crs::Crs;

/// Errors reading a config file. Messages name the file, line and key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read the config: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: key `{key}`: {message}")]
    Invalid { path: String, key: String, message: String },
}

/// Why `path` (relative to the data root) would leave it, if it would.
fn leaves_root(path: &str) -> Option<&'static str> {
    use std::path::Component;
    let p = Path::new(path);
    if p.is_absolute() || p.has_root() || path.starts_with('/') || path.starts_with('\\') {
        return Some("is an absolute path");
    }
    let mut depth = 0i64;
    for c in p.components() {
        match c {
            Component::Prefix(_) | Component::RootDir => return Some("is an absolute path"),
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return Some("leaves the data root");
                }
            }
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
        }
    }
    None
}

/// The whole ingest configuration.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// A name for the study area, e.g. "London".
    #[serde(default = "default_area_name")]
    pub name: String,
    pub boundaries: Boundaries,
    /// Incident sources, in priority order: when two sources hold the same
    /// crime id, the row from the earlier source is kept.
    #[serde(default)]
    pub incidents: Vec<IncidentSource>,
    /// Points of interest (schools, stations, ...).
    #[serde(default)]
    pub pois: Vec<PoiSource>,
}

fn default_area_name() -> String {
    "study area".into()
}

/// Boundary layers: wards (the study area) and the boroughs they sit in.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Boundaries {
    pub wards: BoundaryLayer,
    pub boroughs: Option<BoundaryLayer>,
}

/// One polygon layer (ESRI shapefile or GeoJSON) and its attribute names.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BoundaryLayer {
    /// A `.shp` (with `.shx`, `.dbf`, `.prj` beside it) or a `.geojson`/`.json`.
    pub path: String,
    /// The CRS when the file does not say (a shapefile without `.prj`).
    /// GeoJSON is WGS84 unless its legacy `crs` member names EPSG:27700.
    pub crs: Option<String>,
    #[serde(default = "default_code_field")]
    pub code_field: String,
    #[serde(default = "default_name_field")]
    pub name_field: String,
    /// For wards: the field holding the borough's code (London: LB_GSS_CD).
    pub parent_code_field: Option<String>,
    /// For wards: the field holding the borough's name (London: BOROUGH).
    pub parent_name_field: Option<String>,
}

fn default_code_field() -> String {
    "GSS_CODE".into()
}
fn default_name_field() -> String {
    "NAME".into()
}

/// The format of an incident source.
#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum IncidentFormat {
    /// data.police.uk street-level CSV (12 columns; an extra leading index
    /// column, CRLF, BOM and gzip are all accepted).
    PoliceUkCsv,
    /// The data.police.uk street-crime API's JSON (arrays of crimes), as
    /// `.json` files or `.tar.gz` archives of them.
    PoliceUkApiJson,
    /// Any CSV, with its columns named in `columns`.
    Csv,
}

/// What an incident source records: crimes, or stop-and-search events (kept
/// apart so they never leak into crime statistics).
#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    #[default]
    Crime,
    StopAndSearch,
    Other,
}

impl IncidentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentKind::Crime => "crime",
            IncidentKind::StopAndSearch => "stop_and_search",
            IncidentKind::Other => "other",
        }
    }
}

/// One incident source: a named set of files in one format.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IncidentSource {
    /// A short name stored with every row (`met_burglary`).
    pub name: String,
    pub format: IncidentFormat,
    #[serde(default)]
    pub kind: IncidentKind,
    /// Files, folders or globs, relative to the data root.
    pub paths: Vec<String>,
    /// Column mapping, for `format = "csv"`.
    pub columns: Option<CsvColumns>,
}

/// Column names for a generic incident CSV.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CsvColumns {
    /// Longitude or easting column.
    pub x: String,
    /// Latitude or northing column.
    pub y: String,
    /// CRS of x/y: "EPSG:4326" (lon/lat) or "EPSG:27700" (easting/northing).
    #[serde(default = "default_point_crs")]
    pub crs: String,
    /// A `YYYY-MM` month column ...
    pub month: Option<String>,
    /// ... or an ISO 8601 date/datetime column, from which the month is taken.
    pub date: Option<String>,
    /// The category (crime type) column. Without one, every row gets `default_category`.
    pub category: Option<String>,
    pub default_category: Option<String>,
    /// A stable id column, used to de-duplicate.
    pub id: Option<String>,
    /// A free-text location column.
    pub location: Option<String>,
}

fn default_point_crs() -> String {
    "EPSG:4326".into()
}

/// Formats of point-of-interest files.
#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PoiFormat {
    /// GLA London Schools Atlas (`URN, SCHOOL_NAM, EASTING, NORTHING, ...`).
    LondonSchoolsAtlas,
    /// DfE Get Information About Schools extract (`URN, EstablishmentName, Easting, Northing`).
    Gias,
    /// Station list (`Station, OS X, OS Y, Latitude, Longitude`).
    Stations,
    /// Any CSV, with its columns named in `columns`.
    Csv,
}

/// One point-of-interest layer.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PoiSource {
    /// "school" or "station" (the two layers every incident is measured to),
    /// or any other kind name.
    pub kind: String,
    pub format: PoiFormat,
    pub path: String,
    /// Column mapping, for `format = "csv"`.
    pub columns: Option<PoiColumns>,
}

/// Column names for a generic POI CSV.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PoiColumns {
    pub id: String,
    pub name: String,
    pub x: String,
    pub y: String,
    #[serde(default = "default_point_crs")]
    pub crs: String,
    /// When set, each row's kind is read from this column instead of `kind`.
    pub kind: Option<String>,
}

impl Config {
    /// Reads and checks a TOML config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let display = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: display.clone(),
            source,
        })?;
        Config::from_toml(&text, &display)
    }

    /// Parses a TOML config; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        config.validate(origin)?;
        Ok(config)
    }

    /// Every path the config names (key, path), in config order.
    pub fn paths(&self) -> Vec<(String, &str)> {
        let mut out = vec![("boundaries.wards.path".to_string(), self.boundaries.wards.path.as_str())];
        if let Some(b) = &self.boundaries.boroughs {
            out.push(("boundaries.boroughs.path".to_string(), b.path.as_str()));
        }
        for (i, s) in self.incidents.iter().enumerate() {
            for (j, p) in s.paths.iter().enumerate() {
                out.push((format!("incidents[{i}].paths[{j}]"), p.as_str()));
            }
        }
        for (i, p) in self.pois.iter().enumerate() {
            out.push((format!("pois[{i}].path"), p.path.as_str()));
        }
        out
    }

    /// Checks that every path stays inside the data root: relative, and
    /// never climbing above the root with `..` (judged on the text, so a
    /// glob is checked too). A config from elsewhere cannot make the ingest
    /// read `/etc/passwd`. `origin` names the config in errors.
    pub fn check_paths_within_root(&self, origin: &str) -> Result<(), ConfigError> {
        for (key, path) in self.paths() {
            if let Some(why) = leaves_root(path) {
                return Err(ConfigError::Invalid {
                    path: origin.to_string(),
                    key,
                    message: format!(
                        "{path:?} {why}: paths in the config are relative to --data-root and stay inside it (pass --allow-outside-data-root to read files elsewhere)"
                    ),
                });
            }
        }
        Ok(())
    }

    fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |key: String, message: &str| ConfigError::Invalid {
            path: origin.to_string(),
            key,
            message: message.to_string(),
        };
        let mut names = std::collections::HashSet::new();
        for (i, s) in self.incidents.iter().enumerate() {
            if !names.insert(s.name.as_str()) {
                return Err(invalid(format!("incidents[{i}].name"), "duplicate source name"));
            }
            if s.paths.is_empty() {
                return Err(invalid(format!("incidents[{i}].paths"), "no paths given"));
            }
            if s.format == IncidentFormat::Csv {
                let Some(c) = &s.columns else {
                    return Err(invalid(
                        format!("incidents[{i}].columns"),
                        "format = \"csv\" needs a [incidents.columns] table",
                    ));
                };
                if Crs::parse(&c.crs).is_none() {
                    return Err(invalid(
                        format!("incidents[{i}].columns.crs"),
                        "must be EPSG:4326 or EPSG:27700",
                    ));
                }
                if c.month.is_none() == c.date.is_none() {
                    return Err(invalid(
                        format!("incidents[{i}].columns"),
                        "set exactly one of `month` and `date`",
                    ));
                }
                if c.category.is_none() && c.default_category.is_none() {
                    return Err(invalid(
                        format!("incidents[{i}].columns"),
                        "set `category` or `default_category`",
                    ));
                }
            }
        }
        for (i, p) in self.pois.iter().enumerate() {
            if p.format == PoiFormat::Csv {
                let Some(c) = &p.columns else {
                    return Err(invalid(
                        format!("pois[{i}].columns"),
                        "format = \"csv\" needs a [pois.columns] table",
                    ));
                };
                if Crs::parse(&c.crs).is_none() {
                    return Err(invalid(
                        format!("pois[{i}].columns.crs"),
                        "must be EPSG:4326 or EPSG:27700",
                    ));
                }
            }
        }
        if let Some(crs) = &self.boundaries.wards.crs {
            if Crs::parse(crs).is_none() {
                return Err(invalid(
                    "boundaries.wards.crs".into(),
                    "must be EPSG:4326 or EPSG:27700",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        [boundaries.wards]
        path = "wards.shp"
        [[incidents]]
        name = "a"
        format = "police_uk_csv"
        paths = ["crimes"]
    "#;

    #[test]
    fn minimal_config_parses_with_london_defaults() {
        let c = Config::from_toml(MINIMAL, "t.toml").unwrap();
        assert_eq!(c.boundaries.wards.code_field, "GSS_CODE");
        assert_eq!(c.incidents[0].kind, IncidentKind::Crime);
    }

    #[test]
    fn unknown_key_is_named() {
        let text = MINIMAL.replace("format = ", "formt = \"x\"\nformat = ");
        let err = Config::from_toml(&text, "t.toml").unwrap_err().to_string();
        assert!(err.contains("formt") && err.contains("t.toml"), "{err}");
    }

    #[test]
    fn csv_source_without_columns_names_the_key() {
        let text = MINIMAL.replace("police_uk_csv", "csv");
        let err = Config::from_toml(&text, "t.toml").unwrap_err().to_string();
        assert!(err.contains("incidents[0].columns"), "{err}");
    }
}
