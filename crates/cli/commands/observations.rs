//! Daily billing observations for anomaly detection, from the store's reports: API Gateway
//! through allocation (API, stage, component, team), every other service as stored.

use std::path::Path;

use chrono::NaiveDate;
use curwatch_allocate::Rules;
use curwatch_anomaly::monitor::FIELDS;
use curwatch_anomaly::{Anomaly, Monitor, Observation, SeriesSet, state};
use curwatch_report::{Dimension, ReportRequest, run_report};
use curwatch_schema::columns::API_GATEWAY_SERVICE as API_GATEWAY;
use curwatch_store::Store;

/// Every day's (or, when `hourly`, every hour's) cost per combination of the fields
/// monitors and root causes use. Hourly API Gateway lines carry API, stage and component
/// but no team: allocation works on days.
fn load(store: &Store, rules: &Rules, hourly: bool) -> anyhow::Result<Vec<Observation>> {
    let mut out = Vec::new();
    let time = if hourly { Dimension::Hour } else { Dimension::Day };
    let plain = [
        time.clone(),
        Dimension::ChargeClass,
        Dimension::Account,
        Dimension::Region,
        Dimension::Service,
        Dimension::UsageType,
        Dimension::Operation,
    ];
    let report = run_report(store, &ReportRequest { dimensions: plain.to_vec(), ..Default::default() })?;
    let mut has_gateway = false;
    for row in report.rows {
        // API Gateway comes from the allocation below, with its API, stage and team.
        if row.keys[4].as_deref() == Some(API_GATEWAY) {
            has_gateway = true;
            continue;
        }
        let mut fields: [Option<String>; FIELDS.len()] = Default::default();
        for (name, value) in ["account", "region", "service", "usage_type", "operation"].iter().zip(&row.keys[2..]) {
            fields[position(name)] = value.clone();
        }
        out.push(observation(&row.keys, fields, row.cost)?);
    }
    if has_gateway {
        let mut allocated = vec![
            time,
            Dimension::ChargeClass,
            Dimension::Account,
            Dimension::Region,
            Dimension::UsageType,
            Dimension::ApiId,
            Dimension::Stage,
            Dimension::ApiType,
            Dimension::Component,
            Dimension::Team,
        ];
        if hourly {
            allocated.pop();
        }
        let request = ReportRequest {
            dimensions: allocated,
            service: Some(API_GATEWAY.to_owned()),
            rules: rules.clone(),
            ..Default::default()
        };
        for row in run_report(store, &request)?.rows {
            let mut fields: [Option<String>; FIELDS.len()] = Default::default();
            fields[position("service")] = Some(API_GATEWAY.to_owned());
            let names = ["account", "region", "usage_type", "api_id", "stage", "api_type", "component", "team"];
            for (name, value) in names.iter().zip(&row.keys[2..]) {
                fields[position(name)] = value.clone();
            }
            out.push(observation(&row.keys, fields, row.cost)?);
        }
    }
    Ok(out)
}

/// The monitors in `file`, or the defaults.
pub(crate) fn monitors(file: Option<&Path>) -> anyhow::Result<Vec<Monitor>> {
    Ok(match file {
        Some(path) => curwatch_anomaly::load_monitors(path)?,
        None => curwatch_anomaly::default_monitors(),
    })
}

/// Every monitor's usage series over all the store's data, and the data's last day;
/// `None` when the store holds no billing data.
pub(crate) fn series(
    store: &Store,
    rules: &Rules,
    monitors: &[Monitor],
    hourly: bool,
) -> anyhow::Result<Option<(SeriesSet, NaiveDate)>> {
    let observations = load(store, rules, hourly)?;
    let (Some(first), Some(last)) =
        (observations.iter().map(|o| o.day).min(), observations.iter().map(|o| o.day).max())
    else {
        return Ok(None);
    };
    Ok(Some((curwatch_anomaly::series::build(&observations, monitors, first, last, hourly), last)))
}

/// Keeps the anomalies of a run as of `as_of` in the store, with their first-report times;
/// returns how many the store did not know yet.
pub(crate) fn remember(store: &Store, anomalies: &[Anomaly], as_of: NaiveDate) -> anyhow::Result<usize> {
    let previous = state::load(store)?;
    let known = |id: &str| previous.as_ref().is_some_and(|p| p.anomalies.iter().any(|k| k.anomaly.id == id));
    let new = anomalies.iter().filter(|a| !known(&a.id)).count();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    state::save(store, &state::merge(previous.as_ref(), anomalies.to_vec(), as_of, &now))?;
    Ok(new)
}

fn position(name: &str) -> usize {
    FIELDS.iter().position(|f| *f == name).expect("a known field")
}

fn observation(
    keys: &[Option<String>],
    fields: [Option<String>; FIELDS.len()],
    cost: curwatch_schema::Money,
) -> anyhow::Result<Observation> {
    let when = keys[0].as_deref().unwrap_or_default();
    let bad = || anyhow::anyhow!("the store has a line with usage time `{when}`");
    let (day, hour) = match when.split_once('T') {
        Some((day, hour)) => (day, Some(hour.get(..2).and_then(|h| h.parse::<u32>().ok()).ok_or_else(bad)?)),
        None => (when, None),
    };
    let day: NaiveDate = day.parse().map_err(|_| bad())?;
    Ok(Observation {
        day,
        hour,
        fields,
        charge_class: keys[1].clone().unwrap_or_else(|| "other".into()),
        cost: cost.to_f64(),
    })
}
