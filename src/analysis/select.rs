//! Choosing incidents for an analysis: crime types, a month range, the kind
//! of record (crime by default, never stop and search unless asked), and a
//! weight per incident (1, or its harm).

use polars::prelude::*;

use super::AnalysisError;
use crate::dataset::Dataset;

/// Which incidents an analysis uses.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Selection {
    /// police.uk categories to keep (CSV names or API slugs); empty = all.
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

impl Points {
    pub fn len(&self) -> usize {
        self.easting_m.len()
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

    fn apply_inner(
        &self,
        ds: &Dataset,
        areas: Option<(&str, &rustc_hash::FxHashMap<&str, u32>)>,
    ) -> Result<Points, AnalysisError> {
        let (from, to) = self.months()?;
        let types = self.types()?;
        let kind = self.kind.as_deref().unwrap_or("crime");
        let df = &ds.incidents;
        if df.height() == 0 {
            return Ok(Points::default());
        }
        let e = df
            .column("easting_m")
            .and_then(|c| c.f64().cloned())
            .map_err(|e| col_err("easting_m", e))?;
        let n = df
            .column("northing_m")
            .and_then(|c| c.f64().cloned())
            .map_err(|e| col_err("northing_m", e))?;
        let lon = df
            .column("lon")
            .and_then(|c| c.f64().cloned())
            .map_err(|e| col_err("lon", e))?;
        let lat = df
            .column("lat")
            .and_then(|c| c.f64().cloned())
            .map_err(|e| col_err("lat", e))?;
        let m = df
            .column("month_index")
            .and_then(|c| c.u32().cloned())
            .map_err(|e| col_err("month_index", e))?;
        let t = df
            .column("crime_type")
            .and_then(|c| c.str().cloned())
            .map_err(|e| col_err("crime_type", e))?;
        let k = df
            .column("kind")
            .and_then(|c| c.str().cloned())
            .map_err(|e| col_err("kind", e))?;
        let area_col = match areas {
            Some((c, _)) => Some(
                df.column(c)
                    .and_then(|col| col.str().cloned())
                    .map_err(|e| col_err(c, e))?,
            ),
            None => None,
        };
        let mut out = Points::default();
        let mut last_type: Option<usize> = None;
        for (row, ((((e, n), m), t), k)) in e
            .iter()
            .zip(n.iter())
            .zip(m.iter())
            .zip(t.iter())
            .zip(k.iter())
            .enumerate()
        {
            let (Some(e), Some(n), Some(m), Some(t), Some(k)) = (e, n, m, t, k) else {
                continue;
            };
            if k != kind
                || from.is_some_and(|f| m < f)
                || to.is_some_and(|l| m > l)
                || (!types.is_empty() && !types.contains(&t))
            {
                continue;
            }
            out.easting_m.push(e);
            out.northing_m.push(n);
            out.lon.push(lon.get(row).unwrap_or(f64::NAN));
            out.lat.push(lat.get(row).unwrap_or(f64::NAN));
            out.month.push(m);
            // Rows come in runs of one type: check the last one first.
            let ti = match last_type {
                Some(li) if out.types[li] == t => li,
                _ => match out.types.iter().position(|x| x == t) {
                    Some(p) => p,
                    None => {
                        out.types.push(t.to_string());
                        out.types.len() - 1
                    }
                },
            };
            last_type = Some(ti);
            out.crime_type.push(ti as u16);
            if let (Some(col), Some((_, index))) = (&area_col, areas) {
                out.area
                    .push(col.get(row).and_then(|c| index.get(c).copied()).unwrap_or(u32::MAX));
            }
        }
        Ok(out)
    }
}
