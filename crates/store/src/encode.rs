//! Encoding row groups, a large batch's columns on every core: Parquet's encoders (dictionary
//! interning, compression) are most of ingest's work, and each column encodes independently.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Schema, SchemaRef};
use bytes::Bytes;
use parquet::arrow::{ArrowSchemaConverter, add_encoded_arrow_schema_to_metadata};
use parquet::column::writer::ColumnCloseResult;
use parquet::errors::ParquetError;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::{ColumnDescPtr, SchemaDescriptor};

use curwatch_schema::columns::{map_type, text_type};

use crate::companion::ContentId;
use crate::dictionary::DictionaryChunk;
use crate::direct::DirectFile;
use crate::error::StoreError;
use crate::footer::Footer;
use crate::maps::MapChunk;
use crate::pages::{EncodedPage, PageChunk, PageEncoding};

/// Batches smaller than this are encoded on the calling thread alone. Ingest's batches of
/// 16,384 rows are: a helper thread per batch cost more than it saved, while the decoding
/// thread keeps the other core busy (see docs/performance.md).
const PARALLEL_FROM_ROWS: usize = 64 * 1024;

/// An open row group: one writer per top-level field.
pub(crate) struct RowGroup {
    fields: Vec<FieldWriter>,
    pub rows: usize,
    /// What the row groups before it of its kind passed on.
    runs: PlainRuns,
}

/// Row groups in a row, up to and including the last closed, in which each dictionary text
/// field went plain (its dictionary outgrew its page): passed from a row group to the next
/// of its kind, so that a field of mostly distinct values (resource ids) starts plain instead
/// of building a dictionary only to drop it (interning took 91 of the writer's 630 `perf`
/// samples at 10M, most of it for resource ids). Every
/// [`RETRY_DICTIONARY_AFTER`]th row group tries the dictionary again, in case the values
/// have changed.
#[derive(Debug, Clone, Default)]
pub(crate) struct PlainRuns(Vec<u32>);

/// Row groups a field stays plain before its dictionary is tried again.
const RETRY_DICTIONARY_AFTER: u32 = 16;

impl PlainRuns {
    fn starts_plain(&self, field: usize) -> bool {
        self.0.get(field).is_some_and(|&run| run > 0 && run % RETRY_DICTIONARY_AFTER != 0)
    }
}

enum FieldWriter {
    /// Dictionary text, written from its keys (see `dictionary`).
    Dictionary(Box<DictionaryChunk>),
    /// A map of text, written from its offsets (see `maps`).
    Map(Box<MapChunk>),
    /// Amounts and times, a page per batch that may come encoded (see `pages`).
    Pages(Box<PageChunk>),
}

/// How a top-level field is encoded.
enum FieldEncoding {
    /// Its Parquet column, and whether it keeps statistics.
    Dictionary(ColumnDescPtr, bool),
    /// The key and value leaves.
    Map(ColumnDescPtr, ColumnDescPtr),
    Pages(ColumnDescPtr, PageEncoding),
}

/// A Parquet file written row group by row group, each batch's columns encoded in parallel.
/// Every field is encoded by the store's own chunk writers, which lets it keep the footer
/// compact (see `footer`).
pub(crate) struct RowGroupFile {
    path: PathBuf,
    file: DirectFile,
    /// Bytes written to `file` so far.
    written: u64,
    properties: Arc<WriterProperties>,
    footer: Footer,
    /// Fields in the order threads pick them up: costliest first, so none is left last.
    pick_order: Vec<usize>,
    /// How each field is encoded.
    encodings: Vec<FieldEncoding>,
    threads: usize,
}

impl RowGroupFile {
    pub fn create(path: &Path, schema: SchemaRef, properties: WriterProperties) -> Result<Self, StoreError> {
        // The Arrow schema is embedded (dictionary types included), as Parquet's Arrow writer
        // does, so readers get the store's types back.
        let mut properties = properties;
        add_encoded_arrow_schema_to_metadata(&schema, &mut properties);
        let parquet = ArrowSchemaConverter::new()
            .with_coerce_types(properties.coerce_types())
            .convert(&schema)
            .map_err(StoreError::parquet(path))?;
        let leaves = leaves_by_field(&schema, &parquet);
        let encodings = schema
            .fields()
            .iter()
            .zip(leaves)
            .map(|(field, leaves)| match (field.data_type(), leaves.as_slice()) {
                (data_type, [column]) if *data_type == text_type() => {
                    let statistics = properties.statistics_enabled(column.path()) != EnabledStatistics::None;
                    Ok(FieldEncoding::Dictionary(column.clone(), statistics))
                }
                (data_type, [keys, values]) if *data_type == map_type() && MapChunk::fits(keys, values) => {
                    Ok(FieldEncoding::Map(keys.clone(), values.clone()))
                }
                (data_type, [column]) => PageEncoding::choose(data_type, column, &properties)
                    .map(|encoding| FieldEncoding::Pages(column.clone(), encoding))
                    .ok_or(field),
                _ => Err(field),
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|field| {
                StoreError::Invalid(format!("`{}` ({}) has no encoding in the store", field.name(), field.data_type()))
            })?;
        let mut file = DirectFile::create(path).map_err(StoreError::io(path))?;
        file.write_all(MAGIC).map_err(StoreError::io(path))?;
        let mut pick_order: Vec<usize> = (0..schema.fields().len()).collect();
        pick_order.sort_by_key(|&i| std::cmp::Reverse(encoding_weight(schema.field(i).data_type())));
        Ok(RowGroupFile {
            path: path.to_owned(),
            file,
            written: MAGIC.len() as u64,
            properties: Arc::new(properties),
            footer: Footer::new(Arc::new(parquet)),
            pick_order,
            encodings,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        })
    }

    /// Opens a row group, following `runs` from the last closed of its kind; rows go in with
    /// [`RowGroupFile::append`] and it is written to the file by
    /// [`RowGroupFile::close_row_group`]. Several may be open at once.
    pub fn start_row_group(&self, runs: PlainRuns) -> RowGroup {
        let fields = self
            .encodings
            .iter()
            .enumerate()
            .map(|(field, encoding)| match encoding {
                FieldEncoding::Dictionary(column, statistics) => FieldWriter::Dictionary(Box::new(
                    DictionaryChunk::new(column.clone(), *statistics, runs.starts_plain(field)),
                )),
                FieldEncoding::Map(keys, values) => {
                    FieldWriter::Map(Box::new(MapChunk::new(keys.clone(), values.clone())))
                }
                FieldEncoding::Pages(column, encoding) => {
                    let rows = self.properties.max_row_group_row_count();
                    FieldWriter::Pages(Box::new(PageChunk::new(column.clone(), *encoding, rows)))
                }
            })
            .collect();
        RowGroup { fields, rows: 0, runs }
    }

    /// Encodes a batch into an open row group, its columns on every core. `encoded` may hold
    /// pages of its amounts and times encoded beforehand, by field (see `pages`).
    pub fn append(
        &self,
        group: &mut RowGroup,
        batch: &RecordBatch,
        encoded: &[Option<EncodedPage>],
    ) -> Result<(), StoreError> {
        group.rows += batch.num_rows();
        // Small batches stay on this thread, where starting one would cost more than it saves.
        let parallel = batch.num_rows() >= PARALLEL_FROM_ROWS;
        self.each_field(&mut group.fields, parallel, |field, writer| match writer {
            FieldWriter::Dictionary(chunk) => chunk.write(batch.column(field)),
            FieldWriter::Map(chunk) => chunk.write(batch.column(field)),
            FieldWriter::Pages(chunk) => chunk.write(batch.column(field), encoded.get(field).and_then(Option::as_ref)),
        })
    }

    /// Finishes an open row group's column chunks and writes them to the file, adding their
    /// bytes to `content` if given; returns what the next row group of its kind should start
    /// from.
    pub fn close_row_group(
        &mut self,
        group: RowGroup,
        mut content: Option<&mut ContentId>,
    ) -> Result<PlainRuns, StoreError> {
        let RowGroup { fields, runs: before, .. } = group;
        let runs = PlainRuns(
            fields
                .iter()
                .enumerate()
                .map(|(field, writer)| match writer {
                    FieldWriter::Dictionary(chunk) if chunk.is_plain() => before.0.get(field).map_or(1, |run| run + 1),
                    _ => 0,
                })
                .collect(),
        );
        // Closing flushes each column's last page on this thread alone: ingest keeps the other
        // core decoding, and a helper thread per row group only took turns with it (a 40M-line
        // ingest closes 351 row groups; docs/performance.md).
        let close = |writer: FieldWriter| -> Result<Vec<(Bytes, ColumnCloseResult)>, ParquetError> {
            Ok(match writer {
                FieldWriter::Dictionary(chunk) => vec![chunk.finish()?],
                FieldWriter::Map(chunk) => chunk.finish()?.into(),
                FieldWriter::Pages(chunk) => vec![chunk.finish()?],
            })
        };
        let closed: Vec<Vec<(Bytes, ColumnCloseResult)>> =
            fields.into_iter().map(close).collect::<Result<_, _>>().map_err(StoreError::parquet(&self.path))?;
        let file_offset = self.written as i64;
        let mut rows = None;
        let mut chunks = Vec::with_capacity(closed.len());
        for (bytes, close) in closed.into_iter().flatten() {
            if bytes.len() as i64 != close.metadata.compressed_size()
                || *rows.get_or_insert(close.rows_written) != close.rows_written
            {
                return Err(StoreError::Invalid(format!(
                    "{}: a column chunk of {} bytes and {} rows does not match its row group",
                    self.path.display(),
                    bytes.len(),
                    close.rows_written
                )));
            }
            if let Some(content) = content.as_deref_mut() {
                content.bytes(&bytes);
            }
            chunks.push((self.written as i64, close.metadata));
            self.file.write_all(&bytes).map_err(StoreError::io(&self.path))?;
            self.written += bytes.len() as u64;
        }
        let rows = rows.unwrap_or(0) as i64;
        self.footer.push_row_group(file_offset, rows, chunks).map_err(StoreError::parquet(&self.path))?;
        Ok(runs)
    }

    /// Runs `work` once for every field's writers: on every core when `parallel`, threads
    /// picking fields costliest first.
    fn each_field(
        &self,
        fields: &mut [FieldWriter],
        parallel: bool,
        work: impl Fn(usize, &mut FieldWriter) -> Result<(), ParquetError> + Sync,
    ) -> Result<(), StoreError> {
        let slots: Vec<Mutex<&mut FieldWriter>> = fields.iter_mut().map(Mutex::new).collect();
        let next = AtomicUsize::new(0);
        let run = || -> Result<(), ParquetError> {
            while let Some(&field) = self.pick_order.get(next.fetch_add(1, Ordering::Relaxed)) {
                work(field, &mut slots[field].lock().expect("no panics while held"))?;
            }
            Ok(())
        };
        let threads = if parallel { self.threads } else { 1 };
        std::thread::scope(|scope| {
            let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(run)).collect();
            let mine = run();
            helpers
                .into_iter()
                .map(|h| h.join().expect("encoder thread panicked"))
                .chain([mine])
                .collect::<Result<(), _>>()
        })
        .map_err(|e: ParquetError| StoreError::Parquet { path: self.path.clone(), message: e.to_string() })
    }

    /// Writes the footer, with `metadata` in its key-value list, and makes the file durable.
    pub fn finish(mut self, metadata: Vec<KeyValue>) -> Result<(), StoreError> {
        let footer = self.footer.to_bytes(&self.properties, metadata).map_err(StoreError::parquet(&self.path))?;
        self.file.write_all(&footer).map_err(StoreError::io(&self.path))?;
        self.file.finish().map_err(StoreError::io(&self.path))
    }
}

/// The bytes a Parquet file starts and ends with.
const MAGIC: &[u8] = b"PAR1";

/// The Parquet leaf columns of each top-level field of `schema`, in order.
pub(crate) fn leaves_by_field(schema: &Schema, parquet: &SchemaDescriptor) -> Vec<Vec<ColumnDescPtr>> {
    let mut leaves = vec![Vec::new(); schema.fields().len()];
    for leaf in 0..parquet.num_columns() {
        leaves[parquet.get_column_root_idx(leaf)].push(parquet.column(leaf));
    }
    leaves
}

/// Rough relative cost of encoding a column of this type.
fn encoding_weight(data_type: &DataType) -> u8 {
    match data_type {
        DataType::Map(_, _) => 3,
        DataType::Dictionary(_, _) | DataType::Utf8 => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use arrow_schema::Field;

    use super::*;

    #[test]
    fn a_field_the_store_cannot_encode_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let schema = Arc::new(Schema::new(vec![
            Field::new("text", text_type(), true),
            Field::new("count", DataType::Int32, false),
        ]));
        let error = RowGroupFile::create(&path, schema, WriterProperties::builder().build()).err().unwrap();
        assert!(error.to_string().contains("`count` (Int32) has no encoding in the store"), "{error}");
    }
}
