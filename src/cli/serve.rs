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
}

pub fn serve(a: ServeArgs) -> anyhow::Result<()> {
    run_server(&a.dataset, &a.bind, a.cors)
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
        run_server(&demo.dataset, &a.bind, None)
    }
}

/// Opens the dataset, binds, prints the URLs and serves until Ctrl-C.
fn run_server(dataset: &Path, bind: &str, cors: Option<String>) -> anyhow::Result<()> {
    hotspots::sys::small_pages();
    let t0 = std::time::Instant::now();
    let ds = hotspots::dataset::Dataset::open(dataset)?;
    let state = hotspots::api::AppState::new(ds)
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
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        };
        hotspots::api::serve(listener, state, shutdown).await?;
        anyhow::Ok(())
    })
}
