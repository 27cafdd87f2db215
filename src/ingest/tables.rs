//! Assembling the ingest's results into polars frames (the dataset's tables).

use crate::dataset::geoparquet::{multipolygon_wkb, point_wkb};
use crate::dataset::schema::{areas, files as files_col, pois, rejects as rej};
use polars::prelude::*;

use super::boundaries::Area;
use super::pois::Poi;
use super::reject::Reject;
use super::IngestError;
use crate::config::IncidentKind;
use crate::index::AreaIndex;

/// One entry of the file table: a file, or one member of an archive.
#[derive(Debug, Clone)]
pub struct FileEntry {
    pub path: String,
    pub source: String,
    pub kind: IncidentKind,
}

fn polars_err(e: PolarsError) -> IngestError {
    IngestError::Invalid(format!("building a table: {e}"))
}

/// The rejects table: every row that could not be used, verbatim.
pub fn rejects_frame(rejects: &[Reject], files: &[FileEntry]) -> Result<DataFrame, IngestError> {
    let n = rejects.len();
    let file = |r: &Reject| files.get(r.file as usize);
    DataFrame::new(
        n,
        vec![
            Column::new(rej::FILE_ID.into(), rejects.iter().map(|r| r.file).collect::<Vec<_>>()),
            Column::new(
                rej::SOURCE.into(),
                rejects
                    .iter()
                    .map(|r| file(r).map(|f| f.source.as_str()).unwrap_or(""))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                rej::SOURCE_FILE.into(),
                rejects
                    .iter()
                    .map(|r| file(r).map(|f| f.path.as_str()).unwrap_or(""))
                    .collect::<Vec<_>>(),
            ),
            Column::new(rej::LINE.into(), rejects.iter().map(|r| r.line).collect::<Vec<_>>()),
            Column::new(
                rej::REASON.into(),
                rejects.iter().map(|r| r.reason.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                rej::DETAIL.into(),
                rejects.iter().map(|r| r.detail.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                rej::RAW.into(),
                rejects.iter().map(|r| r.raw.as_str()).collect::<Vec<_>>(),
            ),
        ],
    )
    .map_err(polars_err)
}

/// The file table that `file_id` columns point into.
pub fn files_frame(files: &[FileEntry]) -> Result<DataFrame, IngestError> {
    DataFrame::new(
        files.len(),
        vec![
            Column::new(files_col::FILE_ID.into(), (0..files.len() as u32).collect::<Vec<_>>()),
            Column::new(
                files_col::PATH.into(),
                files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                files_col::SOURCE.into(),
                files.iter().map(|f| f.source.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                files_col::KIND.into(),
                files.iter().map(|f| f.kind.as_str()).collect::<Vec<_>>(),
            ),
        ],
    )
    .map_err(polars_err)
}

/// Wards or boroughs, with geometry as WKB in WGS84 (`geometry`) and in
/// BNG (`geometry_bng_wkb`); the writer adds GeoParquet's covering `bbox`.
pub fn areas_frame(areas: &[Area], with_parent: bool) -> Result<DataFrame, IngestError> {
    let bng: Vec<Vec<u8>> = areas.iter().map(|a| multipolygon_wkb(&a.geometry_bng)).collect();
    let wgs: Vec<Vec<u8>> = areas.iter().map(|a| multipolygon_wkb(&a.geometry_wgs84)).collect();
    let mut cols = vec![
        Column::new(
            areas::CODE.into(),
            areas.iter().map(|a| a.code.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            areas::NAME.into(),
            areas.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        ),
    ];
    if with_parent {
        cols.push(Column::new(
            areas::BOROUGH_CODE.into(),
            areas.iter().map(|a| a.parent_code.as_deref()).collect::<Vec<_>>(),
        ));
        cols.push(Column::new(
            areas::BOROUGH_NAME.into(),
            areas.iter().map(|a| a.parent_name.as_deref()).collect::<Vec<_>>(),
        ));
    }
    cols.push(Column::new(
        areas::AREA_KM2.into(),
        areas.iter().map(|a| a.area_km2()).collect::<Vec<_>>(),
    ));
    cols.push(Column::new(
        areas::GEOMETRY.into(),
        wgs.iter().map(|b| b.as_slice()).collect::<Vec<_>>(),
    ));
    cols.push(Column::new(
        areas::GEOMETRY_BNG_WKB.into(),
        bng.iter().map(|b| b.as_slice()).collect::<Vec<_>>(),
    ));
    DataFrame::new(areas.len(), cols).map_err(polars_err)
}

/// POI tables by kind ("school" -> schools, "station" -> stations, others
/// -> pois_<kind>), each POI with the ward it is in (if any).
pub fn pois_frames(
    pois: &[Poi],
    wards: &[Area],
    ward_index: &AreaIndex,
) -> Result<Vec<(String, DataFrame)>, IngestError> {
    let mut kinds: Vec<&str> = pois.iter().map(|p| p.kind.as_str()).collect();
    kinds.sort();
    kinds.dedup();
    kinds
        .into_iter()
        .map(|kind| {
            let ps: Vec<&Poi> = pois.iter().filter(|p| p.kind == kind).collect();
            let ward: Vec<Option<&Area>> = ps
                .iter()
                .map(|p| ward_index.locate(p.easting_m, p.northing_m).map(|w| &wards[w as usize]))
                .collect();
            let wgs: Vec<[u8; 21]> = ps.iter().map(|p| point_wkb(p.lon, p.lat)).collect();
            let bng: Vec<[u8; 21]> = ps.iter().map(|p| point_wkb(p.easting_m, p.northing_m)).collect();
            let table = match kind {
                "school" => "schools".to_string(),
                "station" => "stations".to_string(),
                other => format!("pois_{other}"),
            };
            let df = DataFrame::new(
                ps.len(),
                vec![
                    Column::new(
                        pois::POI_ID.into(),
                        ps.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
                    ),
                    Column::new(
                        pois::KIND.into(),
                        ps.iter().map(|p| p.kind.as_str()).collect::<Vec<_>>(),
                    ),
                    Column::new(
                        pois::NAME.into(),
                        ps.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
                    ),
                    Column::new(
                        pois::EASTING_M.into(),
                        ps.iter().map(|p| p.easting_m).collect::<Vec<_>>(),
                    ),
                    Column::new(
                        pois::NORTHING_M.into(),
                        ps.iter().map(|p| p.northing_m).collect::<Vec<_>>(),
                    ),
                    Column::new(pois::LON.into(), ps.iter().map(|p| p.lon).collect::<Vec<_>>()),
                    Column::new(pois::LAT.into(), ps.iter().map(|p| p.lat).collect::<Vec<_>>()),
                    Column::new(
                        pois::WARD_CODE.into(),
                        ward.iter().map(|w| w.map(|w| w.code.as_str())).collect::<Vec<_>>(),
                    ),
                    Column::new(
                        pois::BOROUGH_CODE.into(),
                        ward.iter()
                            .map(|w| w.and_then(|w| w.parent_code.as_deref()))
                            .collect::<Vec<_>>(),
                    ),
                    Column::new(
                        pois::ATTRIBUTES.into(),
                        ps.iter().map(|p| p.attributes.as_str()).collect::<Vec<_>>(),
                    ),
                    Column::new(
                        pois::GEOMETRY.into(),
                        wgs.iter().map(|b| b.as_slice()).collect::<Vec<_>>(),
                    ),
                    Column::new(
                        pois::GEOMETRY_BNG_WKB.into(),
                        bng.iter().map(|b| b.as_slice()).collect::<Vec<_>>(),
                    ),
                ],
            )
            .map_err(polars_err)?;
            Ok((table, df))
        })
        .collect()
}
