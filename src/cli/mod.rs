//! The `hotspots` command line, one file per command group. The binary's
//! `main` builds the command ([`command`]), parses and calls [`dispatch`].
//!
//! | file | commands |
//! |---|---|
//! | `ingest.rs` | `ingest`, `info` |
//! | `analyses.rs` | every analysis of `analysis::run::ALL` offered on the CLI (`gistar`, `lisa`, `kde`, `emerging`, `poi-risk`, `surge`, `evaluate`): flags and `--help` from its parameter declaration |
//! | `serve.rs` | `serve`, `demo` |
//! | `fetch.rs` | `fetch` |
//! | `briefing.rs` | `briefing`: ward briefings as HTML pages (and PDFs) |

mod analyses;
mod briefing;
mod fetch;
mod ingest;
mod serve;

use clap::{Arg, ArgAction, ArgMatches, Command, FromArgMatches, Subcommand};

/// The commands with fixed arguments (the analyses' are built from their
/// declarations in [`analyses`]).
#[derive(Subcommand)]
enum Fixed {
    /// Read boundaries, incidents and POIs into a validated Parquet dataset.
    Ingest(ingest::IngestArgs),
    /// What a dataset holds: counts by month, crime type, ward; rejects by reason.
    Info(ingest::InfoArgs),
    /// Download the official open data (boundaries, police.uk crime, GIAS
    /// schools, stations) into a data root, then write its ingest config.
    Fetch(fetch::FetchArgs),
    /// Write a synthetic city with planted hotspots, ingest it, and serve it (the web map).
    Demo(serve::DemoArgs),
    /// Serve a dataset over HTTP: OGC API - Features, analysis layers, a web map at /map.
    Serve(serve::ServeArgs),
    /// Ward briefings: one self-contained HTML page per ward (and PDFs with
    /// --pdf), index pages per borough and for London.
    Briefing(briefing::BriefingArgs),
}

/// The whole command line: the fixed commands and one per analysis.
pub fn command() -> Command {
    let cmd = Command::new("hotspots")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Crime hotspot analytics for London: ingest, analyse, serve.")
        .subcommand_required(true)
        .arg_required_else_help(true)
        .arg(
            Arg::new("quiet")
                .long("quiet")
                .global(true)
                .action(ArgAction::SetTrue)
                .help("No progress bars (for scripts)."),
        );
    let cmd = Fixed::augment_subcommands(cmd);
    cmd.subcommands(analyses::commands())
}

/// Runs the command the user asked for.
pub fn dispatch(matches: &ArgMatches) -> anyhow::Result<()> {
    let quiet = matches.get_flag("quiet");
    if let Some((name, sub)) = matches.subcommand() {
        if let Some(analysis) = analyses::find(name) {
            return analyses::run(analysis, sub);
        }
    }
    match Fixed::from_arg_matches(matches)? {
        Fixed::Ingest(a) => ingest::ingest(a, quiet),
        Fixed::Info(a) => ingest::info(a),
        Fixed::Fetch(a) => fetch::fetch(a, quiet),
        Fixed::Demo(a) => serve::demo(a, quiet),
        Fixed::Serve(a) => serve::serve(a),
        Fixed::Briefing(a) => briefing::briefing(a, quiet),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        command().debug_assert();
    }
}
