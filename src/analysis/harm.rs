//! Harm weights per police.uk crime type, in the manner of the Cambridge
//! Crime Harm Index (Sherman, Neyroud & Neyroud 2016, "The Cambridge Crime
//! Harm Index: measuring total harm from crime based on sentencing
//! guidelines", Policing 10(3)): each crime counts the days of imprisonment
//! its sentencing-guideline starting point gives a first offender.
//!
//! The table is read from a CSV with columns `crime_type,harm_days` (police.uk
//! category names or API slugs). No default table ships yet: the published
//! CCHI values are per offence (700+), and the mapping to the 14 police.uk
//! categories must come from a verified copy, not from memory.

use std::collections::BTreeMap;
use std::path::Path;

use super::AnalysisError;

/// Harm in days per canonical police.uk crime type.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HarmTable {
    pub source: String,
    pub days: BTreeMap<String, f64>,
}

impl HarmTable {
    /// Reads `crime_type,harm_days`; errors name the file, line and field.
    pub fn from_csv(path: &Path) -> Result<HarmTable, AnalysisError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| AnalysisError::Io {
            path: file.clone(),
            source,
        })?;
        HarmTable::parse(&text, &file)
    }

    /// Parses CSV text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<HarmTable, AnalysisError> {
        let bad = |line: usize, field: &str, msg: String| AnalysisError::Param {
            name: "harm_table".into(),
            message: format!("{origin}, line {line}, field `{field}`: {msg}"),
        };
        let mut rows = csv::ReaderBuilder::new().has_headers(true).from_reader(text.as_bytes());
        let headers = rows.headers().map_err(|e| bad(1, "header", e.to_string()))?.clone();
        let col = |name: &str| {
            headers
                .iter()
                .position(|h| h.trim() == name)
                .ok_or_else(|| bad(1, name, "column missing".into()))
        };
        let (ct, hd) = (col("crime_type")?, col("harm_days")?);
        let mut days = BTreeMap::new();
        for (k, rec) in rows.records().enumerate() {
            let line = k + 2;
            let rec = rec.map_err(|e| bad(line, "row", e.to_string()))?;
            let raw = rec.get(ct).unwrap_or("").trim();
            let t = crate::crime_types::canonical(raw)
                .ok_or_else(|| bad(line, "crime_type", format!("{raw:?} is not a police.uk crime type")))?;
            let v: f64 = rec.get(hd).unwrap_or("").trim().parse().map_err(|_| {
                bad(
                    line,
                    "harm_days",
                    format!("{:?} is not a number", rec.get(hd).unwrap_or("")),
                )
            })?;
            if !(v.is_finite() && v >= 0.0) {
                return Err(bad(
                    line,
                    "harm_days",
                    format!("{v} must be a non-negative number of days"),
                ));
            }
            days.insert(t.to_string(), v);
        }
        Ok(HarmTable {
            source: origin.to_string(),
            days,
        })
    }

    /// From `crime_type:days` pairs (the server's `harm` parameter); errors
    /// name the `harm` parameter.
    pub fn from_pairs(pairs: &[String]) -> Result<HarmTable, AnalysisError> {
        let mut csv = String::from("crime_type,harm_days\n");
        for pair in pairs {
            let (t, d) = pair.split_once(':').ok_or_else(|| AnalysisError::Param {
                name: "harm".into(),
                message: format!("{pair:?} is not crime_type:days"),
            })?;
            csv.push_str(&format!("\"{}\",{}\n", t.replace('"', ""), d));
        }
        HarmTable::parse(&csv, "the harm parameter").map_err(|e| match e {
            AnalysisError::Param { message, .. } => AnalysisError::Param {
                name: "harm".into(),
                message,
            },
            other => other,
        })
    }

    /// Harm of one incident of this (canonical) type; types missing from
    /// the table weigh 0 and are reported by [`HarmTable::missing`].
    pub fn weight(&self, crime_type: &str) -> f64 {
        self.days.get(crime_type).copied().unwrap_or(0.0)
    }

    /// The types among `types` the table has no value for.
    pub fn missing<'a>(&self, types: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let mut m: Vec<String> = types
            .into_iter()
            .filter(|t| !self.days.contains_key(*t))
            .map(str::to_string)
            .collect();
        m.sort();
        m.dedup();
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_slugs_and_names_bad_fields() {
        let t = HarmTable::parse("crime_type,harm_days\nBurglary,10\nviolent-crime,5.5\n", "h.csv").unwrap();
        assert_eq!(t.weight("Burglary"), 10.0);
        assert_eq!(t.weight("Violence and sexual offences"), 5.5);
        assert_eq!(t.missing(["Burglary", "Drugs", "Drugs"]), vec!["Drugs".to_string()]);
        let err = HarmTable::parse("crime_type,harm_days\nBurglary,x\n", "h.csv")
            .unwrap_err()
            .to_string();
        assert!(err.contains("h.csv, line 2, field `harm_days`"), "{err}");
    }

    #[test]
    fn harm_pairs_become_a_harm_table_and_errors_name_harm() {
        let t = HarmTable::from_pairs(&["burglary:365".into(), "Robbery:730".into()]).unwrap();
        assert_eq!(t.days["Burglary"], 365.0);
        assert_eq!(t.days["Robbery"], 730.0);
        for bad in ["burglary=365", "burglary:x", "unicorns:3"] {
            let e = HarmTable::from_pairs(&[bad.to_string()]).unwrap_err();
            assert!(
                matches!(e, AnalysisError::Param { ref name, .. } if name == "harm"),
                "{bad}: {e}"
            );
        }
    }
}
