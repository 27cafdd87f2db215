//! The incidents table, assembled and written in row groups.
//!
//! Parsed rows stay compact until the end (coded text, a point id instead
//! of coordinates, ward and nearest POIs); the Parquet file is then written
//! one row group at a time, each built from the compact rows just before it
//! is encoded, so the whole table never exists as a polars frame in memory.

use std::path::Path;

use polars::prelude::*;
use rayon::prelude::*;

use super::locate::Points;
use super::rows::IncidentRows;
use super::{Content, ParsedFile};
use crate::dataset::{DatasetError, TableWriter};

/// Rows per row group: large enough for good dictionary pages and
/// statistics, small enough to keep only a few tens of MB in flight.
const ROW_GROUP_ROWS: usize = 1 << 16;

/// Everything the incidents table is made of.
pub struct IncidentTable {
    pub(super) files: Vec<ParsedFile>,
    /// Per file, per row: accepted after de-duplication across files.
    pub(super) keep: Vec<Vec<bool>>,
    pub(super) points: Points,
    /// Per config source: name and kind.
    pub(super) sources: Vec<(String, &'static str)>,
    /// File-table id of each file's first member.
    pub(super) member_base: Vec<u32>,
    /// Per ward index: ward code, borough code.
    pub(super) wards: Vec<(String, Option<String>)>,
    pub(super) school_ids: Vec<String>,
    pub(super) station_ids: Vec<String>,
}

fn polars_err(path: &Path) -> impl Fn(PolarsError) -> DatasetError + '_ {
    move |source| DatasetError::Polars {
        path: path.display().to_string(),
        source,
    }
}

impl IncidentTable {
    /// Row groups: runs of consecutive files, all fresh or all reused,
    /// each with the incident id of its first row.
    fn groups(&self) -> Vec<(std::ops::Range<usize>, u32)> {
        let kept: Vec<u64> = self
            .keep
            .iter()
            .map(|k| k.iter().filter(|x| **x).count() as u64)
            .collect();
        let mut groups = Vec::new();
        let (mut start, mut rows, mut first_id) = (0, 0u64, 0u64);
        for (i, k) in kept.iter().enumerate() {
            let kind_changes = i > start && self.files[i].is_reused() != self.files[start].is_reused();
            if kind_changes || (rows > 0 && rows + k > ROW_GROUP_ROWS as u64) {
                groups.push((start..i, first_id as u32));
                (start, first_id, rows) = (i, first_id + rows, 0);
            }
            rows += k;
        }
        if start < self.files.len() {
            groups.push((start..self.files.len(), first_id as u32));
        }
        groups
    }

    /// The frame of files `range`, its incident ids starting at `first_id`.
    fn group_frame(&self, range: std::ops::Range<usize>, first_id: u32) -> PolarsResult<DataFrame> {
        if !self.files[range.start].is_reused() {
            return self.fresh_frame(range, first_id);
        }
        let mut parts = range.map(|fi| self.reused_frame(fi));
        let mut df = parts.next().unwrap_or_else(|| Ok(DataFrame::empty()))?;
        for p in parts {
            df.vstack_mut(&p?)?;
        }
        df.rechunk_mut_par();
        let n = df.height() as u32;
        df.replace(
            "incident_id",
            Column::new("incident_id".into(), (first_id..first_id + n).collect::<Vec<u32>>()),
        )?;
        Ok(df)
    }

    /// A reused file's rows with their file ids renumbered.
    fn reused_frame(&self, fi: usize) -> PolarsResult<DataFrame> {
        let Content::Reused(r) = &self.files[fi].content else {
            unreachable!("reused_frame of a fresh file")
        };
        let keep = &self.keep[fi];
        let base = self.member_base[fi];
        let mask = BooleanChunked::from_slice("keep".into(), keep);
        let mut df = r.frame.filter(&mask)?;
        let ids: Vec<u32> = r
            .member
            .iter()
            .zip(keep)
            .filter(|(_, k)| **k)
            .map(|(m, _)| base + m)
            .collect();
        df.replace("file_id", Column::new("file_id".into(), ids))?;
        Ok(df)
    }

    /// Fresh files' rows, built column by column from the compact rows, their
    /// incident ids starting at `first_id`.
    fn fresh_frame(&self, range: std::ops::Range<usize>, first_id: u32) -> PolarsResult<DataFrame> {
        let files = &self.files[range.clone()];
        let keep = &self.keep[range.clone()];
        let bases = &self.member_base[range];
        let n: usize = keep.iter().map(|k| k.iter().filter(|x| **x).count()).sum();
        fn rows_of(f: &ParsedFile) -> &IncidentRows {
            match &f.content {
                Content::Fresh(p) => &p.rows,
                Content::Reused(_) => unreachable!("fresh_frame of a reused file"),
            }
        }
        let points = &self.points;
        // `$value` for every kept row `$r` of `$rows` (file `$fi`).
        macro_rules! column {
            ($name:expr, |$fi:ident, $f:ident, $rows:ident, $r:ident| $value:expr) => {{
                let mut v = Vec::with_capacity(n);
                for ($fi, $f) in files.iter().enumerate() {
                    let $rows = rows_of($f);
                    for $r in 0..$rows.len() {
                        if keep[$fi][$r] {
                            v.push($value);
                        }
                    }
                }
                Column::new($name.into(), v)
            }};
        }
        let point = |id: u32| points.get(id).expect("kept rows have located points");
        let ward = |id: u32| &self.wards[point(id).ward.expect("kept rows lie in a ward") as usize];
        let months: std::collections::BTreeMap<u32, String> = files
            .iter()
            .flat_map(|f| rows_of(f).month.iter().map(|m| (*m, crate::month::format(*m))))
            .collect();
        let sources = &self.sources;
        // Columns are independent: build them in parallel.
        let builders: Vec<Box<dyn Fn() -> Column + Sync + '_>> = vec![
            Box::new(|| {
                Column::new(
                    "incident_id".into(),
                    (first_id..first_id + n as u32).collect::<Vec<u32>>(),
                )
            }),
            Box::new(|| column!("source", |_fi, f, rows, r| sources[f.source].0.as_str())),
            Box::new(|| column!("kind", |_fi, f, rows, r| sources[f.source].1)),
            Box::new(|| column!("file_id", |fi, _f, rows, r| bases[fi] + rows.file[r])),
            Box::new(|| column!("line", |_fi, f, rows, r| rows.line[r])),
            Box::new(|| {
                let mut b = StringChunkedBuilder::new("crime_id".into(), n);
                let mut buf = [0u8; 64];
                for (fi, f) in files.iter().enumerate() {
                    let rows = rows_of(f);
                    for r in (0..rows.len()).filter(|&r| keep[fi][r]) {
                        b.append_option(rows.crime_id.text(r, &mut buf));
                    }
                }
                b.finish().into_column()
            }),
            Box::new(|| column!("api_id", |_fi, f, rows, r| rows.api_id(r))),
            Box::new(|| column!("month", |_fi, f, rows, r| months[&rows.month[r]].as_str())),
            Box::new(|| column!("month_index", |_fi, f, rows, r| rows.month[r])),
            Box::new(|| column!("crime_type", |_fi, f, rows, r| rows.crime_type.get(r))),
            Box::new(|| column!("lon", |_fi, f, rows, r| point(rows.point[r]).lon)),
            Box::new(|| column!("lat", |_fi, f, rows, r| point(rows.point[r]).lat)),
            Box::new(|| column!("easting_m", |_fi, f, rows, r| point(rows.point[r]).easting_m)),
            Box::new(|| column!("northing_m", |_fi, f, rows, r| point(rows.point[r]).northing_m)),
            Box::new(|| column!("location", |_fi, f, rows, r| rows.location.get_opt(r))),
            Box::new(|| column!("lsoa_code", |_fi, f, rows, r| rows.lsoa_code.get_opt(r))),
            Box::new(|| column!("falls_within", |_fi, f, rows, r| rows.falls_within.get_opt(r))),
            Box::new(|| column!("last_outcome", |_fi, f, rows, r| rows.outcome.get_opt(r))),
            Box::new(|| column!("ward_code", |_fi, f, rows, r| ward(rows.point[r]).0.as_str())),
            Box::new(|| column!("borough_code", |_fi, f, rows, r| ward(rows.point[r]).1.as_deref())),
            Box::new(|| {
                column!("nearest_school_id", |_fi, f, rows, r| point(rows.point[r])
                    .school
                    .map(|(i, _)| self.school_ids[i as usize].as_str()))
            }),
            Box::new(|| {
                column!("nearest_school_m", |_fi, f, rows, r| point(rows.point[r])
                    .school
                    .map(|s| s.1))
            }),
            Box::new(|| {
                column!("nearest_station_id", |_fi, f, rows, r| point(rows.point[r])
                    .station
                    .map(|(i, _)| self.station_ids[i as usize].as_str()))
            }),
            Box::new(|| {
                column!("nearest_station_m", |_fi, f, rows, r| point(rows.point[r])
                    .station
                    .map(|s| s.1))
            }),
        ];
        let columns: Vec<Column> = builders.par_iter().map(|b| b()).collect();
        DataFrame::new(n, columns)
    }
}

impl TableWriter for IncidentTable {
    /// Writes the table as Parquet (uncompressed), one row group per group of files.
    fn write_parquet(&self, path: &Path) -> Result<(), DatasetError> {
        let err = polars_err(path);
        let groups = self.groups();
        let file = std::fs::File::create(path).map_err(|source| DatasetError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let mut current = match groups.first() {
            Some((g, first)) => self.group_frame(g.clone(), *first),
            // No rows: the schema alone.
            None => self.fresh_frame(0..0, 0),
        }
        .map_err(&err)?;
        let mut writer = ParquetWriter::new(std::io::BufWriter::new(file))
            // Uncompressed: the bulk is dictionary codes and random hex ids,
            // which LZ4 shrank by only 13% (103 -> 90 MB for the Met
            // burglaries) for ~8% of the whole ingest's time.
            .with_compression(ParquetCompression::Uncompressed)
            .batched(current.schema())
            .map_err(&err)?;
        // One group at a time: building and encoding are each parallel over
        // columns, and overlapping them saved no time but held two groups.
        let (mut tb, mut tw) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
        let t = std::time::Instant::now();
        writer.write_batch(&current).map_err(&err)?;
        tw += t.elapsed();
        for (g, first) in groups.into_iter().skip(1) {
            drop(std::mem::replace(&mut current, DataFrame::empty()));
            let t = std::time::Instant::now();
            current = self.group_frame(g, first).map_err(&err)?;
            tb += t.elapsed();
            let t = std::time::Instant::now();
            writer.write_batch(&current).map_err(&err)?;
            tw += t.elapsed();
        }
        let t = std::time::Instant::now();
        writer.finish().map_err(&err)?;
        tracing::debug!(
            build_ms = tb.as_millis() as u64,
            encode_ms = tw.as_millis() as u64,
            finish_ms = t.elapsed().as_millis() as u64,
            "incidents table"
        );
        Ok(())
    }
}
