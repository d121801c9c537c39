//! Ingestion errors: each names the file (and row or column where it applies) and the problem.

use std::fmt;
use std::path::PathBuf;

/// Where in a file a bad value sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// 1-based line of a CSV file (the header is line 1).
    Line(u64),
    /// 1-based data row of a Parquet file.
    Row(u64),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(n) => write!(f, "line {n}"),
            Location::Row(n) => write!(f, "row {n}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    #[error("cannot read the file: {0}")]
    Io(#[source] std::io::Error),
    #[error("the file is empty (0 bytes); an export file always has at least a header or a Parquet footer")]
    Empty,
    #[error("the gzip stream ends early: the file is truncated or still being written")]
    TruncatedGzip,
    #[error("not a readable Parquet file ({0}); it may be truncated or corrupt")]
    Parquet(String),
    #[error("malformed CSV at {location}: {message}")]
    Csv { location: Location, message: String },
    #[error("{location}: text is not valid UTF-8; billing exports are UTF-8 (re-export or convert the file)")]
    NotUtf8 { location: Location },
    #[error(
        "the columns match no known billing export. Expected legacy CUR (`lineItem/UnblendedCost` or \
         `line_item_unblended_cost`), CUR 2.0 (the same plus `resource_tags`/`product` map columns) or \
         FOCUS (`BilledCost`, `ChargePeriodStart`); found {found}"
    )]
    UnknownFormat { found: String },
    #[error("{format} file lacks the required column `{column}`")]
    MissingColumn { format: &'static str, column: String },
    #[error("column `{column}` has type {found}, expected {expected}")]
    WrongType { column: String, found: String, expected: &'static str },
    #[error("{location}, column `{column}`: {problem}")]
    BadValue { location: Location, column: String, problem: String },
    #[error("manifest problem: {0}")]
    Manifest(String),
    #[error("the manifest lists `{key}`, which is not present in {listing}")]
    ListedFileMissing { key: String, listing: String },
    #[error("cannot fetch: {0}")]
    Fetch(String),
    #[error("unsupported file: {0}")]
    Unsupported(String),
}

/// An ingestion failure in one named file.
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", path.display())]
pub struct IngestError {
    pub path: PathBuf,
    #[source]
    pub kind: ErrorKind,
}

impl IngestError {
    pub fn new(path: impl Into<PathBuf>, kind: ErrorKind) -> Self {
        IngestError { path: path.into(), kind }
    }
}
