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
    let (raw, crs, crs_from) = if lower.ends_with(".shp") {
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
                        Err(c) => return Err(not_lonlat(&file, i, &code, c, &crs_from)),
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

/// A vertex of a layer said to be WGS84 that OSTN15 cannot project:
/// usually a layer in metres whose `.prj` (or GeoJSON) claims WGS84.
fn not_lonlat(file: &str, i: usize, code: &str, c: geo::Coord<f64>, crs_from: &str) -> IngestError {
    let lonlat = (-180.0..=180.0).contains(&c.x) && (-90.0..=90.0).contains(&c.y);
    let looks_bng = (0.0..=800_000.0).contains(&c.x) && (0.0..=1_400_000.0).contains(&c.y) && !lonlat;
    let message = if lonlat {
        format!(
            "vertex ({}, {}) of feature {code} is outside the area OSTN15 covers (Great Britain); the layer's CRS, WGS84 (EPSG:4326), was taken from {crs_from}",
            c.x, c.y
        )
    } else {
        format!(
            "vertex ({}, {}) of feature {code} is not a WGS84 longitude/latitude, yet {crs_from} says the layer is WGS84 (EPSG:4326){}",
            c.x,
            c.y,
            if looks_bng {
                "; the coordinates look like British National Grid metres (EPSG:27700): correct the .prj or set the layer's CRS"
            } else {
                ""
            }
        )
    };
    IngestError::Format {
        file: file.to_string(),
        line: i as u64 + 1,
        field: "geometry".into(),
        message,
    }
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

/// The features of a layer, its CRS, and where the CRS was read from.
type RawLayer = (Vec<RawArea>, Crs, String);

/// A sentence for what the `shapefile` crate reports about `shp`.
fn shapefile_message(e: &shapefile::Error, shp: &Path) -> String {
    let beside = |ext: &str| shp.with_extension(ext).display().to_string();
    match e {
        shapefile::Error::MissingDbf => format!(
            "the attribute file {} is missing: a shapefile needs its .shp, .shx and .dbf side by side",
            beside("dbf")
        ),
        shapefile::Error::MissingIndexFile => format!(
            "the index file {} is missing: a shapefile needs its .shp, .shx and .dbf side by side",
            beside("shx")
        ),
        shapefile::Error::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "the file ends before its records do: it is truncated or damaged (copy it again)".into()
        }
        shapefile::Error::InvalidFileCode(code) => {
            format!("this is not an ESRI shapefile (its file code is {code}, a shapefile's is 9994)")
        }
        shapefile::Error::InvalidShapeType(t) => {
            format!("unknown shape type {t}: the file is damaged or not a shapefile")
        }
        shapefile::Error::DbaseError(d) => format!("the attribute file {} cannot be read: {d}", beside("dbf")),
        other => format!("cannot read the shapefile: {other}"),
    }
}

fn read_shapefile(path: &Path, layer: &BoundaryLayer) -> Result<RawLayer, IngestError> {
    let file = path.display().to_string();
    if !path.is_file() {
        return Err(IngestError::Format {
            file,
            line: 0,
            field: "path".into(),
            message: "the shapefile's .shp file does not exist (check the layer's path and --data-root)".into(),
        });
    }
    let (crs, crs_from) = match crs::crs_of_shapefile(path) {
        Ok(c) => (c, format!("its .prj file {}", path.with_extension("prj").display())),
        Err(crs::CrsError::MissingPrj { .. }) if layer.crs.is_some() => (
            Crs::parse(layer.crs.as_deref().unwrap_or_default()).unwrap_or(Crs::Bng),
            "the layer's `crs` in the config".to_string(),
        ),
        Err(e) => return Err(e.into()),
    };
    let mut reader = shapefile::Reader::from_path(path).map_err(|e| IngestError::Format {
        file: file.clone(),
        line: 0,
        field: "file".into(),
        message: shapefile_message(&e, path),
    })?;
    let mut out = Vec::new();
    for (i, item) in reader.iter_shapes_and_records().enumerate() {
        let line = i as u64 + 1;
        let (shape, record) = item.map_err(|e| IngestError::Format {
            file: file.clone(),
            line,
            field: "record".into(),
            message: shapefile_message(&e, path),
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
    Ok((out, crs, crs_from))
}

fn read_geojson(path: &Path, layer: &BoundaryLayer) -> Result<RawLayer, IngestError> {
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
    let crs_from = match &crs_name {
        None => "the GeoJSON (no `crs` member: WGS84 by RFC 7946)".to_string(),
        Some(n) => format!("the GeoJSON's `crs` member ({n})"),
    };
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
    Ok((out, crs, crs_from))
}
