//! Reading the incident files: each parsed and located in parallel, or its
//! rows taken from the previous dataset when it is unchanged ([`super::cache`]).

use rayon::prelude::*;

use super::cache::{Cache, Reused};
use super::csv_incidents::{self, ColumnMap, Parsed};
use super::locate::Locator;
use super::reject::Reject;
use super::{police_api, rows, sources, IngestError};
use crate::config::{Config, IncidentFormat, IncidentSource};
use crate::dataset::manifest::LineCount;
use crate::progress::Progress;
use std::path::Path;

/// One physical incident file after parsing and locating.
pub struct ParsedFile {
    pub source: usize,
    pub file: sources::SourceFile,
    pub sha256: String,
    pub bytes: u64,
    /// Member names ("" for a plain file; JSON paths inside an archive).
    pub members: Vec<String>,
    pub content: Content,
}

/// A file's rows: parsed now, or taken from the previous dataset.
pub enum Content {
    Fresh(Box<Parsed>),
    Reused(Box<Reused>),
}

impl ParsedFile {
    pub fn is_reused(&self) -> bool {
        matches!(self.content, Content::Reused(_))
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn len(&self) -> usize {
        match &self.content {
            Content::Fresh(p) => p.rows.len(),
            Content::Reused(r) => r.line.len(),
        }
    }

    pub fn crime_id(&self, r: usize) -> Option<rows::IdKey<'_>> {
        match &self.content {
            Content::Fresh(p) => p.rows.crime_id.key(r),
            Content::Reused(u) => u.crime_id.key(r),
        }
    }

    /// (member, line) of row `r`.
    pub fn place(&self, r: usize) -> (u32, u32) {
        match &self.content {
            Content::Fresh(p) => (p.rows.file[r], p.rows.line[r]),
            Content::Reused(u) => (u.member[r], u.line[r]),
        }
    }

    pub fn rejects(&self) -> &[Reject] {
        match &self.content {
            Content::Fresh(p) => &p.rejects,
            Content::Reused(u) => &u.rejects,
        }
    }

    pub fn rows_read(&self) -> u64 {
        match &self.content {
            Content::Fresh(p) => p.rows_read,
            Content::Reused(u) => u.rows_read,
        }
    }

    /// Its line count (CSV files) and the warning for a file without rows.
    pub fn lines_and_warning(&self, format: IncidentFormat) -> (Option<LineCount>, Option<String>) {
        match &self.content {
            Content::Fresh(p) => (
                (format != IncidentFormat::PoliceUkApiJson).then_some(p.lines),
                p.warning.clone(),
            ),
            Content::Reused(u) => (u.lines, u.warning.clone()),
        }
    }
}

/// Reads every file the config's incident sources name.
pub fn read_incident_files(
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

/// The column mapping of a CSV source.
pub fn column_map(src: &IncidentSource) -> ColumnMap {
    match &src.columns {
        Some(c) if src.format == IncidentFormat::Csv => ColumnMap::from_config(c, src.kind),
        _ => ColumnMap::police_uk(),
    }
}
