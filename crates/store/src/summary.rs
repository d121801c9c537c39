//! The daily summary beside each partition: cost summed per day and low-cardinality column.
//!
//! Reports by service, account, region, day and the like need none of a line's detail (usage
//! type, resource, tags). A month of tens of millions of lines sums to a few thousand such
//! rows, so the summary is written as the partition is, and read instead of it when it can
//! answer. A summary and its partition file carry the same id, a fingerprint of the summary's
//! content; a summary whose partition has since been replaced by different data is ignored.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Int32Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrayRef, Decimal128Array, DictionaryArray, RecordBatch, TimestampMicrosecondArray};
use arrow_schema::{Field, Schema, SchemaRef};
use curwatch_schema::Money;
use curwatch_schema::columns::{
    ACCOUNT_ID, AMORTIZED_COST, BILLING_PERIOD, CHARGE_CLASS, EXPORT, LINE_ITEM_TYPE, NET_UNBLENDED_COST,
    PAYER_ACCOUNT_ID, PROVIDER, REGION, SERVICE, SERVICE_NAME, UNBLENDED_COST, USAGE_START, money_type, text_type,
    timestamp_type,
};
use curwatch_schema::intern::{FastMap, Interner};
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use twox_hash::XxHash3_128;

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

/// Footer key linking a partition file and its summary.
pub(crate) const SUMMARY_ID_KEY: &str = "curwatch.summary_id";

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Whether a summary answers for `column`: `usage_start` holds the day (midnight UTC) only.
pub fn summary_has(column: &str) -> bool {
    SUMMARY_TEXT_COLUMNS.contains(&column)
        || [USAGE_START, UNBLENDED_COST, NET_UNBLENDED_COST, AMORTIZED_COST].contains(&column)
}

/// Exact sums of one summary row, in money units.
#[derive(Default, Clone, Copy)]
struct Sums {
    unblended: i128,
    /// Net where the line has it, else unblended: what a net report sums.
    net: i128,
    amortized: i128,
}

/// Text ids and the day (days since 1970; none for a line without a start time).
type SummaryKey = ([u32; SUMMARY_TEXT_COLUMNS.len()], Option<i64>);

/// Sums accumulated while a partition is written.
#[derive(Default)]
pub(crate) struct DailySummary {
    values: [Interner; SUMMARY_TEXT_COLUMNS.len()],
    sums: FastMap<SummaryKey, Sums>,
}

impl DailySummary {
    /// Adds canonical rows.
    pub(crate) fn add(&mut self, batch: &RecordBatch) -> Result<(), StoreError> {
        let mut ids: Vec<Vec<u32>> = Vec::with_capacity(SUMMARY_TEXT_COLUMNS.len());
        for (column, interner) in SUMMARY_TEXT_COLUMNS.iter().zip(&mut self.values) {
            let dict = batch
                .column_by_name(column)
                .and_then(|c| c.as_dictionary_opt::<Int32Type>())
                .ok_or_else(|| StoreError::Invalid(format!("`{column}` is not dictionary text")))?;
            ids.push(interner.dictionary_ids(dict));
        }
        let starts = batch
            .column_by_name(USAGE_START)
            .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>())
            .ok_or_else(|| StoreError::Invalid(format!("`{USAGE_START}` is not a timestamp")))?;
        let decimals = |name: &str| {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_primitive_opt::<Decimal128Type>())
                .ok_or_else(|| StoreError::Invalid(format!("`{name}` is not a decimal")))
        };
        let (unblended, net, amortized) =
            (decimals(UNBLENDED_COST)?, decimals(NET_UNBLENDED_COST)?, decimals(AMORTIZED_COST)?);
        let mut key = [0u32; SUMMARY_TEXT_COLUMNS.len()];
        for row in 0..batch.num_rows() {
            for (slot, column) in key.iter_mut().zip(&ids) {
                *slot = column[row];
            }
            let day = starts.is_valid(row).then(|| starts.value(row).div_euclid(MICROS_PER_DAY));
            let cost = if unblended.is_valid(row) { unblended.value(row) } else { 0 };
            let sums = self.sums.entry((key, day)).or_default();
            sums.unblended += cost;
            sums.net += if net.is_valid(row) { net.value(row) } else { cost };
            sums.amortized += if amortized.is_valid(row) { amortized.value(row) } else { 0 };
        }
        Ok(())
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
        let mut rows: Vec<(&SummaryKey, &Sums)> = self.sums.iter().collect();
        rows.sort_unstable_by(|a, b| (a.0.1, text(a.0)).cmp(&(b.0.1, text(b.0))));
        let mut content = Vec::new();
        for (key, sums) in &rows {
            for value in text(key) {
                // A length, or u32::MAX for none: parts never run into each other.
                let length = value.map_or(u32::MAX, |v| v.len() as u32);
                content.extend_from_slice(&length.to_le_bytes());
                content.extend_from_slice(value.unwrap_or_default().as_bytes());
            }
            content.extend_from_slice(&key.1.unwrap_or(i64::MIN).to_le_bytes());
            for amount in [sums.unblended, sums.net, sums.amortized] {
                content.extend_from_slice(&amount.to_le_bytes());
            }
        }
        let id = format!("{:032x}", XxHash3_128::oneshot(&content));
        let mut columns: Vec<ArrayRef> = Vec::new();
        for (i, interner) in self.values.iter().enumerate() {
            let text: DictionaryArray<Int32Type> = rows.iter().map(|(key, _)| interner.get(key.0[i])).collect();
            columns.push(Arc::new(text));
        }
        let day: TimestampMicrosecondArray = rows.iter().map(|(key, _)| key.1.map(|d| d * MICROS_PER_DAY)).collect();
        columns.push(Arc::new(day.with_timezone("UTC")));
        for amount in [|s: &Sums| s.unblended, |s: &Sums| s.net, |s: &Sums| s.amortized] {
            let values = Decimal128Array::from_iter_values(rows.iter().map(|(_, sums)| amount(sums)));
            columns.push(Arc::new(values.with_data_type(money_type())));
        }
        let batch = RecordBatch::try_new(summary_schema(), columns).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let file = File::create(path).map_err(StoreError::io(path))?;
        let properties = WriterProperties::builder().set_key_value_metadata(Some(vec![summary_id(&id)])).build();
        let mut writer =
            ArrowWriter::try_new(file, batch.schema(), Some(properties)).map_err(StoreError::parquet(path))?;
        writer.write(&batch).map_err(StoreError::parquet(path))?;
        writer.close().map_err(StoreError::parquet(path))?;
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

pub(crate) fn summary_id(id: &str) -> KeyValue {
    KeyValue::new(SUMMARY_ID_KEY.to_owned(), id.to_owned())
}

/// The summary of a partition file: `summaries/` in place of `line_items/`.
pub(crate) fn summary_path(root: &Path, partition_file: &Path) -> Option<PathBuf> {
    let relative = partition_file.strip_prefix(root.join(crate::layout::LINE_ITEMS)).ok()?;
    Some(root.join(crate::layout::SUMMARIES).join(relative))
}

/// The file to read for `partition_file` when only summary columns are needed: its summary if
/// that was made from this very file, else the file itself.
pub(crate) fn current_summary(root: &Path, partition_file: &Path) -> PathBuf {
    let linked = || -> Option<PathBuf> {
        let summary = summary_path(root, partition_file)?;
        let id_of = |path: &Path| -> Option<String> {
            let reader = SerializedFileReader::new(File::open(path).ok()?).ok()?;
            let metadata = reader.metadata().file_metadata().key_value_metadata()?;
            metadata.iter().find(|kv| kv.key == SUMMARY_ID_KEY)?.value.clone()
        };
        let summary_id = id_of(&summary)?;
        (id_of(partition_file)? == summary_id).then_some(summary)
    };
    linked().unwrap_or_else(|| partition_file.to_owned())
}
