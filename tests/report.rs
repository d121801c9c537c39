//! Reports: golden outputs on the fixtures, filters, metrics and formats.

use std::path::Path;

use crate::util::{Env, fixture, money, repo};

/// Compares with `fixtures/expected/<name>`; `CURWATCH_BLESS=1` rewrites it instead.
pub fn golden(name: &str, actual: &str) {
    let path = repo().join("fixtures/expected").join(name);
    if std::env::var_os("CURWATCH_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing golden {}; run with CURWATCH_BLESS=1 to create it", path.display()));
    assert!(expected == actual, "{name} differs from its golden file:\n--- expected\n{expected}\n--- actual\n{actual}");
}

fn fixtures_store() -> Env {
    let env = Env::new();
    env.ingest(&fixture("exports"));
    env
}

#[test]
fn golden_reports_on_bundled_exports() {
    let env = fixtures_store();
    golden(
        "by-export-period-service.csv",
        &env.ok(&["report", "--by", "export,billing_period,service", "--format", "csv"]),
    );
    let legacy = ["--by", "billing_period,charge_class", "--service", "AmazonApiGateway"];
    // One export keeps the remaining goldens readable; the ingest tests prove the others equal it.
    let single = Env::new();
    single.ingest(&fixture("exports/legacy-parquet"));
    for (format, ext) in [("table", "txt"), ("markdown", "md"), ("json", "json"), ("csv", "csv")] {
        let mut args = vec!["report", "--format", format];
        args.extend(legacy);
        golden(&format!("api-gateway-by-class.{ext}"), &single.ok(&args));
    }
    golden(
        "api-gateway-by-team-stage.csv",
        &single.ok(&[
            "report",
            "--by",
            "tag:team,tag:environment,resource_id",
            "--service",
            "AmazonApiGateway",
            "--month",
            "2024-02",
            "--format",
            "csv",
        ]),
    );
    golden(
        "api-gateway-by-team.csv",
        &single.ok(&["report", "--by", "billing_period,team,owner_source,api_type", "--format", "csv"]),
    );
    golden(
        "by-day-amortized.csv",
        &single.ok(&[
            "report",
            "--by",
            "day",
            "--metric",
            "amortized",
            "--from",
            "2024-01-30",
            "--to",
            "2024-02-02",
            "--format",
            "csv",
        ]),
    );
}

#[test]
fn golden_reports_on_edge_fixtures() {
    for name in [
        "legacy-int96.snappy.parquet",
        "legacy-int64-nanos.snappy.parquet",
        "focus-mixed-providers.csv",
        "focus-json-tags.parquet",
    ] {
        let env = Env::new();
        env.ingest(&fixture(&format!("edge/{name}")));
        let report = env.ok(&[
            "report",
            "--by",
            "billing_period,day,provider,account,service,usage_type,tag:team,tag:cost_center",
            "--format",
            "csv",
        ]);
        let stem = Path::new(name).file_name().unwrap().to_str().unwrap().split('.').next().unwrap();
        golden(&format!("edge-{stem}.csv"), &report);
    }
}

#[test]
fn int96_and_int64_timestamps_read_the_same() {
    let reports: Vec<String> = ["legacy-int96.snappy.parquet", "legacy-int64-nanos.snappy.parquet"]
        .iter()
        .map(|name| {
            let env = Env::new();
            env.ingest(&fixture(&format!("edge/{name}")));
            env.ok(&["report", "--by", "day,usage_type", "--format", "csv"])
        })
        .collect();
    assert_eq!(reports[0], reports[1]);
    assert!(reports[0].contains("2023-12-04,USE1-ApiGatewayRequest,3.50"), "{}", reports[0]);
}

#[test]
fn day_filters_are_inclusive_and_sum_to_the_month() {
    let env = Env::new();
    env.ingest(&fixture("exports/focus-csv"));
    let month = money(&env.report_json(&["--month", "2024-01", "--by", "billing_period"])[0]["cost"]);
    let first =
        money(&env.report_json(&["--from", "2024-01-01", "--to", "2024-01-15", "--by", "billing_period"])[0]["cost"]);
    let second =
        money(&env.report_json(&["--from", "2024-01-16", "--to", "2024-01-31", "--by", "billing_period"])[0]["cost"]);
    assert_eq!(first + second, month);
    let days = env.report_json(&["--from", "2024-01-16", "--to", "2024-01-16", "--by", "day"]);
    assert_eq!(days.len(), 1);
    assert_eq!(days[0]["day"], "2024-01-16");
}

#[test]
fn json_rows_keep_the_requested_key_order_and_sort_by_cost() {
    let env = Env::new();
    env.ingest(&fixture("exports/cur2-parquet"));
    let text = env.ok(&["report", "--by", "service,billing_period", "--format", "json"]);
    let first_line = text.lines().nth(1).unwrap();
    assert!(first_line.find("\"service\"").unwrap() < first_line.find("\"billing_period\"").unwrap(), "{first_line}");
    assert!(first_line.find("\"billing_period\"").unwrap() < first_line.find("\"cost\"").unwrap());
    let rows = env.report_json(&["--by", "service,billing_period"]);
    let costs: Vec<_> = rows.iter().map(|r| money(&r["cost"])).collect();
    assert!(costs.windows(2).all(|w| w[0] >= w[1]), "sorted by cost descending");
    let csv = env.ok(&["report", "--by", "service,billing_period", "--format", "csv"]);
    assert_eq!(csv.lines().next(), Some("service,billing_period,cost"));
}

#[test]
fn service_filter_and_metrics() {
    let env = Env::new();
    env.ingest(&fixture("exports/legacy-csv"));
    let services = env.report_json(&["--service", "AmazonApiGateway", "--by", "service"]);
    assert_eq!(services.len(), 1);
    assert_eq!(services[0]["service"], "AmazonApiGateway");
    // Savings-plan lines move cost between line types under amortisation but not the total.
    let by_type = |metric: &str| env.report_json(&["--by", "line_item_type", "--metric", metric, "--month", "2024-01"]);
    let negation = |rows: &[serde_json::Map<String, serde_json::Value>]| {
        rows.iter().find(|r| r["line_item_type"] == "SavingsPlanNegation").map(|r| money(&r["cost"]))
    };
    assert!(negation(&by_type("unblended")).unwrap() < curwatch_schema::Money::ZERO);
    assert_eq!(negation(&by_type("amortized")), Some(curwatch_schema::Money::ZERO));
}

#[test]
fn usage_errors_exit_2_and_say_what_is_accepted() {
    let env = fixtures_store();
    for args in [
        &["report", "--by", "colour"][..],
        &["report", "--metric", "blended"],
        &["report", "--format", "xml"],
        &["report", "--month", "2024-13"],
    ] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
    let out = env.run(&["report", "--by", "colour"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("billing_period"), "lists the valid dimensions");
}
