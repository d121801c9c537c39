//! Spend anomalies against seasonal, robust, causal baselines.
//!
//! Billing observations become one daily usage-cost series per monitor and value
//! ([`series`]); each series is scored point by point using only earlier points
//! ([`detector`]); flagged days that pass the monitor's thresholds become anomalies with
//! stable ids, totals, status and root causes ([`incident`], [`root_cause`]). The same
//! detector scores any regular CSV series ([`generic`]) and is evaluated against labelled
//! corpora and two simple baselines ([`eval`]).

pub mod detector;
pub mod eval;
pub mod generic;
pub mod incident;
pub mod monitor;
pub mod root_cause;
pub mod series;
pub mod state;

use chrono::NaiveDate;

pub use detector::{Params, Signal, Verdict, score};
pub use incident::{Anomaly, Status};
pub use monitor::{Monitor, Thresholds, default_monitors, load_monitors};
pub use root_cause::RootCause;
pub use series::{Observation, SeriesSet};

/// Root causes kept per anomaly.
pub const ROOT_CAUSES: usize = 10;

/// The detector settings for a set: a weekly season of days, or of hours (168) for hourly.
pub fn params_for(set: &SeriesSet) -> Params {
    Params::for_period(7 * set.slots_per_day.max(1))
}

/// Anomalies of every series in `set`, judging slots (days, or hours) up to index
/// `last_judged` (the day after it is the incomplete one). Sorted by impact, largest first.
/// Dollar thresholds are per day; for hourly series they apply per hour, divided by 24.
pub fn detect(set: &SeriesSet, monitors: &[Monitor], params: &Params, last_judged: Option<usize>) -> Vec<Anomaly> {
    let Some(last_judged) = last_judged else { return Vec::new() };
    let mut anomalies = Vec::new();
    let slots = set.slots_per_day.max(1);
    for series in &set.series {
        let monitor = &monitors[series.monitor];
        let judged = &series.values[..=last_judged.min(series.values.len().saturating_sub(1))];
        let weekday = set.first_day.map_or(0, |d| chrono::Datelike::weekday(&d).num_days_from_monday() as usize);
        let verdicts = score(judged, (weekday * slots) % params.period.max(1), params);
        let mut thresholds = monitor.thresholds;
        thresholds.min_impact /= slots as f64;
        let flags = incident::flagged(&verdicts, &thresholds);
        for (start, end) in incident::incidents(&flags) {
            let (expected, actual, peak, severity, signals, status) =
                incident::summarise(&verdicts, (start, end), last_judged);
            let impact = actual - expected;
            let start_day = set.day(start);
            let id_time = set.hour_start(start).map_or_else(|| start_day.to_string(), |h| h.to_string());
            anomalies.push(Anomaly {
                id: incident::anomaly_id(&monitor.name, &series.dimensions, &id_time),
                monitor: monitor.name.clone(),
                dimensions: series.dimensions.clone(),
                start: start_day,
                end: set.day(end),
                peak: set.day(peak),
                peak_impact: verdicts[peak].impact(),
                expected,
                actual,
                impact,
                impact_pct: (expected > 0.0).then(|| impact / expected * 100.0),
                severity,
                signals,
                status,
                root_causes: root_cause::rank(&series.contributors, start, end, params.period, ROOT_CAUSES),
                start_hour: set.hour_start(start),
                end_hour: set.hour_start(end),
            });
        }
    }
    anomalies.sort_by(|a, b| b.impact.total_cmp(&a.impact).then_with(|| a.id.cmp(&b.id)));
    anomalies
}

/// One sentence a person can act on, e.g. "api_id a1b2c3 stage prod: $412.00 on 2024-03-05
/// vs $96.00 expected (+329%, +$316.00). Top causes: usage_type USE1-ApiGatewayRequest +$290.00."
pub fn explain(anomaly: &Anomaly) -> String {
    let what = anomaly.dimensions.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(" ");
    let when = match (anomaly.start_hour, anomaly.end_hour) {
        (Some(start), Some(end)) if start == end => format!("at {}", start.format("%Y-%m-%d %H:00")),
        (Some(start), Some(end)) => {
            format!("from {} to {}", start.format("%Y-%m-%d %H:00"), end.format("%Y-%m-%d %H:00"))
        }
        _ if anomaly.start == anomaly.end => format!("on {}", anomaly.start),
        _ => format!("from {} to {}", anomaly.start, anomaly.end),
    };
    let pct = anomaly.impact_pct.map_or_else(|| "new spend".to_owned(), |p| format!("{p:+.0}%"));
    let mut text = format!(
        "{what}: ${:.2} {when} vs ${:.2} expected ({pct}, {}).",
        anomaly.actual,
        anomaly.expected,
        signed_dollars(anomaly.impact)
    );
    if !anomaly.root_causes.is_empty() {
        let causes: Vec<String> = anomaly
            .root_causes
            .iter()
            .take(3)
            .map(|c| format!("{} {} {}", c.dimension, c.value, signed_dollars(c.impact)))
            .collect();
        text.push_str(&format!(" Top causes: {}.", causes.join(", ")));
    }
    text
}

/// `+$12.30` or `-$4.00`: an impact as people read it.
pub fn signed_dollars(amount: f64) -> String {
    if amount < 0.0 { format!("-${:.2}", -amount) } else { format!("+${amount:.2}") }
}

/// The days a run on `as_of` judges, given the data's first and last days: data through
/// `as_of` (or its end), whose last day is still incomplete and never judged. Returns that
/// day and the last slot judged (`slots_per_day` slots a day).
pub fn judged_range(
    first: NaiveDate,
    data_end: NaiveDate,
    as_of: Option<NaiveDate>,
    slots_per_day: usize,
) -> (NaiveDate, Option<usize>) {
    let end = as_of.map_or(data_end, |d| d.min(data_end));
    let span = (end - first).num_days();
    (end, (span >= 1).then(|| span as usize * slots_per_day.max(1) - 1))
}
