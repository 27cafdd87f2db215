//! Ingest: raw files in, a validated, spatially joined [`Tables`] out.
//!
//! The flow: read boundaries and points of interest; read every incident
//! file in parallel (each parser keeps rows it cannot use as [`Reject`]s),
//! or take an unchanged file's rows from the previous dataset
//! ([`crate::dataset::cache`]); project and locate every distinct point once
//! (police.uk snaps crimes to a limited set of map points: ~99k places for
//! 736k located burglaries); de-duplicate by crime id across sources;
//! assemble the small tables and the manifest. The incidents table is
//! written row group by row group from the compact parsed rows.
//!
//! | file | owns |
//! |---|---|
//! | `sources.rs` | finding files (globs, folders), reading, gzip, sha256 |
//! | `boundaries.rs`, `pois.rs` | ward/borough layers (shapefile, GeoJSON) and points of interest |
//! | `csv_incidents.rs`, `police_api.rs` | the incident parsers (CSV fast path and full reader; the API's JSON) |
//! | `rows.rs` | the compact parsed rows: coded text, packed crime ids |
//! | `locate.rs` | projection, ward and nearest POIs per distinct point; per-file rejects |
//! | `reject.rs` | reject reasons and rows |
//! | `incident_table.rs` | the incidents table, written in row groups |
//! | `tables.rs` | the small tables: rejects, files, wards, boroughs, POIs |

pub mod boundaries;
pub mod csv_incidents;
mod incident_table;
pub mod locate;
pub mod pois;
pub mod police_api;
pub mod reject;
pub mod rows;
pub mod sources;
mod tables;

use std::path::Path;

use rayon::prelude::*;

use crate::config::{Config, ConfigError, IncidentFormat, IncidentSource};
use crate::crs::CrsError;
use crate::dataset::cache::{self, Cache, Reused};
use crate::dataset::lock::DatasetLock;
use crate::dataset::manifest::{FileRecord, LayerRecord, LineCount, Manifest, SourceRecord};
use crate::dataset::Tables;
use crate::index::{AreaIndex, PointIndex};
use crate::progress::Progress;
use csv_incidents::{ColumnMap, Parsed};
use locate::Locator;
use reject::{Reject, RejectReason};
use rustc_hash::FxHashMap;

pub use boundaries::Area;
pub use pois::Poi;

/// Errors that stop an ingest. Row-level problems are never errors: they
/// become rejects.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Crs(#[from] CrsError),
    #[error("{file}: {source}")]
    Io { file: String, source: std::io::Error },
    #[error("{file}, line {line}, field `{field}`: {message}")]
    Format {
        file: String,
        line: u64,
        field: String,
        message: String,
    },
    #[error("config key `{key}`: no files match {pattern}")]
    NoFiles { key: String, pattern: String },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Dataset(#[from] crate::dataset::DatasetError),
}

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
    let (tables, cache) = build(config, data_root, &progress, previous.as_ref())?;
    let bar = progress.step("writing dataset");
    let t = std::time::Instant::now();
    let manifest = crate::dataset::write::write_atomic(out, &tables, &cache, started)?;
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

/// One physical incident file after parsing and locating.
pub(crate) struct ParsedFile {
    source: usize,
    file: sources::SourceFile,
    sha256: String,
    bytes: u64,
    /// Member names ("" for a plain file; JSON paths inside an archive).
    members: Vec<String>,
    content: Content,
}

/// A file's rows: parsed now, or taken from the previous dataset.
pub(crate) enum Content {
    Fresh(Box<Parsed>),
    Reused(Box<Reused>),
}

impl ParsedFile {
    fn is_reused(&self) -> bool {
        matches!(self.content, Content::Reused(_))
    }

    fn len(&self) -> usize {
        match &self.content {
            Content::Fresh(p) => p.rows.len(),
            Content::Reused(r) => r.line.len(),
        }
    }

    fn crime_id(&self, r: usize) -> Option<rows::IdKey<'_>> {
        match &self.content {
            Content::Fresh(p) => p.rows.crime_id.key(r),
            Content::Reused(u) => u.crime_id.key(r),
        }
    }

    /// (member, line) of row `r`.
    fn place(&self, r: usize) -> (u32, u32) {
        match &self.content {
            Content::Fresh(p) => (p.rows.file[r], p.rows.line[r]),
            Content::Reused(u) => (u.member[r], u.line[r]),
        }
    }

    fn rejects(&self) -> &[Reject] {
        match &self.content {
            Content::Fresh(p) => &p.rejects,
            Content::Reused(u) => &u.rejects,
        }
    }

    fn rows_read(&self) -> u64 {
        match &self.content {
            Content::Fresh(p) => p.rows_read,
            Content::Reused(u) => u.rows_read,
        }
    }

    /// Its line count (CSV files) and the warning for a file without rows.
    fn lines_and_warning(&self, format: IncidentFormat) -> (Option<LineCount>, Option<String>) {
        match &self.content {
            Content::Fresh(p) => (
                (format != IncidentFormat::PoliceUkApiJson).then_some(p.lines),
                p.warning.clone(),
            ),
            Content::Reused(u) => (u.lines, u.warning.clone()),
        }
    }
}

/// Builds all tables in memory. `previous` offers parsed files from the last
/// ingest, keyed by sha256, so unchanged files are not parsed again.
pub fn build(
    config: &Config,
    root: &Path,
    progress: &Progress,
    previous: Option<&Cache>,
) -> Result<(Tables, Cache), IngestError> {
    let started = std::time::Instant::now();
    let ms = || started.elapsed().as_millis() as u64;
    // Wards (BNG geometry) and POIs first: locating incidents needs them.
    let (layers, pois) = rayon::join(|| read_boundaries(config, root, progress), || read_pois(config, root));
    let (mut wards, mut boroughs, mut layer_records) = layers?;
    let (pois, poi_records, poi_rejects) = pois?;
    if wards.is_empty() {
        return Err(IngestError::Invalid(format!(
            "{}: the ward layer has no features",
            config.boundaries.wards.path
        )));
    }
    layer_records.extend(poi_records);
    // Cached parses are valid only for the same boundaries and POIs.
    let spatial_key = sources::sha256_hex(serde_json::to_string(&layer_records).unwrap_or_default().as_bytes());
    let ward_index = AreaIndex::new(wards.iter().map(|w| w.geometry_bng.clone()).collect());
    let schools: Vec<&Poi> = pois.iter().filter(|p| p.kind == "school").collect();
    let stations: Vec<&Poi> = pois.iter().filter(|p| p.kind == "station").collect();
    let school_index = PointIndex::new(&schools.iter().map(|p| [p.easting_m, p.northing_m]).collect::<Vec<_>>());
    let station_index = PointIndex::new(&stations.iter().map(|p| [p.easting_m, p.northing_m]).collect::<Vec<_>>());
    let locator = Locator::new(&ward_index, &school_index, &station_index);
    tracing::debug!(
        elapsed_ms = ms(),
        rss_mib = crate::progress::memory_mib().0,
        "read boundaries and POIs"
    );

    // Incidents (parsed and located in parallel), while the boundaries'
    // WGS84 geometry is computed alongside.
    let (files, wgs) = rayon::join(
        || read_incident_files(config, root, progress, previous, &locator, &spatial_key),
        || -> Result<(), IngestError> {
            let t = std::time::Instant::now();
            let boroughs_file = config
                .boundaries
                .boroughs
                .as_ref()
                .map_or("boroughs", |b| b.path.as_str());
            boundaries::fill_wgs84_layers(&mut [
                (&mut wards, &config.boundaries.wards.path),
                (&mut boroughs, boroughs_file),
            ])?;
            tracing::debug!(elapsed_ms = t.elapsed().as_millis() as u64, "boundaries in WGS84");
            Ok(())
        },
    );
    let mut files = files?;
    wgs?;
    tracing::debug!(
        elapsed_ms = ms(),
        distinct_points = locator.distinct_points(),
        rss_mib = crate::progress::memory_mib().0,
        "read and located incident files"
    );

    // The global file table: one entry per file, or per member of an archive.
    let mut file_table: Vec<tables::FileEntry> = Vec::new();
    let mut member_base = Vec::with_capacity(files.len());
    for f in &files {
        member_base.push(file_table.len() as u32);
        let src = &config.incidents[f.source];
        for m in &f.members {
            let path = if m.is_empty() {
                f.file.rel.clone()
            } else {
                format!("{}!{}", f.file.rel, m)
            };
            file_table.push(tables::FileEntry {
                path,
                source: src.name.clone(),
                kind: src.kind,
            });
        }
    }
    let poi_file_base = file_table.len() as u32;
    for p in &config.pois {
        file_table.push(tables::FileEntry {
            path: p.path.clone(),
            source: format!("pois:{}", p.kind),
            kind: crate::config::IncidentKind::Other,
        });
    }

    // De-duplication by crime id across files, in config order: the first
    // row wins. (Repeats within a file were rejected while parsing.) Rows
    // with a blank id (ASB, BTP) are never duplicates.
    let bar = progress.step("de-duplicating by crime id");
    let mut late: Vec<Vec<(usize, RejectReason, String)>> = files.iter().map(|_| Vec::new()).collect();
    let mut keep: Vec<Vec<bool>> = files.iter().map(|f| vec![true; f.len()]).collect();
    for (first, (fi, r)) in repeats_across_files(&files) {
        keep[fi][r] = false;
        let (ffi, rr) = first;
        let (member, line) = files[ffi].place(rr);
        let path = &file_table[(member_base[ffi] + member) as usize].path;
        let id = files[fi].crime_id(r).expect("a repeat has an id");
        let detail = format!("Crime ID {id} already read from {path} line {line}");
        late[fi].push((r, RejectReason::DuplicateId, detail));
    }
    bar.finish_and_clear();
    // Those rejects need their raw rows: read just those files again.
    let late_rejects: Vec<Vec<Reject>> = files
        .par_iter()
        .zip(late.par_iter())
        .map(|(f, items)| late_rejects_for(f, &config.incidents[f.source], items))
        .collect::<Result<_, _>>()?;
    // No row is rejected after this: the raw rows' byte ranges can go.
    for f in &mut files {
        if let Content::Fresh(p) = &mut f.content {
            p.rows.drop_raw_ranges();
        }
    }
    tracing::debug!(
        elapsed_ms = ms(),
        rss_mib = crate::progress::memory_mib().0,
        "de-duplicated across files"
    );

    // Per-file counts for the manifest: read = accepted + rejected.
    let mut sources_out: Vec<SourceRecord> = config
        .incidents
        .iter()
        .map(|s| SourceRecord {
            name: s.name.clone(),
            format: s.format,
            kind: s.kind,
            files: Vec::new(),
        })
        .collect();
    let mut all_rejects: Vec<Reject> = Vec::new();
    let mut cache_entries = Vec::with_capacity(files.len());
    let mut incident_row = 0u64;
    for (fi, f) in files.iter().enumerate() {
        let base = member_base[fi];
        let mut rejects: Vec<Reject> = f.rejects().iter().chain(&late_rejects[fi]).cloned().collect();
        for r in &mut rejects {
            r.file += base;
        }
        rejects.sort_by_key(|r| (r.file, r.line));
        let accepted = keep[fi].iter().filter(|k| **k).count() as u64;
        let (lines, warning) = f.lines_and_warning(config.incidents[f.source].format);
        if let Some(w) = &warning {
            tracing::warn!("{}: {w}", f.file.rel);
        }
        let record = FileRecord {
            path: f.file.rel.clone(),
            sha256: f.sha256.clone(),
            bytes: f.bytes,
            members: f.members.len() as u64,
            rows_read: f.rows_read(),
            rows_accepted: accepted,
            rows_rejected: rejects.len() as u64,
            rejected_by_reason: reject::count_by_reason(&rejects)
                .into_iter()
                .map(|(k, v)| (k.as_str().to_string(), v))
                .collect(),
            reused: f.is_reused(),
            lines,
            warning: warning.clone(),
        };
        let lines_balance = lines.is_none_or(|l| l.read == l.header + l.blank + l.continuation + record.rows_read);
        if record.rows_read != record.rows_accepted + record.rows_rejected || !lines_balance {
            return Err(IngestError::Invalid(format!(
                "{}: internal count mismatch: read {} != accepted {} + rejected {}, or lines {:?} do not add up",
                record.path, record.rows_read, record.rows_accepted, record.rows_rejected, record.lines
            )));
        }
        cache_entries.push((
            f.sha256.clone(),
            cache::Entry {
                fingerprint: cache::fingerprint(&config.incidents[f.source], &spatial_key),
                members: f.members.clone(),
                rows_read: record.rows_read,
                lines,
                warning,
                cross_file_duplicates: late[fi].len() as u64,
                first_file_id: base,
                incidents: (incident_row, accepted),
                rejects: (all_rejects.len() as u64, rejects.len() as u64),
            },
        ));
        incident_row += accepted;
        sources_out[f.source].files.push(record);
        all_rejects.extend(rejects);
    }
    let incident_reject_count = all_rejects.len();
    for (i, mut rs) in poi_rejects.into_iter().enumerate() {
        for r in &mut rs {
            r.file = poi_file_base + i as u32;
        }
        all_rejects.extend(rs);
    }

    let bar = progress.step("assembling tables");
    let (rejects, (areas, pois_frames)) = rayon::join(
        || tables::rejects_frame(&all_rejects, &file_table),
        || {
            (
                tables::areas_frame(&wards, true).and_then(|w| Ok((w, tables::areas_frame(&boroughs, false)?))),
                tables::pois_frames(&pois, &wards, &ward_index),
            )
        },
    );
    let (wards_frame, boroughs_frame) = areas?;
    let manifest = Manifest::new(
        config,
        root,
        sources_out,
        layer_records,
        &all_rejects[..incident_reject_count],
    );
    drop(all_rejects);
    let incidents = incident_table::IncidentTable {
        files,
        keep,
        points: locator.into_points(),
        sources: config
            .incidents
            .iter()
            .map(|s| (s.name.clone(), s.kind.as_str()))
            .collect(),
        member_base,
        wards: wards.iter().map(|w| (w.code.clone(), w.parent_code.clone())).collect(),
        school_ids: schools.iter().map(|p| p.id.clone()).collect(),
        station_ids: stations.iter().map(|p| p.id.clone()).collect(),
    };
    let tables_out = Tables {
        incidents: Box::new(incidents),
        rejects: rejects?,
        files: tables::files_frame(&file_table)?,
        wards: wards_frame,
        boroughs: boroughs_frame,
        pois: pois_frames?,
        manifest,
    };
    bar.finish_and_clear();
    tracing::debug!(
        elapsed_ms = ms(),
        rss_mib = crate::progress::memory_mib().0,
        "assembled tables"
    );
    Ok((tables_out, Cache::new(cache_entries)))
}

/// Wards, boroughs and the records of the files they came from.
type Layers = (Vec<Area>, Vec<Area>, Vec<LayerRecord>);

fn read_boundaries(config: &Config, root: &Path, progress: &Progress) -> Result<Layers, IngestError> {
    let bar = progress.step("reading boundaries");
    let mut records = Vec::new();
    let wards = boundaries::read_layer_bng(&config.boundaries.wards, root)?;
    records.push(LayerRecord::for_files(
        "wards",
        root,
        &config.boundaries.wards.path,
        wards.len() as u64,
        0,
    )?);
    let boroughs = match &config.boundaries.boroughs {
        Some(b) => {
            let v = boundaries::read_layer_bng(b, root)?;
            records.push(LayerRecord::for_files("boroughs", root, &b.path, v.len() as u64, 0)?);
            v
        }
        None => Vec::new(),
    };
    bar.finish_and_clear();
    Ok((wards, boroughs, records))
}

type PoiResult = (Vec<Poi>, Vec<LayerRecord>, Vec<Vec<Reject>>);

fn read_pois(config: &Config, root: &Path) -> Result<PoiResult, IngestError> {
    let mut all = Vec::new();
    let mut records = Vec::new();
    let mut rejects = Vec::new();
    for p in &config.pois {
        let path = root.join(&p.path);
        let name = path.display().to_string();
        let bytes = sources::decompress(sources::read(&path)?, &name)?;
        let parsed = pois::parse(&bytes, 0, &name, p)?;
        let mut rec = LayerRecord::for_files(
            &format!("pois:{}", p.kind),
            root,
            &p.path,
            parsed.pois.len() as u64,
            parsed.rejects.len() as u64,
        )?;
        rec.rows_read = parsed.rows_read;
        records.push(rec);
        all.extend(parsed.pois);
        rejects.push(parsed.rejects);
    }
    Ok((all, records, rejects))
}

/// The rows whose crime id an earlier row already had, as ((file, row) of
/// the first, (file, row) of the repeat), in file and row order. Earlier
/// means in file order (config order), then row order; blank ids are never
/// repeats.
///
/// Ids are split by hash into four shards de-duplicated in parallel (each
/// shard's table small enough to stay in cache), and hashed once: 20-27 ms
/// for the Met burglaries' 728k ids, where one table of every id took about
/// twice that (two shards or sixteen were slower).
fn repeats_across_files(files: &[ParsedFile]) -> Vec<((usize, usize), (usize, usize))> {
    use std::hash::BuildHasher;
    const SHARD_BITS: u32 = 2;
    const NONE: u64 = u64::MAX;
    let hasher = rustc_hash::FxBuildHasher;
    // Per file, per row: the hash of its id (NONE for none; an id hashing to
    // NONE is moved next to it).
    let hashes: Vec<Vec<u64>> = files
        .par_iter()
        .map(|f| {
            (0..f.len())
                .map(|r| f.crime_id(r).map_or(NONE, |id| hasher.hash_one(id).min(NONE - 1)))
                .collect()
        })
        .collect();
    let total: usize = files.iter().map(|f| f.len()).sum();
    let id = |(fi, r): (u32, u32)| files[fi as usize].crime_id(r as usize);
    let mut repeats: Vec<_> = (0..1u64 << SHARD_BITS)
        .into_par_iter()
        .flat_map_iter(|s| {
            // (file, row) of each id's first row, found by the id's hash.
            let mut first: hashbrown::HashTable<(u32, u32)> =
                hashbrown::HashTable::with_capacity((total >> SHARD_BITS) * 9 / 8);
            let mut repeats = Vec::new();
            for (fi, hs) in hashes.iter().enumerate() {
                for (r, &h) in hs.iter().enumerate() {
                    if h == NONE || h >> (64 - SHARD_BITS) != s {
                        continue;
                    }
                    let at = (fi as u32, r as u32);
                    let this = id(at);
                    match first.entry(
                        h,
                        |&other| id(other) == this,
                        |&other| hashes[other.0 as usize][other.1 as usize],
                    ) {
                        hashbrown::hash_table::Entry::Occupied(e) => {
                            let (ffi, rr) = *e.get();
                            repeats.push(((ffi as usize, rr as usize), (fi, r)));
                        }
                        hashbrown::hash_table::Entry::Vacant(v) => {
                            v.insert(at);
                        }
                    }
                }
            }
            repeats
        })
        .collect();
    repeats.sort_unstable_by_key(|(_, at)| *at);
    repeats
}

fn read_incident_files(
    config: &Config,
    root: &Path,
    progress: &Progress,
    previous: Option<&Cache>,
    locator: &Locator,
    spatial_key: &str,
) -> Result<Vec<ParsedFile>, IngestError> {
    let mut jobs: Vec<(usize, sources::SourceFile)> = Vec::new();
    for (i, s) in config.incidents.iter().enumerate() {
        for f in sources::resolve(root, &s.paths, &format!("incidents[{i}].paths"))? {
            jobs.push((i, f));
        }
    }
    if let Some(c) = previous {
        c.preload(&config.incidents, spatial_key);
    }
    let bar = progress.bar(jobs.len() as u64, "reading incident files");
    let out = jobs
        .into_par_iter()
        .map(|(source, file)| {
            let result = parse_file(&config.incidents[source], source, file, previous, locator, spatial_key);
            bar.inc(1);
            result
        })
        .collect::<Result<Vec<_>, _>>();
    bar.finish_and_clear();
    out
}

fn parse_file(
    src: &IncidentSource,
    source: usize,
    file: sources::SourceFile,
    previous: Option<&Cache>,
    locator: &Locator,
    spatial_key: &str,
) -> Result<ParsedFile, IngestError> {
    let stored = sources::read(&file.path)?;
    let sha256 = sources::sha256_hex(&stored);
    let bytes = stored.len() as u64;
    if let Some((members, reused)) = previous.and_then(|c| c.take(&sha256, src, spatial_key)) {
        return Ok(ParsedFile {
            source,
            file,
            sha256,
            bytes,
            members,
            content: Content::Reused(Box::new(reused)),
        });
    }
    let name = file.path.display().to_string();
    let (members, parsed) = match src.format {
        IncidentFormat::PoliceUkApiJson => {
            let members = police_api::members(stored, &name)?;
            let mut parsed = police_api::parse(&members);
            locator.finish(
                &mut parsed,
                |m, start, len| {
                    let data = sources::strip_bom(&members[m as usize].1);
                    csv_incidents::raw_text(data, start as usize, (start + len) as usize)
                },
                |m| members[m as usize].0.clone(),
            );
            (members.into_iter().map(|(n, _)| n).collect(), parsed)
        }
        IncidentFormat::PoliceUkCsv | IncidentFormat::Csv => {
            let map = column_map(src);
            let parsed = sources::with_decompressed(&stored, &name, |data| {
                let mut parsed = csv_incidents::parse(data, 0, &name, &map)?;
                let text = sources::strip_bom(data);
                locator.finish(
                    &mut parsed,
                    |_, start, len| csv_incidents::raw_text(text, start as usize, (start + len) as usize),
                    |_| "this file".to_string(),
                );
                Ok::<_, IngestError>(parsed)
            })??;
            (vec![String::new()], parsed)
        }
    };
    Ok(ParsedFile {
        source,
        file,
        sha256,
        bytes,
        members,
        content: Content::Fresh(Box::new(parsed)),
    })
}

/// Builds the rejects found after parsing (duplicates across files) with
/// their raw rows, re-reading the file once if needed.
fn late_rejects_for(
    f: &ParsedFile,
    src: &IncidentSource,
    items: &[(usize, RejectReason, String)],
) -> Result<Vec<Reject>, IngestError> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let name = f.file.path.display().to_string();
    let stored = sources::read(&f.file.path)?;
    let members: Vec<Vec<u8>> = if f.members.len() == 1 && f.members[0].is_empty() {
        vec![sources::decompress(stored, &name)?]
    } else {
        police_api::members(stored, &name)?
            .into_iter()
            .map(|(_, b)| b)
            .collect()
    };
    let raw_of = |member: u32, start: u32, len: u32| {
        let data = sources::strip_bom(&members[member as usize]);
        csv_incidents::raw_text(data, start as usize, (start + len) as usize)
    };
    // A reused file has no byte ranges: parse it again to find them.
    let reparsed;
    let rows = match &f.content {
        Content::Fresh(p) => &p.rows,
        Content::Reused(_) => {
            reparsed = match src.format {
                IncidentFormat::PoliceUkApiJson => {
                    let named: Vec<(String, Vec<u8>)> =
                        f.members.iter().cloned().zip(members.iter().cloned()).collect();
                    police_api::parse(&named)
                }
                IncidentFormat::PoliceUkCsv | IncidentFormat::Csv => {
                    csv_incidents::parse(&members[0], 0, &name, &column_map(src))?
                }
            };
            &reparsed.rows
        }
    };
    let by_place: FxHashMap<(u32, u32), usize> = match &f.content {
        Content::Fresh(_) => FxHashMap::default(),
        Content::Reused(_) => (0..rows.len()).map(|r| ((rows.file[r], rows.line[r]), r)).collect(),
    };
    Ok(items
        .iter()
        .map(|(r, reason, detail)| {
            let (member, line) = f.place(*r);
            let raw = match &f.content {
                Content::Fresh(_) => raw_of(member, rows.raw_start[*r], rows.raw_len[*r]),
                Content::Reused(_) => by_place
                    .get(&(member, line))
                    .map(|&k| raw_of(member, rows.raw_start[k], rows.raw_len[k]))
                    .unwrap_or_default(),
            };
            Reject {
                file: member,
                line,
                reason: *reason,
                detail: detail.clone(),
                raw,
            }
        })
        .collect())
}

/// The column mapping of a CSV source.
fn column_map(src: &IncidentSource) -> ColumnMap {
    match &src.columns {
        Some(c) if src.format == IncidentFormat::Csv => ColumnMap::from_config(c, src.kind),
        _ => ColumnMap::police_uk(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A parsed file whose rows have these crime ids ("" for blank).
    fn file_with_ids(ids: &[&str]) -> ParsedFile {
        let mut parsed = Parsed::default();
        for (i, id) in ids.iter().enumerate() {
            parsed.rows.crime_id.push(id);
            parsed.rows.file.push(0);
            parsed.rows.line.push(i as u32 + 2);
        }
        ParsedFile {
            source: 0,
            file: sources::SourceFile {
                path: "f.csv".into(),
                rel: "f.csv".into(),
            },
            sha256: String::new(),
            bytes: 0,
            members: vec![String::new()],
            content: Content::Fresh(Box::new(parsed)),
        }
    }

    #[test]
    fn repeats_across_files_point_at_the_first_row_in_file_order() {
        let hex = |c: char| c.to_string().repeat(64);
        let (a, b, c) = (hex('a'), hex('b'), hex('c'));
        let files = [
            file_with_ids(&[&a, "", &b, "x1"]),
            file_with_ids(&["", &b, &c, &a]),
            file_with_ids(&[&c, "x1", "", &a]),
        ];
        let repeats = repeats_across_files(&files);
        assert_eq!(
            repeats,
            [
                ((0, 2), (1, 1)), // b
                ((0, 0), (1, 3)), // a
                ((1, 2), (2, 0)), // c, first seen in the second file
                ((0, 3), (2, 1)), // a text id
                ((0, 0), (2, 3)), // a again: still the very first row
            ],
            "blank ids are never repeats"
        );
        // Many ids, spread over every shard: each repeat found once.
        let ids: Vec<String> = (0..5000).map(|i| format!("{i:064x}")).collect();
        let refs: Vec<&str> = ids.iter().map(|s| s.as_str()).collect();
        let files = [file_with_ids(&refs), file_with_ids(&refs[2500..])];
        let repeats = repeats_across_files(&files);
        assert_eq!(repeats.len(), 2500);
        assert!(repeats
            .iter()
            .enumerate()
            .all(|(i, &(first, at))| first == (0, 2500 + i) && at == (1, i)));
    }
}
