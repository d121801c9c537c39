//! From daily verdicts to anomalies: consecutive flagged days are one incident with a
//! stable id, totals, a peak, root causes and a status as of the day judged last.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::detector::{Signal, Verdict};
use crate::monitor::Thresholds;
use crate::root_cause::RootCause;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// First flagged on the day judged last.
    Open,
    /// Began earlier and still flagged on the day judged last.
    Ongoing,
    /// The day judged last was back within the baseline.
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Ongoing => "ongoing",
            Status::Resolved => "resolved",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    /// Stable across runs: derived from the monitor, its dimension values and the start day.
    pub id: String,
    pub monitor: String,
    pub dimensions: Vec<(String, String)>,
    pub start: NaiveDate,
    /// The last flagged day so far.
    pub end: NaiveDate,
    /// The day of the largest impact.
    pub peak: NaiveDate,
    pub peak_impact: f64,
    /// Sums over the anomaly's days.
    pub expected: f64,
    pub actual: f64,
    pub impact: f64,
    /// `None` when nothing was expected (new spend).
    pub impact_pct: Option<f64>,
    pub severity: f64,
    /// Which tests raised it: spike, drift, new_spend.
    pub signals: Vec<Signal>,
    pub status: Status,
    pub root_causes: Vec<RootCause>,
    /// For hourly series: the first and last flagged hours (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_hour: Option<chrono::NaiveDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_hour: Option<chrono::NaiveDateTime>,
}

/// Days that are anomalous: a statistical candidate whose impact passes the thresholds.
pub fn flagged(verdicts: &[Verdict], thresholds: &Thresholds) -> Vec<bool> {
    verdicts.iter().map(|v| v.is_candidate() && thresholds.passes(v.impact(), v.impact_pct())).collect()
}

/// Runs of flagged days as inclusive index ranges; a single quiet day inside an incident
/// does not split it.
pub fn incidents(flags: &[bool]) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (t, _) in flags.iter().enumerate().filter(|(_, f)| **f) {
        match runs.last_mut() {
            Some((_, end)) if t <= *end + 2 => *end = t,
            _ => runs.push((t, t)),
        }
    }
    runs
}

/// `an-` and 12 hex digits of an FNV-1a hash of what identifies the incident: the monitor,
/// its dimension values and the start (a day, or an hour for hourly series).
pub fn anomaly_id(monitor: &str, dimensions: &[(String, String)], start: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let text = format!(
        "{monitor}|{}|{start}",
        dimensions.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
    );
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("an-{:012x}", hash & 0xffff_ffff_ffff)
}

/// Totals of one run of days, its status as of `last_judged`.
pub(crate) fn summarise(
    verdicts: &[Verdict],
    (start, end): (usize, usize),
    last_judged: usize,
) -> (f64, f64, usize, f64, Vec<Signal>, Status) {
    let (mut expected, mut actual, mut severity) = (0.0, 0.0, 0.0f64);
    let mut peak = start;
    let mut signals = Vec::new();
    for (t, v) in verdicts.iter().enumerate().take(end + 1).skip(start) {
        expected += v.expected;
        actual += v.actual;
        severity = severity.max(v.severity);
        if v.impact() > verdicts[peak].impact() {
            peak = t;
        }
        if v.is_candidate() && !signals.contains(&v.signal) {
            signals.push(v.signal);
        }
    }
    let status = if end < last_judged {
        Status::Resolved
    } else if start == last_judged {
        Status::Open
    } else {
        Status::Ongoing
    };
    (expected, actual, peak, severity, signals, status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_incident_spans_days_and_a_single_quiet_day() {
        let flags = [false, true, true, false, true, false, false, true];
        assert_eq!(incidents(&flags), vec![(1, 4), (7, 7)]);
        let day = NaiveDate::from_ymd_opt(2024, 3, 5).unwrap();
        let dims = vec![("api_id".to_owned(), "a1b2c3".to_owned())];
        let (today, tomorrow) = (day.to_string(), day.succ_opt().unwrap().to_string());
        assert_eq!(anomaly_id("m", &dims, &today), anomaly_id("m", &dims, &today), "stable");
        assert_ne!(anomaly_id("m", &dims, &today), anomaly_id("m", &dims, &tomorrow));
    }
}
