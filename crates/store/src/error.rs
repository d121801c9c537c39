use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: Parquet error: {message}", path.display())]
    Parquet { path: PathBuf, message: String },
    #[error("{}: the store's state file is unreadable ({message}); restore it or re-ingest into a new store", path.display())]
    State { path: PathBuf, message: String },
    #[error("{}: not a state file this version of curwatch reads: {message}", path.display())]
    StageState { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl StoreError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.into();
        move |source| StoreError::Io { path, source }
    }

    pub(crate) fn parquet(path: impl Into<PathBuf>) -> impl FnOnce(parquet::errors::ParquetError) -> StoreError {
        let path = path.into();
        move |e| StoreError::Parquet { path, message: e.to_string() }
    }
}
