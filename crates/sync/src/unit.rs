//! Reading one unit's fetched files into the store as one atomic commit.

use std::sync::mpsc::SyncSender;

use curwatch_ingest::{DiscoveredUnit, FileContext, IngestError, open_file};
use curwatch_source::{ExportSource, Fetches};
use curwatch_store::{ArrangedBatch, SourceFileRecord, Store, StoreError, UnitSource};

use crate::outcome::Outcome;

/// A batch on its way to the writer: its format's label and its rows arranged for the store.
type Arranged = (&'static str, Result<ArrangedBatch, StoreError>);

/// Takes exactly the unit's files from `fetched` (so the next unit starts at its own first
/// file, even after a failure) and commits them, or nothing.
pub(crate) fn ingest(
    source: &dyn ExportSource,
    store: &Store,
    unit: &DiscoveredUnit,
    fetched: &mut Fetches<'_>,
    rows: &dyn Fn(u64),
) -> Outcome {
    let mut files = fetched.by_ref().take(unit.files.len());
    let result = write(source, store, unit, &mut files, rows);
    // Drain what a failure left behind; downloaded copies are deleted as they drop.
    files.for_each(drop);
    match result {
        Ok(records) => Outcome::Ingested(records),
        Err(error) => Outcome::Failed(error),
    }
}

fn write(
    source: &dyn ExportSource,
    store: &Store,
    unit: &DiscoveredUnit,
    files: &mut dyn Iterator<Item = Result<curwatch_source::LocalFile, curwatch_source::SourceError>>,
    rows: &dyn Fn(u64),
) -> Result<Vec<curwatch_store::PartitionRecord>, IngestError> {
    let (manifest, delivery_id) = unit.manifest.clone().unzip();
    let source_files = unit
        .files
        .iter()
        .map(|f| SourceFileRecord { key: f.key.clone(), size: f.size, etag: f.etag.clone() })
        .collect();
    let store_error = |e: StoreError| {
        IngestError::new(store.root(), curwatch_ingest::ErrorKind::Fetch(format!("cannot write the store: {e}")))
    };
    let mut writer = store
        .begin_unit(UnitSource {
            export: unit.export_id.clone(),
            format: String::new(),
            declared_period: unit.billing_period,
            manifest,
            delivery_id,
            source_files,
        })
        .map_err(store_error)?;
    // This thread pulls the files (downloads stay a bounded number ahead), decodes,
    // canonicalises and arranges them for the store (encoding their amounts' and times'
    // pages), while another sums them for the daily summary and encodes the rest of the
    // store's Parquet. Both are busy most of the time, and each has batches
    // that take longer (a new source row group here, a closing row group there): two batches
    // waiting between them absorb that where one made each wait for the other, and still
    // bound memory.
    let writer = std::thread::scope(|scope| {
        let (sender, batches) = std::sync::mpsc::sync_channel::<Arranged>(2);
        let writing = scope.spawn(move || {
            for (label, batch) in batches {
                writer.set_format(label);
                writer.write_arranged(batch?)?;
            }
            Ok::<_, StoreError>(writer)
        });
        let read = read_files(source, &unit.export_id, files, &sender, rows);
        drop(sender);
        let written = writing.join().expect("the store writer panicked");
        read?;
        written.map_err(store_error)
    })?;
    writer.commit().map_err(store_error)
}

/// Decodes the files in order and hands their batches to the writer. Stops early, without an
/// error of its own, when the writer hangs up: the writer's error is the one to report.
fn read_files(
    source: &dyn ExportSource,
    export: &str,
    files: &mut dyn Iterator<Item = Result<curwatch_source::LocalFile, curwatch_source::SourceError>>,
    writer: &SyncSender<Arranged>,
    rows: &dyn Fn(u64),
) -> Result<(), IngestError> {
    let mut read = 0;
    for file in files {
        let file = file.map_err(crate::fetch_error)?;
        let shown = source.object_location(&file.info.key);
        // Errors name the object as the user knows it, not the download's temporary path.
        let rename = |mut e: IngestError| {
            e.path = shown.clone().into();
            e
        };
        let ctx = FileContext { export: export.to_owned(), source_file: file.info.key.clone() };
        let reader = open_file(file.path(), ctx).map_err(rename)?;
        let label = reader.format().label();
        for batch in reader {
            let batch = batch.map_err(rename)?;
            read += batch.num_rows() as u64;
            if writer.send((label, ArrangedBatch::of(&batch))).is_err() {
                return Ok(());
            }
            rows(read);
        }
    }
    Ok(())
}
