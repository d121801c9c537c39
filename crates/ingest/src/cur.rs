//! Legacy CUR and CUR 2.0 columns to the canonical schema.
//!
//! Both use the same snake_case names (legacy CSV headers are normalised to them on
//! read); they differ only in where tags, cost categories and some product attributes live.

use std::sync::Arc;

use arrow_array::builder::StringDictionaryBuilder;
use arrow_array::types::Int32Type;
use arrow_array::{Array, RecordBatch, TimestampMicrosecondArray};
use curwatch_schema::naming::tag_key;
use curwatch_schema::{BillingPeriod, ChargeClass, Money};

use crate::canonical::{CanonicalColumns, FileContext, constant_text, map_from_source, sparse_map, text_array};
use crate::error::ErrorKind;
use crate::format::ExportFormat;
use crate::source::{MapColumn, MoneyColumn, RawBatch, SparseMoney};

const BILLING_PERIOD_START: &str = "bill_billing_period_start_date";
const USAGE_START: &str = "line_item_usage_start_date";
const USAGE_END: &str = "line_item_usage_end_date";
const PAYER: &str = "bill_payer_account_id";
const ACCOUNT: &str = "line_item_usage_account_id";
const LINE_ITEM_TYPE: &str = "line_item_line_item_type";
const PRODUCT_CODE: &str = "line_item_product_code";
const PRODUCT_NAME: &str = "product_product_name";
const REGION_CODE: &str = "product_region_code";
const REGION: &str = "product_region";
const USAGE_TYPE: &str = "line_item_usage_type";
const OPERATION: &str = "line_item_operation";
const RESOURCE_ID: &str = "line_item_resource_id";
const USAGE_AMOUNT: &str = "line_item_usage_amount";
const PRICING_UNIT: &str = "pricing_unit";
const CURRENCY: &str = "line_item_currency_code";
const UNBLENDED: &str = "line_item_unblended_cost";
const NET_UNBLENDED: &str = "line_item_net_unblended_cost";
const SP_EFFECTIVE: &str = "savings_plan_savings_plan_effective_cost";
const SP_COMMITMENT: &str = "savings_plan_total_commitment_to_date";
const SP_USED: &str = "savings_plan_used_commitment";
const RI_EFFECTIVE: &str = "reservation_effective_cost";
const RI_UNUSED_UPFRONT: &str = "reservation_unused_amortized_upfront_fee_for_billing_period";
const RI_UNUSED_RECURRING: &str = "reservation_unused_recurring_fee";
const RI_ARN: &str = "reservation_reservation_a_r_n";
const TAG_MAP: &str = "resource_tags";
const PRODUCT_MAP: &str = "product";
const CATEGORY_MAP: &str = "cost_category";
const LEGACY_TAG_PREFIX: &str = "resource_tags_";
const LEGACY_CATEGORY_PREFIX: &str = "cost_category_";

const REQUIRED: [&str; 6] = [BILLING_PERIOD_START, USAGE_START, ACCOUNT, LINE_ITEM_TYPE, PRODUCT_CODE, UNBLENDED];
const OPTIONAL: [&str; 20] = [
    USAGE_END,
    PAYER,
    PRODUCT_NAME,
    REGION_CODE,
    REGION,
    USAGE_TYPE,
    OPERATION,
    RESOURCE_ID,
    USAGE_AMOUNT,
    PRICING_UNIT,
    CURRENCY,
    NET_UNBLENDED,
    SP_EFFECTIVE,
    SP_COMMITMENT,
    SP_USED,
    RI_EFFECTIVE,
    RI_UNUSED_UPFRONT,
    RI_UNUSED_RECURRING,
    RI_ARN,
    PRODUCT_MAP,
];

/// What to read from a CUR file and how to map it; decided once from the header.
#[derive(Debug, Clone)]
pub(crate) struct CurPlan {
    format: ExportFormat,
    /// Legacy: one column per tag, `resource_tags_user_team`.
    tag_columns: Vec<String>,
    category_columns: Vec<String>,
    wanted: Vec<String>,
}

impl CurPlan {
    pub fn new(format: ExportFormat, columns: &[String]) -> Result<Self, ErrorKind> {
        for required in REQUIRED {
            if !columns.iter().any(|c| c == required) {
                return Err(ErrorKind::MissingColumn { format: format.label(), column: required.to_owned() });
            }
        }
        let prefixed = |prefix: &str| -> Vec<String> {
            columns.iter().filter(|c| c.starts_with(prefix) && c.len() > prefix.len()).cloned().collect()
        };
        let (tag_columns, category_columns) = match format {
            ExportFormat::LegacyCur => (prefixed(LEGACY_TAG_PREFIX), prefixed(LEGACY_CATEGORY_PREFIX)),
            _ => (Vec::new(), Vec::new()),
        };
        let mut wanted: Vec<String> = REQUIRED.iter().chain(OPTIONAL.iter()).map(|s| (*s).to_owned()).collect();
        wanted.extend([TAG_MAP.to_owned(), CATEGORY_MAP.to_owned()]);
        wanted.extend(tag_columns.iter().cloned());
        wanted.extend(category_columns.iter().cloned());
        wanted.retain(|w| columns.contains(w));
        Ok(CurPlan { format, tag_columns, category_columns, wanted })
    }

    /// The source columns this plan reads (all present in the file).
    pub fn wanted(&self) -> &[String] {
        &self.wanted
    }

    pub fn canonicalize(&self, raw: &RawBatch, ctx: &FileContext) -> Result<RecordBatch, ErrorKind> {
        let len = raw.len();
        let period_start = raw.timestamps(BILLING_PERIOD_START)?.expect("required");
        let usage_start = raw.timestamps(USAGE_START)?.expect("required");
        let line_item_type = raw.text_in_place(LINE_ITEM_TYPE)?.expect("required column checked");
        // A batch without any unblended cost (rather than a file without the column) costs 0.
        let unblended = raw.money(UNBLENDED)?.map_or_else(|| vec![Money::ZERO; len], MoneyColumn::or_zero);

        let mut billing_period = Vec::with_capacity(len);
        // Every row of a file usually has one period start: it is converted once.
        let mut last: Option<(i64, BillingPeriod)> = None;
        for row in 0..len {
            let period = match (period_start.is_valid(row).then(|| period_start.value(row)), last) {
                (Some(micros), Some((seen, period))) if micros == seen => Some(period),
                (Some(micros), _) => BillingPeriod::of_micros(micros).inspect(|&period| last = Some((micros, period))),
                (None, _) => None,
            }
            .ok_or_else(|| raw.required_missing(row, BILLING_PERIOD_START))?;
            billing_period.push(period);
            if usage_start.is_null(row) {
                return Err(raw.required_missing(row, USAGE_START));
            }
        }

        let amortized = self.amortized(raw, &line_item_type.map_rows(AmortizedRule::of), &unblended)?;
        let charge_class = line_item_type.map_rows(|t| ChargeClass::from_cur_line_item_type(t.unwrap_or_default()));

        let product_map = match raw.map(PRODUCT_MAP)? {
            Some(map) if self.format == ExportFormat::Cur2 => Some(map),
            _ => None,
        };
        let service_name = if raw.has(PRODUCT_NAME) {
            raw.dictionary_text(PRODUCT_NAME)?
        } else {
            product_attribute(raw, product_map.as_ref(), &["product_name"], len)?
        };
        let region = match (raw.has(REGION_CODE), raw.has(REGION)) {
            // The region name only where a line has no region code.
            (true, true) => {
                let codes = raw.dictionary_text(REGION_CODE)?;
                if codes.null_count() == 0 {
                    codes
                } else {
                    let (codes, regions) =
                        (raw.text(REGION_CODE)?.expect("present"), raw.text(REGION)?.expect("present"));
                    text_array(codes.iter().zip(regions.iter()).map(|(c, r)| c.filter(|c| !c.is_empty()).or(r)), len)
                }
            }
            (true, false) => raw.dictionary_text(REGION_CODE)?,
            (false, true) => raw.dictionary_text(REGION)?,
            (false, false) => product_attribute(raw, product_map.as_ref(), &["region_code", "region"], len)?,
        };
        let services = raw.dictionary_text_or(PRODUCT_CODE, Some("unknown"))?;

        CanonicalColumns {
            billing_period,
            usage_start,
            usage_end: raw.timestamps(USAGE_END)?.unwrap_or_else(|| TimestampMicrosecondArray::new_null(len)),
            payer_account_id: raw.dictionary_text(PAYER)?,
            account_id: raw.dictionary_text(ACCOUNT)?,
            line_item_type: raw.dictionary_text(LINE_ITEM_TYPE)?,
            charge_class,
            provider: constant_text("AWS", len),
            service: services,
            service_name,
            region,
            usage_type: raw.dictionary_text(USAGE_TYPE)?,
            operation: raw.dictionary_text(OPERATION)?,
            resource_id: raw.distinct_text(RESOURCE_ID)?,
            usage_amount: raw.float(USAGE_AMOUNT)?.unwrap_or_else(|| vec![None; len].into()),
            pricing_unit: raw.dictionary_text(PRICING_UNIT)?,
            currency: raw.dictionary_text(CURRENCY)?,
            net_unblended_cost: raw.money(NET_UNBLENDED)?,
            unblended_cost: unblended,
            amortized_cost: amortized,
            tags: self.map_column(raw, TAG_MAP, &self.tag_columns, LEGACY_TAG_PREFIX)?,
            cost_categories: self.map_column(raw, CATEGORY_MAP, &self.category_columns, LEGACY_CATEGORY_PREFIX)?,
        }
        .into_batch(ctx)
    }

    /// Amortised cost, by the Well-Architected CUR library's rule per line item type.
    fn amortized(&self, raw: &RawBatch, rules: &[AmortizedRule], unblended: &[Money]) -> Result<Vec<Money>, ErrorKind> {
        let sp_effective = raw.sparse_money(SP_EFFECTIVE)?;
        let sp_commitment = raw.sparse_money(SP_COMMITMENT)?;
        let sp_used = raw.sparse_money(SP_USED)?;
        let ri_effective = raw.sparse_money(RI_EFFECTIVE)?;
        let ri_upfront = raw.sparse_money(RI_UNUSED_UPFRONT)?;
        let ri_recurring = raw.sparse_money(RI_UNUSED_RECURRING)?;
        let ri_arn = raw.text_in_place(RI_ARN)?;
        let mut out = Vec::with_capacity(unblended.len());
        for (row, (&cost, rule)) in unblended.iter().zip(rules).enumerate() {
            let at = |column: &SparseMoney| column.get(raw, row);
            let value = match rule {
                AmortizedRule::Cost => cost,
                AmortizedRule::SavingsPlanCovered => at(&sp_effective)?.unwrap_or(cost),
                AmortizedRule::SavingsPlanRecurring => match (at(&sp_commitment)?, at(&sp_used)?) {
                    (Some(total), Some(used)) => total - used,
                    _ => cost,
                },
                AmortizedRule::Zero => Money::ZERO,
                AmortizedRule::Discounted => at(&ri_effective)?.unwrap_or(cost),
                AmortizedRule::ReservationFee => match (at(&ri_upfront)?, at(&ri_recurring)?) {
                    (None, None) => cost,
                    (upfront, recurring) => upfront.unwrap_or_default() + recurring.unwrap_or_default(),
                },
                AmortizedRule::Fee if ri_arn.as_ref().and_then(|a| a.get(row)).is_some_and(|arn| !arn.is_empty()) => {
                    Money::ZERO
                }
                AmortizedRule::Fee => cost,
            };
            out.push(value);
        }
        Ok(out)
    }

    /// Tags or cost categories: a CUR 2.0 map column, or legacy per-key columns.
    fn map_column(
        &self,
        raw: &RawBatch,
        map_name: &str,
        legacy_columns: &[String],
        legacy_prefix: &str,
    ) -> Result<arrow_array::ArrayRef, ErrorKind> {
        if self.format == ExportFormat::Cur2 {
            return map_from_source(raw, map_name);
        }
        let mut columns = Vec::with_capacity(legacy_columns.len());
        for name in legacy_columns {
            let values = raw.text_in_place(name)?.expect("listed from the header");
            // A column without text in this batch adds nothing to any row.
            if !values.is_blank() {
                columns.push((tag_key(&name[legacy_prefix.len()..]), values));
            }
        }
        sparse_map(raw.len(), &columns)
    }
}

/// Which amortised-cost rule a line item type takes.
#[derive(Clone, Copy)]
enum AmortizedRule {
    /// The line's own cost.
    Cost,
    SavingsPlanCovered,
    SavingsPlanRecurring,
    /// Savings-plan negations and upfront fees: their cost is amortised elsewhere.
    Zero,
    Discounted,
    ReservationFee,
    /// A fee: zero when it is a reservation's upfront payment.
    Fee,
}

impl AmortizedRule {
    fn of(line_item_type: Option<&str>) -> Self {
        match line_item_type {
            Some("SavingsPlanCoveredUsage") => AmortizedRule::SavingsPlanCovered,
            Some("SavingsPlanRecurringFee") => AmortizedRule::SavingsPlanRecurring,
            Some("SavingsPlanNegation" | "SavingsPlanUpfrontFee") => AmortizedRule::Zero,
            Some("DiscountedUsage") => AmortizedRule::Discounted,
            Some("RIFee") => AmortizedRule::ReservationFee,
            Some("Fee") => AmortizedRule::Fee,
            _ => AmortizedRule::Cost,
        }
    }
}

/// A product attribute that CUR 2.0 keeps inside the `product` map.
fn product_attribute(
    raw: &RawBatch,
    map: Option<&MapColumn>,
    keys: &[&str],
    len: usize,
) -> Result<arrow_array::ArrayRef, ErrorKind> {
    let Some(map) = map else {
        return Ok(text_array(std::iter::repeat_n(None, len), len));
    };
    let mut builder = StringDictionaryBuilder::<Int32Type>::with_capacity(len, 64, 1024);
    // The value of the earliest of `keys` the row has; one buffer for every row.
    let mut found = String::new();
    for row in 0..len {
        // That key's place in `keys`.
        let mut rank = usize::MAX;
        raw.for_each_entry(map, PRODUCT_MAP, row, |key, value| {
            if let Some(place) = keys.iter().position(|k| *k == key).filter(|&place| place < rank) {
                rank = place;
                found.clear();
                found.push_str(value);
            }
        })?;
        if rank == usize::MAX {
            builder.append_null();
        } else {
            builder.append_value(&found);
        }
    }
    Ok(Arc::new(builder.finish()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::cast::AsArray;
    use arrow_array::{ArrayRef, DictionaryArray, StringArray, types::Int32Type};

    use super::*;
    use crate::source::Locations;

    use crate::canonical::map_row as entries;

    /// The map a legacy plan makes of these columns: tag columns, or cost category columns
    /// with `categories`.
    fn legacy_map(columns: Vec<(&str, ArrayRef)>, categories: bool) -> arrow_array::MapArray {
        let batch = RecordBatch::try_from_iter(columns).unwrap();
        let names: Vec<String> = batch.schema().fields().iter().map(|f| f.name().clone()).collect();
        let (tag_columns, category_columns) =
            if categories { (Vec::new(), names.clone()) } else { (names.clone(), Vec::new()) };
        let plan = CurPlan { format: ExportFormat::LegacyCur, tag_columns, category_columns, wanted: names };
        let raw = RawBatch { batch, locations: Locations::FirstRow(1) };
        let map = if categories {
            plan.map_column(&raw, CATEGORY_MAP, &plan.category_columns, LEGACY_CATEGORY_PREFIX)
        } else {
            plan.map_column(&raw, TAG_MAP, &plan.tag_columns, LEGACY_TAG_PREFIX)
        };
        map.unwrap().as_map().clone()
    }

    #[test]
    fn sparse_tag_columns_give_the_map_that_reading_every_row_gives() {
        // 300 rows (several bitmap words): a sparse plain column, a dense dictionary column,
        // a sparse dictionary column sharing the first one's key, and empty text here and there.
        let rows = 300;
        let sparse: Vec<Option<String>> =
            (0..rows).map(|r| (r % 61 == 3).then(|| if r == 125 { String::new() } else { format!("t{r}") })).collect();
        let dense: Vec<Option<&str>> = (0..rows).map(|r| Some(["prod", "dev", ""][r % 3])).collect();
        let shared: Vec<Option<&str>> = (0..rows).map(|r| (r % 2 == 1).then_some("other")).collect();
        let map = legacy_map(
            vec![
                ("resource_tags_user_team", Arc::new(StringArray::from(sparse.clone())) as ArrayRef),
                ("resource_tags_user_env", Arc::new(dense.iter().copied().collect::<DictionaryArray<Int32Type>>())),
                ("resource_tags_user_Team", Arc::new(shared.iter().copied().collect::<DictionaryArray<Int32Type>>())),
            ],
            false,
        );
        for row in 0..rows {
            let mut expected: Vec<(String, String)> = Vec::new();
            let cells = [("team", sparse[row].as_deref()), ("env", dense[row]), ("team", shared[row])];
            for (key, value) in cells {
                if let Some(value) = value.filter(|v| !v.is_empty())
                    && !expected.iter().any(|(k, _)| k == key)
                {
                    expected.push((key.to_owned(), value.to_owned()));
                }
            }
            assert_eq!(entries(&map, row), expected, "row {row}");
        }
    }

    #[test]
    fn a_single_tag_column_gives_each_row_its_text() {
        // Nulls over several bitmap words, empty text, and rows with text on both sides of them.
        let rows = 200;
        let values: Vec<Option<&str>> = (0..rows).map(|r| (r % 7 != 0).then_some(["a", "", "b"][r % 3])).collect();
        for plain in [false, true] {
            let column: ArrayRef = if plain {
                Arc::new(StringArray::from(values.clone()))
            } else {
                Arc::new(values.iter().copied().collect::<DictionaryArray<Int32Type>>())
            };
            let map = legacy_map(vec![("cost_category_business_unit", column)], true);
            assert_eq!(map.len(), rows);
            for (row, value) in values.iter().enumerate() {
                let expected: Vec<(String, String)> = value
                    .filter(|v| !v.is_empty())
                    .map(|v| ("business_unit".to_owned(), v.to_owned()))
                    .into_iter()
                    .collect();
                assert_eq!(entries(&map, row), expected, "row {row}, plain {plain}");
            }
        }
    }

    #[test]
    fn product_attributes_come_from_the_earliest_key_a_row_has() {
        use curwatch_schema::columns::map_array;
        // Rows: both keys; only the fallback; an empty first choice, then the fallback; a null map.
        let (keys, values) = (
            StringArray::from(vec!["region", "region_code", "region", "region_code", "region"]),
            StringArray::from(vec!["Europe", "eu-west-1", "US East", "", "Asia"]),
        );
        let map = map_array(vec![0, 2, 3, 5, 5], keys, values);
        let map = arrow_array::MapArray::new(
            curwatch_schema::columns::map_entries_field(),
            map.offsets().clone(),
            map.entries().clone(),
            Some(vec![true, true, true, false].into()),
            false,
        );
        let batch = RecordBatch::try_from_iter([(PRODUCT_MAP, Arc::new(map) as ArrayRef)]).unwrap();
        let raw = RawBatch { batch, locations: Locations::FirstRow(1) };
        let product = raw.map(PRODUCT_MAP).unwrap();
        let region = product_attribute(&raw, product.as_ref(), &["region_code", "region"], 4).unwrap();
        let region = region.as_dictionary::<Int32Type>();
        let region: Vec<Option<&str>> = region.downcast_dict::<StringArray>().unwrap().into_iter().collect();
        assert_eq!(region, [Some("eu-west-1"), Some("US East"), Some("Asia"), None]);
    }

    /// A legacy batch of three lines whose timestamps are Parquet's milliseconds.
    fn timed_batch(starts: Vec<Option<i64>>, ends: Vec<Option<i64>>) -> (CurPlan, RawBatch) {
        use arrow_array::{Float64Array, TimestampMillisecondArray};
        let text = |v: &str| Arc::new(StringArray::from(vec![v; 3])) as ArrayRef;
        let millis = |values: Vec<Option<i64>>| Arc::new(TimestampMillisecondArray::from(values)) as ArrayRef;
        let batch = RecordBatch::try_from_iter([
            (BILLING_PERIOD_START, millis(vec![Some(1_704_067_200_000); 3])),
            (USAGE_START, millis(starts)),
            (USAGE_END, millis(ends)),
            (ACCOUNT, text("111122223333")),
            (LINE_ITEM_TYPE, text("Usage")),
            (PRODUCT_CODE, text("AmazonApiGateway")),
            (UNBLENDED, Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0])) as ArrayRef),
        ])
        .unwrap();
        let columns: Vec<String> = batch.schema().fields().iter().map(|f| f.name().clone()).collect();
        let plan = CurPlan::new(ExportFormat::LegacyCur, &columns).unwrap();
        (plan, RawBatch { batch, locations: Locations::FirstRow(1) })
    }

    #[test]
    fn savings_plan_amounts_are_read_only_where_the_line_item_type_uses_them() {
        use arrow_array::Float64Array;
        let ctx = FileContext { export: "e".into(), source_file: "f.parquet".into() };
        let (_, raw) = timed_batch(vec![Some(1_704_153_600_000); 3], vec![None; 3]);
        let schema = raw.batch.schema();
        let amortized = |types: [&str; 3], effective: [Option<f64>; 3]| {
            let mut columns: Vec<(&str, ArrayRef)> = schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .filter(|&name| name != LINE_ITEM_TYPE)
                .map(|name| (name, raw.batch.column_by_name(name).unwrap().clone()))
                .collect();
            columns.push((LINE_ITEM_TYPE, Arc::new(StringArray::from(types.to_vec()))));
            columns.push((SP_EFFECTIVE, Arc::new(Float64Array::from(effective.to_vec()))));
            let batch = RecordBatch::try_from_iter(columns).unwrap();
            let names: Vec<String> = batch.schema().fields().iter().map(|f| f.name().clone()).collect();
            let plan = CurPlan::new(ExportFormat::LegacyCur, &names).unwrap();
            let raw = RawBatch { batch, locations: Locations::FirstRow(1) };
            plan.canonicalize(&raw, &ctx).map(|batch| {
                let costs = batch
                    .column_by_name("amortized_cost")
                    .unwrap()
                    .as_primitive::<arrow_array::types::Decimal128Type>()
                    .clone();
                costs.values().iter().map(|&units| Money::from_units(units)).collect::<Vec<_>>()
            })
        };
        // Unblended costs are 1, 2 and 3. A value no rule reads may be anything.
        let covered = ["SavingsPlanCoveredUsage", "Usage", "SavingsPlanCoveredUsage"];
        let read = amortized(covered, [Some(0.25), Some(f64::NAN), None]).unwrap();
        assert_eq!(read, [Money::from_cents(25), Money::from_cents(200), Money::from_cents(300)]);
        // One a rule reads is an error naming its row.
        let error = amortized(covered, [Some(0.25), None, Some(f64::INFINITY)]).unwrap_err();
        let ErrorKind::BadValue { location, column, problem } = error else { panic!("{error:?}") };
        assert_eq!((location, column.as_str()), (crate::error::Location::Row(3), SP_EFFECTIVE));
        assert!(problem.contains("cost is inf, not a number"), "{problem}");
    }

    #[test]
    fn timestamps_pass_through_as_utc_microseconds_and_a_line_without_a_start_is_refused() {
        use arrow_array::types::TimestampMicrosecondType;
        let ctx = FileContext { export: "e".into(), source_file: "f.parquet".into() };
        let (start, end) = (1_704_153_600_000, 1_704_240_000_000);
        let (plan, raw) = timed_batch(vec![Some(start); 3], vec![Some(end), None, Some(end)]);
        let batch = plan.canonicalize(&raw, &ctx).unwrap();
        let micros = |name: &str| {
            let column = batch.column_by_name(name).unwrap();
            assert_eq!(
                column.data_type(),
                &arrow_schema::DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, Some("UTC".into()))
            );
            column.as_primitive::<TimestampMicrosecondType>().iter().collect::<Vec<_>>()
        };
        assert_eq!(micros("usage_start"), [Some(start * 1000); 3]);
        assert_eq!(micros("usage_end"), [Some(end * 1000), None, Some(end * 1000)]);

        let (plan, raw) = timed_batch(vec![Some(start), Some(start), None], vec![None; 3]);
        let error = plan.canonicalize(&raw, &ctx).unwrap_err();
        let ErrorKind::BadValue { location, column, problem } = error else { panic!("{error:?}") };
        assert_eq!((location, column.as_str()), (crate::error::Location::Row(3), USAGE_START));
        assert!(problem.contains("every line item needs it"), "{problem}");
    }

    #[test]
    fn legacy_tag_columns_become_one_map_first_value_of_a_key_winning() {
        let text = |values: Vec<Option<&str>>| Arc::new(StringArray::from(values)) as ArrayRef;
        let dictionary = |values: Vec<Option<&str>>| {
            Arc::new(values.into_iter().collect::<DictionaryArray<Int32Type>>()) as ArrayRef
        };
        // Two columns that normalise to one key (`team`), a column with no text in this
        // batch, and a dictionary-encoded one.
        let map = legacy_map(
            vec![
                ("resource_tags_user_team", text(vec![Some(""), Some("payments"), None])),
                ("resource_tags_user_Team", dictionary(vec![Some("search"), Some("ignored"), Some("ads")])),
                ("resource_tags_user_unused", text(vec![None, Some(""), None])),
                ("resource_tags_user_env", dictionary(vec![None, Some("prod"), Some("")])),
            ],
            false,
        );
        let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        assert_eq!(entries(&map, 0), [pair("team", "search")], "an empty value leaves the key to the next column");
        assert_eq!(entries(&map, 1), [pair("team", "payments"), pair("env", "prod")]);
        assert_eq!(entries(&map, 2), [pair("team", "ads")]);
    }
}
