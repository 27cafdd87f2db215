//! The parse cache: each incident file's parsed rows and parse-time rejects,
//! keyed by the file's sha256 and the parser settings. Ingesting again with
//! one more month parses only the new file; unchanged files come from here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::write::write_parquet_with;
use super::{read_parquet, DatasetError};
use crate::config::IncidentSource;
use crate::ingest::csv_incidents::Parsed;
use crate::ingest::reject::{Reject, RejectReason};
use crate::ingest::rows::{IncidentRows, StrCol};

/// Bumped when parsing changes, so old caches are not trusted.
const PARSER_VERSION: u32 = 2;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    fingerprint: String,
    members: Vec<String>,
    rows_read: u64,
}

/// Parsed files, either read from a previous dataset or fresh from this ingest.
#[derive(Default)]
pub struct Cache {
    /// Where the entries' parquet files live (a previous dataset's cache dir).
    dir: Option<PathBuf>,
    index: HashMap<String, Entry>,
    fresh: Vec<(String, Entry, Parsed)>,
}

/// What determines how a file parses and locates, besides its bytes:
/// the parser settings and (`spatial_key`) the boundaries and POIs.
fn fingerprint(src: &IncidentSource, spatial_key: &str) -> String {
    format!(
        "v{PARSER_VERSION}:{spatial_key}:{}:{}:{}",
        serde_json::to_string(&src.format).unwrap_or_default(),
        src.kind.as_str(),
        serde_json::to_string(&src.columns).unwrap_or_default()
    )
}

impl Cache {
    /// The cache of the dataset at `dataset_dir`, if it has one.
    pub fn open(dataset_dir: &Path) -> Option<Cache> {
        let dir = dataset_dir.join("cache");
        let text = std::fs::read_to_string(dir.join("index.json")).ok()?;
        let index = serde_json::from_str(&text).ok()?;
        Some(Cache {
            dir: Some(dir),
            index,
            fresh: Vec::new(),
        })
    }

    /// The parsed content of a file with this sha256, if cached for the same parser settings.
    pub fn take(&self, sha256: &str, src: &IncidentSource, spatial_key: &str) -> Option<(Vec<String>, Parsed)> {
        let entry = self.index.get(sha256)?;
        if entry.fingerprint != fingerprint(src, spatial_key) {
            return None;
        }
        let dir = self.dir.as_ref()?;
        let rows = read_parquet(&dir.join(format!("{sha256}.rows.parquet"))).ok()?;
        let rejects = read_parquet(&dir.join(format!("{sha256}.rejects.parquet"))).ok()?;
        Some((
            entry.members.clone(),
            Parsed {
                rows: rows_from_frame(&rows).ok()?,
                rejects: rejects_from_frame(&rejects).ok()?,
                rows_read: entry.rows_read,
            },
        ))
    }

    /// A cache holding this ingest's parsed files.
    pub fn from_parsed(
        files: impl Iterator<Item = (String, IncidentSource, Vec<String>, Parsed)>,
        spatial_key: &str,
    ) -> Cache {
        Cache {
            dir: None,
            index: HashMap::new(),
            fresh: files
                .map(|(sha, src, members, parsed)| {
                    let entry = Entry {
                        fingerprint: fingerprint(&src, spatial_key),
                        members,
                        rows_read: parsed.rows_read,
                    };
                    (sha, entry, parsed)
                })
                .collect(),
        }
    }

    /// Writes the cache into `dir`. Files already in `previous_dir` (same
    /// sha256) are hard-linked rather than written again.
    pub fn write(&self, dir: &Path, previous_dir: &Path) -> Result<(), DatasetError> {
        std::fs::create_dir_all(dir).map_err(|source| DatasetError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        self.fresh
            .par_iter()
            .try_for_each(|(sha, _, parsed)| -> Result<(), DatasetError> {
                for suffix in ["rows", "rejects"] {
                    let name = format!("{sha}.{suffix}.parquet");
                    let target = dir.join(&name);
                    if std::fs::hard_link(previous_dir.join(&name), &target).is_ok() {
                        continue;
                    }
                    let mut df = if suffix == "rows" {
                        rows_to_frame(&parsed.rows)
                    } else {
                        rejects_to_frame(&parsed.rejects)
                    }
                    .map_err(|source| DatasetError::Polars {
                        path: target.display().to_string(),
                        source,
                    })?;
                    // LZ4: the cache is read back by this program only, and fast matters more than small.
                    write_parquet_with(&target, &mut df, ParquetCompression::Lz4Raw)?;
                }
                Ok(())
            })?;
        let index: HashMap<&String, &Entry> = self.fresh.iter().map(|(s, e, _)| (s, e)).collect();
        let path = dir.join("index.json");
        std::fs::write(&path, serde_json::to_string(&index).unwrap_or_default()).map_err(|source| DatasetError::Io {
            path: path.display().to_string(),
            source,
        })
    }
}

fn str_col(name: &str, c: &StrCol) -> Column {
    Column::new(name.into(), c.iter().collect::<Vec<_>>())
}

fn rows_to_frame(r: &IncidentRows) -> PolarsResult<DataFrame> {
    DataFrame::new(
        r.len(),
        vec![
            Column::new("file".into(), r.file.clone()),
            Column::new("line".into(), r.line.clone()),
            Column::new("raw_start".into(), r.raw_start.clone()),
            Column::new("raw_len".into(), r.raw_len.clone()),
            str_col("crime_id", &r.crime_id),
            Column::new("api_id".into(), r.api_id.clone()),
            Column::new("month".into(), r.month.clone()),
            str_col("crime_type", &r.crime_type),
            Column::new("lon".into(), r.lon.clone()),
            Column::new("lat".into(), r.lat.clone()),
            Column::new("easting_m".into(), r.easting_m.clone()),
            Column::new("northing_m".into(), r.northing_m.clone()),
            str_col("location", &r.location),
            str_col("lsoa_code", &r.lsoa_code),
            str_col("falls_within", &r.falls_within),
            str_col("outcome", &r.outcome),
            Column::new("ward".into(), r.ward.clone()),
            Column::new("school".into(), r.school.clone()),
            Column::new("school_m".into(), r.school_m.clone()),
            Column::new("station".into(), r.station.clone()),
            Column::new("station_m".into(), r.station_m.clone()),
        ],
    )
}

fn rows_from_frame(df: &DataFrame) -> PolarsResult<IncidentRows> {
    let u32s = |n: &str| -> PolarsResult<Vec<u32>> { Ok(df.column(n)?.u32()?.into_no_null_iter().collect()) };
    let f64s = |n: &str| -> PolarsResult<Vec<f64>> { Ok(df.column(n)?.f64()?.into_no_null_iter().collect()) };
    let strs = |n: &str| -> PolarsResult<StrCol> {
        let mut c = StrCol::default();
        for v in df.column(n)?.str()?.iter() {
            c.push(v.unwrap_or(""));
        }
        Ok(c)
    };
    Ok(IncidentRows {
        file: u32s("file")?,
        line: u32s("line")?,
        raw_start: u32s("raw_start")?,
        raw_len: u32s("raw_len")?,
        crime_id: strs("crime_id")?,
        api_id: df.column("api_id")?.i64()?.into_no_null_iter().collect(),
        month: u32s("month")?,
        crime_type: strs("crime_type")?,
        lon: f64s("lon")?,
        lat: f64s("lat")?,
        easting_m: f64s("easting_m")?,
        northing_m: f64s("northing_m")?,
        location: strs("location")?,
        lsoa_code: strs("lsoa_code")?,
        falls_within: strs("falls_within")?,
        outcome: strs("outcome")?,
        ward: u32s("ward")?,
        school: u32s("school")?,
        school_m: f64s("school_m")?,
        station: u32s("station")?,
        station_m: f64s("station_m")?,
    })
}

fn rejects_to_frame(r: &[Reject]) -> PolarsResult<DataFrame> {
    DataFrame::new(
        r.len(),
        vec![
            Column::new("file".into(), r.iter().map(|x| x.file).collect::<Vec<_>>()),
            Column::new("line".into(), r.iter().map(|x| x.line).collect::<Vec<_>>()),
            Column::new("reason".into(), r.iter().map(|x| x.reason.as_str()).collect::<Vec<_>>()),
            Column::new("detail".into(), r.iter().map(|x| x.detail.as_str()).collect::<Vec<_>>()),
            Column::new("raw".into(), r.iter().map(|x| x.raw.as_str()).collect::<Vec<_>>()),
        ],
    )
}

fn rejects_from_frame(df: &DataFrame) -> PolarsResult<Vec<Reject>> {
    let file = df.column("file")?.u32()?;
    let line = df.column("line")?.u32()?;
    let reason = df.column("reason")?.str()?;
    let detail = df.column("detail")?.str()?;
    let raw = df.column("raw")?.str()?;
    (0..df.height())
        .map(|i| {
            Ok(Reject {
                file: file.get(i).unwrap_or(0),
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
