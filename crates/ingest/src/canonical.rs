//! Assembling canonical batches from per-column values.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{StringBuilder, StringDictionaryBuilder};
use arrow_array::types::Int32Type;
use arrow_array::{
    Array, ArrayRef, Decimal128Array, DictionaryArray, Float64Array, Int32Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_buffer::NullBuffer;
use curwatch_schema::columns::tag_map_array;
use curwatch_schema::money::{SCALE, STORED_PRECISION};
use curwatch_schema::naming::tag_key;
use curwatch_schema::{BillingPeriod, ChargeClass, Money, canonical_batch_schema};

use crate::error::ErrorKind;
use crate::source::{MoneyColumn, RawBatch, TextColumn};

/// Identity stamped on every row of one source file.
#[derive(Debug, Clone)]
pub struct FileContext {
    /// The export the file belongs to (see `docs/schema.md`).
    pub export: String,
    /// How the file is named in the store and in messages: a bucket key or a relative path.
    pub source_file: String,
}

/// Every canonical column of one batch, in schema order.
pub(crate) struct CanonicalColumns {
    pub billing_period: Vec<BillingPeriod>,
    /// Every row has one (canonicalising checks).
    pub usage_start: TimestampMicrosecondArray,
    pub usage_end: TimestampMicrosecondArray,
    pub payer_account_id: ArrayRef,
    pub account_id: ArrayRef,
    pub line_item_type: ArrayRef,
    pub charge_class: Vec<ChargeClass>,
    pub provider: ArrayRef,
    pub service: ArrayRef,
    pub service_name: ArrayRef,
    pub region: ArrayRef,
    pub usage_type: ArrayRef,
    pub operation: ArrayRef,
    pub resource_id: ArrayRef,
    pub usage_amount: Float64Array,
    pub pricing_unit: ArrayRef,
    pub currency: ArrayRef,
    pub unblended_cost: Vec<Money>,
    /// `None` when no row has a net cost.
    pub net_unblended_cost: Option<MoneyColumn>,
    pub amortized_cost: Vec<Money>,
    pub tags: ArrayRef,
    pub cost_categories: ArrayRef,
}

impl CanonicalColumns {
    pub fn into_batch(self, ctx: &FileContext) -> Result<RecordBatch, ErrorKind> {
        let len = self.billing_period.len();
        let columns: Vec<ArrayRef> = vec![
            few_values_text(&self.billing_period, |p| p.to_string()),
            Arc::new(self.usage_start.with_timezone("UTC")),
            Arc::new(self.usage_end.with_timezone("UTC")),
            self.payer_account_id,
            self.account_id,
            self.line_item_type,
            few_values_text(&self.charge_class, |c| c.as_str().to_owned()),
            self.provider,
            self.service,
            self.service_name,
            self.region,
            self.usage_type,
            self.operation,
            self.resource_id,
            Arc::new(self.usage_amount),
            self.pricing_unit,
            self.currency,
            money_array(self.unblended_cost)?,
            optional_money_array(self.net_unblended_cost, len)?,
            money_array(self.amortized_cost)?,
            self.tags,
            self.cost_categories,
            constant_text(&ctx.export, len),
            constant_text(&ctx.source_file, len),
        ];
        RecordBatch::try_new(canonical_batch_schema(), columns)
            .map_err(|e| ErrorKind::Unsupported(format!("internal schema mismatch: {e}")))
    }
}

/// Dictionary-encoded text; empty strings become null, as exports mean by them.
pub(crate) fn text_array<'a>(values: impl Iterator<Item = Option<&'a str>>, len: usize) -> ArrayRef {
    let mut builder = StringDictionaryBuilder::<Int32Type>::with_capacity(len, 64, 1024);
    for value in values {
        match value {
            Some(v) if !v.is_empty() => builder.append_value(v),
            _ => builder.append_null(),
        }
    }
    Arc::new(builder.finish())
}

/// Dictionary text of a column with a handful of distinct values (billing periods, charge
/// classes): each row is a key found among those few, each value formatted once.
fn few_values_text<T: Copy + PartialEq>(values: &[T], label: impl Fn(T) -> String) -> ArrayRef {
    let mut distinct: Vec<T> = Vec::new();
    let keys: Vec<i32> = values
        .iter()
        .map(|value| {
            let key = distinct.iter().position(|d| d == value).unwrap_or_else(|| {
                distinct.push(*value);
                distinct.len() - 1
            });
            key as i32
        })
        .collect();
    let labels = StringArray::from_iter_values(distinct.into_iter().map(label));
    Arc::new(DictionaryArray::<Int32Type>::try_new(Int32Array::from(keys), Arc::new(labels)).expect("keys in range"))
}

/// Text from an optional source column (absent = all null).
pub(crate) fn text_column(source: Option<&StringArray>, len: usize) -> ArrayRef {
    match source {
        Some(array) => text_array(array.iter(), len),
        None => text_array(std::iter::repeat_n(None, len), len),
    }
}

/// One value repeated: a one-entry dictionary, no per-row work. Every batch of a file holds
/// the same few (its export, its name, the provider), so the last ones made on this thread are
/// handed out again rather than rebuilt.
pub(crate) fn constant_text(value: &str, len: usize) -> ArrayRef {
    thread_local! {
        static RECENT: std::cell::RefCell<Vec<(String, usize, ArrayRef)>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    /// Enough for a file's constant columns.
    const KEPT: usize = 4;
    RECENT.with_borrow_mut(|recent| {
        if let Some((_, _, array)) = recent.iter().find(|(v, n, _)| *n == len && v == value) {
            return array.clone();
        }
        let keys = Int32Array::from(vec![0; len]);
        let values = StringArray::from(vec![value]);
        let array: ArrayRef =
            Arc::new(DictionaryArray::<Int32Type>::try_new(keys, Arc::new(values)).expect("key 0 is in range"));
        if recent.len() == KEPT {
            recent.remove(0);
        }
        recent.push((value.to_owned(), len, array.clone()));
        array
    })
}

/// A money column without nulls.
fn money_array(values: Vec<Money>) -> Result<ArrayRef, ErrorKind> {
    decimal_array(values.into_iter().map(Money::units).collect(), None)
}

/// A money column with nulls (stored as zero units under the null mask); all null without one.
fn optional_money_array(column: Option<MoneyColumn>, len: usize) -> Result<ArrayRef, ErrorKind> {
    match column.map(MoneyColumn::into_parts) {
        Some((units, nulls)) => decimal_array(units, nulls),
        None => decimal_array(vec![0; len], Some(NullBuffer::new_null(len))),
    }
}

fn decimal_array(units: Vec<i128>, nulls: Option<NullBuffer>) -> Result<ArrayRef, ErrorKind> {
    let limit = 10_u128.pow(u32::from(STORED_PRECISION));
    // One pass without an early exit, which the compiler unrolls; the amount is found after.
    if units.iter().fold(false, |over, u| over | (u.unsigned_abs() >= limit)) {
        let too_large = *units.iter().find(|u| u.unsigned_abs() >= limit).expect("one is too large");
        return Err(ErrorKind::Unsupported(format!(
            "a single line item of {} exceeds the largest amount stored ({} digits)",
            Money::from_units(too_large).to_exact_string(),
            STORED_PRECISION - SCALE as u8
        )));
    }
    let array = Decimal128Array::new(units.into(), nulls)
        .with_precision_and_scale(STORED_PRECISION, SCALE as i8)
        .expect("valid precision and scale");
    Ok(Arc::new(array))
}

/// A `tags` or `cost_categories` column from a source map column (Arrow map or JSON text).
pub(crate) fn map_from_source(raw: &RawBatch, name: &str) -> Result<ArrayRef, ErrorKind> {
    let len = raw.len();
    let mut builder = TagMapBuilder::new(len);
    let source = raw.map(name)?;
    for row in 0..len {
        if let Some(source) = &source {
            raw.for_each_entry(source, name, row, |key, value| builder.push_raw(key, value))?;
        }
        builder.end_row();
    }
    Ok(builder.finish())
}

/// A `tags` or `cost_categories` map from one text column per key (legacy CUR's
/// `resource_tags_user_team`, ...), given in column order with their keys normalised: where
/// several columns share a key, the first with text in a row gives the row its value (AWS
/// merges colliding tag columns the same way); empty text adds no entry.
///
/// Such columns are sparse — a line has under one tag across all of them — so entries are
/// gathered column by column, skipping null rows a bitmap word at a time, and then placed by
/// row, instead of asking every column for every row. The map's keys and values are
/// dictionary text pointing into the columns' own values (their dictionaries, or a plain
/// column's rows), one after another: no entry's text is copied.
pub(crate) fn sparse_map(len: usize, columns: &[(String, TextColumn<'_>)]) -> Result<ArrayRef, ErrorKind> {
    if let [(key, text)] = columns {
        return Ok(one_column_map(len, key, text));
    }
    // The distinct keys, and each column's among them.
    let mut keys: Vec<&str> = Vec::new();
    let key_of: Vec<i32> = columns
        .iter()
        .map(|(key, _)| {
            let place = keys.iter().position(|k| k == key).unwrap_or_else(|| {
                keys.push(key);
                keys.len() - 1
            });
            place as i32
        })
        .collect();
    // Rows a key already has, for keys that several columns share.
    let mut taken: Vec<Option<Vec<bool>>> = vec![None; keys.len()];
    for &key in &key_of {
        if key_of.iter().filter(|&&k| k == key).count() > 1 {
            taken[key as usize].get_or_insert_with(|| vec![false; len]);
        }
    }
    let parts: Vec<&dyn Array> = columns.iter().map(|(_, text)| text.values() as &dyn Array).collect();
    let values = if parts.is_empty() {
        Arc::new(StringArray::new_null(0)) as ArrayRef
    } else {
        arrow_select::concat::concat(&parts)
            .map_err(|e| ErrorKind::Unsupported(format!("tag columns too large for one batch: {e}")))?
    };
    let mut found: Vec<(u32, i32, i32)> = Vec::new();
    let mut start = 0;
    for ((_, text), &key) in columns.iter().zip(&key_of) {
        let mut rows_taken = taken[key as usize].as_mut();
        text.for_each_text(|row, value| {
            if let Some(rows_taken) = rows_taken.as_deref_mut()
                && std::mem::replace(&mut rows_taken[row], true)
            {
                return;
            }
            found.push((row as u32, key, (start + value) as i32));
        });
        start += text.values().len();
    }
    // A counting sort by row, stable: within a row, entries stay in column order.
    let mut offsets = vec![0i32; len + 1];
    for &(row, ..) in &found {
        offsets[row as usize + 1] += 1;
    }
    for row in 0..len {
        offsets[row + 1] += offsets[row];
    }
    let mut next_slot = offsets[..len].to_vec();
    let (mut entry_keys, mut entry_values) = (vec![0i32; found.len()], vec![0i32; found.len()]);
    for &(row, key, value) in &found {
        let slot = &mut next_slot[row as usize];
        entry_keys[*slot as usize] = key;
        entry_values[*slot as usize] = value;
        *slot += 1;
    }
    Ok(Arc::new(tag_map_array(
        offsets,
        entry_text(entry_keys, Arc::new(StringArray::from(keys))),
        entry_text(entry_values, values),
    )))
}

/// Map entries' keys or values: each entry a place in `values`.
fn entry_text(places: Vec<i32>, values: ArrayRef) -> DictionaryArray<Int32Type> {
    DictionaryArray::try_new(Int32Array::from(places), values).expect("entries within their values")
}

/// [`sparse_map`] of a single column (a month's one cost category, say): its entries are in row
/// order already, and point into its own values.
fn one_column_map(len: usize, key: &str, text: &TextColumn<'_>) -> ArrayRef {
    let mut offsets = Vec::with_capacity(len + 1);
    let mut entry_values: Vec<i32> = Vec::new();
    text.for_each_text(|row, value| {
        // Every row up to this one starts where the entries so far end.
        offsets.resize(row + 1, entry_values.len() as i32);
        entry_values.push(value as i32);
    });
    offsets.resize(len + 1, entry_values.len() as i32);
    let keys = entry_text(vec![0; entry_values.len()], Arc::new(StringArray::from(vec![key])));
    Arc::new(tag_map_array(offsets, keys, entry_text(entry_values, Arc::new(text.values().clone()))))
}

/// Builds a `tags` or `cost_categories` map column with normalised, de-duplicated keys.
///
/// Entries go straight into the buffers the map column is made of (text bytes and offsets):
/// a tag costs two copies of its text and a row one offset, where Arrow's builders check and
/// grow several buffers per call.
pub(crate) struct TagMapBuilder {
    keys: TextBuffer,
    values: TextBuffer,
    /// Where each row's entries start, and the end of the last row.
    rows: Vec<i32>,
    normalised: HashMap<String, String>,
}

/// A string column being built. Arrow's builder, because what it finishes is taken as valid
/// UTF-8 without a second pass over the bytes (every value came in as `&str`).
struct TextBuffer(StringBuilder);

impl TextBuffer {
    fn with_capacity(items: usize, bytes: usize) -> Self {
        TextBuffer(StringBuilder::with_capacity(items, bytes))
    }

    fn len(&self) -> usize {
        self.0.offsets_slice().len() - 1
    }

    fn get(&self, i: usize) -> &[u8] {
        let offsets = self.0.offsets_slice();
        &self.0.values_slice()[offsets[i] as usize..offsets[i + 1] as usize]
    }

    fn push(&mut self, text: &str) {
        self.0.append_value(text);
    }

    fn finish(mut self) -> StringArray {
        self.0.finish()
    }
}

impl TagMapBuilder {
    pub fn new(capacity: usize) -> Self {
        let mut rows = Vec::with_capacity(capacity + 1);
        rows.push(0);
        TagMapBuilder {
            keys: TextBuffer::with_capacity(capacity, capacity * 8),
            values: TextBuffer::with_capacity(capacity, capacity * 8),
            rows,
            normalised: HashMap::new(),
        }
    }

    pub fn push_raw(&mut self, raw_key: &str, value: &str) {
        let key = normalised_key(&mut self.normalised, raw_key);
        push_entry(&mut self.keys, &mut self.values, &self.rows, key, value);
    }

    pub fn end_row(&mut self) {
        self.rows.push(self.keys.len() as i32);
    }

    pub fn finish(self) -> ArrayRef {
        // Dictionary text whose keys point at each entry's own text: the store's writer finds
        // the distinct values, as it does for any text.
        let text = |buffer: TextBuffer| {
            let text = buffer.finish();
            entry_text((0..text.len() as i32).collect(), Arc::new(text))
        };
        Arc::new(tag_map_array(self.rows, text(self.keys), text(self.values)))
    }
}

fn normalised_key<'a>(cache: &'a mut HashMap<String, String>, raw: &str) -> &'a str {
    if !cache.contains_key(raw) {
        cache.insert(raw.to_owned(), tag_key(raw));
    }
    &cache[raw]
}

/// Appends `key = value` to the row being built unless the value is empty or the row already
/// has the key (the row's entries start at the last of `rows`).
fn push_entry(keys: &mut TextBuffer, values: &mut TextBuffer, rows: &[i32], key: &str, value: &str) {
    let row_first_entry = *rows.last().expect("rows start with 0") as usize;
    if value.is_empty() || (row_first_entry..keys.len()).any(|i| keys.get(i) == key.as_bytes()) {
        return;
    }
    keys.push(key);
    values.push(value);
}

/// A map row's entries as text, whatever the map's key and value types.
#[cfg(test)]
pub(crate) fn map_row(map: &arrow_array::MapArray, row: usize) -> Vec<(String, String)> {
    use arrow_array::cast::AsArray;
    let entry = map.value(row);
    let text = |column: usize| arrow_cast::cast(entry.column(column), &arrow_schema::DataType::Utf8).unwrap();
    let (keys, values) = (text(0), text(1));
    let (keys, values) = (keys.as_string::<i32>(), values.as_string::<i32>());
    (0..entry.len()).map(|i| (keys.value(i).to_owned(), values.value(i).to_owned())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use curwatch_schema::columns::tag_map_type;

    #[test]
    fn money_columns_keep_nulls_and_refuse_amounts_too_large_to_store() {
        let with_nulls = MoneyColumn::new(vec![-5, 0, 0], Some(&NullBuffer::from(vec![true, false, true])));
        let column = optional_money_array(Some(with_nulls), 3).unwrap();
        let column = column.as_primitive::<arrow_array::types::Decimal128Type>();
        assert_eq!(column.iter().collect::<Vec<_>>(), vec![Some(-5), None, Some(0)]);
        let absent = optional_money_array(None, 2).unwrap();
        assert_eq!(
            absent.as_primitive::<arrow_array::types::Decimal128Type>().iter().collect::<Vec<_>>(),
            [None, None]
        );
        assert_eq!(money_array(vec![Money::from_units(7)]).unwrap().null_count(), 0);
        let too_large = Money::from_units(-(10_i128.pow(u32::from(STORED_PRECISION))));
        let error = money_array(vec![Money::ZERO, too_large]).unwrap_err().to_string();
        assert!(error.contains("exceeds the largest amount stored"), "{error}");
        let too_large_column = MoneyColumn::new(vec![0, too_large.units()], Some(&NullBuffer::from(vec![false, true])));
        assert!(optional_money_array(Some(too_large_column), 2).is_err());
    }

    #[test]
    fn tag_maps_have_the_canonical_type_and_dedupe() {
        let mut builder = TagMapBuilder::new(2);
        builder.push_raw("user:CostCenter", "a");
        builder.push_raw("user_cost_center", "b");
        builder.end_row();
        builder.end_row();
        builder.push_raw("user_cost_center", "c");
        builder.push_raw("user:team", "");
        builder.end_row();
        let array = builder.finish();
        assert_eq!(array.data_type(), &tag_map_type());
        let entries = |row: usize| map_row(array.as_map(), row);
        assert_eq!(entries(0), [("cost_center".to_owned(), "a".to_owned())], "colliding keys merge, first wins");
        assert_eq!(entries(1), []);
        assert_eq!(
            entries(2),
            [("cost_center".to_owned(), "c".to_owned())],
            "a key blocks only its own row; empty values are dropped"
        );
    }
}
