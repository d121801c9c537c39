//! The `api_gateway` table: allocated rows written as Parquet for the SQL engine.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, Decimal128Array, Float64Array, RecordBatch, StringArray};
use curwatch_allocate::Allocation;
use curwatch_schema::money::SCALE;
use parquet::arrow::ArrowWriter;

use crate::QueryError;

pub(crate) fn write(allocation: &Allocation, path: &Path) -> Result<(), QueryError> {
    let rows = &allocation.rows;
    let text = |f: &dyn Fn(&curwatch_allocate::AllocatedRow) -> Option<String>| -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<StringArray>())
    };
    let money = |f: &dyn Fn(&curwatch_allocate::AllocatedRow) -> i128| -> ArrayRef {
        let values: Decimal128Array = rows.iter().map(|r| Some(f(r))).collect();
        Arc::new(values.with_precision_and_scale(38, SCALE as i8).expect("valid decimal"))
    };
    let labels = |r: &curwatch_allocate::AllocatedRow| {
        (!r.labels.is_empty()).then(|| r.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(";"))
    };
    let batch = RecordBatch::try_from_iter_with_nullable([
        ("billing_period", text(&|r| Some(r.billing_period.clone())), false),
        ("day", text(&|r| Some(r.day.clone())), false),
        ("account_id", text(&|r| r.account.clone()), true),
        ("region", text(&|r| r.region.clone()), true),
        ("usage_type", text(&|r| r.usage_type.clone()), true),
        ("resource_id", text(&|r| r.resource_id.clone()), true),
        ("charge_class", text(&|r| Some(r.charge_class.clone())), false),
        ("api_id", text(&|r| r.api_id.clone()), true),
        ("stage", text(&|r| r.stage.clone()), true),
        ("api_type", text(&|r| Some(r.api_type.as_str().to_owned())), false),
        ("component", text(&|r| Some(r.component.as_str().to_owned())), false),
        ("team", text(&|r| Some(r.team.clone())), false),
        ("owner_source", text(&|r| Some(r.owner_source.clone())), false),
        ("labels", text(&labels), true),
        ("unblended_cost", money(&|r| r.costs.unblended), false),
        ("net_cost", money(&|r| r.costs.net), false),
        ("amortized_cost", money(&|r| r.costs.amortized), false),
        (
            "usage_amount",
            Arc::new(rows.iter().map(|r| Some(r.usage_amount)).collect::<Float64Array>()) as ArrayRef,
            false,
        ),
    ])
    .map_err(|e| QueryError::Staging(e.to_string()))?;
    let file = std::fs::File::create(path).map_err(|e| QueryError::Staging(e.to_string()))?;
    let mut writer =
        ArrowWriter::try_new(file, batch.schema(), None).map_err(|e| QueryError::Staging(e.to_string()))?;
    writer.write(&batch).map_err(|e| QueryError::Staging(e.to_string()))?;
    writer.close().map_err(|e| QueryError::Staging(e.to_string()))?;
    Ok(())
}
