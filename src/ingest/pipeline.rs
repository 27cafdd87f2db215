//! The ingest as a pipeline of named stages, each a function below:
//!
//! 1. `read_layers`: wards, boroughs and POIs, and the indexes that
//!    locate incidents;
//! 2. `read_incidents`: every incident file parsed and located in
//!    parallel (or taken from the previous dataset), while the boundaries'
//!    WGS84 geometry is computed alongside;
//! 3. `file_table`: one row per file or archive member;
//! 4. `deduplicate`: the same crime id in two files is kept once;
//! 5. `account`: the books per file (read = accepted + rejected, lines),
//!    the re-ingest cache's index and every reject;
//! 6. `assemble`: the tables and the manifest.

use std::path::Path;

use rayon::prelude::*;

use super::cache::{self, Cache};
use super::incident_table::IncidentTable;
use super::layers::{read_boundaries, read_pois};
use super::locate::{Locator, Points};
use super::read::{read_incident_files, Content, ParsedFile};
use super::reject::{self, Reject, RejectReason};
use super::{boundaries, dedup, sources, tables, Area, IngestError, Poi};
use crate::config::{Config, IncidentKind};
use crate::dataset::manifest::{FileRecord, LayerRecord, Manifest, SourceRecord};
use crate::dataset::Tables;
use crate::index::{AreaIndex, PointIndex};
use crate::progress::Progress;

/// Builds all tables in memory. `previous` offers parsed files from the last
/// ingest, keyed by sha256, so unchanged files are not parsed again.
pub fn build(
    config: &Config,
    root: &Path,
    progress: &Progress,
    previous: Option<&Cache>,
) -> Result<(Tables, Cache), IngestError> {
    let started = std::time::Instant::now();
    let log = |stage: &str| {
        tracing::debug!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            rss_mib = crate::progress::memory_mib().0,
            "{stage}"
        )
    };
    let mut layers = read_layers(config, root, progress)?;
    let index = Indexes::new(&layers);
    let locator = Locator::new(&index.wards, &index.schools, &index.stations);
    log("read boundaries and POIs");
    let mut files = read_incidents(config, root, progress, previous, &locator, &mut layers)?;
    log("read and located incident files");
    let table = file_table(config, &files);
    let dups = deduplicate(config, &mut files, &table, progress)?;
    log("de-duplicated across files");
    let books = account(config, &files, &dups, &table, &layers)?;
    let points = locator.into_points();
    let bar = progress.step("assembling tables");
    let out = assemble(config, root, files, books, layers, index, points, table)?;
    bar.finish_and_clear();
    log("assembled tables");
    Ok(out)
}

/// The boundary and POI layers, with the records of their files.
struct Layers {
    wards: Vec<Area>,
    boroughs: Vec<Area>,
    pois: Vec<Poi>,
    records: Vec<LayerRecord>,
    /// Per POI layer, its rejected rows.
    poi_rejects: Vec<Vec<Reject>>,
    /// A digest of the layers: cached parses are valid only for the same
    /// boundaries and POIs.
    spatial_key: String,
}

/// Stage 1: wards (BNG geometry), boroughs and POIs, read side by side.
fn read_layers(config: &Config, root: &Path, progress: &Progress) -> Result<Layers, IngestError> {
    let (areas, pois) = rayon::join(|| read_boundaries(config, root, progress), || read_pois(config, root));
    let (wards, boroughs, mut records) = areas?;
    let (pois, poi_records, poi_rejects) = pois?;
    if wards.is_empty() {
        return Err(IngestError::Invalid(format!(
            "{}: the ward layer has no features",
            config.boundaries.wards.path
        )));
    }
    records.extend(poi_records);
    let spatial_key = sources::sha256_hex(serde_json::to_string(&records).unwrap_or_default().as_bytes());
    Ok(Layers {
        wards,
        boroughs,
        pois,
        records,
        poi_rejects,
        spatial_key,
    })
}

/// What incidents are located with: the wards' R-tree, the schools' and
/// stations' point indexes, and those POIs' ids in index order.
struct Indexes {
    wards: AreaIndex,
    schools: PointIndex,
    stations: PointIndex,
    school_ids: Vec<String>,
    station_ids: Vec<String>,
}

impl Indexes {
    fn new(layers: &Layers) -> Indexes {
        let of_kind = |kind: &'static str| layers.pois.iter().filter(move |p| p.kind == kind);
        let index = |kind: &'static str| {
            PointIndex::new(&of_kind(kind).map(|p| [p.easting_m, p.northing_m]).collect::<Vec<_>>())
        };
        Indexes {
            wards: AreaIndex::new(layers.wards.iter().map(|w| w.geometry_bng.clone()).collect()),
            schools: index("school"),
            stations: index("station"),
            school_ids: of_kind("school").map(|p| p.id.clone()).collect(),
            station_ids: of_kind("station").map(|p| p.id.clone()).collect(),
        }
    }
}

/// Stage 2: the incident files, parsed and located in parallel, while the
/// boundaries' WGS84 geometry is computed alongside.
fn read_incidents(
    config: &Config,
    root: &Path,
    progress: &Progress,
    previous: Option<&Cache>,
    locator: &Locator<'_>,
    layers: &mut Layers,
) -> Result<Vec<ParsedFile>, IngestError> {
    let spatial_key = layers.spatial_key.clone();
    let (wards, boroughs) = (&mut layers.wards, &mut layers.boroughs);
    let (files, wgs) = rayon::join(
        || read_incident_files(config, root, progress, previous, locator, &spatial_key),
        || -> Result<(), IngestError> {
            let t = std::time::Instant::now();
            let boroughs_file = config
                .boundaries
                .boroughs
                .as_ref()
                .map_or("boroughs", |b| b.path.as_str());
            boundaries::fill_wgs84_layers(&mut [(wards, &config.boundaries.wards.path), (boroughs, boroughs_file)])?;
            tracing::debug!(elapsed_ms = t.elapsed().as_millis() as u64, "boundaries in WGS84");
            Ok(())
        },
    );
    wgs?;
    files
}

/// The global file table: one entry per file, or per member of an archive,
/// then one per POI file.
struct FileTable {
    entries: Vec<tables::FileEntry>,
    /// The entry of each incident file's first member.
    member_base: Vec<u32>,
    /// The entry of the first POI file.
    poi_base: u32,
}

/// Stage 3: the file table.
fn file_table(config: &Config, files: &[ParsedFile]) -> FileTable {
    let mut entries: Vec<tables::FileEntry> = Vec::new();
    let mut member_base = Vec::with_capacity(files.len());
    for f in files {
        member_base.push(entries.len() as u32);
        let src = &config.incidents[f.source];
        for m in &f.members {
            let path = if m.is_empty() {
                f.file.rel.clone()
            } else {
                format!("{}!{}", f.file.rel, m)
            };
            entries.push(tables::FileEntry {
                path,
                source: src.name.clone(),
                kind: src.kind,
            });
        }
    }
    let poi_base = entries.len() as u32;
    for p in &config.pois {
        entries.push(tables::FileEntry {
            path: p.path.clone(),
            source: format!("pois:{}", p.kind),
            kind: IncidentKind::Other,
        });
    }
    FileTable {
        entries,
        member_base,
        poi_base,
    }
}

/// What de-duplication decided, per file.
struct Duplicates {
    /// Per file, per row: kept.
    keep: Vec<Vec<bool>>,
    /// Per file: the rows rejected as repeats of an earlier file's, with
    /// their raw text.
    rejects: Vec<Vec<Reject>>,
}

/// Stage 4: de-duplication by crime id across files, in config order: the
/// first row wins. Afterwards no row is rejected, so the parsed rows' byte
/// ranges are dropped.
fn deduplicate(
    config: &Config,
    files: &mut [ParsedFile],
    table: &FileTable,
    progress: &Progress,
) -> Result<Duplicates, IngestError> {
    let bar = progress.step("de-duplicating by crime id");
    let mut late: Vec<Vec<(usize, RejectReason, String)>> = files.iter().map(|_| Vec::new()).collect();
    let mut keep: Vec<Vec<bool>> = files.iter().map(|f| vec![true; f.len()]).collect();
    for (first, (fi, r)) in dedup::repeats_across_files(files) {
        keep[fi][r] = false;
        let (ffi, rr) = first;
        let (member, line) = files[ffi].place(rr);
        let path = &table.entries[(table.member_base[ffi] + member) as usize].path;
        let id = files[fi].crime_id(r).expect("a repeat has an id");
        let detail = format!("Crime ID {id} already read from {path} line {line}");
        late[fi].push((r, RejectReason::DuplicateId, detail));
    }
    bar.finish_and_clear();
    // Those rejects need their raw rows: read just those files again.
    let rejects: Vec<Vec<Reject>> = files
        .par_iter()
        .zip(late.par_iter())
        .map(|(f, items)| dedup::late_rejects_for(f, &config.incidents[f.source], items))
        .collect::<Result<_, _>>()?;
    for f in files.iter_mut() {
        if let Content::Fresh(p) = &mut f.content {
            p.rows.drop_raw_ranges();
        }
    }
    Ok(Duplicates { keep, rejects })
}

/// The books of the whole ingest.
struct Books {
    sources: Vec<SourceRecord>,
    cache_entries: Vec<(String, cache::Entry)>,
    /// Every reject, incident files' first (`incident_rejects` of them).
    rejects: Vec<Reject>,
    incident_rejects: usize,
    keep: Vec<Vec<bool>>,
}

/// Stage 5: per-file counts for the manifest (read = accepted + rejected,
/// and the lines add up), the cache index, and every reject in file order.
fn account(
    config: &Config,
    files: &[ParsedFile],
    dups: &Duplicates,
    table: &FileTable,
    layers: &Layers,
) -> Result<Books, IngestError> {
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
        let base = table.member_base[fi];
        let mut rejects: Vec<Reject> = f.rejects().iter().chain(&dups.rejects[fi]).cloned().collect();
        for r in &mut rejects {
            r.file += base;
        }
        rejects.sort_by_key(|r| (r.file, r.line));
        let accepted = dups.keep[fi].iter().filter(|k| **k).count() as u64;
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
                fingerprint: cache::fingerprint(&config.incidents[f.source], &layers.spatial_key),
                members: f.members.clone(),
                rows_read: record.rows_read,
                lines,
                warning,
                cross_file_duplicates: dups.rejects[fi].len() as u64,
                first_file_id: base,
                incidents: (incident_row, accepted),
                rejects: (all_rejects.len() as u64, rejects.len() as u64),
            },
        ));
        incident_row += accepted;
        sources_out[f.source].files.push(record);
        all_rejects.extend(rejects);
    }
    let incident_rejects = all_rejects.len();
    for (i, rs) in layers.poi_rejects.iter().enumerate() {
        all_rejects.extend(rs.iter().map(|r| Reject {
            file: table.poi_base + i as u32,
            ..r.clone()
        }));
    }
    Ok(Books {
        sources: sources_out,
        cache_entries,
        rejects: all_rejects,
        incident_rejects,
        keep: dups.keep.clone(),
    })
}

/// Stage 6: the tables and the manifest.
#[allow(clippy::too_many_arguments)]
fn assemble(
    config: &Config,
    root: &Path,
    files: Vec<ParsedFile>,
    books: Books,
    layers: Layers,
    index: Indexes,
    points: Points,
    table: FileTable,
) -> Result<(Tables, Cache), IngestError> {
    let (rejects, (areas, pois_frames)) = rayon::join(
        || tables::rejects_frame(&books.rejects, &table.entries),
        || {
            (
                tables::areas_frame(&layers.wards, true)
                    .and_then(|w| Ok((w, tables::areas_frame(&layers.boroughs, false)?))),
                tables::pois_frames(&layers.pois, &layers.wards, &index.wards),
            )
        },
    );
    let (wards_frame, boroughs_frame) = areas?;
    let manifest = Manifest::new(
        config,
        root,
        books.sources,
        layers.records,
        reject::count_by_reason(&books.rejects[..books.incident_rejects])
            .into_iter()
            .map(|(k, v)| (k.as_str().to_string(), v))
            .collect(),
    );
    let incidents = IncidentTable {
        files,
        keep: books.keep,
        points,
        sources: config
            .incidents
            .iter()
            .map(|s| (s.name.clone(), s.kind.as_str()))
            .collect(),
        member_base: table.member_base,
        wards: layers
            .wards
            .iter()
            .map(|w| (w.code.clone(), w.parent_code.clone()))
            .collect(),
        school_ids: index.school_ids,
        station_ids: index.station_ids,
    };
    let tables_out = Tables {
        incidents: Box::new(incidents),
        rejects: rejects?,
        files: tables::files_frame(&table.entries)?,
        wards: wards_frame,
        boroughs: boroughs_frame,
        pois: pois_frames?,
        manifest,
        partition_by_month: false,
    };
    Ok((tables_out, Cache::new(books.cache_entries)))
}
