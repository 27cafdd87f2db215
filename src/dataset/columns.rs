//! The incidents table as plain typed vectors, built once per opened dataset.
//!
//! Every analysis starts by choosing incidents (crime types, months, kind).
//! Scanning polars string columns row by row for that cost ~45 ms on the
//! 728k Met burglaries; over these vectors (categories as small integers)
//! the same scan is a tight loop of integer compares.

use crate::dataset::schema::incidents as col;
use polars::prelude::*;
use rustc_hash::FxHashMap;

use super::DatasetError;

/// Incident columns in row order of `incidents.parquet`.
#[derive(Debug, Clone, Default)]
pub struct IncidentColumns {
    /// BNG metres.
    pub easting_m: Vec<f64>,
    pub northing_m: Vec<f64>,
    /// WGS84 degrees.
    pub lon: Vec<f64>,
    pub lat: Vec<f64>,
    /// Month number (`year * 12 + month - 1`; `u32::MAX` when null).
    pub month: Vec<u32>,
    /// The months with at least one incident, ascending (found once here,
    /// not by each analysis that checks its periods against the data).
    pub months_present: Vec<u32>,
    /// Index into `crime_types` (`u16::MAX` when null).
    pub crime_type: Vec<u16>,
    pub crime_types: Vec<String>,
    /// Index into `kinds` (`u8::MAX` when null).
    pub kind: Vec<u8>,
    pub kinds: Vec<String>,
    /// Row of the incident's ward in the `wards` table (`u32::MAX` when unknown).
    pub ward: Vec<u32>,
    /// Row of the incident's borough in the `boroughs` table (`u32::MAX` when unknown).
    pub borough: Vec<u32>,
}

fn err(path: &str, column: &str, e: impl std::fmt::Display) -> DatasetError {
    DatasetError::Column {
        path: path.to_string(),
        column: column.to_string(),
        message: e.to_string(),
    }
}

fn f64s(df: &DataFrame, path: &str, name: &str) -> Result<Vec<f64>, DatasetError> {
    let c = df.column(name).map_err(|e| err(path, name, e))?;
    let ca = c.f64().map_err(|e| err(path, name, e))?;
    Ok(ca.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
}

/// Dictionary-encodes a string column: (codes, distinct values in first-seen order).
fn dictionary(df: &DataFrame, path: &str, name: &str) -> Result<(Vec<u32>, Vec<String>), DatasetError> {
    let c = df.column(name).map_err(|e| err(path, name, e))?;
    let ca = c.str().map_err(|e| err(path, name, e))?;
    let mut values: Vec<String> = Vec::new();
    let mut index: FxHashMap<&str, u32> = FxHashMap::default();
    let mut last: Option<(&str, u32)> = None;
    let mut codes = Vec::with_capacity(ca.len());
    for v in ca.iter() {
        let code = match v {
            None => u32::MAX,
            // Rows come in runs of one value (one file, one type): check the last first.
            Some(s) => match last {
                Some((l, code)) if l == s => code,
                _ => {
                    let code = *index.entry(s).or_insert_with(|| {
                        values.push(s.to_string());
                        values.len() as u32 - 1
                    });
                    last = Some((s, code));
                    code
                }
            },
        };
        codes.push(code);
    }
    Ok((codes, values))
}

/// Row positions of each code in a table's `code` column.
fn positions(table: &DataFrame) -> FxHashMap<String, u32> {
    let Ok(c) = table
        .column(crate::dataset::schema::areas::CODE)
        .and_then(|c| c.str().cloned())
    else {
        return FxHashMap::default();
    };
    c.iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (v.to_string(), i as u32)))
        .collect()
}

impl IncidentColumns {
    /// Builds the columns from the incidents frame; `wards` and `boroughs`
    /// give the rows `ward` and `borough` point into.
    pub fn build(
        incidents: &DataFrame,
        wards: &DataFrame,
        boroughs: &DataFrame,
        path: &str,
    ) -> Result<IncidentColumns, DatasetError> {
        if incidents.height() == 0 {
            return Ok(IncidentColumns::default());
        }
        let month: Vec<u32> = incidents
            .column(col::MONTH_INDEX)
            .and_then(|c| c.u32().cloned())
            .map_err(|e| err(path, col::MONTH_INDEX, e))?
            .iter()
            .map(|v| v.unwrap_or(u32::MAX))
            .collect();
        let months_present: Vec<u32> = month
            .iter()
            .copied()
            .filter(|m| *m != u32::MAX)
            .collect::<std::collections::BTreeSet<u32>>()
            .into_iter()
            .collect();
        let (types, crime_types) = dictionary(incidents, path, col::CRIME_TYPE)?;
        let (kinds_codes, kinds) = dictionary(incidents, path, col::KIND)?;
        let area = |column: &str, table: &DataFrame| -> Result<Vec<u32>, DatasetError> {
            let (codes, values) = dictionary(incidents, path, column)?;
            let rows = positions(table);
            let map: Vec<u32> = values
                .iter()
                .map(|v| rows.get(v).copied().unwrap_or(u32::MAX))
                .collect();
            Ok(codes
                .into_iter()
                .map(|c| map.get(c as usize).copied().unwrap_or(u32::MAX))
                .collect())
        };
        Ok(IncidentColumns {
            easting_m: f64s(incidents, path, col::EASTING_M)?,
            northing_m: f64s(incidents, path, col::NORTHING_M)?,
            lon: f64s(incidents, path, col::LON)?,
            lat: f64s(incidents, path, col::LAT)?,
            month,
            months_present,
            crime_type: types.into_iter().map(|c| c.min(u16::MAX as u32) as u16).collect(),
            crime_types,
            kind: kinds_codes.into_iter().map(|c| c.min(u8::MAX as u32) as u8).collect(),
            kinds,
            ward: area(col::WARD_CODE, wards)?,
            borough: area(col::BOROUGH_CODE, boroughs)?,
        })
    }

    pub fn len(&self) -> usize {
        self.easting_m.len()
    }

    pub fn is_empty(&self) -> bool {
        self.easting_m.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_categories_and_area_rows() {
        let incidents = df!(
            "easting_m" => [1.0, 2.0, 3.0],
            "northing_m" => [4.0, 5.0, 6.0],
            "lon" => [0.1, 0.2, 0.3],
            "lat" => [51.0, 51.1, 51.2],
            "month_index" => [24288u32, 24289, 24288],
            "crime_type" => [Some("Burglary"), Some("Robbery"), None],
            "kind" => ["crime", "crime", "stop_and_search"],
            "ward_code" => [Some("W2"), Some("W1"), Some("W9")],
            "borough_code" => [Some("B1"), None, Some("B1")],
        )
        .unwrap();
        let wards = df!("code" => ["W1", "W2"]).unwrap();
        let boroughs = df!("code" => ["B0", "B1"]).unwrap();
        let c = IncidentColumns::build(&incidents, &wards, &boroughs, "t").unwrap();
        assert_eq!(c.crime_types, vec!["Burglary", "Robbery"]);
        assert_eq!(c.crime_type, vec![0, 1, u16::MAX]);
        assert_eq!(c.kinds, vec!["crime", "stop_and_search"]);
        assert_eq!(c.kind, vec![0, 0, 1]);
        assert_eq!(c.ward, vec![1, 0, u32::MAX]);
        assert_eq!(c.borough, vec![1, u32::MAX, 1]);
        assert_eq!(c.month[1], 24289);
    }
}
