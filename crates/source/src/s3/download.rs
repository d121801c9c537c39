//! Downloading data files: several at once, each verified (length, and MD5 where the
//! ETag is one), retried from the start when the body breaks off or does not verify.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use futures_util::StreamExt;
use md5::{Digest, Md5};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use super::S3Location;
use super::errors::describe;
use super::retry::backoff;
use crate::stats::RequestStats;
use crate::{ObjectInfo, SourceError};

pub(super) struct Job {
    pub client: Client,
    pub location: S3Location,
    pub scratch: PathBuf,
    pub max_attempts: u32,
    pub stats: Arc<RequestStats>,
}

pub(super) struct Downloaded {
    pub info: ObjectInfo,
    pub path: tempfile::TempPath,
}

type Received = mpsc::Receiver<Result<Downloaded, SourceError>>;

/// Starts downloading `files` with `concurrency` in flight; results arrive in order.
/// Dropping the receiver stops the work (downloaded copies are deleted).
pub(super) fn start(
    runtime: &tokio::runtime::Handle,
    job: Job,
    files: Vec<ObjectInfo>,
    concurrency: usize,
) -> Mutex<Received> {
    let (sender, receiver) = mpsc::channel(1);
    let job = Arc::new(job);
    let spawner = runtime.clone();
    runtime.spawn(async move {
        // Each download is its own task, so downloads continue while the consumer reads.
        let mut results = futures_util::stream::iter(files)
            .map(|info| {
                let job = Arc::clone(&job);
                spawner.spawn(async move { download(&job, info).await })
            })
            .buffered(concurrency);
        while let Some(joined) = results.next().await {
            let result = joined.unwrap_or_else(|e| {
                Err(SourceError::Request {
                    location: job.location.to_string(),
                    problem: format!("download task failed: {e}"),
                })
            });
            if sender.send(result).await.is_err() {
                break;
            }
        }
    });
    Mutex::new(receiver)
}

enum Failure {
    /// Worth another try: the body broke off, was short, or did not match its checksum.
    Retry(String),
    Fatal(String),
}

async fn download(job: &Job, info: ObjectInfo) -> Result<Downloaded, SourceError> {
    let url = job.location.url(&info.key);
    let mut attempt = 1;
    loop {
        match attempt_download(job, &info).await {
            Ok(path) => {
                job.stats.downloaded();
                return Ok(Downloaded { info, path });
            }
            Err(Failure::Retry(_)) if attempt < job.max_attempts => {
                job.stats.retried();
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
            Err(Failure::Retry(problem)) => {
                let problem = format!("{problem} (gave up after {attempt} attempts)");
                return Err(SourceError::Request { location: url, problem });
            }
            Err(Failure::Fatal(problem)) => return Err(SourceError::Request { location: url, problem }),
        }
    }
}

async fn attempt_download(job: &Job, info: &ObjectInfo) -> Result<tempfile::TempPath, Failure> {
    let mut request = job.client.get_object().bucket(&job.location.bucket).key(job.location.key(&info.key));
    // Only the object that was listed: a rewrite in between must not be mixed in.
    if let Some(etag) = &info.etag {
        request = request.if_match(format!("\"{etag}\""));
    }
    let output = request.send().await.map_err(|e| {
        let code = e.as_service_error().and_then(|s| s.code()).map(str::to_owned);
        let status = e.raw_response().map(|r| r.status().as_u16());
        if code.as_deref() == Some("PreconditionFailed") || status == Some(412) {
            Failure::Fatal("the object was rewritten after it was listed (its ETag changed); run again".into())
        } else if code.as_deref() == Some("NoSuchKey") || status == Some(404) {
            Failure::Fatal("the manifest lists this object but it is gone (NoSuchKey)".into())
        } else {
            // The SDK has already retried throttling, 5xx and network errors.
            Failure::Fatal(describe("GetObject", &e))
        }
    })?;
    let name = info.key.rsplit('/').next().unwrap_or("object");
    let temp = tempfile::Builder::new()
        .prefix("download-")
        .suffix(&format!("-{name}"))
        .tempfile_in(&job.scratch)
        .map_err(|e| Failure::Fatal(format!("cannot create a download file in {}: {e}", job.scratch.display())))?;
    let (file, path) = temp.into_parts();
    let mut file = tokio::fs::File::from_std(file);
    let mut body = output.body;
    let mut hasher = Md5::new();
    let mut received = 0u64;
    loop {
        match body.next().await {
            None => break,
            Some(Ok(chunk)) => {
                hasher.update(&chunk);
                received += chunk.len() as u64;
                job.stats.received(chunk.len() as u64);
                file.write_all(&chunk)
                    .await
                    .map_err(|e| Failure::Fatal(format!("cannot write the download to {}: {e}", path.display())))?;
            }
            Some(Err(e)) => {
                return Err(Failure::Retry(format!(
                    "the download broke off after {received} of {} bytes: {e}",
                    info.size
                )));
            }
        }
    }
    file.flush().await.map_err(|e| Failure::Fatal(format!("cannot write {}: {e}", path.display())))?;
    if received != info.size {
        return Err(Failure::Retry(format!("truncated download: received {received} of {} bytes", info.size)));
    }
    if let Some(expected) = info.etag.as_deref().filter(|e| is_md5(e)) {
        let actual = format!("{:x}", hasher.finalize());
        if actual != expected.to_ascii_lowercase() {
            return Err(Failure::Retry(format!("checksum mismatch: MD5 {actual}, ETag {expected}")));
        }
    }
    Ok(path)
}

/// A single-part upload's ETag is the MD5 of the object; multipart ETags (`…-N`) are not.
fn is_md5(etag: &str) -> bool {
    etag.len() == 32 && etag.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_md5_etags_only() {
        assert!(is_md5("9e107d9d372bb6826bd81d3542a419d6"));
        assert!(!is_md5("9e107d9d372bb6826bd81d3542a419d6-3"));
    }
}
