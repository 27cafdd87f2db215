//! The incidents' text columns a briefing reports that the analyses never
//! read: police.uk's `location` ("On or near …") and `last_outcome`,
//! dictionary-encoded in the row order of `incidents.parquet` (the order of
//! [`crate::dataset::columns::IncidentColumns`]).

use std::path::Path;

use polars::prelude::*;
use rustc_hash::FxHashMap;

use super::BriefingError;
use crate::dataset::schema::incidents as col;

/// Location and last outcome per incident row.
#[derive(Debug, Clone, Default)]
pub struct IncidentText {
    /// Index into `locations` (`u32::MAX` when null).
    pub location: Vec<u32>,
    pub locations: Vec<String>,
    /// Index into `outcomes` (`u32::MAX` when null or empty).
    pub outcome: Vec<u32>,
    pub outcomes: Vec<String>,
}

fn encode(ca: &StringChunked) -> (Vec<u32>, Vec<String>) {
    let mut values = Vec::new();
    let mut index: FxHashMap<&str, u32> = FxHashMap::default();
    let codes = ca
        .iter()
        .map(|v| match v.map(str::trim).filter(|s| !s.is_empty()) {
            None => u32::MAX,
            Some(s) => *index.entry(s).or_insert_with(|| {
                values.push(s.to_string());
                values.len() as u32 - 1
            }),
        })
        .collect();
    (codes, values)
}

impl IncidentText {
    /// Reads the two columns of `dir/incidents.parquet` (an empty table
    /// when the dataset has none).
    pub fn load(dir: &Path) -> Result<IncidentText, BriefingError> {
        let path = dir.join("incidents.parquet");
        if !path.exists() {
            return Ok(IncidentText::default());
        }
        let shown = path.display().to_string();
        let file = std::fs::File::open(&path).map_err(|e| BriefingError::Data(format!("{shown}: {e}")))?;
        let df = ParquetReader::new(file)
            .with_columns(Some(vec![col::LOCATION.to_string(), col::LAST_OUTCOME.to_string()]))
            .finish()
            .map_err(|e| BriefingError::Data(format!("{shown}: {e}")))?;
        let strs = |name: &str| -> Result<(Vec<u32>, Vec<String>), BriefingError> {
            let c = df
                .column(name)
                .map_err(|e| BriefingError::Data(format!("{shown}: column `{name}`: {e}")))?;
            let ca = c
                .str()
                .map_err(|e| BriefingError::Data(format!("{shown}: column `{name}`: {e}")))?;
            Ok(encode(ca))
        };
        let (location, locations) = strs(col::LOCATION)?;
        let (outcome, outcomes) = strs(col::LAST_OUTCOME)?;
        Ok(IncidentText {
            location,
            locations,
            outcome,
            outcomes,
        })
    }

    /// The location text of a row ("" when unknown).
    pub fn location_of(&self, row: u32) -> Option<&str> {
        let i = *self.location.get(row as usize)?;
        self.locations.get(i as usize).map(String::as_str)
    }

    /// The last outcome of a row, if recorded.
    pub fn outcome_of(&self, row: u32) -> Option<&str> {
        let i = *self.outcome.get(row as usize)?;
        self.outcomes.get(i as usize).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_in_first_seen_order_and_blanks_as_missing() {
        let ca = polars::prelude::StringChunked::from_iter(
            [
                Some("On or near A"),
                None,
                Some("On or near B"),
                Some(" "),
                Some("On or near A"),
            ]
            .iter()
            .copied(),
        );
        let (codes, values) = super::encode(&ca);
        assert_eq!(values, vec!["On or near A", "On or near B"]);
        assert_eq!(codes, vec![0, u32::MAX, 1, u32::MAX, 0]);
    }
}
