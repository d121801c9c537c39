//! Columns whose pages depend on their batch alone: amounts, PLAIN, and times, delta-encoded.
//!
//! A dictionary column's pages need its chunk's dictionary, so only the thread writing the
//! file can encode them. These need nothing but their rows: ingest encodes them on the
//! thread that decodes the batch, which takes that work off the writer's thread, and the
//! writer only copies the pages into their chunks.

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Float64Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrowPrimitiveType};
use arrow_schema::{DataType, Schema, TimeUnit};
use bytes::Bytes;
use parquet::basic::{Compression, Encoding, EncodingMask, PageType, Type as PhysicalType};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::errors::ParquetError;
use parquet::file::metadata::{ColumnChunkMetaData, PageEncodingStats};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::statistics::{Statistics, ValueStatistics};
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::{ColumnDescPtr, SchemaDescriptor};

use crate::dictionary::{closed_chunk, data_page, encode_levels, general, push_level_section, put_varint, snappy_page};
use crate::encode::leaves_by_field;

/// What a column's values are and how its pages are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PageEncoding {
    values: Values,
    /// Whether pages carry definition levels (the column is optional).
    nullable: bool,
    /// Snappy-compressed, or stored as is.
    snappy: bool,
    /// Whether chunks keep their min/max (readers prune by them).
    statistics: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Values {
    /// A decimal of 10 to 18 digits, as INT64, PLAIN.
    Decimal,
    /// A 64-bit float, as DOUBLE, PLAIN.
    Double,
    /// Microseconds since the epoch, as INT64, DELTA_BINARY_PACKED.
    Micros,
}

impl Values {
    fn encoding(self) -> Encoding {
        match self {
            Values::Decimal | Values::Double => Encoding::PLAIN,
            Values::Micros => Encoding::DELTA_BINARY_PACKED,
        }
    }
}

impl PageEncoding {
    /// How a top-level field is encoded here, or `None` when it is not a column of this kind
    /// as `properties` configure it (a dictionary, another encoding or codec, nesting).
    pub fn choose(data_type: &DataType, column: &ColumnDescPtr, properties: &WriterProperties) -> Option<Self> {
        let path = column.path();
        if column.max_rep_level() > 0 || column.max_def_level() > 1 || properties.dictionary_enabled(path) {
            return None;
        }
        let encoding = properties.encoding(path);
        let values = match (data_type, column.physical_type(), encoding) {
            (DataType::Decimal128(10..=18, _), PhysicalType::INT64, None | Some(Encoding::PLAIN)) => Values::Decimal,
            (DataType::Float64, PhysicalType::DOUBLE, None | Some(Encoding::PLAIN)) => Values::Double,
            (
                DataType::Timestamp(TimeUnit::Microsecond, _),
                PhysicalType::INT64,
                Some(Encoding::DELTA_BINARY_PACKED),
            ) => Values::Micros,
            _ => return None,
        };
        let snappy = match properties.compression(path) {
            Compression::SNAPPY => true,
            Compression::UNCOMPRESSED => false,
            _ => return None,
        };
        let statistics = properties.statistics_enabled(path) != EnabledStatistics::None;
        // Floats' statistics need NaN and signed-zero rules; Parquet's own writer keeps them.
        if statistics && values == Values::Double {
            return None;
        }
        Some(PageEncoding { values, nullable: column.max_def_level() == 1, snappy, statistics })
    }

    /// The encoding of each top-level field of `schema` written as `parquet` with `properties`.
    pub fn of_fields(
        schema: &Schema,
        parquet: &SchemaDescriptor,
        properties: &WriterProperties,
    ) -> Vec<Option<PageEncoding>> {
        let leaves = leaves_by_field(schema, parquet);
        schema
            .fields()
            .iter()
            .zip(&leaves)
            .map(|(field, leaves)| match leaves.as_slice() {
                [column] => PageEncoding::choose(field.data_type(), column, properties),
                _ => None,
            })
            .collect()
    }

    /// Encodes `column` as one data page.
    pub fn encode(self, column: &dyn Array) -> Result<EncodedPage, ParquetError> {
        let rows = column.len();
        let nulls = column.logical_null_count();
        let mut body = Vec::new();
        if self.nullable {
            let null_rows: Vec<usize> = match column.logical_nulls() {
                Some(validity) if nulls > 0 => {
                    validity.iter().enumerate().filter(|(_, v)| !v).map(|(i, _)| i).collect()
                }
                _ => Vec::new(),
            };
            push_level_section(&mut body, |out| encode_levels(rows, &null_rows, out));
        } else if nulls > 0 {
            return Err(general("the column is required but a row is null".into()));
        }
        let statistics = self.statistics;
        let range = match self.values {
            Values::Decimal => {
                let values = typed::<Decimal128Type>(column)?;
                put_plain(values, |v| (v as i64).to_le_bytes(), &mut body);
                statistics.then(|| range_of(&valid_values(values, |v| v as i64))).flatten()
            }
            Values::Double => {
                put_plain(typed::<Float64Type>(column)?, f64::to_le_bytes, &mut body);
                None
            }
            Values::Micros => {
                let values = valid_values(typed::<TimestampMicrosecondType>(column)?, |v| v);
                delta_binary_packed(&values, &mut body);
                statistics.then(|| range_of(&values)).flatten()
            }
        };
        let page = data_page(rows, self.values.encoding());
        let page = if self.snappy {
            snappy_page(&body, page)?
        } else {
            let size = body.len();
            CompressedPage::new(page(Bytes::from(body)), size)
        };
        let uncompressed_size = page.uncompressed_size();
        Ok(EncodedPage {
            encoding: self,
            page: page.compressed_page().clone(),
            uncompressed_size,
            rows,
            nulls: nulls as u64,
            range,
        })
    }
}

/// One batch's rows of a column, encoded as a data page.
#[derive(Clone)]
pub struct EncodedPage {
    encoding: PageEncoding,
    /// The page as stored (compressed, if the column is), and its size before.
    page: Page,
    uncompressed_size: usize,
    rows: usize,
    nulls: u64,
    /// The smallest and largest value, when the column keeps statistics and has a value.
    range: Option<(i64, i64)>,
}

/// A column chunk of pages encoded by [`PageEncoding::encode`], for an open row group.
pub(crate) struct PageChunk {
    descr: ColumnDescPtr,
    encoding: PageEncoding,
    /// The chunk's bytes so far: each page is copied in as it arrives, and the page encoded
    /// on another thread is freed at once instead of waiting for its row group to close.
    bytes: TrackedWrite<Vec<u8>>,
    pages: i32,
    compressed_size: i64,
    uncompressed_size: i64,
    rows: u64,
    nulls: u64,
    range: Option<(i64, i64)>,
}

impl PageChunk {
    /// A chunk for a row group of up to `rows` rows (when known).
    pub fn new(descr: ColumnDescPtr, encoding: PageEncoding, rows: Option<usize>) -> Self {
        // PLAIN values are the chunk's whole size, known from the rows: one allocation of it
        // rather than a buffer doubling as pages arrive, which the heap kept behind it (peak
        // RSS at 10M rows 87,288–88,772 KB doubling, 83,016–85,336 KB sized).
        let capacity = match encoding.values {
            Values::Decimal | Values::Double => {
                rows.map_or(0, |rows| rows * 8 + PAGE_HEADER_ROOM * rows.div_ceil(1024))
            }
            Values::Micros => 0,
        };
        PageChunk {
            descr,
            encoding,
            bytes: TrackedWrite::new(Vec::with_capacity(capacity)),
            pages: 0,
            compressed_size: 0,
            uncompressed_size: 0,
            rows: 0,
            nulls: 0,
            range: None,
        }
    }

    /// Appends a batch's rows of this column, using `encoded` when it is their page in this
    /// chunk's encoding.
    pub fn write(&mut self, column: &dyn Array, encoded: Option<&EncodedPage>) -> Result<(), ParquetError> {
        if column.is_empty() {
            return Ok(());
        }
        let page = match encoded {
            Some(page) if page.encoding == self.encoding && page.rows == column.len() => page.clone(),
            _ => self.encoding.encode(column).map_err(|e| general(format!("{}: {e}", self.descr.path().string())))?,
        };
        self.rows += page.rows as u64;
        self.nulls += page.nulls;
        if let Some((min, max)) = page.range {
            self.range = widen(widen(self.range, min), max);
        }
        let spec = SerializedPageWriter::new(&mut self.bytes)
            .write_page(CompressedPage::new(page.page, page.uncompressed_size))?;
        self.pages += 1;
        self.compressed_size += spec.compressed_size as i64;
        self.uncompressed_size += spec.uncompressed_size as i64;
        Ok(())
    }

    /// Finishes the chunk: its bytes and what the row group needs to splice them in.
    pub fn finish(self) -> Result<(Bytes, ColumnCloseResult), ParquetError> {
        let encoding = self.encoding.values.encoding();
        let bytes = Bytes::from(self.bytes.into_inner()?);
        let mut metadata = ColumnChunkMetaData::builder(self.descr.clone())
            .set_compression(if self.encoding.snappy { Compression::SNAPPY } else { Compression::UNCOMPRESSED })
            .set_encodings_mask(EncodingMask::new_from_encodings([encoding, Encoding::RLE].iter()))
            .set_page_encoding_stats(vec![PageEncodingStats {
                page_type: PageType::DATA_PAGE,
                encoding,
                count: self.pages,
            }])
            .set_total_compressed_size(self.compressed_size)
            .set_total_uncompressed_size(self.uncompressed_size)
            .set_num_values(self.rows as i64)
            .set_data_page_offset(0);
        if self.encoding.statistics {
            let (min, max) = self.range.unzip();
            // As Parquet's own writer does for a signed column, the deprecated min/max too.
            let statistics = ValueStatistics::new(min, max, None, Some(self.nulls), false)
                .with_backwards_compatible_min_max(self.descr.sort_order().is_signed());
            metadata = metadata.set_statistics(Statistics::Int64(statistics));
        }
        closed_chunk(bytes, self.rows, metadata)
    }
}

fn typed<T: ArrowPrimitiveType>(column: &dyn Array) -> Result<&arrow_array::PrimitiveArray<T>, ParquetError> {
    column
        .as_primitive_opt::<T>()
        .ok_or_else(|| general(format!("expected {} values, found {}", T::DATA_TYPE, column.data_type())))
}

/// The non-null values of `array`, converted, in order.
fn valid_values<T: ArrowPrimitiveType, V>(
    array: &arrow_array::PrimitiveArray<T>,
    convert: impl Fn(T::Native) -> V,
) -> Vec<V> {
    match array.nulls().filter(|nulls| nulls.null_count() > 0) {
        None => array.values().iter().map(|&v| convert(v)).collect(),
        Some(nulls) => nulls.valid_indices().map(|i| convert(array.value(i))).collect(),
    }
}

/// Appends the non-null values of `array` PLAIN-encoded: each one's little-endian bytes.
fn put_plain<T: ArrowPrimitiveType, const N: usize>(
    array: &arrow_array::PrimitiveArray<T>,
    bytes: impl Fn(T::Native) -> [u8; N],
    out: &mut Vec<u8>,
) {
    let start = out.len();
    out.resize(start + (array.len() - array.null_count()) * N, 0);
    let slots = out[start..].chunks_exact_mut(N);
    match array.nulls().filter(|nulls| nulls.null_count() > 0) {
        None => slots.zip(array.values()).for_each(|(slot, &v)| slot.copy_from_slice(&bytes(v))),
        Some(nulls) => {
            slots.zip(nulls.valid_indices()).for_each(|(slot, i)| slot.copy_from_slice(&bytes(array.value(i))))
        }
    }
}

fn range_of(values: &[i64]) -> Option<(i64, i64)> {
    let first = *values.first()?;
    Some(values.iter().fold((first, first), |(min, max), &v| (min.min(v), max.max(v))))
}

fn widen(range: Option<(i64, i64)>, value: i64) -> Option<(i64, i64)> {
    Some(range.map_or((value, value), |(min, max)| (min.min(value), max.max(value))))
}

/// Bytes allowed per page for its header and levels when sizing a chunk: pages of up to 1,024
/// rows would fit (ingest's have 16,384).
const PAGE_HEADER_ROOM: usize = 64;

/// Values per block of the delta encoding, and miniblocks per block: the sizes Parquet's
/// writers use.
const DELTA_BLOCK: usize = 128;
const DELTA_MINIBLOCKS: usize = 4;
const DELTA_MINIBLOCK: usize = DELTA_BLOCK / DELTA_MINIBLOCKS;

/// Parquet's DELTA_BINARY_PACKED: a header, then per block of 128 deltas the smallest delta
/// and four miniblocks of 32 deltas above it, bit-packed at the width each needs. Equal
/// neighbours (most lines share their times) cost next to nothing.
fn delta_binary_packed(values: &[i64], out: &mut Vec<u8>) {
    put_varint(DELTA_BLOCK as u64, out);
    put_varint(DELTA_MINIBLOCKS as u64, out);
    put_varint(values.len() as u64, out);
    put_varint(zigzag(values.first().copied().unwrap_or(0)), out);
    let deltas: Vec<i64> = values.windows(2).map(|pair| pair[1].wrapping_sub(pair[0])).collect();
    for block in deltas.chunks(DELTA_BLOCK) {
        let min = block.iter().copied().min().expect("chunks are not empty");
        put_varint(zigzag(min), out);
        let widths_at = out.len();
        // A width for every miniblock, even those past the last value (their width is 0 and
        // they have no bytes).
        out.extend_from_slice(&[0; DELTA_MINIBLOCKS]);
        for (i, miniblock) in block.chunks(DELTA_MINIBLOCK).enumerate() {
            let mut above = [0u64; DELTA_MINIBLOCK];
            for (slot, &delta) in above.iter_mut().zip(miniblock) {
                *slot = delta.wrapping_sub(min) as u64;
            }
            let width = 64 - above.iter().fold(0, |all, &v| all | v).leading_zeros();
            out[widths_at + i] = width as u8;
            pack_miniblock(&above, width, out);
        }
    }
}

/// Packs 32 values of `width` bits, least significant bit first: `4 * width` bytes.
fn pack_miniblock(values: &[u64; DELTA_MINIBLOCK], width: u32, out: &mut Vec<u8>) {
    let (mut buffer, mut bits) = (0u128, 0);
    for &value in values {
        buffer |= u128::from(value) << bits;
        bits += width;
        if bits >= 64 {
            out.extend_from_slice(&(buffer as u64).to_le_bytes());
            buffer >>= 64;
            bits -= 64;
        }
    }
    // 32 values fill whole 32-bit words: what is left is 0 or 4 bytes.
    out.extend_from_slice(&buffer.to_le_bytes()[..(bits / 8) as usize]);
}

fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::RowGroupFile;
    use arrow_array::{ArrayRef, Decimal128Array, Float64Array, RecordBatch, TimestampMicrosecondArray};
    use arrow_schema::Field;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::schema::types::ColumnPath;
    use std::sync::Arc;

    fn schema() -> Arc<Schema> {
        let micros = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        Arc::new(Schema::new(vec![
            Field::new("cost", DataType::Decimal128(18, 10), true),
            Field::new("usage", DataType::Float64, true),
            Field::new("start", micros.clone(), false),
            Field::new("end", micros, true),
        ]))
    }

    /// As the store configures its amounts (plain, uncompressed; plain, Snappy) and times
    /// (delta-encoded, one with statistics).
    fn properties() -> WriterProperties {
        let mut builder = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_statistics_enabled(EnabledStatistics::None)
            .set_column_statistics_enabled(ColumnPath::from("start"), EnabledStatistics::Chunk)
            .set_column_compression(ColumnPath::from("cost"), Compression::UNCOMPRESSED);
        for column in ["cost", "usage", "start", "end"] {
            builder = builder.set_column_dictionary_enabled(ColumnPath::from(column), false);
        }
        for column in ["start", "end"] {
            builder = builder.set_column_encoding(ColumnPath::from(column), Encoding::DELTA_BINARY_PACKED);
        }
        builder.build()
    }

    /// A batch of `rows` rows whose times jump by up to the whole i64 range, with nulls
    /// every `null_every` rows in the optional columns (none when 0).
    fn batch(rows: usize, seed: i64, null_every: usize) -> RecordBatch {
        let null = |i: usize| null_every > 0 && i.is_multiple_of(null_every);
        let cost: Decimal128Array = (0..rows)
            .map(|i| (!null(i)).then(|| (i as i128 * 7_919 + i128::from(seed)) * 10_000_000_000 - 123_456_789))
            .collect::<Decimal128Array>()
            .with_precision_and_scale(18, 10)
            .unwrap();
        let usage: Float64Array = (0..rows).map(|i| (!null(i + 1)).then(|| i as f64 * -0.25 + seed as f64)).collect();
        let time = |i: usize| match i % 97 {
            0 => i64::MIN,
            1 => i64::MAX,
            2 => -1,
            _ => seed * 86_400_000_000 + (i as i64 / 40) * 3_600_000_000,
        };
        let start = TimestampMicrosecondArray::from((0..rows).map(time).collect::<Vec<_>>()).with_timezone("UTC");
        let end: TimestampMicrosecondArray =
            (0..rows).map(|i| (!null(i + 2)).then(|| time(i).wrapping_add(3_600))).collect();
        let columns: Vec<ArrayRef> =
            vec![Arc::new(cost), Arc::new(usage), Arc::new(start), Arc::new(end.with_timezone("UTC"))];
        RecordBatch::try_new(schema(), columns).unwrap()
    }

    #[test]
    fn pages_read_back_as_written_with_the_chunk_statistics() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let properties = properties();
        let file = RowGroupFile::create(&path, schema(), properties.clone()).unwrap();
        let parquet = parquet::arrow::ArrowSchemaConverter::new().convert(&schema()).unwrap();
        let encodings = PageEncoding::of_fields(&schema(), &parquet, &properties);
        assert!(encodings.iter().all(Option::is_some), "{encodings:?}");

        // Block and miniblock edges of the delta encoding, a single row, no nulls and all
        // nulls; every other batch comes encoded beforehand, as ingest sends them.
        let shapes = [(1, 0), (31, 3), (32, 0), (33, 2), (127, 5), (128, 1), (129, 0), (1_000, 7), (4_097, 11)];
        let batches: Vec<RecordBatch> =
            shapes.iter().enumerate().map(|(seed, &(rows, nulls))| batch(rows, seed as i64, nulls)).collect();
        let mut file = file;
        let mut group = file.start_row_group(Default::default());
        for (i, batch) in batches.iter().enumerate() {
            let encoded: Vec<Option<EncodedPage>> = if i % 2 == 0 {
                encodings.iter().zip(batch.columns()).map(|(e, c)| Some(e.unwrap().encode(c).unwrap())).collect()
            } else {
                Vec::new()
            };
            file.append(&mut group, batch, &encoded).unwrap();
        }
        file.close_row_group(group, None).unwrap();
        file.finish(Vec::new()).unwrap();

        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap()).unwrap();
        let metadata = reader.metadata().clone();
        let read: Vec<RecordBatch> = reader.build().unwrap().map(Result::unwrap).collect();
        let read = arrow_select::concat::concat_batches(&schema(), &read).unwrap();
        let written = arrow_select::concat::concat_batches(&schema(), &batches).unwrap();
        assert_eq!(read, written);

        let group = metadata.row_group(0);
        let pages = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        for (column, encoding) in [(0, Encoding::PLAIN), (1, Encoding::PLAIN), (3, Encoding::DELTA_BINARY_PACKED)] {
            let mask = group.column(column).page_encoding_stats_mask().unwrap();
            assert_eq!(mask.encodings().collect::<Vec<_>>(), [encoding]);
            let page_reader = pages.get_row_group(0).unwrap().get_column_page_reader(column).unwrap();
            let counts: Vec<u32> = page_reader.map(|page| page.unwrap().num_values()).collect();
            let rows: Vec<u32> = shapes.iter().map(|&(rows, _)| rows as u32).collect();
            assert_eq!(counts, rows, "a page per batch");
        }
        assert_eq!(group.column(0).compression(), Compression::UNCOMPRESSED);
        assert_eq!(group.column(2).compression(), Compression::SNAPPY);
        let Some(Statistics::Int64(start)) = group.column(2).statistics() else { panic!("start has statistics") };
        assert_eq!(
            (start.min_opt(), start.max_opt(), start.null_count_opt()),
            (Some(&i64::MIN), Some(&i64::MAX), Some(0))
        );
        assert!(group.column(0).statistics().is_none() && group.column(3).statistics().is_none());
    }

    #[test]
    fn columns_configured_otherwise_are_left_to_parquets_writer() {
        let parquet = parquet::arrow::ArrowSchemaConverter::new().convert(&schema()).unwrap();
        let defaults = WriterProperties::builder().build();
        // Dictionary-encoded by default.
        assert!(PageEncoding::of_fields(&schema(), &parquet, &defaults).iter().all(Option::is_none));
        let statistics = WriterProperties::builder()
            .set_dictionary_enabled(false)
            .set_column_statistics_enabled(ColumnPath::from("usage"), EnabledStatistics::Chunk)
            .set_statistics_enabled(EnabledStatistics::None)
            .build();
        let chosen = PageEncoding::of_fields(&schema(), &parquet, &statistics);
        // Floats with statistics, and times without delta encoding.
        assert!(chosen[0].is_some() && chosen[1].is_none() && chosen[2].is_none());
    }

    #[test]
    fn a_required_column_with_a_null_is_an_error() {
        let parquet = parquet::arrow::ArrowSchemaConverter::new().convert(&schema()).unwrap();
        let encoding = PageEncoding::of_fields(&schema(), &parquet, &properties())[2].unwrap();
        let with_null = TimestampMicrosecondArray::from(vec![Some(1), None]);
        let error = encoding.encode(&with_null).err().expect("a null in a required column");
        assert!(error.to_string().contains("required but a row is null"), "{error}");
    }
}
