//! The analysis collections: every analysis of [`crate::analysis::run::ALL`]
//! offered over HTTP, its query parameters those its [`Spec`] declares.
//! Most run as the CLI runs them and serve the layer it gives
//! (`generic`); the Gi* layers (`gistar.rs`) and LISA build their table
//! column by column over a grid shape shared by every layer on that grid.

mod gistar;

use std::sync::Arc;

use super::cache::ShapeCache;
use super::table::{Geoms, Ids, Shape, Table};
use crate::analysis::hotspot::Hotspots;
use crate::analysis::layer::Layer;
use crate::analysis::params::{Param, Spec, Values};
use crate::analysis::run::{self, Analysis, Memo};
use crate::analysis::AnalysisError;
use crate::dataset::Dataset;

/// What a collection's computation runs with: the dataset, and what is
/// kept between requests (grid shapes, the study-area raster).
pub struct Ctx<'a> {
    pub dataset: &'a Dataset,
    pub shapes: &'a ShapeCache,
    pub memo: &'a Memo,
}

/// A computed layer as served: its table and metadata.
pub struct Output {
    pub table: Table,
    pub metadata: serde_json::Value,
}

impl Output {
    /// From a layer of features (geometry and property maps).
    pub fn layer(layer: Layer) -> Output {
        Output {
            table: Table::from_layer(&layer),
            metadata: layer.metadata,
        }
    }

    /// From Gi* results, column by column; grid cells share their shape
    /// (`shape`, when already at hand).
    pub fn hotspots(c: &Ctx<'_>, h: &Hotspots, shape: Option<Arc<Shape>>) -> Output {
        Output::units(c, h, shape, h.property_columns(), h.metadata())
    }

    /// Columns of a statistic on Gi*'s units (Gi*'s own, or LISA's) over
    /// the units' shape.
    pub fn units(
        c: &Ctx<'_>,
        h: &Hotspots,
        shape: Option<Arc<Shape>>,
        columns: crate::analysis::layer::Columns,
        metadata: serde_json::Value,
    ) -> Output {
        let shape = match (h.units.grid(), shape) {
            (Some(g), Some(s)) if s.len() == g.cells.len() => s,
            (Some(g), _) => c.shapes.grid(g.kind, g.cell_m, || Shape::grid(g)),
            (None, _) => {
                let ids: Arc<[Box<str>]> = h.ids().into_iter().map(String::into_boxed_str).collect();
                let geoms = Geoms::json(ids.len(), |i| h.units.geometry_wgs84(i));
                Arc::new(Shape::new(Ids::Str(ids), geoms))
            }
        };
        Output {
            table: Table::from_columns(shape, columns),
            metadata,
        }
    }
}

/// Computes a collection's layer.
pub type RunFn = fn(&Ctx<'_>, &Analysis, &Values) -> Result<Output, AnalysisError>;

/// An analysis offered as a collection, computed on request (and cached
/// by its parameters).
#[derive(Clone, Copy)]
pub struct AnalysisCollection {
    pub analysis: &'static Analysis,
    pub run: RunFn,
}

impl AnalysisCollection {
    pub fn spec(&self) -> &'static Spec {
        &self.analysis.spec
    }

    pub fn id(&self) -> &'static str {
        self.analysis.spec.id
    }

    pub fn title(&self) -> &'static str {
        self.analysis.spec.title
    }

    pub fn description(&self) -> &'static str {
        self.analysis.spec.about
    }

    /// Its HTTP query parameters, in declaration order.
    pub fn params(&self) -> impl Iterator<Item = &'static Param> {
        self.analysis.spec.params().filter(|p| p.on_http())
    }

    /// Their names.
    pub fn names(&self) -> Vec<&'static str> {
        self.analysis.spec.http_names()
    }
}

/// LISA: its columns over Gi*'s units and their shared shape, without a
/// JSON map per cell.
fn lisa(c: &Ctx<'_>, _: &Analysis, v: &Values) -> Result<Output, AnalysisError> {
    use crate::analysis::lisa;
    let (h, l, alpha) = lisa::compute(c.dataset, v)?;
    Ok(Output::units(
        c,
        &h,
        None,
        lisa::columns(&h, &l, alpha),
        lisa::metadata(&h),
    ))
}

/// Runs the analysis as the CLI does and serves its layer.
fn generic(c: &Ctx<'_>, a: &Analysis, v: &Values) -> Result<Output, AnalysisError> {
    let ctx = run::Ctx {
        dataset: c.dataset,
        memo: c.memo,
    };
    match (a.run)(&ctx, v)?.main {
        run::Output::Layer(layer) => Ok(Output::layer(layer)),
        run::Output::Text(_) => Err(AnalysisError::Data(format!("{} gives no layer", a.spec.id))),
    }
}

/// Every analysis offered over HTTP, as a collection.
pub fn analysis_collections() -> Vec<AnalysisCollection> {
    run::ALL
        .iter()
        .filter(|a| a.spec.http)
        .map(|analysis| AnalysisCollection {
            analysis,
            run: match analysis.spec.id {
                "gistar" | "hex" | "h3" => gistar::run,
                "lisa" => lisa,
                _ => generic,
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_analysis_for_http_is_a_collection() {
        let ids: Vec<_> = analysis_collections().iter().map(|c| c.id()).collect();
        let want: Vec<_> = run::ALL.iter().filter(|a| a.spec.http).map(|a| a.spec.id).collect();
        assert_eq!(ids, want);
        assert!(ids.contains(&"gistar") && ids.contains(&"surge") && !ids.contains(&"evaluate"));
    }
}
