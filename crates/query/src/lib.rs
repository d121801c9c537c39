//! `curwatch query`: SQL over the store, run by polars.
//!
//! Two tables (documented in `docs/queries.md`):
//! - `line_items`: the canonical store, scanned lazily from its Parquet files;
//! - `api_gateway`: API Gateway cost after allocation, one row per owner and line shape.

mod allocated;
mod output;

use curwatch_allocate::Rules;
use curwatch_report::Table;
use curwatch_store::{PeriodRange, Store};
use polars::prelude::*;
use polars::sql::SQLContext;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("the query failed: {0}")]
    Sql(String),
    #[error(transparent)]
    Store(#[from] curwatch_store::StoreError),
    #[error(transparent)]
    Allocate(#[from] curwatch_allocate::AllocateError),
    #[error("writing the allocation for the query: {0}")]
    Staging(String),
    #[error("the store holds no billing data in the periods asked for")]
    Empty,
}

fn sql_error(error: PolarsError) -> QueryError {
    QueryError::Sql(error.to_string())
}

/// Runs `sql` over the store's tables for the given billing periods.
pub fn run_query(store: &Store, sql: &str, periods: PeriodRange, rules: &Rules) -> Result<Table, QueryError> {
    let files = store.partition_files(periods)?;
    if files.is_empty() {
        return Err(QueryError::Empty);
    }
    let mut context = SQLContext::new();
    let paths: Vec<PlRefPath> = files.iter().map(|p| PlRefPath::new(p.to_string_lossy().as_ref())).collect();
    let args = ScanArgsParquet {
        hive_options: HiveOptions { enabled: Some(false), ..HiveOptions::default() },
        ..ScanArgsParquet::default()
    };
    let line_items = LazyFrame::scan_parquet_files(paths.into(), args.clone()).map_err(sql_error)?;
    context.register("line_items", line_items);

    // Allocation is computed now and handed over as Parquet: exact decimals, no conversion code.
    let staging = tempfile::tempdir().map_err(|e| QueryError::Staging(e.to_string()))?;
    if mentions(sql, "api_gateway") {
        let path = staging.path().join("api_gateway.parquet");
        allocated::write(&curwatch_allocate::allocate(store, periods, rules)?, &path)?;
        let frame =
            LazyFrame::scan_parquet(PlRefPath::new(path.to_string_lossy().as_ref()), args).map_err(sql_error)?;
        context.register("api_gateway", frame);
    }
    let frame = context.execute(sql).map_err(sql_error)?.collect().map_err(sql_error)?;
    Ok(output::to_table(&frame))
}

/// Whether the SQL names a table (as a whole word, any case).
fn mentions(sql: &str, table: &str) -> bool {
    sql.to_ascii_lowercase().split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).any(|word| word == table)
}
