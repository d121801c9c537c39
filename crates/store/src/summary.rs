//! The daily summary beside each partition: cost summed per day and low-cardinality column.
//!
//! Reports by service, account, region, day and the like need none of a line's detail (usage
//! type, resource, tags). A month of tens of millions of lines sums to a few thousand such
//! rows, so the summary is written as the partition is, and read instead of it when it can
//! answer; `companion` links the two.

use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Int32Type, TimestampMicrosecondType};
use arrow_array::{
    Array, ArrayRef, Decimal128Array, DictionaryArray, PrimitiveArray, RecordBatch, TimestampMicrosecondArray,
};
use arrow_schema::{Field, Schema, SchemaRef};
use curwatch_schema::Money;
use curwatch_schema::columns::{
    ACCOUNT_ID, AMORTIZED_COST, BILLING_PERIOD, CHARGE_CLASS, EXPORT, LINE_ITEM_TYPE, NET_UNBLENDED_COST,
    PAYER_ACCOUNT_ID, PROVIDER, REGION, SERVICE, SERVICE_NAME, UNBLENDED_COST, USAGE_START, money_type, text_type,
    timestamp_type,
};
use curwatch_schema::intern::{FastMap, Interner};

use crate::companion::{ContentId, DAILY_SUMMARY};
use crate::error::StoreError;

/// The text columns a summary row is keyed by, beside the day.
const SUMMARY_TEXT_COLUMNS: [&str; 10] = [
    BILLING_PERIOD,
    PAYER_ACCOUNT_ID,
    ACCOUNT_ID,
    LINE_ITEM_TYPE,
    CHARGE_CLASS,
    PROVIDER,
    SERVICE,
    SERVICE_NAME,
    REGION,
    EXPORT,
];

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// A summary is a few thousand rows: one row group.
const SUMMARY_ROW_GROUP_ROWS: usize = 1 << 20;

/// Whether a summary answers for `column`: `usage_start` holds the day (midnight UTC) only.
pub fn summary_has(column: &str) -> bool {
    SUMMARY_TEXT_COLUMNS.contains(&column)
        || [USAGE_START, UNBLENDED_COST, NET_UNBLENDED_COST, AMORTIZED_COST].contains(&column)
}

/// Exact cost sums of a group of lines, in money units (a summary row, a shape).
#[derive(Default, Clone, Copy)]
pub(crate) struct Sums {
    pub(crate) unblended: i128,
    /// Net where the line has it, else unblended: what a net report sums.
    pub(crate) net: i128,
    pub(crate) amortized: i128,
}

impl Sums {
    pub(crate) fn add(&mut self, other: &Sums) {
        self.unblended += other.unblended;
        self.net += other.net;
        self.amortized += other.amortized;
    }
}

/// A batch's cost columns.
pub(crate) struct Amounts<'a> {
    unblended: &'a PrimitiveArray<Decimal128Type>,
    net: &'a PrimitiveArray<Decimal128Type>,
    amortized: &'a PrimitiveArray<Decimal128Type>,
}

impl<'a> Amounts<'a> {
    pub(crate) fn of(batch: &'a RecordBatch) -> Result<Self, StoreError> {
        let decimals = |name: &str| {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_primitive_opt::<Decimal128Type>())
                .ok_or_else(|| StoreError::Invalid(format!("`{name}` is not a decimal")))
        };
        Ok(Amounts {
            unblended: decimals(UNBLENDED_COST)?,
            net: decimals(NET_UNBLENDED_COST)?,
            amortized: decimals(AMORTIZED_COST)?,
        })
    }

    /// Whether any row lacks an amount (most batches have every one).
    fn has_nulls(&self) -> bool {
        [self.unblended, self.net, self.amortized].iter().any(|column| column.null_count() > 0)
    }

    /// [`Amounts::add_row`] for a batch without nulls.
    fn add_valid_row(&self, sums: &mut Sums, row: usize) {
        sums.unblended += self.unblended.value(row);
        sums.net += self.net.value(row);
        sums.amortized += self.amortized.value(row);
    }

    pub(crate) fn add_row(&self, sums: &mut Sums, row: usize) {
        let cost = if self.unblended.is_valid(row) { self.unblended.value(row) } else { 0 };
        sums.unblended += cost;
        sums.net += if self.net.is_valid(row) { self.net.value(row) } else { cost };
        sums.amortized += if self.amortized.is_valid(row) { self.amortized.value(row) } else { 0 };
    }
}

/// Each row's summary key as one number, in mixed radix: per text column its dictionary key
/// (one past the dictionary for a null key), then its day counted from the batch's first.
/// Summary columns have few values, so a batch's keys nearly always fit in 64 bits.
struct PackedKeys {
    /// Each text column's radix (its dictionary's length plus one, or one for a column of one
    /// value and no nulls), then the day's.
    radices: Vec<u64>,
    first_day: i64,
}

impl PackedKeys {
    /// The packing and each row's code; `None` when the keys do not fit in 64 bits.
    fn of(columns: &[&DictionaryArray<Int32Type>], days: &[Option<i64>]) -> Option<(PackedKeys, Vec<u64>)> {
        let first_day = days.iter().flatten().copied().min().unwrap_or(0);
        let last_day = days.iter().flatten().copied().max().unwrap_or(0);
        // Day slots: one per day from the first, then one for "no start time".
        let day_radix = u64::try_from(last_day - first_day).ok()?.checked_add(2)?;
        // A column with one value and no nulls (the billing period, the export) takes one slot:
        // it adds nothing to the code, and its pass is skipped.
        let constant = |dict: &DictionaryArray<Int32Type>| dict.values().len() == 1 && dict.keys().null_count() == 0;
        let mut radices: Vec<u64> =
            columns.iter().map(|dict| if constant(dict) { 1 } else { dict.values().len() as u64 + 1 }).collect();
        radices.push(day_radix);
        radices.iter().try_fold(1u64, |product, &radix| product.checked_mul(radix))?;
        let mut codes = vec![0u64; days.len()];
        // Column by column, so each pass runs down one array.
        for (dict, &radix) in columns.iter().zip(&radices).filter(|(_, radix)| **radix > 1) {
            let keys = dict.keys();
            let null_slot = radix - 1;
            match keys.nulls().filter(|nulls| nulls.null_count() > 0) {
                None => {
                    for (code, &key) in codes.iter_mut().zip(keys.values()) {
                        *code = *code * radix + key as u64;
                    }
                }
                Some(nulls) => {
                    for (row, code) in codes.iter_mut().enumerate() {
                        let slot = if nulls.is_valid(row) { keys.value(row) as u64 } else { null_slot };
                        *code = *code * radix + slot;
                    }
                }
            }
        }
        for (code, day) in codes.iter_mut().zip(days) {
            let slot = day.map_or(day_radix - 1, |d| (d - first_day) as u64);
            *code = *code * day_radix + slot;
        }
        Some((PackedKeys { radices, first_day }, codes))
    }

    /// A code's dictionary key per text column (past the end for null) and its day.
    fn unpack(&self, mut code: u64) -> ([usize; SUMMARY_TEXT_COLUMNS.len()], Option<i64>) {
        let day_radix = *self.radices.last().expect("day radix");
        let day_slot = code % day_radix;
        code /= day_radix;
        let day = (day_slot != day_radix - 1).then(|| self.first_day + day_slot as i64);
        let mut slots = [0usize; SUMMARY_TEXT_COLUMNS.len()];
        for (slot, &radix) in slots.iter_mut().zip(&self.radices[..SUMMARY_TEXT_COLUMNS.len()]).rev() {
            *slot = (code % radix) as usize;
            code /= radix;
        }
        (slots, day)
    }
}

/// Text ids and the day (days since 1970; none for a line without a start time).
type SummaryKey = ([u32; SUMMARY_TEXT_COLUMNS.len()], Option<i64>);

/// Sums accumulated while a partition is written.
#[derive(Default)]
pub(crate) struct DailySummary {
    values: [Interner; SUMMARY_TEXT_COLUMNS.len()],
    sums: FastMap<SummaryKey, Sums>,
}

/// A batch's rows summed by their summary key, the keys' texts not yet interned: a row costs
/// a lookup of one number in a small table, and the summary then merges a few sums a batch.
struct BatchSums {
    columns: Vec<DictionaryArray<Int32Type>>,
    keyed: KeyedSums,
}

enum KeyedSums {
    /// Summed by packed key.
    Packed { packed: PackedKeys, by_code: FastMap<u64, Sums> },
    /// Keys too wide to pack: summed row by row when merged.
    Rows { batch: RecordBatch, days: Vec<Option<i64>> },
}

impl BatchSums {
    /// Sums canonical rows by their summary key.
    fn of(batch: &RecordBatch) -> Result<Self, StoreError> {
        let mut columns = Vec::with_capacity(SUMMARY_TEXT_COLUMNS.len());
        for column in SUMMARY_TEXT_COLUMNS {
            let dict = batch
                .column_by_name(column)
                .and_then(|c| c.as_dictionary_opt::<Int32Type>())
                .ok_or_else(|| StoreError::Invalid(format!("`{column}` is not dictionary text")))?;
            columns.push(dict.clone());
        }
        let amounts = Amounts::of(batch)?;
        let days = days_of(batch)?;
        let refs: Vec<&DictionaryArray<Int32Type>> = columns.iter().collect();
        let keyed = match PackedKeys::of(&refs, &days) {
            Some((packed, codes)) => {
                // A row costs one lookup of a number instead of hashing ten ids and a day.
                let by_code = if amounts.has_nulls() {
                    sum_by_code(&codes, |sums, row| amounts.add_row(sums, row))
                } else {
                    sum_by_code(&codes, |sums, row| amounts.add_valid_row(sums, row))
                };
                KeyedSums::Packed { packed, by_code }
            }
            None => KeyedSums::Rows { batch: batch.clone(), days },
        };
        Ok(BatchSums { columns, keyed })
    }
}

/// Each row's amounts added to the sums of its code. The table starts at a size a batch's
/// keys seldom outgrow, rather than doubling its way there.
fn sum_by_code(codes: &[u64], add: impl Fn(&mut Sums, usize)) -> FastMap<u64, Sums> {
    let mut by_code: FastMap<u64, Sums> = FastMap::with_capacity_and_hasher(codes.len() / 4, Default::default());
    for (row, &code) in codes.iter().enumerate() {
        add(by_code.entry(code).or_default(), row);
    }
    by_code
}

/// Each row's day (days since 1970), none for a line without a start time.
fn days_of(batch: &RecordBatch) -> Result<Vec<Option<i64>>, StoreError> {
    let starts = batch
        .column_by_name(USAGE_START)
        .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>())
        .ok_or_else(|| StoreError::Invalid(format!("`{USAGE_START}` is not a timestamp")))?;
    let day = |micros: i64| micros.div_euclid(MICROS_PER_DAY);
    Ok(match starts.null_count() {
        // Canonical rows always have a start: the null mask need not be read row by row.
        0 => starts.values().iter().map(|&micros| Some(day(micros))).collect(),
        _ => starts.iter().map(|start| start.map(day)).collect(),
    })
}

impl DailySummary {
    /// Adds canonical rows: summed by key first (see [`BatchSums`]), each distinct key's sums
    /// then merged once.
    pub(crate) fn add(&mut self, batch: &RecordBatch) -> Result<(), StoreError> {
        let sums = BatchSums::of(batch)?;
        let columns: Vec<&DictionaryArray<Int32Type>> = sums.columns.iter().collect();
        match sums.keyed {
            KeyedSums::Packed { packed, by_code } => self.add_packed(&columns, &packed, by_code),
            KeyedSums::Rows { batch, days } => self.add_each(&columns, &days, &Amounts::of(&batch)?),
        }
        Ok(())
    }

    fn add_packed(
        &mut self,
        columns: &[&DictionaryArray<Int32Type>],
        packed: &PackedKeys,
        by_code: FastMap<u64, Sums>,
    ) {
        let value_ids: Vec<Vec<u32>> =
            columns.iter().zip(&mut self.values).map(|(dict, interner)| interner.value_ids(dict)).collect();
        for (code, sums) in by_code {
            let (slots, day) = packed.unpack(code);
            let key: [u32; SUMMARY_TEXT_COLUMNS.len()] =
                std::array::from_fn(|i| value_ids[i].get(slots[i]).copied().unwrap_or(0));
            self.sums.entry((key, day)).or_default().add(&sums);
        }
    }

    /// Sums row by row: for a batch whose keys do not pack into 64 bits.
    fn add_each(&mut self, columns: &[&DictionaryArray<Int32Type>], days: &[Option<i64>], amounts: &Amounts) {
        let ids: Vec<Vec<u32>> =
            columns.iter().zip(&mut self.values).map(|(dict, interner)| interner.dictionary_ids(dict)).collect();
        let mut key = [0u32; SUMMARY_TEXT_COLUMNS.len()];
        for (row, day) in days.iter().enumerate() {
            for (slot, column) in key.iter_mut().zip(&ids) {
                *slot = column[row];
            }
            amounts.add_row(self.sums.entry((key, *day)).or_default(), row);
        }
    }

    /// Unblended and amortized cost over every row added: the partition's totals.
    pub(crate) fn totals(&self) -> (Money, Money) {
        let (unblended, amortized) =
            self.sums.values().fold((0, 0), |(u, a), sums| (u + sums.unblended, a + sums.amortized));
        (Money::from_units(unblended), Money::from_units(amortized))
    }

    /// Writes the summary as Parquet and returns its id: a fingerprint of its content, which
    /// the partition file's footer carries too. A rewrite with the same sums keeps the id (and
    /// its bytes), any other gets a new one.
    pub(crate) fn write(&self, path: &Path) -> Result<String, StoreError> {
        let text = |key: &SummaryKey| -> [Option<&str>; SUMMARY_TEXT_COLUMNS.len()] {
            std::array::from_fn(|i| self.values[i].get(key.0[i]))
        };
        // By day, then by the texts: their ranks compare as the texts do.
        let ranks: Vec<Vec<u32>> = self.values.iter().map(Interner::ranks).collect();
        let mut rows: Vec<(&SummaryKey, &Sums)> = self.sums.iter().collect();
        rows.sort_unstable_by_key(|(key, _)| {
            let ranked: [u32; SUMMARY_TEXT_COLUMNS.len()] = std::array::from_fn(|i| ranks[i][key.0[i] as usize]);
            (key.1, ranked)
        });
        let mut content = ContentId::default();
        for (key, sums) in &rows {
            for value in text(key) {
                content.text(value);
            }
            content.bytes(&key.1.unwrap_or(i64::MIN).to_le_bytes());
            for amount in [sums.unblended, sums.net, sums.amortized] {
                content.bytes(&amount.to_le_bytes());
            }
        }
        let id = content.finish();
        let mut columns: Vec<ArrayRef> = Vec::new();
        let mut scratch = Vec::new();
        for (i, interner) in self.values.iter().enumerate() {
            columns.push(Arc::new(interner.dictionary_of(rows.iter().map(|(key, _)| key.0[i]), &mut scratch)));
        }
        let day: TimestampMicrosecondArray = rows.iter().map(|(key, _)| key.1.map(|d| d * MICROS_PER_DAY)).collect();
        columns.push(Arc::new(day.with_timezone("UTC")));
        for amount in [|s: &Sums| s.unblended, |s: &Sums| s.net, |s: &Sums| s.amortized] {
            let values = Decimal128Array::from_iter_values(rows.iter().map(|(_, sums)| amount(sums)));
            columns.push(Arc::new(values.with_data_type(money_type())));
        }
        let batch = RecordBatch::try_new(summary_schema(), columns).map_err(|e| StoreError::Invalid(e.to_string()));
        DAILY_SUMMARY.write(path, summary_schema(), [batch], SUMMARY_ROW_GROUP_ROWS, &id)?;
        Ok(id)
    }
}

fn summary_schema() -> SchemaRef {
    let mut fields: Vec<Field> = SUMMARY_TEXT_COLUMNS.iter().map(|c| Field::new(*c, text_type(), true)).collect();
    fields.push(Field::new(USAGE_START, timestamp_type(), true));
    for amount in [UNBLENDED_COST, NET_UNBLENDED_COST, AMORTIZED_COST] {
        fields.push(Field::new(amount, money_type(), false));
    }
    Arc::new(Schema::new(fields))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int32Array, StringArray};
    use std::collections::BTreeMap;

    type Totals = BTreeMap<(Vec<Option<String>>, Option<i64>), (i128, i128, i128)>;

    fn totals(summary: &DailySummary) -> Totals {
        summary
            .sums
            .iter()
            .map(|((ids, day), sums)| {
                let text = ids.iter().zip(&summary.values).map(|(id, values)| values.get(*id).map(str::to_owned));
                ((text.collect(), *day), (sums.unblended, sums.net, sums.amortized))
            })
            .collect()
    }

    /// Rows over three days and a row without a start; one text column of a single value, the
    /// others with null keys, a key to a null value, empty text and a value listed twice (then
    /// `unused` values no row has); costs with nulls.
    fn batch(days: [Option<i64>; 6], unused: usize) -> RecordBatch {
        let text = |i: usize| -> ArrayRef {
            if i == 0 {
                // One value on every row, as a billing period is.
                let keys = Int32Array::from(vec![0; 6]);
                return Arc::new(
                    DictionaryArray::<Int32Type>::try_new(keys, Arc::new(StringArray::from(vec!["p"]))).unwrap(),
                );
            }
            let mut values = vec![Some("a"), None, Some(""), Some("a"), Some(["x", "y"][i % 2])];
            values.extend(std::iter::repeat_n(Some("unused"), unused));
            let values = StringArray::from(values);
            let keys = Int32Array::from(vec![Some(0), Some(1), None, Some(2), Some(3), Some((i % 5) as i32)]);
            Arc::new(DictionaryArray::<Int32Type>::try_new(keys, Arc::new(values)).unwrap())
        };
        let mut columns: Vec<(&str, ArrayRef)> =
            SUMMARY_TEXT_COLUMNS.iter().enumerate().map(|(i, c)| (*c, text(i))).collect();
        let starts: TimestampMicrosecondArray = days.iter().map(|d| d.map(|d| d * MICROS_PER_DAY + 7)).collect();
        columns.push((USAGE_START, Arc::new(starts.with_timezone("UTC"))));
        for (name, amounts) in [UNBLENDED_COST, NET_UNBLENDED_COST, AMORTIZED_COST].into_iter().zip([
            [Some(5), Some(7), None, Some(-3), Some(11), Some(13)],
            [None, Some(6), Some(1), None, Some(10), Some(12)],
            [Some(4), None, Some(2), Some(-3), None, Some(1)],
        ]) {
            columns.push((name, Arc::new(Decimal128Array::from(amounts.to_vec()).with_data_type(money_type()))));
        }
        RecordBatch::try_from_iter(columns).unwrap()
    }

    /// The sums of the row-by-row path, for comparison.
    fn summed_each(batch: &RecordBatch) -> Totals {
        let mut summary = DailySummary::default();
        let columns: Vec<&DictionaryArray<Int32Type>> =
            SUMMARY_TEXT_COLUMNS.iter().map(|c| batch.column_by_name(c).unwrap().as_dictionary()).collect();
        let starts = batch.column_by_name(USAGE_START).unwrap().as_primitive::<TimestampMicrosecondType>();
        let days: Vec<Option<i64>> = starts.iter().map(|s| s.map(|m| m.div_euclid(MICROS_PER_DAY))).collect();
        let amounts = Amounts::of(batch).unwrap();
        summary.add_each(&columns, &days, &amounts);
        totals(&summary)
    }

    #[test]
    fn packed_keys_sum_as_row_by_row_does() {
        let batch = batch([Some(19_700), Some(19_702), None, Some(19_700), Some(19_701), Some(19_702)], 0);
        let mut summary = DailySummary::default();
        summary.add(&batch).unwrap();
        summary.add(&batch).unwrap();
        let expected: Totals =
            summed_each(&batch).into_iter().map(|(k, (u, n, a))| (k, (2 * u, 2 * n, 2 * a))).collect();
        assert_eq!(totals(&summary), expected);
        // Rows 0 and 4 share every key but the day; the null and empty texts are one "none".
        assert_eq!(expected.len(), 6);
        assert_eq!(expected.values().map(|t| t.0).sum::<i128>(), 2 * (5 + 7 - 3 + 11 + 13));
        assert_eq!(expected.values().map(|t| t.1).sum::<i128>(), 2 * (5 + 6 + 1 - 3 + 10 + 12));
    }

    #[test]
    fn keys_too_wide_to_pack_are_summed_row_by_row() {
        // 18 slots per text column over nine columns and a 2^27-day span: 2^64.5 keys.
        let far = [Some(-(1 << 26)), Some(1 << 26), None, Some(0), Some(1), Some(2)];
        let batch = batch(far, 12);
        let columns: Vec<&DictionaryArray<Int32Type>> =
            SUMMARY_TEXT_COLUMNS.iter().map(|c| batch.column_by_name(c).unwrap().as_dictionary()).collect();
        assert!(PackedKeys::of(&columns, &far).is_none(), "2^64.5 keys cannot pack into 64 bits");
        let mut summary = DailySummary::default();
        summary.add(&batch).unwrap();
        assert_eq!(totals(&summary), summed_each(&batch));
    }
}
