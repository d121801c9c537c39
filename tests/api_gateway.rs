//! API Gateway dimensions: per-API and per-stage cost equals the generator's truth.

use std::collections::BTreeMap;

use curwatch_schema::Money;

use crate::util::{Env, money, truth};

/// Independent of curwatch's parser: in a stage ARN the id and stage sit at fixed places.
fn api_and_stage(resource: &str) -> (Option<String>, Option<String>) {
    let parts: Vec<&str> = resource.split('/').collect();
    if parts.len() == 5 { (Some(parts[2].to_owned()), Some(parts[4].to_owned())) } else { (None, None) }
}

#[test]
fn api_and_stage_costs_match_the_truth_per_resource() {
    let env = Env::new();
    let generated = env.synth("generated", &["--layouts", "cur2-parquet,focus-csv", "--lines", "6000"]);
    env.ingest(&generated);
    let truth = truth(&generated);

    let mut expected: BTreeMap<(String, Option<String>, Option<String>), Money> = BTreeMap::new();
    for (period, resource, cost) in &truth.api_gateway_by_resource {
        let (api, stage) = api_and_stage(resource);
        *expected.entry((period.clone(), api, stage)).or_default() += *cost;
    }
    assert!(expected.len() > 10, "several APIs and stages: {}", expected.len());

    let rows = env.report_json(&["--service", "AmazonApiGateway", "--by", "export,billing_period,api_id,stage"]);
    for export in truth.exports.values() {
        let actual: BTreeMap<_, _> = rows
            .iter()
            .filter(|r| r["export"] == export.as_str())
            .map(|r| {
                let text = |k: &str| r[k].as_str().map(str::to_owned);
                ((text("billing_period").unwrap(), text("api_id"), text("stage")), money(&r["cost"]))
            })
            .collect();
        assert_eq!(actual, expected, "{export}");
    }
}

#[test]
fn components_and_types_partition_the_service_total() {
    let env = Env::new();
    env.ingest(&crate::util::fixture("exports/legacy-csv"));
    let service = money(&env.report_json(&["--service", "AmazonApiGateway", "--by", "service"])[0]["cost"]);
    let components = env.report_json(&["--service", "AmazonApiGateway", "--by", "component,api_type"]);
    let sum: Money = components.iter().map(|r| money(&r["cost"])).sum();
    assert_eq!(sum, service, "every cent lands in exactly one component");
    let kinds: Vec<_> = components.iter().filter_map(|r| r["api_type"].as_str()).collect();
    for kind in ["rest", "http", "websocket"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    let transfer_types: Vec<_> =
        components.iter().filter(|r| r["component"] == "data_transfer").map(|r| r["api_type"].clone()).collect();
    assert!(!transfer_types.is_empty(), "the fixtures bill data transfer");
    assert!(transfer_types.iter().all(|t| t != "unknown"), "data transfer inherits its API's type: {transfer_types:?}");
}

/// The component a usage type bills, by the substrings of AWS's usage types.
fn component_of(usage_type: &str) -> &'static str {
    if usage_type.contains("ApiGatewayRequest") || usage_type.contains("ApiGatewayHttpRequest") {
        "requests"
    } else if usage_type.contains("Message") {
        "messages"
    } else if usage_type.contains("Minute") {
        "connection_minutes"
    } else if usage_type.contains("CacheUsage") {
        "cache"
    } else if usage_type.contains("DataTransfer") {
        "data_transfer"
    } else {
        "other"
    }
}

#[test]
fn api_stage_and_component_costs_match_the_truth() {
    let env = Env::new();
    let generated =
        env.synth("generated", &["--layouts", "legacy-csv,focus-parquet", "--lines", "6000", "--seed", "11"]);
    env.ingest(&generated);
    let truth = truth(&generated);
    let mut expected: BTreeMap<(String, Option<String>, Option<String>, String), Money> = BTreeMap::new();
    for (period, resource, usage_type, cost) in &truth.api_gateway_by_usage {
        let (api, stage) = api_and_stage(resource);
        *expected.entry((period.clone(), api, stage, component_of(usage_type).to_owned())).or_default() += *cost;
    }
    assert!(expected.keys().any(|k| k.3 == "cache") && expected.keys().any(|k| k.3 == "connection_minutes"));
    let rows =
        env.report_json(&["--service", "AmazonApiGateway", "--by", "export,billing_period,api_id,stage,component"]);
    for export in truth.exports.values() {
        let actual: BTreeMap<_, _> = rows
            .iter()
            .filter(|r| r["export"] == export.as_str())
            .map(|r| {
                let text = |k: &str| r[k].as_str().map(str::to_owned);
                (
                    (text("billing_period").unwrap(), text("api_id"), text("stage"), text("component").unwrap()),
                    money(&r["cost"]),
                )
            })
            .collect();
        assert_eq!(actual, expected, "{export}");
    }
}
