//! Scoring detectors on labelled series: event-level precision, recall and F1, dollars
//! caught, detection delay — for curwatch's detector and two simple baselines.

use serde::Serialize;

use crate::detector::{Params, Verdict, median, score};
use crate::incident::{flagged, incidents};
use crate::monitor::Thresholds;

/// A labelled stretch of a series: an anomaly to catch, or something that must stay quiet.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledEvent {
    pub kind: String,
    pub anomaly: bool,
    /// Inclusive day indexes.
    pub start: usize,
    pub end: usize,
    /// Dollars the event added over its window (zero for non-anomalies).
    pub excess: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LabelledSeries {
    pub name: String,
    /// Days since Monday of the first day.
    pub phase0: usize,
    /// Usage cost per day: what detection sees.
    pub usage: Vec<f64>,
    /// Fees per day (commitment fees on the 1st): left out of detection.
    pub fees: Vec<f64>,
    /// Indexes of days that carry a month-start fee.
    pub fee_days: Vec<usize>,
    pub events: Vec<LabelledEvent>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Seasonal robust baseline + EWMA drift chart, usage only.
    Curwatch,
    /// A fixed threshold: 1.3 × the highest day of the first 28 days.
    StaticThreshold,
    /// Mean + 3 standard deviations of the trailing 28 days.
    ThreeSigma,
}

impl Method {
    pub const ALL: [Method; 3] = [Method::Curwatch, Method::StaticThreshold, Method::ThreeSigma];

    pub fn label(self) -> &'static str {
        match self {
            Method::Curwatch => "curwatch",
            Method::StaticThreshold => "static threshold",
            Method::ThreeSigma => "3-sigma (28 days)",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scores {
    pub method: Method,
    pub series: usize,
    pub events: usize,
    pub detected: usize,
    pub alerts: usize,
    pub false_alerts: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub cost_weighted_recall: f64,
    /// Median days from an event's start to its first alert, over detected events.
    pub median_delay_days: f64,
    /// Alerts caused by month-start fees: raised on a fee day only because fees were in
    /// the method's input, as each is deployed — curwatch on usage charges (so none by
    /// construction), the baselines on the billed total as budget alerts see it.
    pub fee_day_alerts: usize,
    /// Alerts that overlap a labelled non-anomaly (holiday dip and the like).
    pub non_anomaly_alerts: usize,
}

/// Days after an event's labelled end an alert still counts as catching it.
pub const TOLERANCE_DAYS: usize = 3;
/// Days at the start of a series no method is scored on (every method's warm-up).
pub const WARMUP_DAYS: usize = 28;

pub fn evaluate(corpus: &[LabelledSeries], method: Method, thresholds: &Thresholds) -> Scores {
    let (mut events, mut detected, mut alerts, mut false_alerts) = (0, 0, 0, 0);
    let (mut excess_total, mut excess_caught) = (0.0, 0.0);
    let (mut fee_day_alerts, mut non_anomaly_alerts) = (0, 0);
    let mut delays = Vec::new();
    for series in corpus {
        let runs = alert_runs(&series.usage, series.phase0, method, thresholds);
        let anomalies: Vec<&LabelledEvent> = series.events.iter().filter(|e| e.anomaly).collect();
        for event in &anomalies {
            events += 1;
            excess_total += event.excess;
            let window_end = event.end + TOLERANCE_DAYS;
            let first = runs
                .iter()
                .filter(|(s, e)| *e >= event.start && *s <= window_end)
                .map(|(s, _)| *s.max(&event.start))
                .min();
            if let Some(first) = first {
                detected += 1;
                excess_caught += event.excess;
                delays.push((first - event.start) as f64);
            }
        }
        for &(s, e) in &runs {
            alerts += 1;
            let explained = anomalies.iter().any(|ev| e >= ev.start && s <= ev.end + TOLERANCE_DAYS);
            if !explained {
                false_alerts += 1;
                if series.events.iter().any(|ev| !ev.anomaly && e >= ev.start && s <= ev.end) {
                    non_anomaly_alerts += 1;
                }
            }
        }
        // Fee days: the baselines as deployed see the billed total. curwatch sees usage only
        // (fees are left out by charge class), so fees cannot raise its alerts.
        if method == Method::Curwatch {
            continue;
        }
        let billed: Vec<f64> = series.usage.iter().zip(&series.fees).map(|(u, f)| u + f).collect();
        for (s, e) in alert_runs(&billed, series.phase0, method, thresholds) {
            let on_fee_day = series.fee_days.iter().any(|d| (s..=e).contains(d));
            let without_fees = runs.iter().any(|&(a, b)| b >= s && a <= e);
            if on_fee_day && !without_fees {
                fee_day_alerts += 1;
            }
        }
    }
    let precision = if alerts == 0 { 1.0 } else { (alerts - false_alerts) as f64 / alerts as f64 };
    let recall = if events == 0 { 1.0 } else { detected as f64 / events as f64 };
    let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
    Scores {
        method,
        series: corpus.len(),
        events,
        detected,
        alerts,
        false_alerts,
        precision,
        recall,
        f1,
        cost_weighted_recall: if excess_total > 0.0 { excess_caught / excess_total } else { 1.0 },
        median_delay_days: median(&mut delays),
        fee_day_alerts,
        non_anomaly_alerts,
    }
}

/// A method's alerts on a series: runs of flagged days after the warm-up.
pub fn alert_runs(values: &[f64], phase0: usize, method: Method, thresholds: &Thresholds) -> Vec<(usize, usize)> {
    let verdicts = match method {
        Method::Curwatch => score(values, phase0, &Params::default()),
        Method::StaticThreshold => static_threshold(values),
        Method::ThreeSigma => three_sigma(values),
    };
    let mut flags = flagged(&verdicts, thresholds);
    flags.iter_mut().take(WARMUP_DAYS).for_each(|f| *f = false);
    incidents(&flags)
}

fn verdict(actual: f64, expected: f64, raised: bool) -> Verdict {
    let signal = if raised { crate::Signal::Spike } else { crate::Signal::Normal };
    Verdict { actual, expected, z: 0.0, severity: if raised { 1.0 } else { 0.0 }, signal }
}

fn static_threshold(values: &[f64]) -> Vec<Verdict> {
    let first = &values[..values.len().min(WARMUP_DAYS)];
    let limit = 1.3 * first.iter().copied().fold(0.0, f64::max);
    let mean = first.iter().sum::<f64>() / first.len().max(1) as f64;
    values.iter().map(|&v| verdict(v, mean, v > limit)).collect()
}

fn three_sigma(values: &[f64]) -> Vec<Verdict> {
    (0..values.len())
        .map(|t| {
            let window = &values[t.saturating_sub(WARMUP_DAYS)..t];
            if window.len() < 7 {
                return verdict(values[t], values[t], false);
            }
            let mean = window.iter().sum::<f64>() / window.len() as f64;
            let sd = (window.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / window.len() as f64).sqrt();
            verdict(values[t], mean, values[t] > mean + 3.0 * sd)
        })
        .collect()
}
