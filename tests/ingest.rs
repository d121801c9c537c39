//! Ingesting every layout: totals equal the generator's truth, re-ingesting replaces.

use std::collections::BTreeMap;
use std::path::Path;

use curwatch_schema::Money;

use crate::util::{Env, copy_tree, fixture, money, shared_data, snapshot, truth};

/// Report rows keyed by (export, billing_period, service) for one metric.
fn totals_by_export(env: &Env, metric: &str) -> BTreeMap<(String, String, String), Money> {
    env.report_json(&["--by", "export,billing_period,service", "--metric", metric])
        .into_iter()
        .map(|row| {
            let text = |k: &str| row[k].as_str().unwrap_or_default().to_owned();
            ((text("export"), text("billing_period"), text("service")), money(&row["cost"]))
        })
        .collect()
}

fn assert_matches_truth(env: &Env, generated: &Path) {
    let truth = truth(generated);
    assert_eq!(truth.exports.len(), 6, "every layout was generated");
    for metric in ["unblended", "amortized", "net"] {
        let actual = totals_by_export(env, metric);
        for (layout, export) in &truth.exports {
            let mut seen = 0;
            for row in &truth.totals {
                let expected = match metric {
                    "unblended" => row.unblended,
                    "amortized" => row.amortized,
                    // FOCUS has no net column: net falls back to billed cost.
                    _ if layout.starts_with("focus") => row.unblended,
                    _ => row.net,
                };
                let key = (export.clone(), row.billing_period.clone(), row.service.clone());
                let got = actual.get(&key).copied().unwrap_or_else(|| panic!("{layout}: no {metric} row for {key:?}"));
                assert!(
                    (got - expected).abs() <= Money::from_cents(1),
                    "{layout} {metric} {key:?}: report {got}, truth {expected}"
                );
                assert_eq!(got, expected, "{layout} {metric} {key:?} is exact, not just within a cent");
                seen += 1;
            }
            let reported = actual.keys().filter(|(e, _, _)| e == export).count();
            assert_eq!(reported, seen, "{layout}: no rows beyond the truth's");
        }
    }
    let partitions: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.store().join("state/partitions.json")).unwrap()).unwrap();
    for (layout, export) in &truth.exports {
        for period in ["2024-01", "2024-02"] {
            let expected: u64 = truth.totals.iter().filter(|r| r.billing_period == period).map(|r| r.rows).sum();
            let record = partitions["partitions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["export"] == export.as_str() && p["billing_period"] == period)
                .unwrap_or_else(|| panic!("{layout} {period} recorded"));
            assert_eq!(record["rows"].as_u64(), Some(expected), "{layout} {period} row count");
        }
    }
}

#[test]
fn every_layout_matches_the_generator_truth() {
    let env = Env::new();
    let generated =
        env.synth("generated", &["--seed", "7", "--lines", "2500", "--lines-per-file", "1500", "--width", "104"]);
    env.ingest(&generated);
    assert_matches_truth(&env, &generated);
}

#[test]
fn bundled_fixtures_match_their_truth() {
    let env = Env::new();
    env.ingest(&fixture("exports"));
    assert_matches_truth(&env, &fixture("exports"));
}

#[test]
fn hourly_data_at_width_streams_through_intact() {
    let env = Env::new();
    let generated = env.synth(
        "hourly",
        &[
            "--layouts",
            "legacy-parquet,cur2-csv",
            "--hourly",
            "--months",
            "1",
            "--lines",
            "150000",
            "--lines-per-file",
            "70000",
        ],
    );
    env.ingest(&generated);
    let truth = truth(&generated);
    let rows: u64 = truth.totals.iter().map(|r| r.rows).sum();
    assert!(rows > 140_000, "large enough to span several batches and files: {rows}");
    let total: Money = truth.totals.iter().map(|r| r.unblended).sum();
    for row in env.report_json(&["--by", "export"]) {
        assert_eq!(money(&row["cost"]), total, "{row:?}");
    }
    // Allocation over the same large data conserves every unit, and reconcile agrees.
    let gateway: Money = truth.totals.iter().filter(|r| r.service == "AmazonApiGateway").map(|r| r.unblended).sum();
    let teams: Money = env.report_json(&["--by", "team,owner_source"]).iter().map(|r| money(&r["cost"])).sum();
    assert_eq!(teams, gateway + gateway, "two exports of the same API Gateway spend");
    let out = env.run(&["reconcile"]);
    assert_eq!(out.status.code(), Some(0), "{}", crate::util::describe(&out));
}

#[test]
fn reingesting_is_incremental_and_idempotent() {
    let env = Env::new();
    env.ingest(&fixture("exports"));
    let first = env.ok(&["report", "--by", "export,billing_period,service", "--format", "csv"]);
    let files_before: Vec<_> = snapshot(&env.store().join("line_items")).into_keys().collect();
    let commits = || std::fs::read_to_string(env.store().join("state/ingest-log.jsonl")).unwrap().lines().count();
    assert_eq!(commits(), 12, "6 layouts × 2 months");

    // Nothing delivered since: nothing is read again and nothing is committed.
    let out = env.run(&["ingest", fixture("exports").to_str().unwrap()]);
    assert!(out.status.success(), "{}", crate::util::describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("0 ingested, 12 unchanged, 0 waiting, 0 failed"), "{stderr}");
    assert!(stderr.contains("0 data files read"), "{stderr}");
    assert_eq!(commits(), 12, "a no-change run commits nothing");

    // --full re-reads every period and replaces it in place.
    env.ok(&["ingest", "-q", "--full", fixture("exports").to_str().unwrap()]);
    let second = env.ok(&["report", "--by", "export,billing_period,service", "--format", "csv"]);
    assert_eq!(first, second, "re-reading changes no total");
    let files_after: Vec<_> = snapshot(&env.store().join("line_items")).into_keys().collect();
    assert_eq!(files_before, files_after, "partitions are replaced, never added beside");
    assert_eq!(commits(), 24, "--full committed every period again");
    assert!(!env.store().join(".staging").exists(), "no staging left behind");
}

#[test]
fn a_changed_data_file_is_read_again_alone() {
    let env = Env::new();
    let source = env.path("cur2-csv");
    copy_tree(&fixture("exports/cur2-csv"), &source);
    env.ingest(&source);
    let before = env.ok(&["report", "--by", "billing_period", "--format", "csv"]);
    // Same manifest, but one of January's files was rewritten in place: same rows,
    // compressed differently, so its size and modification time change.
    let data_file = source.join("exports/cur2-csv/data/BILLING_PERIOD=2024-01/cur2-csv-00002.csv.gz");
    let mut text = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(std::fs::File::open(&data_file).unwrap()), &mut text)
        .unwrap();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    std::io::Write::write_all(&mut encoder, &text).unwrap();
    std::fs::write(&data_file, encoder.finish().unwrap()).unwrap();

    let out = env.run(&["ingest", source.to_str().unwrap()]);
    assert!(out.status.success(), "{}", crate::util::describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("2 period(s): 1 ingested, 1 unchanged"), "{stderr}");
    assert!(stderr.contains("2 data files read"), "only January's two files: {stderr}");
    let after = env.ok(&["report", "--by", "billing_period", "--format", "csv"]);
    assert_eq!(before, after, "the same rows, re-read, give the same totals");
}

#[test]
fn stale_assemblies_and_old_files_are_ignored() {
    let env = Env::new();
    let out = env.run(&["ingest", fixture("exports/legacy-csv").to_str().unwrap()]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    // One stale assembly per month, each holding one data file.
    assert!(stderr.contains("ignored 2 data file(s)"), "{stderr}");
    let out = env.run(&["ingest", fixture("exports/cur2-parquet").to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ignored 2 data file(s)"), "{stderr}");
}

/// Usage in the first ten days: what the stale delivery holds (it has no month-end lines).
pub(crate) fn early_usage(env: &Env) -> Money {
    env.report_json(&["--by", "line_item_type", "--from", "2024-01-01", "--to", "2024-01-10"])
        .iter()
        .filter(|r| {
            matches!(r["line_item_type"].as_str(), Some("Usage" | "SavingsPlanCoveredUsage" | "SavingsPlanNegation"))
        })
        .map(|r| money(&r["cost"]))
        .sum()
}

#[test]
fn a_restated_month_replaces_the_previous_delivery() {
    let env = Env::new();
    let source = env.path("legacy-csv");
    copy_tree(&fixture("exports/legacy-csv"), &source);
    env.ingest(&source);
    let full_month = money(&env.report_json(&["--month", "2024-01", "--by", "billing_period"])[0]["cost"]);
    let early = early_usage(&env);

    // Point the current manifest at the other assembly, as a re-delivery would.
    let range = source.join("cur/legacy-csv/20240101-20240201");
    let current: serde_json::Value =
        serde_json::from_slice(&std::fs::read(range.join("legacy-csv-Manifest.json")).unwrap()).unwrap();
    let other = std::fs::read_dir(&range)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir() && p.file_name().unwrap() != current["assemblyId"].as_str().unwrap())
        .expect("a second assembly");
    std::fs::copy(other.join("legacy-csv-Manifest.json"), range.join("legacy-csv-Manifest.json")).unwrap();
    env.ingest(&source);

    let restated = money(&env.report_json(&["--month", "2024-01", "--by", "billing_period"])[0]["cost"]);
    assert_ne!(restated, full_month);
    assert_eq!(restated, early, "January now holds exactly the other assembly's rows");
    let feb = env.report_json(&["--month", "2024-02", "--by", "export"]);
    assert_eq!(feb.len(), 1, "February untouched");
    let partitions = std::fs::read_to_string(env.store().join("state/partitions.json")).unwrap();
    assert!(partitions.contains(other.file_name().unwrap().to_str().unwrap()), "the new delivery id is recorded");
}

#[test]
fn two_exports_for_one_month_coexist() {
    let env = Env::new();
    env.ingest(&fixture("exports/legacy-csv"));
    env.ingest(&fixture("exports/focus-parquet"));
    env.ingest(&fixture("exports/legacy-csv"));
    let rows = env.report_json(&["--month", "2024-01", "--by", "export"]);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(money(&rows[0]["cost"]), money(&rows[1]["cost"]), "same organisation, same bill");
}

#[test]
fn real_legacy_cur_sample_matches_a_sum_over_the_raw_file() {
    let sample = shared_data("focus-converters-aws-legacy-cur/sample-anonymous-aws-export-dataset.csv");
    assert!(sample.exists(), "shared sample data is beside the repository: {}", sample.display());
    let mut expected: BTreeMap<String, f64> = BTreeMap::new();
    let mut reader = csv::Reader::from_path(&sample).unwrap();
    let headers = reader.headers().unwrap().clone();
    let code = headers.iter().position(|h| h == "lineItem/ProductCode").unwrap();
    let cost = headers.iter().position(|h| h == "lineItem/UnblendedCost").unwrap();
    let mut lines = 0;
    for record in reader.records() {
        let record = record.unwrap();
        *expected.entry(record[code].to_owned()).or_default() += record[cost].parse::<f64>().unwrap_or(0.0);
        lines += 1;
    }

    let env = Env::new();
    env.ingest(&sample);
    let rows = env.report_json(&["--by", "service"]);
    assert_eq!(rows.len(), expected.len());
    for row in &rows {
        let service = row["service"].as_str().unwrap();
        let got = money(&row["cost"]).to_f64();
        assert!((got - expected[service]).abs() < 0.005, "{service}: {got} vs raw {}", expected[service]);
    }
    let total: f64 = expected.values().sum();
    let reported = money(&env.report_json(&["--by", "billing_period"])[0]["cost"]);
    assert_eq!(reported.round_to_cents().to_exact_string(), format!("{total:.2}"));
    let partitions = std::fs::read_to_string(env.store().join("state/partitions.json")).unwrap();
    assert!(partitions.contains(&format!("\"rows\": {lines}")), "every line item stored");
}
