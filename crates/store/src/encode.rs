//! Encoding row groups, a large batch's columns on every core: Parquet's encoders (dictionary
//! interning, compression) are most of ingest's work, and each column encodes independently.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Schema, SchemaRef};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::column::writer::ColumnCloseResult;
use parquet::errors::ParquetError;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::{ColumnDescPtr, SchemaDescriptor};

use curwatch_schema::columns::{map_type, text_type};

use crate::companion::ContentId;
use crate::dictionary::DictionaryChunk;
use crate::direct::DirectFile;
use crate::error::StoreError;
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
    /// Parquet's own encoders, one per leaf column of the field.
    Arrow(Vec<ArrowColumnWriter>),
    /// Dictionary text, written from its keys (see `dictionary`).
    Dictionary(Box<DictionaryChunk>),
    /// A map of text, written from its offsets (see `maps`).
    Map(Box<MapChunk>),
    /// Amounts and times, a page per batch that may come encoded (see `pages`).
    Pages(Box<PageChunk>),
}

enum ClosedField {
    Arrow(Vec<ArrowColumnChunk>),
    /// Column chunks written by the store itself, one per leaf.
    Own(Vec<(Bytes, ColumnCloseResult)>),
}

/// How a top-level field is encoded.
enum FieldEncoding {
    Arrow,
    /// Its Parquet column, and whether it keeps statistics.
    Dictionary(ColumnDescPtr, bool),
    /// The key and value leaves.
    Map(ColumnDescPtr, ColumnDescPtr),
    Pages(ColumnDescPtr, PageEncoding),
}

/// A Parquet file written row group by row group, each batch's columns encoded in parallel.
pub(crate) struct RowGroupFile {
    path: PathBuf,
    schema: SchemaRef,
    file: SerializedFileWriter<DirectFile>,
    columns: ArrowRowGroupWriterFactory,
    /// Leaf columns (Parquet columns) of each top-level field, in order.
    leaves_per_field: Vec<usize>,
    /// Fields in the order threads pick them up: costliest first, so none is left last.
    pick_order: Vec<usize>,
    /// How each field is encoded.
    encodings: Vec<FieldEncoding>,
    threads: usize,
}

impl RowGroupFile {
    pub fn create(path: &Path, schema: SchemaRef, properties: WriterProperties) -> Result<Self, StoreError> {
        let file = DirectFile::create(path).map_err(StoreError::io(path))?;
        // The Arrow writer converts the schema and embeds it (dictionary types included), then
        // hands over its file writer.
        let (file, columns) = ArrowWriter::try_new(file, schema.clone(), Some(properties))
            .and_then(ArrowWriter::into_serialized_writer)
            .map_err(StoreError::parquet(path))?;
        let leaves = leaves_by_field(&schema, file.schema_descr());
        let leaves_per_field = leaves.iter().map(Vec::len).collect();
        let encodings = schema
            .fields()
            .iter()
            .zip(leaves)
            .map(|(field, leaves)| match (field.data_type(), leaves.as_slice()) {
                (data_type, [column]) if *data_type == text_type() => {
                    let statistics = file.properties().statistics_enabled(column.path()) != EnabledStatistics::None;
                    FieldEncoding::Dictionary(column.clone(), statistics)
                }
                (data_type, [keys, values]) if *data_type == map_type() && MapChunk::fits(keys, values) => {
                    FieldEncoding::Map(keys.clone(), values.clone())
                }
                (data_type, [column]) => match PageEncoding::choose(data_type, column, file.properties()) {
                    Some(encoding) => FieldEncoding::Pages(column.clone(), encoding),
                    None => FieldEncoding::Arrow,
                },
                _ => FieldEncoding::Arrow,
            })
            .collect();
        let mut pick_order: Vec<usize> = (0..schema.fields().len()).collect();
        pick_order.sort_by_key(|&i| std::cmp::Reverse(encoding_weight(schema.field(i).data_type())));
        Ok(RowGroupFile {
            path: path.to_owned(),
            schema,
            file,
            columns,
            leaves_per_field,
            pick_order,
            encodings,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        })
    }

    /// Opens a row group, following `runs` from the last closed of its kind; rows go in with
    /// [`RowGroupFile::append`] and it is written to the file by
    /// [`RowGroupFile::close_row_group`]. Several may be open at once.
    pub fn start_row_group(&self, runs: PlainRuns) -> Result<RowGroup, StoreError> {
        // The index only matters to encryption, which the store does not use.
        let mut writers = self.columns.create_column_writers(0).map_err(StoreError::parquet(&self.path))?.into_iter();
        let fields = self
            .leaves_per_field
            .iter()
            .zip(&self.encodings)
            .enumerate()
            .map(|(field, (&n, encoding))| {
                let arrow: Vec<ArrowColumnWriter> = writers.by_ref().take(n).collect();
                match encoding {
                    FieldEncoding::Dictionary(column, statistics) => FieldWriter::Dictionary(Box::new(
                        DictionaryChunk::new(column.clone(), *statistics, runs.starts_plain(field)),
                    )),
                    FieldEncoding::Map(keys, values) => {
                        FieldWriter::Map(Box::new(MapChunk::new(keys.clone(), values.clone())))
                    }
                    FieldEncoding::Pages(column, encoding) => {
                        let rows = self.file.properties().max_row_group_row_count();
                        FieldWriter::Pages(Box::new(PageChunk::new(column.clone(), *encoding, rows)))
                    }
                    FieldEncoding::Arrow => FieldWriter::Arrow(arrow),
                }
            })
            .collect();
        Ok(RowGroup { fields, rows: 0, runs })
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
            FieldWriter::Arrow(writers) => {
                let leaves = compute_leaves(self.schema.field(field), batch.column(field))?;
                for (writer, leaf) in writers.iter_mut().zip(&leaves) {
                    writer.write(leaf)?;
                }
                Ok(())
            }
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
        let close = |writer: FieldWriter| -> Result<ClosedField, ParquetError> {
            Ok(match writer {
                FieldWriter::Arrow(writers) => {
                    ClosedField::Arrow(writers.into_iter().map(ArrowColumnWriter::close).collect::<Result<_, _>>()?)
                }
                FieldWriter::Dictionary(chunk) => ClosedField::Own(vec![chunk.finish()?]),
                FieldWriter::Map(chunk) => ClosedField::Own(chunk.finish()?.into()),
                FieldWriter::Pages(chunk) => ClosedField::Own(vec![chunk.finish()?]),
            })
        };
        let closed: Vec<ClosedField> =
            fields.into_iter().map(close).collect::<Result<_, _>>().map_err(StoreError::parquet(&self.path))?;
        let mut row_group = self.file.next_row_group().map_err(StoreError::parquet(&self.path))?;
        for field in closed {
            match field {
                ClosedField::Arrow(chunks) => {
                    for chunk in chunks {
                        if let Some(content) = content.as_deref_mut() {
                            // Parquet's own chunks keep their bytes to themselves: their sizes
                            // and counts stand for them.
                            let metadata = &chunk.close().metadata;
                            for number in
                                [metadata.compressed_size(), metadata.uncompressed_size(), metadata.num_values()]
                            {
                                content.bytes(&number.to_le_bytes());
                            }
                        }
                        chunk.append_to_row_group(&mut row_group).map_err(StoreError::parquet(&self.path))?;
                    }
                }
                ClosedField::Own(chunks) => {
                    for (bytes, close) in chunks {
                        if let Some(content) = content.as_deref_mut() {
                            content.bytes(&bytes);
                        }
                        row_group.append_column(&bytes, close).map_err(StoreError::parquet(&self.path))?;
                    }
                }
            }
        }
        row_group.close().map_err(StoreError::parquet(&self.path))?;
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
        for entry in metadata {
            self.file.append_key_value_metadata(entry);
        }
        let file = self.file.into_inner().map_err(StoreError::parquet(&self.path))?;
        file.finish().map_err(StoreError::io(&self.path))
    }
}

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
