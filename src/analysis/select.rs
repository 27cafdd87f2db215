//! Choosing incidents for an analysis: crime types, a month range, the kind
//! of record, and a weight per incident (1, or its harm).
//!
//! **What "all crime" means.** With no crime type named, an analysis counts
//! every police.uk crime category except anti-social behaviour, and only
//! records of kind `crime`: ASB is not a crime (police.uk publishes it
//! beside crime, and it would be the largest category in most areas), so it
//! is counted only when named (`crime_type=anti-social-behaviour`, alone or
//! with others). Stop and search is never crime: it is counted only as its
//! own kind (`kind=stop_and_search`), never mixed into crime counts. The CLI
//! and the API apply the same rule (both build their [`Selection`] from
//! [`super::params::SELECTION`]), and every layer lists what it counted in
//! its metadata ([`Counted`]).

use std::collections::BTreeMap;

use polars::prelude::*;

use super::AnalysisError;
use crate::dataset::Dataset;

/// The police.uk category counted only when named (module docs).
pub const ANTI_SOCIAL_BEHAVIOUR: &str = "Anti-social behaviour";

/// The record kinds (`kind` column; the ingest config's incident kinds).
pub const KINDS: &[&str] = &["crime", "stop_and_search", "other"];

/// Which incidents an analysis uses.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Selection {
    /// police.uk categories to keep (CSV names or API slugs); empty = every
    /// type of the kind, except anti-social behaviour for kind `crime`.
    pub crime_types: Vec<String>,
    /// First and last month (`YYYY-MM`), inclusive.
    pub from: Option<String>,
    pub to: Option<String>,
    /// Record kind: "crime" (default), "stop_and_search", ...
    pub kind: Option<String>,
}

/// Selected incidents, in BNG metres, with their month number and crime type.
#[derive(Debug, Clone, Default)]
pub struct Points {
    pub easting_m: Vec<f64>,
    pub northing_m: Vec<f64>,
    /// WGS84 degrees (for H3 cells).
    pub lon: Vec<f64>,
    pub lat: Vec<f64>,
    pub month: Vec<u32>,
    /// Index of each incident's crime type in `types`.
    pub crime_type: Vec<u16>,
    /// The distinct crime types of the selection.
    pub types: Vec<String>,
    /// With [`Selection::apply_with_areas`]: the index of each incident's
    /// ward or borough in the given code list (`u32::MAX` when unknown).
    pub area: Vec<u32>,
}

/// What an analysis counted: the record kind and each crime type with its
/// incidents (every layer's metadata carries one).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Counted {
    pub kind: String,
    /// Crime type → incidents counted, by name.
    pub crime_types: BTreeMap<String, u64>,
    /// How the types were chosen.
    pub rule: String,
}

impl Points {
    pub fn len(&self) -> usize {
        self.easting_m.len()
    }

    /// The kind and crime types of these incidents, chosen by `selection`.
    pub fn counted(&self, selection: &Selection) -> Counted {
        let mut n = vec![0u64; self.types.len()];
        for &t in &self.crime_type {
            n[t as usize] += 1;
        }
        Counted {
            kind: selection.kind().to_string(),
            crime_types: self.types.iter().cloned().zip(n).collect(),
            rule: selection.rule(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.easting_m.is_empty()
    }
}

fn col_err(column: &str, e: PolarsError) -> AnalysisError {
    AnalysisError::Data(format!("incidents column `{column}`: {e}"))
}

impl Selection {
    /// The month range as numbers, checked.
    pub fn months(&self) -> Result<(Option<u32>, Option<u32>), AnalysisError> {
        let parse = |name: &str, v: &Option<String>| -> Result<Option<u32>, AnalysisError> {
            v.as_deref()
                .map(|s| {
                    crate::month::parse(s).ok_or_else(|| AnalysisError::Param {
                        name: name.into(),
                        message: format!("{s:?} is not a month (YYYY-MM)"),
                    })
                })
                .transpose()
        };
        let (from, to) = (parse("from", &self.from)?, parse("to", &self.to)?);
        if let (Some(a), Some(b)) = (from, to) {
            if a > b {
                return Err(AnalysisError::Param {
                    name: "from".into(),
                    message: format!("{} is after to {}", crate::month::format(a), crate::month::format(b)),
                });
            }
        }
        Ok((from, to))
    }

    /// The record kind: `crime` unless another is asked for.
    pub fn kind(&self) -> &str {
        self.kind.as_deref().unwrap_or("crime")
    }

    /// How the crime types are chosen, in words (for metadata).
    pub fn rule(&self) -> String {
        match (self.crime_types.is_empty(), self.kind()) {
            (false, _) => "the crime types named".into(),
            (true, "crime") => {
                "every crime type except anti-social behaviour (named, it is counted); records of kind crime only, never stop and search".into()
            }
            (true, kind) => format!("every record of kind {kind}"),
        }
    }

    /// What `rows` (of `ds.columns`, as [`Selection::rows`] gives them) count.
    pub fn counted_rows(&self, ds: &Dataset, rows: &[u32]) -> Counted {
        let c = &ds.columns;
        let mut n = vec![0u64; c.crime_types.len()];
        for &r in rows {
            if let Some(v) = n.get_mut(c.crime_type[r as usize] as usize) {
                *v += 1;
            }
        }
        Counted {
            kind: self.kind().to_string(),
            crime_types: c.crime_types.iter().cloned().zip(n).filter(|(_, n)| *n > 0).collect(),
            rule: self.rule(),
        }
    }

    /// The canonical crime types asked for, checked.
    pub fn types(&self) -> Result<Vec<&'static str>, AnalysisError> {
        self.crime_types
            .iter()
            .map(|t| {
                crate::crime_types::canonical(t).ok_or_else(|| AnalysisError::Param {
                    name: "crime_type".into(),
                    message: format!("{t:?} is not a police.uk crime type"),
                })
            })
            .collect()
    }

    /// The incidents of `ds` this selection keeps.
    pub fn apply(&self, ds: &Dataset) -> Result<Points, AnalysisError> {
        self.apply_inner(ds, None)
    }

    /// As [`Selection::apply`], also mapping each incident's `column`
    /// (`ward_code` or `borough_code`) to its position in `codes`.
    pub fn apply_with_areas(&self, ds: &Dataset, column: &str, codes: &[String]) -> Result<Points, AnalysisError> {
        let index: rustc_hash::FxHashMap<&str, u32> =
            codes.iter().enumerate().map(|(i, c)| (c.as_str(), i as u32)).collect();
        self.apply_inner(ds, Some((column, &index)))
    }

    /// Rows of `ds.columns` (and `ds.incidents`) this selection keeps, in
    /// order: the selection without copying coordinates.
    pub fn rows(&self, ds: &Dataset) -> Result<Vec<u32>, AnalysisError> {
        let (from, to) = self.months()?;
        let (from, to) = (from.unwrap_or(0), to.unwrap_or(u32::MAX - 1));
        let types = self.types()?;
        let kind = self.kind();
        // With no type named, crime means every type but anti-social behaviour.
        let default_excludes_asb = kind == "crime";
        let c = &ds.columns;
        let Some(kind) = c.kinds.iter().position(|k| k == kind) else {
            return Ok(Vec::new());
        };
        let kind = kind as u8;
        let wanted: Vec<bool> = c
            .crime_types
            .iter()
            .map(|t| {
                if types.is_empty() {
                    !(default_excludes_asb && t == ANTI_SOCIAL_BEHAVIOUR)
                } else {
                    types.contains(&t.as_str())
                }
            })
            .collect();
        Ok((0..c.len() as u32)
            .filter(|&r| {
                let r = r as usize;
                let (m, t) = (c.month[r], c.crime_type[r] as usize);
                c.kind[r] == kind && m >= from && m <= to && t < wanted.len() && wanted[t]
            })
            .collect())
    }

    fn apply_inner(
        &self,
        ds: &Dataset,
        areas: Option<(&str, &rustc_hash::FxHashMap<&str, u32>)>,
    ) -> Result<Points, AnalysisError> {
        let c = &ds.columns;
        // Map each dataset row of `wards`/`boroughs` to its position in the caller's code list.
        let area_map: Option<(&[u32], Vec<u32>)> = match areas {
            Some((column, index)) => {
                let (rows, table) = match column {
                    "ward_code" => (&c.ward, &ds.wards),
                    "borough_code" => (&c.borough, &ds.boroughs),
                    other => {
                        return Err(AnalysisError::Data(format!(
                            "areas by `{other}`: only ward_code and borough_code are indexed"
                        )))
                    }
                };
                let codes = table
                    .column(crate::dataset::schema::areas::CODE)
                    .and_then(|col| col.str().cloned())
                    .map_err(|e| col_err("code", e))?;
                let map = codes
                    .iter()
                    .map(|code| code.and_then(|code| index.get(code).copied()).unwrap_or(u32::MAX))
                    .collect();
                Some((rows.as_slice(), map))
            }
            None => None,
        };
        let rows = self.rows(ds)?;
        // Crime types present in the selection, in first-seen order.
        let mut remap = vec![u16::MAX; c.crime_types.len()];
        let mut out = Points {
            easting_m: Vec::with_capacity(rows.len()),
            northing_m: Vec::with_capacity(rows.len()),
            lon: Vec::with_capacity(rows.len()),
            lat: Vec::with_capacity(rows.len()),
            month: Vec::with_capacity(rows.len()),
            crime_type: Vec::with_capacity(rows.len()),
            ..Points::default()
        };
        for &r in &rows {
            let r = r as usize;
            out.easting_m.push(c.easting_m[r]);
            out.northing_m.push(c.northing_m[r]);
            out.lon.push(c.lon[r]);
            out.lat.push(c.lat[r]);
            out.month.push(c.month[r]);
            let t = c.crime_type[r] as usize;
            if remap[t] == u16::MAX {
                remap[t] = out.types.len() as u16;
                out.types.push(c.crime_types[t].clone());
            }
            out.crime_type.push(remap[t]);
            if let Some((area_rows, map)) = &area_map {
                out.area
                    .push(map.get(area_rows[r] as usize).copied().unwrap_or(u32::MAX));
            }
        }
        Ok(out)
    }
}

/// A selection in words, for messages: "crime types Burglary, Robbery;
/// months 2024-01..2024-12; kind crime".
impl std::fmt::Display for Selection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let types = if self.crime_types.is_empty() {
            "every crime type".to_string()
        } else {
            format!("crime types {}", self.crime_types.join(", "))
        };
        let months = match (&self.from, &self.to) {
            (None, None) => "every month".to_string(),
            (a, b) => format!(
                "months {}..{}",
                a.as_deref().unwrap_or("the first"),
                b.as_deref().unwrap_or("the last")
            ),
        };
        write!(f, "{types}; {months}")?;
        if let Some(k) = &self.kind {
            write!(f, "; kind {k}")?;
        }
        Ok(())
    }
}
