//! # hotspots
//!
//! A geospatial analytics engine that finds crime hotspots in London for
//! precision policing: it ingests police.uk incidents, ward boundaries,
//! schools and stations into a validated Parquet dataset, analyses it, and
//! serves every layer as GeoJSON.
//!
//! # Layout
//!
//! Data flows one way: raw files → [`ingest`] → [`dataset`] → [`analysis`] →
//! the CLI (`src/cli/`, in the binary) and [`api`]. Each layer uses only the
//! layers below it: `dataset` imports nothing from `ingest`, `analysis` or
//! `api`; `analysis` reads a [`dataset::Dataset`], never raw files, and knows
//! nothing of HTTP.
//!
//! | module | owns |
//! |---|---|
//! | [`crs`] | British National Grid (EPSG:27700) ↔ WGS84 (EPSG:4326) via OSTN15 (`crs::ostn15`: the inverse with per-cell shifts, for boundary layers); `.prj` recognition |
//! | [`index`] | R-tree of ward polygons with exact point-in-polygon; a grid of POIs for the nearest one, an R-tree of them for radius and k-nearest |
//! | [`month`] | months as integers (`year * 12 + month - 1`) |
//! | [`crime_types`] | the police.uk categories and the API's slugs for them |
//! | [`config`] | the ingest config (`data/london.toml`): what to read and how fields map; paths kept inside the data root |
//! | [`progress`] | progress bars that stay quiet in scripts |
//! | [`sys`] | every call into C (`renameat2`, `prctl`, `malloc_trim`, libdeflate): the crate's only `unsafe` code |
//! | [`dataset`] | the tables' vocabulary ([`dataset::schema`]: column names, reject reasons); Parquet tables (GeoParquet 1.1 where they have geometry: [`dataset::geoparquet`]) and `manifest.json`; one writer at a time ([`dataset::lock`]) and atomic writes; [`dataset::Dataset::open`] with the incidents as typed columns |
//! | [`ingest`] | readers for shapefiles, GeoJSON, police.uk CSV and API JSON, POI CSVs; validation into rejects; the spatial join; the re-ingest cache; the pipeline's stages ([`ingest::pipeline`]) |
//! | [`analysis`] | one method per file (grids, weights, Gi* with FDR, LISA, KDE, emerging hot spots, POI risk, surge areas, the backtest, the pledge's counterfactual with its count GLMs, the WDD test of a deployment), each declaring its parameters once ([`analysis::params`]) and registered in [`analysis::run::ALL`] |
//! | [`info`] | the `hotspots info` report |
//! | [`fetch`] | `hotspots fetch`: downloads the official boundaries, police.uk crime (archive or API by ward), GIAS schools and stations into a data root, with resume, retries and checksums |
//! | [`demo`] | a synthetic London-like city in the real file formats, with planted hotspots and their ground truth |
//! | [`briefing`] | ward briefings: one self-contained HTML page per ward (counts and changes with exact Poisson tests and BH, rates, a seasonal monthly chart, an SVG map in BNG metres with Gi* cells, schools and stations, places, emerging categories, outcomes, harm), index pages, PDFs through headless Chromium |
//! | [`api`] | the HTTP server (axum): OGC API – Features (Part 1; Part 2 CRS in `api::crs`; Part 3 queryables and CQL2 filters in `api::filter`) over the dataset's layers and one collection per analysis, `/map`, problem documents |
//!
//! Adding an analysis: one file in `analysis/` that declares its
//! [`analysis::params::Spec`] and a [`analysis::run::RunFn`], and one line in
//! [`analysis::run::ALL`]. The CLI command, its flags and `--help`, the
//! server's collection, its query parsing and its `/api` entry all follow
//! from the declaration (a test checks that the CLI and `/api` agree).
//!
//! Units live in names: `easting_m`, `northing_m` (BNG metres), `lon`, `lat`
//! (WGS84 degrees), `radius_m`, `area_km2`.

#![deny(unsafe_code)]

pub mod analysis;
pub mod api;
pub mod briefing;
pub mod config;
pub mod crime_types;
pub mod crs;
pub mod dataset;
pub mod demo;
pub mod fetch;
pub mod index;
pub mod info;
pub mod ingest;
pub mod month;
pub mod progress;
pub mod sys;
