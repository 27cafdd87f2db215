//! The `hotspots` command line: parses arguments and calls the library.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

// The system allocator (glibc). mimalloc was used until Dec 2026: it served
// as fast, with the same resident memory once loading's free pages were
// returned, and ingested ~3% faster, but the ingest of the Met burglaries
// peaked ~45 MiB higher (median 274 against 229 MiB over 10 runs each, up to
// 287 MiB: over the 300 MB target).

#[derive(Parser)]
#[command(
    name = "hotspots",
    version,
    about = "Crime hotspot analytics for London: ingest, analyse, serve."
)]
struct Cli {
    /// No progress bars (for scripts).
    #[arg(long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read boundaries, incidents and POIs into a validated Parquet dataset.
    Ingest {
        /// The ingest config (e.g. data/london.toml).
        #[arg(long)]
        config: PathBuf,
        /// Folder the config's paths are relative to.
        #[arg(long)]
        data_root: PathBuf,
        /// The dataset directory to write (replaced atomically).
        #[arg(long)]
        out: PathBuf,
        /// Parse every file again, even ones unchanged since the last ingest.
        #[arg(long)]
        force: bool,
        /// Let the config name files outside --data-root (absolute paths or `..`).
        #[arg(long)]
        allow_outside_data_root: bool,
    },
    /// What a dataset holds: counts by month, crime type, ward; rejects by reason.
    Info {
        /// The dataset directory.
        dataset: PathBuf,
        /// How many wards to list.
        #[arg(long, default_value_t = 20)]
        top: usize,
        /// Print the manifest as JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// Risk around schools and stations: incidents within radii against a background rate.
    PoiRisk {
        /// The dataset directory.
        #[arg(long)]
        dataset: PathBuf,
        /// Which points of interest: schools, stations or all.
        #[arg(long, default_value = "all")]
        pois: String,
        /// Radii in metres (repeatable; default 100, 200, 400).
        #[arg(long = "radius")]
        radius: Vec<f64>,
        /// Radius the ranking uses (default 200, or the middle radius given).
        #[arg(long)]
        rank_radius: Option<f64>,
        #[command(flatten)]
        selection: SelectionArgs,
        /// Weigh incidents by harm: a CSV with columns crime_type,harm_days.
        #[arg(long)]
        harm_table: Option<PathBuf>,
        /// FDR level and 1 - confidence of intervals.
        #[arg(long, default_value_t = 0.05)]
        alpha: f64,
        /// How many top POIs to print.
        #[arg(long, default_value_t = 10)]
        top: usize,
        /// POIs as points (.geojson) or a table (.csv), ranked.
        #[arg(long)]
        out: PathBuf,
        /// Also write the buffers (one circle per POI and radius) as GeoJSON.
        #[arg(long)]
        buffers_out: Option<PathBuf>,
        /// Also write the whole-layer comparison (per radius and crime type) as CSV.
        #[arg(long)]
        summary_out: Option<PathBuf>,
    },
    /// Surge-team priority areas: where N teams of radius R do most good next month.
    Surge {
        /// The dataset directory.
        #[arg(long)]
        dataset: PathBuf,
        /// Number of teams (areas).
        #[arg(long, default_value_t = 6)]
        teams: usize,
        /// Radius one team covers, metres.
        #[arg(long, default_value_t = 300.0)]
        radius: f64,
        /// Or the area one team covers as a number of grid cells: the radius
        /// becomes cell × √(K/π) (overrides --radius).
        #[arg(long)]
        cells: Option<f64>,
        /// Grid cell for predictions and candidate centres, metres.
        #[arg(long, default_value_t = 100.0)]
        cell: f64,
        /// Predictor: counts, kde, prospective or gistar.
        #[arg(long, default_value = "kde")]
        predictor: String,
        /// Training months (without --from: the last N months up to --to or the data's end).
        #[arg(long, default_value_t = 12)]
        window: u32,
        #[command(flatten)]
        selection: SelectionArgs,
        /// Weigh incidents by harm: a CSV with columns crime_type,harm_days.
        #[arg(long)]
        harm_table: Option<PathBuf>,
        /// Only areas with a school / station (or either: all) within the radius of the centre.
        #[arg(long)]
        near: Option<String>,
        /// At most this many areas per borough.
        #[arg(long)]
        max_per_borough: Option<usize>,
        /// Ward or borough codes to leave out (repeatable).
        #[arg(long)]
        exclude: Vec<String>,
        /// KDE bandwidth, metres.
        #[arg(long, default_value_t = 400.0)]
        bandwidth: f64,
        /// Output file: .geojson (ranked circles) or .csv.
        #[arg(long)]
        out: PathBuf,
    },
    /// Rolling-origin backtest: hit rate, PAI, PEI and RRI of each predictor by coverage.
    Evaluate {
        /// The dataset directory.
        #[arg(long)]
        dataset: PathBuf,
        /// Grid cell, metres.
        #[arg(long, default_value_t = 250.0)]
        cell: f64,
        /// Training months before each origin.
        #[arg(long, default_value_t = 12)]
        window: usize,
        /// Coverage levels in percent of the study area (repeatable; default 0.5 1 2 5).
        #[arg(long = "coverage")]
        coverage: Vec<f64>,
        /// Methods (repeatable; default counts kde prospective gistar surge): also oracle.
        #[arg(long = "method")]
        method: Vec<String>,
        /// Surge circle radius, metres.
        #[arg(long, default_value_t = 400.0)]
        surge_radius: f64,
        /// KDE bandwidth, metres.
        #[arg(long, default_value_t = 400.0)]
        bandwidth: f64,
        /// Use every n-th origin month.
        #[arg(long, default_value_t = 1)]
        step: usize,
        #[command(flatten)]
        selection: SelectionArgs,
        /// Weigh incidents by harm: a CSV with columns crime_type,harm_days.
        #[arg(long)]
        harm_table: Option<PathBuf>,
        /// Every origin, method and coverage as CSV (plot-ready).
        #[arg(long)]
        out: PathBuf,
        /// The summary table as CSV.
        #[arg(long)]
        summary_out: Option<PathBuf>,
    },
    /// Getis-Ord Gi* hotspots on a grid, with FDR: a GeoJSON or CSV layer.
    Gistar {
        #[command(flatten)]
        hotspot: HotspotArgs,
    },
    /// Emerging hot spots: monthly space-time Gi*, Mann-Kendall trends, ArcGIS categories.
    Emerging {
        /// The dataset directory.
        #[arg(long)]
        dataset: PathBuf,
        #[arg(long, value_enum, default_value = "square")]
        grid: GridArg,
        /// Cell size in metres.
        #[arg(long, default_value_t = 250.0)]
        cell: f64,
        /// Distance band in metres.
        #[arg(long, default_value_t = 750.0)]
        band: f64,
        /// Months in each bin's neighbourhood (1 = its own month).
        #[arg(long, default_value_t = 1)]
        time_step: usize,
        #[command(flatten)]
        selection: SelectionArgs,
        #[arg(long, default_value_t = 0.05)]
        alpha: f64,
        /// Output file: .geojson or .csv.
        #[arg(long)]
        out: PathBuf,
    },
    /// Local Moran's I (LISA) on a grid: HH/LH/LL/HL with permutation p and FDR.
    Lisa {
        #[command(flatten)]
        hotspot: HotspotArgs,
    },
    /// Kernel density (quartic) per km² on a raster of square cells.
    Kde {
        /// The dataset directory.
        #[arg(long)]
        dataset: PathBuf,
        /// Raster cell size in metres.
        #[arg(long, default_value_t = 50.0)]
        cell: f64,
        /// Bandwidth (search radius) in metres (default: stated rule).
        #[arg(long)]
        bandwidth: Option<f64>,
        /// Dual KDE: crime types of a baseline layer (repeatable; "all" for every
        /// crime type); adds relative risk per cell.
        #[arg(long = "baseline-crime-type")]
        baseline_crime_type: Vec<String>,
        #[command(flatten)]
        selection: SelectionArgs,
        /// Output file: .geojson or .csv.
        #[arg(long)]
        out: PathBuf,
    },
    /// Download the official open data (boundaries, police.uk crime, GIAS
    /// schools, stations) into a data root, then write its ingest config.
    Fetch {
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
    },
    /// Write a synthetic city with planted hotspots, ingest it, and serve it (the web map).
    Demo {
        /// Where to write it.
        #[arg(long, default_value = "out/demo")]
        dir: PathBuf,
        /// Random seed (same seed, same city).
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Address to serve on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: String,
        /// Build and ingest only; do not serve (for scripts).
        #[arg(long)]
        no_serve: bool,
    },
    /// Serve a dataset over HTTP: OGC API - Features, analysis layers, a web map at /map.
    Serve {
        /// The dataset directory.
        #[arg(long)]
        dataset: PathBuf,
        /// Address to serve on (loopback by default).
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: String,
        /// Allow cross-origin requests from this origin ("*" for any); off by default.
        #[arg(long)]
        cors: Option<String>,
    },
}

/// 4 KiB pages for this process: with transparent huge pages a 2 MiB page
/// stays resident while any of it is in use and is zeroed whole when first
/// touched (measured with mimalloc, which asks for them: ~40 MB more
/// resident when serving the Met burglaries, ~60 MB when ingesting).
/// Best effort: ignored where unsupported.
fn small_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments only.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// Opens the dataset, binds, prints the URLs and serves until Ctrl-C.
fn serve(dataset: &std::path::Path, bind: &str, cors: Option<String>) -> anyhow::Result<()> {
    small_pages();
    let t0 = std::time::Instant::now();
    let ds = hotspots::dataset::Dataset::open(dataset)?;
    let state = hotspots::api::AppState::new(ds)
        .with_context(|| format!("preparing {}", dataset.display()))?
        .with_cors(cors);
    // Return what loading freed (Parquet decoding, the incidents frame) to
    // the OS now, before the server's threads start.
    hotspots::api::release_free_memory();
    tracing::info!(seconds = format!("{:.2}", t0.elapsed().as_secs_f64()), "dataset loaded");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .with_context(|| format!("binding {bind}"))?;
        let addr = listener.local_addr()?;
        println!("serving {} on http://{addr}/", dataset.display());
        println!("map                 http://{addr}/map");
        println!("OGC API - Features  http://{addr}/ (add it in QGIS as an OGC API - Features connection)");
        println!("Ctrl-C to stop");
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        };
        hotspots::api::serve(listener, state, shutdown).await?;
        anyhow::Ok(())
    })
}

/// Which incidents an analysis uses (shared by every analysis command).
#[derive(clap::Args)]
struct SelectionArgs {
    /// police.uk crime types to keep (repeatable); default all.
    #[arg(long = "crime-type")]
    crime_type: Vec<String>,
    /// First month, YYYY-MM.
    #[arg(long)]
    from: Option<String>,
    /// Last month, YYYY-MM.
    #[arg(long)]
    to: Option<String>,
}

impl SelectionArgs {
    /// The selection with these crime types (or the given ones) and months.
    fn selection(&self, crime_types: &[String]) -> hotspots::analysis::select::Selection {
        hotspots::analysis::select::Selection {
            crime_types: crime_types.to_vec(),
            from: self.from.clone(),
            to: self.to.clone(),
            kind: None,
        }
    }
}

/// Options shared by the hotspot commands.
#[derive(clap::Args)]
struct HotspotArgs {
    /// The dataset directory.
    #[arg(long)]
    dataset: PathBuf,
    /// Units of analysis.
    #[arg(long, value_enum, default_value = "square")]
    grid: GridArg,
    /// Cell size in metres (default: chosen from the data, stated in the output).
    #[arg(long)]
    cell: Option<f64>,
    /// Distance band in metres (default: chosen from the data, stated in the output).
    #[arg(long)]
    band: Option<f64>,
    /// Weights within the band.
    #[arg(long, value_enum, default_value = "binary")]
    weights: WeightsArg,
    #[command(flatten)]
    selection: SelectionArgs,
    /// Weigh incidents by harm: a CSV with columns crime_type,harm_days.
    #[arg(long)]
    harm_table: Option<PathBuf>,
    /// H3 resolution for `--grid h3` (9: cells of ~0.1 km²).
    #[arg(long, default_value_t = 9)]
    h3_resolution: u8,
    /// Ring size for `--weights k-ring`.
    #[arg(long, default_value_t = 1)]
    k: u32,
    /// Conditional permutations for pseudo p-values (e.g. 999).
    #[arg(long, default_value_t = 0)]
    permutations: usize,
    /// Seed for the permutations.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Significance level.
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
    /// Multiple-testing correction for `significant`.
    #[arg(long, value_enum, default_value = "fdr")]
    correction: CorrectionArg,
    /// Output file: .geojson (RFC 7946) or .csv.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum GridArg {
    Square,
    Hex,
    Ward,
    Borough,
    H3,
}

impl GridArg {
    fn unit(self) -> hotspots::analysis::units::UnitKind {
        use hotspots::analysis::units::UnitKind;
        match self {
            GridArg::Square => UnitKind::Square,
            GridArg::Hex => UnitKind::Hex,
            GridArg::Ward => UnitKind::Ward,
            GridArg::Borough => UnitKind::Borough,
            GridArg::H3 => UnitKind::H3,
        }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum WeightsArg {
    Binary,
    InverseDistance,
    Queen,
    Rook,
    KRing,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum CorrectionArg {
    None,
    Fdr,
    Bonferroni,
}

impl HotspotArgs {
    fn request(&self) -> anyhow::Result<hotspots::analysis::hotspot::HotspotRequest> {
        use hotspots::analysis::{fdr::Correction, hotspot::WeightKind};
        Ok(hotspots::analysis::hotspot::HotspotRequest {
            selection: self.selection.selection(&self.selection.crime_type),
            grid: self.grid.unit(),
            cell_m: self.cell,
            band_m: self.band,
            weights: match self.weights {
                WeightsArg::Binary => WeightKind::Binary,
                WeightsArg::InverseDistance => WeightKind::InverseDistance,
                WeightsArg::Queen => WeightKind::Queen,
                WeightsArg::Rook => WeightKind::Rook,
                WeightsArg::KRing => WeightKind::KRing,
            },
            harm: self
                .harm_table
                .as_deref()
                .map(hotspots::analysis::harm::HarmTable::from_csv)
                .transpose()?,
            h3_resolution: self.h3_resolution,
            k: self.k,
            permutations: self.permutations,
            seed: self.seed,
            alpha: self.alpha,
            correction: match self.correction {
                CorrectionArg::None => Correction::None,
                CorrectionArg::Fdr => Correction::Fdr,
                CorrectionArg::Bonferroni => Correction::Bonferroni,
            },
        })
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    match cli.command {
        Command::Ingest {
            config,
            data_root,
            out,
            force,
            allow_outside_data_root,
        } => {
            small_pages();
            let cfg = hotspots::config::Config::load(&config)?;
            if !allow_outside_data_root {
                cfg.check_paths_within_root(&config.display().to_string())?;
            }
            let opts = hotspots::ingest::IngestOptions {
                quiet: cli.quiet,
                force,
                allow_outside_data_root,
            };
            let m = hotspots::ingest::ingest(&cfg, &data_root, &out, &opts)
                .with_context(|| format!("ingesting {}", config.display()))?;
            let reused: usize = m.sources.iter().flat_map(|s| &s.files).filter(|f| f.reused).count();
            let files: usize = m.sources.iter().map(|s| s.files.len()).sum();
            tracing::info!(
                accepted = m.totals.rows_accepted,
                rejected = m.totals.rows_rejected,
                files,
                reused,
                seconds = format!("{:.2}", m.build_seconds),
                "wrote {}",
                out.display()
            );
        }
        Command::Info { dataset, top, json } => {
            if json {
                let m = hotspots::dataset::read_manifest(&dataset)?;
                println!("{}", serde_json::to_string_pretty(&m)?);
            } else {
                let ds = hotspots::dataset::Dataset::open(&dataset)?;
                print!("{}", hotspots::info::report(&ds, top)?);
            }
        }
        Command::PoiRisk {
            dataset,
            pois,
            radius,
            rank_radius,
            selection,
            harm_table,
            alpha,
            top,
            out,
            buffers_out,
            summary_out,
        } => {
            use hotspots::analysis::poi_risk::{poi_risk, PoiRiskRequest, PoiSet};
            let ds = hotspots::dataset::Dataset::open_for_analysis(&dataset)?;
            let mut req = PoiRiskRequest {
                selection: selection.selection(&selection.crime_type),
                pois: PoiSet::parse(&pois)
                    .ok_or_else(|| anyhow::anyhow!("--pois: {pois:?} is not schools, stations or all"))?,
                harm: harm_table
                    .as_deref()
                    .map(hotspots::analysis::harm::HarmTable::from_csv)
                    .transpose()?,
                alpha,
                ..PoiRiskRequest::default()
            };
            if !radius.is_empty() {
                let mut r = radius;
                r.sort_by(f64::total_cmp);
                req.rank_radius_m = r[(r.len() - 1) / 2];
                req.radii_m = r;
            }
            if let Some(r) = rank_radius {
                req.rank_radius_m = r;
            }
            let result = poi_risk(&ds, &req)?;
            result.to_layer().write(&out)?;
            if let Some(b) = &buffers_out {
                result.to_buffer_layer().write(b)?;
            }
            if let Some(p) = &summary_out {
                std::fs::write(p, result.layer_csv()).with_context(|| format!("writing {}", p.display()))?;
            }
            let k = req.radii_m.iter().position(|r| *r == req.rank_radius_m).unwrap_or(0);
            println!(
                "{} POIs, {} incidents, study area {:.1} km²; top {} by the lower 95% bound of relative risk within {} m:",
                result.pois.len(),
                result.incidents,
                result.study_area_km2,
                top.min(result.pois.len()),
                req.rank_radius_m
            );
            for (rank, &i) in result.ranking.iter().take(top).enumerate() {
                let (p, r) = (&result.pois[i], &result.risk[i][k]);
                println!(
                    "{:>3}. {:<8} {:<40} {:>6} incidents, expected {:>7.1}, RR {:>5.2} [{:.2}, {:.2}], q {:.2e}",
                    rank + 1,
                    p.kind,
                    p.name.chars().take(40).collect::<String>(),
                    r.count,
                    r.expected_london,
                    r.rr_london,
                    r.rr_low,
                    r.rr_high,
                    r.q_london
                );
            }
            for l in result.layer.iter().filter(|l| l.crime_type == "all") {
                println!(
                    "within {:>4} m of a POI: {:.0} per km² vs {:.0} elsewhere: {:.2}x [{:.2}, {:.2}] ({:.2}x the London rate)",
                    l.radius_m, l.per_km2_within, l.per_km2_elsewhere, l.rr_vs_elsewhere, l.rr_low, l.rr_high, l.ratio_to_london
                );
            }
            println!("wrote {}", out.display());
        }
        Command::Surge {
            dataset,
            teams,
            radius,
            cells,
            cell,
            predictor,
            window,
            selection,
            harm_table,
            near,
            max_per_borough,
            exclude,
            bandwidth,
            out,
        } => {
            use hotspots::analysis::{poi_risk::PoiSet, predict::Predictor, surge};
            let ds = hotspots::dataset::Dataset::open_for_analysis(&dataset)?;
            let mut req = surge::SurgeRequest {
                selection: selection.selection(&selection.crime_type),
                window_months: window,
                teams,
                radius_m: radius,
                cell_m: cell,
                predictor: Predictor::parse(&predictor).ok_or_else(|| {
                    anyhow::anyhow!("--predictor: {predictor:?} is not counts, kde, prospective or gistar")
                })?,
                harm: harm_table
                    .as_deref()
                    .map(hotspots::analysis::harm::HarmTable::from_csv)
                    .transpose()?,
                near: near
                    .as_deref()
                    .map(|n| {
                        PoiSet::parse(n).ok_or_else(|| anyhow::anyhow!("--near: {n:?} is not schools, stations or all"))
                    })
                    .transpose()?,
                max_per_borough,
                exclude,
                ..surge::SurgeRequest::default()
            };
            req.params.kde_bandwidth_m = bandwidth;
            if let Some(k) = cells {
                anyhow::ensure!(k.is_finite() && k >= 1.0, "--cells: {k} must be at least 1");
                req.radius_m = cell * (k / std::f64::consts::PI).sqrt();
                println!(
                    "{k} cells of {cell} m: radius {:.0} m ({} cell centres per area)",
                    req.radius_m,
                    hotspots::analysis::predict::disc_stencil(req.radius_m, cell).len()
                );
            }
            let plan = surge::surge(&ds, &req)?;
            plan.to_layer().write(&out)?;
            println!(
                "{} areas for {} (trained on {}..{}); {:.1} of {:.1} expected, proven >= {:.0}% of the optimum",
                plan.areas.len(),
                plan.predicted_month,
                plan.train_from,
                plan.train_to,
                plan.achieved,
                plan.london_total,
                100.0 * plan.achieved / plan.upper_bound.max(f64::MIN_POSITIVE)
            );
            for a in &plan.areas {
                println!("{}", a.reason);
            }
            println!("wrote {}", out.display());
        }
        Command::Evaluate {
            dataset,
            cell,
            window,
            coverage,
            method,
            surge_radius,
            bandwidth,
            step,
            selection,
            harm_table,
            out,
            summary_out,
        } => {
            use hotspots::analysis::{evaluate, predict::Predictor};
            let ds = hotspots::dataset::Dataset::open_for_analysis(&dataset)?;
            let mut req = evaluate::EvaluateRequest {
                selection: selection.selection(&selection.crime_type),
                cell_m: cell,
                window_months: window,
                surge_radius_m: surge_radius,
                step,
                harm: harm_table
                    .as_deref()
                    .map(hotspots::analysis::harm::HarmTable::from_csv)
                    .transpose()?,
                ..evaluate::EvaluateRequest::default()
            };
            req.params.kde_bandwidth_m = bandwidth;
            if !coverage.is_empty() {
                req.coverages = coverage.iter().map(|c| c / 100.0).collect();
            }
            if !method.is_empty() {
                req.methods = method
                    .iter()
                    .map(|m| match m.as_str() {
                        "oracle" => Ok(evaluate::Method::Oracle),
                        "surge" => Ok(evaluate::Method::Surge(Predictor::Kde)),
                        s => match s.strip_prefix("surge_").or_else(|| s.strip_prefix("surge-")) {
                            Some(p) => Predictor::parse(p).map(evaluate::Method::Surge),
                            None => Predictor::parse(s).map(evaluate::Method::Predictor),
                        }
                        .ok_or_else(|| {
                            anyhow::anyhow!(
                                "--method: {m:?} is not counts, kde, prospective, gistar, surge[_P] or oracle"
                            )
                        }),
                    })
                    .collect::<anyhow::Result<_>>()?;
            }
            let result = evaluate::evaluate(&ds, &req)?;
            std::fs::write(&out, result.scores_csv()).with_context(|| format!("writing {}", out.display()))?;
            if let Some(p) = &summary_out {
                std::fs::write(p, result.summary_csv()).with_context(|| format!("writing {}", p.display()))?;
            }
            print!("{}", result.table());
            println!("wrote {}", out.display());
        }
        Command::Gistar { hotspot } => {
            let ds = hotspots::dataset::Dataset::open_for_analysis(&hotspot.dataset)?;
            let result = hotspots::analysis::hotspot::gi_star(&ds, &hotspot.request()?)?;
            result.to_layer().write(&hotspot.out)?;
            let hot = result.bin_fdr.iter().filter(|b| **b > 0).count();
            let cold = result.bin_fdr.iter().filter(|b| **b < 0).count();
            println!(
                "{} units (cell size: {}; {}), weights: {} ({}); {} hot and {} cold at 90 %+ with FDR; wrote {}",
                result.units.len(),
                result.cell_choice.value,
                result.cell_choice.rule,
                result.band_choice.value,
                result.band_choice.rule,
                hot,
                cold,
                hotspot.out.display()
            );
        }
        Command::Emerging {
            dataset,
            grid,
            cell,
            band,
            time_step,
            selection,
            alpha,
            out,
        } => {
            use hotspots::analysis::emerging::{emerging, EmergingRequest};
            let ds = hotspots::dataset::Dataset::open_for_analysis(&dataset)?;
            let req = EmergingRequest {
                selection: selection.selection(&selection.crime_type),
                grid: grid
                    .unit()
                    .grid()
                    .ok_or_else(|| anyhow::anyhow!("emerging hot spots run on square or hex cells"))?,
                cell_m: cell,
                band_m: band,
                time_step,
                alpha,
            };
            let layer = emerging(&ds, &req)?.to_layer();
            layer.write(&out)?;
            println!("{}", serde_json::to_string_pretty(&layer.metadata["categories"])?);
            println!("wrote {}", out.display());
        }
        Command::Lisa { hotspot } => {
            let ds = hotspots::dataset::Dataset::open_for_analysis(&hotspot.dataset)?;
            let mut req = hotspot.request()?;
            let permutations = if req.permutations == 0 { 999 } else { req.permutations };
            req.permutations = 0;
            let h = hotspots::analysis::hotspot::gi_star(&ds, &req)?;
            let l = hotspots::analysis::lisa::local_morans_i(&h.count, &h.weights, permutations, req.seed);
            hotspots::analysis::lisa::to_layer(&h, &l, req.alpha).write(&hotspot.out)?;
            println!(
                "{} cells, {permutations} permutations; wrote {}",
                h.units.len(),
                hotspot.out.display()
            );
        }
        Command::Kde {
            dataset,
            cell,
            bandwidth,
            baseline_crime_type,
            selection,
            out,
        } => {
            let ds = hotspots::dataset::Dataset::open_for_analysis(&dataset)?;
            let baseline = (!baseline_crime_type.is_empty()).then(|| {
                let types: Vec<String> = baseline_crime_type.into_iter().filter(|t| t != "all").collect();
                selection.selection(&types)
            });
            let req = hotspots::analysis::kde::KdeRequest {
                selection: selection.selection(&selection.crime_type),
                cell_m: cell,
                bandwidth_m: bandwidth,
                baseline,
            };
            let result = hotspots::analysis::kde::kde(&ds, &req)?;
            result.to_layer().write(&out)?;
            println!(
                "{} cells of {} m, bandwidth {:.0} m ({}); wrote {}",
                result.grid.cells.len(),
                cell,
                result.bandwidth.value,
                result.bandwidth.rule,
                out.display()
            );
        }
        Command::Fetch {
            data_root,
            months,
            forces,
            what,
            via,
            base_url,
            api_rate,
        } => {
            let months = match months {
                Some(spec) => hotspots::fetch::parse_months(&spec).map_err(anyhow::Error::msg)?,
                None => Vec::new(),
            };
            let mut opts = hotspots::fetch::FetchOptions::new(&data_root, months);
            opts.forces = forces;
            opts.what = what;
            opts.via = via;
            opts.api_requests_per_second = api_rate;
            opts.quiet = cli.quiet;
            if let Some(base) = base_url {
                opts.sources = hotspots::fetch::sources::Sources::mirror(&base);
            }
            let report =
                hotspots::fetch::run(&opts).with_context(|| format!("fetching into {}", data_root.display()))?;
            println!(
                "fetched {} files ({} already there, sha256 verified) into {}",
                report.written.len(),
                report.verified.len(),
                data_root.display()
            );
            if let Some(s) = report.schools {
                println!("schools: {} open in London kept, {} others dropped", s.kept, s.dropped);
            }
            for m in &report.missing {
                println!("not in the archive: {m}");
            }
            for a in &report.api {
                println!(
                    "API {}: {} requests, {} records, {} repeats dropped, {} crimes kept",
                    a.month, a.requests, a.returned, a.duplicates, a.kept
                );
            }
            println!("ingest config        {}", report.config.display());
            println!(
                "next: hotspots ingest --config {} --data-root {} --out out/fetched",
                report.config.display(),
                data_root.display()
            );
        }
        Command::Serve { dataset, bind, cors } => serve(&dataset, &bind, cors)?,
        Command::Demo {
            dir,
            seed,
            bind,
            no_serve,
        } => {
            let demo = hotspots::demo::run(&dir, seed, cli.quiet)?;
            println!("demo city written to {}", demo.data_root.display());
            println!("config              {}", demo.config.display());
            println!(
                "dataset             {} ({} incidents, {} rejected)",
                demo.dataset.display(),
                demo.manifest.totals.rows_accepted,
                demo.manifest.totals.rows_rejected
            );
            println!(
                "planted hotspots    {} (see {})",
                demo.ground_truth.hotspots.len(),
                demo.data_root.join("ground_truth.json").display()
            );
            if no_serve {
                println!("next: hotspots serve --dataset {}", demo.dataset.display());
            } else {
                serve(&demo.dataset, &bind, None)?;
            }
        }
    }
    Ok(())
}
