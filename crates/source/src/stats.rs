//! Counters a source keeps of its requests, read by progress displays and run summaries.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct RequestStats {
    list_requests: AtomicU64,
    small_reads: AtomicU64,
    data_downloads: AtomicU64,
    bytes_downloaded: AtomicU64,
    retries: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Listing pages requested.
    pub list_requests: u64,
    /// Manifests and status files read whole.
    pub small_reads: u64,
    /// Data files downloaded in full (for a local source: data files opened).
    pub data_downloads: u64,
    /// Bytes received for data files, including attempts that were retried.
    /// For a local source: the size of the files opened.
    pub bytes_downloaded: u64,
    /// Attempts that failed and were tried again (throttling, 5xx, dropped connections).
    pub retries: u64,
}

impl RequestStats {
    pub(crate) fn listed(&self) {
        self.list_requests.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn read_small(&self) {
        self.small_reads.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn downloaded(&self) {
        self.data_downloads.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn received(&self, bytes: u64) {
        self.bytes_downloaded.fetch_add(bytes, Ordering::Relaxed);
    }
    pub(crate) fn retried(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            list_requests: self.list_requests.load(Ordering::Relaxed),
            small_reads: self.small_reads.load(Ordering::Relaxed),
            data_downloads: self.data_downloads.load(Ordering::Relaxed),
            bytes_downloaded: self.bytes_downloaded.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
        }
    }
}
