//! Assembling the ingest's results into polars frames (the dataset's tables).

use geo::MultiPolygon;
use polars::prelude::*;

use super::boundaries::Area;
use super::pois::Poi;
use super::reject::Reject;
use super::{IngestError, ParsedFile};
use crate::config::{Config, IncidentKind};
use crate::index::AreaIndex;

/// One entry of the file table: a file, or one member of an archive.
#[derive(Debug, Clone)]
pub struct FileEntry {
    pub path: String,
    pub source: String,
    pub kind: IncidentKind,
}

/// A distinct point, projected and located.
#[derive(Debug, Clone, Copy)]
pub struct Located {
    pub easting_m: f64,
    pub northing_m: f64,
    pub lon: f64,
    pub lat: f64,
    /// Index into the ward list.
    pub ward: Option<u32>,
    /// (index into the schools list, distance in metres).
    pub school: Option<(u32, f64)>,
    pub station: Option<(u32, f64)>,
}

fn polars_err(e: PolarsError) -> IngestError {
    IngestError::Invalid(format!("building a table: {e}"))
}

/// Geometry as little-endian WKB (what GeoParquet and DuckDB read).
pub fn to_wkb(g: &MultiPolygon<f64>) -> Vec<u8> {
    let mut buf = Vec::new();
    wkb::writer::write_geometry(
        &mut buf,
        g,
        &wkb::writer::WriteOptions {
            endianness: wkb::Endianness::LittleEndian,
        },
    )
    .expect("writing WKB to a Vec cannot fail");
    buf
}

/// The incidents table: one row per accepted incident.
#[allow(clippy::too_many_arguments)]
pub fn incidents_frame(
    files: &[ParsedFile],
    keep: &[Vec<bool>],
    row_key: &[Vec<u32>],
    located: &[Option<Located>],
    member_base: &[u32],
    config: &Config,
    wards: &[Area],
    schools: &[&Poi],
    stations: &[&Poi],
) -> Result<DataFrame, IngestError> {
    let n: usize = keep.iter().map(|k| k.iter().filter(|x| **x).count()).sum();
    let mut source = Vec::with_capacity(n);
    let mut kind = Vec::with_capacity(n);
    let mut file_id = Vec::with_capacity(n);
    let mut line = Vec::with_capacity(n);
    let mut crime_id: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut api_id: Vec<Option<i64>> = Vec::with_capacity(n);
    let mut month = Vec::with_capacity(n);
    let mut month_str: Vec<String> = Vec::with_capacity(n);
    let mut crime_type = Vec::with_capacity(n);
    let (mut lon, mut lat, mut e, mut nn) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut location: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut lsoa: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut falls: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut outcome: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut ward_code = Vec::with_capacity(n);
    let mut borough_code: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut school_id: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut school_m: Vec<Option<f64>> = Vec::with_capacity(n);
    let mut station_id: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut station_m: Vec<Option<f64>> = Vec::with_capacity(n);
    let month_names: std::collections::HashMap<u32, String> = files
        .iter()
        .flat_map(|f| f.parsed.rows.month.iter().copied())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|m| (m, crate::month::format(m)))
        .collect();
    for (fi, f) in files.iter().enumerate() {
        let rows = &f.parsed.rows;
        let src = &config.incidents[f.source];
        for r in 0..rows.len() {
            if !keep[fi][r] {
                continue;
            }
            let l = located[row_key[fi][r] as usize].expect("kept rows are located");
            let w = &wards[l.ward.expect("kept rows are in a ward") as usize];
            source.push(src.name.as_str());
            kind.push(src.kind.as_str());
            file_id.push(member_base[fi] + rows.file[r]);
            line.push(rows.line[r]);
            crime_id.push(rows.crime_id.get_opt(r));
            api_id.push(Some(rows.api_id[r]).filter(|v| *v >= 0));
            month.push(rows.month[r]);
            month_str.push(month_names[&rows.month[r]].clone());
            crime_type.push(rows.crime_type.get(r));
            lon.push(l.lon);
            lat.push(l.lat);
            e.push(l.easting_m);
            nn.push(l.northing_m);
            location.push(rows.location.get_opt(r));
            lsoa.push(rows.lsoa_code.get_opt(r));
            falls.push(rows.falls_within.get_opt(r));
            outcome.push(rows.outcome.get_opt(r));
            ward_code.push(w.code.as_str());
            borough_code.push(w.parent_code.as_deref());
            school_id.push(l.school.map(|(i, _)| schools[i as usize].id.as_str()));
            school_m.push(l.school.map(|(_, d)| d));
            station_id.push(l.station.map(|(i, _)| stations[i as usize].id.as_str()));
            station_m.push(l.station.map(|(_, d)| d));
        }
    }
    let incident_id: Vec<u32> = (0..n as u32).collect();
    DataFrame::new(
        n,
        vec![
            Column::new("incident_id".into(), incident_id),
            Column::new("source".into(), source),
            Column::new("kind".into(), kind),
            Column::new("file_id".into(), file_id),
            Column::new("line".into(), line),
            Column::new("crime_id".into(), crime_id),
            Column::new("api_id".into(), api_id),
            Column::new("month".into(), month_str),
            Column::new("month_index".into(), month),
            Column::new("crime_type".into(), crime_type),
            Column::new("lon".into(), lon),
            Column::new("lat".into(), lat),
            Column::new("easting_m".into(), e),
            Column::new("northing_m".into(), nn),
            Column::new("location".into(), location),
            Column::new("lsoa_code".into(), lsoa),
            Column::new("falls_within".into(), falls),
            Column::new("last_outcome".into(), outcome),
            Column::new("ward_code".into(), ward_code),
            Column::new("borough_code".into(), borough_code),
            Column::new("nearest_school_id".into(), school_id),
            Column::new("nearest_school_m".into(), school_m),
            Column::new("nearest_station_id".into(), station_id),
            Column::new("nearest_station_m".into(), station_m),
        ],
    )
    .map_err(polars_err)
}

/// The rejects table: every row that could not be used, verbatim.
pub fn rejects_frame(rejects: &[Reject], files: &[FileEntry]) -> Result<DataFrame, IngestError> {
    let n = rejects.len();
    let file = |r: &Reject| files.get(r.file as usize);
    DataFrame::new(
        n,
        vec![
            Column::new("file_id".into(), rejects.iter().map(|r| r.file).collect::<Vec<_>>()),
            Column::new(
                "source".into(),
                rejects
                    .iter()
                    .map(|r| file(r).map(|f| f.source.as_str()).unwrap_or(""))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "source_file".into(),
                rejects
                    .iter()
                    .map(|r| file(r).map(|f| f.path.as_str()).unwrap_or(""))
                    .collect::<Vec<_>>(),
            ),
            Column::new("line".into(), rejects.iter().map(|r| r.line).collect::<Vec<_>>()),
            Column::new(
                "reason".into(),
                rejects.iter().map(|r| r.reason.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "detail".into(),
                rejects.iter().map(|r| r.detail.as_str()).collect::<Vec<_>>(),
            ),
            Column::new("raw".into(), rejects.iter().map(|r| r.raw.as_str()).collect::<Vec<_>>()),
        ],
    )
    .map_err(polars_err)
}

/// The file table that `file_id` columns point into.
pub fn files_frame(files: &[FileEntry]) -> Result<DataFrame, IngestError> {
    DataFrame::new(
        files.len(),
        vec![
            Column::new("file_id".into(), (0..files.len() as u32).collect::<Vec<_>>()),
            Column::new("path".into(), files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>()),
            Column::new(
                "source".into(),
                files.iter().map(|f| f.source.as_str()).collect::<Vec<_>>(),
            ),
            Column::new("kind".into(), files.iter().map(|f| f.kind.as_str()).collect::<Vec<_>>()),
        ],
    )
    .map_err(polars_err)
}

/// Wards or boroughs, with geometry as WKB in BNG and in WGS84.
pub fn areas_frame(areas: &[Area], with_parent: bool) -> Result<DataFrame, IngestError> {
    let bng: Vec<Vec<u8>> = areas.iter().map(|a| to_wkb(&a.geometry_bng)).collect();
    let wgs: Vec<Vec<u8>> = areas.iter().map(|a| to_wkb(&a.geometry_wgs84)).collect();
    let mut cols = vec![
        Column::new("code".into(), areas.iter().map(|a| a.code.as_str()).collect::<Vec<_>>()),
        Column::new("name".into(), areas.iter().map(|a| a.name.as_str()).collect::<Vec<_>>()),
    ];
    if with_parent {
        cols.push(Column::new(
            "borough_code".into(),
            areas.iter().map(|a| a.parent_code.as_deref()).collect::<Vec<_>>(),
        ));
        cols.push(Column::new(
            "borough_name".into(),
            areas.iter().map(|a| a.parent_name.as_deref()).collect::<Vec<_>>(),
        ));
    }
    cols.push(Column::new(
        "area_km2".into(),
        areas.iter().map(|a| a.area_km2()).collect::<Vec<_>>(),
    ));
    cols.push(Column::new(
        "geometry_bng_wkb".into(),
        bng.iter().map(|b| b.as_slice()).collect::<Vec<_>>(),
    ));
    cols.push(Column::new(
        "geometry_wgs84_wkb".into(),
        wgs.iter().map(|b| b.as_slice()).collect::<Vec<_>>(),
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
            let table = match kind {
                "school" => "schools".to_string(),
                "station" => "stations".to_string(),
                other => format!("pois_{other}"),
            };
            let df = DataFrame::new(
                ps.len(),
                vec![
                    Column::new("poi_id".into(), ps.iter().map(|p| p.id.as_str()).collect::<Vec<_>>()),
                    Column::new("kind".into(), ps.iter().map(|p| p.kind.as_str()).collect::<Vec<_>>()),
                    Column::new("name".into(), ps.iter().map(|p| p.name.as_str()).collect::<Vec<_>>()),
                    Column::new("easting_m".into(), ps.iter().map(|p| p.easting_m).collect::<Vec<_>>()),
                    Column::new("northing_m".into(), ps.iter().map(|p| p.northing_m).collect::<Vec<_>>()),
                    Column::new("lon".into(), ps.iter().map(|p| p.lon).collect::<Vec<_>>()),
                    Column::new("lat".into(), ps.iter().map(|p| p.lat).collect::<Vec<_>>()),
                    Column::new(
                        "ward_code".into(),
                        ward.iter().map(|w| w.map(|w| w.code.as_str())).collect::<Vec<_>>(),
                    ),
                    Column::new(
                        "borough_code".into(),
                        ward.iter()
                            .map(|w| w.and_then(|w| w.parent_code.as_deref()))
                            .collect::<Vec<_>>(),
                    ),
                    Column::new(
                        "attributes".into(),
                        ps.iter().map(|p| p.attributes.as_str()).collect::<Vec<_>>(),
                    ),
                ],
            )
            .map_err(polars_err)?;
            Ok((table, df))
        })
        .collect()
}
