//! `hotspots demo`: a synthetic London-like city written in the real file
//! formats (a ward and a borough shapefile in BNG with `.prj`, monthly
//! police.uk CSVs, a London Schools Atlas CSV, a stations CSV), with hotspots
//! planted at known places and a ground-truth file saying where; then
//! ingested like any other data. Deterministic from a seed.

mod city;

use std::path::{Path, PathBuf};

pub use city::{GroundTruth, PlantedHotspot, CITY_ORIGIN_M, CITY_SIZE_M};

use crate::config::Config;
use crate::ingest::{IngestError, IngestOptions};

/// Errors making the demo.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: writing the shapefile: {message}")]
    Shapefile { path: String, message: String },
    #[error(transparent)]
    Ingest(#[from] IngestError),
}

/// Where the demo's pieces went.
#[derive(Debug, Clone)]
pub struct Demo {
    /// The raw files, laid out as a data root.
    pub data_root: PathBuf,
    /// The ingest config for them.
    pub config: PathBuf,
    /// The ingested dataset.
    pub dataset: PathBuf,
    /// Where the planted hotspots are (`ground_truth.json` in the data root).
    pub ground_truth: GroundTruth,
    pub manifest: crate::dataset::manifest::Manifest,
}

impl Demo {
    /// Where everything went, for the terminal.
    pub fn summary(&self) -> String {
        format!(
            "demo city written to {}\nconfig              {}\ndataset             {} ({} incidents, {} rejected)\nplanted hotspots    {} (see {})\n",
            self.data_root.display(),
            self.config.display(),
            self.dataset.display(),
            self.manifest.totals.rows_accepted,
            self.manifest.totals.rows_rejected,
            self.ground_truth.hotspots.len(),
            self.data_root.join("ground_truth.json").display()
        )
    }
}

/// The ingest config for a demo data root (paths relative to it).
pub const DEMO_CONFIG: &str = r#"# The synthetic demo city written by `hotspots demo`.
name = "Demo city"

[boundaries.wards]
path = "boundaries/Demo_Ward.shp"
code_field = "GSS_CODE"
name_field = "NAME"
parent_code_field = "LB_GSS_CD"
parent_name_field = "BOROUGH"

[boundaries.boroughs]
path = "boundaries/Demo_Borough.shp"
code_field = "GSS_CODE"
name_field = "NAME"

[[incidents]]
name = "demo_street"
format = "police_uk_csv"
paths = ["police_uk"]

[[pois]]
kind = "school"
format = "london_schools_atlas"
path = "schools/demo_schools.csv"

[[pois]]
kind = "station"
format = "stations"
path = "stations/demo_stations.csv"
"#;

/// Writes the demo city under `dir` (`dir/raw` the files, `dir/demo.toml`
/// the config, `dir/dataset` the ingested dataset).
pub fn run(dir: &Path, seed: u64, quiet: bool) -> Result<Demo, DemoError> {
    let data_root = dir.join("raw");
    if data_root.exists() {
        std::fs::remove_dir_all(&data_root).map_err(|source| DemoError::Io {
            path: data_root.display().to_string(),
            source,
        })?;
    }
    let ground_truth = city::write_city(&data_root, seed)?;
    let config_path = dir.join("demo.toml");
    std::fs::write(&config_path, DEMO_CONFIG).map_err(|source| DemoError::Io {
        path: config_path.display().to_string(),
        source,
    })?;
    let config = Config::from_toml(DEMO_CONFIG, &config_path.display().to_string()).map_err(IngestError::from)?;
    let dataset = dir.join("dataset");
    let manifest = crate::ingest::ingest(
        &config,
        &data_root,
        &dataset,
        &IngestOptions {
            quiet,
            force: true,
            ..Default::default()
        },
    )?;
    Ok(Demo {
        data_root,
        config: config_path,
        dataset,
        ground_truth,
        manifest,
    })
}
