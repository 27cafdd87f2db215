//! Boundary layers (wards, boroughs) from ESRI shapefiles or GeoJSON.
//!
//! Geometry is held in British National Grid metres for metric work and in
//! WGS84 lon/lat for output. A shapefile's CRS comes from its `.prj` (the
//! `shapefile` crate never reads it); GeoJSON is WGS84 (RFC 7946) unless its
//! legacy `crs` member names EPSG:27700.

use std::path::Path;

use geo::{Area as _, MapCoords, MultiPolygon};
use rayon::prelude::*;

use super::IngestError;
use crate::config::BoundaryLayer;
use crate::crs::{self, Crs};

/// One polygon unit (a ward or a borough).
#[derive(Debug, Clone)]
pub struct Area {
    /// The unit's code, e.g. GSS code `E05000026`.
    pub code: String,
    pub name: String,
    /// For wards: the borough's code and name.
    pub parent_code: Option<String>,
    pub parent_name: Option<String>,
    /// Geometry in BNG metres.
    pub geometry_bng: MultiPolygon<f64>,
    /// Geometry in WGS84 lon/lat degrees.
    pub geometry_wgs84: MultiPolygon<f64>,
}

impl Area {
    /// Planar area in km² (BNG).
    pub fn area_km2(&self) -> f64 {
        self.geometry_bng.unsigned_area() / 1e6
    }
}

/// Reads a boundary layer; `path` in the layer is relative to `root`.
pub fn read_layer(layer: &BoundaryLayer, root: &Path) -> Result<Vec<Area>, IngestError> {
    let mut areas = read_layer_bng(layer, root)?;
    fill_wgs84(&mut areas, &root.join(&layer.path).display().to_string())?;
    Ok(areas)
}

/// Reads a boundary layer with its BNG geometry only (`geometry_wgs84` is
/// left empty for BNG sources): what point location needs, fast. Complete
/// it with [`fill_wgs84`].
pub fn read_layer_bng(layer: &BoundaryLayer, root: &Path) -> Result<Vec<Area>, IngestError> {
    let path = root.join(&layer.path);
    let lower = layer.path.to_ascii_lowercase();
    let (raw, crs) = if lower.ends_with(".shp") {
        read_shapefile(&path, layer)?
    } else if lower.ends_with(".geojson") || lower.ends_with(".json") {
        read_geojson(&path, layer)?
    } else {
        return Err(IngestError::Format {
            file: path.display().to_string(),
            line: 0,
            field: "path".into(),
            message: "a boundary layer must be a .shp or a .geojson file".into(),
        });
    };
    let file = path.display().to_string();
    raw.into_par_iter()
        .enumerate()
        .map(|(i, (code, name, parent_code, parent_name, geom))| {
            let (bng, wgs) = match crs {
                Crs::Bng => (geom, MultiPolygon(vec![])),
                Crs::Wgs84 => {
                    let bng = geom
                        .try_map_coords(|c| crs::lonlat_to_bng(c.x, c.y).map(|(x, y)| geo::Coord { x, y }).ok_or(c));
                    match bng {
                        Ok(b) => (b, geom),
                        Err(c) => return Err(outside_ostn15(&file, i, &code, c)),
                    }
                }
            };
            Ok(Area {
                code,
                name,
                parent_code,
                parent_name,
                geometry_bng: bng,
                geometry_wgs84: wgs,
            })
        })
        .collect()
}

fn outside_ostn15(file: &str, i: usize, code: &str, c: geo::Coord<f64>) -> IngestError {
    IngestError::Format {
        file: file.to_string(),
        line: i as u64 + 1,
        field: "geometry".into(),
        message: format!(
            "vertex ({}, {}) of feature {code} is outside the area OSTN15 covers",
            c.x, c.y
        ),
    }
}

/// Computes the WGS84 geometry of areas read from BNG (OSTN15, per vertex).
pub fn fill_wgs84(areas: &mut [Area], file: &str) -> Result<(), IngestError> {
    fill_wgs84_layers(&mut [(areas, file)])
}

/// Computes the WGS84 geometry of several layers' areas read from BNG
/// (`(areas, file)` each), converting each distinct vertex once with OSTN15:
/// neighbouring areas share their boundaries, and boroughs are made of wards
/// (London's wards and boroughs: 208,134 vertices, 90,687 distinct).
pub fn fill_wgs84_layers(layers: &mut [(&mut [Area], &str)]) -> Result<(), IngestError> {
    use geo::CoordsIter;
    let key = |c: geo::Coord<f64>| (c.x.to_bits(), c.y.to_bits());
    let mut index: rustc_hash::FxHashMap<(u64, u64), u32> = Default::default();
    let mut distinct = Vec::new();
    for (areas, _) in layers.iter() {
        for a in areas.iter().filter(|a| a.geometry_wgs84.0.is_empty()) {
            for c in a.geometry_bng.coords_iter() {
                index.entry(key(c)).or_insert_with(|| {
                    distinct.push(c);
                    distinct.len() as u32 - 1
                });
            }
        }
    }
    // Vertices in boundary order, so each thread's run of them meets few
    // OSTN15 cells: one cache of cell shifts per run.
    let lonlat: Vec<Option<geo::Coord<f64>>> = distinct
        .par_iter()
        .map_init(crs::ostn15::CellCache::new, |cells, c| {
            cells.bng_to_lonlat(c.x, c.y).map(|(x, y)| geo::Coord { x, y })
        })
        .collect();
    for (areas, file) in layers.iter_mut() {
        areas.par_iter_mut().enumerate().try_for_each(|(i, a)| {
            if a.geometry_wgs84.0.is_empty() {
                a.geometry_wgs84 = a
                    .geometry_bng
                    .try_map_coords(|c| lonlat[index[&key(c)] as usize].ok_or(c))
                    .map_err(|c| outside_ostn15(file, i, &a.code, c))?;
            }
            Ok::<(), IngestError>(())
        })?;
    }
    Ok(())
}

type RawArea = (String, String, Option<String>, Option<String>, MultiPolygon<f64>);

fn read_shapefile(path: &Path, layer: &BoundaryLayer) -> Result<(Vec<RawArea>, Crs), IngestError> {
    let file = path.display().to_string();
    let crs = match crs::crs_of_shapefile(path) {
        Ok(c) => c,
        Err(crs::CrsError::MissingPrj { .. }) if layer.crs.is_some() => {
            Crs::parse(layer.crs.as_deref().unwrap_or_default()).unwrap_or(Crs::Bng)
        }
        Err(e) => return Err(e.into()),
    };
    let mut reader = shapefile::Reader::from_path(path).map_err(|e| IngestError::Format {
        file: file.clone(),
        line: 0,
        field: "file".into(),
        message: e.to_string(),
    })?;
    let mut out = Vec::new();
    for (i, item) in reader.iter_shapes_and_records().enumerate() {
        let line = i as u64 + 1;
        let (shape, record) = item.map_err(|e| IngestError::Format {
            file: file.clone(),
            line,
            field: "record".into(),
            message: e.to_string(),
        })?;
        let text = |field: &str, required: bool| -> Result<Option<String>, IngestError> {
            match record.get(field) {
                Some(shapefile::dbase::FieldValue::Character(Some(s))) => Ok(Some(s.trim().to_string())),
                Some(shapefile::dbase::FieldValue::Numeric(Some(n))) => Ok(Some(n.to_string())),
                Some(_) if !required => Ok(None),
                Some(_) => Err(IngestError::Format {
                    file: file.clone(),
                    line,
                    field: field.into(),
                    message: "empty value".into(),
                }),
                None => Err(IngestError::Format {
                    file: file.clone(),
                    line,
                    field: field.into(),
                    message: "no such field in the .dbf (set the field name in the config)".into(),
                }),
            }
        };
        let code = text(&layer.code_field, true)?.unwrap_or_default();
        let name = text(&layer.name_field, true)?.unwrap_or_default();
        let parent_code = match &layer.parent_code_field {
            Some(f) => text(f, false)?,
            None => None,
        };
        let parent_name = match &layer.parent_name_field {
            Some(f) => text(f, false)?,
            None => None,
        };
        let geom = match shape {
            shapefile::Shape::Polygon(p) => MultiPolygon::<f64>::try_from(p).map_err(|e| IngestError::Format {
                file: file.clone(),
                line,
                field: "geometry".into(),
                message: e.to_string(),
            })?,
            other => {
                return Err(IngestError::Format {
                    file: file.clone(),
                    line,
                    field: "geometry".into(),
                    message: format!("expected a polygon, found {}", other.shapetype()),
                })
            }
        };
        out.push((code, name, parent_code, parent_name, geom));
    }
    Ok((out, crs))
}

fn read_geojson(path: &Path, layer: &BoundaryLayer) -> Result<(Vec<RawArea>, Crs), IngestError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| IngestError::Io {
        file: file.clone(),
        source,
    })?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| IngestError::Format {
        file: file.clone(),
        line: e.line() as u64,
        field: "json".into(),
        message: e.to_string(),
    })?;
    // The legacy (2008) `crs` member; RFC 7946 files have none and are WGS84.
    let crs_name = value
        .pointer("/crs/properties/name")
        .and_then(|v| v.as_str())
        .map(|s| s.rsplit([':', '/']).next().unwrap_or(s).to_string());
    let crs = match crs_name.as_deref() {
        None | Some("4326") | Some("CRS84") => Crs::Wgs84,
        Some("27700") => Crs::Bng,
        Some(other) => {
            return Err(IngestError::Crs(crs::CrsError::Unsupported {
                path: file,
                wkt: other.to_string(),
            }))
        }
    };
    let fc = serde_json::from_value::<geojson::FeatureCollection>(value).map_err(|e| IngestError::Format {
        file: file.clone(),
        line: 0,
        field: "FeatureCollection".into(),
        message: e.to_string(),
    })?;
    let mut out = Vec::new();
    for (i, f) in fc.features.into_iter().enumerate() {
        let line = i as u64 + 1;
        let prop = |field: &str| -> Option<String> {
            f.property(field).map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        };
        let code = prop(&layer.code_field).ok_or_else(|| IngestError::Format {
            file: file.clone(),
            line,
            field: layer.code_field.clone(),
            message: "missing property (feature number given as line)".into(),
        })?;
        let name = prop(&layer.name_field).unwrap_or_else(|| code.clone());
        let parent_code = layer.parent_code_field.as_deref().and_then(prop);
        let parent_name = layer.parent_name_field.as_deref().and_then(prop);
        let geom = f
            .geometry
            .as_ref()
            .ok_or_else(|| IngestError::Format {
                file: file.clone(),
                line,
                field: "geometry".into(),
                message: "feature has no geometry".into(),
            })
            .and_then(|g| {
                MultiPolygon::<f64>::try_from(&g.value)
                    .or_else(|_| geo::Polygon::<f64>::try_from(&g.value).map(|p| MultiPolygon(vec![p])))
                    .map_err(|e| IngestError::Format {
                        file: file.clone(),
                        line,
                        field: "geometry".into(),
                        message: format!("expected Polygon or MultiPolygon: {e}"),
                    })
            })?;
        out.push((code, name, parent_code, parent_name, geom));
    }
    Ok((out, crs))
}
