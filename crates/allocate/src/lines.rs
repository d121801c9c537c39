//! API Gateway lines as the allocation reads them, in two passes over the store.
//!
//! Per-row work that needs no shared state runs on the store's decoding threads: finding the
//! API Gateway rows, sorting each line's tags, fingerprinting what its owner depends on, and
//! numbering the fingerprints. The allocating thread then finds a line's owner by indexing a
//! vector with that number, and reads a line's text only the first time its shape is seen.

use std::borrow::Cow;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Float64Type, Int32Type, TimestampMicrosecondType};
use arrow_array::{Array, DictionaryArray, PrimitiveArray, RecordBatch, StringArray};
use curwatch_schema::columns::{self as col, API_GATEWAY_SERVICE};
use curwatch_schema::intern::{FastMap, Interner};
use curwatch_store::{PeriodRange, Scan, Store};
use twox_hash::XxHash3_128;

use crate::engine::{AllocateError, Costs, Granularity};

const MICROS_PER_DAY: i64 = 86_400_000_000;
/// Read as plain text: resource ids are nearly all distinct within a row group.
const PLAIN_TEXT: &[&str] = &[col::RESOURCE_ID];

/// Identity of a line's text: XXH3-128 over its parts, each length-prefixed. Two different
/// shapes get one fingerprint only if 128-bit hashes collide — about 10⁻²⁷ for a million
/// shapes — and even then no cost is lost: both shapes' lines would share one owner.
pub(crate) type Fingerprint = u128;

/// Builds fingerprints in one buffer, kept between them: a caller that makes many keeps one
/// builder rather than allocating for each.
#[derive(Default)]
pub(crate) struct FingerprintBuilder {
    bytes: Vec<u8>,
}

impl FingerprintBuilder {
    fn part(&mut self, text: Option<&str>) -> &mut Self {
        let text = text.unwrap_or_default();
        self.bytes.extend_from_slice(&(text.len() as u32).to_le_bytes());
        self.bytes.extend_from_slice(text.as_bytes());
        self
    }

    fn finish(&mut self) -> Fingerprint {
        let fingerprint = XxHash3_128::oneshot(&self.bytes);
        self.bytes.clear();
        fingerprint
    }

    /// The fingerprint of a (resource, usage type) pair, which decides a line's classification.
    pub(crate) fn pair(&mut self, resource: Option<&str>, usage_type: Option<&str>) -> Fingerprint {
        self.part(resource).part(usage_type).finish()
    }
}

/// Fingerprints numbered 0, 1, 2… in the order one table first saw them.
struct NumberingTable {
    token: u32,
    numbers: FastMap<Fingerprint, u32>,
}

impl NumberingTable {
    /// The fingerprint's number, and whether this table had not seen it before.
    fn number(&mut self, fingerprint: Fingerprint) -> (u32, bool) {
        let next = self.numbers.len() as u32;
        let mut new = false;
        let number = *self.numbers.entry(fingerprint).or_insert_with(|| {
            new = true;
            next
        });
        (number, new)
    }
}

/// Numbering tables lent to one decoding thread at a time, so that the lookups of every line
/// run on every core without contention. Each table numbers on its own: a shape has one
/// number per table that saw it.
#[derive(Default)]
struct Numbering {
    idle: Mutex<Vec<NumberingTable>>,
    tables: AtomicU32,
}

impl Numbering {
    fn with<R>(&self, work: impl FnOnce(&mut NumberingTable) -> R) -> R {
        let lent = self.idle.lock().expect("no panics while held").pop();
        let mut table = lent.unwrap_or_else(|| NumberingTable {
            token: self.tables.fetch_add(1, Ordering::Relaxed),
            numbers: FastMap::default(),
        });
        let result = work(&mut table);
        self.idle.lock().expect("no panics while held").push(table);
        result
    }
}

/// The resource and usage type of API Gateway lines, from the first pass.
pub(crate) struct PairLine<'a> {
    pub fingerprint: Fingerprint,
    pub resource: Option<&'a str>,
    pub usage_type: Option<&'a str>,
}

/// A decoded batch with the API Gateway rows the caller needs and each one's fingerprint.
struct PreparedPairs {
    batch: RecordBatch,
    rows: Vec<usize>,
    fingerprints: Vec<Fingerprint>,
}

/// First pass: the resource and usage type of API Gateway lines — every distinct pair at
/// least once; the decoding threads drop pairs their numbering table has seen.
pub(crate) fn scan_pairs(
    store: &Store,
    periods: PeriodRange,
    granularity: Granularity,
    each: &mut dyn FnMut(PairLine<'_>),
) -> Result<(), AllocateError> {
    let columns = [col::SERVICE, col::RESOURCE_ID, col::USAGE_TYPE];
    let numbering = Numbering::default();
    let scan = scan_gateway(store, &columns, periods, granularity, move |batch| prepare_pairs(&numbering, batch))?;
    for prepared in scan {
        let Some(PreparedPairs { batch, rows, fingerprints }) = prepared?? else { continue };
        let (resource, usage_type) = (Text::of(&batch, col::RESOURCE_ID)?, Text::of(&batch, col::USAGE_TYPE)?);
        for (row, fingerprint) in rows.into_iter().zip(fingerprints) {
            each(PairLine { fingerprint, resource: resource.get(row), usage_type: usage_type.get(row) });
        }
    }
    Ok(())
}

fn prepare_pairs(numbering: &Numbering, batch: RecordBatch) -> Result<Option<PreparedPairs>, AllocateError> {
    let Some(rows) = gateway_rows(&batch)? else { return Ok(None) };
    let (resource, usage_type) = (Text::of(&batch, col::RESOURCE_ID)?, Text::of(&batch, col::USAGE_TYPE)?);
    let mut builder = FingerprintBuilder::default();
    let (rows, fingerprints) = numbering.with(|table| {
        rows.into_iter()
            .map(|row| (row, builder.pair(resource.get(row), usage_type.get(row))))
            .filter(|&(_, fingerprint)| table.number(fingerprint).1)
            .unzip()
    });
    Ok(Some(PreparedPairs { batch, rows, fingerprints }))
}

/// A line shape as the decoding threads numbered it: the numbering table and the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ShapeNumber {
    pub table: u32,
    pub number: u32,
}

/// One API Gateway line of the second pass. Its shape is what its owner depends on (account,
/// product region, usage type, resource, and each tag's key and value); the rest is interned
/// or summed. The text is read only when asked for.
pub(crate) struct Line<'a> {
    pub shape: ShapeNumber,
    pub fingerprint: Fingerprint,
    pub period: u32,
    /// Days since 1970-01-01.
    pub day: u32,
    pub charge_class: u32,
    pub line_item_type: u32,
    pub costs: Costs,
    pub usage: f64,
    text: LineText<'a>,
    row: usize,
}

/// The text columns of a batch that a line shape is made of.
#[derive(Clone, Copy)]
struct LineText<'a> {
    account: Text<'a>,
    product_region: Text<'a>,
    usage_type: Text<'a>,
    resource: Text<'a>,
    tags: Tags<'a>,
}

impl<'a> LineText<'a> {
    fn of(batch: &'a RecordBatch) -> Result<Self, AllocateError> {
        Ok(LineText {
            account: Text::of(batch, col::ACCOUNT_ID)?,
            product_region: Text::of(batch, col::REGION)?,
            usage_type: Text::of(batch, col::USAGE_TYPE)?,
            resource: Text::of(batch, col::RESOURCE_ID)?,
            tags: Tags::of(batch)?,
        })
    }
}

impl<'a> Line<'a> {
    pub fn account(&self) -> Option<&'a str> {
        self.text.account.get(self.row)
    }

    pub fn product_region(&self) -> Option<&'a str> {
        self.text.product_region.get(self.row)
    }

    pub fn usage_type(&self) -> Option<&'a str> {
        self.text.usage_type.get(self.row)
    }

    pub fn resource(&self) -> Option<&'a str> {
        self.text.resource.get(self.row)
    }

    /// The line's tags, sorted. A newline inside a value becomes a space: team names and
    /// labels print on one line. Text is borrowed unless it has a newline.
    pub fn tag_pairs(&self) -> Vec<(&'a str, Cow<'a, str>)> {
        let mut pairs = Vec::new();
        self.text.tags.pairs(self.row, &mut pairs);
        let one_line =
            |value: &'a str| if value.contains('\n') { Cow::Owned(value.replace('\n', " ")) } else { value.into() };
        pairs.into_iter().map(|(key, value)| (key, one_line(value))).collect()
    }
}

const LINE_COLUMNS: [&str; 14] = [
    col::BILLING_PERIOD,
    col::USAGE_START,
    col::ACCOUNT_ID,
    col::REGION,
    col::USAGE_TYPE,
    col::RESOURCE_ID,
    col::CHARGE_CLASS,
    col::LINE_ITEM_TYPE,
    col::SERVICE,
    col::TAGS,
    col::UNBLENDED_COST,
    col::NET_UNBLENDED_COST,
    col::AMORTIZED_COST,
    col::USAGE_AMOUNT,
];

/// A decoded batch with its API Gateway rows, each one's shape fingerprint and number.
struct PreparedLines {
    batch: RecordBatch,
    rows: Vec<usize>,
    fingerprints: Vec<Fingerprint>,
    table: u32,
    numbers: Vec<u32>,
}

/// Second pass: hands every API Gateway line of the store to `each`, in storage order.
pub(crate) fn scan_lines(
    store: &Store,
    periods: PeriodRange,
    granularity: Granularity,
    strings: &mut Interner,
    each: &mut dyn FnMut(&mut Interner, &Line<'_>),
) -> Result<(), AllocateError> {
    let numbering = Numbering::default();
    let scan = scan_gateway(store, &LINE_COLUMNS, periods, granularity, move |batch| prepare_lines(&numbering, batch))?;
    // By month, every line of a period counts as of its first day (day 0 here).
    let by_day = granularity == Granularity::Day;
    for prepared in scan {
        let Some(PreparedLines { batch, rows, fingerprints, table, numbers }) = prepared?? else { continue };
        let period = strings.dictionary_ids(dictionary(&batch, col::BILLING_PERIOD)?);
        let charge_class = strings.dictionary_ids(dictionary(&batch, col::CHARGE_CLASS)?);
        let line_item_type = strings.dictionary_ids(dictionary(&batch, col::LINE_ITEM_TYPE)?);
        let text = LineText::of(&batch)?;
        let starts = batch
            .column_by_name(col::USAGE_START)
            .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>())
            .ok_or(AllocateError::Schema(col::USAGE_START))?;
        let decimals = |name: &'static str| {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_primitive_opt::<Decimal128Type>())
                .ok_or(AllocateError::Schema(name))
        };
        let (unblended, net, amortized) =
            (decimals(col::UNBLENDED_COST)?, decimals(col::NET_UNBLENDED_COST)?, decimals(col::AMORTIZED_COST)?);
        let usage = batch
            .column_by_name(col::USAGE_AMOUNT)
            .and_then(|c| c.as_primitive_opt::<Float64Type>())
            .ok_or(AllocateError::Schema(col::USAGE_AMOUNT))?;
        for ((row, fingerprint), number) in rows.into_iter().zip(fingerprints).zip(numbers) {
            let unblended = if unblended.is_valid(row) { unblended.value(row) } else { 0 };
            let line = Line {
                shape: ShapeNumber { table, number },
                fingerprint,
                period: period[row],
                day: if by_day { starts.value(row).div_euclid(MICROS_PER_DAY) as u32 } else { 0 },
                charge_class: charge_class[row],
                line_item_type: line_item_type[row],
                costs: Costs {
                    unblended,
                    net: if net.is_valid(row) { net.value(row) } else { unblended },
                    amortized: if amortized.is_valid(row) { amortized.value(row) } else { 0 },
                },
                usage: if usage.is_valid(row) { usage.value(row) } else { 0.0 },
                text,
                row,
            };
            each(strings, &line);
        }
    }
    Ok(())
}

/// API Gateway batches of the store: by day from the lines, by month from the partitions' API
/// Gateway shapes where current (the month's lines summed per shape).
fn scan_gateway<T: Send + 'static>(
    store: &Store,
    columns: &[&str],
    periods: PeriodRange,
    granularity: Granularity,
    prepare: impl Fn(RecordBatch) -> T + Send + Sync + 'static,
) -> Result<Scan<T>, AllocateError> {
    Ok(match granularity {
        Granularity::Day => store.scan_service_prepared(columns, PLAIN_TEXT, periods, API_GATEWAY_SERVICE, prepare)?,
        Granularity::Month => store.scan_gateway_shapes_prepared(columns, PLAIN_TEXT, periods, prepare)?,
    })
}

fn prepare_lines(numbering: &Numbering, batch: RecordBatch) -> Result<Option<PreparedLines>, AllocateError> {
    let Some(rows) = gateway_rows(&batch)? else { return Ok(None) };
    let text = LineText::of(&batch)?;
    let (mut builder, mut pairs) = (FingerprintBuilder::default(), Vec::new());
    let fingerprints: Vec<Fingerprint> = rows
        .iter()
        .map(|&row| {
            builder
                .part(text.account.get(row))
                .part(text.product_region.get(row))
                .part(text.usage_type.get(row))
                .part(text.resource.get(row));
            text.tags.pairs(row, &mut pairs);
            for (key, value) in &pairs {
                builder.part(Some(key)).part(Some(value));
            }
            builder.finish()
        })
        .collect();
    let (table, numbers) =
        numbering.with(|table| (table.token, fingerprints.iter().map(|&f| table.number(f).0).collect()));
    Ok(Some(PreparedLines { batch, rows, fingerprints, table, numbers }))
}

/// A text column, dictionary-encoded or plain; empty text reads as none, as interned ids do.
#[derive(Clone, Copy)]
struct Text<'a> {
    keys: Option<&'a PrimitiveArray<Int32Type>>,
    values: &'a StringArray,
}

impl<'a> Text<'a> {
    fn of(batch: &'a RecordBatch, name: &'static str) -> Result<Self, AllocateError> {
        if let Some(plain) = batch.column_by_name(name).and_then(|c| c.as_string_opt::<i32>()) {
            return Ok(Text { keys: None, values: plain });
        }
        let dict = dictionary(batch, name)?;
        let values = dict.values().as_string_opt::<i32>().ok_or(AllocateError::Schema(name))?;
        Ok(Text { keys: Some(dict.keys()), values })
    }

    fn get(&self, row: usize) -> Option<&'a str> {
        let key = match self.keys {
            Some(keys) if !keys.is_valid(row) => return None,
            Some(keys) => keys.value(row) as usize,
            None => row,
        };
        (self.values.is_valid(key)).then(|| self.values.value(key)).filter(|v| !v.is_empty())
    }
}

/// The tag map column.
#[derive(Clone, Copy)]
struct Tags<'a> {
    keys: &'a StringArray,
    values: &'a StringArray,
    offsets: &'a [i32],
}

impl<'a> Tags<'a> {
    fn of(batch: &'a RecordBatch) -> Result<Self, AllocateError> {
        let tags =
            batch.column_by_name(col::TAGS).and_then(|c| c.as_map_opt()).ok_or(AllocateError::Schema(col::TAGS))?;
        let keys = tags.keys().as_string_opt::<i32>().ok_or(AllocateError::Schema(col::TAGS))?;
        let values = tags.values().as_string_opt::<i32>().ok_or(AllocateError::Schema(col::TAGS))?;
        Ok(Tags { keys, values, offsets: tags.value_offsets() })
    }

    /// A row's tags with a value, sorted by key then value, into `out`.
    fn pairs(&self, row: usize, out: &mut Vec<(&'a str, &'a str)>) {
        out.clear();
        out.extend(
            (self.offsets[row] as usize..self.offsets[row + 1] as usize)
                .filter(|&i| self.values.is_valid(i))
                .map(|i| (self.keys.value(i), self.values.value(i))),
        );
        out.sort_unstable();
    }
}

/// The batch's API Gateway rows, or `None` when it has none.
fn gateway_rows(batch: &RecordBatch) -> Result<Option<Vec<usize>>, AllocateError> {
    let service = dictionary(batch, col::SERVICE)?;
    let values = service.values().as_string::<i32>();
    let Some(gateway) = (0..values.len()).find(|&i| values.is_valid(i) && values.value(i) == API_GATEWAY_SERVICE)
    else {
        return Ok(None);
    };
    let keys = service.keys();
    Ok(Some((0..batch.num_rows()).filter(|&row| keys.is_valid(row) && keys.value(row) as usize == gateway).collect()))
}

fn dictionary<'a>(batch: &'a RecordBatch, name: &'static str) -> Result<&'a DictionaryArray<Int32Type>, AllocateError> {
    batch.column_by_name(name).and_then(|c| c.as_dictionary_opt::<Int32Type>()).ok_or(AllocateError::Schema(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering_tables_number_in_first_sight_order_each_on_its_own() {
        let numbering = Numbering::default();
        numbering.with(|table| {
            assert_eq!(table.token, 0);
            assert_eq!([table.number(7), table.number(9), table.number(7)], [(0, true), (1, true), (0, false)]);
            // A second thread borrowing meanwhile gets a table of its own, numbering from 0.
            numbering.with(|other| {
                assert_eq!(other.token, 1);
                assert_eq!(other.number(9), (0, true));
            });
        });
        // Tables go back to the pool with what they learnt.
        numbering.with(|table| assert!(!table.number(9).1));
        assert_eq!(numbering.tables.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn fingerprints_keep_parts_apart() {
        let mut builder = FingerprintBuilder::default();
        let mut pair_fingerprint = |resource, usage_type| builder.pair(resource, usage_type);
        // Length prefixes: moving text across a part boundary changes the fingerprint.
        assert_ne!(pair_fingerprint(Some("ab"), Some("c")), pair_fingerprint(Some("a"), Some("bc")));
        assert_ne!(pair_fingerprint(Some("a"), None), pair_fingerprint(None, Some("a")));
        // None and empty text are one value, as they are to the interner.
        assert_eq!(pair_fingerprint(None, Some("x")), pair_fingerprint(Some(""), Some("x")));
    }
}
