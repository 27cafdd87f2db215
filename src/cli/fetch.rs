//! `hotspots fetch`: the official open data into a data root.

use std::path::PathBuf;

use anyhow::Context;

#[derive(clap::Args)]
pub struct FetchArgs {
    /// Folder to fetch into (created if needed; re-runs resume and skip
    /// files whose sha256 still matches fetch-manifest.json).
    #[arg(long)]
    data_root: PathBuf,
    /// Months of street crime: 2024-01..2024-12, 2024-03, or a comma list.
    #[arg(long)]
    months: Option<String>,
    /// police.uk forces, for --via archive.
    #[arg(long, value_delimiter = ',', default_value = "metropolitan,city-of-london")]
    forces: Vec<String>,
    /// What to fetch: boundaries, crime, schools, stations.
    #[arg(long, value_delimiter = ',', default_value = "boundaries,crime,schools,stations")]
    what: Vec<hotspots::fetch::What>,
    /// Street crime from the monthly archive zips, or the API by ward polygon.
    #[arg(long, default_value = "archive")]
    via: hotspots::fetch::Via,
    /// Serve every download from this host instead (a mirror; tests).
    #[arg(long)]
    base_url: Option<String>,
    /// Street-crime API requests per second (its limit is 15).
    #[arg(long, default_value_t = 10.0)]
    api_rate: f64,
}

pub fn fetch(a: FetchArgs, quiet: bool) -> anyhow::Result<()> {
    let months = match a.months {
        Some(spec) => hotspots::fetch::parse_months(&spec).map_err(anyhow::Error::msg)?,
        None => Vec::new(),
    };
    let mut opts = hotspots::fetch::FetchOptions::new(&a.data_root, months);
    opts.forces = a.forces;
    opts.what = a.what;
    opts.via = a.via;
    opts.api_requests_per_second = a.api_rate;
    opts.quiet = quiet;
    if let Some(base) = a.base_url {
        opts.sources = hotspots::fetch::sources::Sources::mirror(&base);
    }
    let report = hotspots::fetch::run(&opts).with_context(|| format!("fetching into {}", a.data_root.display()))?;
    print!("{}", report.summary(&a.data_root));
    Ok(())
}
