//! Query results to curwatch's tables, keeping money exact.

use curwatch_report::{Cell, Table};
use curwatch_schema::Money;
use polars::prelude::*;

fn cell(value: AnyValue) -> Cell {
    match value {
        AnyValue::Null => Cell::Text(None),
        AnyValue::Decimal(units, _, scale) => Cell::Money(Money::from_scaled(units, scale as i8)),
        AnyValue::Int8(v) => Cell::Integer(v.into()),
        AnyValue::Int16(v) => Cell::Integer(v.into()),
        AnyValue::Int32(v) => Cell::Integer(v.into()),
        AnyValue::Int64(v) => Cell::Integer(v),
        AnyValue::UInt8(v) => Cell::Integer(v.into()),
        AnyValue::UInt16(v) => Cell::Integer(v.into()),
        AnyValue::UInt32(v) => Cell::Integer(v.into()),
        AnyValue::UInt64(v) => i64::try_from(v).map_or(Cell::Number(v as f64), Cell::Integer),
        AnyValue::Float32(v) => Cell::Number(v.into()),
        AnyValue::Float64(v) => Cell::Number(v),
        other => match other.get_str() {
            Some(text) => Cell::Text(Some(text.to_owned())),
            None => Cell::Text(Some(other.to_string())),
        },
    }
}

pub(crate) fn to_table(frame: &DataFrame) -> Table {
    let headers = frame.get_column_names().iter().map(|n| n.to_string()).collect();
    let rows = (0..frame.height()).map(|i| frame.get(i).unwrap_or_default().into_iter().map(cell).collect()).collect();
    Table { headers, rows, total: None }
}
