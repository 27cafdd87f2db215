//! The incidents table, assembled and written in row groups.
//!
//! Parsed rows stay compact until the end (coded text, a point id instead
//! of coordinates, ward and nearest POIs); the Parquet file is then written
//! one row group at a time, each built from the compact rows just before it
//! is encoded, so the whole table never exists as a polars frame in memory.

use crate::dataset::schema::incidents as col;
use std::path::Path;

use polars::io::parquet::write::BatchedWriter;
use polars::prelude::*;
use polars_arrow::array::{MutableBinaryViewArray, PrimitiveArray};
use rayon::prelude::*;

use super::locate::{Located, Points};
use super::read::{Content, ParsedFile};
use super::rows::{CodedCol, IncidentRows};
use crate::dataset::geoparquet::{self, Bounds, Crs, GeoColumn};
use crate::dataset::row_group::{self, ColumnChunk, DictColumn, Remap};
use crate::dataset::{DatasetError, TableWriter};

/// Rows per row group: large enough for good dictionary pages and
/// statistics, small enough to keep only a few tens of MB in flight.
/// (Small in unit tests, so that their tables span several row groups.)
const ROW_GROUP_ROWS: usize = if cfg!(test) { 1 << 12 } else { 1 << 16 };

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

/// The rows of a fresh file.
fn rows_of(f: &ParsedFile) -> &IncidentRows {
    match &f.content {
        Content::Fresh(p) => &p.rows,
        Content::Reused(_) => unreachable!("the fresh rows of a reused file"),
    }
}

/// A text column keyed by an index (`index` of each located point) into a
/// list (`values`, of `len` values, `None` for a null).
fn indexed<'a>(
    located: &[Located],
    index: impl Fn(&Located) -> Option<u32>,
    values: impl Fn(u32) -> Option<&'a str>,
    len: usize,
) -> ColumnChunk {
    let mut d = DictColumn::with_capacity(located.len());
    let mut remap = Remap::new(len);
    for l in located {
        let key = index(l).and_then(|i| values(i).map(|v| remap.key(&mut d, i, |_| v)));
        d.push(key);
    }
    d.finish()
}

/// The ids of each located point's nearest POI (`poi`: index into `ids`,
/// distance), null where there is none.
fn nearest_ids(located: &[Located], poi: impl Fn(&Located) -> Option<(u32, f64)>, ids: &[String]) -> ColumnChunk {
    indexed(
        located,
        |l| poi(l).map(|p| p.0),
        |i| Some(ids[i as usize].as_str()),
        ids.len(),
    )
}

/// The incidents table's columns, in order ([`crate::dataset::schema::incidents_file_schema`]).
pub fn schema() -> Schema {
    crate::dataset::schema::incidents_file_schema()
}

/// A row group: files `files`, whose `rows` kept rows get incident ids from
/// `first_id` on.
struct Group {
    files: std::ops::Range<usize>,
    first_id: u32,
    rows: usize,
}

fn polars_err(path: &Path) -> impl Fn(PolarsError) -> DatasetError + '_ {
    move |source| DatasetError::Polars {
        path: path.display().to_string(),
        source,
    }
}

impl IncidentTable {
    /// Row groups: runs of consecutive files, all fresh or all reused.
    fn groups(&self) -> Vec<Group> {
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
                groups.push(Group {
                    files: start..i,
                    first_id: first_id as u32,
                    rows: rows as usize,
                });
                (start, first_id, rows) = (i, first_id + rows, 0);
            }
            rows += k;
        }
        if start < self.files.len() {
            groups.push(Group {
                files: start..self.files.len(),
                first_id: first_id as u32,
                rows: rows as usize,
            });
        }
        groups
    }

    /// The GeoParquet description of the points: both geometry columns,
    /// with the bounds of every kept row.
    fn geo_columns(&self) -> PolarsResult<Vec<GeoColumn>> {
        let (mut wgs, mut bng) = (Bounds::default(), Bounds::default());
        for (fi, f) in self.files.iter().enumerate() {
            let keep = &self.keep[fi];
            match &f.content {
                Content::Fresh(p) => {
                    for (r, id) in p.rows.point.iter().enumerate() {
                        if keep[r] {
                            let l = self.points.get(*id).expect("kept rows have located points");
                            wgs.add(Bounds::point(l.lon, l.lat));
                            bng.add(Bounds::point(l.easting_m, l.northing_m));
                        }
                    }
                }
                Content::Reused(r) => {
                    let get = |name: &str| -> PolarsResult<Vec<f64>> {
                        Ok(r.frame.column(name)?.f64()?.into_no_null_iter().collect())
                    };
                    let (lon, lat) = (get(col::LON)?, get(col::LAT)?);
                    let (e, n) = (get(col::EASTING_M)?, get(col::NORTHING_M)?);
                    for r in (0..lon.len()).filter(|&r| keep[r]) {
                        wgs.add(Bounds::point(lon[r], lat[r]));
                        bng.add(Bounds::point(e[r], n[r]));
                    }
                }
            }
        }
        let column = |name: &str, crs, bounds, covered| GeoColumn {
            name: name.to_string(),
            crs,
            geometry_types: vec!["Point".to_string()],
            bounds,
            covered,
        };
        Ok(vec![
            column(col::GEOMETRY, Crs::Crs84, wgs, true),
            column(col::GEOMETRY_BNG_WKB, Crs::Bng, bng, false),
        ])
    }

    /// The frame of a group of reused files.
    fn reused_group_frame(&self, group: Group) -> PolarsResult<DataFrame> {
        let first_id = group.first_id;
        let mut parts = group.files.map(|fi| self.reused_frame(fi));
        let mut df = parts.next().unwrap_or_else(|| Ok(DataFrame::empty()))?;
        for p in parts {
            df.vstack_mut(&p?)?;
        }
        df.rechunk_mut_par();
        let n = df.height() as u32;
        df.replace(
            col::INCIDENT_ID,
            Column::new(col::INCIDENT_ID.into(), (first_id..first_id + n).collect::<Vec<u32>>()),
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
        df.replace(col::FILE_ID, Column::new(col::FILE_ID.into(), ids))?;
        Ok(df)
    }

    /// Writes a group of fresh files' rows as one row group, column by column
    /// from the compact rows. Text columns go as dictionaries of the codes the
    /// rows hold (see [`crate::dataset::row_group`]): nothing is hashed per
    /// row.
    fn write_fresh_group<W: std::io::Write>(&self, writer: &mut BatchedWriter<W>, group: Group) -> PolarsResult<()> {
        let Group {
            files: range,
            first_id,
            rows: n,
        } = group;
        let files = &self.files[range.clone()];
        let keep = &self.keep[range.clone()];
        let bases = &self.member_base[range];
        // `$body` for every kept row `$r` of `$rows` (file `$fi`, `$f`).
        macro_rules! each_kept {
            (|$fi:ident, $f:ident, $rows:ident, $r:ident| $body:expr) => {
                for ($fi, $f) in files.iter().enumerate() {
                    let $rows = rows_of($f);
                    for $r in 0..$rows.len() {
                        if keep[$fi][$r] {
                            $body;
                        }
                    }
                }
            };
        }
        // A numeric column of `$value`s.
        macro_rules! numbers {
            (|$fi:ident, $f:ident, $rows:ident, $r:ident| $value:expr) => {{
                let mut v = Vec::with_capacity(n);
                each_kept!(|$fi, $f, $rows, $r| v.push($value));
                ColumnChunk::primitive(PrimitiveArray::from_vec(v))
            }};
        }
        let sources = &self.sources;
        // The source's name (or its kind) for every row of a file.
        let per_file = |kind: bool| {
            let mut d = DictColumn::with_capacity(n);
            for (fi, f) in files.iter().enumerate() {
                let (name, k) = &sources[f.source];
                let k = d.key(if kind { k } else { name.as_str() });
                for _ in keep[fi].iter().filter(|k| **k) {
                    d.push(Some(k));
                }
            }
            d.finish()
        };
        // A column coded per file: each file's codes remapped into the group's
        // dictionary. Code 0 is the empty string: null unless `keep_empty`.
        let coded = |col: fn(&IncidentRows) -> &CodedCol, keep_empty: bool| {
            let mut d = DictColumn::with_capacity(n);
            for (fi, f) in files.iter().enumerate() {
                let rows = rows_of(f);
                let c = col(rows);
                let mut remap = Remap::new(c.values().len());
                for r in (0..rows.len()).filter(|&r| keep[fi][r]) {
                    let code = c.codes[r];
                    let key = (code != 0 || keep_empty)
                        .then(|| remap.key(&mut d, code, |code| c.values().get(code as usize)));
                    d.push(key);
                }
            }
            d.finish()
        };
        // The group's months as text (a file's rows are mostly of one month).
        let mut months = std::collections::BTreeMap::<u32, String>::new();
        for f in files {
            let mut last = None;
            for &m in &rows_of(f).month {
                if last != Some(m) {
                    months.entry(m).or_insert_with(|| crate::month::format(m));
                    last = Some(m);
                }
            }
        }
        // Each kept row's located point, in row order: ten columns come from
        // it, and the points lie scattered in memory, so they are fetched
        // once here (in parallel over files), not once per column.
        let located: Vec<Located> = files
            .par_iter()
            .zip(keep)
            .map(|(f, keep)| {
                let rows = rows_of(f);
                (0..rows.len())
                    .filter(|&r| keep[r])
                    .map(|r| *self.points.get(rows.point[r]).expect("kept rows have located points"))
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
            .concat();
        let ward = |l: &Located| l.ward.expect("kept rows lie in a ward");
        // A column from the located points: values, or `Option`s for nulls.
        let from_points = |value: &(dyn Fn(&Located) -> f64 + Sync)| {
            ColumnChunk::primitive(PrimitiveArray::from_vec(located.iter().map(value).collect()))
        };
        let from_points_opt = |value: &(dyn Fn(&Located) -> Option<f64> + Sync)| {
            ColumnChunk::primitive(PrimitiveArray::from_trusted_len_iter(located.iter().map(value)))
        };
        // Columns are independent: built (and encoded) in parallel, in the
        // order of [`schema`].
        let columns: Vec<Box<dyn Fn() -> ColumnChunk + Sync + '_>> = vec![
            Box::new(|| ColumnChunk::primitive(PrimitiveArray::from_vec((first_id..first_id + n as u32).collect()))),
            Box::new(|| per_file(false)),
            Box::new(|| per_file(true)),
            Box::new(|| numbers!(|fi, _f, rows, r| bases[fi] + rows.file[r])),
            Box::new(|| numbers!(|_fi, f, rows, r| rows.line[r])),
            Box::new(|| {
                let mut ids = MutableBinaryViewArray::<str>::with_capacity(n);
                let mut buf = [0u8; 64];
                each_kept!(|_fi, f, rows, r| ids.push(rows.crime_id.text(r, &mut buf)));
                ColumnChunk::plain_text(ids)
            }),
            Box::new(|| {
                let mut v = Vec::with_capacity(n);
                each_kept!(|_fi, f, rows, r| v.push(rows.api_id(r)));
                ColumnChunk::primitive(PrimitiveArray::from(v))
            }),
            Box::new(|| {
                let mut d = DictColumn::with_capacity(n);
                let mut last = (u32::MAX, 0);
                each_kept!(|_fi, f, rows, r| {
                    let m = rows.month[r];
                    if m != last.0 {
                        last = (m, d.key(months[&m].as_str()));
                    }
                    d.push(Some(last.1))
                });
                d.finish()
            }),
            Box::new(|| numbers!(|_fi, f, rows, r| rows.month[r])),
            Box::new(|| coded(|rows| &rows.crime_type, true)),
            Box::new(|| from_points(&|l| l.lon)),
            Box::new(|| from_points(&|l| l.lat)),
            Box::new(|| from_points(&|l| l.easting_m)),
            Box::new(|| from_points(&|l| l.northing_m)),
            Box::new(|| coded(|rows| &rows.location, false)),
            Box::new(|| coded(|rows| &rows.lsoa_code, false)),
            Box::new(|| coded(|rows| &rows.falls_within, false)),
            Box::new(|| coded(|rows| &rows.outcome, false)),
            Box::new(|| {
                indexed(
                    &located,
                    |l| Some(ward(l)),
                    |w| Some(self.wards[w as usize].0.as_str()),
                    self.wards.len(),
                )
            }),
            Box::new(|| {
                indexed(
                    &located,
                    |l| Some(ward(l)),
                    |w| self.wards[w as usize].1.as_deref(),
                    self.wards.len(),
                )
            }),
            Box::new(|| nearest_ids(&located, |l| l.school, &self.school_ids)),
            Box::new(|| from_points_opt(&|l| l.school.map(|s| s.1))),
            Box::new(|| nearest_ids(&located, |l| l.station, &self.station_ids)),
            Box::new(|| from_points_opt(&|l| l.station.map(|s| s.1))),
            Box::new(|| ColumnChunk::plain(geoparquet::point_wkb_array(located.iter().map(|l| (l.lon, l.lat)), n))),
            Box::new(|| {
                ColumnChunk::plain(geoparquet::point_wkb_array(
                    located.iter().map(|l| (l.easting_m, l.northing_m)),
                    n,
                ))
            }),
            Box::new(|| {
                ColumnChunk::as_polars_would(geoparquet::point_bbox_array(
                    located.iter().map(|l| l.lon).collect(),
                    located.iter().map(|l| l.lat).collect(),
                ))
            }),
        ];
        row_group::write_row_group(writer, n, &columns, row_group::options_uncompressed())
    }

    /// A group of fresh files' rows as a polars frame, built column by column
    /// from the compact rows with polars' own column types: the reference the dictionary writer
    /// ([`IncidentTable::write_fresh_group`]) is tested against.
    #[cfg(test)]
    fn fresh_frame(&self, group: Group) -> PolarsResult<DataFrame> {
        let Group {
            files: range,
            first_id,
            rows: n,
        } = group;
        let files = &self.files[range.clone()];
        let keep = &self.keep[range.clone()];
        let bases = &self.member_base[range];
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
            Box::new(|| {
                column!("geometry", |_fi, f, rows, r| {
                    let p = point(rows.point[r]);
                    geoparquet::point_wkb(p.lon, p.lat).to_vec()
                })
            }),
            Box::new(|| {
                column!("geometry_bng_wkb", |_fi, f, rows, r| {
                    let p = point(rows.point[r]);
                    geoparquet::point_wkb(p.easting_m, p.northing_m).to_vec()
                })
            }),
            Box::new(|| {
                let xs = column!("xmin", |_fi, f, rows, r| point(rows.point[r]).lon);
                let ys = column!("ymin", |_fi, f, rows, r| point(rows.point[r]).lat);
                let fields = [
                    xs.as_materialized_series().clone(),
                    ys.as_materialized_series().clone(),
                    xs.as_materialized_series().clone().with_name("xmax".into()),
                    ys.as_materialized_series().clone().with_name("ymax".into()),
                ];
                StructChunked::from_series("bbox".into(), n, fields.iter())
                    .expect("four columns of n rows")
                    .into_column()
            }),
        ];
        let columns: Vec<Column> = builders.par_iter().map(|b| b()).collect();
        DataFrame::new(n, columns)
    }
}

impl TableWriter for IncidentTable {
    /// Writes the table as Parquet (uncompressed), one row group per group
    /// of files: fresh files' rows from their codes, reused files' rows as
    /// the frame they were read back as.
    fn write_parquet(&self, path: &Path) -> Result<(), DatasetError> {
        let err = polars_err(path);
        let file = std::fs::File::create(path).map_err(|source| DatasetError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let mut writer = ParquetWriter::new(std::io::BufWriter::new(file))
            // Uncompressed: the bulk is dictionary codes and random hex ids,
            // which LZ4 shrank by only 13% (103 -> 90 MB for the Met
            // burglaries) for ~8% of the whole ingest's time.
            .with_compression(ParquetCompression::Uncompressed)
            .with_key_value_metadata(Some(geoparquet::footer(
                &schema(),
                Some(&self.geo_columns().map_err(&err)?),
            )))
            .batched(&schema())
            .map_err(&err)?;
        // One group at a time, each built and encoded in parallel over its
        // columns: overlapping groups saved no time but held two.
        let (mut fresh, mut reused) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
        for g in self.groups() {
            let t = std::time::Instant::now();
            if self.files[g.files.start].is_reused() {
                let df = self.reused_group_frame(g).map_err(&err)?;
                writer.write_batch(&df).map_err(&err)?;
                reused += t.elapsed();
            } else {
                self.write_fresh_group(&mut writer, g).map_err(&err)?;
                fresh += t.elapsed();
            }
        }
        let t = std::time::Instant::now();
        writer.finish().map_err(&err)?;
        tracing::debug!(
            fresh_ms = fresh.as_millis() as u64,
            reused_ms = reused.as_millis() as u64,
            finish_ms = t.elapsed().as_millis() as u64,
            "incidents table"
        );
        Ok(())
    }

    #[cfg(test)]
    fn reference_frame(&self) -> PolarsResult<DataFrame> {
        let mut df = DataFrame::empty_with_schema(&schema());
        for g in self.groups() {
            let part = if self.files[g.files.start].is_reused() {
                self.reused_group_frame(g)?
            } else {
                self.fresh_frame(g)?
            };
            df.vstack_mut(&part)?;
        }
        Ok(df)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::progress::Progress;

    /// The table written from codes reads back equal to the same table built
    /// by polars alone (`reference_frame`), on the demo city: several row
    /// groups, null outcomes and blank ids, a reused file beside fresh ones.
    #[test]
    fn the_table_written_from_codes_reads_back_as_polars_builds_it() {
        let dir = std::env::temp_dir().join(format!("hotspots-incident-table-{}", std::process::id()));
        let demo = crate::demo::run(&dir, 11, true).unwrap();
        let text = std::fs::read_to_string(&demo.config).unwrap();
        let config = Config::from_toml(&text, "demo.toml").unwrap();
        let check = |previous: Option<&crate::ingest::cache::Cache>| {
            let (tables, _) = crate::ingest::build(&config, &demo.data_root, &Progress::new(true), previous).unwrap();
            let path = dir.join("incidents-check.parquet");
            tables.incidents.write_parquet(&path).unwrap();
            let back = crate::dataset::read_parquet(&path).unwrap();
            let reference = tables.incidents.reference_frame().unwrap();
            let files = tables.manifest.sources.iter().flat_map(|s| &s.files);
            let reused = files.clone().filter(|f| f.reused).count();
            assert_eq!(
                reused > 0,
                previous.is_some(),
                "{reused} of {} files reused",
                files.count()
            );
            assert_eq!(back.schema(), reference.schema());
            assert_eq!(back.height(), reference.height());
            assert!(back.height() > 3 * super::ROW_GROUP_ROWS, "{} rows", back.height());
            for c in reference.columns() {
                let b = back.column(c.name()).unwrap();
                assert!(b.equals_missing(c), "column {} differs", c.name());
            }
            back
        };
        let back = check(None);
        assert!(back.column("crime_id").unwrap().null_count() > 0, "blank ids of ASB");
        // Every file reused from the demo's own dataset but one, which gains
        // a row with a blank location and outcome: the reused rows go through
        // polars' writer, the changed file's through ours, into one file.
        let file = std::fs::read_dir(demo.data_root.join("police_uk"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "csv"))
            .unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        let mut fields: Vec<&str> = text.lines().nth(1).unwrap().split(',').collect();
        let id = "f".repeat(64);
        (fields[0], fields[6], fields[10]) = (&id, "", "");
        std::fs::write(&file, format!("{text}{}\n", fields.join(","))).unwrap();
        let cache = crate::ingest::cache::Cache::open(&demo.dataset).expect("the demo dataset is a cache");
        let back = check(Some(&cache));
        assert_eq!(back.column("last_outcome").unwrap().null_count(), 1);
        assert_eq!(back.column("location").unwrap().null_count(), 1);
        std::fs::remove_dir_all(&dir).ok();
    }
}
