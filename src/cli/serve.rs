//! `hotspots serve` and `hotspots demo` (which serves what it built).

use std::path::{Path, PathBuf};

use anyhow::Context;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// The dataset directory.
    #[arg(long)]
    dataset: PathBuf,
    /// Address to serve on (loopback by default).
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: String,
    /// Allow cross-origin requests from this origin ("*" for any); off by default.
    #[arg(long)]
    cors: Option<String>,
    #[command(flatten)]
    limits: LimitArgs,
}

/// What the server holds requests to (defaults admit every documented
/// use on all-London data; see `hotspots::analysis::cost`).
#[derive(clap::Args)]
pub struct LimitArgs {
    /// Most features an analysis layer may have (cells, raster pixels).
    #[arg(long, default_value_t = 1_000_000.0)]
    max_cells: f64,
    /// Most neighbour pairs (or cells × months) a computation may hold.
    #[arg(long, default_value_t = 20_000_000.0)]
    max_pairs: f64,
    /// Most steps of work a computation may take (about 10^9 a second on 2 cores).
    #[arg(long, default_value_t = 5e9)]
    max_work: f64,
    /// Memory for cached layers and grid shapes, MiB.
    #[arg(long, default_value_t = 256)]
    cache_mb: usize,
    /// Heavy computations at once (default: the number of cores).
    #[arg(long)]
    slots: Option<usize>,
    /// Computations that may wait for a slot before new ones get 503.
    #[arg(long)]
    queue: Option<usize>,
    /// Seconds a request may take before it gets a 408 and its work is cancelled.
    #[arg(long, default_value_t = 120)]
    request_timeout: u64,
    /// The base of every link in responses (e.g. https://hotspots.example.org);
    /// default: http:// and the bound address.
    #[arg(long)]
    public_url: Option<String>,
    /// A Host header value links may echo besides the public URL's (repeatable).
    #[arg(long = "allow-host")]
    allow_host: Vec<String>,
}

impl LimitArgs {
    fn config(&self) -> hotspots::api::ServerConfig {
        let mut c = hotspots::api::ServerConfig {
            limits: hotspots::analysis::cost::Limits {
                max_cells: self.max_cells,
                max_pairs: self.max_pairs,
                max_work: self.max_work,
            },
            cache_bytes: self.cache_mb << 20,
            request_timeout: std::time::Duration::from_secs(self.request_timeout.max(1)),
            public_url: self.public_url.clone(),
            allowed_hosts: self.allow_host.clone(),
            ..Default::default()
        };
        if let Some(s) = self.slots {
            c.slots = s.max(1);
            c.queue = 2 * c.slots;
        }
        if let Some(q) = self.queue {
            c.queue = q;
        }
        c
    }
}

pub fn serve(a: ServeArgs) -> anyhow::Result<()> {
    run_server(&a.dataset, &a.bind, a.cors, a.limits.config())
}

#[derive(clap::Args)]
pub struct DemoArgs {
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
}

pub fn demo(a: DemoArgs, quiet: bool) -> anyhow::Result<()> {
    let demo = hotspots::demo::run(&a.dir, a.seed, quiet)?;
    print!("{}", demo.summary());
    if a.no_serve {
        println!("next: hotspots serve --dataset {}", demo.dataset.display());
        Ok(())
    } else {
        run_server(&demo.dataset, &a.bind, None, Default::default())
    }
}

/// Opens the dataset, binds, prints the URLs and serves until Ctrl-C or
/// SIGTERM (in-flight requests finish; abandoned work is cancelled).
fn run_server(
    dataset: &Path,
    bind: &str,
    cors: Option<String>,
    config: hotspots::api::ServerConfig,
) -> anyhow::Result<()> {
    hotspots::sys::small_pages();
    let t0 = std::time::Instant::now();
    let ds = hotspots::dataset::Dataset::open(dataset)?;
    let state = hotspots::api::AppState::with_config(ds, config)
        .with_context(|| format!("preparing {}", dataset.display()))?
        .with_cors(cors);
    // Return what loading freed (Parquet decoding, the incidents frame) to
    // the OS now, before the server's threads start.
    hotspots::sys::release_free_memory();
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
            #[cfg(unix)]
            {
                let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("a SIGTERM handler");
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            #[cfg(not(unix))]
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        };
        hotspots::api::serve(listener, state, shutdown).await?;
        anyhow::Ok(())
    })
}
