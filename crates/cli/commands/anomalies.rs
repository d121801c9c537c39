//! `curwatch anomalies`: what is unusual as of a day, why, and since when.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use curwatch_anomaly::{Anomaly, Monitor, Params, SeriesSet, detect, explain, judged_range};
use curwatch_report::{Cell, OutputFormat, Table};
use curwatch_store::Store;
use serde_json::{Value, json};

use crate::args::AnomaliesArgs;
use crate::exit::ExitStatus;
use crate::log::{Log, print_stdout};

pub(crate) fn run(store: &Store, args: &AnomaliesArgs, log: &Log) -> anyhow::Result<ExitStatus> {
    let mut monitors = select_monitors(args)?;
    if args.hourly {
        let daily_only: Vec<String> =
            monitors.iter().filter(|m| m.dimensions.iter().any(|d| d == "team")).map(|m| m.name.clone()).collect();
        if !daily_only.is_empty() {
            log.warn(&format!("hourly: {} skipped (teams come from the daily allocation)", daily_only.join(", ")));
            monitors.retain(|m| !daily_only.contains(&m.name));
        }
        if monitors.is_empty() {
            anyhow::bail!("no monitor left to run hourly");
        }
    }
    let rules = super::load_rules(&args.rules)?;
    let Some((set, data_end)) = super::observations::series(store, &rules, &monitors, args.hourly)? else {
        anyhow::bail!("the store at {} holds no billing data yet; run `curwatch ingest` first", store.root().display());
    };
    let first = set.first_day.expect("a set built from data");
    let params = curwatch_anomaly::params_for(&set);
    say_excluded(&set, &monitors, log);

    if args.backtest {
        let (from, to) = (args.from.expect("clap requires --from"), args.to.expect("clap requires --to"));
        return backtest(&set, &monitors, &params, first, data_end, (from, to), args.format);
    }
    let (as_of, last_judged) = judged_range(first, data_end, args.as_of, set.slots_per_day);
    let anomalies = detect(&set, &monitors, &params, last_judged);
    match last_judged {
        Some(last) => log.info(&format!(
            "{} series in {} monitor(s), judged {first} to {} (the last day of data, {as_of}, is incomplete): {} anomal{}",
            set.series.len(),
            monitors.len(),
            set.day(last),
            anomalies.len(),
            if anomalies.len() == 1 { "y" } else { "ies" }
        )),
        None => log.warn("less than two days of data: nothing can be judged yet"),
    }
    if args.as_of.is_none_or(|d| d >= data_end) && args.monitor.is_none() && !args.hourly {
        super::observations::remember(store, &anomalies, as_of)?;
    }
    print_anomalies(&anomalies, args.format)?;
    if args.format == OutputFormat::Table {
        for anomaly in &anomalies {
            log.info(&format!("{} {}", anomaly.id, explain(anomaly)));
        }
    }
    Ok(ExitStatus::Success)
}

fn select_monitors(args: &AnomaliesArgs) -> anyhow::Result<Vec<Monitor>> {
    let mut monitors = super::observations::monitors(args.monitors.as_deref())?;
    if let Some(name) = &args.monitor {
        let names: Vec<String> = monitors.iter().map(|m| m.name.clone()).collect();
        monitors.retain(|m| &m.name == name);
        if monitors.is_empty() {
            anyhow::bail!("no monitor named `{name}`; the monitors are {}", names.join(", "));
        }
    }
    Ok(monitors)
}

/// Charges kept out of detection, once, from the broadest monitor.
fn say_excluded(set: &SeriesSet, monitors: &[Monitor], log: &Log) {
    let broadest = monitors.iter().position(|m| m.service.is_none()).unwrap_or(0);
    let mut excluded: BTreeMap<&str, f64> = BTreeMap::new();
    for s in set.series.iter().filter(|s| s.monitor == broadest) {
        for (class, cost) in &s.excluded {
            *excluded.entry(class).or_default() += cost;
        }
    }
    if !excluded.is_empty() {
        let parts: Vec<String> = excluded.iter().map(|(c, v)| format!("{c} {v:.2}")).collect();
        log.info(&format!("left out of detection (not usage): {}", parts.join(", ")));
    }
}

fn backtest(
    set: &SeriesSet,
    monitors: &[Monitor],
    params: &Params,
    first: NaiveDate,
    data_end: NaiveDate,
    (from, to): (NaiveDate, NaiveDate),
    format: OutputFormat,
) -> anyhow::Result<ExitStatus> {
    if from > to {
        anyhow::bail!("--from {from} is after --to {to}");
    }
    let mut seen = BTreeSet::new();
    let mut rows = Vec::new();
    let mut day = from;
    while day <= to {
        let (_, last_judged) = judged_range(first, data_end, Some(day), set.slots_per_day);
        for anomaly in detect(set, monitors, params, last_judged) {
            if seen.insert(anomaly.id.clone()) {
                let delay = (day - anomaly.start).num_days();
                rows.push(vec![
                    text(&day.to_string()),
                    text(&anomaly.id),
                    text(&anomaly.monitor),
                    text(&dimensions_text(&anomaly)),
                    text(&anomaly.start.to_string()),
                    Cell::Integer(delay),
                    Cell::Number(cents(anomaly.impact)),
                    Cell::Percent(anomaly.impact_pct),
                ]);
            }
        }
        day = day.succ_opt().expect("a representable day");
    }
    let headers =
        ["flagged_by_run_of", "id", "monitor", "dimensions", "start", "days_after_start", "impact", "impact_pct"];
    let table = Table { headers: headers.iter().map(|h| (*h).to_owned()).collect(), rows, total: None };
    print_stdout(&table.render(format))?;
    Ok(ExitStatus::Success)
}

fn print_anomalies(anomalies: &[Anomaly], format: OutputFormat) -> anyhow::Result<()> {
    if format == OutputFormat::Json {
        let array: Vec<Value> = anomalies.iter().map(to_json).collect();
        return print_stdout(&format!("{}\n", serde_json::to_string_pretty(&array)?));
    }
    let headers = [
        "id",
        "monitor",
        "dimensions",
        "start",
        "end",
        "expected",
        "actual",
        "impact",
        "impact_pct",
        "severity",
        "status",
        "root_causes",
    ];
    let rows = anomalies
        .iter()
        .map(|a| {
            let causes: Vec<String> =
                a.root_causes.iter().take(3).map(|c| format!("{} {} +{:.2}", c.dimension, c.value, c.impact)).collect();
            vec![
                text(&a.id),
                text(&a.monitor),
                text(&dimensions_text(a)),
                text(&a.start.to_string()),
                text(&a.end.to_string()),
                Cell::Number(cents(a.expected)),
                Cell::Number(cents(a.actual)),
                Cell::Number(cents(a.impact)),
                Cell::Percent(a.impact_pct),
                Cell::Number((a.severity * 1000.0).round() / 1000.0),
                text(a.status.as_str()),
                text(&causes.join("; ")),
            ]
        })
        .collect();
    let table = Table { headers: headers.iter().map(|h| (*h).to_owned()).collect(), rows, total: None };
    print_stdout(&table.render(format))
}

/// The JSON shape documented in docs/anomaly-detection.md.
pub(crate) fn to_json(a: &Anomaly) -> Value {
    let dimensions: serde_json::Map<String, Value> =
        a.dimensions.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    let causes: Vec<Value> = a
        .root_causes
        .iter()
        .map(|c| json!({"dimension": c.dimension, "value": c.value, "impact": cents(c.impact)}))
        .collect();
    json!({
        "id": a.id,
        "monitor": a.monitor,
        "dimensions": dimensions,
        "start": a.start.to_string(),
        "end": a.end.to_string(),
        "peak": a.peak.to_string(),
        "start_hour": a.start_hour.map(|h| h.format("%Y-%m-%dT%H:00").to_string()),
        "end_hour": a.end_hour.map(|h| h.format("%Y-%m-%dT%H:00").to_string()),
        "expected": cents(a.expected),
        "actual": cents(a.actual),
        "impact": cents(a.impact),
        "impact_pct": a.impact_pct.map(|p| (p * 100.0).round() / 100.0),
        "severity": (a.severity * 1000.0).round() / 1000.0,
        "signals": a.signals,
        "status": a.status.as_str(),
        "root_causes": causes,
        "explanation": explain(a),
    })
}

fn dimensions_text(a: &Anomaly) -> String {
    a.dimensions.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
}

fn cents(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

fn text(value: &str) -> Cell {
    Cell::Text(Some(value.to_owned()))
}
