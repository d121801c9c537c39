//! Any regular series: scores in [0, 1] and labels from the same detector core.

use crate::detector::{Params, score};

/// The season length with the strongest autocorrelation, if it is clear (≥ 0.3);
/// otherwise 1 (no seasonality). Candidates go up to a third of the series.
pub fn detect_period(values: &[f64]) -> usize {
    let n = values.len();
    if n < 8 {
        return 1;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let variance: f64 = values.iter().map(|v| (v - mean).powi(2)).sum();
    if variance <= 0.0 {
        return 1;
    }
    let acf = |lag: usize| -> f64 {
        (0..n - lag).map(|i| (values[i] - mean) * (values[i + lag] - mean)).sum::<f64>() / variance
    };
    let max_lag = (n / 3).min(1_000);
    let r: Vec<f64> = (0..=max_lag + 1).map(|lag| if lag < n { acf(lag) } else { 0.0 }).collect();
    // Local peaks of the autocorrelation; a multiple of the true period peaks about as
    // high, so the shortest peak close to the highest wins.
    let peaks: Vec<(usize, f64)> =
        (2..=max_lag).filter(|&l| r[l] >= r[l - 1] && r[l] >= r[l + 1] && r[l] >= 0.3).map(|l| (l, r[l])).collect();
    let Some(highest) = peaks.iter().map(|p| p.1).max_by(f64::total_cmp) else { return 1 };
    peaks.iter().find(|p| p.1 >= 0.9 * highest).map_or(1, |p| p.0)
}

/// Per point: the anomaly score (severity) and whether it is anomalous.
pub fn score_series(values: &[f64], period: usize) -> Vec<(f64, bool)> {
    let params = Params::for_period(period);
    score(values, 0, &params).iter().map(|v| (v.severity, v.is_candidate())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_daily_and_weekly_periods() {
        let hourly: Vec<f64> =
            (0..24 * 30).map(|h| 10.0 + 5.0 * ((h % 24) as f64 / 24.0 * std::f64::consts::TAU).sin()).collect();
        assert_eq!(detect_period(&hourly), 24);
        let daily: Vec<f64> = (0..120).map(|d| if d % 7 >= 5 { 50.0 } else { 100.0 + (d % 3) as f64 }).collect();
        assert_eq!(detect_period(&daily), 7);
        assert_eq!(detect_period(&[1.0; 50]), 1);
    }
}
