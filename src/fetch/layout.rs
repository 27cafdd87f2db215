//! Where fetched files go in the data root, and the ingest config written
//! beside them (`hotspots.toml`), so that
//! `hotspots ingest --config <root>/hotspots.toml --data-root <root>` reads
//! exactly what was fetched.
//!
//! Boundaries land where `data/london.toml` expects them. Crime goes to
//! one folder per force (`police_uk/metropolitan/`, ...) and
//! `police_uk/api/` for the street-crime API; `london.toml` names other
//! folders (its curated sources), hence the config of our own.

use std::path::{Path, PathBuf};

use crate::config::{
    Boundaries, BoundaryLayer, Config, IncidentFormat, IncidentKind, IncidentSource, PoiFormat, PoiSource,
};

/// The folder the boundary zip is unpacked into.
pub const BOUNDARIES_DIR: &str = "london_boundaries";
/// Wards, as `data/london.toml` names them.
pub const WARDS: &str = "london_boundaries/statistical-gis-boundaries-london/ESRI/London_Ward.shp";
/// Boroughs, as `data/london.toml` names them.
pub const BOROUGHS: &str = "london_boundaries/statistical-gis-boundaries-london/ESRI/London_Borough_Excluding_MHW.shp";
/// The street-crime API's months.
pub const API_DIR: &str = "police_uk/api";
/// GIAS schools, re-encoded as UTF-8.
pub const SCHOOLS: &str = "schools/edubasealldata.csv";
/// The stations list.
pub const STATIONS: &str = "stations/london_stations.csv";
/// Downloads kept for resuming and re-use (zips, raw GIAS).
pub const DOWNLOADS_DIR: &str = "downloads";
/// The ingest config written into the data root.
pub const CONFIG_FILE: &str = "hotspots.toml";

/// Errors writing the config.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("cannot write the config as TOML: {0}")]
    Toml(#[from] toml::ser::Error),
}

/// The API month file: `police_uk/api/YYYY-MM-street-api.json`.
pub fn api_month_file(month: &str) -> String {
    format!("{API_DIR}/{month}-street-api.json")
}

/// A force's street CSV for a month: `police_uk/<force_dir>/YYYY-MM-<force>-street.csv`.
pub fn street_file(month: &str, force: &str) -> String {
    format!("{}/{month}-{force}-street.csv", super::sources::force_dir(force))
}

/// The wards layer with London's attribute names.
pub fn wards_layer() -> BoundaryLayer {
    BoundaryLayer {
        path: WARDS.into(),
        crs: None,
        code_field: "GSS_CODE".into(),
        name_field: "NAME".into(),
        parent_code_field: Some("LB_GSS_CD".into()),
        parent_name_field: Some("BOROUGH".into()),
    }
}

fn has_data_files(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|rd| {
        rd.flatten().any(|e| {
            let name = e.file_name().to_string_lossy().to_ascii_lowercase();
            e.path().is_file() && (name.ends_with(".csv") || name.ends_with(".json"))
        })
    })
}

/// The ingest config for what is in `root` now: every force folder under
/// `police_uk/` that holds files (CSV sources first, so their Crime IDs win
/// over the API's repeats of them), the API folder, schools and stations
/// when present. Boundaries are always named: ingest needs them.
pub fn config_for(root: &Path) -> Config {
    let mut incidents = Vec::new();
    for force in super::sources::FORCES {
        let dir = super::sources::force_dir(force);
        if has_data_files(&root.join(&dir)) {
            incidents.push(IncidentSource {
                name: force.replace('-', "_"),
                format: IncidentFormat::PoliceUkCsv,
                kind: IncidentKind::Crime,
                paths: vec![dir],
                columns: None,
            });
        }
    }
    if has_data_files(&root.join(API_DIR)) {
        incidents.push(IncidentSource {
            name: "police_api".into(),
            format: IncidentFormat::PoliceUkApiJson,
            kind: IncidentKind::Crime,
            paths: vec![API_DIR.into()],
            columns: None,
        });
    }
    let mut pois = Vec::new();
    if root.join(SCHOOLS).is_file() {
        pois.push(PoiSource {
            kind: "school".into(),
            format: PoiFormat::Gias,
            path: SCHOOLS.into(),
            columns: None,
        });
    }
    if root.join(STATIONS).is_file() {
        pois.push(PoiSource {
            kind: "station".into(),
            format: PoiFormat::Stations,
            path: STATIONS.into(),
            columns: None,
        });
    }
    Config {
        name: "London".into(),
        boundaries: Boundaries {
            wards: wards_layer(),
            boroughs: Some(BoundaryLayer {
                path: BOROUGHS.into(),
                crs: None,
                code_field: "GSS_CODE".into(),
                name_field: "NAME".into(),
                parent_code_field: None,
                parent_name_field: None,
            }),
        },
        incidents,
        pois,
    }
}

/// Writes [`config_for`] to `<root>/hotspots.toml` and returns its path.
pub fn write_config(root: &Path) -> Result<PathBuf, LayoutError> {
    let config = config_for(root);
    let text = format!(
        "# Written by `hotspots fetch` for the files in this folder. Run:\n\
         #   hotspots ingest --config {CONFIG_FILE} --data-root . --out <dataset>\n\
         # (paths are relative to --data-root). Rewritten on every fetch.\n\n{}",
        toml::to_string(&config)?
    );
    let path = root.join(CONFIG_FILE);
    std::fs::write(&path, text).map_err(|source| LayoutError::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_names_what_is_there_and_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("police_uk/city_of_london")).unwrap();
        std::fs::write(root.join(street_file("2024-01", "city-of-london")), "x").unwrap();
        std::fs::create_dir_all(root.join("police_uk/metropolitan")).unwrap(); // empty: left out
        std::fs::create_dir_all(root.join(API_DIR)).unwrap();
        std::fs::write(root.join(api_month_file("2024-01")), "[]").unwrap();
        std::fs::create_dir_all(root.join("stations")).unwrap();
        std::fs::write(root.join(STATIONS), "x").unwrap();
        let path = write_config(root).unwrap();
        let back = Config::load(&path).unwrap();
        let names: Vec<&str> = back.incidents.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["city_of_london", "police_api"]);
        assert_eq!(back.incidents[1].format, IncidentFormat::PoliceUkApiJson);
        assert_eq!(back.pois.len(), 1);
        assert_eq!(back.pois[0].format, PoiFormat::Stations);
        assert_eq!(back.boundaries.wards.path, WARDS);
    }

    #[test]
    fn boundaries_are_where_london_toml_expects_them() {
        let london = Config::load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/data/london.toml"))).unwrap();
        assert_eq!(london.boundaries.wards, wards_layer());
        assert_eq!(london.boundaries.boroughs.unwrap().path, BOROUGHS);
    }
}
