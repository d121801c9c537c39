//! Source errors: each names the object or request and the problem, never a credential.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A request to a remote source failed or returned unusable data.
    #[error("{location}: {problem}")]
    Request { location: String, problem: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{0}` is not an S3 location; expected s3://bucket or s3://bucket/prefix")]
    BadLocation(String),
    #[error("cannot set up the S3 client: {0}")]
    Setup(String),
}

impl SourceError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> SourceError {
        let path = path.into();
        move |source| SourceError::Io { path, source }
    }

    /// The object or request the error is about, and the problem on its own.
    pub fn into_parts(self) -> (String, String) {
        match self {
            SourceError::Request { location, problem } => (location, problem),
            SourceError::Io { path, source } => (path.display().to_string(), source.to_string()),
            other @ (SourceError::BadLocation(_) | SourceError::Setup(_)) => (String::new(), other.to_string()),
        }
    }
}
