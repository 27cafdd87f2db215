//! The ingest's error type.

use crate::config::ConfigError;
use crate::crs::CrsError;

/// Errors that stop an ingest. Row-level problems are never errors: they
/// become rejects.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Crs(#[from] CrsError),
    #[error("{file}: {source}")]
    Io { file: String, source: std::io::Error },
    #[error("{file}, line {line}, field `{field}`: {message}")]
    Format {
        file: String,
        line: u64,
        field: String,
        message: String,
    },
    #[error("config key `{key}`: no files match {pattern}")]
    NoFiles { key: String, pattern: String },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Dataset(#[from] crate::dataset::DatasetError),
}
