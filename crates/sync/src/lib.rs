//! Bringing billing exports from a source into the store.
//!
//! One pass: list the source, let each export's current manifest decide which objects
//! belong to each billing period, skip periods whose delivery the store already holds
//! (same manifest delivery id, same files, same ETags), and replace every changed period
//! atomically. The same code serves a local mirror and an S3 prefix.

mod outcome;
mod plan;
mod unit;

use curwatch_ingest::{DataStatus, ErrorKind, IngestError, parse_data_status, plan_units};
use curwatch_source::{ExportSource, SourceError};
use curwatch_store::Store;

pub use outcome::{Outcome, SyncReport, UnitReport};
pub use plan::is_unchanged;

#[derive(Debug, Clone, Copy, Default)]
pub struct SyncOptions {
    /// Re-read every period even when the store already holds its current delivery.
    pub full: bool,
}

/// Hears about progress; the CLI draws a bar or writes log lines from it.
pub trait Progress {
    /// Called once the plan is known: units to read and their bytes.
    fn planned(&self, _units: usize, _bytes: u64) {}
    /// Rows stored so far in the current run.
    fn rows(&self, _rows: u64) {}
    /// One unit is done, whatever its outcome.
    fn finished(&self, _unit: &UnitReport) {}
}

/// A no-op progress listener.
pub struct Silent;
impl Progress for Silent {}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The source could not be listed at all; nothing was changed.
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Discovery(#[from] IngestError),
    #[error("cannot read the store's state: {0}")]
    Store(#[from] curwatch_store::StoreError),
    #[error("cannot create a download folder: {0}")]
    Scratch(std::io::Error),
}

/// Syncs one source into the store. Errors confined to one export and period are
/// reported in its [`UnitReport`]; the rest still ingest.
pub fn sync(
    source: &dyn ExportSource,
    store: &Store,
    options: SyncOptions,
    progress: &dyn Progress,
) -> Result<SyncReport, SyncError> {
    let listing = source.list()?;
    let discovery = plan_units(source.location(), &listing, |key| read_small(source, key))?;
    let held = store.partitions()?;
    let mut report =
        SyncReport { source: source.location().to_owned(), ignored: discovery.ignored, ..Default::default() };
    for error in discovery.errors {
        report.units.push(UnitReport::failed_discovery(error));
    }
    let updating = updating_reports(source, &discovery.status_files, &mut report);

    let mut to_read = Vec::new();
    for unit in discovery.units {
        if !options.full && plan::is_unchanged(&unit, &held) {
            report.units.push(UnitReport::new(&unit, Outcome::Unchanged));
        } else if let Some(root) = unit.manifest.as_ref().and_then(|(key, _)| plan::governing_status(key, &updating)) {
            let why = format!(
                "AWS is rewriting this report ({root}/cost_and_usage_data_status says UPDATING); \
                 the store keeps its previous data and the next run reads it"
            );
            report.units.push(UnitReport::new(&unit, Outcome::Waiting(why)));
        } else {
            to_read.push(unit);
        }
    }
    let bytes = to_read.iter().flat_map(|u| &u.files).map(|f| f.size).sum();
    progress.planned(to_read.len(), bytes);

    if !to_read.is_empty() {
        let scratch = tempfile::Builder::new().prefix("curwatch-downloads-").tempdir().map_err(SyncError::Scratch)?;
        let all_files = to_read.iter().flat_map(|u| u.files.iter().cloned()).collect();
        let mut fetched = source.fetch(all_files, scratch.path());
        let mut rows_before = 0;
        for planned in &to_read {
            let outcome = unit::ingest(source, store, planned, &mut fetched, &|rows| progress.rows(rows_before + rows));
            if let Outcome::Ingested(records) = &outcome {
                rows_before += records.iter().map(|r| r.rows).sum::<u64>();
            }
            let done = UnitReport::new(planned, outcome);
            progress.finished(&done);
            report.units.push(done);
        }
    }
    report.stats = source.stats();
    Ok(report)
}

fn read_small(source: &dyn ExportSource, key: &str) -> Result<Vec<u8>, IngestError> {
    source.read(key).map_err(fetch_error)
}

pub(crate) fn fetch_error(error: SourceError) -> IngestError {
    let (location, problem) = error.into_parts();
    IngestError::new(location, ErrorKind::Fetch(problem))
}

/// Report folders whose data-status file says UPDATING. An unreadable status file is
/// reported and treated as UPDATING: reading a half-rewritten report is the worse mistake.
fn updating_reports(
    source: &dyn ExportSource,
    status_files: &[(String, curwatch_source::ObjectInfo)],
    report: &mut SyncReport,
) -> Vec<String> {
    let mut updating = Vec::new();
    for (root, object) in status_files {
        let status = source.read(&object.key).map_err(fetch_error).and_then(|bytes| {
            parse_data_status(bytes).map_err(|kind| IngestError::new(source.object_location(&object.key), kind))
        });
        match status {
            Ok(DataStatus::Ready) => {}
            Ok(DataStatus::Updating) => updating.push(root.clone()),
            Ok(DataStatus::Other(value)) => {
                report.notes.push(format!("{}: unknown data status `{value}`, read as READY", object.key));
            }
            Err(error) => {
                report.notes.push(format!("{error}; the report is treated as UPDATING"));
                updating.push(root.clone());
            }
        }
    }
    updating
}
