//! Text columns written straight from Arrow dictionaries to Parquet dictionary pages.
//!
//! Parquet's Arrow writer hashes and compares every row's text to build its dictionary, even
//! when the rows arrive as dictionary keys already: that was the largest single cost of
//! ingest. Here each batch's distinct values are looked up once, rows only have their keys
//! renumbered, and a column chunk is one dictionary page (PLAIN values) followed by a data
//! page per batch (RLE / bit-packed keys), as the format's dictionary encoding lays it out.
//! A dictionary that would outgrow 1 MiB stops growing and the chunk goes on in PLAIN pages,
//! as in Parquet's own writers; and a chunk may start plain, skipping the dictionary, where the
//! last row group's outgrew it (see `encode::PlainRuns`).

use std::hash::BuildHasher;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{Array, ArrayRef, DictionaryArray, Int32Array, StringArray};
use bytes::Bytes;
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use parquet::basic::{Compression, Encoding, EncodingMask, PageType};
use parquet::column::page::{CompressedPage, Page, PageWriteSpec, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::data_type::ByteArray;
use parquet::errors::ParquetError;
use parquet::file::metadata::{ColumnChunkMetaData, ColumnChunkMetaDataBuilder, PageEncodingStats};
use parquet::file::statistics::{Statistics, ValueStatistics};
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;

use crate::maps::MapText;

/// Marks a source dictionary entry not yet given an id in the chunk.
const UNSEEN: u32 = u32::MAX;
/// Marks a null source dictionary entry (or a null key).
const NULL_VALUE: u32 = u32::MAX - 1;
/// Dictionary size past which a chunk's further pages are plain: Parquet's default limit.
const DICTIONARY_PAGE_LIMIT: usize = 1024 * 1024;

/// Plain values per data page of a flat column: Parquet's default page size. A batch's plain
/// values go in pages of this size rather than one page, so the scratch and the compressed
/// pages waiting for their row group stay small (resource ids run to megabytes a batch). A
/// map's leaf keeps one page per batch: its levels would have to be cut with it, and map text
/// past its dictionary is rare.
const PLAIN_PAGE_BYTES: usize = 1024 * 1024;
/// Equal keys in a row at least this long are written as one run rather than bit-packed.
const MIN_RUN: usize = 8;

/// One column chunk of dictionary text being built for an open row group.
pub(crate) struct DictionaryChunk {
    descr: ColumnDescPtr,
    /// Whether the chunk's min/max go into its statistics (readers prune by them).
    statistics: bool,
    /// The dictionary page's body: each distinct value as a little-endian u32 length and its
    /// bytes, in the order first seen.
    dictionary: Vec<u8>,
    /// Where each id's bytes lie in `dictionary`.
    spans: Vec<(usize, usize)>,
    /// Ids by their value's hash: the values themselves stay in `dictionary`, stored once.
    ids: HashTable<(u64, u32)>,
    hasher: foldhash::fast::FixedState,
    /// The smallest and largest values, kept when `statistics` is.
    min: Option<Vec<u8>>,
    max: Option<Vec<u8>>,
    /// Data pages written so far, one per batch, waiting for the dictionary page that must
    /// precede them. Keys are encoded as they arrive: the chunk holds no per-row state.
    pages: Vec<CompressedPage>,
    /// Scratch for the batch being encoded: dictionary ids of its non-null rows, and which
    /// rows are null (rarely any: the definition levels are made from them at the end).
    keys: Vec<u32>,
    null_rows: Vec<usize>,
    /// Scratch: the batch's values, PLAIN-encoded, once the dictionary is full, after
    /// `LEVEL_ROOM` bytes kept for the page's level sections (see `encode_page`).
    plain: Vec<u8>,
    rows: u64,
    /// Levels written: one per row for a flat column, one per entry (or empty map) for a
    /// map's leaf.
    levels: u64,
    nulls: u64,
    /// The chunk's id for each entry of a batch's own dictionary (see `renumber_for`), and
    /// the dictionary it was made for.
    renumber: Vec<u32>,
    renumbered: Option<ArrayRef>,
    /// Set once the dictionary has filled, or from the start for a chunk that starts plain:
    /// every later page of the chunk is plain.
    full: bool,
}

impl DictionaryChunk {
    /// A chunk keyed by a dictionary, or all in plain pages when `plain`.
    pub fn new(descr: ColumnDescPtr, statistics: bool, plain: bool) -> Self {
        DictionaryChunk {
            descr,
            statistics,
            dictionary: Vec::new(),
            spans: Vec::new(),
            ids: HashTable::new(),
            hasher: foldhash::fast::FixedState::default(),
            min: None,
            max: None,
            pages: Vec::new(),
            keys: Vec::new(),
            null_rows: Vec::new(),
            plain: Vec::new(),
            rows: 0,
            levels: 0,
            nulls: 0,
            renumber: Vec::new(),
            renumbered: None,
            full: plain,
        }
    }

    /// Whether the chunk's pages went plain, its dictionary full or skipped.
    pub fn is_plain(&self) -> bool {
        self.full
    }

    fn nullable(&self) -> bool {
        self.descr.max_def_level() > 0
    }

    /// Appends a batch's rows of this column: one data page of keys, or plain pages of up
    /// to `PLAIN_PAGE_BYTES` each.
    pub fn write(&mut self, column: &dyn Array) -> Result<(), ParquetError> {
        if column.is_empty() {
            return Ok(());
        }
        let array: &DictionaryArray<Int32Type> = column
            .as_dictionary_opt()
            .ok_or_else(|| general(format!("{} is not dictionary text", self.descr.path().string())))?;
        let values = array
            .values()
            .as_string_opt::<i32>()
            .ok_or_else(|| general(format!("{} is not dictionary text", self.descr.path().string())))?;
        self.rows += array.len() as u64;
        self.levels += array.len() as u64;
        // As in Parquet's own writers, a chunk whose dictionary outgrows a page goes on in
        // plain pages: such a column is mostly distinct, and copying its values is cheaper
        // than looking each one up.
        let open = !self.full && self.dictionary.len() < DICTIONARY_PAGE_LIMIT;
        if open && let Some(id) = self.single_value_id(array) {
            return self.push_single_value_page(array.len(), id);
        }
        let keyed = open && self.fill_keys(array)?;
        if keyed {
            return self.push_flat_page(array.len(), false);
        }
        let mut start = 0;
        while start < array.len() {
            let end = self.fill_plain(array.keys(), values, start)?;
            self.push_flat_page(end - start, true)?;
            start = end;
        }
        Ok(())
    }

    /// The chunk's id for a batch whose rows all hold one value (a billing period, an export, a
    /// source file: several columns are so in every batch); `None` for any other batch, or
    /// when the dictionary has no room for a new value.
    fn single_value_id(&mut self, array: &DictionaryArray<Int32Type>) -> Option<u32> {
        let keys = array.keys();
        let first = *keys.values().first()?;
        if keys.null_count() > 0 || keys.values().iter().any(|&key| key != first) {
            return None;
        }
        let key = first as usize;
        self.renumber_for(array.values());
        match self.renumber[key] {
            NULL_VALUE => None,
            UNSEEN => self.renumber_entry(array.values().as_string::<i32>(), key),
            id => Some(id),
        }
    }

    /// A page of `rows` rows all holding `id`: one run, written without a key per row.
    fn push_single_value_page(&mut self, rows: usize, id: u32) -> Result<(), ParquetError> {
        self.null_rows.clear();
        let mut data = self.level_sections(rows);
        let bit_width = key_bit_width(self.spans.len() as u32);
        data.push(bit_width);
        put_run(rows, id, bit_width, &mut data);
        let page = snappy_page(&data, data_page(rows, Encoding::RLE_DICTIONARY))?;
        self.pages.push(page);
        Ok(())
    }

    /// Encodes a page of `rows` rows of a flat column from `keys` or `plain`, and `null_rows`.
    fn push_flat_page(&mut self, rows: usize, plain: bool) -> Result<(), ParquetError> {
        let levels = self.level_sections(rows);
        let page = self.encode_page(rows, &levels, plain)?;
        self.pages.push(page);
        Ok(())
    }

    /// A flat column page's level sections for `rows` rows and `null_rows`: none when the
    /// column is required.
    fn level_sections(&self, rows: usize) -> Vec<u8> {
        let mut levels = Vec::new();
        if self.nullable() {
            push_level_section(&mut levels, |out| encode_levels(rows, &self.null_rows, out));
        }
        levels
    }

    /// Appends one page of a map's key or value leaf for `rows` rows: `levels` are the page's
    /// repetition and definition sections, `level_count` levels long, and `entries` the
    /// entries of `text` that have a value, in order.
    pub fn write_entries(
        &mut self,
        rows: usize,
        levels: &[u8],
        level_count: usize,
        text: MapText<'_>,
        entries: impl Iterator<Item = usize> + Clone,
    ) -> Result<(), ParquetError> {
        self.rows += rows as u64;
        self.levels += level_count as u64;
        let keyed = !self.full
            && self.dictionary.len() < DICTIONARY_PAGE_LIMIT
            && match text {
                // A dictionary shared by the entries: each of its values looked up once.
                MapText::Dictionary(dictionary, values) if values.len() < dictionary.len() => {
                    self.fill_dictionary_entry_keys(dictionary, entries.clone())
                }
                // Text, or a dictionary with a value per entry (maps built entry by entry).
                _ => self.fill_entry_keys(text, entries.clone()),
            };
        if !keyed {
            self.start_plain();
            for entry in entries {
                self.push_plain(text.value(entry).as_bytes());
            }
        }
        let page = self.encode_page(level_count, levels, !keyed)?;
        self.pages.push(page);
        Ok(())
    }

    /// Puts `entries` of `text` in `keys` as dictionary ids; `false`, with the dictionary as
    /// it was, when it fills on the way.
    fn fill_entry_keys(&mut self, text: MapText<'_>, entries: impl Iterator<Item = usize>) -> bool {
        let (count, bytes) = (self.spans.len(), self.dictionary.len());
        self.keys.clear();
        // Map entries repeat a handful of texts (tag keys, team names) in every batch: a small
        // table by length and first and last byte finds most of them with one comparison
        // instead of a hash. A slot holds an id, checked against the dictionary's bytes.
        let mut recent = [u32::MAX; RECENT_SLOTS];
        for entry in entries {
            let value = text.value(entry).as_bytes();
            let slot = recent_slot(value);
            let cached = recent[slot];
            if cached != u32::MAX && span_bytes(&self.dictionary, &self.spans, cached) == value {
                self.keys.push(cached);
                continue;
            }
            if self.dictionary.len() >= DICTIONARY_PAGE_LIMIT {
                self.stop_growing(count, bytes);
                return false;
            }
            let id = self.intern(value);
            recent[slot] = id;
            self.keys.push(id);
        }
        true
    }

    /// Puts `entries` of dictionary text in `keys` as the chunk's ids, each dictionary entry
    /// looked up once (see `renumber_for`); `false`, with the dictionary as it was, when it
    /// fills on the way. The entries given all have text.
    fn fill_dictionary_entry_keys(
        &mut self,
        dictionary: &DictionaryArray<Int32Type>,
        entries: impl Iterator<Item = usize>,
    ) -> bool {
        let (count, bytes) = (self.spans.len(), self.dictionary.len());
        let values = dictionary.values().as_string::<i32>();
        self.renumber_for(dictionary.values());
        self.keys.clear();
        for entry in entries {
            let key = dictionary.keys().value(entry) as usize;
            let mut id = self.renumber[key];
            if id == UNSEEN {
                let Some(new) = self.renumber_entry(values, key) else {
                    self.stop_growing(count, bytes);
                    return false;
                };
                id = new;
            }
            self.keys.push(id);
        }
        true
    }

    /// Marks the dictionary full and takes back what the current batch added to it.
    fn stop_growing(&mut self, entries: usize, bytes: usize) {
        self.full = true;
        self.spans.truncate(entries);
        self.dictionary.truncate(bytes);
        self.ids.retain(|&mut (_, id)| (id as usize) < entries);
        self.renumbered = None;
    }

    /// Points `renumber` at `values`: an entry per value, `NULL_VALUE` for a null one. Batches
    /// cut from one source row group share its dictionary, and then the ids found for the last
    /// batch stand: the chunk's ids only ever grow while it is keyed.
    fn renumber_for(&mut self, values: &ArrayRef) {
        if self.renumbered.as_ref().is_some_and(|seen| Arc::ptr_eq(seen, values)) {
            return;
        }
        self.renumber.clear();
        match values.nulls() {
            Some(nulls) => self.renumber.extend(nulls.iter().map(|valid| if valid { UNSEEN } else { NULL_VALUE })),
            None => self.renumber.resize(values.len(), UNSEEN),
        }
        self.renumbered = Some(Arc::clone(values));
    }

    /// Puts the batch's rows in `keys` as dictionary ids. Returns `false`, with the dictionary
    /// as it was before the batch, when the dictionary outgrows its page on the way.
    fn fill_keys(&mut self, array: &DictionaryArray<Int32Type>) -> Result<bool, ParquetError> {
        let (entries, bytes) = (self.spans.len(), self.dictionary.len());
        let values = array.values().as_string::<i32>();
        let known = self.renumbered.as_ref().is_some_and(|seen| Arc::ptr_eq(seen, array.values()));
        self.renumber_for(array.values());
        self.keys.clear();
        self.null_rows.clear();
        let keys = array.keys();
        // A dictionary seen in earlier batches (they share their source row group's) usually
        // has an id for every row's value already: one pass takes them, and only a batch with
        // a new or null value goes on to the row-by-row pass below.
        if known && keys.null_count() == 0 {
            let renumber = &self.renumber;
            self.keys.extend(keys.values().iter().map(|&key| renumber[key as usize]));
            if self.keys.iter().all(|&id| id < NULL_VALUE) {
                return Ok(true);
            }
            self.keys.clear();
        }
        let nullable = self.nullable();
        // A null row's key slot may hold anything: it is read only for valid rows.
        let valid_keys = keys.nulls().filter(|nulls| nulls.null_count() > 0);
        for (row, &key) in keys.values().iter().enumerate() {
            let key = key as usize;
            let mut id = match valid_keys {
                Some(nulls) if nulls.is_null(row) => NULL_VALUE,
                _ => self.renumber[key],
            };
            if id == NULL_VALUE {
                self.null_row(row, nullable)?;
                continue;
            }
            if id == UNSEEN {
                let Some(new) = self.renumber_entry(values, key) else {
                    self.stop_growing(entries, bytes);
                    self.nulls -= self.null_rows.len() as u64;
                    return Ok(false);
                };
                id = new;
            }
            self.keys.push(id);
        }
        Ok(true)
    }

    /// The chunk's id for dictionary entry `key` not seen before, added to the dictionary and
    /// remembered in `renumber`; `None` when the dictionary is full.
    fn renumber_entry(&mut self, values: &StringArray, key: usize) -> Option<u32> {
        if self.dictionary.len() >= DICTIONARY_PAGE_LIMIT {
            return None;
        }
        let id = self.intern(values.value(key).as_bytes());
        self.renumber[key] = id;
        Some(id)
    }

    /// Records a null row, which only a nullable column may have.
    fn null_row(&mut self, row: usize, nullable: bool) -> Result<(), ParquetError> {
        if !nullable {
            return Err(general(format!("{} is required but a row is null", self.descr.path().string())));
        }
        self.null_rows.push(row);
        self.nulls += 1;
        Ok(())
    }

    /// Puts the batch's values from row `start` in `plain`, PLAIN-encoded, until they fill
    /// a page; returns the row after the last one put. Null rows are noted from `start`.
    fn fill_plain(&mut self, keys: &Int32Array, values: &StringArray, start: usize) -> Result<usize, ParquetError> {
        self.start_plain();
        self.null_rows.clear();
        let nullable = self.nullable();
        for row in start..keys.len() {
            if self.plain.len() >= LEVEL_ROOM + PLAIN_PAGE_BYTES {
                return Ok(row);
            }
            let key = keys.value(row) as usize;
            if keys.is_null(row) || values.is_null(key) {
                self.null_row(row - start, nullable)?;
                continue;
            }
            self.push_plain(values.value(key).as_bytes());
        }
        Ok(keys.len())
    }

    /// Empties `plain` but for the room kept for the levels.
    fn start_plain(&mut self) {
        self.plain.clear();
        self.plain.resize(LEVEL_ROOM, 0);
    }

    /// Appends a value to `plain`, PLAIN-encoded.
    fn push_plain(&mut self, value: &[u8]) {
        self.plain.extend_from_slice(&(value.len() as u32).to_le_bytes());
        self.plain.extend_from_slice(value);
        if self.statistics {
            self.observe(value);
        }
    }

    /// The batch's data page: its level sections, then plain values or keys at the width the
    /// dictionary needs so far (each page states its own).
    ///
    /// Plain values are most of the bytes a chunk past its dictionary writes (resource ids):
    /// levels short enough go into the room kept before them, and the page is compressed
    /// where the values lie instead of from a copy.
    fn encode_page(&mut self, num_values: usize, levels: &[u8], plain: bool) -> Result<CompressedPage, ParquetError> {
        let page = data_page(num_values, if plain { Encoding::PLAIN } else { Encoding::RLE_DICTIONARY });
        if plain && levels.len() <= LEVEL_ROOM {
            let start = LEVEL_ROOM - levels.len();
            self.plain[start..LEVEL_ROOM].copy_from_slice(levels);
            return snappy_page(&self.plain[start..], page);
        }
        let bit_width = key_bit_width(self.spans.len() as u32);
        let values = if plain { self.plain.len() } else { self.keys.len() * usize::from(bit_width) / 8 + 16 };
        let mut data = Vec::with_capacity(levels.len() + values);
        data.extend_from_slice(levels);
        if plain {
            data.extend_from_slice(&self.plain[LEVEL_ROOM..]);
        } else {
            data.push(bit_width);
            encode_hybrid(&self.keys, bit_width, &mut data);
        }
        snappy_page(&data, page)
    }

    /// Widens the statistics' range to take in a value.
    fn observe(&mut self, value: &[u8]) {
        if self.min.as_deref().is_none_or(|min| value < min) {
            self.min = Some(value.to_vec());
        }
        if self.max.as_deref().is_none_or(|max| value > max) {
            self.max = Some(value.to_vec());
        }
    }

    /// The chunk's id for a value, adding it to the dictionary when new.
    fn intern(&mut self, value: &[u8]) -> u32 {
        let hash = self.hasher.hash_one(value);
        let (dictionary, spans) = (&self.dictionary, &self.spans);
        let same = |&(h, id): &(u64, u32)| h == hash && span_bytes(dictionary, spans, id) == value;
        let entry = match self.ids.entry(hash, same, |&(h, _)| h) {
            Entry::Occupied(entry) => return entry.get().1,
            Entry::Vacant(entry) => entry,
        };
        let id = self.spans.len() as u32;
        entry.insert((hash, id));
        self.dictionary.extend_from_slice(&(value.len() as u32).to_le_bytes());
        self.spans.push((self.dictionary.len(), value.len()));
        self.dictionary.extend_from_slice(value);
        if self.statistics {
            self.observe(value);
        }
        id
    }

    /// Finishes the chunk: its bytes (the dictionary page, then the data pages) and what the
    /// row group needs to splice them in.
    pub fn finish(self) -> Result<(Bytes, ColumnCloseResult), ParquetError> {
        // A chunk that started plain has no keyed page, and no dictionary page for them.
        let keyed = self.pages.iter().any(|page| page.encoding() == Encoding::RLE_DICTIONARY) || self.pages.is_empty();
        let mut encoding_stats = Vec::new();
        if keyed {
            encoding_stats.push(PageEncodingStats {
                page_type: PageType::DICTIONARY_PAGE,
                encoding: Encoding::PLAIN,
                count: 1,
            });
        }
        for encoding in [Encoding::RLE_DICTIONARY, Encoding::PLAIN] {
            let count = self.pages.iter().filter(|page| page.encoding() == encoding).count() as i32;
            if count > 0 {
                encoding_stats.push(PageEncodingStats { page_type: PageType::DATA_PAGE, encoding, count });
            }
        }
        let dictionary = keyed
            .then(|| {
                snappy_page(&self.dictionary, |buf| Page::DictionaryPage {
                    buf,
                    num_values: self.spans.len() as u32,
                    encoding: Encoding::PLAIN,
                    is_sorted: false,
                })
            })
            .transpose()?;
        let (bytes, specs) = write_pages(dictionary.into_iter().chain(self.pages))?;
        let size = |f: fn(&PageWriteSpec) -> usize| specs.iter().map(f).sum::<usize>() as i64;
        let encodings: &[Encoding] = if keyed {
            &[Encoding::PLAIN, Encoding::RLE, Encoding::RLE_DICTIONARY]
        } else {
            &[Encoding::PLAIN, Encoding::RLE]
        };
        let (dictionary_offset, data_offset) = match keyed {
            true => (Some(specs[0].offset as i64), specs.get(1).unwrap_or(&specs[0]).offset as i64),
            false => (None, specs[0].offset as i64),
        };
        let mut metadata = ColumnChunkMetaData::builder(self.descr.clone())
            .set_compression(Compression::SNAPPY)
            .set_encodings_mask(EncodingMask::new_from_encodings(encodings.iter()))
            .set_page_encoding_stats(encoding_stats)
            .set_total_compressed_size(size(|s| s.compressed_size))
            .set_total_uncompressed_size(size(|s| s.uncompressed_size))
            .set_num_values(self.levels as i64)
            .set_dictionary_page_offset(dictionary_offset)
            .set_data_page_offset(data_offset);
        if self.statistics {
            let statistics = ValueStatistics::new(
                self.min.map(ByteArray::from),
                self.max.map(ByteArray::from),
                None,
                Some(self.nulls),
                false,
            );
            metadata = metadata.set_statistics(Statistics::ByteArray(statistics));
        }
        closed_chunk(bytes, self.rows, metadata)
    }
}

/// A column chunk written by the store: its bytes, and what its row group needs to splice
/// them in (no page index or bloom filter: readers of the store do without).
pub(crate) fn closed_chunk(
    bytes: Bytes,
    rows: u64,
    metadata: ColumnChunkMetaDataBuilder,
) -> Result<(Bytes, ColumnCloseResult), ParquetError> {
    let close = ColumnCloseResult {
        bytes_written: bytes.len() as u64,
        rows_written: rows,
        metadata: metadata.build()?,
        bloom_filter: None,
        column_index: None,
        offset_index: None,
    };
    Ok((bytes, close))
}

/// Bytes kept before a page's plain values for its level sections: a page without nulls
/// needs a few (one RLE run per section).
const LEVEL_ROOM: usize = 64;

/// Slots of the table of recently seen map entries.
const RECENT_SLOTS: usize = 64;

fn recent_slot(value: &[u8]) -> usize {
    let (first, last) = (value.first().copied().unwrap_or(0), value.last().copied().unwrap_or(0));
    (value.len() ^ usize::from(first) << 1 ^ usize::from(last) << 3) % RECENT_SLOTS
}

fn span_bytes<'a>(dictionary: &'a [u8], spans: &[(usize, usize)], id: u32) -> &'a [u8] {
    let (start, len) = spans[id as usize];
    &dictionary[start..start + len]
}

/// A column chunk's pages, in order, as the file will hold them, with where each lies.
pub(crate) fn write_pages(
    pages: impl IntoIterator<Item = CompressedPage>,
) -> Result<(Bytes, Vec<PageWriteSpec>), ParquetError> {
    let mut sink = TrackedWrite::new(Vec::new());
    let mut specs = Vec::new();
    {
        let mut writer = SerializedPageWriter::new(&mut sink);
        for page in pages {
            specs.push(writer.write_page(page)?);
        }
        writer.close()?;
    }
    Ok((Bytes::from(sink.into_inner()?), specs))
}

/// A data page of `num_values` levels in `encoding`, its levels RLE-encoded, once its body
/// is given.
pub(crate) fn data_page(num_values: usize, encoding: Encoding) -> impl FnOnce(Bytes) -> Page {
    move |buf| Page::DataPage {
        buf,
        num_values: num_values as u32,
        encoding,
        def_level_encoding: Encoding::RLE,
        rep_level_encoding: Encoding::RLE,
        statistics: None,
    }
}

pub(crate) fn general(message: String) -> ParquetError {
    ParquetError::General(message)
}

pub(crate) fn snappy_page(body: &[u8], page: impl FnOnce(Bytes) -> Page) -> Result<CompressedPage, ParquetError> {
    // A page is compressed into scratch sized for the worst case, kept by the thread (a new
    // buffer would be zeroed for every page: resource ids' pages are a megabyte each), and
    // only its compressed bytes are copied out to wait for their row group.
    thread_local! {
        static SCRATCH: std::cell::RefCell<(snap::raw::Encoder, Vec<u8>)> =
            std::cell::RefCell::new((snap::raw::Encoder::new(), Vec::new()));
    }
    let compressed = SCRATCH.with_borrow_mut(|(encoder, scratch)| {
        let worst = snap::raw::max_compress_len(body.len());
        if scratch.len() < worst {
            scratch.resize(worst, 0);
        }
        let size = encoder.compress(body, scratch).map_err(|e| general(format!("cannot compress a page: {e}")))?;
        Ok::<_, ParquetError>(scratch[..size].to_vec())
    })?;
    Ok(CompressedPage::new(page(Bytes::from(compressed)), body.len()))
}

/// Bits per key: enough for the largest id, and at least one.
fn key_bit_width(distinct: u32) -> u8 {
    (32 - distinct.saturating_sub(1).leading_zeros()).max(1) as u8
}

/// Parquet's RLE / bit-packing hybrid: runs of at least [`MIN_RUN`] equal values as
/// (length, value) pairs, everything else bit-packed in groups of eight.
pub(crate) fn encode_hybrid(values: &[u32], bit_width: u8, out: &mut Vec<u8>) {
    let run_at = |i: usize| values.len() - i >= MIN_RUN && values[i..i + MIN_RUN].iter().all(|&v| v == values[i]);
    let mut i = 0;
    while i < values.len() {
        if run_at(i) {
            let run = values[i..].iter().take_while(|&&v| v == values[i]).count();
            put_run(run, values[i], bit_width, out);
            i += run;
            continue;
        }
        // Groups of eight until a run starts on a group boundary; the last group is padded.
        let start = i;
        i += 8;
        while i < values.len() && !run_at(i) {
            i += 8;
        }
        let groups = (i - start) / 8;
        put_varint(((groups as u64) << 1) | 1, out);
        let end = i.min(values.len());
        bit_pack(&values[start..end], groups * 8, bit_width, out);
        i = end;
    }
}

/// The definition levels of `rows` rows (1 present, 0 for each of `null_rows`), as
/// [`encode_hybrid`] writes them. Without nulls, which is nearly always, that is one run of
/// ones, written without a level per row.
pub(crate) fn encode_levels(rows: usize, null_rows: &[usize], out: &mut Vec<u8>) {
    if null_rows.is_empty() && rows >= MIN_RUN {
        put_run(rows, 1, 1, out);
        return;
    }
    let mut levels = vec![1u32; rows];
    for &row in null_rows {
        levels[row] = 0;
    }
    encode_hybrid(&levels, 1, out);
}

/// Packs `count` values (zeros past the slice's end) least significant bit first: eight
/// values of `bit_width` bits make `bit_width` bytes.
fn bit_pack(values: &[u32], count: usize, bit_width: u8, out: &mut Vec<u8>) {
    let width = usize::from(bit_width);
    out.reserve(count / 8 * width);
    let whole = values.len().min(count) / 8 * 8;
    for group in values[..whole].chunks_exact(8) {
        pack_group(group.try_into().expect("eight values"), width, out);
    }
    if count > whole {
        let mut group = [0u32; 8];
        group[..values.len() - whole].copy_from_slice(&values[whole..]);
        pack_group(&group, width, out);
    }
}

/// Packs eight values into `width` bytes.
fn pack_group(group: &[u32; 8], width: usize, out: &mut Vec<u8>) {
    // The whole group fits a register: one shift per value, one copy out.
    if width <= 8 {
        let packed = group.iter().enumerate().fold(0u64, |packed, (i, &v)| packed | u64::from(v) << (i * width));
        out.extend_from_slice(&packed.to_le_bytes()[..width]);
        return;
    }
    if width <= 16 {
        let packed = group.iter().enumerate().fold(0u128, |packed, (i, &v)| packed | u128::from(v) << (i * width));
        out.extend_from_slice(&packed.to_le_bytes()[..width]);
        return;
    }
    let (mut buffer, mut bits) = (0u64, 0);
    for &value in group {
        buffer |= u64::from(value) << bits;
        bits += width;
        while bits >= 8 {
            out.push(buffer as u8);
            buffer >>= 8;
            bits -= 8;
        }
    }
}

/// Appends one run of the hybrid encoding: `count` copies of `value`, `bit_width` bits wide.
fn put_run(count: usize, value: u32, bit_width: u8, out: &mut Vec<u8>) {
    put_varint((count as u64) << 1, out);
    out.extend_from_slice(&value.to_le_bytes()[..usize::from(bit_width).div_ceil(8)]);
}

/// Appends a data page's level section: its length, then the levels `encode` writes.
pub(crate) fn push_level_section(out: &mut Vec<u8>, encode: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    encode(out);
    let length = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&length.to_le_bytes());
}

pub(crate) fn put_varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::RowGroupFile;
    use arrow_array::RecordBatch;
    use arrow_buffer::NullBuffer;
    use arrow_schema::{DataType, Field, Schema};
    use curwatch_schema::columns::text_type;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::file::metadata::ParquetMetaData;
    use parquet::file::properties::{EnabledStatistics, WriterProperties};
    use parquet::schema::types::ColumnPath;
    use std::sync::Arc;

    /// Decodes the hybrid encoding back, as a reader would.
    fn decode_hybrid(mut bytes: &[u8], bit_width: u8, count: usize) -> Vec<u32> {
        let varint = |bytes: &mut &[u8]| {
            let (mut value, mut shift) = (0u64, 0);
            loop {
                let byte = bytes[0];
                *bytes = &bytes[1..];
                value |= u64::from(byte & 0x7f) << shift;
                shift += 7;
                if byte < 0x80 {
                    return value;
                }
            }
        };
        let mut out = Vec::new();
        while out.len() < count {
            let header = varint(&mut bytes);
            if header & 1 == 0 {
                let width = usize::from(bit_width).div_ceil(8);
                let mut value = [0u8; 4];
                value[..width].copy_from_slice(&bytes[..width]);
                bytes = &bytes[width..];
                out.extend(std::iter::repeat_n(u32::from_le_bytes(value), (header >> 1) as usize));
            } else {
                let n = (header >> 1) as usize * 8;
                let (mut buffer, mut bits, mut taken) = (0u64, 0u32, 0);
                for _ in 0..n {
                    while bits < u32::from(bit_width) {
                        buffer |= u64::from(bytes[taken]) << bits;
                        taken += 1;
                        bits += 8;
                    }
                    out.push((buffer & ((1u64 << bit_width) - 1)) as u32);
                    buffer >>= bit_width;
                    bits -= u32::from(bit_width);
                }
                bytes = &bytes[taken..];
            }
        }
        out.truncate(count);
        out
    }

    #[test]
    fn hybrid_encoding_round_trips_runs_and_mixed_values() {
        let mut values: Vec<u32> = (0..21).map(|i| i % 5).collect();
        values.extend(std::iter::repeat_n(3, 100));
        values.extend([7, 1, 7]);
        values.extend(std::iter::repeat_n(0, 9));
        for bit_width in [1, 3, 8, 13, 16, 17, 32] {
            // Spread over the width, so the top bits are used too.
            let max = u32::MAX >> (32 - bit_width);
            let values: Vec<u32> = values.iter().map(|&v| (u64::from(v) * u64::from(max) / 7) as u32).collect();
            let mut encoded = Vec::new();
            encode_hybrid(&values, bit_width, &mut encoded);
            assert_eq!(decode_hybrid(&encoded, bit_width, values.len()), values, "bit width {bit_width}");
        }
        let mut constant = Vec::new();
        encode_hybrid(&[1; 131_072], 1, &mut constant);
        assert_eq!(constant.len(), 4, "one run: a three-byte length and the value");
    }

    #[test]
    fn levels_are_encoded_as_the_hybrid_encoder_would() {
        for rows in [1, 7, 8, 9, 64, 1000] {
            for null_rows in [vec![], vec![0], vec![rows - 1], (0..rows).step_by(3).collect()] {
                let mut levels = vec![1u32; rows];
                for &row in &null_rows {
                    levels[row] = 0;
                }
                let (mut expected, mut encoded) = (Vec::new(), Vec::new());
                encode_hybrid(&levels, 1, &mut expected);
                encode_levels(rows, &null_rows, &mut encoded);
                assert_eq!(encoded, expected, "{rows} rows, nulls at {null_rows:?}");
            }
        }
    }

    /// Writes `batches` of one nullable and one required dictionary column through the store's
    /// encoder and reads them back with Parquet's own reader.
    fn round_trip(batches: &[(Vec<Option<&str>>, Vec<&str>)]) -> (Vec<Option<String>>, Vec<String>, ParquetMetaData) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let schema =
            Arc::new(Schema::new(vec![Field::new("a", text_type(), true), Field::new("b", text_type(), false)]));
        let properties = WriterProperties::builder()
            .set_statistics_enabled(EnabledStatistics::None)
            .set_column_statistics_enabled(ColumnPath::from("b"), EnabledStatistics::Chunk)
            .build();
        let mut file = RowGroupFile::create(&path, schema.clone(), properties).unwrap();
        let mut group = file.start_row_group(Default::default());
        for (a, b) in batches {
            // Values repeat within a batch's dictionary, as ingest's resource ids do; the last
            // entry is a null value.
            let values: StringArray = a.iter().map(|v| Some(v.unwrap_or("unused"))).chain([None]).collect();
            // A null row is, in turn, a null key whose slot holds an out-of-range key (looking
            // the slot up in `values` would panic: it has a null buffer) and a valid key to the
            // null value.
            let null_value = a.len() as i32;
            let slots: Vec<i32> = (0..a.len())
                .map(|i| match (a[i], i % 2) {
                    (Some(_), _) => i as i32,
                    (None, 0) => i32::MAX,
                    (None, _) => null_value,
                })
                .collect();
            let valid = NullBuffer::from((0..a.len()).map(|i| a[i].is_some() || i % 2 == 1).collect::<Vec<_>>());
            let keys = Int32Array::new(slots.into(), Some(valid));
            let a = DictionaryArray::<Int32Type>::try_new(keys, Arc::new(values)).unwrap();
            let b: DictionaryArray<Int32Type> = b.iter().copied().collect();
            let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(a), Arc::new(b)]).unwrap();
            file.append(&mut group, &batch, &[]).unwrap();
        }
        file.close_row_group(group, None).unwrap();
        file.finish(Vec::new()).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap()).unwrap();
        let metadata = reader.metadata().as_ref().clone();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for batch in reader.build().unwrap() {
            let batch = batch.unwrap();
            let text = |i: usize| arrow_cast::cast(batch.column(i), &DataType::Utf8).unwrap();
            a.extend(text(0).as_string::<i32>().iter().map(|v| v.map(str::to_owned)));
            b.extend(text(1).as_string::<i32>().iter().map(|v| v.unwrap().to_owned()));
        }
        (a, b, metadata)
    }

    #[test]
    fn chunks_read_back_with_nulls_repeats_and_plain_pages_past_the_limit() {
        let long: Vec<String> =
            (0..20_000).map(|i| format!("arn:aws:apigateway:us-east-1::/restapis/{i:0>40}")).collect();
        // Three hundred values in a scattered order with a long run: keys nine bits wide, in
        // bit-packed groups and RLE runs, read back by Parquet's own decoder.
        let labels: Vec<String> = (0..300).map(|i| format!("usage-type-{i}")).collect();
        let keyed: Vec<Option<&str>> = (0..2_000)
            .map(|i: usize| if (700..800).contains(&i) { Some("run") } else { Some(labels[i * 7 % 300].as_str()) })
            .collect();
        let wide = (keyed, vec!["k"; 2_000]);
        let first = (vec![Some("x"), None, Some("y"), Some("x"), None], vec!["k", "m", "k", "k", "a"]);
        let many = (long.iter().map(|v| Some(v.as_str())).collect(), vec!["k"; long.len()]);
        let after = (vec![None, Some("x"), Some("new")], vec!["z", "k", "k"]);
        let (a, b, metadata) = round_trip(&[first.clone(), wide.clone(), many.clone(), after.clone()]);

        let expected_a: Vec<Option<String>> =
            [first.0, wide.0, many.0, after.0].concat().into_iter().map(|v| v.map(str::to_owned)).collect();
        let expected_b: Vec<String> =
            [first.1, wide.1, many.1, after.1].concat().into_iter().map(str::to_owned).collect();
        assert_eq!(a, expected_a);
        assert_eq!(b, expected_b);

        let chunk = |i: usize| metadata.row_group(0).column(i).clone();
        let encodings = |i: usize| *chunk(i).page_encoding_stats_mask().unwrap();
        assert!(encodings(0).is_set(Encoding::PLAIN), "the third batch came after the dictionary filled");
        assert!(encodings(1).is_only(Encoding::RLE_DICTIONARY));
        let Some(Statistics::ByteArray(statistics)) = chunk(1).statistics().cloned() else { panic!("no statistics") };
        assert_eq!(
            (statistics.min_opt().unwrap().as_utf8().unwrap(), statistics.max_opt().unwrap().as_utf8().unwrap()),
            ("a", "z")
        );
        assert_eq!(statistics.null_count_opt(), Some(0));
        assert!(chunk(0).statistics().is_none(), "only columns readers prune by keep statistics");
    }

    /// The first column of a file read back with Parquet's own reader, as text, and the file's
    /// metadata.
    fn first_column_text(path: &std::path::Path) -> (Vec<Option<String>>, Arc<ParquetMetaData>) {
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap();
        let metadata = reader.metadata().clone();
        let mut read = Vec::new();
        for batch in reader.build().unwrap() {
            let text = arrow_cast::cast(batch.unwrap().column(0), &DataType::Utf8).unwrap();
            read.extend(text.as_string::<i32>().iter().map(|v| v.map(str::to_owned)));
        }
        (read, metadata)
    }

    #[test]
    fn a_column_past_its_dictionary_starts_later_row_groups_plain_and_tries_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let schema =
            Arc::new(Schema::new(vec![Field::new("ids", text_type(), false), Field::new("few", text_type(), false)]));
        let properties = WriterProperties::builder().set_statistics_enabled(EnabledStatistics::None).build();
        let mut file = RowGroupFile::create(&path, schema.clone(), properties).unwrap();
        // Each row group's ids (two batches of 3,000 of 200 bytes) outgrow a dictionary page in
        // the second batch; `few` does not.
        let groups = 18;
        let mut runs = crate::encode::PlainRuns::default();
        let mut expected = Vec::new();
        for group in 0..groups {
            let ids: Vec<String> = (0..6_000).map(|i| format!("{group}-{i:0>196}")).collect();
            let few: DictionaryArray<Int32Type> = (0..ids.len()).map(|i| ["a", "b"][i % 2]).collect();
            let column: DictionaryArray<Int32Type> = ids.iter().map(String::as_str).collect();
            let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(column), Arc::new(few)]).unwrap();
            let mut open = file.start_row_group(runs);
            file.append(&mut open, &batch.slice(0, 3_000), &[]).unwrap();
            file.append(&mut open, &batch.slice(3_000, 3_000), &[]).unwrap();
            runs = file.close_row_group(open, None).unwrap();
            expected.extend(ids);
        }
        file.finish(Vec::new()).unwrap();

        let (read, metadata) = first_column_text(&path);
        assert_eq!(read, expected.into_iter().map(Some).collect::<Vec<_>>());
        let with_dictionary: Vec<usize> = (0..groups)
            .filter(|&group| metadata.row_group(group).column(0).dictionary_page_offset().is_some())
            .collect();
        // The first row group tries a dictionary, the next fifteen start plain, the sixteenth
        // after the first tries again.
        assert_eq!(with_dictionary, [0, 16]);
        for group in 0..groups {
            let chunk = metadata.row_group(group).column(1);
            assert!(chunk.dictionary_page_offset().is_some(), "row group {group} keeps `few` keyed");
            assert!(chunk.page_encoding_stats_mask().unwrap().is_only(Encoding::RLE_DICTIONARY));
        }
        let plain = metadata.row_group(1).column(0);
        assert!(plain.page_encoding_stats_mask().unwrap().is_only(Encoding::PLAIN));
    }

    #[test]
    fn batches_of_one_value_are_written_as_one_run_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let schema = Arc::new(Schema::new(vec![Field::new("a", text_type(), true)]));
        let properties = WriterProperties::builder().set_statistics_enabled(EnabledStatistics::Chunk).build();
        let mut file = RowGroupFile::create(&path, schema.clone(), properties).unwrap();
        let mut group = file.start_row_group(Default::default());
        // One value each: new, new, seen before; shorter than a run and longer; then a batch of
        // one value with a null row, and one whose every key points at a null value.
        let batches: [(&[Option<&str>], usize); 5] =
            [(&[Some("solo")], 3), (&[Some("other")], 20), (&[Some("solo")], 9), (&[Some("solo")], 4), (&[None], 2)];
        let mut expected = Vec::new();
        for (i, (values, rows)) in batches.iter().enumerate() {
            let mut keys: Vec<Option<i32>> = vec![Some(0); *rows];
            if i == 3 {
                keys[1] = None;
            }
            expected.extend(keys.iter().map(|key| key.and(values[0]).map(str::to_owned)));
            let values: StringArray = values.iter().copied().collect();
            let column = DictionaryArray::<Int32Type>::try_new(keys.into(), Arc::new(values)).unwrap();
            let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(column)]).unwrap();
            file.append(&mut group, &batch, &[]).unwrap();
        }
        file.close_row_group(group, None).unwrap();
        file.finish(Vec::new()).unwrap();

        let (read, metadata) = first_column_text(&path);
        assert_eq!(read, expected);
        let Some(Statistics::ByteArray(statistics)) = metadata.row_group(0).column(0).statistics().cloned() else {
            panic!("no statistics")
        };
        let text = |v: Option<&ByteArray>| v.unwrap().as_utf8().unwrap().to_owned();
        assert_eq!((text(statistics.min_opt()), text(statistics.max_opt())), ("other".into(), "solo".into()));
        assert_eq!(statistics.null_count_opt(), Some(3));
    }

    #[test]
    fn plain_values_of_a_batch_are_cut_into_pages_with_their_nulls() {
        let long: Vec<String> =
            (0..60_000).map(|i| format!("arn:aws:apigateway:eu-west-1::/restapis/{i:0>44}")).collect();
        let a: Vec<Option<&str>> = long.iter().enumerate().map(|(i, v)| (i % 997 != 5).then_some(v.as_str())).collect();
        let batch = (a.clone(), vec!["k"; a.len()]);
        let (read, _, _) = round_trip(&[batch]);
        assert_eq!(read, a.iter().map(|v| v.map(str::to_owned)).collect::<Vec<_>>());

        let mut chunk = DictionaryChunk::new(required_text(), false, false);
        chunk.write(&long.iter().map(String::as_str).collect::<DictionaryArray<Int32Type>>()).unwrap();
        let bytes: usize = long.iter().map(|v| v.len() + 4).sum();
        assert!(chunk.pages.iter().all(|page| page.encoding() == Encoding::PLAIN));
        assert_eq!(chunk.pages.len(), bytes.div_ceil(PLAIN_PAGE_BYTES), "pages for {bytes} bytes");
        // A page stops at the first value that takes it to the limit.
        let value_bytes = long[0].len() + 4;
        let largest = chunk.pages.iter().map(CompressedPage::uncompressed_size).max().unwrap();
        assert!(largest < PLAIN_PAGE_BYTES + value_bytes, "a page of {largest} bytes");
    }

    /// A required text column `b`, as the store's schema describes one.
    fn required_text() -> ColumnDescPtr {
        Arc::new(parquet::schema::types::ColumnDescriptor::new(
            Arc::new(
                parquet::schema::types::Type::primitive_type_builder("b", parquet::basic::Type::BYTE_ARRAY)
                    .with_repetition(parquet::basic::Repetition::REQUIRED)
                    .build()
                    .unwrap(),
            ),
            0,
            0,
            parquet::schema::types::ColumnPath::from("b"),
        ))
    }

    #[test]
    fn once_the_dictionary_fills_every_later_page_is_plain() {
        let mut chunk = DictionaryChunk::new(required_text(), false, false);
        let long: Vec<String> = (0..20_000).map(|i| format!("{i:0>60}")).collect();
        let pages = |chunk: &DictionaryChunk| chunk.pages.iter().map(CompressedPage::encoding).collect::<Vec<_>>();
        chunk.write(&["k"].into_iter().collect::<DictionaryArray<Int32Type>>()).unwrap();
        chunk.write(&long.iter().map(String::as_str).collect::<DictionaryArray<Int32Type>>()).unwrap();
        // Both values are in the dictionary, or would fit in it: the chunk stays plain all the same.
        chunk.write(&["k", "new"].into_iter().collect::<DictionaryArray<Int32Type>>()).unwrap();
        // The long batch's 1.28 MB of values make two plain pages.
        assert_eq!(pages(&chunk), [Encoding::RLE_DICTIONARY, Encoding::PLAIN, Encoding::PLAIN, Encoding::PLAIN]);
    }

    #[test]
    fn a_null_in_a_required_column_is_an_error() {
        let mut chunk = DictionaryChunk::new(required_text(), false, false);
        let column: DictionaryArray<Int32Type> = [Some("k"), None].into_iter().collect();
        let error = chunk.write(&column).unwrap_err().to_string();
        assert!(error.contains("b is required but a row is null"), "{error}");
    }

    #[test]
    fn key_widths_cover_the_largest_id() {
        assert_eq!([0, 1, 2, 3, 4, 5, 256, 257].map(key_bit_width), [1, 1, 1, 2, 2, 3, 8, 9]);
    }
}
