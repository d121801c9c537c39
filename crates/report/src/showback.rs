//! Per-team showback documents: what each team's APIs cost this month, how that changed,
//! and the part of it that is a share of shared costs.

use std::collections::BTreeMap;

use curwatch_allocate::Rules;
use curwatch_schema::{BillingPeriod, Money};
use curwatch_store::{PeriodRange, Store};

use crate::aggregate::{Report, ReportError, ReportRequest, ReportRow, run_report};
use crate::compare::compare;
use crate::dimension::Dimension;
use crate::render::OutputFormat;

/// One team's showback, ready to write.
#[derive(Debug, Clone)]
pub struct TeamShowback {
    pub team: String,
    pub total: Money,
    pub previous: Money,
    pub shared: Money,
    pub markdown: String,
    pub csv: String,
}

const DETAIL: [Dimension; 6] = [
    Dimension::Team,
    Dimension::ApiId,
    Dimension::ApiType,
    Dimension::Stage,
    Dimension::Component,
    Dimension::OwnerSource,
];

fn detail(store: &Store, month: BillingPeriod, rules: &Rules) -> Result<Report, ReportError> {
    let request = ReportRequest {
        dimensions: DETAIL.to_vec(),
        periods: PeriodRange::only(month),
        rules: rules.clone(),
        ..ReportRequest::default()
    };
    run_report(store, &request)
}

/// Keeps one team's rows and sums them over the chosen dimension positions of `DETAIL`.
fn rollup(report: &Report, team: &str, keep: &[usize]) -> Report {
    let mut sums: BTreeMap<Vec<Option<String>>, Money> = BTreeMap::new();
    for row in report.rows.iter().filter(|r| r.keys[0].as_deref() == Some(team)) {
        *sums.entry(keep.iter().map(|i| row.keys[*i].clone()).collect()).or_default() += row.cost;
    }
    let mut rows: Vec<ReportRow> = sums.into_iter().map(|(keys, cost)| ReportRow { keys, cost }).collect();
    rows.sort_by(|a, b| b.cost.cmp(&a.cost).then_with(|| a.keys.cmp(&b.keys)));
    Report {
        dimensions: keep.iter().map(|i| DETAIL[*i].clone()).collect(),
        total: rows.iter().map(|r| r.cost).sum(),
        rows,
        warnings: Vec::new(),
    }
}

fn pct(now: Money, before: Money) -> String {
    if before == Money::ZERO {
        "no spend the month before".to_owned()
    } else {
        format!("{:+.1}%", (now - before).to_f64() / before.to_f64().abs() * 100.0)
    }
}

/// Builds every team's showback for `month`, compared with the month before.
pub fn showback(store: &Store, month: BillingPeriod, rules: &Rules) -> Result<Vec<TeamShowback>, ReportError> {
    let current = detail(store, month, rules)?;
    let previous = detail(store, month.previous(), rules)?;
    let mut teams: Vec<String> = current.rows.iter().chain(&previous.rows).filter_map(|r| r.keys[0].clone()).collect();
    teams.sort();
    teams.dedup();
    let mut out = Vec::new();
    for team in teams {
        let total = rollup(&current, &team, &[]).total;
        let before = rollup(&previous, &team, &[]).total;
        let shared: Money = current
            .rows
            .iter()
            .filter(|r| r.keys[0].as_deref() == Some(team.as_str()))
            .filter(|r| r.keys[5].as_deref().is_some_and(|s| s.starts_with("shared:")))
            .map(|r| r.cost)
            .sum();
        let by_stage = compare(&rollup(&current, &team, &[1, 2, 3]), &rollup(&previous, &team, &[1, 2, 3]));
        let by_component = compare(&rollup(&current, &team, &[4]), &rollup(&previous, &team, &[4]));
        let by_source = compare(&rollup(&current, &team, &[5]), &rollup(&previous, &team, &[5]));
        let shared_share = if total == Money::ZERO { 0.0 } else { shared.to_f64() / total.to_f64() * 100.0 };
        let markdown = format!(
            "# API Gateway showback: {team}, {month}\n\n\
             **{}** this month; {} in {} ({}).\n\n\
             Includes **{}** ({shared_share:.1}%) as this team's share of shared API Gateway costs \
             (tax, discounts, credits, fees), split by its usage.\n\n\
             ## By API and stage\n\n{}\n## By component\n\n{}\n## How the cost was attributed\n\n{}",
            total.to_display_string(),
            before.to_display_string(),
            month.previous(),
            pct(total, before),
            shared.to_display_string(),
            by_stage.render(OutputFormat::Markdown),
            by_component.render(OutputFormat::Markdown),
            by_source.render(OutputFormat::Markdown),
        );
        let csv = compare(&rollup(&current, &team, &[1, 2, 3, 4, 5]), &rollup(&previous, &team, &[1, 2, 3, 4, 5]))
            .render(OutputFormat::Csv);
        out.push(TeamShowback { team, total, previous: before, shared, markdown, csv });
    }
    out.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.team.cmp(&b.team)));
    Ok(out)
}
