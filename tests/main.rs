//! The integration tests, one module per area, linked into one test binary
//! (`cargo test --test integration`): every test binary links polars and the
//! whole crate (~100 MB each in debug), so one binary instead of eight saves
//! CI most of a gigabyte of disk and seven links, and the real-data datasets
//! in `common` are ingested once for all of them.
//!
//! Run one area with a filter: `cargo test --test integration api::`.

mod common;

mod api;
mod briefing;
mod browser;
mod demo_and_dataset;
mod fetch;
mod geoparquet;
mod gistar_reference;
mod ingest_safety;
mod notebooks;
mod ogc_crs;
mod ogc_filter;
mod past_one_machine;
mod pledge;
mod precision;
mod real_data;
mod schemathesis;
mod server_safety;
mod tiles;
mod wdd;
