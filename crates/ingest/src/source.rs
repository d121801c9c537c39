//! Typed access to the columns of a raw batch, whatever Arrow type the file used.
//!
//! CSV readers hand over text columns and Parquet readers typed ones; each accessor
//! accepts every encoding exports are seen with and names the row of a bad value.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Decimal128Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType, TimestampMillisecondType,
};
use arrow_array::{
    Array, ArrayRef, DictionaryArray, Float64Array, Int32Array, MapArray, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, TimeUnit};
use curwatch_schema::Money;

use std::sync::Arc;

use crate::canonical::{text_array, text_column};
use crate::error::{ErrorKind, Location};
use crate::timestamp::parse_timestamp_micros;

/// Where the rows of a raw batch came from, for error messages.
#[derive(Debug, Clone)]
pub(crate) enum Locations {
    /// CSV: the 1-based line each row starts on.
    Lines(Vec<u64>),
    /// Parquet: the 1-based number of the batch's first row.
    FirstRow(u64),
}

/// A money column of one batch in exact units: zero under a null row.
pub(crate) struct MoneyColumn {
    units: Vec<i128>,
    /// Which rows are null; `None` when none is.
    nulls: Option<NullBuffer>,
}

impl MoneyColumn {
    pub fn new(units: Vec<i128>, nulls: Option<&NullBuffer>) -> Self {
        MoneyColumn { units, nulls: nulls.filter(|n| n.null_count() > 0).cloned() }
    }

    /// The row's amount; `None` when it is null.
    pub fn get(&self, row: usize) -> Option<Money> {
        match &self.nulls {
            Some(nulls) if nulls.is_null(row) => None,
            _ => Some(Money::from_units(self.units[row])),
        }
    }

    /// Every row's amount, a null one as zero.
    pub fn or_zero(self) -> Vec<Money> {
        self.units.into_iter().map(Money::from_units).collect()
    }

    pub fn into_parts(self) -> (Vec<i128>, Option<NullBuffer>) {
        (self.units, self.nulls)
    }
}

/// A money column that matters on few rows (savings-plan and reservation amounts, which an
/// amortisation rule reads only on the lines it covers): a float column is converted at the
/// rows asked for rather than whole, and a bad value is an error where it is read.
pub(crate) enum SparseMoney<'a> {
    Floats { name: &'a str, values: &'a Float64Array },
    Converted(Option<MoneyColumn>),
}

impl SparseMoney<'_> {
    /// The row's amount; `None` when it is null or the column is missing.
    pub fn get(&self, raw: &RawBatch, row: usize) -> Result<Option<Money>, ErrorKind> {
        match self {
            SparseMoney::Floats { values, .. } if values.is_null(row) => Ok(None),
            SparseMoney::Floats { name, values } => {
                let value = values.value(row);
                Money::from_f64(value).map(Some).ok_or_else(|| raw.not_a_number(row, name, value))
            }
            SparseMoney::Converted(column) => Ok(column.as_ref().and_then(|c| c.get(row))),
        }
    }
}

/// A batch as read from the file, columns under their normalised names.
pub(crate) struct RawBatch {
    pub batch: RecordBatch,
    pub locations: Locations,
}

/// A text column read in place: a dictionary's rows resolve to its values without copying
/// them, so per-row rules (line item types, tag columns) touch no new memory.
pub(crate) enum TextColumn<'a> {
    Dictionary { keys: &'a Int32Array, values: &'a StringArray },
    Plain(StringArray),
}

impl TextColumn<'_> {
    /// The row's text; `None` when it is null.
    pub fn get(&self, row: usize) -> Option<&str> {
        match self {
            TextColumn::Dictionary { keys, values } => {
                let key = keys.is_valid(row).then(|| keys.value(row) as usize)?;
                values.is_valid(key).then(|| values.value(key))
            }
            TextColumn::Plain(text) => text.is_valid(row).then(|| text.value(row)),
        }
    }

    /// The text the column's rows point into: a dictionary's values, or the rows themselves.
    pub fn values(&self) -> &StringArray {
        match self {
            TextColumn::Dictionary { values, .. } => values,
            TextColumn::Plain(text) => text,
        }
    }

    /// Calls `f` with each row that has text (not null, not empty), in row order, with where
    /// its text lies in [`TextColumn::values`]. Null rows are skipped by their validity bitmap
    /// a word at a time: sparse columns (legacy tag columns, where a line has under one tag
    /// across all of them) cost little more than their bitmaps.
    pub fn for_each_text(&self, mut f: impl FnMut(usize, usize)) {
        match self {
            TextColumn::Dictionary { keys, values } => {
                let usable: Vec<bool> = values.iter().map(|v| v.is_some_and(|v| !v.is_empty())).collect();
                for_each_valid(keys.nulls(), keys.len(), |row| {
                    let key = keys.value(row) as usize;
                    if usable[key] {
                        f(row, key);
                    }
                });
            }
            TextColumn::Plain(text) => for_each_valid(text.nulls(), text.len(), |row| {
                if !text.value(row).is_empty() {
                    f(row, row);
                }
            }),
        }
    }

    /// Whether no row has text: every row null or empty (a dictionary of only empty values
    /// counts as such, whatever its keys).
    pub fn is_blank(&self) -> bool {
        let blank = |text: Option<&str>| text.is_none_or(str::is_empty);
        match self {
            TextColumn::Dictionary { keys, values } => keys.null_count() == keys.len() || values.iter().all(blank),
            TextColumn::Plain(text) => text.iter().all(blank),
        }
    }

    /// `f` of every row's text, computed once per dictionary value rather than once per row.
    pub fn map_rows<T: Copy>(&self, f: impl Fn(Option<&str>) -> T) -> Vec<T> {
        match self {
            TextColumn::Dictionary { keys, values } => {
                let by_value: Vec<T> = values.iter().map(&f).collect();
                let null = f(None);
                keys.iter().map(|key| key.map_or(null, |key| by_value[key as usize])).collect()
            }
            TextColumn::Plain(text) => text.iter().map(f).collect(),
        }
    }
}

/// Calls `f` with each of `len` rows that `nulls` marks valid.
fn for_each_valid(nulls: Option<&NullBuffer>, len: usize, f: impl FnMut(usize)) {
    match nulls.filter(|nulls| nulls.null_count() > 0) {
        Some(nulls) => nulls.valid_indices().for_each(f),
        None => (0..len).for_each(f),
    }
}

/// A map-valued column: a real Arrow map or JSON object text (CSV, some FOCUS files).
pub(crate) enum MapColumn {
    Map(Box<MapText>),
    Json(StringArray),
}

/// An Arrow map with its keys and values as text: cast once for the batch, not per row.
pub(crate) struct MapText {
    map: MapArray,
    keys: StringArray,
    values: StringArray,
}

impl RawBatch {
    pub fn len(&self) -> usize {
        self.batch.num_rows()
    }

    pub fn location(&self, row: usize) -> Location {
        match &self.locations {
            Locations::Lines(lines) => Location::Line(lines[row]),
            Locations::FirstRow(first) => Location::Row(first + row as u64),
        }
    }

    fn column(&self, name: &str) -> Option<&ArrayRef> {
        self.batch.column_by_name(name)
    }

    pub fn has(&self, name: &str) -> bool {
        self.column(name).is_some()
    }

    /// A required value that is empty on this row.
    pub fn required_missing(&self, row: usize, column: &str) -> ErrorKind {
        self.bad_value(row, column, "empty, but every line item needs it".to_owned())
    }

    fn bad_value(&self, row: usize, column: &str, problem: String) -> ErrorKind {
        ErrorKind::BadValue { location: self.location(row), column: column.to_owned(), problem }
    }

    /// A float cost that is no amount (NaN, an infinity).
    fn not_a_number(&self, row: usize, column: &str, value: f64) -> ErrorKind {
        self.bad_value(row, column, format!("cost is {value}, not a number"))
    }

    /// A text column as plain UTF-8; `None` when the file lacks it.
    pub fn text(&self, name: &str) -> Result<Option<StringArray>, ErrorKind> {
        let Some(array) = self.column(name) else {
            return Ok(None);
        };
        let is_text = match array.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
            DataType::Dictionary(_, value) => {
                matches!(value.as_ref(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
            }
            // An all-null column (a tag nobody set) reads fine as text.
            DataType::Null => true,
            _ => false,
        };
        if !is_text {
            return Err(wrong_type(name, array, "text"));
        }
        let cast = arrow_cast::cast(array, &DataType::Utf8).map_err(|e| wrong_type_msg(name, e))?;
        Ok(Some(cast.as_string::<i32>().clone()))
    }

    /// A text column to read row by row without copying it; `None` when the file lacks it.
    pub fn text_in_place(&self, name: &str) -> Result<Option<TextColumn<'_>>, ErrorKind> {
        if let Some(dictionary) = self.column(name).and_then(|c| c.as_dictionary_opt::<Int32Type>())
            && let Some(values) = dictionary.values().as_string_opt::<i32>()
        {
            return Ok(Some(TextColumn::Dictionary { keys: dictionary.keys(), values }));
        }
        Ok(self.text(name)?.map(TextColumn::Plain))
    }

    /// A text column as canonical dictionary text (empty values null); all null when the file
    /// lacks it. Parquet columns arrive dictionary-encoded and pass through without touching
    /// a row: only the (small) dictionary is checked for empty strings.
    pub fn dictionary_text(&self, name: &str) -> Result<ArrayRef, ErrorKind> {
        self.dictionary_text_or(name, None)
    }

    /// Like [`RawBatch::dictionary_text`], with `fallback` in place of empty and null values.
    pub fn dictionary_text_or(&self, name: &str, fallback: Option<&str>) -> Result<ArrayRef, ErrorKind> {
        if let Some(dictionary) = self.column(name).and_then(|c| c.as_dictionary_opt::<Int32Type>())
            && let Some(values) = dictionary.values().as_string_opt::<i32>()
        {
            return Ok(without_empty_values(dictionary, values, fallback));
        }
        let text = self.text(name)?;
        Ok(match fallback {
            None => text_column(text.as_ref(), self.len()),
            Some(fallback) => match text {
                Some(text) => {
                    text_array(text.iter().map(|v| v.filter(|v| !v.is_empty()).or(Some(fallback))), self.len())
                }
                None => text_array(std::iter::repeat_n(Some(fallback), self.len()), self.len()),
            },
        })
    }

    /// A text column of mostly distinct values (resource ids) as canonical dictionary text
    /// without de-duplicating it: plain text becomes a dictionary whose keys point at each
    /// row's own value, so its values may repeat. The store's writer de-duplicates them as it
    /// writes, once.
    pub fn distinct_text(&self, name: &str) -> Result<ArrayRef, ErrorKind> {
        let Some(column) = self.column(name).filter(|c| c.data_type() == &DataType::Utf8) else {
            return self.dictionary_text(name);
        };
        let text = column.as_string::<i32>();
        // Usually no row is null or empty: then each row's key is its own number, and the
        // offsets are only read to tell.
        let has_empty = || text.offsets().windows(2).any(|pair| pair[0] == pair[1]);
        let keys: Int32Array = if text.null_count() == 0 && !has_empty() {
            Int32Array::from_iter_values(0..text.len() as i32)
        } else {
            (0..text.len())
                .map(|row| (text.is_valid(row) && !text.value(row).is_empty()).then_some(row as i32))
                .collect()
        };
        Ok(Arc::new(DictionaryArray::<Int32Type>::try_new(keys, column.clone()).expect("one key per value")))
    }

    /// A money column read only at the rows asked for (see [`SparseMoney`]).
    pub fn sparse_money<'a>(&'a self, name: &'a str) -> Result<SparseMoney<'a>, ErrorKind> {
        match self.column(name) {
            Some(array) if array.data_type() == &DataType::Float64 && array.null_count() < array.len() => {
                Ok(SparseMoney::Floats { name, values: array.as_primitive::<Float64Type>() })
            }
            _ => Ok(SparseMoney::Converted(self.money(name)?)),
        }
    }

    /// A money column as exact amounts; `None` when the file lacks it or no row of the batch
    /// has a value (savings-plan and reservation columns, on most lines), which every reader
    /// treats as it treats a null.
    pub fn money(&self, name: &str) -> Result<Option<MoneyColumn>, ErrorKind> {
        let Some(array) = self.column(name) else {
            return Ok(None);
        };
        if array.null_count() == array.len() {
            return Ok(None);
        }
        let column = match array.data_type() {
            DataType::Float64 | DataType::Float32 | DataType::Float16 => {
                let floats = arrow_cast::cast(array, &DataType::Float64).map_err(|e| wrong_type_msg(name, e))?;
                let floats = floats.as_primitive::<Float64Type>();
                let (values, nulls) = (floats.values(), floats.nulls().filter(|n| n.null_count() > 0));
                // Every row's value checked in one pass, the bad one's row found only on failure;
                // then converted without a branch per row.
                let bad = match nulls {
                    None => values.iter().position(|v| !v.is_finite()),
                    Some(nulls) => values.iter().zip(nulls.iter()).position(|(v, valid)| valid && !v.is_finite()),
                };
                if let Some(row) = bad {
                    return Err(self.not_a_number(row, name, values[row]));
                }
                let mut units: Vec<i128> = values.iter().map(|&v| Money::from_f64(v).map_or(0, Money::units)).collect();
                // A null row's slot may hold anything: it is stored as zero.
                if let Some(nulls) = nulls {
                    for (units, valid) in units.iter_mut().zip(nulls.iter()) {
                        if !valid {
                            *units = 0;
                        }
                    }
                }
                MoneyColumn::new(units, nulls)
            }
            DataType::Decimal128(_, scale) => {
                let (scale, decimals) = (*scale, array.as_primitive::<Decimal128Type>());
                let units = decimals.values().iter().map(|&v| Money::from_scaled(v, scale).units()).collect();
                MoneyColumn::new(units, decimals.nulls())
            }
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 | DataType::UInt32 => {
                let ints = arrow_cast::cast(array, &DataType::Int64).map_err(|e| wrong_type_msg(name, e))?;
                let ints = ints.as_primitive::<Int64Type>();
                let units = ints.values().iter().map(|&v| Money::from_scaled(i128::from(v), 0).units()).collect();
                MoneyColumn::new(units, ints.nulls())
            }
            _ => {
                let text = self.text(name).map_err(|_| wrong_type(name, array, "a number"))?.expect("present");
                let mut units = Vec::with_capacity(text.len());
                let mut valid = Vec::with_capacity(text.len());
                for (row, value) in text.iter().enumerate() {
                    let money = match value {
                        None | Some("") => None,
                        Some(v) => Some(
                            v.parse::<Money>()
                                .map_err(|_| self.bad_value(row, name, format!("`{}` is not a number", clip(v))))?,
                        ),
                    };
                    units.push(money.map_or(0, Money::units));
                    valid.push(money.is_some());
                }
                MoneyColumn::new(units, Some(&NullBuffer::from(valid)))
            }
        };
        Ok(Some(column))
    }

    /// A quantity column as floats.
    pub fn float(&self, name: &str) -> Result<Option<Float64Array>, ErrorKind> {
        let Some(array) = self.column(name) else {
            return Ok(None);
        };
        match array.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _) => {
                let text = self.text(name)?.expect("present");
                let mut out = Vec::with_capacity(text.len());
                for (row, value) in text.iter().enumerate() {
                    out.push(match value {
                        None | Some("") => None,
                        Some(v) => Some(
                            v.trim()
                                .parse::<f64>()
                                .map_err(|_| self.bad_value(row, name, format!("`{}` is not a number", clip(v))))?,
                        ),
                    });
                }
                Ok(Some(Float64Array::from(out)))
            }
            DataType::Boolean | DataType::Binary | DataType::Struct(_) | DataType::List(_) | DataType::Map(_, _) => {
                Err(wrong_type(name, array, "a number"))
            }
            _ => {
                let floats = arrow_cast::cast(array, &DataType::Float64).map_err(|e| wrong_type_msg(name, e))?;
                Ok(Some(floats.as_primitive::<Float64Type>().clone()))
            }
        }
    }

    /// A timestamp column as UTC microseconds. A column already of timestamps is converted
    /// in one pass over its values (none when it is in microseconds).
    pub fn timestamps(&self, name: &str) -> Result<Option<TimestampMicrosecondArray>, ErrorKind> {
        let Some(array) = self.column(name) else {
            return Ok(None);
        };
        match array.data_type() {
            // Legacy CUR Parquet stores milliseconds: scaled in one pass, where Arrow's cast
            // builds a validity bitmap value by value.
            DataType::Timestamp(TimeUnit::Millisecond, _) => {
                const LIMIT: i64 = i64::MAX / 1_000;
                let millis = array.as_primitive::<TimestampMillisecondType>();
                // A null row's slot may hold anything: only a valid row out of range is wrong.
                if millis.values().iter().any(|ms| !(-LIMIT..=LIMIT).contains(ms))
                    && let Some(row) = (0..millis.len())
                        .find(|&row| millis.is_valid(row) && !(-LIMIT..=LIMIT).contains(&millis.value(row)))
                {
                    let problem = format!("{} ms after 1970 is not a time curwatch can hold", millis.value(row));
                    return Err(self.bad_value(row, name, problem));
                }
                Ok(Some(millis.unary(|ms| ms.wrapping_mul(1_000))))
            }
            DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => {
                let target = DataType::Timestamp(TimeUnit::Microsecond, None);
                let micros = arrow_cast::cast(array, &target).map_err(|e| wrong_type_msg(name, e))?;
                Ok(Some(micros.as_primitive::<TimestampMicrosecondType>().clone()))
            }
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _) => {
                let text = self.text(name)?.expect("present");
                let mut out = Vec::with_capacity(text.len());
                let mut last: Option<(&str, i64)> = None;
                for (row, value) in text.iter().enumerate() {
                    out.push(match value {
                        None | Some("") => None,
                        Some(v) => {
                            // Consecutive rows usually share a timestamp; skip re-parsing it.
                            if let Some((_, micros)) = last.filter(|(prev, _)| *prev == v) {
                                Some(micros)
                            } else {
                                let micros = parse_timestamp_micros(v).ok_or_else(|| {
                                    self.bad_value(row, name, format!("`{}` is not a timestamp", clip(v)))
                                })?;
                                last = Some((v, micros));
                                Some(micros)
                            }
                        }
                    });
                }
                Ok(Some(TimestampMicrosecondArray::from(out)))
            }
            _ => Err(wrong_type(name, array, "a timestamp")),
        }
    }

    /// A map column: Arrow map of text, or JSON object text.
    pub fn map(&self, name: &str) -> Result<Option<MapColumn>, ErrorKind> {
        let Some(array) = self.column(name) else {
            return Ok(None);
        };
        match array.data_type() {
            DataType::Map(_, _) => {
                let map = array.as_map().clone();
                let as_text = |entries: &ArrayRef| -> Result<StringArray, ErrorKind> {
                    let text = arrow_cast::cast(entries, &DataType::Utf8).map_err(|e| wrong_type_msg(name, e))?;
                    Ok(text.as_string::<i32>().clone())
                };
                let (keys, values) = (as_text(map.keys())?, as_text(map.values())?);
                Ok(Some(MapColumn::Map(Box::new(MapText { map, keys, values }))))
            }
            _ => match self.text(name) {
                Ok(Some(text)) => Ok(Some(MapColumn::Json(text))),
                Ok(None) => Ok(None),
                Err(_) => Err(wrong_type(name, array, "a map or JSON object text")),
            },
        }
    }

    /// Calls `f` with each entry of one row of a map column that has a value: not null, not
    /// empty.
    pub fn for_each_entry(
        &self,
        column: &MapColumn,
        name: &str,
        row: usize,
        mut f: impl FnMut(&str, &str),
    ) -> Result<(), ErrorKind> {
        match column {
            MapColumn::Map(text) => {
                let MapText { map, keys, values } = text.as_ref();
                if map.is_null(row) {
                    return Ok(());
                }
                let offsets = map.value_offsets();
                for entry in offsets[row] as usize..offsets[row + 1] as usize {
                    if keys.is_valid(entry) && values.is_valid(entry) && !values.value(entry).is_empty() {
                        f(keys.value(entry), values.value(entry));
                    }
                }
            }
            MapColumn::Json(text) => {
                if text.is_null(row) {
                    return Ok(());
                }
                let raw = text.value(row).trim();
                if raw.is_empty() || raw == "{}" {
                    return Ok(());
                }
                let parsed: serde_json::Value = serde_json::from_str(raw)
                    .map_err(|e| self.bad_value(row, name, format!("not a JSON object ({e})")))?;
                let serde_json::Value::Object(object) = parsed else {
                    return Err(self.bad_value(row, name, "not a JSON object".to_owned()));
                };
                for (key, value) in object {
                    let value = match value {
                        serde_json::Value::Null => continue,
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    if !value.is_empty() {
                        f(&key, &value);
                    }
                }
            }
        }
        Ok(())
    }
}

fn wrong_type(name: &str, array: &ArrayRef, expected: &'static str) -> ErrorKind {
    ErrorKind::WrongType { column: name.to_owned(), found: array.data_type().to_string(), expected }
}

fn wrong_type_msg(name: &str, err: arrow_schema::ArrowError) -> ErrorKind {
    ErrorKind::WrongType { column: name.to_owned(), found: err.to_string(), expected: "a supported type" }
}

/// Keeps quoted bad values short in messages.
pub(crate) fn clip(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(MAX).collect::<String>())
    }
}

/// The dictionary with rows whose value is empty made null, as exports mean by them, or made
/// `fallback` (then null rows too).
fn without_empty_values(
    dictionary: &DictionaryArray<Int32Type>,
    values: &StringArray,
    fallback: Option<&str>,
) -> ArrayRef {
    let empty: Vec<bool> = (0..values.len()).map(|i| values.is_null(i) || values.value(i).is_empty()).collect();
    let missing_rows = fallback.is_some() && dictionary.keys().null_count() > 0;
    if !empty.contains(&true) && !missing_rows {
        return Arc::new(dictionary.clone());
    }
    let keys = dictionary.keys();
    let (keys, values): (Int32Array, ArrayRef) = match fallback {
        None => (keys.iter().map(|k| k.filter(|&k| !empty[k as usize])).collect(), dictionary.values().clone()),
        Some(fallback) => {
            // The fallback joins the dictionary as one more value.
            let extra = values.len() as i32;
            let keys = keys.iter().map(|k| Some(k.filter(|&k| !empty[k as usize]).unwrap_or(extra))).collect();
            let values = StringArray::from_iter(values.iter().chain(std::iter::once(Some(fallback))));
            (keys, Arc::new(values))
        }
    };
    Arc::new(DictionaryArray::<Int32Type>::try_new(keys, values).expect("keys in range"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::TimestampMillisecondArray;
    use arrow_buffer::ScalarBuffer;
    use arrow_schema::{Field, Schema};

    fn raw(column: impl Array + 'static) -> RawBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("t", column.data_type().clone(), true)]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(column)]).unwrap();
        RawBatch { batch, locations: Locations::FirstRow(1) }
    }

    #[test]
    fn float_costs_become_exact_amounts_and_a_null_slot_is_not_read() {
        // The null rows' slots hold what no cost may be, and a cost: both are stored as zero.
        let values = ScalarBuffer::from(vec![1.5, f64::NAN, -0.000_000_000_05, 7.0, 0.1]);
        let nulls = NullBuffer::from(vec![true, false, true, false, true]);
        let money = raw(Float64Array::new(values, Some(nulls))).money("t").unwrap().unwrap();
        let (units, nulls) = money.into_parts();
        assert_eq!(units, [15_000_000_000, 0, -1, 0, 1_000_000_000]);
        assert_eq!(nulls.unwrap().iter().collect::<Vec<_>>(), [true, false, true, false, true]);
    }

    #[test]
    fn a_cost_that_is_not_a_number_is_an_error_naming_its_row() {
        let costs = Float64Array::from(vec![Some(1.0), None, Some(2.0), Some(f64::NAN)]);
        match raw(costs).money("t") {
            Err(ErrorKind::BadValue { column, problem, location }) => {
                assert_eq!(column, "t");
                assert!(problem.contains("cost is NaN, not a number"), "{problem}");
                assert_eq!(location, Location::Row(4));
            }
            other => panic!("expected an error, got {:?}", other.map(|m| m.map(|m| m.into_parts().0))),
        }
    }

    #[test]
    fn milliseconds_become_microseconds_and_a_null_slot_is_not_read() {
        // The null row's slot holds a value that would overflow: it must be ignored.
        let values = ScalarBuffer::from(vec![0, 1_704_067_200_000, i64::MAX, -5]);
        let nulls = NullBuffer::from(vec![true, true, false, true]);
        let micros = raw(TimestampMillisecondArray::new(values, Some(nulls))).timestamps("t").unwrap().unwrap();
        let read: Vec<Option<i64>> = micros.iter().collect();
        assert_eq!(read, [Some(0), Some(1_704_067_200_000_000), None, Some(-5_000)]);
    }

    #[test]
    fn a_time_out_of_range_is_an_error_naming_its_row() {
        let millis = TimestampMillisecondArray::from(vec![Some(1), None, Some(i64::MIN)]);
        match raw(millis).timestamps("t") {
            Err(ErrorKind::BadValue { column, problem, location }) => {
                assert_eq!(column, "t");
                assert!(problem.contains("not a time curwatch can hold"), "{problem}");
                assert_eq!(location, Location::Row(3));
            }
            other => panic!("expected an error, got {:?}", other.map(|t| t.map(|t| t.len()))),
        }
    }
}
