//! `hotspots briefing`: one self-contained HTML page per ward (and PDFs
//! with `--pdf`), index pages per borough and for London.

use std::path::PathBuf;

use anyhow::Context as _;
use hotspots::briefing::output::{self, Scope};
use hotspots::briefing::{Context, Options};

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("scope").required(true).args(["ward", "borough", "all"])))]
pub struct BriefingArgs {
    /// The dataset directory.
    #[arg(long)]
    dataset: PathBuf,
    /// One ward, by code (e.g. E05000138).
    #[arg(long)]
    ward: Option<String>,
    /// Every ward of a borough, by code (e.g. E09000007).
    #[arg(long)]
    borough: Option<String>,
    /// Every ward.
    #[arg(long)]
    all: bool,
    /// The folder to write the pages to (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Months in the period: the latest N months in the dataset (1 to 12),
    /// compared with the previous N and the same months a year earlier.
    #[arg(long, default_value_t = 12)]
    months: u32,
    /// A police.uk crime type to count (repeatable; default: every crime
    /// type except anti-social behaviour).
    #[arg(long = "crime-type")]
    crime_type: Vec<String>,
    /// Weigh incidents by harm: a CSV with columns crime_type,harm_days.
    #[arg(long)]
    harm_table: Option<PathBuf>,
    /// Hot spot and emerging hot spot cell size, metres (BNG).
    #[arg(long, default_value_t = 250.0)]
    cell: f64,
    /// Also print each ward's page, and each borough's wards together, to
    /// PDF with headless Chromium.
    #[arg(long)]
    pdf: bool,
}

pub fn briefing(a: BriefingArgs, quiet: bool) -> anyhow::Result<()> {
    let t0 = std::time::Instant::now();
    let scope = match (&a.ward, &a.borough) {
        (Some(w), _) => Scope::Ward(w.clone()),
        (None, Some(b)) => Scope::Borough(b.clone()),
        (None, None) => Scope::All,
    };
    let harm = a
        .harm_table
        .as_deref()
        .map(hotspots::analysis::harm::HarmTable::from_csv)
        .transpose()?;
    if a.pdf {
        // Before any work: a missing Chromium is a clear error at once.
        hotspots::briefing::pdf::find_chromium()?;
    }
    let ds = hotspots::dataset::Dataset::open_for_analysis(&a.dataset)
        .with_context(|| format!("opening the dataset {}", a.dataset.display()))?;
    let progress = hotspots::progress::Progress::new(quiet);
    let step = progress.step("London-wide hot spots, POI risk and emerging hot spots");
    let ctx = Context::build(
        &ds,
        Options {
            months: a.months,
            crime_types: a.crime_type.clone(),
            harm,
            cell_m: a.cell,
        },
    )?;
    step.finish_and_clear();
    let step = progress.step(if a.pdf { "pages and PDFs" } else { "pages" });
    let written = output::write(&ds, &ctx, &scope, &a.out, a.pdf, &hotspots::month::now_rfc3339())?;
    step.finish_and_clear();
    println!(
        "wrote {} ward pages in {} boroughs{} to {} ({:.1} s); open {}",
        written.pages,
        written.boroughs,
        if a.pdf {
            format!(", {} PDFs", written.pdfs)
        } else {
            String::new()
        },
        a.out.display(),
        t0.elapsed().as_secs_f64(),
        a.out.join("index.html").display()
    );
    Ok(())
}
