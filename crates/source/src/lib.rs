//! Where billing exports come from: a local folder or an `s3://bucket/prefix`, seen the
//! same way by everything downstream — a listing of objects, small reads for manifests,
//! and fetches that hand data files over as local files, several in flight at once.
//!
//! Keeping both behind one trait is what keeps the local mirror and S3 from drifting
//! apart: discovery, incremental checks and ingestion never know which one they talk to.

mod error;
mod local;
mod s3;
mod stats;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub use error::SourceError;
pub use local::LocalSource;
pub use s3::{S3Location, S3Options, S3Source};
pub use stats::{RequestStats, StatsSnapshot};

/// One object of a listing, keyed relative to the listing root with `/` separators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    pub modified: Option<SystemTime>,
    /// S3 ETag (quotes removed), or a size-and-mtime fingerprint for local files.
    pub etag: Option<String>,
}

/// A data file ready to be read from local disk. A downloaded copy is deleted when dropped.
#[derive(Debug)]
pub struct LocalFile {
    pub info: ObjectInfo,
    path: PathBuf,
    _download: Option<tempfile::TempPath>,
}

impl LocalFile {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Fetched files, in the order asked for.
pub type Fetches<'a> = Box<dyn Iterator<Item = Result<LocalFile, SourceError>> + 'a>;

/// A place billing exports are delivered to.
pub trait ExportSource {
    /// The source as users name it: a folder path or `s3://bucket/prefix`.
    fn location(&self) -> &str;

    /// The full name of one object, for messages.
    fn object_location(&self, key: &str) -> String;

    /// Every object under the source, keys relative to it.
    fn list(&self) -> Result<Vec<ObjectInfo>, SourceError>;

    /// A small object (a manifest, a status file) read whole.
    fn read(&self, key: &str) -> Result<Vec<u8>, SourceError>;

    /// Data files as local files, in order. Remote sources download several at once into
    /// `scratch` and stay a bounded number of files ahead of the consumer.
    fn fetch<'a>(&'a self, files: Vec<ObjectInfo>, scratch: &Path) -> Fetches<'a>;

    /// Requests made and bytes moved so far.
    fn stats(&self) -> StatsSnapshot;
}

/// Opens `location`: `s3://bucket/prefix` or a local path.
pub fn open(location: &str, options: &S3Options) -> Result<Box<dyn ExportSource>, SourceError> {
    if location.starts_with("s3://") {
        Ok(Box::new(S3Source::connect(S3Location::parse(location)?, options)?))
    } else {
        Ok(Box::new(LocalSource::new(location)?))
    }
}
