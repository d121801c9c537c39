//! Allocation: every cent of API Gateway cost lands with exactly one owner, shares are
//! proportional to usage, rules and account mappings apply in order.

use std::collections::BTreeMap;

use curwatch_schema::Money;

use crate::util::{Env, fixture, money};

fn by(env: &Env, extra: &[&str]) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let mut args = vec!["--service", "AmazonApiGateway"];
    args.extend_from_slice(extra);
    env.report_json(&args)
}

fn text(row: &serde_json::Map<String, serde_json::Value>, key: &str) -> Option<String> {
    row[key].as_str().map(str::to_owned)
}

#[test]
fn allocation_conserves_every_metric_to_the_unit() {
    let env = Env::new();
    env.ingest(&fixture("exports"));
    for metric in ["unblended", "net", "amortized"] {
        let bill: Vec<_> = by(&env, &["--by", "export,billing_period", "--metric", metric]);
        let allocated = env.report_json(&["--by", "billing_period,team,owner_source,api_id", "--metric", metric]);
        let allocated_total: Money = allocated.iter().map(|r| money(&r["cost"])).sum();
        let bill_total: Money = bill.iter().map(|r| money(&r["cost"])).sum();
        assert_eq!(allocated_total, bill_total, "{metric}");
    }
    let out = env.run(&["reconcile"]);
    assert_eq!(out.status.code(), Some(0), "{}", crate::util::describe(&out));
}

#[test]
fn shared_costs_follow_each_teams_usage_share() {
    let env = Env::new();
    env.ingest(&fixture("exports/cur2-parquet"));
    // Independent of the allocator: usage per team tag, and shared (non-usage) cost, per month and account.
    let mut usage: BTreeMap<(String, String), BTreeMap<String, i128>> = BTreeMap::new();
    let mut shared: BTreeMap<(String, String), i128> = BTreeMap::new();
    for row in by(&env, &["--by", "billing_period,account,tag:team,charge_class"]) {
        let key = (text(&row, "billing_period").unwrap(), text(&row, "account").unwrap());
        let cost = money(&row["cost"]).units();
        if row["charge_class"] == "usage" {
            let team = text(&row, "tag:team").unwrap_or_else(|| "unallocated".into());
            *usage.entry(key).or_default().entry(team).or_default() += cost;
        } else {
            *shared.entry(key).or_default() += cost;
        }
    }
    let allocated = env.report_json(&["--by", "billing_period,account,team,owner_source"]);
    let mut checked = 0;
    for ((period, account), teams) in &usage {
        let total_usage: i128 = teams.values().sum();
        let pool = shared.get(&(period.clone(), account.clone())).copied().unwrap_or_default();
        for (team, team_usage) in teams {
            let find = |source: &str| {
                allocated
                    .iter()
                    .find(|r| {
                        r["billing_period"] == period.as_str()
                            && r["account"] == account.as_str()
                            && r["team"] == team.as_str()
                            && r["owner_source"] == source
                    })
                    .map_or(0, |r| money(&r["cost"]).units())
            };
            let owned = find(if team == "unallocated" { "unallocated" } else { "tag" });
            assert_eq!(owned, *team_usage, "{period} {account} {team}: owned usage");
            let share = find("shared:proportional");
            let exact = pool * team_usage / total_usage;
            assert!((share - exact).abs() <= 1, "{period} {account} {team}: share {share} vs exact {exact}");
            checked += 1;
        }
    }
    assert!(checked >= 8, "several teams and accounts checked: {checked}");
}

#[test]
fn rules_and_account_mappings_claim_untagged_spend_in_order() {
    let env = Env::new();
    env.ingest(&fixture("exports/legacy-parquet"));
    let untagged = by(&env, &["--by", "account,api_id,tag:team", "--month", "2024-01"])
        .into_iter()
        .find(|r| r["tag:team"].is_null() && !r["api_id"].is_null())
        .expect("an untagged API");
    let api = text(&untagged, "api_id").unwrap();
    let account = text(&untagged, "account").unwrap();
    let rules = env.path("rules.toml");
    std::fs::write(
        &rules,
        format!(
            r#"
[accounts]
"{account}" = "platform"

[[rules]]
name = "orphan-api"
api_id = "{api}"
stage = "prod"
team = "mobile"
labels = {{ product = "checkout" }}

[[rules]]
name = "never"
region = "mars-*"
team = "nobody"
"#
        ),
    )
    .unwrap();
    let out = env.run(&[
        "report",
        "--rules",
        rules.to_str().unwrap(),
        "--by",
        "team,owner_source,api_id,stage,label:product",
        "--month",
        "2024-01",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", crate::util::describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("allocation rule `never` matched no line"), "{stderr}");
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let of =
        |api_id: &str, stage: &str| rows.iter().find(|r| r["api_id"] == api_id && r["stage"] == stage).unwrap().clone();
    let prod = of(&api, "prod");
    assert_eq!((prod["team"].as_str(), prod["owner_source"].as_str()), (Some("mobile"), Some("rule:orphan-api")));
    assert_eq!(prod["label:product"], "checkout");
    let staging = of(&api, "staging");
    assert_eq!((staging["team"].as_str(), staging["owner_source"].as_str()), (Some("platform"), Some("account")));
    assert!(
        rows.iter().all(|r| r["team"] != "unallocated" || r["owner_source"] != "unallocated"),
        "nothing left unowned"
    );
}

#[test]
fn messy_resource_ids_are_allocated_without_loss() {
    let env = Env::new();
    let file = env.path("messy.csv");
    let header = "bill/BillingPeriodStartDate,lineItem/UsageStartDate,lineItem/UsageAccountId,lineItem/LineItemType,\
lineItem/ProductCode,lineItem/UsageType,lineItem/ResourceId,lineItem/UnblendedCost,resourceTags/user:team";
    let rows = [
        "2024-03-01T00:00:00Z,2024-03-02T00:00:00Z,1,Usage,AmazonApiGateway,USE1-ApiGatewayRequest,arn:aws:apigateway:us-east-1::/restapis/abc/stages/prod,1.00,payments",
        "2024-03-01T00:00:00Z,2024-03-02T00:00:00Z,1,Usage,AmazonApiGateway,USE1-ApiGatewayRequest,arn:aws:apigateway:us-east-1::/restapis/abc,0.50,",
        "2024-03-01T00:00:00Z,2024-03-02T00:00:00Z,1,Usage,AmazonApiGateway,USE1-ApiGatewayRequest,arn:aws:apigateway:us-east-1::/domainnames/api.example.com,0.25,",
        "2024-03-01T00:00:00Z,2024-03-02T00:00:00Z,1,Usage,AmazonApiGateway,USE1-ApiGatewayHttpRequest,,0.125,",
        "2024-03-01T00:00:00Z,2024-03-02T00:00:00Z,1,Usage,AmazonApiGateway,EU-DataTransfer-Out-Bytes,arn:aws:apigateway:eu-west-1::/apis/ws9/stages/,0.0625,",
        "2024-03-01T00:00:00Z,2024-03-01T00:00:00Z,1,Tax,AmazonApiGateway,,,0.10,",
        "2024-03-01T00:00:00Z,2024-03-01T00:00:00Z,2,Credit,AmazonApiGateway,,,-0.30,",
    ];
    std::fs::write(&file, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    env.ingest(&file);
    let allocated = env.report_json(&["--by", "account,team,api_id,stage,api_type,component,owner_source"]);
    let total: Money = allocated.iter().map(|r| money(&r["cost"])).sum();
    assert_eq!(total, "1.7375".parse().unwrap(), "{allocated:#?}");
    let find = |api: Option<&str>, stage: Option<&str>| {
        allocated
            .iter()
            .filter(|r| r["api_id"].as_str() == api && r["stage"].as_str() == stage)
            .map(|r| money(&r["cost"]))
            .sum::<Money>()
    };
    assert_eq!(find(Some("abc"), None), "0.50".parse().unwrap(), "API without stage keeps its id");
    assert_eq!(find(Some("ws9"), None), "0.0625".parse().unwrap(), "empty stage kept as none");
    // Account 2 has no usage to split a credit by: it stays visible as unallocated.
    let credit: Vec<_> = allocated.iter().filter(|r| r["account"] == "2").collect();
    assert_eq!(credit.len(), 1);
    assert_eq!(
        (credit[0]["team"].as_str(), money(&credit[0]["cost"])),
        (Some("unallocated"), "-0.30".parse().unwrap())
    );
    let out = env.run(&["reconcile", "--month", "2024-03"]);
    assert_eq!(out.status.code(), Some(0), "{}", crate::util::describe(&out));
}

#[test]
fn a_bad_rules_file_is_a_clear_error() {
    let env = Env::new();
    env.ingest(&fixture("edge/legacy-int96.snappy.parquet"));
    let rules = env.path("rules.toml");
    std::fs::write(&rules, "[shared]\nsplit = \"fixed\"\nfixed = { a = 70, b = 20 }\n").unwrap();
    let out = env.run(&["reconcile", "--rules", rules.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rules.toml") && stderr.contains("add up to 90"), "{stderr}");
}

#[test]
fn dimensions_allocation_cannot_carry_are_refused_up_front() {
    let env = Env::new();
    // A month with no API Gateway lines at all: there is no row to stumble on the dimension.
    env.ingest(&crate::util::shared_data("focus-converters-aws-legacy-cur/sample-anonymous-aws-export-dataset.csv"));
    let out = env.run(&["report", "--by", "team,operation"]);
    assert_eq!(out.status.code(), Some(1), "{}", crate::util::describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`operation` cannot be combined with allocation dimensions"));
}

#[test]
fn monthly_reports_read_api_gateway_shapes_and_agree_with_the_lines() {
    let env = Env::new();
    env.ingest(&fixture("exports"));
    let shapes = env.store().join("api_gateway_shapes");
    assert!(shapes.read_dir().unwrap().next().is_some(), "ingest wrote API Gateway shapes");
    let by =
        "billing_period,account,team,owner_source,api_id,stage,api_type,component,usage_type,resource_id,charge_class";
    let csv = |args: &[&str]| env.ok(&[&["report", "--by", by, "--format", "csv"], args].concat());
    let from_shapes = csv(&[]);
    assert!(from_shapes.lines().count() > 20, "{from_shapes}");

    // Without the shapes, the same report reads every line and prints the same.
    std::fs::remove_dir_all(&shapes).unwrap();
    assert_eq!(csv(&[]), from_shapes);

    // By day, owned cost is the same per group to the unit; shared shares are split per day
    // instead of per month, so they may differ by a unit per day, and their sum does not.
    let daily = env.report_json(&["--by", &format!("day,{by}")]);
    let monthly = env.report_json(&["--by", by]);
    let group = |row: &serde_json::Map<String, serde_json::Value>| {
        by.split(',').map(|d| row[d].as_str().map(str::to_owned)).collect::<Vec<_>>()
    };
    let mut summed: BTreeMap<Vec<Option<String>>, i128> = BTreeMap::new();
    for row in &daily {
        *summed.entry(group(row)).or_default() += money(&row["cost"]).units();
    }
    let days: i128 = 31 * 3;
    for row in &monthly {
        let daily_units = summed.get(&group(row)).copied().unwrap_or_default();
        let units = money(&row["cost"]).units();
        if row["owner_source"].as_str().is_some_and(|s| s.starts_with("shared:")) {
            assert!((units - daily_units).abs() <= days, "{row:?}: {daily_units}");
        } else {
            assert_eq!(units, daily_units, "{row:?}");
        }
    }
    let total =
        |rows: &[serde_json::Map<String, serde_json::Value>]| rows.iter().map(|r| money(&r["cost"])).sum::<Money>();
    assert_eq!(total(&monthly), total(&daily));
}
