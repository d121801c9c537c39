//! API Gateway unit economics and savings recommendations, from allocated cost.
//!
//! Attribution never re-prices: costs are what was billed. List prices appear only in
//! what-if estimates (a REST API's requests on HTTP API), and say so.

use std::collections::BTreeMap;

use curwatch_allocate::{AllocatedRowRef, Component, Granularity, Rules, allocate_each};
use curwatch_schema::Money;
use curwatch_store::{PeriodRange, Store};

use crate::aggregate::ReportError;
use crate::render::{Cell, Table};

/// us-east-1 list prices, dollars per million requests (first tier).
const REST_PER_MILLION: f64 = 3.50;
const HTTP_PER_MILLION_FIRST_300M: f64 = 1.00;
const HTTP_PER_MILLION_BEYOND: f64 = 0.90;
/// Stage names that are not production.
const NON_PROD: &[&str] =
    &["dev", "develop", "development", "test", "testing", "qa", "staging", "stage", "sandbox", "uat"];

/// One API stage's cost and billable units per component, in one billing period.
#[derive(Debug, Clone, Default)]
pub struct StageUsage {
    pub api_id: String,
    pub stage: Option<String>,
    pub api_type: String,
    pub team: String,
    pub components: BTreeMap<&'static str, (Money, f64)>,
}

impl StageUsage {
    fn cost(&self, component: Component) -> Money {
        self.components.get(component.as_str()).map_or(Money::ZERO, |c| c.0)
    }

    fn units(&self, component: Component) -> f64 {
        self.components.get(component.as_str()).map_or(0.0, |c| c.1)
    }

    pub fn total(&self) -> Money {
        self.components.values().map(|c| c.0).sum()
    }
}

/// Per API and stage usage in `periods` (owned lines only; shared shares have no API).
pub fn stage_usage(store: &Store, periods: PeriodRange, rules: &Rules) -> Result<Vec<StageUsage>, ReportError> {
    let mut stages: BTreeMap<(String, Option<String>), StageUsage> = BTreeMap::new();
    let mut team_cost: BTreeMap<(String, Option<String>), BTreeMap<String, Money>> = BTreeMap::new();
    // Usage per API and stage needs no day: the month's API Gateway shapes answer.
    allocate_each(store, periods, rules, Granularity::Month, &mut |row| {
        let Some(api_id) = row.api_id else { return };
        let key = (api_id.to_owned(), row.stage.map(str::to_owned));
        let entry = stages.entry(key.clone()).or_insert_with(|| StageUsage {
            api_id: key.0.clone(),
            stage: key.1.clone(),
            api_type: row.api_type.as_str().to_owned(),
            ..StageUsage::default()
        });
        let slot = entry.components.entry(row.component.as_str()).or_insert((Money::ZERO, 0.0));
        slot.0 += Money::from_units(row.costs.unblended);
        slot.1 += billable_units(row);
        *team_cost.entry(key).or_default().entry(row.team.to_owned()).or_default() +=
            Money::from_units(row.costs.unblended);
    })?;
    for (key, usage) in &mut stages {
        // The team that owns most of a stage's cost speaks for it.
        usage.team = team_cost[key].iter().max_by_key(|(_, c)| **c).map(|(t, _)| t.clone()).unwrap_or_default();
    }
    Ok(stages.into_values().collect())
}

fn billable_units(row: &AllocatedRowRef<'_>) -> f64 {
    if row.charge_class == "usage" { row.usage_amount } else { 0.0 }
}

/// The `curwatch units` table: units and effective cost per million per API, stage and component.
pub fn units_table(stages: &[StageUsage]) -> Table {
    let mut rows = Vec::new();
    for stage in stages {
        for (component, (cost, units)) in &stage.components {
            let per_million = if *units > 0.0 && matches!(*component, "requests" | "messages" | "connection_minutes") {
                Cell::Money(Money::from_f64(cost.to_f64() / units * 1e6).unwrap_or_default())
            } else {
                Cell::Text(None)
            };
            rows.push((
                *cost,
                vec![
                    Cell::Text(Some(stage.team.clone())),
                    Cell::Text(Some(stage.api_id.clone())),
                    Cell::Text(stage.stage.clone()),
                    Cell::Text(Some(stage.api_type.clone())),
                    Cell::Text(Some((*component).to_owned())),
                    Cell::Number(*units),
                    Cell::Money(*cost),
                    per_million,
                ],
            ));
        }
    }
    rows.sort_by_key(|row| std::cmp::Reverse(row.0));
    let headers = ["team", "api_id", "stage", "api_type", "component", "units", "cost", "cost_per_million"];
    Table { headers: headers.map(str::to_owned).to_vec(), rows: rows.into_iter().map(|r| r.1).collect(), total: None }
}

/// A change worth making, with what it would save in the period analysed.
#[derive(Debug, Clone)]
pub struct Recommendation {
    pub team: String,
    pub api_id: String,
    pub stage: Option<String>,
    pub api_type: String,
    pub finding: &'static str,
    pub detail: String,
    pub cost: Money,
    pub savings: Money,
}

fn http_list_cost(requests: f64) -> f64 {
    let millions = requests / 1e6;
    let first = millions.min(300.0);
    first * HTTP_PER_MILLION_FIRST_300M + (millions - first).max(0.0) * HTTP_PER_MILLION_BEYOND
}

fn money(value: f64) -> Money {
    Money::from_f64(value).unwrap_or_default().round_to_cents()
}

/// Findings per API stage, largest estimated savings first.
pub fn recommend(stages: &[StageUsage]) -> Vec<Recommendation> {
    let mut out = Vec::new();
    let finding = |s: &StageUsage, finding, detail: String, cost: Money, savings: Money| Recommendation {
        team: s.team.clone(),
        api_id: s.api_id.clone(),
        stage: s.stage.clone(),
        api_type: s.api_type.clone(),
        finding,
        detail,
        cost,
        savings,
    };
    for stage in stages {
        let requests_cost = stage.cost(Component::Requests);
        if stage.api_type == "rest" && requests_cost > Money::ZERO {
            let requests = stage.units(Component::Requests);
            let on_http = money(http_list_cost(requests));
            let savings = requests_cost - on_http;
            if savings > Money::ZERO {
                out.push(finding(
                    stage,
                    "rest-to-http",
                    format!(
                        "{:.1}M REST requests cost {}; on HTTP API at list price ≈ {} (REST lists at ${REST_PER_MILLION:.2}/M)",
                        requests / 1e6,
                        requests_cost.to_display_string(),
                        on_http.to_display_string()
                    ),
                    requests_cost,
                    savings.round_to_cents(),
                ));
            }
        }
        let minutes = stage.cost(Component::ConnectionMinutes);
        let messages = stage.cost(Component::Messages);
        if minutes > messages && minutes > Money::ZERO {
            out.push(finding(
                stage,
                "idle-websockets",
                format!(
                    "connection minutes cost {} vs messages {}: connections stay open while idle; add idle timeouts or close on inactivity",
                    minutes.to_display_string(),
                    messages.to_display_string()
                ),
                minutes,
                (minutes - messages).round_to_cents(),
            ));
        }
        let transfer = stage.cost(Component::DataTransfer);
        let calls = requests_cost + messages;
        if transfer > calls && transfer > Money::ZERO {
            out.push(finding(
                stage,
                "large-payloads",
                format!(
                    "data transfer costs {} vs {} for the calls themselves; compress responses or trim payloads (estimate: half the transfer)",
                    transfer.to_display_string(),
                    calls.to_display_string()
                ),
                transfer,
                Money::from_units(transfer.units() / 2).round_to_cents(),
            ));
        }
        let cache = stage.cost(Component::Cache);
        if cache > Money::ZERO && cache > requests_cost {
            out.push(finding(
                stage,
                "cache-costs-more-than-requests",
                format!(
                    "the stage cache costs {} (billed per hour whatever its hit rate) vs {} for requests; resize or remove it",
                    cache.to_display_string(),
                    requests_cost.to_display_string()
                ),
                cache,
                (cache - requests_cost).round_to_cents(),
            ));
        }
    }
    // Non-production stages whose spend rivals production of the same API.
    let mut by_api: BTreeMap<&str, Vec<&StageUsage>> = BTreeMap::new();
    for stage in stages {
        by_api.entry(&stage.api_id).or_default().push(stage);
    }
    for api_stages in by_api.values() {
        let prod: Money = api_stages
            .iter()
            .filter(|s| !s.stage.as_deref().is_some_and(|n| NON_PROD.contains(&n.to_ascii_lowercase().as_str())))
            .map(|s| s.total())
            .sum();
        for stage in api_stages {
            let name = stage.stage.as_deref().unwrap_or_default().to_ascii_lowercase();
            let total = stage.total();
            if NON_PROD.contains(&name.as_str()) && total > Money::ZERO && total.units() * 2 >= prod.units() {
                out.push(finding(
                    stage,
                    "non-prod-rivals-prod",
                    format!(
                        "stage `{name}` costs {} against {} for the API's production stages; check for forgotten traffic or load tests",
                        total.to_display_string(),
                        prod.to_display_string()
                    ),
                    total,
                    total.round_to_cents(),
                ));
            }
        }
    }
    out.sort_by(|a, b| b.savings.cmp(&a.savings).then_with(|| (&a.api_id, &a.stage).cmp(&(&b.api_id, &b.stage))));
    out
}

pub fn recommendations_table(recommendations: &[Recommendation]) -> Table {
    let headers = ["team", "api_id", "stage", "api_type", "finding", "cost", "estimated_savings", "detail"];
    let rows = recommendations
        .iter()
        .map(|r| {
            vec![
                Cell::Text(Some(r.team.clone())),
                Cell::Text(Some(r.api_id.clone())),
                Cell::Text(r.stage.clone()),
                Cell::Text(Some(r.api_type.clone())),
                Cell::Text(Some(r.finding.to_owned())),
                Cell::Money(r.cost),
                Cell::Money(r.savings),
                Cell::Text(Some(r.detail.clone())),
            ]
        })
        .collect();
    let total = recommendations.iter().map(|r| r.savings).sum();
    let mut total_row: Vec<Cell> = headers.iter().map(|_| Cell::Text(Some(String::new()))).collect();
    total_row[0] = Cell::Text(Some("total".into()));
    total_row[5] = Cell::Text(Some(String::new()));
    total_row[6] = Cell::Money(total);
    Table { headers: headers.map(str::to_owned).to_vec(), rows, total: Some(total_row) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(api_type: &str, name: &str, parts: &[(&'static str, &str, f64)]) -> StageUsage {
        StageUsage {
            api_id: "a1".into(),
            stage: Some(name.into()),
            api_type: api_type.into(),
            team: "payments".into(),
            components: parts.iter().map(|(c, cost, units)| (*c, (cost.parse().unwrap(), *units))).collect(),
        }
    }

    #[test]
    fn rest_requests_priced_on_http() {
        let s = stage("rest", "prod", &[("requests", "35.00", 10_000_000.0)]);
        let found = recommend(&[s]);
        assert_eq!(found[0].finding, "rest-to-http");
        assert_eq!(found[0].savings, "25.00".parse().unwrap(), "10M requests: $35 on REST, $10 on HTTP");
        assert!((http_list_cost(400e6) - 390.0).abs() < 1e-9, "tiers: 300 × $1.00 + 100 × $0.90");
    }

    #[test]
    fn flags_idle_websockets_payloads_caches_and_rivalling_stages() {
        let prod = stage(
            "websocket",
            "prod",
            &[("messages", "2.00", 2e6), ("connection_minutes", "5.00", 2e7), ("data_transfer", "9.00", 100.0)],
        );
        let dev = stage("websocket", "dev", &[("messages", "8.00", 8e6)]);
        let cached = StageUsage {
            api_id: "c1".into(),
            ..stage("rest", "prod", &[("requests", "1.00", 3e5), ("cache", "27.36", 720.0)])
        };
        let found: Vec<_> =
            recommend(&[prod, dev, cached]).into_iter().map(|r| (r.finding, r.savings.to_exact_string())).collect();
        assert!(found.contains(&("idle-websockets", "3.00".into())), "{found:?}");
        assert!(found.contains(&("large-payloads", "4.50".into())), "{found:?}");
        assert!(found.contains(&("non-prod-rivals-prod", "8.00".into())), "{found:?}");
        assert!(found.contains(&("cache-costs-more-than-requests", "26.36".into())), "{found:?}");
        let savings: Vec<_> =
            recommend(&[stage("rest", "prod", &[("requests", "1.00", 1.0)])]).iter().map(|r| r.savings).collect();
        assert!(savings.windows(2).all(|w| w[0] >= w[1]));
    }
}
