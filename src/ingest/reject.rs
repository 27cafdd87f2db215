//! Rejected rows: why a row could not be used, kept verbatim with where it
//! came from. Nothing is dropped silently.

use std::collections::BTreeMap;

pub use crate::dataset::schema::RejectReason;

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
