//! Reading the store back: projected, period-pruned streams of canonical batches, decoded on
//! every core, in the order the rows are stored.

use std::fs::File;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use arrow_array::RecordBatch;
use curwatch_schema::BillingPeriod;
use curwatch_schema::columns::SERVICE;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::file::metadata::RowGroupMetaData;
use parquet::file::statistics::Statistics;

use crate::error::StoreError;

/// Rows per batch handed to the caller.
const BATCH_ROWS: usize = 64 * 1024;
/// Batches each decoding thread may have ready before it waits for the caller.
const READY_PER_THREAD: usize = 2;

/// Inclusive range of billing periods to read; open ends read everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeriodRange {
    pub from: Option<BillingPeriod>,
    pub to: Option<BillingPeriod>,
}

impl PeriodRange {
    pub const ALL: PeriodRange = PeriodRange { from: None, to: None };

    pub fn only(period: BillingPeriod) -> Self {
        PeriodRange { from: Some(period), to: Some(period) }
    }

    pub fn contains(&self, period: BillingPeriod) -> bool {
        self.from.is_none_or(|f| period >= f) && self.to.is_none_or(|t| period <= t)
    }
}

/// One piece of decoding work: a row group of a file (or a file that could not be opened,
/// whose error is reported in its place in the stream).
enum Unit {
    RowGroup { path: PathBuf, metadata: ArrowReaderMetadata, mask: ProjectionMask, row_group: usize },
    Failed(StoreError),
}

impl Unit {
    fn open(self) -> Result<(PathBuf, ParquetRecordBatchReader), StoreError> {
        let (path, metadata, mask, row_group) = match self {
            Unit::Failed(error) => return Err(error),
            Unit::RowGroup { path, metadata, mask, row_group } => (path, metadata, mask, row_group),
        };
        let file = File::open(&path).map_err(StoreError::io(&path))?;
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata)
            .with_projection(mask)
            .with_row_groups(vec![row_group])
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(StoreError::parquet(&path))?;
        Ok((path, reader))
    }
}

fn next_batch(
    path: &std::path::Path,
    reader: &mut ParquetRecordBatchReader,
) -> Option<Result<RecordBatch, StoreError>> {
    reader.next().map(|batch| batch.map_err(|e| StoreError::Parquet { path: path.to_owned(), message: e.to_string() }))
}

/// What a decoding thread sends: a batch (or error), or the end of its current unit.
enum Message {
    Batch(Result<RecordBatch, StoreError>),
    UnitDone,
}

/// A stream of batches over the selected partitions. Row groups are decoded by a few threads,
/// each taking every n-th one, and handed out in storage order, so results never depend on
/// timing; memory is bounded by the batches in flight.
pub struct Scan {
    units: std::vec::IntoIter<Unit>,
    threads: Vec<Receiver<Message>>,
    /// Index of the unit being handed out (its thread is `next_unit % threads`).
    next_unit: usize,
    remaining: usize,
    /// The serial path, when one thread is enough: the row group being read.
    current: Option<(PathBuf, ParquetRecordBatchReader)>,
}

impl Scan {
    pub(crate) fn new(files: Vec<PathBuf>, columns: &[&str], service: Option<&str>) -> Self {
        let units: Vec<Unit> = files.into_iter().flat_map(|path| plan_file(path, columns, service)).collect();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(units.len()).min(4);
        let mut scan = Scan {
            remaining: units.len(),
            units: Vec::new().into_iter(),
            threads: Vec::new(),
            next_unit: 0,
            current: None,
        };
        if threads <= 1 {
            scan.units = units.into_iter();
            return scan;
        }
        let mut queues: Vec<Vec<Unit>> = (0..threads).map(|_| Vec::new()).collect();
        for (i, unit) in units.into_iter().enumerate() {
            queues[i % threads].push(unit);
        }
        for queue in queues {
            let (sender, receiver) = sync_channel(READY_PER_THREAD);
            std::thread::spawn(move || decode_units(queue, &sender));
            scan.threads.push(receiver);
        }
        scan
    }
}

fn decode_units(queue: Vec<Unit>, sender: &SyncSender<Message>) {
    // A failed send means the caller hung up (finished early or failed): stop decoding.
    for unit in queue {
        match unit.open() {
            Ok((path, mut reader)) => {
                while let Some(batch) = next_batch(&path, &mut reader) {
                    let failed = batch.is_err();
                    if sender.send(Message::Batch(batch)).is_err() || failed {
                        return;
                    }
                }
            }
            Err(error) => {
                let _ = sender.send(Message::Batch(Err(error)));
                return;
            }
        }
        if sender.send(Message::UnitDone).is_err() {
            return;
        }
    }
}

/// The row groups of one file worth reading: all of them, or those whose `service` statistics
/// admit the wanted service (row groups without statistics are always read).
fn plan_file(path: PathBuf, columns: &[&str], service: Option<&str>) -> Vec<Unit> {
    let planned = (|| {
        let file = File::open(&path).map_err(StoreError::io(&path))?;
        let metadata = ArrowReaderMetadata::load(&file, Default::default()).map_err(StoreError::parquet(&path))?;
        let fields = metadata.schema().fields();
        let mut roots = Vec::with_capacity(columns.len());
        for name in columns {
            let index = fields.iter().position(|f| f.name() == name).ok_or_else(|| StoreError::Parquet {
                path: path.clone(),
                message: format!("no column `{name}`; the store was written by another version"),
            })?;
            roots.push(index);
        }
        let mask = ProjectionMask::roots(metadata.parquet_schema(), roots);
        let service_column = metadata.parquet_schema().columns().iter().position(|c| c.path().string() == SERVICE);
        let units = metadata
            .metadata()
            .row_groups()
            .iter()
            .enumerate()
            .filter(|(_, group)| match (service, service_column) {
                (Some(wanted), Some(column)) => may_hold(group, column, wanted),
                _ => true,
            })
            .map(|(row_group, _)| Unit::RowGroup {
                path: path.clone(),
                metadata: metadata.clone(),
                mask: mask.clone(),
                row_group,
            })
            .collect();
        Ok(units)
    })();
    planned.unwrap_or_else(|error| vec![Unit::Failed(error)])
}

/// Whether a row group's min/max of a text column admit `wanted`.
fn may_hold(group: &RowGroupMetaData, column: usize, wanted: &str) -> bool {
    let Some(Statistics::ByteArray(stats)) = group.column(column).statistics() else {
        return true;
    };
    match (stats.min_opt(), stats.max_opt()) {
        (Some(min), Some(max)) => min.data() <= wanted.as_bytes() && wanted.as_bytes() <= max.data(),
        _ => true,
    }
}

impl Iterator for Scan {
    type Item = Result<RecordBatch, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.threads.is_empty() {
            loop {
                if let Some((path, reader)) = &mut self.current {
                    match next_batch(path, reader) {
                        Some(batch) => return Some(batch),
                        None => self.current = None,
                    }
                }
                match self.units.next()?.open() {
                    Ok(opened) => self.current = Some(opened),
                    Err(error) => return Some(Err(error)),
                }
            }
        }
        while self.remaining > 0 {
            let thread = &self.threads[self.next_unit % self.threads.len()];
            match thread.recv() {
                Ok(Message::Batch(batch)) => return Some(batch),
                Ok(Message::UnitDone) => {
                    self.next_unit += 1;
                    self.remaining -= 1;
                }
                // A thread only stops early after sending an error, which ended the stream.
                Err(_) => return None,
            }
        }
        None
    }
}
