//! Ingest: raw files in, a validated, spatially joined dataset out.
//!
//! [`ingest`] locks the output ([`crate::dataset::lock`]), runs the
//! [`pipeline`]'s stages (read boundaries and points of interest; read
//! every incident file in parallel, each parser keeping rows it cannot use
//! as [`reject::Reject`]s, or take an unchanged file's rows from the
//! previous dataset ([`cache`]); project and locate every distinct point
//! once (police.uk snaps crimes to a limited set of map points: ~99k places
//! for 736k located burglaries); de-duplicate by crime id across sources;
//! keep the books; assemble the tables and the manifest) and writes the
//! dataset atomically. The incidents table is written row group by row
//! group from the compact parsed rows.
//!
//! | file | owns |
//! |---|---|
//! | `pipeline.rs` | [`build`]: the stages in order, one function each |
//! | `error.rs` | [`IngestError`] |
//! | `sources.rs` | finding files (globs, folders), reading, gzip, sha256; the manifest's layer records |
//! | `layers.rs`, `boundaries.rs`, `pois.rs` | ward/borough layers (shapefile, GeoJSON) and points of interest |
//! | `read.rs` | reading every incident file: parsed and located, or reused ([`read::ParsedFile`]) |
//! | `csv_incidents.rs`, `police_api.rs` | the incident parsers (CSV fast path and bounded line-by-line reader; the API's JSON) |
//! | `rows.rs` | the compact parsed rows: coded text, packed crime ids |
//! | `locate.rs` | projection, ward and nearest POIs per distinct point; per-file rejects |
//! | `dedup.rs` | the same crime id in two files kept once |
//! | `reject.rs` | rejected rows (their reasons are [`crate::dataset::schema::RejectReason`]) |
//! | `cache.rs` | the previous dataset as the re-ingest cache (`cache/index.json`) |
//! | `incident_table.rs` | the incidents table, written in row groups |
//! | `tables.rs` | the small tables: rejects, files, wards, boroughs, POIs |

pub mod boundaries;
pub mod cache;
pub mod csv_incidents;
mod dedup;
mod error;
mod incident_table;
mod layers;
pub mod locate;
pub mod pipeline;
pub mod pois;
pub mod police_api;
pub mod read;
pub mod reject;
pub mod rows;
pub mod sources;
mod tables;

use std::path::Path;

use crate::config::Config;
use crate::dataset::lock::DatasetLock;
use crate::dataset::manifest::Manifest;
use crate::progress::Progress;
use cache::Cache;

pub use boundaries::Area;
pub use error::IngestError;
pub use pipeline::build;
pub use pois::Poi;

/// Options for [`ingest`].
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// No progress bars.
    pub quiet: bool,
    /// Re-parse every file even when the previous dataset at `out` holds it
    /// unchanged (same sha256).
    pub force: bool,
    /// Let the config name files outside the data root (absolute paths,
    /// `..`). Off by default: [`Config::check_paths_within_root`].
    pub allow_outside_data_root: bool,
    /// Also write the incidents as Hive-partitioned GeoParquet by month
    /// (`incidents/month=YYYY-MM/part-0.parquet`).
    pub partition_by_month: bool,
}

/// Reads the sources a config names under `data_root`, validates and joins
/// them, and writes the dataset to `out` atomically. Returns its manifest.
pub fn ingest(config: &Config, data_root: &Path, out: &Path, opts: &IngestOptions) -> Result<Manifest, IngestError> {
    if !opts.allow_outside_data_root {
        config.check_paths_within_root("the config")?;
    }
    // Parquet encoding of multi-million-row columns recurses deeper than
    // rayon's default 2 MiB worker stacks allow (seen at 4x the Met data), so
    // the ingest runs in a pool with larger stacks.
    let pool = rayon::ThreadPoolBuilder::new()
        .stack_size(64 << 20)
        .build()
        .map_err(|e| IngestError::Invalid(format!("starting worker threads: {e}")))?;
    pool.install(|| ingest_in_pool(config, data_root, out, opts))
}

fn ingest_in_pool(
    config: &Config,
    data_root: &Path,
    out: &Path,
    opts: &IngestOptions,
) -> Result<Manifest, IngestError> {
    let started = std::time::Instant::now();
    let progress = Progress::new(opts.quiet);
    // One ingest at a time into `out`; a second waits for the first and
    // then works from what it wrote. Refused before any work when `out`
    // is something other than a dataset (its contents would be deleted).
    let _lock = DatasetLock::acquire(out, |lock| {
        tracing::warn!(
            "another ingest is writing {}; waiting for it to finish (lock file {})",
            out.display(),
            lock.display()
        )
    })?;
    crate::dataset::write::check_replaceable(out)?;
    let previous = if opts.force { None } else { Cache::open(out) };
    let (mut tables, cache) = build(config, data_root, &progress, previous.as_ref())?;
    tables.partition_by_month = opts.partition_by_month;
    let bar = progress.step("writing dataset");
    let t = std::time::Instant::now();
    let manifest = crate::dataset::write::write_atomic(out, &tables, &[cache.index_file()], started)?;
    let (rss_mib, peak_mib) = crate::progress::memory_mib();
    tracing::debug!(
        elapsed_ms = t.elapsed().as_millis() as u64,
        rss_mib,
        peak_mib,
        "wrote dataset"
    );
    bar.finish_and_clear();
    Ok(manifest)
}
