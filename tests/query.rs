//! `curwatch query`: every SQL file in queries/ has a golden output on the fixtures.

use crate::report::golden;
use crate::util::{Env, describe, fixture, money, repo};

#[test]
fn every_bundled_query_matches_its_golden_output() {
    let env = Env::new();
    env.ingest(&fixture("exports/legacy-parquet"));
    let mut names: Vec<_> = std::fs::read_dir(repo().join("queries"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    names.sort();
    assert!(names.len() >= 5, "{names:?}");
    for path in names {
        let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let out = env.ok(&["query", path.to_str().unwrap(), "--format", "csv"]);
        golden(&format!("query-{stem}.csv"), &out);
    }
}

#[test]
fn query_totals_agree_with_report_and_allocation() {
    let env = Env::new();
    env.ingest(&fixture("exports/cur2-parquet"));
    let sql = "SELECT SUM(unblended_cost) AS cost FROM line_items WHERE service = 'AmazonApiGateway'";
    let from_sql: Vec<serde_json::Value> =
        serde_json::from_str(&env.ok(&["query", "--sql", sql, "--format", "json"])).unwrap();
    let report = env.report_json(&["--service", "AmazonApiGateway", "--by", "service"]);
    assert_eq!(money(&from_sql[0]["cost"]), money(&report[0]["cost"]), "exact decimals survive SQL");
    let allocated: Vec<serde_json::Value> = serde_json::from_str(&env.ok(&[
        "query",
        "--sql",
        "SELECT SUM(unblended_cost) AS cost FROM api_gateway",
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(money(&allocated[0]["cost"]), money(&report[0]["cost"]), "allocation conserves cost in SQL too");
    let month: Vec<serde_json::Value> = serde_json::from_str(&env.ok(&[
        "query",
        "--sql",
        "SELECT DISTINCT billing_period FROM line_items",
        "--month",
        "2024-02",
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(month, vec![serde_json::json!({"billing_period": "2024-02"})], "--month prunes partitions");
}

#[test]
fn bad_sql_names_the_query_and_the_problem() {
    let env = Env::new();
    env.ingest(&fixture("edge/legacy-int96.snappy.parquet"));
    let out = env.run(&["query", "--sql", "SELECT nope FROM line_items"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("running --sql") && stderr.contains("nope"), "{stderr}");
    let empty = Env::new();
    let out = empty.run(&["query", "--sql", "SELECT 1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no billing data"));
}
