//! The curwatch store: canonical line items as Parquet partitioned by billing period and
//! export, plus small state files. It is the contract between ingestion and everything
//! downstream; `docs/schema.md` describes it for users and other tools.
//!
//! ```text
//! <store>/line_items/billing_period=2024-01/<export-slug>.parquet
//! <store>/summaries/billing_period=2024-01/<export-slug>.parquet            its daily summary
//! <store>/api_gateway_shapes/billing_period=2024-01/<export-slug>.parquet   its API Gateway shapes
//! <store>/state/partitions.json      current partitions: source, delivery, rows, totals
//! <store>/state/ingest-log.jsonl     every commit, append-only
//! ```
//!
//! A partition is replaced by writing it in full to a staging folder and renaming it over
//! the old file, so readers and crashes only ever see the old or the new partition.

mod compact;
mod companion;
mod dictionary;
mod direct;
mod encode;
mod error;
mod footer;
mod layout;
mod maps;
mod pages;
mod scan;
mod shapes;
mod state;
mod summary;
mod writer;

pub use error::StoreError;
pub use layout::export_slug;
pub use scan::{PeriodRange, Scan};
pub use shapes::shapes_have;
pub use state::{PartitionRecord, SourceFileRecord};
pub use summary::summary_has;
pub use writer::{ArrangedBatch, UnitSource, UnitWriter};

use std::path::{Path, PathBuf};

use curwatch_schema::BillingPeriod;

use crate::companion::{DAILY_SUMMARY, SHAPES};

/// A store rooted at a directory (which need not exist until the first commit).
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Store { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Starts writing one ingest unit (an export's files for one delivery).
    pub fn begin_unit(&self, source: UnitSource) -> Result<UnitWriter, StoreError> {
        UnitWriter::begin(self, source)
    }

    /// The partitions the store holds, as recorded at their last commit.
    pub fn partitions(&self) -> Result<Vec<PartitionRecord>, StoreError> {
        state::read_partitions(&self.root)
    }

    /// Streams canonical batches with only `columns`, from partitions in `periods`.
    pub fn scan(&self, columns: &[&str], periods: PeriodRange) -> Result<Scan, StoreError> {
        Ok(Scan::new(self.partition_files(periods)?, columns, None))
    }

    /// Like [`Store::scan`], but skips row groups whose statistics show they hold no line of
    /// `service`. Batches may still hold other services' lines; callers filter rows.
    pub fn scan_service(&self, columns: &[&str], periods: PeriodRange, service: &str) -> Result<Scan, StoreError> {
        Ok(Scan::new(self.partition_files(periods)?, columns, Some(service)))
    }

    /// Like [`Store::scan_service`], with `prepare` applied to each batch on the thread that
    /// decoded it: callers move stateless per-row work (parsing, hashing) off their own thread.
    /// Text columns named in `plain_text` come as `Utf8` arrays instead of dictionaries (for
    /// columns of many distinct values, such as `resource_id`, that is cheaper to decode).
    pub fn scan_service_prepared<T: Send + 'static>(
        &self,
        columns: &[&str],
        plain_text: &[&str],
        periods: PeriodRange,
        service: &str,
        prepare: impl Fn(arrow_array::RecordBatch) -> T + Send + Sync + 'static,
    ) -> Result<Scan<T>, StoreError> {
        let files = self.partition_files(periods)?;
        Ok(Scan::prepared(files, columns, plain_text, Some(service), std::sync::Arc::new(prepare)))
    }

    /// Like [`Store::scan`] for columns a daily summary holds (see [`summary_has`]): each
    /// partition is read from its summary when it has a current one (a few thousand rows for a
    /// month of millions), else from its lines. `usage_start` then holds the day only.
    pub fn scan_daily(&self, columns: &[&str], periods: PeriodRange) -> Result<Scan, StoreError> {
        let files = self.partition_files(periods)?;
        let files = files.iter().map(|file| DAILY_SUMMARY.current(&self.root, file)).collect();
        Ok(Scan::new(files, columns, None))
    }

    /// Like [`Store::scan_service_prepared`] for API Gateway lines and columns their shapes
    /// hold (see [`shapes_have`]): each partition is read from its API Gateway shapes when it
    /// has current ones — the month's lines summed per shape — else from its lines. Rows then
    /// stand for the whole month: `usage_start` is the billing period's first day.
    pub fn scan_gateway_shapes_prepared<T: Send + 'static>(
        &self,
        columns: &[&str],
        plain_text: &[&str],
        periods: PeriodRange,
        prepare: impl Fn(arrow_array::RecordBatch) -> T + Send + Sync + 'static,
    ) -> Result<Scan<T>, StoreError> {
        let files = self.partition_files(periods)?;
        let files = files.iter().map(|file| SHAPES.current(&self.root, file)).collect();
        let service = Some(curwatch_schema::columns::API_GATEWAY_SERVICE);
        Ok(Scan::prepared(files, columns, plain_text, service, std::sync::Arc::new(prepare)))
    }

    /// The partition files of the periods in `range`, for engines that read Parquet themselves.
    pub fn partition_files(&self, range: PeriodRange) -> Result<Vec<std::path::PathBuf>, StoreError> {
        let mut files = Vec::new();
        for period in layout::periods(&self.root)?.into_iter().filter(|p| range.contains(*p)) {
            files.extend(layout::partition_files(&self.root, period)?);
        }
        Ok(files)
    }

    /// Billing periods that have data, oldest first.
    pub fn periods(&self) -> Result<Vec<BillingPeriod>, StoreError> {
        layout::periods(&self.root)
    }

    /// Where a later stage's state file `name` lives: `state/<name>`.
    pub fn state_path(&self, name: &str) -> PathBuf {
        self.root.join(layout::STATE).join(name)
    }

    /// A later stage's state file, or `None` if it was never written.
    pub fn read_state(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.state_path(name);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(path)(e)),
        }
    }

    /// A later stage's JSON state file, parsed; `None` if it was never written.
    pub fn read_json_state<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<Option<T>, StoreError> {
        let Some(bytes) = self.read_state(name)? else { return Ok(None) };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StoreError::StageState { path: self.state_path(name), message: e.to_string() })
    }

    /// Replaces a later stage's JSON state file as the store's own are: whole or not at all.
    pub fn write_json_state<T: serde::Serialize>(&self, name: &str, value: &T) -> Result<(), StoreError> {
        let path = self.state_path(name);
        let bytes = serde_json::to_vec_pretty(value).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let dir = path.parent().expect("state folder");
        std::fs::create_dir_all(dir).map_err(StoreError::io(dir))?;
        state::write_atomically(&path, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_state_round_trips_and_a_damaged_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        assert_eq!(store.read_json_state::<Vec<u32>>("stage.json").unwrap(), None);
        store.write_json_state("stage.json", &vec![1_u32, 2]).unwrap();
        assert_eq!(store.read_json_state::<Vec<u32>>("stage.json").unwrap(), Some(vec![1, 2]));
        std::fs::write(store.state_path("stage.json"), b"{ cut off").unwrap();
        let error = store.read_json_state::<Vec<u32>>("stage.json").unwrap_err();
        assert!(matches!(error, StoreError::StageState { .. }), "{error}");
        assert!(error.to_string().contains("state/stage.json"), "{error}");
    }
}
