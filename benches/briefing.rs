//! Ward briefing benchmarks on the real Met burglary data (`HOTSPOTS_DATA`,
//! 135 months, 649 wards): the shared London-wide work, every ward's HTML
//! page written (`hotspots briefing --all` without `--pdf`), one ward's
//! figures and page from a built context (what `/wards/{code}/briefing`
//! does per request once the server holds the context), and one borough's
//! PDFs through headless Chromium when it is installed.
//!
//! `HOTSPOTS_DATA=../shared/data cargo bench --bench briefing`, or
//! `HOTSPOTS_DATASET=DIR` for an ingested dataset (the full
//! `data/london.toml`); then also the first served briefing (the shared
//! work built by that request) and a second one, over HTTP.

mod common;

use common::{get, ms, time};

use hotspots::briefing::output::{self, Scope};
use hotspots::briefing::{figures, html, Context, Options};

/// The first and a second served briefing of `code`.
fn served(dir: &std::path::Path, code: &str) {
    let ds = hotspots::dataset::Dataset::open(dir).expect("open");
    let state = hotspots::api::AppState::new(ds).expect("state");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(hotspots::api::serve(listener, state, async {
        let _ = rx.await;
    }));
    let (status, _, first) = get(addr, &format!("/wards/{code}/briefing"));
    assert!(status.contains("200"), "{status}");
    let (_, _, second) = get(addr, &format!("/wards/{code}/briefing"));
    println!(
        "served /wards/{code}/briefing: first (builds the shared work) {:>8.1} ms, then {:>6.1} ms",
        ms(first),
        ms(second)
    );
    let _ = tx.send(());
    let _ = rt.block_on(server);
}

fn main() {
    let (_tmp, ds) = match std::env::var_os("HOTSPOTS_DATASET") {
        Some(d) => (
            None,
            hotspots::dataset::Dataset::open_for_analysis(std::path::Path::new(&d)).expect("open"),
        ),
        None => {
            let Some(root) = common::data() else {
                eprintln!("SKIPPED briefing bench: set HOTSPOTS_DATA to the real data folder (or HOTSPOTS_DATASET)");
                return;
            };
            let (tmp, ds) = common::burglary_dataset(&root);
            (Some(tmp), ds)
        }
    };
    println!("{} incidents, {} wards", ds.columns.len(), ds.wards.height());
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
        "--all: shared work + every ward page + indexes written                   best {:>8.1} ms  median {:>8.1} ms",
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
    served(&ds.dir, &code);
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
