//! Ingest: raw files in, a validated, spatially joined [`Tables`] out.
//!
//! The flow: read boundaries and points of interest; read every incident
//! file in parallel (each parser keeps rows it cannot use as [`Reject`]s);
//! de-duplicate by crime id across sources; project and locate every
//! distinct point once (police.uk snaps crimes to a limited set of map
//! points: ~99k places for 736k located burglaries); attach ward, borough,
//! nearest school and station; assemble the tables and the manifest.

pub mod boundaries;
pub mod csv_incidents;
pub mod pois;
pub mod police_api;
pub mod reject;
pub mod rows;
pub mod sources;
mod tables;

use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;

use crate::config::{Config, ConfigError, IncidentFormat, IncidentSource};
use crate::crs::{self, CrsError};
use crate::dataset::cache::Cache;
use crate::dataset::manifest::{FileRecord, LayerRecord, Manifest};
use crate::dataset::Tables;
use crate::index::{AreaIndex, PointIndex};
use crate::progress::Progress;
use csv_incidents::{ColumnMap, Parsed};
use reject::{Reject, RejectReason};

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
}

/// Reads the sources a config names under `data_root`, validates and joins
/// them, and writes the dataset to `out` atomically. Returns its manifest.
pub fn ingest(config: &Config, data_root: &Path, out: &Path, opts: &IngestOptions) -> Result<Manifest, IngestError> {
    let progress = Progress::new(opts.quiet);
    let previous = if opts.force { None } else { Cache::open(out) };
    let (tables, cache) = build(config, data_root, &progress, previous.as_ref())?;
    let bar = progress.step("writing dataset");
    crate::dataset::write::write_atomic(out, &tables, &cache)?;
    bar.finish_and_clear();
    Ok(tables.manifest)
}

/// One physical incident file after parsing.
struct ParsedFile {
    source: usize,
    file: sources::SourceFile,
    sha256: String,
    bytes: u64,
    /// Member names ("" for a plain file; JSON paths inside an archive).
    members: Vec<String>,
    parsed: Parsed,
    /// Whether it came from the previous dataset's cache.
    reused: bool,
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
    // Boundaries, POIs and incidents are independent: read them side by side.
    let (layers, (pois, files)) = rayon::join(
        || read_boundaries(config, root, progress),
        || {
            rayon::join(
                || read_pois(config, root),
                || read_incident_files(config, root, progress, previous),
            )
        },
    );
    let (wards, boroughs, mut layer_records) = layers?;
    let (pois, poi_records, poi_rejects) = pois?;
    let files = files?;
    if wards.is_empty() {
        return Err(IngestError::Invalid(format!(
            "{}: the ward layer has no features",
            config.boundaries.wards.path
        )));
    }
    layer_records.extend(poi_records);

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
    for (i, l) in poi_records_paths(config).into_iter().enumerate() {
        file_table.push(tables::FileEntry {
            path: l,
            source: format!("pois:{}", config.pois[i].kind),
            kind: crate::config::IncidentKind::Other,
        });
    }

    // Cross-source de-duplication by crime id, in config order: the first
    // row wins. Rows with a blank id (ASB, BTP) are never duplicates.
    let bar = progress.step("de-duplicating by crime id");
    let mut late: Vec<Vec<(usize, RejectReason, String)>> = files.iter().map(|_| Vec::new()).collect();
    let mut keep: Vec<Vec<bool>> = files.iter().map(|f| vec![true; f.parsed.rows.len()]).collect();
    {
        let mut seen: HashMap<&str, (usize, usize)> = HashMap::new();
        for (fi, f) in files.iter().enumerate() {
            let rows = &f.parsed.rows;
            for r in 0..rows.len() {
                let Some(id) = rows.crime_id.get_opt(r) else { continue };
                match seen.get(id) {
                    Some(&(ffi, rr)) => {
                        keep[fi][r] = false;
                        let first_rows = &files[ffi].parsed.rows;
                        let first = &file_table[(member_base[ffi] + first_rows.file[rr]) as usize].path;
                        let line = first_rows.line[rr];
                        late[fi].push((
                            r,
                            RejectReason::DuplicateId,
                            format!("Crime ID {id} already read from {first} line {line}"),
                        ));
                    }
                    None => {
                        seen.insert(id, (fi, r));
                    }
                }
            }
        }
    }
    bar.finish_and_clear();

    // Project and locate each distinct point once.
    let bar = progress.step("locating points in wards");
    let ward_index = AreaIndex::new(wards.iter().map(|w| w.geometry_bng.clone()).collect());
    let schools: Vec<&Poi> = pois.iter().filter(|p| p.kind == "school").collect();
    let stations: Vec<&Poi> = pois.iter().filter(|p| p.kind == "station").collect();
    let school_index = PointIndex::new(&schools.iter().map(|p| [p.easting_m, p.northing_m]).collect::<Vec<_>>());
    let station_index = PointIndex::new(&stations.iter().map(|p| [p.easting_m, p.northing_m]).collect::<Vec<_>>());
    let mut key_of: HashMap<(u64, u64, bool), u32> = HashMap::new();
    let mut keys: Vec<(f64, f64, bool)> = Vec::new();
    let mut row_key: Vec<Vec<u32>> = Vec::with_capacity(files.len());
    for (fi, f) in files.iter().enumerate() {
        let rows = &f.parsed.rows;
        let mut rk = vec![u32::MAX; rows.len()];
        for r in 0..rows.len() {
            if !keep[fi][r] {
                continue;
            }
            let (x, y, is_bng) = match &rows.bng {
                Some(b) if rows.lon[r].is_nan() => (b[bng_slot(rows, r)][0], b[bng_slot(rows, r)][1], true),
                _ => (rows.lon[r], rows.lat[r], false),
            };
            let next = keys.len() as u32;
            let k = *key_of.entry((x.to_bits(), y.to_bits(), is_bng)).or_insert_with(|| {
                keys.push((x, y, is_bng));
                next
            });
            rk[r] = k;
        }
        row_key.push(rk);
    }
    drop(key_of);
    let located: Vec<Option<tables::Located>> = keys
        .par_iter()
        .map(|&(x, y, is_bng)| {
            let (e, n, lon, lat) = if is_bng {
                let (lon, lat) = crs::bng_to_lonlat(x, y)?;
                (x, y, lon, lat)
            } else {
                let (e, n) = crs::lonlat_to_bng(x, y)?;
                (e, n, x, y)
            };
            let ward = ward_index.locate(e, n);
            let school = school_index.nearest(e, n);
            let station = station_index.nearest(e, n);
            Some(tables::Located {
                easting_m: e,
                northing_m: n,
                lon,
                lat,
                ward,
                school,
                station,
            })
        })
        .collect();
    for (fi, f) in files.iter().enumerate() {
        let rows = &f.parsed.rows;
        for r in 0..rows.len() {
            if !keep[fi][r] {
                continue;
            }
            match &located[row_key[fi][r] as usize] {
                None => {
                    keep[fi][r] = false;
                    late[fi].push((
                        r,
                        RejectReason::ImpossibleCoordinates,
                        format!(
                            "({}, {}) is outside the area the OSTN15 transform covers (Great Britain)",
                            rows.lon[r], rows.lat[r]
                        ),
                    ));
                }
                Some(l) if l.ward.is_none() => {
                    keep[fi][r] = false;
                    late[fi].push((
                        r,
                        RejectReason::OutsideStudyArea,
                        format!(
                            "({:.6}, {:.6}) = BNG ({:.0}, {:.0}) lies in no ward",
                            l.lon, l.lat, l.easting_m, l.northing_m
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
    }
    bar.finish_and_clear();

    // Rejects found after parsing need their raw rows: read those files again.
    let bar = progress.step("collecting rejected rows");
    let late_rejects: Vec<Vec<Reject>> = files
        .par_iter()
        .zip(late.par_iter())
        .map(|(f, items)| late_rejects_for(f, items))
        .collect::<Result<_, _>>()?;
    bar.finish_and_clear();

    // Per-file counts for the manifest: read = accepted + rejected.
    let mut sources_out: Vec<crate::dataset::manifest::SourceRecord> = config
        .incidents
        .iter()
        .map(|s| crate::dataset::manifest::SourceRecord {
            name: s.name.clone(),
            format: s.format,
            kind: s.kind,
            files: Vec::new(),
        })
        .collect();
    let mut all_rejects: Vec<Reject> = Vec::new();
    for (fi, f) in files.iter().enumerate() {
        let base = member_base[fi];
        let mut rejects: Vec<Reject> = f.parsed.rejects.iter().chain(&late_rejects[fi]).cloned().collect();
        for r in &mut rejects {
            r.file += base;
        }
        rejects.sort_by_key(|r| (r.file, r.line));
        let accepted = keep[fi].iter().filter(|k| **k).count() as u64;
        let record = FileRecord {
            path: f.file.rel.clone(),
            sha256: f.sha256.clone(),
            bytes: f.bytes,
            members: f.members.len() as u64,
            rows_read: f.parsed.rows_read,
            rows_accepted: accepted,
            rows_rejected: rejects.len() as u64,
            rejected_by_reason: reject::count_by_reason(&rejects)
                .into_iter()
                .map(|(k, v)| (k.as_str().to_string(), v))
                .collect(),
            reused: f.reused,
        };
        if record.rows_read != record.rows_accepted + record.rows_rejected {
            return Err(IngestError::Invalid(format!(
                "{}: internal count mismatch: read {} != accepted {} + rejected {}",
                record.path, record.rows_read, record.rows_accepted, record.rows_rejected
            )));
        }
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
    let incidents = tables::incidents_frame(
        &files,
        &keep,
        &row_key,
        &located,
        &member_base,
        config,
        &wards,
        &schools,
        &stations,
    )?;
    let tables_out = Tables {
        incidents,
        rejects: tables::rejects_frame(&all_rejects, &file_table)?,
        files: tables::files_frame(&file_table)?,
        wards: tables::areas_frame(&wards, true)?,
        boroughs: tables::areas_frame(&boroughs, false)?,
        pois: tables::pois_frames(&pois, &wards, &ward_index)?,
        manifest: Manifest::new(
            config,
            root,
            sources_out,
            layer_records,
            &all_rejects[..incident_reject_count],
            started.elapsed(),
        ),
    };
    bar.finish_and_clear();
    let cache = Cache::from_parsed(
        files
            .into_iter()
            .map(|f| (f.sha256, config.incidents[f.source].clone(), f.members, f.parsed)),
    );
    Ok((tables_out, cache))
}

/// Index of row `r` in `rows.bng` (BNG rows only): rows of one file are all
/// BNG or all WGS84, so it is `r` itself.
#[inline]
fn bng_slot(_rows: &rows::IncidentRows, r: usize) -> usize {
    r
}

fn read_boundaries(
    config: &Config,
    root: &Path,
    progress: &Progress,
) -> Result<(Vec<Area>, Vec<Area>, Vec<LayerRecord>), IngestError> {
    let bar = progress.step("reading boundaries");
    let mut records = Vec::new();
    let wards = boundaries::read_layer(&config.boundaries.wards, root)?;
    records.push(LayerRecord::for_files(
        "wards",
        root,
        &config.boundaries.wards.path,
        wards.len() as u64,
        0,
    )?);
    let boroughs = match &config.boundaries.boroughs {
        Some(b) => {
            let v = boundaries::read_layer(b, root)?;
            records.push(LayerRecord::for_files("boroughs", root, &b.path, v.len() as u64, 0)?);
            v
        }
        None => Vec::new(),
    };
    bar.finish_and_clear();
    Ok((wards, boroughs, records))
}

fn poi_records_paths(config: &Config) -> Vec<String> {
    config.pois.iter().map(|p| p.path.clone()).collect()
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

fn read_incident_files(
    config: &Config,
    root: &Path,
    progress: &Progress,
    previous: Option<&Cache>,
) -> Result<Vec<ParsedFile>, IngestError> {
    let mut jobs: Vec<(usize, sources::SourceFile)> = Vec::new();
    for (i, s) in config.incidents.iter().enumerate() {
        for f in sources::resolve(root, &s.paths, &format!("incidents[{i}].paths"))? {
            jobs.push((i, f));
        }
    }
    let bar = progress.bar(jobs.len() as u64, "reading incident files");
    let out = jobs
        .into_par_iter()
        .map(|(source, file)| {
            let result = parse_file(&config.incidents[source], source, file, previous);
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
) -> Result<ParsedFile, IngestError> {
    let stored = sources::read(&file.path)?;
    let sha256 = sources::sha256_hex(&stored);
    let bytes = stored.len() as u64;
    if let Some((members, parsed)) = previous.and_then(|c| c.take(&sha256, src)) {
        return Ok(ParsedFile {
            source,
            file,
            sha256,
            bytes,
            members,
            parsed,
            reused: true,
        });
    }
    let name = file.path.display().to_string();
    let (members, parsed) = match src.format {
        IncidentFormat::PoliceUkApiJson => {
            let members = police_api::members(stored, &name)?;
            let parsed = police_api::parse(&members);
            (members.into_iter().map(|(n, _)| n).collect(), parsed)
        }
        IncidentFormat::PoliceUkCsv | IncidentFormat::Csv => {
            let map = match &src.columns {
                Some(c) if src.format == IncidentFormat::Csv => ColumnMap::from_config(c, src.kind),
                _ => ColumnMap::police_uk(),
            };
            let data = sources::decompress(stored, &name)?;
            (vec![String::new()], csv_incidents::parse(&data, 0, &name, &map)?)
        }
    };
    Ok(ParsedFile {
        source,
        file,
        sha256,
        bytes,
        members,
        parsed,
        reused: false,
    })
}

/// Builds the rejects found after parsing (duplicates, points outside the
/// study area) with their raw rows, re-reading the file once if needed.
fn late_rejects_for(f: &ParsedFile, items: &[(usize, RejectReason, String)]) -> Result<Vec<Reject>, IngestError> {
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
    let rows = &f.parsed.rows;
    Ok(items
        .iter()
        .map(|(r, reason, detail)| {
            let r = *r;
            let member = rows.file[r] as usize;
            let data = sources::strip_bom(&members[member]);
            let start = rows.raw_start[r] as usize;
            Reject {
                file: rows.file[r],
                line: rows.line[r],
                reason: *reason,
                detail: detail.clone(),
                raw: csv_incidents::raw_text(data, start, start + rows.raw_len[r] as usize),
            }
        })
        .collect())
}
