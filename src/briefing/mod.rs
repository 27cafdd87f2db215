//! Ward briefings: what a ward's neighbourhood team needs on one or two A4
//! pages, as one self-contained HTML page per ward (no external requests,
//! a print stylesheet for A4), for the CLI (`hotspots briefing`, with PDFs
//! printed by headless Chromium) and the server (`/wards/{code}/briefing`).
//!
//! | file | owns |
//! |---|---|
//! | `context.rs` | the London-wide work shared by every ward's page ([`Context`]): the period, rows per ward and borough, Gi* cells, POI risk, emerging hot spots, computed once |
//! | `text.rs` | the incidents' `location` and `last_outcome` text ([`text::IncidentText`]) |
//! | `change.rs` | is a change in a count real: the exact conditional test of two Poisson counts and the rate ratio's interval |
//! | `figures.rs` | one ward's figures ([`figures::Briefing`]): counts and changes by crime type with BH, rates per km², the monthly series and its seasonal band, places, POIs, emerging categories, outcomes, harm |
//! | `svg.rs` | the map (BNG metres: the ward, its neighbours, Gi* cells, schools and stations, scale bar, north arrow) and the monthly chart, as inline SVG |
//! | `html.rs` | the page, the index pages, the combined page a borough's PDF is printed from |
//! | `pdf.rs` | printing a page to PDF with headless Chromium |
//! | `output.rs` | writing a scope's pages, index pages and PDFs to a folder |
//!
//! Counts are of the analyses' selection ([`crate::analysis::select`]):
//! with no crime type named, every crime type except anti-social
//! behaviour, records of kind crime only.

pub mod change;
pub mod context;
pub mod figures;
pub mod html;
pub mod output;
pub mod pdf;
pub mod svg;
pub mod text;

pub use context::{Context, Options};
pub use figures::Briefing;

/// Errors making a briefing.
#[derive(Debug, thiserror::Error)]
pub enum BriefingError {
    /// No ward has this code (the parameter is the ward code).
    #[error("no ward has the code {0:?}; ward codes are the dataset's `wards` codes, such as E05000138 (see `hotspots info` or /collections/wards/items)")]
    UnknownWard(String),
    /// No borough has this code.
    #[error("no borough has the code {0:?}; borough codes are the dataset's `boroughs` codes, such as E09000007")]
    UnknownBorough(String),
    /// A bad option, named.
    #[error("parameter `{name}`: {message}")]
    Param { name: String, message: String },
    /// The dataset lacks something a briefing needs.
    #[error("{0}")]
    Data(String),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// Printing to PDF failed (Chromium missing or failing).
    #[error("{0}")]
    Pdf(String),
}

impl From<crate::analysis::AnalysisError> for BriefingError {
    fn from(e: crate::analysis::AnalysisError) -> Self {
        match e {
            crate::analysis::AnalysisError::Param { name, message } => BriefingError::Param { name, message },
            other => BriefingError::Data(other.to_string()),
        }
    }
}
