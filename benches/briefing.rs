//! Ward briefing benchmarks on the real Met burglary data (`HOTSPOTS_DATA`,
//! 135 months, 649 wards): the shared London-wide work, every ward's HTML
//! page written (`hotspots briefing --all` without `--pdf`), one ward's
//! figures and page from a built context (what `/wards/{code}/briefing`
//! does per request once the server holds the context), and one borough's
//! PDFs through headless Chromium when it is installed.
//!
//! `HOTSPOTS_DATA=../shared/data cargo bench --bench briefing`

mod common;

use common::{ms, time};

use hotspots::briefing::output::{self, Scope};
use hotspots::briefing::{figures, html, Context, Options};

fn main() {
    let Some(root) = common::data() else {
        eprintln!("SKIPPED briefing bench: set HOTSPOTS_DATA to the real data folder");
        return;
    };
    let (_tmp, ds) = common::burglary_dataset(&root);
    let (best, median) = time(3, || Context::build(&ds, Options::default()).unwrap());
    println!(
        "shared work (Gi* 250 m, POI risk, emerging over 36 months, text columns)   best {:>8.1} ms  median {:>8.1} ms",
        ms(best),
        ms(median)
    );
    let out = tempfile::tempdir().unwrap();
    let (best, median) = time(3, || {
        let ctx = Context::build(&ds, Options::default()).unwrap();
        output::write(&ds, &ctx, &Scope::All, out.path(), false, "bench").unwrap()
    });
    println!(
        "--all: shared work + 649 ward pages + indexes written                    best {:>8.1} ms  median {:>8.1} ms",
        ms(best),
        ms(median)
    );
    let ctx = Context::build(&ds, Options::default()).unwrap();
    // The ward with the most incidents: the largest page.
    let busiest = (0..ctx.wards.codes.len())
        .max_by_key(|&w| ctx.by_ward[w].len())
        .unwrap();
    let code = ctx.wards.codes[busiest].clone();
    let (best, median) = time(20, || {
        let b = figures::ward_briefing(&ds, &ctx, &code).unwrap();
        html::page(&b, "bench")
    });
    println!(
        "one ward's figures and page, context built ({code}, the busiest)    best {:>8.1} ms  median {:>8.1} ms",
        ms(best),
        ms(median)
    );
    if hotspots::briefing::pdf::find_chromium().is_err() {
        eprintln!("SKIPPED the PDF figure: no Chromium");
        return;
    }
    let borough = ctx.boroughs.codes[ctx.ward_borough[busiest] as usize].clone();
    let pdfs = tempfile::tempdir().unwrap();
    let (best, _) = time(1, || {
        output::write(&ds, &ctx, &Scope::Borough(borough.clone()), pdfs.path(), true, "bench").unwrap()
    });
    let written = output::write(&ds, &ctx, &Scope::Borough(borough.clone()), pdfs.path(), false, "bench").unwrap();
    println!(
        "borough {borough}: {} ward pages and PDFs and the combined PDF      {:>8.1} ms",
        written.pages,
        ms(best)
    );
}
