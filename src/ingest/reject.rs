//! Rejected rows: why a row could not be used, kept verbatim with where it
//! came from. Nothing is dropped silently.

use std::collections::BTreeMap;

/// Why a row was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// Longitude/latitude (or easting/northing) blank, e.g. police.uk "No Location".
    MissingCoordinates,
    /// Coordinates that do not parse as numbers.
    MalformedCoordinates,
    /// Coordinates out of range, or outside Great Britain (no OSTN15 transform).
    ImpossibleCoordinates,
    /// A valid point that falls in no ward of the study area.
    OutsideStudyArea,
    /// Month or date blank or not `YYYY-MM` with a real month.
    MalformedMonth,
    /// A crime type that is not a police.uk category.
    UnknownCrimeType,
    /// The same crime id (or API id) was already accepted from an earlier row.
    DuplicateId,
    /// A CSV row with the wrong number of fields or invalid UTF-8.
    MalformedRow,
    /// A JSON member that does not parse (e.g. an empty file).
    MalformedJson,
}

/// At most `max_chars` characters of `text` for an error or a reject's
/// detail: control characters shown as escapes, `…` where cut. A file
/// that fails to parse is never echoed at length.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n == max_chars {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

impl RejectReason {
    pub const ALL: [RejectReason; 9] = [
        RejectReason::MissingCoordinates,
        RejectReason::MalformedCoordinates,
        RejectReason::ImpossibleCoordinates,
        RejectReason::OutsideStudyArea,
        RejectReason::MalformedMonth,
        RejectReason::UnknownCrimeType,
        RejectReason::DuplicateId,
        RejectReason::MalformedRow,
        RejectReason::MalformedJson,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::MissingCoordinates => "missing_coordinates",
            RejectReason::MalformedCoordinates => "malformed_coordinates",
            RejectReason::ImpossibleCoordinates => "impossible_coordinates",
            RejectReason::OutsideStudyArea => "outside_study_area",
            RejectReason::MalformedMonth => "malformed_month",
            RejectReason::UnknownCrimeType => "unknown_crime_type",
            RejectReason::DuplicateId => "duplicate_id",
            RejectReason::MalformedRow => "malformed_row",
            RejectReason::MalformedJson => "malformed_json",
        }
    }

    pub fn parse(s: &str) -> Option<RejectReason> {
        RejectReason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// One rejected row.
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    /// Index into the ingest's file table.
    pub file: u32,
    /// 1-based line (CSV) or record number (JSON member).
    pub line: u32,
    pub reason: RejectReason,
    /// Which field, and what was wrong with it.
    pub detail: String,
    /// The row as it stood in the file (without its line ending).
    pub raw: String,
}

/// Counts of rejected rows by reason.
pub type RejectCounts = BTreeMap<RejectReason, u64>;

/// Tallies rejects by reason.
pub fn count_by_reason<'a>(rejects: impl IntoIterator<Item = &'a Reject>) -> RejectCounts {
    let mut counts = RejectCounts::new();
    for r in rejects {
        *counts.entry(r.reason).or_default() += 1;
    }
    counts
}
