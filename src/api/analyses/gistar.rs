//! The Gi* collections (`gistar`, `hex`, `h3`): Gi*'s columns straight into
//! a table whose cell ids and polygons are shared by every layer on the
//! same grid; a first layer on a grid builds that shape alongside Gi*.

use super::{Ctx, Output};
use crate::analysis::hotspot::{gi_star, HotspotRequest};
use crate::analysis::params::Values;
use crate::analysis::run::Analysis;
use crate::analysis::AnalysisError;
use crate::api::table::Shape;

/// Computes a Gi* layer (units from the spec: `grid`, or hex, or H3).
pub fn run(c: &Ctx<'_>, _: &Analysis, v: &Values) -> Result<Output, AnalysisError> {
    let req = HotspotRequest::from_values(v)?;
    let ds = c.dataset;
    // A first layer on a grid also needs its cells' ids and polygons (as
    // long as Gi* itself): with the cell size given, built alongside.
    let (h, shape) = match (req.grid.grid(), req.cell_m) {
        (Some(kind), Some(cell)) if cell.is_finite() && cell > 0.0 => {
            let (h, shape) = rayon::join(
                || gi_star(ds, &req),
                || {
                    c.shapes.grid(kind, cell, || {
                        Shape::grid(&crate::analysis::grid::Grid::new(kind, cell, ds.ward_index.polygons()))
                    })
                },
            );
            (h?, Some(shape))
        }
        _ => (gi_star(ds, &req)?, None),
    };
    Ok(Output::hotspots(c, &h, shape))
}
