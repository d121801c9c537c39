//! API Gateway lines as the allocation reads them, in two passes over the store.
//!
//! Per-row work that needs no shared state runs on the store's decoding threads: finding the
//! API Gateway rows, sorting each line's tags and fingerprinting what its owner depends on. The allocating thread then finds a line's owner with one lookup of a 128-bit number, and
//! reads a line's text only the first time its shape is seen.

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Float64Type, Int32Type, TimestampMicrosecondType};
use arrow_array::{Array, DictionaryArray, PrimitiveArray, RecordBatch, StringArray};
use curwatch_schema::columns::{self as col, API_GATEWAY_SERVICE};
use curwatch_schema::intern::Interner;
use curwatch_store::{PeriodRange, Store};
use twox_hash::XxHash3_128;

use crate::engine::{AllocateError, Costs};

const MICROS_PER_DAY: i64 = 86_400_000_000;
/// Read as plain text: resource ids are nearly all distinct within a row group.
const PLAIN_TEXT: &[&str] = &[col::RESOURCE_ID];

/// Identity of a line's text: XXH3-128 over its parts, each length-prefixed. Two different
/// shapes get one fingerprint only if 128-bit hashes collide — about 10⁻²⁷ for a million
/// shapes — and even then no cost is lost: both shapes' lines would share one owner.
pub(crate) type Fingerprint = u128;

#[derive(Default)]
struct FingerprintBuilder {
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
}

/// The fingerprint of a (resource, usage type) pair, which decides a line's classification.
pub(crate) fn pair_fingerprint(resource: Option<&str>, usage_type: Option<&str>) -> Fingerprint {
    FingerprintBuilder::default().part(resource).part(usage_type).finish()
}

/// The resource and usage type of API Gateway lines, from the first pass.
pub(crate) struct PairLine<'a> {
    pub fingerprint: Fingerprint,
    pub resource: Option<&'a str>,
    pub usage_type: Option<&'a str>,
}

/// A decoded batch with its API Gateway rows and each row's fingerprint.
struct Prepared {
    batch: RecordBatch,
    rows: Vec<usize>,
    fingerprints: Vec<Fingerprint>,
}

/// First pass: every API Gateway line's resource and usage type.
pub(crate) fn scan_pairs(
    store: &Store,
    periods: PeriodRange,
    each: &mut dyn FnMut(PairLine<'_>),
) -> Result<(), AllocateError> {
    let columns = [col::SERVICE, col::RESOURCE_ID, col::USAGE_TYPE];
    let scan = store.scan_service_prepared(&columns, PLAIN_TEXT, periods, API_GATEWAY_SERVICE, prepare_pairs)?;
    for prepared in scan {
        let Some(Prepared { batch, rows, fingerprints }) = prepared?? else { continue };
        let (resource, usage_type) = (Text::of(&batch, col::RESOURCE_ID)?, Text::of(&batch, col::USAGE_TYPE)?);
        for (row, fingerprint) in rows.into_iter().zip(fingerprints) {
            each(PairLine { fingerprint, resource: resource.get(row), usage_type: usage_type.get(row) });
        }
    }
    Ok(())
}

fn prepare_pairs(batch: RecordBatch) -> Result<Option<Prepared>, AllocateError> {
    let Some(rows) = gateway_rows(&batch)? else { return Ok(None) };
    let (resource, usage_type) = (Text::of(&batch, col::RESOURCE_ID)?, Text::of(&batch, col::USAGE_TYPE)?);
    let mut builder = FingerprintBuilder::default();
    let fingerprints =
        rows.iter().map(|&row| builder.part(resource.get(row)).part(usage_type.get(row)).finish()).collect();
    Ok(Some(Prepared { batch, rows, fingerprints }))
}

/// One API Gateway line of the second pass. `shape` fingerprints what its owner depends on
/// (account, product region, usage type, resource, and each tag's key and value); the rest is
/// interned or summed.
pub(crate) struct Line<'a> {
    pub shape: Fingerprint,
    pub period: u32,
    /// Days since 1970-01-01.
    pub day: u32,
    pub charge_class: u32,
    pub line_item_type: u32,
    pub costs: Costs,
    pub usage: f64,
    pub account: Option<&'a str>,
    pub product_region: Option<&'a str>,
    pub usage_type: Option<&'a str>,
    pub resource: Option<&'a str>,
    tags: Tags<'a>,
    row: usize,
}

impl Line<'_> {
    /// The line's tags, sorted. A newline inside a value becomes a space: team names and
    /// labels print on one line.
    pub fn tag_pairs(&self) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        self.tags.pairs(self.row, &mut pairs);
        pairs.into_iter().map(|(key, value)| (key.to_owned(), value.replace('\n', " "))).collect()
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

/// Second pass: hands every API Gateway line of the store to `each`, in storage order.
pub(crate) fn scan_lines(
    store: &Store,
    periods: PeriodRange,
    strings: &mut Interner,
    each: &mut dyn FnMut(&mut Interner, &Line<'_>),
) -> Result<(), AllocateError> {
    let scan = store.scan_service_prepared(&LINE_COLUMNS, PLAIN_TEXT, periods, API_GATEWAY_SERVICE, prepare_lines)?;
    for prepared in scan {
        let Some(Prepared { batch, rows, fingerprints }) = prepared?? else { continue };
        let period = strings.dictionary_ids(dictionary(&batch, col::BILLING_PERIOD)?);
        let charge_class = strings.dictionary_ids(dictionary(&batch, col::CHARGE_CLASS)?);
        let line_item_type = strings.dictionary_ids(dictionary(&batch, col::LINE_ITEM_TYPE)?);
        let account = Text::of(&batch, col::ACCOUNT_ID)?;
        let product_region = Text::of(&batch, col::REGION)?;
        let usage_type = Text::of(&batch, col::USAGE_TYPE)?;
        let resource = Text::of(&batch, col::RESOURCE_ID)?;
        let tags = Tags::of(&batch)?;
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
        for (row, shape) in rows.into_iter().zip(fingerprints) {
            let unblended = if unblended.is_valid(row) { unblended.value(row) } else { 0 };
            let line = Line {
                shape,
                period: period[row],
                day: starts.value(row).div_euclid(MICROS_PER_DAY) as u32,
                charge_class: charge_class[row],
                line_item_type: line_item_type[row],
                costs: Costs {
                    unblended,
                    net: if net.is_valid(row) { net.value(row) } else { unblended },
                    amortized: if amortized.is_valid(row) { amortized.value(row) } else { 0 },
                },
                usage: if usage.is_valid(row) { usage.value(row) } else { 0.0 },
                account: account.get(row),
                product_region: product_region.get(row),
                usage_type: usage_type.get(row),
                resource: resource.get(row),
                tags,
                row,
            };
            each(strings, &line);
        }
    }
    Ok(())
}

fn prepare_lines(batch: RecordBatch) -> Result<Option<Prepared>, AllocateError> {
    let Some(rows) = gateway_rows(&batch)? else { return Ok(None) };
    let account = Text::of(&batch, col::ACCOUNT_ID)?;
    let product_region = Text::of(&batch, col::REGION)?;
    let usage_type = Text::of(&batch, col::USAGE_TYPE)?;
    let resource = Text::of(&batch, col::RESOURCE_ID)?;
    let tags = Tags::of(&batch)?;
    let (mut builder, mut pairs) = (FingerprintBuilder::default(), Vec::new());
    let fingerprints = rows
        .iter()
        .map(|&row| {
            builder
                .part(account.get(row))
                .part(product_region.get(row))
                .part(usage_type.get(row))
                .part(resource.get(row));
            tags.pairs(row, &mut pairs);
            for (key, value) in &pairs {
                builder.part(Some(key)).part(Some(value));
            }
            builder.finish()
        })
        .collect();
    Ok(Some(Prepared { batch, rows, fingerprints }))
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
    fn fingerprints_keep_parts_apart() {
        // Length prefixes: moving text across a part boundary changes the fingerprint.
        assert_ne!(pair_fingerprint(Some("ab"), Some("c")), pair_fingerprint(Some("a"), Some("bc")));
        assert_ne!(pair_fingerprint(Some("a"), None), pair_fingerprint(None, Some("a")));
        // None and empty text are one value, as they are to the interner.
        assert_eq!(pair_fingerprint(None, Some("x")), pair_fingerprint(Some(""), Some("x")));
    }
}
