//! The boundary and POI layers an ingest reads before any incident, and the
//! records of their files for the manifest.

use std::path::Path;

use super::reject::Reject;
use super::{boundaries, pois, sources, Area, IngestError, Poi};
use crate::config::Config;
use crate::dataset::manifest::LayerRecord;
use crate::progress::Progress;

/// Wards, boroughs and the records of the files they came from.
pub type Layers = (Vec<Area>, Vec<Area>, Vec<LayerRecord>);

pub fn read_boundaries(config: &Config, root: &Path, progress: &Progress) -> Result<Layers, IngestError> {
    let bar = progress.step("reading boundaries");
    let mut records = Vec::new();
    let wards = boundaries::read_layer_bng(&config.boundaries.wards, root)?;
    records.push(sources::layer_record(
        "wards",
        root,
        &config.boundaries.wards.path,
        wards.len() as u64,
        0,
    )?);
    let boroughs = match &config.boundaries.boroughs {
        Some(b) => {
            let v = boundaries::read_layer_bng(b, root)?;
            records.push(sources::layer_record("boroughs", root, &b.path, v.len() as u64, 0)?);
            v
        }
        None => Vec::new(),
    };
    bar.finish_and_clear();
    Ok((wards, boroughs, records))
}

pub type PoiResult = (Vec<Poi>, Vec<LayerRecord>, Vec<Vec<Reject>>);

pub fn read_pois(config: &Config, root: &Path) -> Result<PoiResult, IngestError> {
    let mut all = Vec::new();
    let mut records = Vec::new();
    let mut rejects = Vec::new();
    for p in &config.pois {
        let path = root.join(&p.path);
        let name = path.display().to_string();
        let bytes = sources::decompress(sources::read(&path)?, &name)?;
        let parsed = pois::parse(&bytes, 0, &name, p)?;
        let mut rec = sources::layer_record(
            &format!("pois:{}", p.kind),
            root,
            &p.path,
            parsed.pois.len() as u64,
            parsed.rejects.len() as u64,
        )?;
        rec.rows_read = parsed.rows_read;
        records.push(rec);
        all.extend(parsed.pois);
        rejects.push(parsed.rejects);
    }
    Ok((all, records, rejects))
}
