//! Map columns (`tags`, `cost_categories`) written from their offsets.
//!
//! Parquet's Arrow writer works out a map's repetition and definition levels through a
//! general walk of nested arrays and hashes every key and value into its dictionary: for maps
//! of one or two entries a line, that cost more than every flat text column together. Here the
//! levels come straight from the map's offsets, and each leaf (keys, values) is a
//! [`DictionaryChunk`] page per batch, so a chunk is laid out as the store's other text columns
//! are (a dictionary page, then RLE / bit-packed keys, plain once the dictionary fills).

use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{Array, ArrayRef, DictionaryArray, StringArray};
use bytes::Bytes;
use parquet::column::writer::ColumnCloseResult;
use parquet::errors::ParquetError;
use parquet::schema::types::ColumnDescPtr;

use crate::dictionary::{DictionaryChunk, encode_hybrid, push_level_section};

/// A map's keys or values: text, or dictionary text as canonical batches carry them.
#[derive(Clone, Copy)]
pub(crate) enum MapText<'a> {
    Text(&'a StringArray),
    Dictionary(&'a DictionaryArray<Int32Type>, &'a StringArray),
}

impl<'a> MapText<'a> {
    pub fn of(array: &'a ArrayRef) -> Option<Self> {
        if let Some(text) = array.as_string_opt::<i32>() {
            return Some(MapText::Text(text));
        }
        let dictionary = array.as_dictionary_opt::<Int32Type>()?;
        Some(MapText::Dictionary(dictionary, dictionary.values().as_string_opt::<i32>()?))
    }

    /// Whether some entry may have no text.
    pub fn may_be_null(&self) -> bool {
        match self {
            MapText::Text(text) => text.null_count() > 0,
            MapText::Dictionary(dictionary, values) => dictionary.null_count() > 0 || values.null_count() > 0,
        }
    }

    /// Whether an entry has text (a dictionary entry's key and value both valid).
    pub fn is_valid(&self, entry: usize) -> bool {
        match self {
            MapText::Text(text) => text.is_valid(entry),
            MapText::Dictionary(dictionary, values) => {
                dictionary.is_valid(entry) && values.is_valid(dictionary.keys().value(entry) as usize)
            }
        }
    }

    /// An entry's text, which must be valid.
    pub fn value(&self, entry: usize) -> &'a str {
        match self {
            MapText::Text(text) => text.value(entry),
            MapText::Dictionary(dictionary, values) => values.value(dictionary.keys().value(entry) as usize),
        }
    }

    /// An entry's text, `None` when it has none.
    pub fn get(&self, entry: usize) -> Option<&'a str> {
        self.is_valid(entry).then(|| self.value(entry))
    }
}

/// Definition levels of the store's map columns: an optional map of repeated entries with a
/// required key and an optional value.
const NULL_MAP: u32 = 0;
const EMPTY_MAP: u32 = 1;
const ENTRY: u32 = 2;
const ENTRY_WITH_VALUE: u32 = 3;
/// Bits per level: repetition levels are 0 or 1, definition levels at most 3.
const REPETITION_BITS: u8 = 1;
const DEFINITION_BITS: u8 = 2;

/// One column chunk of a map column being built for an open row group.
pub(crate) struct MapChunk {
    keys: DictionaryChunk,
    values: DictionaryChunk,
    /// Scratch for a batch's levels and the entries that have a value.
    repetition: Vec<u32>,
    key_definition: Vec<u32>,
    value_definition: Vec<u32>,
    valued: Vec<usize>,
}

impl MapChunk {
    /// Whether a map column with these leaves is shaped as the store's maps are, the levels
    /// this writer makes; other maps are left to Parquet's own writer.
    pub fn fits(keys: &ColumnDescPtr, values: &ColumnDescPtr) -> bool {
        let shaped = |leaf: &ColumnDescPtr, definition: u32| {
            leaf.max_rep_level() == 1 && leaf.max_def_level() == definition as i16
        };
        shaped(keys, ENTRY) && shaped(values, ENTRY_WITH_VALUE)
    }

    /// The chunk of a map column whose leaves, which [`MapChunk::fits`], are `keys` and `values`.
    pub fn new(keys: ColumnDescPtr, values: ColumnDescPtr) -> Self {
        MapChunk {
            keys: DictionaryChunk::new(keys, false, false),
            values: DictionaryChunk::new(values, false, false),
            repetition: Vec::new(),
            key_definition: Vec::new(),
            value_definition: Vec::new(),
            valued: Vec::new(),
        }
    }

    /// Appends a batch's rows of this column as one data page per leaf.
    pub fn write(&mut self, column: &dyn Array) -> Result<(), ParquetError> {
        let not_a_map = || ParquetError::General("a map column is not a map of text".into());
        let map = column.as_map_opt().ok_or_else(not_a_map)?;
        if map.is_empty() {
            return Ok(());
        }
        let keys = MapText::of(map.keys()).ok_or_else(not_a_map)?;
        let values = MapText::of(map.values()).ok_or_else(not_a_map)?;
        let offsets = map.value_offsets();
        self.repetition.clear();
        self.key_definition.clear();
        self.value_definition.clear();
        self.valued.clear();
        for row in 0..map.len() {
            let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
            if map.is_null(row) || start == end {
                let level = if map.is_null(row) { NULL_MAP } else { EMPTY_MAP };
                self.repetition.push(0);
                self.key_definition.push(level);
                self.value_definition.push(level);
                continue;
            }
            for entry in start..end {
                self.repetition.push(u32::from(entry > start));
                self.key_definition.push(ENTRY);
                if values.is_valid(entry) {
                    self.value_definition.push(ENTRY_WITH_VALUE);
                    self.valued.push(entry);
                } else {
                    self.value_definition.push(ENTRY);
                }
            }
        }
        let repetition = &self.repetition;
        let levels = |definition: &[u32]| {
            let mut sections = Vec::new();
            push_level_section(&mut sections, |out| encode_hybrid(repetition, REPETITION_BITS, out));
            push_level_section(&mut sections, |out| encode_hybrid(definition, DEFINITION_BITS, out));
            sections
        };
        let count = self.repetition.len();
        // Keys are required: every entry has one.
        let first = offsets.first().map_or(0, |&o| o as usize);
        let last = offsets.last().map_or(0, |&o| o as usize);
        if keys.may_be_null() && (first..last).any(|entry| !keys.is_valid(entry)) {
            return Err(ParquetError::General("a map entry has no key".into()));
        }
        self.keys.write_entries(map.len(), &levels(&self.key_definition), count, keys, first..last)?;
        let valued = self.valued.iter().copied();
        self.values.write_entries(map.len(), &levels(&self.value_definition), count, values, valued)
    }

    /// Finishes both leaves: each one's bytes and what the row group needs to splice it in.
    pub fn finish(self) -> Result<[(Bytes, ColumnCloseResult); 2], ParquetError> {
        Ok([self.keys.finish()?, self.values.finish()?])
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{MapArray, RecordBatch};
    use arrow_buffer::{NullBuffer, OffsetBuffer};
    use arrow_schema::{Field, Schema};
    use curwatch_schema::columns::{map_entries_field, map_type, tag_map_entries_field};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::basic::Encoding;
    use parquet::file::properties::WriterProperties;

    use super::*;
    use crate::encode::RowGroupFile;

    /// A row: `None` for a null map, else its entries (a value may be null).
    type Row = Option<Vec<(String, Option<String>)>>;

    /// The rows as a map of text or, with `dictionary`, of dictionary text whose values the
    /// entries share (as canonical batches carry maps).
    fn map_of(rows: &[Row], dictionary: bool) -> MapArray {
        let (mut offsets, mut keys, mut values) = (vec![0i32], Vec::new(), Vec::new());
        for row in rows {
            for (key, value) in row.iter().flatten() {
                keys.push(Some(key.as_str()));
                values.push(value.as_deref());
            }
            offsets.push(keys.len() as i32);
        }
        let (field, children): (_, Vec<ArrayRef>) = if dictionary {
            let text =
                |t: Vec<Option<&str>>| Arc::new(t.into_iter().collect::<DictionaryArray<Int32Type>>()) as ArrayRef;
            (tag_map_entries_field(), vec![text(keys), text(values)])
        } else {
            (map_entries_field(), vec![Arc::new(StringArray::from(keys)), Arc::new(StringArray::from(values))])
        };
        let arrow_schema::DataType::Struct(fields) = field.data_type().clone() else { unreachable!() };
        let entries = arrow_array::StructArray::new(fields, children, None);
        let nulls = NullBuffer::from(rows.iter().map(Option::is_some).collect::<Vec<_>>());
        MapArray::try_new(field, OffsetBuffer::new(offsets.into()), entries, Some(nulls), false).unwrap()
    }

    fn rows_of(map: &MapArray) -> Vec<Row> {
        (0..map.len())
            .map(|row| {
                map.is_valid(row).then(|| {
                    let entries = map.value(row);
                    let (keys, values) = (entries.column(0).as_string::<i32>(), entries.column(1).as_string::<i32>());
                    (0..entries.len())
                        .map(|i| (keys.value(i).to_owned(), values.is_valid(i).then(|| values.value(i).to_owned())))
                        .collect()
                })
            })
            .collect()
    }

    /// Writes each batch of rows (sliced, as the store's writer slices batches into row
    /// groups) and reads the file back with Parquet's own reader.
    /// Also returns the file's bytes.
    fn round_trip(
        batches: &[Vec<Row>],
        dictionary: bool,
    ) -> (Vec<Row>, parquet::file::metadata::ParquetMetaData, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("maps.parquet");
        let schema = Arc::new(Schema::new(vec![Field::new("tags", map_type(), true)]));
        let mut file = RowGroupFile::create(&path, schema.clone(), WriterProperties::builder().build()).unwrap();
        let mut group = file.start_row_group(Default::default());
        for rows in batches {
            // One leading row more, sliced off: offsets then start past zero.
            let padded: Vec<Row> =
                [Some(vec![("pad".to_owned(), None)])].into_iter().chain(rows.iter().cloned()).collect();
            let column: ArrayRef = Arc::new(map_of(&padded, dictionary).slice(1, rows.len()));
            let batch_schema = Arc::new(Schema::new(vec![Field::new("tags", column.data_type().clone(), true)]));
            file.append(&mut group, &RecordBatch::try_new(batch_schema, vec![column]).unwrap(), &[]).unwrap();
        }
        file.close_row_group(group, None).unwrap();
        file.finish(Vec::new()).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap()).unwrap();
        let metadata = reader.metadata().as_ref().clone();
        let rows = reader.build().unwrap().flat_map(|batch| rows_of(batch.unwrap().column(0).as_map())).collect();
        (rows, metadata, std::fs::read(&path).unwrap())
    }

    fn entry(key: &str, value: Option<&str>) -> (String, Option<String>) {
        (key.to_owned(), value.map(str::to_owned))
    }

    #[test]
    fn maps_read_back_with_empty_and_null_maps_null_values_and_plain_pages_past_the_limit() {
        let first: Vec<Row> = vec![
            Some(vec![entry("team", Some("payments")), entry("env", Some("prod"))]),
            Some(vec![]),
            None,
            Some(vec![entry("team", None)]),
            Some(vec![entry("env", Some("dev")), entry("team", Some("payments")), entry("owner", Some("x"))]),
        ];
        // Twenty thousand distinct long values: the values' dictionary fills, later pages go plain.
        let many: Vec<Row> = (0..20_000)
            .map(|i| Some(vec![entry("team", Some(&format!("{i:0>80}"))), entry("env", Some("prod"))]))
            .collect();
        let empty: Vec<Row> = vec![Some(vec![]); 10];
        let last: Vec<Row> = vec![Some(vec![entry("team", Some("payments"))]), None];
        // Maps of text, and of dictionary text as ingest hands them over, write the same file.
        let mut files = Vec::new();
        for dictionary in [false, true] {
            let (rows, metadata, file) =
                round_trip(&[first.clone(), many.clone(), empty.clone(), last.clone()], dictionary);
            assert_eq!(rows, [first.clone(), many.clone(), empty.clone(), last.clone()].concat());

            let group = metadata.row_group(0);
            assert_eq!(group.num_rows(), 20_017);
            let encodings = |leaf: usize| *group.column(leaf).page_encoding_stats_mask().unwrap();
            assert!(encodings(0).is_only(Encoding::RLE_DICTIONARY), "three distinct keys");
            assert!(encodings(1).is_set(Encoding::PLAIN) && encodings(1).is_set(Encoding::RLE_DICTIONARY));
            // One level per entry, and one per empty or null map: six entries, an empty map and
            // a null one in the first batch.
            assert_eq!(group.column(0).num_values(), (6 + 2) + 40_000 + 10 + (1 + 1));
            files.push(file);
        }
        assert!(files[0] == files[1], "maps of text and of dictionary text wrote different files");
    }

    #[test]
    fn only_maps_shaped_as_the_stores_are_written_here() {
        let schema = Arc::new(Schema::new(vec![Field::new("tags", map_type(), true)]));
        let parquet = parquet::arrow::ArrowSchemaConverter::new().convert(&schema).unwrap();
        let (keys, values) = (parquet.column(0), parquet.column(1));
        assert!(MapChunk::fits(&keys, &values));
        assert!(!MapChunk::fits(&values, &keys));
    }
}
