//! Period comparison, top-N, unit economics and recommendations.

use curwatch_schema::Money;

use crate::util::{Env, fixture, money};

#[test]
fn compare_previous_lines_up_two_months() {
    let env = Env::new();
    env.ingest(&fixture("exports/legacy-csv"));
    let month = |m: &str| money(&env.report_json(&["--month", m, "--by", "billing_period"])[0]["cost"]);
    let rows = env.report_json(&["--by", "service", "--compare", "previous"]);
    let sum = |key: &str| rows.iter().map(|r| money(&r[key])).sum::<Money>();
    assert_eq!(sum("cost"), month("2024-02"), "the latest month by default");
    assert_eq!(sum("previous"), month("2024-01"));
    for row in &rows {
        assert_eq!(money(&row["change"]), money(&row["cost"]) - money(&row["previous"]));
    }
    let out = env.run(&["report", "--by", "billing_period", "--compare", "previous"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("drop `billing_period`"));
}

#[test]
fn top_keeps_the_costliest_rows_and_the_full_total() {
    let env = Env::new();
    env.ingest(&fixture("exports/legacy-csv"));
    let all = env.report_json(&["--by", "service"]);
    let top = env.report_json(&["--by", "service", "--top", "3"]);
    assert_eq!(top, all[..3].to_vec());
    let table = env.ok(&["report", "--by", "service", "--top", "3"]);
    assert!(table.contains(&format!("total (all {} rows)", all.len())), "{table}");
}

#[test]
fn unit_costs_and_recommendations_on_the_fixtures() {
    let env = Env::new();
    env.ingest(&fixture("exports/legacy-parquet"));
    crate::report::golden("units-2024-02.csv", &env.ok(&["units", "--format", "csv"]));
    crate::report::golden("recommend-2024-02.csv", &env.ok(&["recommend", "--format", "csv"]));
    let units = env.ok(&["units", "--format", "json", "--month", "2024-01"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&units).unwrap();
    let rest: Vec<_> = rows.iter().filter(|r| r["component"] == "requests" && r["api_type"] == "rest").collect();
    assert!(!rest.is_empty(), "the fixtures have REST APIs");
    for row in rest {
        let per_million = row["cost_per_million"].as_f64().unwrap();
        assert!((per_million - 3.5).abs() < 0.01, "REST requests bill at $3.50/M in the fixtures: {row}");
    }
    let found: Vec<serde_json::Value> = serde_json::from_str(&env.ok(&["recommend", "--format", "json"])).unwrap();
    assert!(!found.is_empty());
    assert!(found.iter().all(|r| r["finding"] == "rest-to-http" && r["api_type"] == "rest"));
}

#[test]
fn per_team_showback_files_add_up_to_the_bill() {
    let env = Env::new();
    env.ingest(&fixture("exports/focus-parquet"));
    let out = env.path("showback");
    env.ok(&["report", "--per-team", "--out", out.to_str().unwrap(), "--month", "2024-02"]);
    let teams = env.report_json(&["--by", "team", "--month", "2024-02"]);
    assert!(teams.len() >= 4);
    let mut all = Money::ZERO;
    for team in &teams {
        let name = team["team"].as_str().unwrap();
        let mut reader = csv::Reader::from_path(out.join(format!("{name}.csv"))).unwrap();
        let cost = reader.headers().unwrap().iter().position(|h| h == "cost").unwrap();
        let sum: Money = reader.records().map(|r| r.unwrap()[cost].parse::<Money>().unwrap()).sum();
        assert_eq!(sum, money(&team["cost"]), "{name}.csv sums to the team's allocation");
        let markdown = std::fs::read_to_string(out.join(format!("{name}.md"))).unwrap();
        assert!(markdown.contains("## By API and stage") && markdown.contains("2024-01"), "{markdown}");
        all += sum;
    }
    let bill =
        money(&env.report_json(&["--by", "service", "--service", "AmazonApiGateway", "--month", "2024-02"])[0]["cost"]);
    assert_eq!(all, bill);
    let index = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert_eq!(index.matches(".md)").count(), teams.len());
}
