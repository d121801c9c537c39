//! An S3 prefix (or any S3-compatible store) as an export source.
//!
//! The SDK is async; the rest of curwatch reads files synchronously. This module owns a
//! small tokio runtime and hands results over channels, so callers never see async.

mod client;
mod download;
mod errors;
mod location;
mod retry;

use std::path::Path;
use std::sync::Arc;

use aws_sdk_s3::Client;

pub use location::S3Location;

use crate::stats::RequestStats;
use crate::{ExportSource, Fetches, LocalFile, ObjectInfo, SourceError, StatsSnapshot};

/// How to reach S3. Credentials and region come from the standard AWS chain
/// (environment, `AWS_PROFILE`, SSO, web identity, instance and container roles).
#[derive(Debug, Clone)]
pub struct S3Options {
    /// An S3-compatible endpoint; `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_S3` also work.
    pub endpoint_url: Option<String>,
    /// Path-style addressing (`host/bucket/key`); automatic for IP and localhost endpoints.
    pub force_path_style: bool,
    /// Data files downloaded at once.
    pub concurrency: usize,
    /// Attempts per request, counting the first, for throttling, 5xx and dropped connections.
    pub max_attempts: u32,
}

impl Default for S3Options {
    fn default() -> Self {
        S3Options { endpoint_url: None, force_path_style: false, concurrency: 4, max_attempts: 5 }
    }
}

pub struct S3Source {
    runtime: tokio::runtime::Runtime,
    client: Client,
    location: S3Location,
    display: String,
    options: S3Options,
    stats: Arc<RequestStats>,
}

impl S3Source {
    pub fn connect(location: S3Location, options: &S3Options) -> Result<Self, SourceError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("curwatch-s3")
            .enable_all()
            .build()
            .map_err(|e| SourceError::Setup(format!("cannot start the I/O runtime: {e}")))?;
        let stats = Arc::new(RequestStats::default());
        let client = runtime.block_on(client::build(&location.bucket, options, Arc::clone(&stats)))?;
        let display = location.to_string();
        Ok(S3Source { runtime, client, location, display, options: options.clone(), stats })
    }
}

impl ExportSource for S3Source {
    fn location(&self) -> &str {
        &self.display
    }

    fn object_location(&self, key: &str) -> String {
        self.location.url(key)
    }

    fn list(&self) -> Result<Vec<ObjectInfo>, SourceError> {
        self.runtime.block_on(client::list(&self.client, &self.location, &self.stats))
    }

    fn read(&self, key: &str) -> Result<Vec<u8>, SourceError> {
        self.runtime.block_on(client::read(&self.client, &self.location, key, &self.stats, self.options.max_attempts))
    }

    fn fetch<'a>(&'a self, files: Vec<ObjectInfo>, scratch: &Path) -> Fetches<'a> {
        let job = download::Job {
            client: self.client.clone(),
            location: self.location.clone(),
            scratch: scratch.to_owned(),
            max_attempts: self.options.max_attempts,
            stats: Arc::clone(&self.stats),
        };
        let receiver = download::start(self.runtime.handle(), job, files, self.options.concurrency.max(1));
        Box::new(std::iter::from_fn(move || receiver.lock().ok()?.blocking_recv()).map(|r| r.map(into_local_file)))
    }

    fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }
}

fn into_local_file(done: download::Downloaded) -> LocalFile {
    LocalFile { path: done.path.to_path_buf(), info: done.info, _download: Some(done.path) }
}
