//! Bad input: a clear error naming the file, a non-zero exit, and a store left byte-for-byte as it was.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::util::{Env, copy_tree, describe, fixture, snapshot};

const LEGACY_HEADER: &str = "identity/LineItemId,bill/BillingPeriodStartDate,lineItem/UsageAccountId,\
lineItem/LineItemType,lineItem/UsageStartDate,lineItem/ProductCode,lineItem/UsageType,lineItem/UnblendedCost";

fn legacy_csv(rows: &[&str]) -> Vec<u8> {
    let mut text = format!("{LEGACY_HEADER}\n");
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    text.into_bytes()
}

const GOOD_ROW: &str =
    "a,2024-01-01T00:00:00.000Z,111122223333,Usage,2024-01-03T00:00:00Z,AmazonApiGateway,USE1-ApiGatewayRequest,0.35";

/// Ingests `bad` into a store that already holds data; checks the error and that nothing changed.
fn rejects(bad: &Path, expected: &[&str]) {
    let env = Env::new();
    env.ingest(&fixture("edge/legacy-int96.snappy.parquet"));
    let before = snapshot(&env.store());
    let out = env.run(&["ingest", bad.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let name = bad.file_name().unwrap().to_str().unwrap();
    assert!(stderr.contains(name), "the error names the file {name}:\n{stderr}");
    for phrase in expected {
        assert!(stderr.contains(phrase), "expected {phrase:?} in:\n{stderr}");
    }
    assert!(snapshot(&env.store()) == before, "the store changed after a failed ingest:\n{stderr}");
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn truncated_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(fixture("edge/legacy-int96.snappy.parquet")).unwrap();
    let path = write(dir.path(), "cut.parquet", &bytes[..bytes.len() / 2]);
    rejects(&path, &["not a readable Parquet file"]);
}

#[test]
fn corrupt_parquet_footer() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(fixture("edge/legacy-int96.snappy.parquet")).unwrap();
    let end = bytes.len() - 8;
    for b in &mut bytes[end - 300..end] {
        *b = 0xAB;
    }
    let path = write(dir.path(), "corrupt.parquet", &bytes);
    rejects(&path, &["not a readable Parquet file"]);
}

#[test]
fn gzip_that_ends_early() {
    let dir = tempfile::tempdir().unwrap();
    let source = std::fs::read_dir(fixture("exports/cur2-csv/exports/cur2-csv/data/BILLING_PERIOD=2024-01"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .next()
        .unwrap();
    let bytes = std::fs::read(source).unwrap();
    let path = write(dir.path(), "short.csv.gz", &bytes[..bytes.len() * 2 / 3]);
    rejects(&path, &["gzip stream ends early"]);
}

#[test]
fn missing_required_column() {
    let dir = tempfile::tempdir().unwrap();
    let text = String::from_utf8(legacy_csv(&[GOOD_ROW])).unwrap().replace("lineItem/UsageStartDate", "lineItem/Other");
    let path = write(dir.path(), "no-start.csv", text.as_bytes());
    rejects(&path, &["lacks the required column `line_item_usage_start_date`", "legacy CUR"]);
}

#[test]
fn cost_that_is_not_a_number() {
    let dir = tempfile::tempdir().unwrap();
    let bad = GOOD_ROW.replace(",0.35", ",twelve");
    let path = write(dir.path(), "text-cost.csv", &legacy_csv(&[GOOD_ROW, GOOD_ROW, &bad]));
    rejects(&path, &["line 4", "`lineItem/UnblendedCost`", "`twelve` is not a number"]);
}

#[test]
fn row_with_too_many_fields() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "ragged.csv", &legacy_csv(&[GOOD_ROW, &format!("{GOOD_ROW},extra")]));
    rejects(&path, &["line 3", "9 fields but the header has 8"]);
}

#[test]
fn unparseable_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let bad = GOOD_ROW.replace("2024-01-03T00:00:00Z", "03/01/2024 12:00");
    let path = write(dir.path(), "bad-time.csv", &legacy_csv(&[&bad]));
    rejects(&path, &["line 2", "`lineItem/UsageStartDate`", "`03/01/2024 12:00` is not a timestamp"]);
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "empty.csv", b"");
    rejects(&path, &["the file is empty"]);
}

#[test]
fn text_that_is_not_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = legacy_csv(&[GOOD_ROW]);
    let pos = bytes.windows(16).position(|w| w == b"AmazonApiGateway").unwrap();
    bytes[pos + 6] = 0xFF;
    let path = write(dir.path(), "latin1.csv", &bytes);
    rejects(&path, &["line 2", "not valid UTF-8"]);
}

#[test]
fn columns_of_no_known_format() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "invoice.csv", b"date,amount,memo\n2024-01-01,3.50,coffee\n");
    rejects(&path, &["match no known billing export", "BilledCost", "`date`, `amount`, `memo`"]);
}

#[test]
fn cost_column_of_the_wrong_type() {
    use arrow_array::{ArrayRef, BooleanArray, RecordBatch, StringArray, TimestampMillisecondArray};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bool-cost.parquet");
    let text = |v: &str| Arc::new(StringArray::from(vec![v])) as ArrayRef;
    let time = Arc::new(TimestampMillisecondArray::from(vec![1_704_067_200_000])) as ArrayRef;
    let batch = RecordBatch::try_from_iter([
        ("bill_billing_period_start_date", time.clone()),
        ("line_item_usage_start_date", time),
        ("line_item_usage_account_id", text("111122223333")),
        ("line_item_line_item_type", text("Usage")),
        ("line_item_product_code", text("AmazonApiGateway")),
        ("line_item_unblended_cost", Arc::new(BooleanArray::from(vec![true])) as ArrayRef),
    ])
    .unwrap();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    rejects(&path, &["column `line_item_unblended_cost` has type Boolean, expected a number"]);
}

#[test]
fn manifest_listing_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("exports");
    copy_tree(&fixture("exports/legacy-csv"), &source);
    let range = source.join("cur/legacy-csv/20240101-20240201");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(range.join("legacy-csv-Manifest.json")).unwrap()).unwrap();
    let listed = manifest["reportKeys"][0].as_str().unwrap();
    std::fs::remove_file(source.join(listed)).unwrap();

    let env = Env::new();
    env.ingest(&fixture("exports/legacy-csv"));
    let before = snapshot(&env.store());
    let out = env.run(&["ingest", source.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(stderr.contains("legacy-csv-Manifest.json") && stderr.contains(listed), "{stderr}");
    // January is skipped and keeps its data; February (intact) is re-ingested to the same bytes
    // apart from the commit records.
    let after = snapshot(&env.store());
    let jan = |s: &std::collections::BTreeMap<PathBuf, Vec<u8>>| {
        s.iter()
            .filter(|(p, _)| p.to_string_lossy().contains("2024-01"))
            .map(|(p, b)| (p.clone(), b.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(jan(&before), jan(&after), "January's partition is untouched");
}

#[test]
fn manifest_that_does_not_parse() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("exports");
    copy_tree(&fixture("exports/cur2-parquet"), &source);
    let manifest = source.join("exports/cur2-parquet/metadata/BILLING_PERIOD=2024-02/cur2-parquet-Manifest.json");
    let mut file = std::fs::OpenOptions::new().write(true).truncate(true).open(&manifest).unwrap();
    file.write_all(b"{\"executionId\": \"x\", \"dataFiles\": [").unwrap();

    let env = Env::new();
    let out = env.run(&["ingest", source.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(stderr.contains("cur2-parquet-Manifest.json") && stderr.contains("not valid manifest JSON"), "{stderr}");
    let periods: Vec<_> =
        env.report_json(&["--by", "billing_period"]).iter().map(|r| r["billing_period"].clone()).collect();
    assert_eq!(
        periods,
        vec![serde_json::json!("2024-01")],
        "the good month still ingests; the bad one is not guessed at"
    );
}

#[test]
fn a_failed_first_ingest_creates_no_store() {
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "empty.csv", b"");
    let out = env.run(&["ingest", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!env.store().exists(), "nothing was written");
}
