//! `hotspots info`: what a dataset holds. Counts by month, crime type, ward
//! and source, and rejects by reason.

use crate::dataset::schema::{areas, incidents as inc};
use std::collections::BTreeMap;
use std::fmt::Write as _;

use polars::prelude::*;

use crate::dataset::{Dataset, DatasetError};

fn counts(df: &DataFrame, column: &str) -> Result<BTreeMap<String, u64>, DatasetError> {
    let mut out = BTreeMap::new();
    if df.height() == 0 {
        return Ok(out);
    }
    let col = df
        .column(column)
        .and_then(|c| c.str().cloned())
        .map_err(|e| DatasetError::Column {
            path: "incidents.parquet".into(),
            column: column.into(),
            message: e.to_string(),
        })?;
    for v in col.iter() {
        *out.entry(v.unwrap_or("(none)").to_string()).or_default() += 1;
    }
    Ok(out)
}

/// A plain-text report on a dataset. `top` limits the ward list.
pub fn report(ds: &Dataset, top: usize) -> Result<String, DatasetError> {
    let m = &ds.manifest;
    let mut s = String::new();
    let _ = writeln!(s, "dataset   {}", ds.dir.display());
    let _ = writeln!(
        s,
        "built     {} by hotspots {} in {:.2} s",
        m.built_at, m.hotspots_version, m.build_seconds
    );
    let _ = writeln!(
        s,
        "area      {} ({} wards, {} boroughs, {} schools, {} stations)",
        m.study_area,
        ds.wards.height(),
        ds.boroughs.height(),
        ds.schools.height(),
        ds.stations.height()
    );
    let _ = writeln!(s, "CRS       metric {}, geographic {}", m.crs_metric, m.crs_geographic);
    let _ = writeln!(
        s,
        "rows      read {}  accepted {}  rejected {}",
        m.totals.rows_read, m.totals.rows_accepted, m.totals.rows_rejected
    );
    let _ = writeln!(s, "\nrejects by reason");
    for (k, v) in &m.totals.rejected_by_reason {
        let _ = writeln!(s, "  {k:<24} {v:>9}");
    }
    let _ = writeln!(s, "\nsources");
    for src in &m.sources {
        let read: u64 = src.files.iter().map(|f| f.rows_read).sum();
        let acc: u64 = src.files.iter().map(|f| f.rows_accepted).sum();
        let rej: u64 = src.files.iter().map(|f| f.rows_rejected).sum();
        let _ = writeln!(
            s,
            "  {:<20} {:>4} files  read {read:>9}  accepted {acc:>9}  rejected {rej:>7}  ({})",
            src.name,
            src.files.len(),
            src.kind.as_str()
        );
    }
    let empty: Vec<_> = m
        .sources
        .iter()
        .flat_map(|src| src.files.iter().map(move |f| (src, f)))
        .filter(|(_, f)| f.rows_read == 0)
        .collect();
    if !empty.is_empty() {
        let _ = writeln!(s, "\nfiles that yielded no rows ({})", empty.len());
        for (src, f) in empty {
            let why = f.warning.as_deref().unwrap_or("no rows");
            let _ = writeln!(s, "  {:<20} {}: {why}", src.name, f.path);
        }
    }
    let by_kind = counts(&ds.incidents, inc::KIND)?;
    let _ = writeln!(s, "\nincidents by kind");
    for (k, v) in &by_kind {
        let _ = writeln!(s, "  {k:<24} {v:>9}");
    }
    let _ = writeln!(s, "\nincidents by crime type");
    let mut types: Vec<_> = counts(&ds.incidents, inc::CRIME_TYPE)?.into_iter().collect();
    types.sort_by_key(|t| std::cmp::Reverse(t.1));
    for (k, v) in types {
        let _ = writeln!(s, "  {k:<32} {v:>9}");
    }
    let months = counts(&ds.incidents, inc::MONTH)?;
    let _ = writeln!(s, "\nincidents by month ({} months)", months.len());
    for (k, v) in &months {
        let _ = writeln!(s, "  {k} {v:>8}");
    }
    let wards = counts(&ds.incidents, inc::WARD_CODE)?;
    let names: BTreeMap<String, String> = match (ds.wards.column(areas::CODE), ds.wards.column(areas::NAME)) {
        (Ok(c), Ok(n)) => match (c.str(), n.str()) {
            (Ok(c), Ok(n)) => c
                .iter()
                .zip(n.iter())
                .filter_map(|(c, n)| Some((c?.to_string(), n?.to_string())))
                .collect(),
            _ => BTreeMap::new(),
        },
        _ => BTreeMap::new(),
    };
    let mut wards: Vec<_> = wards.into_iter().collect();
    wards.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let _ = writeln!(
        s,
        "\ntop {} wards of {} with incidents",
        top.min(wards.len()),
        wards.len()
    );
    for (code, v) in wards.into_iter().take(top) {
        let _ = writeln!(
            s,
            "  {code} {:<32} {v:>8}",
            names.get(&code).map(String::as_str).unwrap_or("")
        );
    }
    Ok(s)
}
