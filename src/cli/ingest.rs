//! `hotspots ingest` and `hotspots info`.

use std::path::PathBuf;

use anyhow::Context;

#[derive(clap::Args)]
pub struct IngestArgs {
    /// The ingest config (e.g. data/london.toml).
    #[arg(long)]
    config: PathBuf,
    /// Folder the config's paths are relative to.
    #[arg(long)]
    data_root: PathBuf,
    /// The dataset directory to write (replaced atomically; must be new,
    /// empty, or a hotspots dataset).
    #[arg(long)]
    out: PathBuf,
    /// Parse every file again, even ones unchanged since the last ingest.
    #[arg(long)]
    force: bool,
    /// Let the config name files outside --data-root (absolute paths or `..`).
    #[arg(long)]
    allow_outside_data_root: bool,
    /// Also write the incidents Hive-partitioned (`month`: incidents/month=YYYY-MM/
    /// part-0.parquet, GeoParquet) for DuckDB, Sedona or BigQuery.
    #[arg(long, value_parser = ["month"])]
    partition: Option<String>,
}

pub fn ingest(a: IngestArgs, quiet: bool) -> anyhow::Result<()> {
    hotspots::sys::small_pages();
    let cfg = hotspots::config::Config::load(&a.config)?;
    if !a.allow_outside_data_root {
        cfg.check_paths_within_root(&a.config.display().to_string())?;
    }
    let opts = hotspots::ingest::IngestOptions {
        quiet,
        force: a.force,
        allow_outside_data_root: a.allow_outside_data_root,
        partition_by_month: a.partition.as_deref() == Some("month"),
    };
    let m = hotspots::ingest::ingest(&cfg, &a.data_root, &a.out, &opts)
        .with_context(|| format!("ingesting {}", a.config.display()))?;
    let reused: usize = m.sources.iter().flat_map(|s| &s.files).filter(|f| f.reused).count();
    let files: usize = m.sources.iter().map(|s| s.files.len()).sum();
    tracing::info!(
        accepted = m.totals.rows_accepted,
        rejected = m.totals.rows_rejected,
        files,
        reused,
        seconds = format!("{:.2}", m.build_seconds),
        "wrote {}",
        a.out.display()
    );
    Ok(())
}

#[derive(clap::Args)]
pub struct InfoArgs {
    /// The dataset directory.
    dataset: PathBuf,
    /// How many wards to list.
    #[arg(long, default_value_t = 20)]
    top: usize,
    /// Print the manifest as JSON instead.
    #[arg(long)]
    json: bool,
}

pub fn info(a: InfoArgs) -> anyhow::Result<()> {
    if a.json {
        let m = hotspots::dataset::read_manifest(&a.dataset)?;
        println!("{}", serde_json::to_string_pretty(&m)?);
    } else {
        let ds = hotspots::dataset::Dataset::open(&a.dataset)?;
        print!("{}", hotspots::info::report(&ds, a.top)?);
    }
    Ok(())
}
