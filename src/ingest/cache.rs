//! Re-ingest without re-parsing: the previous dataset is its own cache.
//!
//! `cache/index.json` records, for each incident file by sha256, the parser
//! settings it was read with and where its rows went: a contiguous range of
//! `incidents.parquet` and of `rejects.parquet` (the tables are written in
//! file order). Ingesting again with one more month takes every unchanged
//! file's rows and rejects from those ranges and parses only the new file,
//! so the cache costs no second copy of the rows on disk or in memory.
//!
//! A file is taken from the cache only if none of its rows was rejected as a
//! duplicate of another file's row: those rejects depend on the other files,
//! so such a file is parsed again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::reject::{Reject, RejectReason};
use super::rows::IdCol;
use crate::config::IncidentSource;
use crate::dataset::manifest::LineCount;
use crate::dataset::read_parquet;
use crate::dataset::schema::{incidents as inc, rejects as rej};

/// Where the index lives inside a dataset directory.
pub const INDEX_PATH: &str = "cache/index.json";

/// Bumped when parsing or the index changes, so old caches are not trusted.
const PARSER_VERSION: u32 = 5;

/// Where one file's rows went in the dataset, and how it was parsed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub fingerprint: String,
    /// Member names ("" for a plain file).
    pub members: Vec<String>,
    pub rows_read: u64,
    #[serde(default)]
    pub lines: Option<LineCount>,
    #[serde(default)]
    pub warning: Option<String>,
    /// Rows rejected as duplicates of another file's rows.
    pub cross_file_duplicates: u64,
    /// The file-table id of its first member.
    pub first_file_id: u32,
    /// Row range in `incidents.parquet`: (first row, rows).
    pub incidents: (u64, u64),
    /// Row range in `rejects.parquet`: (first row, rows).
    pub rejects: (u64, u64),
}

/// One file's rows, taken from the previous dataset.
pub struct Reused {
    /// Its rows of the previous incidents table (columns as written).
    pub frame: DataFrame,
    /// Per row: member, line and crime id, for de-duplication.
    pub member: Vec<u32>,
    pub line: Vec<u32>,
    pub crime_id: IdCol,
    /// Its rejects, `file` relative to its first member.
    pub rejects: Vec<Reject>,
    pub rows_read: u64,
    pub lines: Option<LineCount>,
    pub warning: Option<String>,
}

/// The index of a previous dataset (reading), or of the one being written.
#[derive(Default)]
pub struct Cache {
    dir: Option<PathBuf>,
    index: HashMap<String, Entry>,
    /// The previous incidents and rejects tables, read on first use.
    tables: OnceLock<Option<(DataFrame, DataFrame)>>,
}

/// What determines how a file parses and locates, besides its bytes:
/// the source's name and parser settings and (`spatial_key`) the boundaries
/// and POIs.
pub fn fingerprint(src: &IncidentSource, spatial_key: &str) -> String {
    format!(
        "v{PARSER_VERSION}:{spatial_key}:{}:{}:{}:{}",
        src.name,
        serde_json::to_string(&src.format).unwrap_or_default(),
        src.kind.as_str(),
        serde_json::to_string(&src.columns).unwrap_or_default()
    )
}

impl Cache {
    /// The cache of the dataset at `dataset_dir`, if it has one.
    pub fn open(dataset_dir: &Path) -> Option<Cache> {
        let text = std::fs::read_to_string(dataset_dir.join(INDEX_PATH)).ok()?;
        let index = serde_json::from_str(&text).ok()?;
        Some(Cache {
            dir: Some(dataset_dir.to_path_buf()),
            index,
            tables: OnceLock::new(),
        })
    }

    /// A cache index for the dataset being written.
    pub fn new(entries: impl IntoIterator<Item = (String, Entry)>) -> Cache {
        Cache {
            dir: None,
            index: entries.into_iter().collect(),
            tables: OnceLock::new(),
        }
    }

    /// Reads the previous incidents and rejects tables now, if a file read
    /// with one of `sources` (this ingest's sources) may be reused. Call it
    /// before taking files in parallel: reading Parquet runs on polars'
    /// thread pool, and a rayon worker waiting for it may steal another
    /// `take`, which must not find the tables half-read (a deadlock on the
    /// lazy cell).
    pub fn preload(&self, sources: &[IncidentSource], spatial_key: &str) {
        let current: Vec<String> = sources.iter().map(|s| fingerprint(s, spatial_key)).collect();
        if self.index.values().any(|e| current.contains(&e.fingerprint)) {
            self.tables();
        }
    }

    fn tables(&self) -> Option<&(DataFrame, DataFrame)> {
        self.tables
            .get_or_init(|| {
                let dir = self.dir.as_ref()?;
                let incidents = read_parquet(&dir.join("incidents.parquet")).ok()?;
                let rejects = read_parquet(&dir.join("rejects.parquet")).ok()?;
                Some((incidents, rejects))
            })
            .as_ref()
    }

    /// The rows of a file with this sha256 from the previous dataset, if it
    /// was read with the same settings and can be reused (see the module doc).
    pub fn take(&self, sha256: &str, src: &IncidentSource, spatial_key: &str) -> Option<(Vec<String>, Reused)> {
        let entry = self.index.get(sha256)?;
        if entry.fingerprint != fingerprint(src, spatial_key) || entry.cross_file_duplicates > 0 {
            return None;
        }
        let (incidents, rejects) = self.tables()?;
        let (start, len) = entry.incidents;
        if start + len > incidents.height() as u64 || entry.rejects.0 + entry.rejects.1 > rejects.height() as u64 {
            return None;
        }
        let frame = incidents.slice(start as i64, len as usize);
        let first = entry.first_file_id;
        let member: Vec<u32> = frame
            .column(inc::FILE_ID)
            .ok()?
            .u32()
            .ok()?
            .into_no_null_iter()
            .map(|f| f.wrapping_sub(first))
            .collect();
        if member.iter().any(|m| *m as usize >= entry.members.len()) {
            return None;
        }
        let line: Vec<u32> = frame.column(inc::LINE).ok()?.u32().ok()?.into_no_null_iter().collect();
        let mut crime_id = IdCol::default();
        for v in frame.column(inc::CRIME_ID).ok()?.str().ok()?.iter() {
            crime_id.push(v.unwrap_or(""));
        }
        let rej = rejects.slice(entry.rejects.0 as i64, entry.rejects.1 as usize);
        let rejects = rejects_from_frame(&rej, first).ok()?;
        Some((
            entry.members.clone(),
            Reused {
                frame,
                member,
                line,
                crime_id,
                rejects,
                rows_read: entry.rows_read,
                lines: entry.lines,
                warning: entry.warning.clone(),
            },
        ))
    }

    /// The index as written into the dataset: its path inside the dataset
    /// directory and its bytes.
    pub fn index_file(&self) -> (&'static str, Vec<u8>) {
        (INDEX_PATH, serde_json::to_vec(&self.index).unwrap_or_default())
    }
}

/// Rejects as stored in `rejects.parquet`, with `file` made relative to
/// `first_file_id`.
fn rejects_from_frame(df: &DataFrame, first_file_id: u32) -> PolarsResult<Vec<Reject>> {
    let file = df.column(rej::FILE_ID)?.u32()?;
    let line = df.column(rej::LINE)?.u32()?;
    let reason = df.column(rej::REASON)?.str()?;
    let detail = df.column(rej::DETAIL)?.str()?;
    let raw = df.column(rej::RAW)?.str()?;
    (0..df.height())
        .map(|i| {
            Ok(Reject {
                file: file.get(i).unwrap_or(0).wrapping_sub(first_file_id),
                line: line.get(i).unwrap_or(0),
                reason: reason
                    .get(i)
                    .and_then(RejectReason::parse)
                    .ok_or_else(|| polars_err!(ComputeError: "bad reject reason"))?,
                detail: detail.get(i).unwrap_or("").to_string(),
                raw: raw.get(i).unwrap_or("").to_string(),
            })
        })
        .collect()
}
