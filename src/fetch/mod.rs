//! `hotspots fetch`: downloads the official open data into a data root,
//! laid out for `hotspots ingest`.
//!
//! | what | from | to |
//! |---|---|---|
//! | boundaries | London Datastore statistical GIS boundary zip | `london_boundaries/statistical-gis-boundaries-london/ESRI/` |
//! | crime (`--via archive`) | data.police.uk monthly archives | `police_uk/<force>/YYYY-MM-<force>-street.csv` |
//! | crime (`--via api`) | data.police.uk street-crime API, by ward polygon | `police_uk/api/YYYY-MM-street-api.json` |
//! | schools | DfE GIAS all-establishments CSV (open ones in London kept) | `schools/edubasealldata.csv` |
//! | stations | doogal.co.uk London stations | `stations/london_stations.csv` |
//!
//! Every file written is recorded with its source and sha256 in
//! `fetch-manifest.json`; a file whose recorded checksum still matches is
//! not fetched again. Zips are kept in `downloads/` (safe to delete once
//! unpacked). Finally `hotspots.toml` is written: the ingest config for what
//! the data root holds (see [`layout`]).
//!
//! | file | concept |
//! |---|---|
//! | [`sources`] | the official URLs, a mirror base URL, police force names, which archives cover which months |
//! | [`download`] | HTTP GET with retries, `Retry-After`, resume by `Range`, sha256 |
//! | [`archive`] | unpacking zips |
//! | [`police_api`] | the street-crime API by ward polygon: simplification, pacing, de-duplication |
//! | [`schools`] | GIAS specifics: dated file names, Windows-1252 |
//! | [`manifest`] | `fetch-manifest.json` |
//! | [`layout`] | paths in the data root and the `hotspots.toml` written there |

pub mod archive;
pub mod download;
pub mod layout;
pub mod manifest;
pub mod police_api;
pub mod schools;
pub mod sources;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::month;
use crate::progress::Progress;

use archive::ArchiveError;
use download::{Client, DownloadError, RetryPolicy};
use layout::LayoutError;
use manifest::{FetchManifest, ManifestError};
use police_api::{ApiArea, ApiError, Pacer};
use sources::Sources;

/// Errors of `hotspots fetch`.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Download(#[from] DownloadError),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error("reading the ward boundaries for the API route: {0}")]
    Boundaries(Box<crate::ingest::IngestError>),
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> FetchError + '_ {
    move |source| FetchError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A kind of data to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum What {
    Boundaries,
    Crime,
    Schools,
    Stations,
}

impl What {
    /// Everything, in the order it is fetched.
    pub const ALL: [What; 4] = [What::Boundaries, What::Crime, What::Schools, What::Stations];
}

impl FromStr for What {
    type Err = String;
    fn from_str(s: &str) -> Result<What, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "boundaries" => Ok(What::Boundaries),
            "crime" => Ok(What::Crime),
            "schools" => Ok(What::Schools),
            "stations" => Ok(What::Stations),
            other => Err(format!(
                "unknown data {other:?}: expected boundaries, crime, schools or stations"
            )),
        }
    }
}

/// How street crime is fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Via {
    /// The monthly archive zips (whole forces; all crime types).
    #[default]
    Archive,
    /// The street-crime API, one request per ward polygon and month.
    Api,
}

impl FromStr for Via {
    type Err = String;
    fn from_str(s: &str) -> Result<Via, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "archive" => Ok(Via::Archive),
            "api" => Ok(Via::Api),
            other => Err(format!("unknown route {other:?}: expected archive or api")),
        }
    }
}

/// Parses months: `2024-01..2024-12`, `2024-03`, or a comma-separated mix.
/// Returns sorted month numbers (see [`crate::month`]) without repeats.
pub fn parse_months(spec: &str) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let one = |s: &str| month::parse(s).ok_or_else(|| format!("bad month {s:?}: expected YYYY-MM"));
        if let Some((a, b)) = item.split_once("..") {
            let (a, b) = (one(a)?, one(b)?);
            if a > b {
                return Err(format!("month range {item:?} runs backwards"));
            }
            out.extend(a..=b);
        } else {
            out.push(one(item)?);
        }
    }
    if out.is_empty() {
        return Err(format!("no months in {spec:?}"));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Everything `hotspots fetch` needs to know.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    pub data_root: PathBuf,
    /// Months of street crime (needed when fetching crime).
    pub months: Vec<u32>,
    /// police.uk forces, for the archive route (`metropolitan`, `city-of-london`).
    pub forces: Vec<String>,
    pub what: Vec<What>,
    pub via: Via,
    pub sources: Sources,
    pub retry: RetryPolicy,
    /// Requests a second to the street-crime API (its limit is 15).
    pub api_requests_per_second: f64,
    /// The GIAS file's date (`YYYYMMDD`); default: today, else up to a week back.
    pub gias_date: Option<String>,
    pub quiet: bool,
}

impl FetchOptions {
    /// Defaults: all data, the Met and the City of London via the archive,
    /// the official hosts, 10 API requests a second.
    pub fn new(data_root: impl Into<PathBuf>, months: Vec<u32>) -> FetchOptions {
        FetchOptions {
            data_root: data_root.into(),
            months,
            forces: vec!["metropolitan".into(), "city-of-london".into()],
            what: What::ALL.to_vec(),
            via: Via::Archive,
            sources: Sources::official(),
            retry: RetryPolicy::default(),
            api_requests_per_second: 10.0,
            gias_date: None,
            quiet: false,
        }
    }
}

/// What the API route saw in one month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiMonth {
    pub month: String,
    pub requests: usize,
    /// Records returned, repeats included.
    pub returned: usize,
    /// Repeats dropped (crimes on a shared ward edge).
    pub duplicates: usize,
    /// Unique crimes written.
    pub kept: usize,
}

/// What a fetch did.
#[derive(Debug, Clone, Default)]
pub struct FetchReport {
    /// Files written (relative to the data root).
    pub written: Vec<String>,
    /// Files already present with their recorded sha256: not fetched again.
    pub verified: Vec<String>,
    /// Archive members asked for but absent (force had no data that month).
    pub missing: Vec<String>,
    /// The API route's per-month counts.
    pub api: Vec<ApiMonth>,
    /// GIAS rows kept (open, in London) and dropped.
    pub schools: Option<schools::Filtered>,
    /// The ingest config written into the data root.
    pub config: PathBuf,
}

struct Run<'a> {
    opts: &'a FetchOptions,
    root: &'a Path,
    client: Client,
    progress: Progress,
    manifest: FetchManifest,
    report: FetchReport,
}

impl Run<'_> {
    /// Downloads `url` to `rel` unless it is there with its recorded sha256.
    fn download(&mut self, url: &str, rel: &str, expected_sha256: Option<&str>) -> Result<(), FetchError> {
        if self.manifest.verified(self.root, rel) {
            tracing::info!(rel, "already fetched; sha256 verified");
            self.report.verified.push(rel.to_string());
            return Ok(());
        }
        let bar = self.progress.bytes(rel);
        let done = self.client.download(url, &self.root.join(rel), expected_sha256, &bar);
        bar.finish_and_clear();
        let done = done?;
        tracing::info!(rel, bytes = done.bytes, sha256 = %done.sha256, resumed_from = done.resumed_from, "downloaded");
        self.manifest.record(rel, url, None, &done.sha256, done.bytes);
        self.manifest.save(self.root)?;
        self.report.written.push(rel.to_string());
        Ok(())
    }

    fn record_extracted(&mut self, url: &str, extracted: &[archive::Extracted]) -> Result<(), FetchError> {
        for e in extracted {
            let rel = rel_path(self.root, &e.path);
            self.manifest.record(&rel, url, Some(&e.member), &e.sha256, e.bytes);
            self.report.written.push(rel);
        }
        self.manifest.save(self.root)?;
        Ok(())
    }

    fn boundaries(&mut self) -> Result<(), FetchError> {
        if self.manifest.verified(self.root, layout::WARDS) && self.manifest.verified(self.root, layout::BOROUGHS) {
            self.report.verified.push(layout::WARDS.into());
            self.report.verified.push(layout::BOROUGHS.into());
            return Ok(());
        }
        let url = self.opts.sources.boundaries();
        let zip_rel = format!("{}/statistical-gis-boundaries-london.zip", layout::DOWNLOADS_DIR);
        self.download(&url, &zip_rel, None)?;
        let step = self.progress.step("unpacking boundaries");
        let extracted = archive::extract_all(&self.root.join(&zip_rel), &self.root.join(layout::BOUNDARIES_DIR));
        step.finish_and_clear();
        self.record_extracted(&url, &extracted?)?;
        for needed in [layout::WARDS, layout::BOROUGHS] {
            if !self.root.join(needed).is_file() {
                return Err(FetchError::Usage(format!(
                    "{url}: the boundary zip has no {needed}; is the URL still the 2011-based set?"
                )));
            }
        }
        Ok(())
    }

    fn crime_archive(&mut self) -> Result<(), FetchError> {
        for (archive_month, months) in sources::archives_for(&self.opts.months) {
            let archive_month = month::format(archive_month);
            let mut wanted = Vec::new();
            for m in months.iter().map(|&m| month::format(m)) {
                for force in &self.opts.forces {
                    let rel = layout::street_file(&m, force);
                    if self.manifest.verified(self.root, &rel) {
                        self.report.verified.push(rel);
                    } else {
                        wanted.push((archive::street_member(&m, force), self.root.join(rel)));
                    }
                }
            }
            if wanted.is_empty() {
                continue;
            }
            let url = self.opts.sources.police_archive(&archive_month);
            let zip_rel = format!("{}/police-uk-{archive_month}.zip", layout::DOWNLOADS_DIR);
            self.download(&url, &zip_rel, None)?;
            let step = self.progress.step(&format!("unpacking {archive_month}.zip"));
            let result = archive::extract_members(&self.root.join(&zip_rel), &wanted);
            step.finish_and_clear();
            let (extracted, missing) = result?;
            for m in &missing {
                tracing::warn!(member = %m, archive = %url, "not in the archive (no data for that force and month?)");
            }
            self.report.missing.extend(missing);
            self.record_extracted(&url, &extracted)?;
        }
        Ok(())
    }

    fn crime_api(&mut self) -> Result<(), FetchError> {
        if !self.root.join(layout::WARDS).is_file() {
            return Err(FetchError::Usage(format!(
                "the API route asks by ward polygon: fetch the boundaries first ({} is missing)",
                self.root.join(layout::WARDS).display()
            )));
        }
        let wards = crate::ingest::boundaries::read_layer(&layout::wards_layer(), self.root)
            .map_err(|e| FetchError::Boundaries(Box::new(e)))?;
        let areas: Vec<ApiArea> = wards
            .into_iter()
            .map(|w| ApiArea {
                code: w.code,
                geometry_wgs84: w.geometry_wgs84,
            })
            .collect();
        let mut pacer = Pacer::per_second(self.opts.api_requests_per_second);
        for m in self.opts.months.iter().map(|&m| month::format(m)) {
            let rel = layout::api_month_file(&m);
            if self.manifest.verified(self.root, &rel) {
                self.report.verified.push(rel);
                continue;
            }
            let bar = self.progress.bar(areas.len() as u64, &format!("API {m} by ward"));
            let result = police_api::fetch_month(&self.client, &self.opts.sources, &areas, &m, &mut pacer, &bar);
            bar.finish_and_clear();
            let crimes = result?;
            let path = self.root.join(&rel);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io_err(dir))?;
            }
            let json = serde_json::to_vec(&crimes.crimes).expect("JSON values serialise");
            let tmp = download::part_path(&path);
            std::fs::write(&tmp, &json).map_err(io_err(&tmp))?;
            std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
            let (bytes, sha) = download::sha256_file(&path).map_err(io_err(&path))?;
            let url = self.opts.sources.police_api("<ward polygons>", &m);
            self.manifest.record(&rel, &url, None, &sha, bytes);
            self.manifest.save(self.root)?;
            tracing::info!(month = %m, returned = crimes.returned, duplicates = crimes.duplicates, kept = crimes.crimes.len(), "API month");
            self.report.written.push(rel);
            self.report.api.push(ApiMonth {
                month: m,
                requests: crimes.requests,
                returned: crimes.returned,
                duplicates: crimes.duplicates,
                kept: crimes.crimes.len(),
            });
        }
        Ok(())
    }

    fn schools(&mut self) -> Result<(), FetchError> {
        if self.manifest.verified(self.root, layout::SCHOOLS) {
            self.report.verified.push(layout::SCHOOLS.into());
            return Ok(());
        }
        let dates: Vec<String> = match &self.opts.gias_date {
            Some(d) => vec![d.clone()],
            None => (0..7).map(|k| schools::date_stamp(manifest::now_unix(), k)).collect(),
        };
        let mut fetched = None;
        for (k, date) in dates.iter().enumerate() {
            let url = self.opts.sources.gias(date);
            let raw_rel = format!("{}/edubasealldata{date}.csv", layout::DOWNLOADS_DIR);
            match self.download(&url, &raw_rel, None) {
                Ok(()) => {
                    fetched = Some((url, raw_rel));
                    break;
                }
                // Not published that day (yet): try the day before.
                Err(FetchError::Download(DownloadError::Status { status: 404, .. })) if k + 1 < dates.len() => {
                    tracing::info!(%url, "no GIAS file for that day; trying the day before");
                }
                Err(e) => return Err(e),
            }
        }
        let (url, raw_rel) = fetched.expect("the loop returns or finds one");
        let raw_path = self.root.join(&raw_rel);
        let bytes = std::fs::read(&raw_path).map_err(io_err(&raw_path))?;
        let dest = self.root.join(layout::SCHOOLS);
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        let (london, counts) = schools::open_in_london(&schools::to_utf8(bytes))
            .map_err(|e| FetchError::Usage(format!("{}: not a readable GIAS CSV: {e}", raw_path.display())))?;
        tracing::info!(
            kept = counts.kept,
            dropped = counts.dropped,
            "GIAS: open establishments in London"
        );
        self.report.schools = Some(counts);
        std::fs::write(&dest, london).map_err(io_err(&dest))?;
        let (n, sha) = download::sha256_file(&dest).map_err(io_err(&dest))?;
        self.manifest.record(layout::SCHOOLS, &url, None, &sha, n);
        self.manifest.save(self.root)?;
        self.report.written.push(layout::SCHOOLS.into());
        Ok(())
    }
}

fn rel_path(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

impl FetchReport {
    /// What was fetched, for the terminal, and the next command to run.
    pub fn summary(&self, data_root: &std::path::Path) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "fetched {} files ({} already there, sha256 verified) into {}",
            self.written.len(),
            self.verified.len(),
            data_root.display()
        );
        if let Some(k) = &self.schools {
            let _ = writeln!(
                s,
                "schools: {} open in London kept, {} others dropped",
                k.kept, k.dropped
            );
        }
        for m in &self.missing {
            let _ = writeln!(s, "not in the archive: {m}");
        }
        for a in &self.api {
            let _ = writeln!(
                s,
                "API {}: {} requests, {} records, {} repeats dropped, {} crimes kept",
                a.month, a.requests, a.returned, a.duplicates, a.kept
            );
        }
        let _ = writeln!(s, "ingest config        {}", self.config.display());
        let _ = writeln!(
            s,
            "next: hotspots ingest --config {} --data-root {} --out out/fetched",
            self.config.display(),
            data_root.display()
        );
        s
    }
}

/// Fetches what `opts` asks for into its data root, then writes the
/// root's `hotspots.toml`.
pub fn run(opts: &FetchOptions) -> Result<FetchReport, FetchError> {
    let root = opts.data_root.as_path();
    if opts.what.contains(&What::Crime) {
        if opts.months.is_empty() {
            return Err(FetchError::Usage(
                "fetching crime needs --months (e.g. 2024-01..2024-12)".into(),
            ));
        }
        if opts.via == Via::Archive {
            if opts.forces.is_empty() {
                return Err(FetchError::Usage(
                    "fetching crime from the archive needs --forces".into(),
                ));
            }
            sources::check_forces(&opts.forces).map_err(FetchError::Usage)?;
        }
    }
    std::fs::create_dir_all(root).map_err(io_err(root))?;
    let mut run = Run {
        opts,
        root,
        client: Client::new(opts.retry),
        progress: Progress::new(opts.quiet),
        manifest: FetchManifest::load(root)?,
        report: FetchReport::default(),
    };
    let mut what = opts.what.clone();
    what.sort_unstable();
    what.dedup();
    for w in what {
        match w {
            What::Boundaries => run.boundaries()?,
            What::Crime => match opts.via {
                Via::Archive => run.crime_archive()?,
                Via::Api => run.crime_api()?,
            },
            What::Schools => run.schools()?,
            What::Stations => {
                let url = opts.sources.stations();
                run.download(&url, layout::STATIONS, None)?;
            }
        }
    }
    run.report.config = layout::write_config(root)?;
    Ok(run.report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_ranges_and_lists() {
        let m = parse_months("2024-01..2024-03, 2023-12,2024-02").unwrap();
        let f: Vec<String> = m.iter().map(|&m| month::format(m)).collect();
        assert_eq!(f, ["2023-12", "2024-01", "2024-02", "2024-03"]);
        assert!(parse_months("2024-03..2024-01").unwrap_err().contains("backwards"));
        assert!(parse_months("2024-13").unwrap_err().contains("2024-13"));
        assert!(parse_months(" , ").is_err());
    }

    #[test]
    fn what_and_via_parse() {
        assert_eq!("Crime".parse::<What>().unwrap(), What::Crime);
        assert!("pubs".parse::<What>().unwrap_err().contains("boundaries"));
        assert_eq!("api".parse::<Via>().unwrap(), Via::Api);
        assert!("ftp".parse::<Via>().is_err());
    }

    #[test]
    fn crime_without_months_or_with_a_bad_force_is_refused_before_any_download() {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = FetchOptions::new(dir.path(), vec![]);
        opts.sources = Sources::mirror("http://127.0.0.1:9");
        let e = run(&opts).unwrap_err().to_string();
        assert!(e.contains("--months"), "{e}");
        opts.months = parse_months("2024-01").unwrap();
        opts.forces = vec!["met".into()];
        let e = run(&opts).unwrap_err().to_string();
        assert!(e.contains("\"met\""), "{e}");
    }
}
