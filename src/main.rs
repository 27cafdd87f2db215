//! The `hotspots` binary: parses the command line and runs the command
//! (`cli/`, one file per command group), which calls the library.

mod cli;

// The system allocator (glibc). mimalloc was used until Dec 2026: it served
// as fast, with the same resident memory once loading's free pages were
// returned, and ingested ~3% faster, but the ingest of the Met burglaries
// peaked ~45 MiB higher (median 274 against 229 MiB over 10 runs each, up to
// 287 MiB: over the 300 MB target).

fn main() -> anyhow::Result<()> {
    let matches = cli::command().get_matches();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    cli::dispatch(&matches)
}
