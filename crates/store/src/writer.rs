//! Writing one ingest unit into staging, then committing it atomically.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{Array, BooleanArray, RecordBatch, UInt32Array};
use arrow_buffer::BooleanBuffer;
use arrow_schema::SchemaRef;
use curwatch_schema::columns::{
    ACCOUNT_ID, AMORTIZED_COST, API_GATEWAY_SERVICE, BILLING_PERIOD, CHARGE_CLASS, NET_UNBLENDED_COST, SERVICE,
    UNBLENDED_COST, USAGE_AMOUNT, USAGE_END, USAGE_START,
};
use curwatch_schema::{BillingPeriod, Money, canonical_schema};
use parquet::arrow::ArrowSchemaConverter;
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::Store;
use crate::companion::{ContentId, DAILY_SUMMARY, SHAPES};
use crate::encode::{PlainRuns, RowGroup, RowGroupFile};
use crate::error::StoreError;
use crate::layout::{STAGING, partition_path, sync_dir};
use crate::pages::{EncodedPage, PageEncoding};
use crate::shapes::GatewayShapes;
use crate::state::{PartitionRecord, SourceFileRecord, record_commit};
use crate::summary::DailySummary;

/// Where a unit's rows came from; recorded with every partition it writes.
#[derive(Debug, Clone, Default)]
pub struct UnitSource {
    pub export: String,
    /// The source format's label (`legacy CUR`, `CUR 2.0`, `FOCUS`).
    pub format: String,
    /// A manifest names its billing period; that partition is replaced even if it is now empty.
    pub declared_period: Option<BillingPeriod>,
    pub manifest: Option<String>,
    pub delivery_id: Option<String>,
    pub source_files: Vec<SourceFileRecord>,
}

/// Rows per row group: small enough that a reader skips finely and decodes on every core,
/// large enough that dictionaries and compression pay off (DuckDB writes 122,880).
pub(crate) const ROW_GROUP_ROWS: usize = 1 << 17;

struct PartitionWriter {
    staged: PathBuf,
    staged_summary: PathBuf,
    summary: DailySummary,
    staged_shapes: PathBuf,
    period: BillingPeriod,
    file: RowGroupFile,
    rows: u64,
    /// Row groups being filled: API Gateway lines apart from the rest.
    mixed: OpenRowGroup,
    gateway: OpenRowGroup,
}

impl PartitionWriter {
    fn write(&mut self, part: PeriodPart) -> Result<(), StoreError> {
        let PeriodPart { gateway, others, .. } = part;
        for rows in [&gateway, &others].into_iter().flatten() {
            self.rows += rows.batch.num_rows() as u64;
            // Summed on the writer's thread rather than where batches are arranged: ingest's
            // decoding thread is the busier one.
            self.summary.add(&rows.batch)?;
        }
        for (open, rows) in [(&mut self.gateway, gateway), (&mut self.mixed, others)] {
            if let Some(rows) = rows {
                open.append(&mut self.file, &rows)?;
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<StagedPartition, StoreError> {
        // The summary is written on a thread of its own while the last row groups close:
        // decoding is over by now, and its core would otherwise wait.
        let (summary, closed) = std::thread::scope(|scope| {
            let summary = scope.spawn(|| self.summary.write(&self.staged_summary));
            let closed =
                [&mut self.mixed, &mut self.gateway].into_iter().try_for_each(|open| open.close(&mut self.file));
            (summary.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)), closed)
        });
        closed?;
        // The companions' ids go into the file's footer: they link them to it (see `companion`).
        // The shapes are read back from the finished file: theirs is the fingerprint of its
        // API Gateway row groups.
        let summary_id = summary?;
        let shapes_id = self.gateway.content.take().unwrap_or_default().finish();
        self.file.finish(vec![DAILY_SUMMARY.link(&summary_id), SHAPES.link(&shapes_id)])?;
        GatewayShapes::read_back(&self.staged, self.period)?.write(&self.staged_shapes, &shapes_id)?;
        let (unblended, amortized) = self.summary.totals();
        Ok(StagedPartition {
            path: self.staged,
            summary: self.staged_summary,
            shapes: self.staged_shapes,
            rows: self.rows,
            unblended,
            amortized,
        })
    }
}

/// Canonical rows arranged as the store writes them: by billing period, and within one
/// period API Gateway lines apart from the rest (they go to row groups of their own), with
/// the pages of their amounts and times encoded. Arranging copies the rows, so it is a step
/// of its own: ingest arranges each batch on the thread that decodes it, and the writer's
/// thread sums and encodes the rest.
pub struct ArrangedBatch {
    parts: Vec<PeriodPart>,
}

/// One billing period's rows of a batch.
struct PeriodPart {
    period: BillingPeriod,
    gateway: Option<StoreRows>,
    others: Option<StoreRows>,
}

/// Rows bound for one kind of row group, with the pages of their amounts and times encoded
/// (by field; see `pages`).
struct StoreRows {
    batch: RecordBatch,
    pages: Vec<Option<EncodedPage>>,
}

impl StoreRows {
    fn of(batch: Option<RecordBatch>) -> Result<Option<Self>, StoreError> {
        let Some(batch) = batch else { return Ok(None) };
        // A batch larger than a row group is cut by the writer, which then encodes the pieces.
        if batch.num_rows() > ROW_GROUP_ROWS {
            return Ok(Some(StoreRows { batch, pages: Vec::new() }));
        }
        let (canonical, encodings) = &*CANONICAL_PAGES;
        let pages = encodings
            .iter()
            .enumerate()
            .map(|(field, encoding)| match encoding {
                Some(encoding) if batch.schema().field(field).name() == canonical.field(field).name() => {
                    let name = canonical.field(field).name();
                    encoding
                        .encode(batch.column(field))
                        .map(Some)
                        .map_err(|e| StoreError::Invalid(format!("{name}: {e}")))
                }
                _ => Ok(None),
            })
            .collect::<Result<_, _>>()?;
        Ok(Some(StoreRows { batch, pages }))
    }
}

/// The canonical schema, and how partition files encode each of its fields whose pages
/// depend on its rows alone: worked out once, not for every batch.
static CANONICAL_PAGES: LazyLock<(SchemaRef, Vec<Option<PageEncoding>>)> = LazyLock::new(|| {
    let schema = canonical_schema();
    let parquet = ArrowSchemaConverter::new().convert(&schema).expect("the canonical schema has a Parquet form");
    let encodings = PageEncoding::of_fields(&schema, &parquet, &writer_properties());
    (schema, encodings)
});

/// One kind of row group being filled: the open one, if any, and what the last one closed
/// passed on to the next.
#[derive(Default)]
struct OpenRowGroup {
    group: Option<RowGroup>,
    runs: PlainRuns,
    /// The fingerprint of the row groups closed so far, when one is kept.
    content: Option<ContentId>,
}

impl OpenRowGroup {
    /// Row groups whose bytes are fingerprinted as they are closed.
    fn fingerprinted() -> Self {
        OpenRowGroup { content: Some(ContentId::default()), ..Default::default() }
    }

    /// Appends rows to the open row group. A batch goes into one row group whole, so its
    /// encoded pages stand: a group without room for it is closed first.
    fn append(&mut self, file: &mut RowGroupFile, rows: &StoreRows) -> Result<(), StoreError> {
        let count = rows.batch.num_rows();
        if count == 0 {
            return Ok(());
        }
        if self.group.as_ref().is_some_and(|group| group.rows + count > ROW_GROUP_ROWS) {
            self.close(file)?;
        }
        let mut offset = 0;
        while offset < count {
            let group = match &mut self.group {
                Some(group) => group,
                None => self.group.insert(file.start_row_group(self.runs.clone())),
            };
            let n = (ROW_GROUP_ROWS - group.rows).min(count - offset);
            let pages: &[Option<EncodedPage>] = if n == count { &rows.pages } else { &[] };
            file.append(group, &rows.batch.slice(offset, n), pages)?;
            offset += n;
            if group.rows == ROW_GROUP_ROWS {
                self.close(file)?;
            }
        }
        Ok(())
    }

    /// Closes the open row group, if any.
    fn close(&mut self, file: &mut RowGroupFile) -> Result<(), StoreError> {
        if let Some(group) = self.group.take() {
            self.runs = file.close_row_group(group, self.content.as_mut())?;
        }
        Ok(())
    }
}

impl ArrangedBatch {
    pub fn of(batch: &RecordBatch) -> Result<Self, StoreError> {
        if batch.num_rows() == 0 {
            return Ok(ArrangedBatch { parts: Vec::new() });
        }
        let mut parts = Vec::new();
        for (period, rows) in split_by_period(batch)? {
            let rows = match rows {
                None => batch.clone(),
                Some(indices) => take_rows(batch, &indices)?,
            };
            let (gateway, others) = split_by_service(&rows, API_GATEWAY_SERVICE)?;
            let (gateway, others) = (StoreRows::of(gateway)?, StoreRows::of(others)?);
            parts.push(PeriodPart { period, gateway, others });
        }
        Ok(ArrangedBatch { parts })
    }
}

/// A partition file and its companions, written to staging and waiting for the commit.
struct StagedPartition {
    path: PathBuf,
    summary: PathBuf,
    shapes: PathBuf,
    rows: u64,
    unblended: Money,
    amortized: Money,
}

/// Rows of one unit on their way into the store. Dropping it without `commit` leaves the
/// store exactly as it was.
pub struct UnitWriter {
    root: PathBuf,
    created_root: bool,
    staging: PathBuf,
    source: UnitSource,
    partitions: BTreeMap<BillingPeriod, PartitionWriter>,
}

static UNIQUE: AtomicU64 = AtomicU64::new(0);

impl UnitWriter {
    pub(crate) fn begin(store: &Store, source: UnitSource) -> Result<Self, StoreError> {
        let root = store.root().to_owned();
        let created_root = !root.exists();
        let staging = root.join(STAGING).join(format!(
            "{}-{}-{}",
            std::process::id(),
            UNIQUE.fetch_add(1, Ordering::Relaxed),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        std::fs::create_dir_all(&staging).map_err(StoreError::io(&staging))?;
        let mut unit = UnitWriter { root, created_root, staging, source, partitions: BTreeMap::new() };
        if let Some(period) = unit.source.declared_period {
            unit.partition(period)?;
        }
        Ok(unit)
    }

    pub fn set_format(&mut self, format: &str) {
        self.source.format = format.to_owned();
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.partitions.values().map(|p| p.rows).sum()
    }

    fn partition(&mut self, period: BillingPeriod) -> Result<&mut PartitionWriter, StoreError> {
        if !self.partitions.contains_key(&period) {
            let staged = self.staging.join(format!("{period}.parquet"));
            let file = RowGroupFile::create(&staged, canonical_schema(), writer_properties())?;
            let partition = PartitionWriter {
                staged_summary: self.staging.join(format!("{period}.summary.parquet")),
                summary: DailySummary::default(),
                staged_shapes: self.staging.join(format!("{period}.shapes.parquet")),
                period,
                staged,
                file,
                rows: 0,
                mixed: OpenRowGroup::default(),
                gateway: OpenRowGroup::fingerprinted(),
            };
            self.partitions.insert(period, partition);
        }
        Ok(self.partitions.get_mut(&period).expect("just inserted"))
    }

    /// Appends canonical rows, routing each to its billing period's partition.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), StoreError> {
        self.write_arranged(ArrangedBatch::of(batch)?)
    }

    /// Appends rows already arranged for the store (see [`ArrangedBatch`]).
    pub fn write_arranged(&mut self, batch: ArrangedBatch) -> Result<(), StoreError> {
        for part in batch.parts {
            self.partition(part.period)?.write(part)?;
        }
        Ok(())
    }

    /// Replaces each touched partition in the store, then records the commit.
    pub fn commit(mut self) -> Result<Vec<PartitionRecord>, StoreError> {
        let ingested_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut staged = Vec::new();
        for (period, partition) in std::mem::take(&mut self.partitions) {
            staged.push((period, partition.finish()?));
        }
        let mut records = Vec::new();
        for (period, StagedPartition { path, summary, shapes, rows, unblended, amortized }) in staged {
            let target = partition_path(&self.root, period, &self.source.export);
            // The companions go first: until the partition file follows, their ids differ
            // (unless the sums are the same) and readers ignore the new ones.
            let summary_target = DAILY_SUMMARY.path(&self.root, &target).expect("partition under line_items");
            let shapes_target = SHAPES.path(&self.root, &target).expect("partition under line_items");
            for (from, to) in [(&summary, &summary_target), (&shapes, &shapes_target), (&path, &target)] {
                let dir = to.parent().expect("partition has a folder");
                std::fs::create_dir_all(dir).map_err(StoreError::io(dir))?;
                std::fs::rename(from, to).map_err(StoreError::io(to))?;
                sync_dir(dir);
            }
            records.push(PartitionRecord {
                billing_period: period.to_string(),
                export: self.source.export.clone(),
                path: relative(&self.root, &target),
                format: self.source.format.clone(),
                manifest: self.source.manifest.clone(),
                delivery_id: self.source.delivery_id.clone(),
                source_files: self.source.source_files.clone(),
                rows,
                unblended_cost: unblended,
                amortized_cost: amortized,
                ingested_at: ingested_at.clone(),
            });
        }
        record_commit(&self.root, &records)?;
        self.created_root = false;
        Ok(records)
    }
}

impl Drop for UnitWriter {
    fn drop(&mut self) {
        // Committed or not, staging goes; an aborted unit leaves nothing behind.
        self.partitions.clear();
        let _ = std::fs::remove_dir_all(&self.staging);
        if let Some(parent) = self.staging.parent() {
            let _ = std::fs::remove_dir(parent);
        }
        if self.created_root {
            let _ = std::fs::remove_dir(&self.root);
        }
    }
}

/// Columns whose row-group min/max readers prune by. Statistics cost a comparison per value
/// as they are written, so the other columns go without.
const PRUNED_BY: [&str; 5] = [BILLING_PERIOD, USAGE_START, ACCOUNT_ID, CHARGE_CLASS, SERVICE];

fn writer_properties() -> WriterProperties {
    let mut properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_statistics_enabled(EnabledStatistics::None)
        .set_created_by(format!("curwatch {}", env!("CARGO_PKG_VERSION")));
    for column in PRUNED_BY {
        properties = properties.set_column_statistics_enabled(ColumnPath::from(column), EnabledStatistics::Chunk);
    }
    // Amounts rarely repeat: a dictionary would hash every value only to be abandoned, and
    // Snappy saves them about 14% (measured on the bench data) for a compression on every
    // write and a decompression on every report. They are stored plain.
    for column in [USAGE_AMOUNT, UNBLENDED_COST, NET_UNBLENDED_COST, AMORTIZED_COST] {
        properties = properties
            .set_column_dictionary_enabled(ColumnPath::from(column), false)
            .set_column_compression(ColumnPath::from(column), Compression::UNCOMPRESSED);
    }
    // Start and end times repeat from line to line: delta-encoded, equal neighbours cost next
    // to nothing, without a dictionary that hashes every value (4.8% of the writer thread's
    // samples at 10M, in Parquet's interner).
    for column in [USAGE_START, USAGE_END] {
        properties = properties
            .set_column_dictionary_enabled(ColumnPath::from(column), false)
            .set_column_encoding(ColumnPath::from(column), parquet::basic::Encoding::DELTA_BINARY_PACKED);
    }
    properties.build()
}

/// Splits a batch into its rows of `service` and the rest; `None` when a side is empty.
pub(crate) fn split_by_service(
    batch: &RecordBatch,
    service: &str,
) -> Result<(Option<RecordBatch>, Option<RecordBatch>), StoreError> {
    let column = batch
        .column_by_name(SERVICE)
        .and_then(|c| c.as_dictionary_opt::<Int32Type>())
        .ok_or_else(|| StoreError::Invalid("service is not dictionary text".into()))?;
    let values = column.values().as_string::<i32>();
    // Every entry is checked: a dictionary may hold a value more than once.
    let wanted: Vec<bool> = (0..values.len()).map(|i| values.is_valid(i) && values.value(i) == service).collect();
    if !wanted.contains(&true) {
        return Ok((None, Some(batch.clone())));
    }
    // A null key's slot may hold anything: it is read only for valid rows.
    let keys = column.keys();
    let mask = match keys.nulls().filter(|nulls| nulls.null_count() > 0) {
        None => BooleanBuffer::collect_bool(keys.len(), |row| wanted[keys.values()[row] as usize]),
        Some(nulls) => {
            BooleanBuffer::collect_bool(keys.len(), |row| nulls.is_valid(row) && wanted[keys.values()[row] as usize])
        }
    };
    let mask = BooleanArray::new(mask, None);
    let matching = mask.true_count();
    if matching == batch.num_rows() {
        return Ok((Some(batch.clone()), None));
    }
    let filter = |mask: &BooleanArray| {
        arrow_select::filter::filter_record_batch(batch, mask).map_err(|e| StoreError::Invalid(e.to_string()))
    };
    let others = BooleanArray::new(!mask.values(), None);
    Ok((Some(filter(&mask)?), Some(filter(&others)?)))
}

/// The rows of a batch bound for one period; `None` means all of them.
type PeriodRows = (BillingPeriod, Option<Vec<u32>>);

/// Groups rows by billing period.
fn split_by_period(batch: &RecordBatch) -> Result<Vec<PeriodRows>, StoreError> {
    let column = batch
        .column_by_name(BILLING_PERIOD)
        .ok_or_else(|| StoreError::Invalid("batch has no billing_period column".into()))?;
    let dictionary = column
        .as_dictionary_opt::<Int32Type>()
        .ok_or_else(|| StoreError::Invalid("billing_period is not dictionary text".into()))?;
    let values = dictionary.values().as_string::<i32>();
    let parse = |i: usize| values.value(i).parse::<BillingPeriod>().map_err(|e| StoreError::Invalid(e.to_string()));
    if values.len() == 1 && dictionary.null_count() == 0 {
        return Ok(vec![(parse(0)?, None)]);
    }
    let mut groups: BTreeMap<BillingPeriod, Vec<u32>> = BTreeMap::new();
    let periods: Vec<BillingPeriod> = (0..values.len()).map(parse).collect::<Result<_, _>>()?;
    for (row, key) in dictionary.keys().iter().enumerate() {
        let key = key.ok_or_else(|| StoreError::Invalid("a row has no billing period".into()))?;
        groups.entry(periods[key as usize]).or_default().push(row as u32);
    }
    if groups.len() == 1 {
        return Ok(groups.into_keys().map(|p| (p, None)).collect());
    }
    Ok(groups.into_iter().map(|(p, rows)| (p, Some(rows))).collect())
}

fn take_rows(batch: &RecordBatch, rows: &[u32]) -> Result<RecordBatch, StoreError> {
    let indices = UInt32Array::from(rows.to_vec());
    arrow_select::take::take_record_batch(batch, &indices).map_err(|e| StoreError::Invalid(e.to_string()))
}

fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{DictionaryArray, Int32Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;

    #[test]
    fn a_service_listed_twice_in_the_dictionary_is_split_out_whole() {
        let values = StringArray::from(vec!["AmazonApiGateway", "AWSLambda", "AmazonApiGateway"]);
        let keys = Int32Array::from(vec![Some(0), Some(1), Some(2), None, Some(2)]);
        let service = DictionaryArray::<Int32Type>::try_new(keys, Arc::new(values)).unwrap();
        let row = Int32Array::from(vec![0, 1, 2, 3, 4]);
        let schema = Arc::new(Schema::new(vec![
            Field::new(SERVICE, service.data_type().clone(), true),
            Field::new("row", DataType::Int32, false),
        ]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(service), Arc::new(row)]).unwrap();
        let (gateway, others) = split_by_service(&batch, API_GATEWAY_SERVICE).unwrap();
        let rows = |batch: Option<RecordBatch>| batch.unwrap().column(1).as_primitive::<Int32Type>().values().to_vec();
        assert_eq!(rows(gateway), [0, 2, 4]);
        assert_eq!(rows(others), [1, 3]);
    }
}
