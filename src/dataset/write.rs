//! Writing a dataset atomically: everything goes into a temporary sibling
//! directory, which then replaces the old dataset in one step (Linux:
//! `renameat2(RENAME_EXCHANGE)`; elsewhere two renames). A crash or kill at
//! any point before that leaves the previous dataset as it was.

use std::path::{Path, PathBuf};

use polars::prelude::*;
use rayon::prelude::*;

use super::{DatasetError, Manifest, TableWriter, Tables};

/// Environment variable for crash tests: when set to a table name, the
/// process aborts (as if killed) right after writing that table.
pub const ABORT_AFTER_ENV: &str = "HOTSPOTS_TEST_ABORT_AFTER";

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DatasetError + '_ {
    move |source| DatasetError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes one frame as Parquet with LZ4 (LZ4_RAW): several times faster to
/// write than zstd for ~1.5x the size, and read by DuckDB, Arrow and polars.
pub fn write_parquet(path: &Path, df: &mut DataFrame) -> Result<(), DatasetError> {
    write_parquet_with(path, df, ParquetCompression::Lz4Raw)
}

/// Writes one frame as Parquet with the given compression; a frame with
/// geometry columns as GeoParquet ([`super::geoparquet::prepare`] adds its
/// covering column and metadata).
pub fn write_parquet_with(
    path: &Path,
    df: &mut DataFrame,
    compression: ParquetCompression,
) -> Result<(), DatasetError> {
    let geo = super::geoparquet::prepare(df, &path.display().to_string())?;
    let file = std::fs::File::create(path).map_err(io_err(path))?;
    ParquetWriter::new(std::io::BufWriter::new(file))
        .with_compression(compression)
        .with_key_value_metadata(Some(super::geoparquet::footer(df.schema(), geo.as_deref())))
        .finish(df)
        .map_err(|source| DatasetError::Polars {
            path: path.display().to_string(),
            source,
        })?;
    Ok(())
}

/// The directory that holds the dataset at `out`, and the dataset's name
/// (`out`'s last component; `out/` and `out` are the same dataset). An
/// `out` with no name of its own (`/`, `..`) is refused.
pub fn parent_and_name(out: &Path) -> Result<(PathBuf, String), DatasetError> {
    let abs = std::path::absolute(out).map_err(io_err(out))?;
    match (abs.parent(), abs.file_name()) {
        (Some(parent), Some(name)) if !out.ends_with("..") => {
            Ok((parent.to_path_buf(), name.to_string_lossy().into_owned()))
        }
        _ => Err(DatasetError::NotADataset {
            path: out.display().to_string(),
        }),
    }
}

fn temp_dir_for(out: &Path) -> Result<PathBuf, DatasetError> {
    let (parent, name) = parent_and_name(out)?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    Ok(parent.join(format!(".{name}.tmp-{}-{nanos}", std::process::id())))
}

/// Whether a directory may be replaced by a new dataset: it does not
/// exist, is empty, or holds a `manifest.json` written by hotspots (any
/// schema version). Anything else is refused with
/// [`DatasetError::WouldReplace`], so `--out` pointed at a user's own
/// folder never deletes it.
pub fn check_replaceable(out: &Path) -> Result<(), DatasetError> {
    let refuse = |what: &str| DatasetError::WouldReplace {
        path: out.display().to_string(),
        what: what.to_string(),
    };
    let meta = match std::fs::symlink_metadata(out) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(io_err(out)(source)),
    };
    if meta.file_type().is_symlink() {
        return Err(refuse("is a symbolic link"));
    }
    if !meta.is_dir() {
        return Err(refuse("is a file, not a directory"));
    }
    let mut entries = std::fs::read_dir(out).map_err(io_err(out))?;
    if entries.next().is_none() {
        return Ok(());
    }
    let manifest = out.join("manifest.json");
    let text = match std::fs::read(&manifest) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(refuse("is a directory with files in it but no manifest.json"))
        }
        Err(source) => return Err(io_err(&manifest)(source)),
    };
    let ours = serde_json::from_slice::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .is_some_and(|o| {
            ["schema_version", "hotspots_version", "crs_metric"]
                .iter()
                .all(|k| o.contains_key(*k))
        });
    if ours {
        Ok(())
    } else {
        Err(refuse("has a manifest.json that hotspots did not write"))
    }
}

/// The process id in a temporary directory's name
/// (`.NAME.tmp-PID-NANOS`), if it is one of `name`'s.
fn temp_owner(file_name: &str, name: &str) -> Option<u32> {
    let rest = file_name.strip_prefix(&format!(".{name}.tmp-"))?;
    rest.split('-').next()?.parse().ok()
}

/// Whether process `pid` is running (Linux: `/proc/PID` exists; elsewhere
/// assumed to be, so nothing is removed that might be in use).
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// Removes the temporary directories of ingests into `out` that were
/// killed: those whose owning process is gone. Called with the dataset's
/// [`super::lock::DatasetLock`] held, so no live ingest is writing one.
fn remove_orphan_temps(out: &Path) -> Result<(), DatasetError> {
    let (parent, name) = parent_and_name(out)?;
    if let Ok(entries) = std::fs::read_dir(&parent) {
        for e in entries.flatten() {
            let file_name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = temp_owner(&file_name, &name) {
                if !process_alive(pid) {
                    tracing::debug!(dir = %e.path().display(), pid, "removing a killed ingest's temporary directory");
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
    }
    Ok(())
}

/// Writes `tables` (and `extra_files`: (path inside the dataset, bytes)) to `out`, replacing the dataset
/// there (never a directory that is not one: [`check_replaceable`]). The
/// caller holds `out`'s [`super::lock::DatasetLock`]. The manifest's
/// `build_seconds` becomes the time since `started` (the ingest's start)
/// when every table is written, so it counts writing too; the manifest as
/// written is returned.
pub fn write_atomic(
    out: &Path,
    tables: &Tables,
    extra_files: &[(&str, Vec<u8>)],
    started: std::time::Instant,
) -> Result<Manifest, DatasetError> {
    check_replaceable(out)?;
    remove_orphan_temps(out)?;
    let tmp = temp_dir_for(out)?;
    std::fs::create_dir_all(&tmp).map_err(io_err(&tmp))?;
    let result = write_into(&tmp, tables, extra_files, started).and_then(|m| swap_into_place(&tmp, out).map(|()| m));
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

fn write_into(
    tmp: &Path,
    tables: &Tables,
    extra_files: &[(&str, Vec<u8>)],
    started: std::time::Instant,
) -> Result<Manifest, DatasetError> {
    let mut jobs: Vec<(&str, &dyn TableWriter)> = vec![
        ("incidents", tables.incidents.as_ref()),
        ("rejects", &tables.rejects),
        ("files", &tables.files),
        ("wards", &tables.wards),
        ("boroughs", &tables.boroughs),
    ];
    jobs.extend(
        tables
            .pois
            .iter()
            .map(|(name, df)| (name.as_str(), df as &dyn TableWriter)),
    );
    let abort_after = std::env::var(ABORT_AFTER_ENV).ok();
    // The incidents table parallelises inside; the small tables alongside it.
    let (first, rest) = jobs.split_at(1);
    let write = |(name, table): &(&str, &dyn TableWriter)| -> Result<(), DatasetError> {
        let t = std::time::Instant::now();
        table.write_parquet(&tmp.join(format!("{name}.parquet")))?;
        tracing::debug!(
            table = *name,
            elapsed_ms = t.elapsed().as_millis() as u64,
            "wrote table"
        );
        if abort_after.as_deref() == Some(*name) {
            // Simulates `kill -9` mid-ingest for the crash test.
            std::process::abort();
        }
        Ok(())
    };
    let (a, b) = rayon::join(
        || first.iter().try_for_each(write),
        || rest.par_iter().try_for_each(write),
    );
    a?;
    b?;
    if tables.partition_by_month {
        let t = std::time::Instant::now();
        let parts = super::partition::write_by_month(&tmp.join("incidents.parquet"), &tmp.join(super::partition::DIR))?;
        tracing::debug!(
            parts,
            elapsed_ms = t.elapsed().as_millis() as u64,
            "wrote incidents by month"
        );
    }
    // Files the writer keeps beside the tables (the ingest's re-parse
    // cache, `cache/index.json`).
    for (rel, bytes) in extra_files {
        let path = tmp.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        std::fs::write(&path, bytes).map_err(io_err(&path))?;
    }
    if abort_after.as_deref() == Some("cache") {
        std::process::abort();
    }
    // The manifest goes last: a directory with a manifest is complete.
    let mut manifest = tables.manifest.clone();
    manifest.build_seconds = started.elapsed().as_secs_f64();
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| DatasetError::Manifest {
        path: tmp.join("manifest.json").display().to_string(),
        message: e.to_string(),
    })?;
    let mpath = tmp.join("manifest.json");
    std::fs::write(&mpath, text).map_err(io_err(&mpath))?;
    Ok(manifest)
}

fn swap_into_place(tmp: &Path, out: &Path) -> Result<(), DatasetError> {
    // Checked again: the directory may have changed while the tables were
    // written (the lock keeps other ingests out, not other programs).
    check_replaceable(out)?;
    if !out.exists() {
        if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        return std::fs::rename(tmp, out).map_err(io_err(out));
    }
    exchange(tmp, out)?;
    // `tmp` now holds the old dataset.
    std::fs::remove_dir_all(tmp).map_err(io_err(tmp))
}

/// Swaps `a` and `b` in one step where the system can, else by renames.
fn exchange(a: &Path, b: &Path) -> Result<(), DatasetError> {
    match crate::sys::rename_exchange(a, b) {
        Ok(true) => Ok(()),
        Ok(false) => exchange_by_renames(a, b),
        Err(source) => Err(DatasetError::Io {
            path: b.display().to_string(),
            source,
        }),
    }
}

/// Fallback for file systems without RENAME_EXCHANGE: a short window where
/// `b` is missing but `b` sits complete under a side name.
fn exchange_by_renames(a: &Path, b: &Path) -> Result<(), DatasetError> {
    let side = a.with_extension("swap");
    std::fs::rename(b, &side).map_err(io_err(b))?;
    std::fs::rename(a, b).map_err(io_err(a))?;
    std::fs::rename(&side, a).map_err(io_err(&side))
}
