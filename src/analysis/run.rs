//! Running an analysis the same way from the CLI and the server: what a run
//! takes ([`Ctx`], [`Values`]), what it gives ([`Computed`]), and the
//! registry of every analysis ([`ALL`]).
//!
//! Adding an analysis is one file in `analysis/` that declares its
//! [`Spec`] and a [`RunFn`], and one line in [`ALL`]: the CLI grows a
//! command and the server a collection, with flags, query parsing, `--help`
//! and `/api` derived from the spec.

use std::sync::{Arc, Mutex};

use super::layer::Layer;
use super::params::{Spec, Values};
use super::study_area::StudyMask;
use super::AnalysisError;
use crate::dataset::Dataset;

/// What an analysis runs with.
pub struct Ctx<'a> {
    pub dataset: &'a Dataset,
    /// Results kept between runs (the server keeps one for its life).
    pub memo: &'a Memo,
}

/// Intermediate results worth keeping between runs on one dataset.
#[derive(Default)]
pub struct Memo {
    /// The study-area raster POI risk measures circles' areas with (5 m
    /// cells by default, ~0.4 s to build for London): it depends only on
    /// the dataset's wards and the cell size.
    mask: Mutex<Option<(u64, Arc<StudyMask>)>>,
}

impl Memo {
    /// The study-area raster with `cell_m` cells, built by `build` if not kept.
    pub fn mask(&self, cell_m: f64, build: impl FnOnce() -> StudyMask) -> Arc<StudyMask> {
        let key = cell_m.to_bits();
        if let Some((k, m)) = &*self.mask.lock().unwrap_or_else(|p| p.into_inner()) {
            if *k == key {
                return m.clone();
            }
        }
        // Built outside the lock; two first requests may both build it.
        let mask = Arc::new(build());
        *self.mask.lock().unwrap_or_else(|p| p.into_inner()) = Some((key, mask.clone()));
        mask
    }
}

/// One output of a run.
pub enum Output {
    /// Features: GeoJSON (RFC 7946) or CSV, by the file's extension.
    Layer(Layer),
    /// A finished file's text (CSV).
    Text(String),
}

impl Output {
    /// Writes it to `path` (a layer as `.geojson` or `.csv` by extension).
    pub fn write(&self, path: &std::path::Path) -> Result<(), AnalysisError> {
        match self {
            Output::Layer(l) => l.write(path),
            Output::Text(t) => std::fs::write(path, t).map_err(|source| AnalysisError::Io {
                path: path.display().to_string(),
                source,
            }),
        }
    }
}

/// What a run gives: the main output (the CLI's `--out`, the server's
/// items), a summary for the terminal, and further outputs written when
/// the parameter naming their file is given (CLI).
pub struct Computed {
    pub main: Output,
    pub summary: String,
    /// (parameter naming the file, output).
    pub extras: Vec<(&'static str, Output)>,
}

impl Computed {
    /// A layer and its summary.
    pub fn layer(layer: Layer, summary: String) -> Computed {
        Computed {
            main: Output::Layer(layer),
            summary,
            extras: Vec::new(),
        }
    }
}

/// Computes an analysis from the dataset and checked parameter values.
pub type RunFn = fn(&Ctx<'_>, &Values) -> Result<Computed, AnalysisError>;

/// An analysis: its description, how to run it, and what a run will cost.
#[derive(Clone, Copy)]
pub struct Analysis {
    pub spec: Spec,
    pub run: RunFn,
    /// Estimates a run's cost from its values before any work
    /// ([`super::cost`]): the server refuses what is over its limits, the
    /// CLI warns.
    pub cost: super::cost::CostFn,
    /// Runs without a dataset, when the values allow it (`wdd` from
    /// counts): `Ok(None)` when they need the dataset after all.
    pub offline: Option<OfflineFn>,
}

/// Computes an analysis from parameter values alone.
pub type OfflineFn = fn(&Values) -> Result<Option<Computed>, AnalysisError>;

/// Every analysis, in the order the CLI's help and the server's
/// `/collections` list them.
pub const ALL: &[Analysis] = &[
    super::hotspot::GISTAR,
    super::hotspot::HEX,
    super::hotspot::H3,
    super::lisa::LISA,
    super::kde::KDE,
    super::emerging::EMERGING,
    super::poi_risk::POI_RISK,
    super::surge::SURGE,
    super::evaluate::EVALUATE,
    super::pledge::PLEDGE,
    super::wdd::WDD,
];

/// The analysis with this id.
pub fn find(id: &str) -> Option<&'static Analysis> {
    ALL.iter().find(|a| a.spec.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_parameter_names_are_unique_and_documented() {
        for (i, a) in ALL.iter().enumerate() {
            assert!(
                ALL[i + 1..].iter().all(|b| b.spec.id != a.spec.id),
                "{} twice",
                a.spec.id
            );
            let params: Vec<_> = a.spec.params().collect();
            for (k, p) in params.iter().enumerate() {
                assert!(
                    params[k + 1..].iter().all(|q| q.name != p.name),
                    "{}: {} twice",
                    a.spec.id,
                    p.name
                );
                assert!(!p.doc.is_empty(), "{}: {} has no doc", a.spec.id, p.name);
                let flags: Vec<String> = params[k + 1..]
                    .iter()
                    .filter(|q| q.on_cli())
                    .map(|q| q.flag())
                    .collect();
                assert!(
                    !p.on_cli() || !flags.contains(&p.flag()),
                    "{}: --{} twice",
                    a.spec.id,
                    p.flag()
                );
                // A declared default passes the declaration's own checks.
                if let Some(d) = p.default {
                    let mut given = std::collections::BTreeMap::new();
                    given.insert(p.name.to_string(), vec![d.to_string()]);
                    Values::new(a.spec, given)
                        .unwrap_or_else(|e| panic!("{}: {}: default {d}: {e}", a.spec.id, p.name));
                }
            }
            assert!(a.spec.cli || a.spec.http, "{} is offered nowhere", a.spec.id);
        }
    }
}
