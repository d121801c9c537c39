//! The decode floor for the benchmark harness: read exactly the columns curwatch's legacy
//! CUR mapping reads, from every Parquet file given, on every core, and throw them away.
//! Nothing can ingest those files faster than this.
//!
//! `cargo run --release -p curwatch-ingest --example decode_floor -- FILE...`

#![allow(clippy::print_stdout)]

use std::fs::File;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

const COLUMNS: [&str; 25] = [
    "bill_billing_period_start_date",
    "line_item_usage_start_date",
    "line_item_usage_end_date",
    "bill_payer_account_id",
    "line_item_usage_account_id",
    "line_item_line_item_type",
    "line_item_product_code",
    "product_product_name",
    "product_region_code",
    "product_region",
    "line_item_usage_type",
    "line_item_operation",
    "line_item_resource_id",
    "line_item_usage_amount",
    "pricing_unit",
    "line_item_currency_code",
    "line_item_unblended_cost",
    "line_item_net_unblended_cost",
    "savings_plan_savings_plan_effective_cost",
    "savings_plan_total_commitment_to_date",
    "savings_plan_used_commitment",
    "reservation_effective_cost",
    "reservation_unused_amortized_upfront_fee_for_billing_period",
    "reservation_unused_recurring_fee",
    "reservation_reservation_a_r_n",
];

fn main() {
    let files: Vec<String> = std::env::args().skip(1).collect();
    let next = AtomicUsize::new(0);
    let rows = AtomicU64::new(0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                while let Some(path) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                    rows.fetch_add(decode(path), Ordering::Relaxed);
                }
            });
        }
    });
    println!("{} rows", rows.load(Ordering::Relaxed));
}

fn decode(path: &str) -> u64 {
    let file = File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap_or_else(|e| panic!("{path}: {e}"));
    let fields = builder.schema().fields();
    let wanted: Vec<usize> = fields
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            let name = f.name().as_str();
            COLUMNS.contains(&name) || name.starts_with("resource_tags_") || name.starts_with("cost_category_")
        })
        .map(|(i, _)| i)
        .collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), wanted);
    // Batches of ingest's size: the fastest of the sizes tried, for the floor as for ingest.
    let reader = builder.with_projection(mask).with_batch_size(curwatch_ingest::BATCH_ROWS).build().expect("reader");
    reader.map(|batch| batch.expect("batch").num_rows() as u64).sum()
}
