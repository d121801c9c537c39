//! Reading one unit's fetched files into the store as one atomic commit.

use arrow_array::RecordBatch;
use curwatch_ingest::{DiscoveredUnit, FileContext, IngestError, open_file};
use curwatch_source::{ExportSource, Fetches};
use curwatch_store::{SourceFileRecord, Store, UnitSource};

use crate::outcome::Outcome;

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
    let store_error = |e: curwatch_store::StoreError| {
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
    // Decoding and canonicalising run on their own thread while this one encodes the store's
    // Parquet: the two halves of the work take about as long, so two cores halve the time.
    // A few batches in flight keep memory bounded.
    let files: Vec<_> = files
        .map(|file| {
            file.map(|f| {
                let shown = source.object_location(&f.info.key);
                (f, shown)
            })
        })
        .collect();
    let export = unit.export_id.clone();
    std::thread::scope(|scope| {
        let (sender, batches) = std::sync::mpsc::sync_channel::<Result<(&'static str, RecordBatch), IngestError>>(2);
        scope.spawn(move || {
            for file in files {
                let (file, shown) = match file {
                    Ok(pair) => pair,
                    Err(error) => {
                        let _ = sender.send(Err(crate::fetch_error(error)));
                        return;
                    }
                };
                // Errors name the object as the user knows it, not the download's temporary path.
                let rename = |mut e: IngestError| {
                    e.path = shown.clone().into();
                    e
                };
                let ctx = FileContext { export: export.clone(), source_file: file.info.key.clone() };
                let reader = match open_file(file.path(), ctx) {
                    Ok(reader) => reader,
                    Err(error) => {
                        let _ = sender.send(Err(rename(error)));
                        return;
                    }
                };
                let label = reader.format().label();
                for batch in reader {
                    let failed = batch.is_err();
                    // The receiver hangs up when writing failed: stop reading.
                    if sender.send(batch.map(|b| (label, b)).map_err(rename)).is_err() || failed {
                        return;
                    }
                }
            }
        });
        for message in batches {
            let (label, batch) = message?;
            writer.set_format(label);
            writer.write(&batch).map_err(store_error)?;
            rows(writer.rows());
        }
        Ok::<(), IngestError>(())
    })?;
    writer.commit().map_err(store_error)
}
