//! Opening one export file and streaming it as canonical batches.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use curwatch_schema::naming::aws_column_name;
use flate2::read::MultiGzDecoder;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder,
};
use parquet::basic::Encoding as PageEncoding;
use parquet::file::metadata::ParquetMetaData;

use crate::canonical::FileContext;
use crate::error::{ErrorKind, IngestError, Location};
use crate::format::ExportFormat;
use crate::plan::Plan;
use crate::source::{Locations, RawBatch};

/// Rows per batch: large enough to amortise per-batch work, small enough that the batches in
/// flight between reader, canonicalisation and the store's writer stay in cache and memory
/// stays flat. 16,384 rows took less CPU and about 40% less memory than 65,536
/// (docs/performance.md).
pub const BATCH_ROWS: usize = 16 * 1024;

/// How the bytes of an export file are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Parquet,
    Csv,
    GzipCsv,
}

impl Encoding {
    /// From the first bytes of a file.
    pub fn sniff(head: &[u8]) -> Result<Self, ErrorKind> {
        match head {
            [] => Err(ErrorKind::Empty),
            [b'P', b'A', b'R', b'1', ..] => Ok(Encoding::Parquet),
            [0x1f, 0x8b, ..] => Ok(Encoding::GzipCsv),
            [b'P', b'K', 3, 4, ..] => Err(ErrorKind::Unsupported(
                "ZIP-compressed reports are not read; set the report's compression to GZIP or Parquet".into(),
            )),
            _ => Ok(Encoding::Csv),
        }
    }
}

/// A stream of canonical batches from one file.
pub struct FileReader {
    path: PathBuf,
    /// Normalised column name → the name the file's header uses, for messages.
    header_names: std::collections::HashMap<String, String>,
    format: ExportFormat,
    encoding: Encoding,
    plan: Plan,
    ctx: FileContext,
    raw: Box<dyn Iterator<Item = Result<RawBatch, ErrorKind>> + Send>,
}

impl FileReader {
    pub fn format(&self) -> ExportFormat {
        self.format
    }

    pub fn encoding(&self) -> Encoding {
        self.encoding
    }
}

impl Iterator for FileReader {
    type Item = Result<RecordBatch, IngestError>;

    fn next(&mut self) -> Option<Self::Item> {
        let raw = self.raw.next()?;
        Some(raw.and_then(|raw| self.plan.canonicalize(&raw, &self.ctx)).map_err(|mut kind| {
            if let ErrorKind::BadValue { column, .. } | ErrorKind::WrongType { column, .. } = &mut kind
                && let Some(original) = self.header_names.get(column.as_str())
            {
                column.clone_from(original);
            }
            IngestError::new(&self.path, kind)
        }))
    }
}

/// Opens an export file on disk, detecting its encoding and format.
pub fn open_file(path: &Path, ctx: FileContext) -> Result<FileReader, IngestError> {
    let err = |kind| IngestError::new(path, kind);
    let mut file = File::open(path).map_err(|e| err(ErrorKind::Io(e)))?;
    let mut head = [0u8; 4];
    let read = read_up_to(&mut file, &mut head).map_err(|e| err(ErrorKind::Io(e)))?;
    let encoding = Encoding::sniff(&head[..read]).map_err(err)?;
    let file = File::open(path).map_err(|e| err(ErrorKind::Io(e)))?;
    match encoding {
        Encoding::Parquet => open_parquet(path, file, ctx),
        Encoding::Csv | Encoding::GzipCsv => open_csv_stream(path, Box::new(file), encoding, ctx),
    }
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn open_parquet(path: &Path, file: File, ctx: FileContext) -> Result<FileReader, IngestError> {
    let err = |kind| IngestError::new(path, kind);
    let metadata = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())
        .map_err(|e| err(ErrorKind::Parquet(e.to_string())))?;
    // Text read as dictionaries keeps the file's own dictionary pages: values are decoded once
    // per row group, and rows are just keys all the way into the store.
    let plain = read_plain(metadata.metadata());
    let options = ArrowReaderOptions::new().with_schema(text_as_dictionaries(metadata.schema(), &plain));
    let metadata = ArrowReaderMetadata::try_new(metadata.metadata().clone(), options)
        .map_err(|e| err(ErrorKind::Parquet(e.to_string())))?;
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata);
    let columns: Vec<String> = builder.schema().fields().iter().map(|f| f.name().clone()).collect();
    let (format, plan) = Plan::for_columns(&columns).map_err(err)?;
    let roots: Vec<usize> = plan.wanted().iter().filter_map(|w| columns.iter().position(|c| c == w)).collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| err(ErrorKind::Parquet(e.to_string())))?;
    Ok(FileReader {
        path: path.to_owned(),
        header_names: Default::default(),
        format,
        encoding: Encoding::Parquet,
        plan,
        ctx,
        raw: Box::new(ParquetBatches { reader, next_row: 1 }),
    })
}

/// Top-level columns to read as plain text: those some row group does not store as dictionary
/// keys with values. Reading such a column as a dictionary makes the reader hash every row to
/// build one — for a column of mostly distinct values (resource ids, whose dictionary outgrows
/// its page and goes on in plain pages) or of nulls only (an unused reservation ARN cost a
/// tenth of ingest's CPU that way).
fn read_plain(metadata: &ParquetMetaData) -> HashSet<String> {
    let mut plain = HashSet::new();
    for group in metadata.row_groups() {
        for chunk in group.columns() {
            // Without page encoding statistics (older writers), a dictionary page is taken to
            // cover the whole chunk.
            let keys_only = chunk.dictionary_page_offset().is_some()
                && chunk.page_encoding_stats_mask().is_none_or(|mask| {
                    mask.is_only(PageEncoding::RLE_DICTIONARY) || mask.is_only(PageEncoding::PLAIN_DICTIONARY)
                });
            let all_null = chunk.statistics().and_then(|s| s.null_count_opt()) == Some(chunk.num_values() as u64);
            if !keys_only || all_null {
                plain.insert(chunk.column_path().string());
            }
        }
    }
    plain
}

/// The file's Arrow schema with top-level text columns as `Dictionary(Int32, Utf8)`, except
/// those in `plain`, which are read as `Utf8`.
fn text_as_dictionaries(schema: &Schema, plain: &HashSet<String>) -> Arc<Schema> {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            let text = match f.data_type() {
                DataType::Utf8 => true,
                // A schema embedded by an Arrow writer may already say dictionary.
                DataType::Dictionary(_, value) => **value == DataType::Utf8,
                _ => false,
            };
            match (text, plain.contains(f.name())) {
                (true, true) => f.as_ref().clone().with_data_type(DataType::Utf8),
                (true, false) => f.as_ref().clone().with_data_type(curwatch_schema::columns::text_type()),
                (false, _) => f.as_ref().clone(),
            }
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

struct ParquetBatches {
    reader: ParquetRecordBatchReader,
    next_row: u64,
}

impl Iterator for ParquetBatches {
    type Item = Result<RawBatch, ErrorKind>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch = match self.reader.next()? {
            Ok(batch) => batch,
            Err(e) => {
                return Some(Err(ErrorKind::Parquet(format!("reading from row {}: {e}", self.next_row))));
            }
        };
        let first = self.next_row;
        self.next_row += batch.num_rows() as u64;
        Some(Ok(RawBatch { batch, locations: Locations::FirstRow(first) }))
    }
}

/// Opens CSV text (plain or gzip) from any byte stream, such as an S3 object body.
pub fn open_csv_stream(
    path: &Path,
    stream: Box<dyn Read + Send>,
    encoding: Encoding,
    ctx: FileContext,
) -> Result<FileReader, IngestError> {
    let err = |kind| IngestError::new(path, kind);
    let gzip = encoding == Encoding::GzipCsv;
    let decoded: Box<dyn Read + Send> =
        if gzip { Box::new(MultiGzDecoder::new(BufReader::with_capacity(1 << 20, stream))) } else { stream };
    let mut reader = csv::ReaderBuilder::new().buffer_capacity(1 << 20).from_reader(decoded);
    let header = reader.byte_headers().map_err(|e| err(csv_error(e, gzip)))?.clone();
    if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
        return Err(err(ErrorKind::Empty));
    }
    let mut columns = Vec::with_capacity(header.len());
    let mut header_names = std::collections::HashMap::new();
    for (i, raw) in header.iter().enumerate() {
        let raw = if i == 0 { raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw) } else { raw };
        let name = std::str::from_utf8(raw).map_err(|_| err(ErrorKind::NotUtf8 { location: Location::Line(1) }))?;
        // Legacy CUR headers are `category/Name`; bring them to the Athena names Parquet uses.
        let normalised = if name.contains('/') { aws_column_name(name) } else { name.trim().to_owned() };
        if normalised != name {
            header_names.insert(normalised.clone(), name.to_owned());
        }
        columns.push(normalised);
    }
    let (format, plan) = Plan::for_columns(&columns).map_err(err)?;
    let slots: Vec<usize> = plan.wanted().iter().filter_map(|w| columns.iter().position(|c| c == w)).collect();
    let schema = Arc::new(Schema::new(
        plan.wanted().iter().map(|name| Field::new(name, DataType::Utf8, true)).collect::<Vec<_>>(),
    ));
    let batches = CsvBatches {
        reader,
        slots,
        schema,
        // FOCUS CSVs in the wild spell null as the literal NULL.
        null_literal: format == ExportFormat::Focus,
        gzip,
        done: false,
    };
    Ok(FileReader { path: path.to_owned(), header_names, format, encoding, plan, ctx, raw: Box::new(batches) })
}

struct CsvBatches {
    reader: csv::Reader<Box<dyn Read + Send>>,
    /// Source column index of each wanted column, in plan order.
    slots: Vec<usize>,
    schema: Arc<Schema>,
    null_literal: bool,
    gzip: bool,
    done: bool,
}

impl CsvBatches {
    fn read_batch(&mut self) -> Result<Option<RawBatch>, ErrorKind> {
        let mut builders: Vec<StringBuilder> =
            self.slots.iter().map(|_| StringBuilder::with_capacity(BATCH_ROWS, BATCH_ROWS * 16)).collect();
        let mut lines = Vec::with_capacity(BATCH_ROWS);
        let mut record = csv::ByteRecord::new();
        while lines.len() < BATCH_ROWS {
            if !self.reader.read_byte_record(&mut record).map_err(|e| csv_error(e, self.gzip))? {
                self.done = true;
                break;
            }
            let line = record.position().map_or(0, csv::Position::line);
            for (builder, &slot) in builders.iter_mut().zip(&self.slots) {
                let bytes = record.get(slot).unwrap_or_default();
                if bytes.is_empty() || (self.null_literal && bytes == b"NULL") {
                    builder.append_null();
                    continue;
                }
                let text = simdutf8::basic::from_utf8(bytes)
                    .map_err(|_| ErrorKind::NotUtf8 { location: Location::Line(line) })?;
                builder.append_value(text);
            }
            lines.push(line);
        }
        if lines.is_empty() {
            return Ok(None);
        }
        let columns: Vec<ArrayRef> = builders.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
        let batch = RecordBatch::try_new(self.schema.clone(), columns).expect("one builder per field");
        Ok(Some(RawBatch { batch, locations: Locations::Lines(lines) }))
    }
}

impl Iterator for CsvBatches {
    type Item = Result<RawBatch, ErrorKind>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.read_batch() {
            Ok(Some(batch)) => Some(Ok(batch)),
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

fn csv_error(error: csv::Error, gzip: bool) -> ErrorKind {
    let line = error.position().map_or(0, csv::Position::line);
    match error.into_kind() {
        csv::ErrorKind::Io(io) if gzip && is_truncation(&io) => ErrorKind::TruncatedGzip,
        csv::ErrorKind::Io(io) if gzip => ErrorKind::Unsupported(format!("gzip data is corrupt: {io}")),
        csv::ErrorKind::Io(io) => ErrorKind::Io(io),
        csv::ErrorKind::Utf8 { pos, .. } => {
            ErrorKind::NotUtf8 { location: Location::Line(pos.map_or(line, |p| p.line())) }
        }
        csv::ErrorKind::UnequalLengths { pos, expected_len, len } => ErrorKind::Csv {
            location: Location::Line(pos.map_or(line, |p| p.line())),
            message: format!("the row has {len} fields but the header has {expected_len}"),
        },
        other => ErrorKind::Csv { location: Location::Line(line), message: format!("{other:?}") },
    }
}

fn is_truncation(error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::UnexpectedEof || error.to_string().contains("unexpected end")
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{RecordBatch, StringArray};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    #[test]
    fn columns_not_stored_as_dictionary_keys_are_read_plain() {
        let rows = 5_000;
        let schema = Arc::new(Schema::new(vec![
            Field::new("few", DataType::Utf8, true),
            Field::new("many", DataType::Utf8, true),
            Field::new("nulls", DataType::Utf8, true),
        ]));
        let few = StringArray::from_iter_values((0..rows).map(|i| ["a", "b", "c"][i % 3]));
        let many = StringArray::from_iter_values((0..rows).map(|i| format!("arn:aws:apigateway:{i:0>30}")));
        let nulls = StringArray::from(vec![None::<&str>; rows]);
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(few), Arc::new(many), Arc::new(nulls)]).unwrap();
        // A small dictionary page limit makes `many` go on in plain pages, as resource ids do.
        let properties = WriterProperties::builder().set_dictionary_page_size_limit(4096).build();
        let mut buffer = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut buffer, schema, Some(properties)).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();

        let metadata = ArrowReaderMetadata::load(&bytes::Bytes::from(buffer), ArrowReaderOptions::new()).unwrap();
        let plain = read_plain(metadata.metadata());
        let mut names: Vec<&str> = plain.iter().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["many", "nulls"]);
        let types: Vec<DataType> =
            text_as_dictionaries(metadata.schema(), &plain).fields().iter().map(|f| f.data_type().clone()).collect();
        assert_eq!(types, [curwatch_schema::columns::text_type(), DataType::Utf8, DataType::Utf8]);
    }
}
