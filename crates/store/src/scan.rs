//! Reading the store back: projected, period-pruned streams of canonical batches, decoded on
//! every core, in the order the rows are stored.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use arrow_array::RecordBatch;
use arrow_schema::{DataType, FieldRef, Schema};
use curwatch_schema::BillingPeriod;
use curwatch_schema::columns::SERVICE;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder,
};
use parquet::basic::Encoding;
use parquet::column::page::{Page, PageReader};
use parquet::file::metadata::{ColumnChunkMetaData, RowGroupMetaData};
use parquet::file::serialized_reader::SerializedPageReader;
use parquet::file::statistics::Statistics;

use crate::error::StoreError;

/// Rows per batch handed to the caller.
const BATCH_ROWS: usize = 64 * 1024;
/// Batches each decoding thread may have ready before it waits for the caller.
const READY_PER_THREAD: usize = 1;

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
    RowGroup { path: PathBuf, metadata: ArrowReaderMetadata, mask: ProjectionMask, row_group: usize, batch_rows: usize },
    Failed(StoreError),
}

impl Unit {
    fn open(self) -> Result<(PathBuf, ParquetRecordBatchReader), StoreError> {
        let (path, metadata, mask, row_group, batch_rows) = match self {
            Unit::Failed(error) => return Err(error),
            Unit::RowGroup { path, metadata, mask, row_group, batch_rows } => {
                (path, metadata, mask, row_group, batch_rows)
            }
        };
        let file = File::open(&path).map_err(StoreError::io(&path))?;
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata)
            .with_projection(mask)
            .with_row_groups(vec![row_group])
            .with_batch_size(batch_rows)
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

/// What a decoding thread sends: a prepared batch (or error), or the end of its current unit.
enum Message<T> {
    Batch(Result<T, StoreError>),
    UnitDone,
}

/// Work done to each batch on the thread that decoded it, before it is handed out.
type Prepare<T> = Arc<dyn Fn(RecordBatch) -> T + Send + Sync>;

/// A stream of batches over the selected partitions. Row groups are decoded by a few threads,
/// each taking every n-th one, and handed out in storage order, so results never depend on
/// timing; memory is bounded by the batches in flight.
///
/// `Scan<T>` hands out each batch after a caller's preparation step (see
/// [`crate::Store::scan_service_prepared`]), run on the decoding threads: per-row work that
/// needs no shared state runs on every core instead of on the consumer's.
pub struct Scan<T = RecordBatch> {
    units: std::vec::IntoIter<Unit>,
    threads: Vec<Receiver<Message<T>>>,
    prepare: Prepare<T>,
    /// Index of the unit being handed out (its thread is `next_unit % threads`).
    next_unit: usize,
    remaining: usize,
    /// The serial path, when one thread is enough: the row group being read.
    current: Option<(PathBuf, ParquetRecordBatchReader)>,
}

impl Scan {
    pub(crate) fn new(files: Vec<PathBuf>, columns: &[&str], service: Option<&str>) -> Self {
        Scan::prepared(files, columns, &[], service, Arc::new(|batch| batch))
    }
}

impl<T: Send + 'static> Scan<T> {
    pub(crate) fn prepared(
        files: Vec<PathBuf>,
        columns: &[&str],
        plain_text: &[&str],
        service: Option<&str>,
        prepare: Prepare<T>,
    ) -> Self {
        Scan::in_batches_of(BATCH_ROWS, files, columns, plain_text, service, prepare)
    }

    /// Like [`Scan::prepared`], in batches of `batch_rows`: fewer rows in flight where memory
    /// matters more than a batch's overhead.
    pub(crate) fn in_batches_of(
        batch_rows: usize,
        files: Vec<PathBuf>,
        columns: &[&str],
        plain_text: &[&str],
        service: Option<&str>,
        prepare: Prepare<T>,
    ) -> Self {
        let units: Vec<Unit> =
            files.into_iter().flat_map(|path| plan_file(path, columns, plain_text, service, batch_rows)).collect();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(units.len()).min(4);
        let mut scan = Scan {
            remaining: units.len(),
            units: Vec::new().into_iter(),
            threads: Vec::new(),
            next_unit: 0,
            current: None,
            prepare,
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
            let prepare = Arc::clone(&scan.prepare);
            std::thread::spawn(move || decode_units(queue, &*prepare, &sender));
            scan.threads.push(receiver);
        }
        scan
    }
}

fn decode_units<T>(
    queue: Vec<Unit>,
    prepare: &(dyn Fn(RecordBatch) -> T + Send + Sync),
    sender: &SyncSender<Message<T>>,
) {
    // A failed send means the caller hung up (finished early or failed): stop decoding.
    for unit in queue {
        match unit.open() {
            Ok((path, mut reader)) => {
                while let Some(batch) = next_batch(&path, &mut reader) {
                    let failed = batch.is_err();
                    if sender.send(Message::Batch(batch.map(prepare))).is_err() || failed {
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

/// Reads the `plain_text` columns as plain strings rather than dictionaries. A column of many
/// distinct values outgrows its dictionary page and is stored mostly as plain pages; reading
/// those back as an Arrow dictionary costs a hash per value, reading them plain a copy.
fn read_as_plain_text(
    metadata: ArrowReaderMetadata,
    plain_text: &[&str],
) -> Result<ArrowReaderMetadata, parquet::errors::ParquetError> {
    if plain_text.is_empty() {
        return Ok(metadata);
    }
    let fields: Vec<FieldRef> = metadata
        .schema()
        .fields()
        .iter()
        .map(|field| match field.data_type() {
            DataType::Dictionary(_, value)
                if **value == DataType::Utf8 && plain_text.contains(&field.name().as_str()) =>
            {
                Arc::new(field.as_ref().clone().with_data_type(DataType::Utf8))
            }
            _ => field.clone(),
        })
        .collect();
    let schema = Arc::new(Schema::new_with_metadata(fields, metadata.schema().metadata().clone()));
    ArrowReaderMetadata::try_new(metadata.metadata().clone(), ArrowReaderOptions::new().with_schema(schema))
}

/// The row groups of one file worth reading: all of them, or those whose `service` statistics
/// admit the wanted service (row groups without statistics are always read).
fn plan_file(
    path: PathBuf,
    columns: &[&str],
    plain_text: &[&str],
    service: Option<&str>,
    batch_rows: usize,
) -> Vec<Unit> {
    let planned = (|| {
        let file = Arc::new(File::open(&path).map_err(StoreError::io(&path))?);
        let metadata =
            ArrowReaderMetadata::load(file.as_ref(), Default::default()).map_err(StoreError::parquet(&path))?;
        let metadata = read_as_plain_text(metadata, plain_text).map_err(StoreError::parquet(&path))?;
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
                (Some(wanted), Some(column)) => may_hold(&file, group, column, wanted),
                _ => true,
            })
            .map(|(row_group, _)| Unit::RowGroup {
                path: path.clone(),
                metadata: metadata.clone(),
                mask: mask.clone(),
                row_group,
                batch_rows,
            })
            .collect();
        Ok(units)
    })();
    planned.unwrap_or_else(|error| vec![Unit::Failed(error)])
}

/// Whether a row group's text column may hold `wanted`. Min/max decide when they can (a
/// clustered row group has min = max; most others exclude it), but a row group of AWSLambda
/// and AmazonS3 lines admits AmazonApiGateway between them: then the column chunk's dictionary
/// page, a few hundred bytes, is read and searched.
fn may_hold(file: &Arc<File>, group: &RowGroupMetaData, column: usize, wanted: &str) -> bool {
    let chunk = group.column(column);
    if let Some(Statistics::ByteArray(stats)) = chunk.statistics()
        && let (Some(min), Some(max)) = (stats.min_opt(), stats.max_opt())
    {
        let wanted = wanted.as_bytes();
        if wanted < min.data() || wanted > max.data() {
            return false;
        }
        if min.data() == wanted && max.data() == wanted {
            return true;
        }
    }
    dictionary_holds(file, chunk, group.num_rows(), wanted).unwrap_or(true)
}

/// Searches a column chunk's dictionary page; `None` when the chunk is not entirely
/// dictionary-encoded (then the dictionary does not list every value) or cannot be read.
fn dictionary_holds(file: &Arc<File>, chunk: &ColumnChunkMetaData, rows: i64, wanted: &str) -> Option<bool> {
    let all_dictionary = chunk.dictionary_page_offset().is_some()
        && chunk
            .page_encoding_stats_mask()
            .is_some_and(|mask| mask.is_only(Encoding::RLE_DICTIONARY) || mask.is_only(Encoding::PLAIN_DICTIONARY));
    if !all_dictionary {
        return None;
    }
    let mut pages = SerializedPageReader::new(file.clone(), chunk, rows as usize, None).ok()?;
    let Page::DictionaryPage { buf, num_values, encoding: Encoding::PLAIN | Encoding::PLAIN_DICTIONARY, .. } =
        pages.get_next_page().ok()??
    else {
        return None;
    };
    // PLAIN byte arrays: a little-endian u32 length, then the bytes.
    let (mut rest, wanted) = (&buf[..], wanted.as_bytes());
    for _ in 0..num_values {
        let length = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let value = rest.get(4..4 + length)?;
        if value == wanted {
            return Some(true);
        }
        rest = &rest[4 + length..];
    }
    Some(false)
}

impl<T> Iterator for Scan<T> {
    type Item = Result<T, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.threads.is_empty() {
            loop {
                if let Some((path, reader)) = &mut self.current {
                    match next_batch(path, reader) {
                        Some(batch) => return Some(batch.map(&*self.prepare)),
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::cast::AsArray;
    use arrow_array::types::{Decimal128Type, TimestampMicrosecondType};
    use arrow_array::{ArrayRef, Decimal128Array, DictionaryArray, TimestampMicrosecondArray, new_null_array};
    use curwatch_schema::canonical_schema;
    use curwatch_schema::columns::{
        AMORTIZED_COST, API_GATEWAY_SERVICE, BILLING_PERIOD, NET_UNBLENDED_COST, RESOURCE_ID, UNBLENDED_COST,
        USAGE_START, money_type,
    };

    use super::*;
    use crate::{Store, UnitSource};

    /// A canonical batch whose rows have these services and consecutive start times.
    fn batch(services: &[&str], first_start: i64) -> RecordBatch {
        let schema = canonical_schema();
        let len = services.len();
        let text = |values: Vec<&str>| -> ArrayRef {
            Arc::new(values.into_iter().collect::<DictionaryArray<arrow_array::types::Int32Type>>())
        };
        let columns = schema
            .fields()
            .iter()
            .map(|field| -> ArrayRef {
                match field.name().as_str() {
                    SERVICE => text(services.to_vec()),
                    BILLING_PERIOD => text(vec!["2024-01"; len]),
                    USAGE_START => Arc::new(
                        TimestampMicrosecondArray::from_iter_values((0..len as i64).map(|i| first_start + i))
                            .with_timezone("UTC"),
                    ),
                    UNBLENDED_COST | AMORTIZED_COST => {
                        Arc::new(Decimal128Array::from(vec![1_i128; len]).with_data_type(money_type()))
                    }
                    _ if !field.is_nullable() => text(vec!["x"; len]),
                    _ => new_null_array(field.data_type(), len),
                }
            })
            .collect();
        RecordBatch::try_new(schema, columns).expect("canonical batch")
    }

    fn starts(scan: Scan) -> Vec<i64> {
        scan.flat_map(|b| {
            let b = b.expect("batch");
            b.column_by_name(USAGE_START).unwrap().as_primitive::<TimestampMicrosecondType>().values().to_vec()
        })
        .collect()
    }

    #[test]
    fn api_gateway_rows_get_row_groups_of_their_own_and_scans_skip_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store"));
        let mut unit = store.begin_unit(UnitSource { export: "e".into(), ..UnitSource::default() }).unwrap();
        // 400,000 rows, every other one API Gateway: one full clustered row group while
        // writing, the remainder at commit.
        for part in 0..4_i64 {
            // AWSLambda and AmazonS3 around AmazonApiGateway: min/max alone cannot rule it out.
            let others = ["AWSLambda", "AmazonS3"];
            let services: Vec<&str> =
                (0..100_000).map(|i| if i % 2 == 0 { API_GATEWAY_SERVICE } else { others[i / 2 % 2] }).collect();
            unit.write(&batch(&services, part * 100_000)).unwrap();
        }
        unit.commit().unwrap();
        let files = store.partition_files(PeriodRange::ALL).unwrap();
        let file = Arc::new(File::open(&files[0]).unwrap());
        let metadata = ArrowReaderMetadata::load(file.as_ref(), Default::default()).unwrap();
        let service = metadata.parquet_schema().columns().iter().position(|c| c.name() == SERVICE).unwrap();
        let groups = metadata.metadata().row_groups();
        assert!(groups.len() >= 4, "{} row groups", groups.len());
        let gateway_groups = groups.iter().filter(|g| may_hold(&file, g, service, API_GATEWAY_SERVICE)).count();
        assert_eq!(gateway_groups, 2, "API Gateway rows fill two row groups and share none");

        let gateway =
            starts(store.scan_service(&[USAGE_START, SERVICE], PeriodRange::ALL, API_GATEWAY_SERVICE).unwrap());
        assert_eq!(gateway.len(), 200_000, "only API Gateway row groups were read");
        assert!(gateway.iter().all(|s| s % 2 == 0), "and they hold only API Gateway rows");

        // Every core decodes, yet rows come out exactly as stored.
        let stored: Vec<i64> = ParquetRecordBatchReaderBuilder::try_new(File::open(&files[0]).unwrap())
            .unwrap()
            .build()
            .unwrap()
            .flat_map(|b| {
                let b = b.unwrap();
                b.column_by_name(USAGE_START).unwrap().as_primitive::<TimestampMicrosecondType>().values().to_vec()
            })
            .collect();
        assert_eq!(starts(store.scan(&[USAGE_START], PeriodRange::ALL).unwrap()), stored);
        let mut sorted = stored.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..400_000).collect::<Vec<_>>(), "no row lost or doubled");
    }

    #[test]
    fn prepared_scans_run_the_step_per_batch_and_read_named_columns_plain() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store"));
        let mut unit = store.begin_unit(UnitSource { export: "e".into(), ..UnitSource::default() }).unwrap();
        unit.write(&batch(&vec![API_GATEWAY_SERVICE; 300_000], 0)).unwrap();
        unit.commit().unwrap();
        let columns = [SERVICE, BILLING_PERIOD];
        let scan = store
            .scan_service_prepared(&columns, &[BILLING_PERIOD], PeriodRange::ALL, API_GATEWAY_SERVICE, |batch| {
                let type_of = |name: &str| batch.column_by_name(name).map(|c| c.data_type().clone());
                (batch.num_rows(), vec![type_of(SERVICE), type_of(BILLING_PERIOD)])
            })
            .unwrap();
        let prepared: Vec<(usize, Vec<Option<DataType>>)> = scan.map(|p| p.unwrap()).collect();
        assert_eq!(prepared.iter().map(|(rows, _)| rows).sum::<usize>(), 300_000);
        for (_, types) in &prepared {
            assert!(matches!(types[0], Some(DataType::Dictionary(..))), "service stays a dictionary: {types:?}");
            assert_eq!(types[1], Some(DataType::Utf8), "billing_period was asked for plain");
        }
    }

    /// Writes and commits one unit of export `e`.
    fn write_unit(store: &Store, batches: &[RecordBatch]) {
        let mut unit = store.begin_unit(UnitSource { export: "e".into(), ..UnitSource::default() }).unwrap();
        batches.iter().for_each(|b| unit.write(b).unwrap());
        unit.commit().unwrap();
    }

    /// Rows and unblended, net and amortized totals read by a daily scan.
    fn daily_totals(store: &Store) -> (usize, i128, i128, i128) {
        let columns = [SERVICE, USAGE_START, UNBLENDED_COST, NET_UNBLENDED_COST, AMORTIZED_COST];
        let mut totals = (0, 0, 0, 0);
        for batch in store.scan_daily(&columns, PeriodRange::ALL).unwrap() {
            let batch = batch.unwrap();
            let sum = |name: &str| -> i128 {
                let amounts = batch.column_by_name(name).unwrap().as_primitive::<Decimal128Type>();
                // Lines have no net cost: what a net report sums is their unblended cost.
                let fallback = batch.column_by_name(UNBLENDED_COST).unwrap().as_primitive::<Decimal128Type>();
                amounts.iter().zip(fallback.iter()).map(|(a, u)| a.or(u).unwrap_or_default()).sum()
            };
            totals.0 += batch.num_rows();
            totals.1 += sum(UNBLENDED_COST);
            totals.2 += sum(NET_UNBLENDED_COST);
            totals.3 += sum(AMORTIZED_COST);
        }
        totals
    }

    #[test]
    fn daily_scans_read_current_summaries_and_fall_back_to_lines() {
        const DAY: i64 = 86_400_000_000;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store"));
        let write = |batches: &[RecordBatch]| write_unit(&store, batches);
        let services: Vec<&str> =
            (0..1_000).map(|i| if i % 3 == 0 { API_GATEWAY_SERVICE } else { "AmazonS3" }).collect();
        write(&[batch(&services, 0), batch(&services, 3 * DAY)]);
        // Two services on two days: four summary rows for 2,000 lines, every unit kept.
        assert_eq!(daily_totals(&store), (4, 2_000, 2_000, 2_000));

        let file = store.partition_files(PeriodRange::ALL).unwrap().remove(0);
        let summary = crate::companion::DAILY_SUMMARY.path(store.root(), &file).unwrap();
        let old_summary = std::fs::read(&summary).unwrap();
        write(&[batch(&services[..10], 0)]);
        assert_eq!(daily_totals(&store), (2, 10, 10, 10), "the rewrite brought its own summary");

        // A summary of an earlier generation of the file is never read with it.
        std::fs::write(&summary, old_summary).unwrap();
        assert_eq!(daily_totals(&store), (10, 10, 10, 10), "stale summary: the lines are read");
        std::fs::remove_file(&summary).unwrap();
        assert_eq!(daily_totals(&store), (10, 10, 10, 10), "no summary: the lines are read");
    }

    /// Rows and unblended total read by an API Gateway shapes scan.
    fn shape_totals(store: &Store) -> (usize, i128) {
        let columns = [SERVICE, USAGE_START, UNBLENDED_COST];
        let scan = store
            .scan_gateway_shapes_prepared(&columns, &[], PeriodRange::ALL, |batch| {
                let amounts = batch.column_by_name(UNBLENDED_COST).unwrap().as_primitive::<Decimal128Type>();
                let services = batch.column_by_name(SERVICE).unwrap().as_dictionary::<arrow_array::types::Int32Type>();
                let gateway = |row: usize| {
                    let values = services.values().as_string::<i32>();
                    values.value(services.keys().value(row) as usize) == API_GATEWAY_SERVICE
                };
                let rows: Vec<usize> = (0..batch.num_rows()).filter(|&row| gateway(row)).collect();
                (rows.len(), rows.iter().map(|&row| amounts.value(row)).sum::<i128>())
            })
            .unwrap();
        scan.map(|p| p.unwrap()).fold((0, 0), |(n, u), (rows, units)| (n + rows, u + units))
    }

    #[test]
    fn gateway_shape_scans_read_current_shapes_and_fall_back_to_lines() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store"));
        let write = |batches: &[RecordBatch]| write_unit(&store, batches);
        let services: Vec<&str> =
            (0..1_000).map(|i| if i % 3 == 0 { API_GATEWAY_SERVICE } else { "AmazonS3" }).collect();
        write(&[batch(&services, 0), batch(&services, 5_000)]);
        // 668 API Gateway lines of one shape at different times: one row, every unit kept.
        assert_eq!(shape_totals(&store), (1, 668));

        let file = store.partition_files(PeriodRange::ALL).unwrap().remove(0);
        let shapes = crate::companion::SHAPES.path(store.root(), &file).unwrap();
        let old_shapes = std::fs::read(&shapes).unwrap();
        write(&[batch(&services[..10], 0)]);
        assert_eq!(shape_totals(&store), (1, 4), "the rewrite brought its own shapes");

        // Shapes of an earlier generation of the file are never read with it.
        std::fs::write(&shapes, old_shapes).unwrap();
        assert_eq!(shape_totals(&store), (4, 4), "stale shapes: the lines are read");
        std::fs::remove_file(&shapes).unwrap();
        assert_eq!(shape_totals(&store), (4, 4), "no shapes: the lines are read");
    }

    /// The API Gateway shapes id in the footer of the store's only partition file.
    fn shapes_id(store: &Store) -> String {
        let file = store.partition_files(PeriodRange::ALL).unwrap().remove(0);
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(file).unwrap()).unwrap();
        let footer = reader.metadata().file_metadata().key_value_metadata().unwrap();
        footer.iter().find(|kv| kv.key == "curwatch.gateway_shapes_id").unwrap().value.clone().unwrap()
    }

    #[test]
    fn the_shapes_id_is_a_fingerprint_of_the_api_gateway_rows_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store"));
        let services: Vec<&str> =
            (0..1_000).map(|i| if i % 3 == 0 { API_GATEWAY_SERVICE } else { "AmazonS3" }).collect();
        let with_resources = |gateway: &str, other: &str| {
            let rows = batch(&services, 0);
            let resources: DictionaryArray<arrow_array::types::Int32Type> =
                services.iter().map(|&s| if s == API_GATEWAY_SERVICE { gateway } else { other }).collect();
            let index = rows.schema().index_of(RESOURCE_ID).unwrap();
            let mut columns = rows.columns().to_vec();
            columns[index] = Arc::new(resources);
            RecordBatch::try_new(rows.schema(), columns).unwrap()
        };
        write_unit(&store, &[with_resources("api-a", "bucket-a")]);
        let first = shapes_id(&store);
        write_unit(&store, &[with_resources("api-a", "bucket-a")]);
        assert_eq!(shapes_id(&store), first, "the same rows give the same id");
        write_unit(&store, &[with_resources("api-a", "bucket-b")]);
        assert_eq!(shapes_id(&store), first, "other services' lines leave it");
        write_unit(&store, &[with_resources("api-b", "bucket-a")]);
        assert_ne!(shapes_id(&store), first, "an API Gateway resource of the same length changes it");
        assert_eq!(shape_totals(&store), (1, 334), "and the shapes are read with the file they came from");
    }

    #[test]
    fn a_damaged_file_is_named_in_the_stream() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.parquet");
        std::fs::write(&path, b"PAR1 not really").unwrap();
        let error = Scan::new(vec![path.clone()], &[SERVICE], None).next().unwrap().unwrap_err();
        assert!(error.to_string().contains("bad.parquet"), "{error}");
    }
}
