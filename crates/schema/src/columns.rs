//! Column names and Arrow types of the canonical line-item table.

use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, DictionaryArray, MapArray, StringArray, StructArray};
use arrow_buffer::OffsetBuffer;
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};

use crate::money::{SCALE, STORED_PRECISION};

pub const BILLING_PERIOD: &str = "billing_period";
pub const USAGE_START: &str = "usage_start";
pub const USAGE_END: &str = "usage_end";
pub const PAYER_ACCOUNT_ID: &str = "payer_account_id";
pub const ACCOUNT_ID: &str = "account_id";
pub const LINE_ITEM_TYPE: &str = "line_item_type";
pub const CHARGE_CLASS: &str = "charge_class";
pub const PROVIDER: &str = "provider";
pub const SERVICE: &str = "service";
pub const SERVICE_NAME: &str = "service_name";
pub const REGION: &str = "region";
pub const USAGE_TYPE: &str = "usage_type";
pub const OPERATION: &str = "operation";
pub const RESOURCE_ID: &str = "resource_id";
pub const USAGE_AMOUNT: &str = "usage_amount";
pub const PRICING_UNIT: &str = "pricing_unit";
pub const CURRENCY: &str = "currency";
pub const UNBLENDED_COST: &str = "unblended_cost";
pub const NET_UNBLENDED_COST: &str = "net_unblended_cost";
pub const AMORTIZED_COST: &str = "amortized_cost";
pub const TAGS: &str = "tags";
pub const COST_CATEGORIES: &str = "cost_categories";
pub const EXPORT: &str = "export";
pub const SOURCE_FILE: &str = "source_file";

/// The `service` value of Amazon API Gateway lines: the store keeps them in row groups of their
/// own so that readers after only them skip everything else by row-group statistics.
pub const API_GATEWAY_SERVICE: &str = "AmazonApiGateway";

/// The Arrow type of every low-cardinality text column: dictionary-encoded in memory and on disk.
pub fn text_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

pub fn money_type() -> DataType {
    DataType::Decimal128(STORED_PRECISION, SCALE as i8)
}

/// The field layout of `tags` and `cost_categories`: a string-to-string map.
pub fn map_entries_field() -> Arc<Field> {
    entries_field(DataType::Utf8)
}

pub fn map_type() -> DataType {
    DataType::Map(map_entries_field(), false)
}

/// The field layout of `tags` and `cost_categories` in canonical batches: a map whose keys
/// and values are dictionary text, as the flat text columns are.
pub fn tag_map_entries_field() -> Arc<Field> {
    entries_field(text_type())
}

pub fn tag_map_type() -> DataType {
    DataType::Map(tag_map_entries_field(), false)
}

fn entries_field(text: DataType) -> Arc<Field> {
    Arc::new(Field::new(
        "entries",
        DataType::Struct(Fields::from(vec![Field::new("keys", text.clone(), false), Field::new("values", text, true)])),
        false,
    ))
}

/// A canonical batch's `tags`-shaped map column from its entries' keys and values (dictionary
/// text) and each row's offsets (one more than rows, the last the number of entries).
pub fn tag_map_array(
    offsets: Vec<i32>,
    keys: DictionaryArray<Int32Type>,
    values: DictionaryArray<Int32Type>,
) -> MapArray {
    let DataType::Struct(fields) = tag_map_entries_field().data_type().clone() else {
        unreachable!("map entries are a struct")
    };
    let entries = StructArray::new(fields, vec![Arc::new(keys) as ArrayRef, Arc::new(values)], None);
    MapArray::try_new(tag_map_entries_field(), OffsetBuffer::new(offsets.into()), entries, None, false)
        .expect("entries and offsets built together")
}

/// A `tags`-shaped map column from its entries' keys and values and each row's offsets
/// (one more than rows, the last the number of entries).
pub fn map_array(offsets: Vec<i32>, keys: StringArray, values: StringArray) -> MapArray {
    let DataType::Struct(fields) = map_entries_field().data_type().clone() else {
        unreachable!("map entries are a struct")
    };
    let entries = StructArray::new(fields, vec![Arc::new(keys) as ArrayRef, Arc::new(values)], None);
    MapArray::try_new(map_entries_field(), OffsetBuffer::new(offsets.into()), entries, None, false)
        .expect("entries and offsets built together")
}

/// The canonical schema, in storage order: the store's line-item files.
pub fn canonical_schema() -> SchemaRef {
    schema_with_maps(map_type())
}

/// The schema of canonical batches on their way from ingest to the store: the store's, with
/// the maps' keys and values as dictionary text, so that ingest hands the source's dictionary
/// keys on instead of copying each entry's text (the store writes both the same way).
pub fn canonical_batch_schema() -> SchemaRef {
    schema_with_maps(tag_map_type())
}

fn schema_with_maps(map_type: DataType) -> SchemaRef {
    let text = |name: &str, nullable: bool| Field::new(name, text_type(), nullable);
    Arc::new(Schema::new(vec![
        text(BILLING_PERIOD, false),
        Field::new(USAGE_START, timestamp_type(), false),
        Field::new(USAGE_END, timestamp_type(), true),
        text(PAYER_ACCOUNT_ID, true),
        text(ACCOUNT_ID, true),
        text(LINE_ITEM_TYPE, false),
        text(CHARGE_CLASS, false),
        text(PROVIDER, false),
        text(SERVICE, false),
        text(SERVICE_NAME, true),
        text(REGION, true),
        text(USAGE_TYPE, true),
        text(OPERATION, true),
        text(RESOURCE_ID, true),
        Field::new(USAGE_AMOUNT, DataType::Float64, true),
        text(PRICING_UNIT, true),
        text(CURRENCY, true),
        Field::new(UNBLENDED_COST, money_type(), false),
        Field::new(NET_UNBLENDED_COST, money_type(), true),
        Field::new(AMORTIZED_COST, money_type(), false),
        Field::new(TAGS, map_type.clone(), true),
        Field::new(COST_CATEGORIES, map_type, true),
        text(EXPORT, false),
        text(SOURCE_FILE, false),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_has_unique_names() {
        let schema = canonical_schema();
        let mut names: Vec<_> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let count = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count);
        assert_eq!(count, 24);
    }
}
