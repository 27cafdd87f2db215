//! # hotspots
//!
//! A geospatial analytics engine that finds crime hotspots in London for
//! precision policing: it ingests police.uk incidents, ward boundaries,
//! schools and stations into a validated Parquet dataset, analyses it, and
//! serves every layer as GeoJSON.
//!
//! # Layout
//!
//! Data flows one way: raw files → [`ingest`] → [`dataset`] → analysis → CLI / [`api`].
//!
//! | module | owns |
//! |---|---|
//! | [`crs`] | British National Grid (EPSG:27700) ↔ WGS84 (EPSG:4326) via OSTN15 (`crs::ostn15`: the inverse with per-cell shifts, for boundary layers); `.prj` recognition |
//! | [`index`] | R-tree of ward polygons with exact point-in-polygon; a grid of POIs for the nearest one, an R-tree of them for radius and k-nearest |
//! | [`month`] | months as integers (`year * 12 + month - 1`) |
//! | [`crime_types`] | the police.uk categories and the API's slugs for them |
//! | [`config`] | the ingest config (`data/london.toml`): what to read and how fields map |
//! | [`ingest`] | readers for shapefiles, GeoJSON, police.uk CSV and API JSON, POI CSVs; validation into rejects; the spatial join |
//! | [`dataset`] | the Parquet tables and `manifest.json`; atomic write; row groups written from Arrow dictionary arrays ([`dataset::row_group`]); the previous dataset as the re-ingest cache; [`dataset::Dataset::open`] with the incidents as typed columns |
//! | [`analysis`] | grids, spatial weights, Gi* with FDR, LISA, KDE, emerging hot spots; risk around schools and stations, surge-team areas, the backtest; result layers (GeoJSON/CSV) |
//! | [`info`] | the `hotspots info` report |
//! | [`fetch`] | `hotspots fetch`: downloads the official boundaries, police.uk crime (archive or API by ward), GIAS schools and stations into a data root, with resume, retries and checksums |
//! | [`demo`] | a synthetic London-like city in the real file formats, with planted hotspots and their ground truth |
//! | [`progress`] | progress bars that stay quiet in scripts |
//! | [`api`] | the HTTP server (axum): OGC API – Features over the dataset and analysis layers, `/map`, problem documents |
//! | [`sys`] | every call into C (`renameat2`, `prctl`, `malloc_trim`, libdeflate): the crate's only `unsafe` code |
//!
//! Units live in names: `easting_m`, `northing_m` (BNG metres), `lon`, `lat`
//! (WGS84 degrees), `radius_m`, `area_km2`.

#![deny(unsafe_code)]

pub mod analysis;
pub mod api;
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
