//! API Gateway shapes beside each partition: the month's API Gateway lines summed per shape.
//!
//! What an API Gateway line's allocation depends on is its shape — account, region, usage
//! type, resource, line item type, charge class and tags — and its amounts. A report that does
//! not ask for the day needs nothing else, and a month holds a few tens of thousands of shapes
//! for millions of lines (one per resource, usage type and day, or per hour). The shapes are
//! summed from the partition file's API Gateway row groups once it is written, and read
//! instead of its lines when they can answer; `companion` links the two.

use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type};
use arrow_array::{
    Array, ArrayRef, Decimal128Array, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{Schema, SchemaRef};
use curwatch_schema::columns::{
    ACCOUNT_ID, AMORTIZED_COST, API_GATEWAY_SERVICE, BILLING_PERIOD, CHARGE_CLASS, LINE_ITEM_TYPE, NET_UNBLENDED_COST,
    REGION, RESOURCE_ID, SERVICE, TAGS, UNBLENDED_COST, USAGE_AMOUNT, USAGE_START, USAGE_TYPE, map_array, money_type,
    text_type,
};
use curwatch_schema::intern::Interner;
use curwatch_schema::{BillingPeriod, canonical_schema};

use hashbrown::HashTable;
use twox_hash::XxHash3_128;

use crate::compact::{Chunks, IdLists};
use crate::companion::SHAPES;
use crate::error::StoreError;
use crate::maps::MapText;
use crate::scan::Scan;
use crate::summary::{Amounts, Sums};
use crate::writer::split_by_service;

/// The text columns a shape is keyed by, beside its tags.
const SHAPE_TEXT_COLUMNS: [&str; 8] =
    [BILLING_PERIOD, ACCOUNT_ID, LINE_ITEM_TYPE, CHARGE_CLASS, SERVICE, REGION, USAGE_TYPE, RESOURCE_ID];

/// The columns of a shapes file, in the canonical schema's order.
const SHAPE_COLUMNS: [&str; 14] = [
    BILLING_PERIOD,
    USAGE_START,
    ACCOUNT_ID,
    LINE_ITEM_TYPE,
    CHARGE_CLASS,
    SERVICE,
    REGION,
    USAGE_TYPE,
    RESOURCE_ID,
    USAGE_AMOUNT,
    UNBLENDED_COST,
    NET_UNBLENDED_COST,
    AMORTIZED_COST,
    TAGS,
];

/// Whether a shapes file holds `column`. Its `usage_start` is the billing period's first day.
pub fn shapes_have(column: &str) -> bool {
    SHAPE_COLUMNS.contains(&column)
}

/// A tag value of empty text, which the interner would take for none: tags without a value
/// are left out of a shape, an empty value is kept.
const EMPTY_VALUE: u32 = u32::MAX;

/// API Gateway rows summed per shape, read back from a finished partition file.
///
/// Shapes grow with the month (78,340 of them at 40M lines), so each takes 80 bytes: what
/// sets it apart from the shapes beside it is its resource and its context — its dictionary
/// texts and tags, which many shapes share — kept once in `contexts`.
pub(crate) struct GatewayShapes {
    /// Midnight UTC of the billing period's first day, in microseconds.
    first_day: i64,
    strings: Interner,
    /// Ids of the dictionary entries of each shape text column but the resource id.
    entry_ids: [EntryIds; DICTIONARY_TEXTS],
    /// Each distinct context's ids: its dictionary texts' ids in `SHAPE_TEXT_COLUMNS` order,
    /// then each tag's key and value id in text order.
    contexts: IdLists,
    /// Each shape's place in `shapes`, found by the fingerprint of a row's text (see `add`).
    /// A table of places rather than a map from fingerprints: four bytes a slot instead of
    /// thirty-two.
    index: HashTable<u32>,
    /// In chunks, so that growing copies nothing and reserves at most a chunk.
    shapes: Chunks<Shape>,
}

/// The shape text columns read through their dictionaries: all but the resource id.
const DICTIONARY_TEXTS: usize = SHAPE_TEXT_COLUMNS.len() - 1;

/// One shape: the fingerprint rows find it by, its exact costs, its usage as the lines report
/// it, and its ids. 80 bytes, without padding.
struct Shape {
    fingerprint: u128,
    costs: Sums,
    usage: f64,
    context: u32,
    resource: u32,
}

impl GatewayShapes {
    pub(crate) fn new(period: BillingPeriod) -> Self {
        let first_day = period.first_day().and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp_micros();
        GatewayShapes {
            first_day,
            strings: Interner::default(),
            entry_ids: Default::default(),
            contexts: IdLists::default(),
            index: HashTable::new(),
            shapes: Chunks::default(),
        }
    }

    /// The shapes of a finished partition file, summed from its API Gateway row groups.
    ///
    /// Read back rather than kept while the partition is written: the shapes are what a
    /// month's writer would otherwise hold to the end, growing with the month (11 MB at 40M
    /// lines). Reading back the API Gateway rows — a twentieth of the lines, in row groups of
    /// their own, resource ids as plain text, decoded on every core and summed on this thread —
    /// took 0.46–0.65 s at 40M lines and 93–100 ms at 10M in a timing build (0.74–1.05 s and
    /// 142–144 ms decoding on this thread alone); it happens once decoding's buffers are gone,
    /// in batches small enough to add little beside the shapes. Rows come in the order they
    /// were written, so the shapes and their order are those summing them on the way in gave.
    pub(crate) fn read_back(partition: &Path, period: BillingPeriod) -> Result<Self, StoreError> {
        let mut shapes = GatewayShapes::new(period);
        let columns: Vec<&str> = SHAPE_TEXT_COLUMNS
            .iter()
            .chain(&[USAGE_AMOUNT, UNBLENDED_COST, NET_UNBLENDED_COST, AMORTIZED_COST, TAGS])
            .copied()
            .collect();
        let file = vec![partition.to_owned()];
        let plain = [RESOURCE_ID];
        let service = Some(API_GATEWAY_SERVICE);
        for batch in Scan::in_batches_of(READ_BACK_ROWS, file, &columns, &plain, service, Arc::new(|batch| batch)) {
            // A row group kept for its statistics may hold other lines; only the store's own
            // API Gateway row groups are read, but rows are checked all the same.
            if let (Some(gateway), _) = split_by_service(&batch?, API_GATEWAY_SERVICE)? {
                shapes.add(&gateway)?;
            }
        }
        Ok(shapes)
    }

    /// Adds canonical rows, every one an API Gateway line.
    ///
    /// A row is looked up by a 128-bit fingerprint (XXH3) of what it holds: the interned ids
    /// of its dictionary texts (each dictionary entry interned once, while batches share the
    /// dictionary), its length-prefixed resource id, then its tag entries' lengths and bytes in
    /// their order. That costs one short hash and one lookup per row, with no sorting. Only a
    /// fingerprint not seen before has its shape worked out: tags without a value dropped, the
    /// rest sorted and interned. Rows whose tags came in another order get shapes of the same
    /// ids, merged on writing. Two rows could share a fingerprint only if 128-bit hashes collide
    /// (about 10⁻²⁷ for a million shapes); even then no cost would be lost.
    pub(crate) fn add(&mut self, batch: &RecordBatch) -> Result<(), StoreError> {
        let dictionary_texts = SHAPE_TEXT_COLUMNS[..DICTIONARY_TEXTS]
            .iter()
            .map(|name| {
                let dict = batch.column_by_name(name).and_then(|c| c.as_dictionary_opt::<Int32Type>());
                let values = dict.and_then(|d| Some((d.values(), d.values().as_string_opt::<i32>()?)));
                match (dict, values) {
                    (Some(dict), Some((array, values))) => Ok((dict.keys(), array, values)),
                    _ => Err(StoreError::Invalid(format!("`{name}` is not dictionary text"))),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Resource ids come as text or dictionary text: read back from a month past its
        // dictionary, they are plain, and decoding them into a dictionary would hash each.
        let resources = batch
            .column_by_name(RESOURCE_ID)
            .and_then(MapText::of)
            .ok_or_else(|| StoreError::Invalid(format!("`{RESOURCE_ID}` is not text")))?;
        for ((_, array, _), entry_ids) in dictionary_texts.iter().zip(&mut self.entry_ids) {
            entry_ids.follow(array);
        }
        let amounts = Amounts::of(batch)?;
        let usage = batch
            .column_by_name(USAGE_AMOUNT)
            .and_then(|c| c.as_primitive_opt::<Float64Type>())
            .ok_or_else(|| StoreError::Invalid(format!("`{USAGE_AMOUNT}` is not a float")))?;
        let tags = batch
            .column_by_name(TAGS)
            .and_then(|c| c.as_map_opt())
            .ok_or_else(|| StoreError::Invalid(format!("`{TAGS}` is not a map")))?;
        let not_text = || StoreError::Invalid(format!("`{TAGS}` is not a map of text"));
        let tag_keys = MapText::of(tags.keys()).ok_or_else(not_text)?;
        let tag_values = MapText::of(tags.values()).ok_or_else(not_text)?;
        let offsets = tags.value_offsets();

        let GatewayShapes { strings, entry_ids, contexts, index, shapes, .. } = self;
        let (mut text_ids, mut bytes, mut context) = (Vec::new(), Vec::new(), Vec::<u32>::new());
        for row in 0..batch.num_rows() {
            text_ids.clear();
            for ((keys, _, values), entry_ids) in dictionary_texts.iter().zip(entry_ids.iter_mut()) {
                let id = if keys.is_valid(row) { entry_ids.id(strings, values, keys.value(row) as usize) } else { 0 };
                text_ids.push(id);
            }
            let resource = resources.get(row).filter(|v| !v.is_empty());
            bytes.clear();
            bytes.extend(text_ids.iter().flat_map(|id| id.to_le_bytes()));
            // A length, or u32::MAX for none: parts never run into each other.
            bytes.extend_from_slice(&resource.map_or(u32::MAX, |r| r.len() as u32).to_le_bytes());
            bytes.extend_from_slice(resource.unwrap_or_default().as_bytes());
            let entries = if tags.is_valid(row) { offsets[row] as usize..offsets[row + 1] as usize } else { 0..0 };
            for entry in entries.clone() {
                let value = tag_values.get(entry).map(|v| v.len() as u32);
                bytes.extend_from_slice(&(tag_keys.value(entry).len() as u32).to_le_bytes());
                bytes.extend_from_slice(&value.unwrap_or(u32::MAX).to_le_bytes());
            }
            for entry in entries.clone() {
                bytes.extend_from_slice(tag_keys.value(entry).as_bytes());
                bytes.extend_from_slice(tag_values.get(entry).unwrap_or_default().as_bytes());
            }
            let fingerprint = XxHash3_128::oneshot(&bytes);
            // The fingerprint's low half is already a good hash.
            let found = index.find(fingerprint as u64, |&place| shapes.get(place).fingerprint == fingerprint);
            let place = match found {
                Some(&place) => place,
                None => {
                    let mut pairs: Vec<(&str, &str)> =
                        entries.filter_map(|e| Some((tag_keys.value(e), tag_values.get(e)?))).collect();
                    pairs.sort_unstable();
                    context.clear();
                    context.extend_from_slice(&text_ids);
                    for (key, value) in pairs {
                        context.push(strings.id(Some(key)));
                        context.push(if value.is_empty() { EMPTY_VALUE } else { strings.id(Some(value)) });
                    }
                    let shape = Shape {
                        fingerprint,
                        costs: Sums::default(),
                        usage: 0.0,
                        context: contexts.id(&context),
                        resource: strings.id(resource),
                    };
                    let place = shapes.push(shape);
                    index.insert_unique(fingerprint as u64, place, |&p| shapes.get(p).fingerprint as u64);
                    place
                }
            };
            let shape = shapes.get_mut(place);
            amounts.add_row(&mut shape.costs, row);
            shape.usage += if usage.is_valid(row) { usage.value(row) } else { 0.0 };
        }
        Ok(())
    }

    /// Writes the shapes as Parquet, with `id` linking them to their partition file (see
    /// `companion`). Rows are ordered by their ids (so by first appearance of their texts), and
    /// rows whose tags came in different orders are merged here. Row groups of
    /// `SHAPE_ROW_GROUP_ROWS` let readers decode on every core; batches are built one row group
    /// at a time.
    pub(crate) fn write(mut self, path: &Path, id: &str) -> Result<(), StoreError> {
        let order = self.merge_same_ids();
        let mut scratch = Vec::new();
        let batches = order.chunks(SHAPE_ROW_GROUP_ROWS).map(|places| self.batch(places, &mut scratch));
        SHAPES.write(path, shapes_schema(), batches, SHAPE_ROW_GROUP_ROWS, id)
    }

    /// The text of an id, `EMPTY_VALUE` included.
    fn text(&self, id: u32) -> Option<&str> {
        if id == EMPTY_VALUE { Some("") } else { self.strings.get(id) }
    }

    /// The shapes at `places` as a batch of the shapes file; `scratch` as
    /// [`Interner::dictionary_of`] takes it.
    fn batch(&self, places: &[u32], scratch: &mut Vec<i32>) -> Result<RecordBatch, StoreError> {
        let shapes = || places.iter().map(|&place| self.shapes.get(place));
        let context = |shape: &Shape| self.contexts.get(shape.context);
        let mut text_column = |i: usize| -> ArrayRef {
            let id = |shape: &Shape| if i < DICTIONARY_TEXTS { context(shape)[i] } else { shape.resource };
            Arc::new(self.strings.dictionary_of(shapes().map(id), scratch))
        };
        let money = |amount: fn(&Sums) -> i128| -> ArrayRef {
            let values = Decimal128Array::from_iter_values(shapes().map(|s| amount(&s.costs)));
            Arc::new(values.with_data_type(money_type()))
        };
        let (mut offsets, mut tag_keys, mut tag_values) = (vec![0i32], Vec::new(), Vec::new());
        for shape in shapes() {
            for pair in context(shape)[DICTIONARY_TEXTS..].chunks_exact(2) {
                tag_keys.push(self.text(pair[0]).unwrap_or_default());
                tag_values.push(self.text(pair[1]));
            }
            offsets.push(tag_keys.len() as i32);
        }
        let first_day = TimestampMicrosecondArray::from(vec![self.first_day; places.len()]).with_timezone("UTC");
        let columns: Vec<ArrayRef> = vec![
            text_column(0),
            Arc::new(first_day),
            text_column(1),
            text_column(2),
            text_column(3),
            text_column(4),
            text_column(5),
            text_column(6),
            text_column(7),
            Arc::new(Float64Array::from_iter_values(shapes().map(|s| s.usage))),
            money(|s| s.unblended),
            money(|s| s.net),
            money(|s| s.amortized),
            Arc::new(map_array(offsets, StringArray::from(tag_keys), StringArray::from(tag_values))),
        ];
        RecordBatch::try_new(shapes_schema(), columns).map_err(|e| StoreError::Invalid(e.to_string()))
    }

    /// The places of the shapes to write, ordered by their ids, those of the same ids (rows
    /// whose tags came in different orders had different fingerprints) summed into the first
    /// of them.
    fn merge_same_ids(&mut self) -> Vec<u32> {
        let text_ranks = self.contexts.ranks_by(|ids| &ids[..DICTIONARY_TEXTS]);
        let tag_ranks = self.contexts.ranks_by(|ids| &ids[DICTIONARY_TEXTS..]);
        // A shape's ids in the order they compare (texts, resource, tags), then its place, in
        // one number: sorting the numbers sorts the shapes without looking anything up.
        let mut keys: Vec<u128> = (0..self.shapes.len())
            .map(|place| {
                let shape = self.shapes.get(place);
                let context = shape.context as usize;
                u128::from(text_ranks[context]) << 96
                    | u128::from(shape.resource) << 64
                    | u128::from(tag_ranks[context]) << 32
                    | u128::from(place)
            })
            .collect();
        keys.sort_unstable();
        let mut kept: Vec<u32> = Vec::with_capacity(keys.len());
        let mut kept_ids = None;
        for key in keys {
            let (ids, place) = (key >> 32, key as u32);
            match kept.last() {
                Some(&first) if kept_ids == Some(ids) => {
                    let later = self.shapes.get_mut(place);
                    let (costs, usage) = (std::mem::take(&mut later.costs), std::mem::take(&mut later.usage));
                    let first = self.shapes.get_mut(first);
                    first.costs.add(&costs);
                    first.usage += usage;
                }
                _ => {
                    kept.push(place);
                    kept_ids = Some(ids);
                }
            }
        }
        kept
    }
}

/// Interned ids of one dictionary column's entries, each looked up on first use, kept while
/// batches share the dictionary (batches cut from one source row group do).
#[derive(Default)]
struct EntryIds {
    dictionary: Option<ArrayRef>,
    ids: Vec<u32>,
}

/// An entry whose id has not been looked up yet.
const UNSEEN: u32 = u32::MAX;

impl EntryIds {
    /// Starts over when `dictionary` is not the one the ids are of.
    fn follow(&mut self, dictionary: &ArrayRef) {
        if !self.dictionary.as_ref().is_some_and(|known| Arc::ptr_eq(known, dictionary)) {
            self.dictionary = Some(Arc::clone(dictionary));
            self.ids.clear();
            self.ids.resize(dictionary.len(), UNSEEN);
        }
    }

    fn id(&mut self, strings: &mut Interner, values: &StringArray, entry: usize) -> u32 {
        let id = &mut self.ids[entry];
        if *id == UNSEEN {
            *id = strings.id(values.is_valid(entry).then(|| values.value(entry)));
        }
        *id
    }
}

/// Rows per batch read back: enough that a batch's overhead is small, few enough that its
/// arrays stay small beside the shapes.
const READ_BACK_ROWS: usize = 8_192;

/// Rows per row group of a shapes file.
const SHAPE_ROW_GROUP_ROWS: usize = 8_192;

/// The canonical schema's fields of `SHAPE_COLUMNS`; text may be null, since empty text is
/// written as none.
fn shapes_schema() -> SchemaRef {
    let canonical = canonical_schema();
    let fields: Vec<_> = SHAPE_COLUMNS
        .iter()
        .map(|name| {
            let field = canonical.field_with_name(name).expect("a canonical column");
            let text = *field.data_type() == text_type();
            field.clone().with_nullable(field.is_nullable() || text)
        })
        .collect();
    Arc::new(Schema::new(fields))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::types::Decimal128Type;
    use arrow_array::{DictionaryArray, new_null_array};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    /// Canonical rows with the given accounts, tags, unblended, net and amortized costs and
    /// usage; every other text column one value.
    #[allow(clippy::type_complexity)]
    fn batch(rows: &[(Option<&str>, &[(&str, Option<&str>)], i128, Option<i128>, Option<i128>, f64)]) -> RecordBatch {
        let len = rows.len();
        let schema = canonical_schema();
        let (mut offsets, mut keys, mut values) = (vec![0i32], Vec::new(), Vec::new());
        for (_, tags, ..) in rows {
            for (key, value) in *tags {
                keys.push(*key);
                values.push(*value);
            }
            offsets.push(keys.len() as i32);
        }
        let money = |values: Vec<Option<i128>>| -> ArrayRef {
            Arc::new(Decimal128Array::from(values).with_data_type(money_type()))
        };
        let columns = schema
            .fields()
            .iter()
            .map(|field| -> ArrayRef {
                match field.name().as_str() {
                    ACCOUNT_ID => Arc::new(rows.iter().map(|r| r.0).collect::<DictionaryArray<Int32Type>>()),
                    TAGS => Arc::new(map_array(
                        offsets.clone(),
                        StringArray::from(keys.clone()),
                        StringArray::from(values.clone()),
                    )),
                    UNBLENDED_COST => money(rows.iter().map(|r| Some(r.2)).collect()),
                    NET_UNBLENDED_COST => money(rows.iter().map(|r| r.3).collect()),
                    AMORTIZED_COST => money(rows.iter().map(|r| r.4.or(Some(0))).collect()),
                    USAGE_AMOUNT => Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.5))),
                    USAGE_START => Arc::new(TimestampMicrosecondArray::from(vec![7; len]).with_timezone("UTC")),
                    _ if *field.data_type() == text_type() => {
                        Arc::new(vec![Some("x"); len].into_iter().collect::<DictionaryArray<Int32Type>>())
                    }
                    _ => new_null_array(field.data_type(), len),
                }
            })
            .collect();
        RecordBatch::try_new(schema, columns).unwrap()
    }

    #[test]
    fn lines_of_one_shape_are_summed_whatever_their_tag_order() {
        let team_prod: &[(&str, Option<&str>)] = &[("team", Some("x")), ("env", Some("prod"))];
        let prod_team: &[(&str, Option<&str>)] = &[("env", Some("prod")), ("team", Some("x"))];
        let with_unset: &[(&str, Option<&str>)] = &[("team", Some("x")), ("owner", None), ("env", Some("prod"))];
        let empty_team: &[(&str, Option<&str>)] = &[("team", Some(""))];
        let mut shapes = GatewayShapes::new("2024-03".parse().unwrap());
        // Five rows, three shapes; the first two rows' tags come in different orders.
        shapes
            .add(&batch(&[
                (Some("a"), team_prod, 5, None, Some(4), 1.0),
                (Some("a"), prod_team, 7, Some(6), None, 2.0),
                // A tag without a value is no tag.
                (Some("a"), with_unset, 1, Some(1), Some(1), 0.5),
                // An empty value is a value; empty text and none are one account.
                (Some("b"), empty_team, 2, None, None, 0.0),
                (Some(""), &[], 3, None, None, 0.0),
            ]))
            .unwrap();
        shapes.add(&batch(&[(None, &[], 10, Some(9), Some(8), 4.0)])).unwrap();

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shapes.parquet");
        shapes.write(&path, "generation").unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
        let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
        let batch = arrow_select::concat::concat_batches(&shapes_schema(), &batches).unwrap();
        assert_eq!(batch.num_rows(), 3);
        let accounts = batch.column_by_name(ACCOUNT_ID).unwrap().as_dictionary::<Int32Type>();
        let account = |row: usize| {
            accounts
                .is_valid(row)
                .then(|| accounts.values().as_string::<i32>().value(accounts.keys().value(row) as usize))
        };
        let decimal =
            |name: &str| batch.column_by_name(name).unwrap().as_primitive::<Decimal128Type>().values().to_vec();
        let usage = batch.column_by_name(USAGE_AMOUNT).unwrap().as_primitive::<Float64Type>().values().to_vec();
        // Ordered by ids: none is id 0.
        assert_eq!([account(0), account(1), account(2)], [None, Some("a"), Some("b")]);
        assert_eq!(decimal(UNBLENDED_COST), [13, 13, 2]);
        assert_eq!(decimal(NET_UNBLENDED_COST), [12, 12, 2], "net falls back to unblended per line");
        assert_eq!(decimal(AMORTIZED_COST), [8, 5, 0]);
        assert_eq!(usage, [4.0, 3.5, 0.0]);
        let tags = batch.column_by_name(TAGS).unwrap().as_map();
        let pairs = |row: usize| -> Vec<(String, Option<String>)> {
            let entries = tags.value(row);
            let (keys, values) = (entries.column(0).as_string::<i32>(), entries.column(1).as_string::<i32>());
            let mut pairs: Vec<_> = (0..keys.len())
                .map(|i| (keys.value(i).to_owned(), values.is_valid(i).then(|| values.value(i).to_owned())))
                .collect();
            pairs.sort();
            pairs
        };
        assert_eq!(pairs(0), []);
        assert_eq!(pairs(1), [("env".into(), Some("prod".into())), ("team".into(), Some("x".into()))]);
        assert_eq!(pairs(2), [("team".into(), Some(String::new()))]);
        let starts =
            batch.column_by_name(USAGE_START).unwrap().as_primitive::<arrow_array::types::TimestampMicrosecondType>();
        assert_eq!(starts.value(0), 1_709_251_200_000_000, "2024-03-01T00:00:00Z");
        let footer = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap()).unwrap();
        let links = footer.metadata().file_metadata().key_value_metadata().unwrap();
        assert!(
            links.iter().any(|kv| kv.key == "curwatch.gateway_shapes_id" && kv.value.as_deref() == Some("generation"))
        );
    }

    #[test]
    fn a_shape_takes_eighty_bytes() {
        // Shapes grow with the month: their fields leave no padding.
        assert_eq!(std::mem::size_of::<Shape>(), 80);
    }

    #[test]
    fn resource_ids_as_plain_text_give_the_shapes_dictionary_text_gives() {
        let resources = [Some("r1"), None, Some(""), Some("r2"), Some("r1")];
        let rows: Vec<_> = resources.iter().map(|_| (Some("a"), &[][..], 3, None, None, 1.0)).collect();
        let with_resources = |column: ArrayRef| {
            let batch = batch(&rows);
            let mut columns = batch.columns().to_vec();
            columns[batch.schema().index_of(RESOURCE_ID).unwrap()] = column;
            RecordBatch::try_new_with_options(
                Arc::new(Schema::new(
                    batch
                        .schema()
                        .fields()
                        .iter()
                        .zip(&columns)
                        .map(|(f, c)| f.as_ref().clone().with_data_type(c.data_type().clone()))
                        .collect::<Vec<_>>(),
                )),
                columns,
                &Default::default(),
            )
            .unwrap()
        };
        let dir = tempfile::tempdir().unwrap();
        let written = |column: ArrayRef, name: &str| {
            let mut shapes = GatewayShapes::new("2024-03".parse().unwrap());
            shapes.add(&with_resources(column)).unwrap();
            let path = dir.path().join(name);
            shapes.write(&path, "id").unwrap();
            std::fs::read(path).unwrap()
        };
        let plain = written(Arc::new(StringArray::from(resources.to_vec())), "plain.parquet");
        let dictionary =
            written(Arc::new(resources.iter().copied().collect::<DictionaryArray<Int32Type>>()), "dictionary.parquet");
        assert!(plain == dictionary, "the same shapes file");
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(plain)).unwrap().build().unwrap();
        assert_eq!(reader.map(|b| b.unwrap().num_rows()).sum::<usize>(), 3, "r1, r2 and none (empty counts as none)");
    }

    #[test]
    fn many_shapes_are_written_in_row_groups_and_nothing_is_lost() {
        let accounts: Vec<String> = (0..20_000).map(|i| format!("a{i}")).collect();
        let rows: Vec<_> =
            accounts.iter().enumerate().map(|(i, a)| (Some(a.as_str()), &[][..], i as i128, None, None, 1.0)).collect();
        let mut shapes = GatewayShapes::new("2024-03".parse().unwrap());
        // The same lines twice, in batches of their own dictionaries and in another order.
        shapes.add(&batch(&rows)).unwrap();
        let reversed: Vec<_> = rows.iter().rev().cloned().collect();
        shapes.add(&batch(&reversed)).unwrap();

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shapes.parquet");
        shapes.write(&path, "id").unwrap();
        let builder = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap()).unwrap();
        assert_eq!(builder.metadata().num_row_groups(), 3, "8,192 rows a row group");
        let (mut count, mut units, mut usage) = (0, 0i128, 0.0);
        for batch in builder.build().unwrap() {
            let batch = batch.unwrap();
            count += batch.num_rows();
            units += batch
                .column_by_name(UNBLENDED_COST)
                .unwrap()
                .as_primitive::<Decimal128Type>()
                .values()
                .iter()
                .sum::<i128>();
            usage +=
                batch.column_by_name(USAGE_AMOUNT).unwrap().as_primitive::<Float64Type>().values().iter().sum::<f64>();
        }
        assert_eq!(count, 20_000);
        assert_eq!(units, 2 * (0..20_000i128).sum::<i128>());
        assert_eq!(usage, 40_000.0);
    }
}
