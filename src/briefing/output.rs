//! Writing briefings to a folder: `{borough}/{ward}.html` per ward, an
//! `index.html` per borough and one for London, and with PDFs
//! `{borough}/{ward}.pdf` and `{borough}/all-wards.pdf` (every ward of the
//! borough written, each starting on a new page).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::context::Context;
use super::figures::{ward_briefing, Briefing};
use super::{html, pdf, BriefingError};
use crate::dataset::Dataset;

/// Which wards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Ward(String),
    Borough(String),
    All,
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct Written {
    pub pages: usize,
    pub boroughs: usize,
    pub pdfs: usize,
    /// Ward pages (path) in the order written.
    pub files: Vec<PathBuf>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BriefingError + '_ {
    move |source| BriefingError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn write_file(path: &Path, text: &str) -> Result<(), BriefingError> {
    std::fs::write(path, text).map_err(io(path))
}

/// The folder a borough's pages go to (its code, or `no-borough`).
fn borough_dir(b: &Briefing) -> String {
    if b.borough_code.is_empty() {
        "no-borough".into()
    } else {
        b.borough_code.clone()
    }
}

/// Writes the scope's briefings under `out` (created if missing); with
/// `pdf`, prints them with headless Chromium (found first: a missing one
/// fails before any work).
pub fn write(
    ds: &Dataset,
    ctx: &Context,
    scope: &Scope,
    out: &Path,
    with_pdf: bool,
    generated: &str,
) -> Result<Written, BriefingError> {
    let chromium = if with_pdf { Some(pdf::find_chromium()?) } else { None };
    let wards: Vec<usize> = match scope {
        Scope::Ward(code) => vec![ctx.ward(code)?],
        Scope::Borough(code) => ctx.borough_wards(code)?,
        Scope::All => (0..ctx.wards.codes.len()).collect(),
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    let briefings: Vec<Briefing> = wards
        .par_iter()
        .map(|&w| ward_briefing(ds, ctx, &ctx.wards.codes[w]))
        .collect::<Result<_, _>>()?;
    let mut by_borough: BTreeMap<String, Vec<&Briefing>> = BTreeMap::new();
    for b in &briefings {
        by_borough.entry(borough_dir(b)).or_default().push(b);
    }
    for dir in by_borough.keys() {
        let d = out.join(dir);
        std::fs::create_dir_all(&d).map_err(io(&d))?;
    }
    let files: Vec<PathBuf> = briefings
        .par_iter()
        .map(|b| {
            let path = out.join(borough_dir(b)).join(format!("{}.html", b.code));
            write_file(&path, &html::page(b, generated)).map(|_| path)
        })
        .collect::<Result<_, _>>()?;
    let mut london = Vec::new();
    for (dir, list) in &by_borough {
        let name = list
            .first()
            .map(|b| b.borough_name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "Wards outside any borough".into());
        let rows: Vec<(String, String, u64)> = list
            .iter()
            .map(|b| (b.code.clone(), b.name.clone(), b.total.current))
            .collect();
        let path = out.join(dir).join("index.html");
        write_file(&path, &html::borough_index(ctx, &name, &rows, with_pdf))?;
        london.push((
            dir.clone(),
            name,
            list.len(),
            list.iter().map(|b| b.total.current).sum::<u64>(),
        ));
    }
    write_file(&out.join("index.html"), &html::london_index(ctx, &london))?;
    let mut written = Written {
        pages: files.len(),
        boroughs: by_borough.len(),
        pdfs: 0,
        files: files.clone(),
    };
    if let Some(chromium) = chromium {
        // Chromium is itself multi-process: two prints at a time keep two cores busy.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .map_err(|e| BriefingError::Pdf(format!("a thread pool for printing: {e}")))?;
        pool.install(|| {
            files
                .par_iter()
                .map(|html_path| pdf::print(&chromium, html_path, &html_path.with_extension("pdf")))
                .collect::<Result<Vec<()>, _>>()
        })?;
        written.pdfs += files.len();
        if !matches!(scope, Scope::Ward(_)) {
            for (dir, list) in &by_borough {
                let owned: Vec<Briefing> = list.iter().map(|b| (*b).clone()).collect();
                let title = format!("{} ward briefings", list[0].borough_name);
                let combined = out.join(dir).join("all-wards.html");
                write_file(&combined, &html::combined(&title, &owned, generated))?;
                pdf::print(&chromium, &combined, &combined.with_extension("pdf"))?;
                written.pdfs += 1;
            }
        }
    }
    Ok(written)
}
