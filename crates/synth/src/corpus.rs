//! A corpus of labelled daily usage-cost series for evaluating detectors: weekly
//! seasonality, growth and decline, lognormal noise, month-start fees, holiday dips, and
//! the five anomaly kinds at realistic sizes, each with the dollars it added.

use chrono::{Datelike, NaiveDate};

use crate::events::{Event, EventKind};
use crate::rng::Rng;

#[derive(Debug, Clone, PartialEq)]
pub struct CorpusSeries {
    pub name: String,
    pub first_day: NaiveDate,
    /// Usage cost per day, events included.
    pub usage: Vec<f64>,
    /// Commitment fees per day: on the 1st of each month, zero otherwise.
    pub fees: Vec<f64>,
    pub events: Vec<LabelledEvent>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LabelledEvent {
    pub event: Event,
    /// Dollars the event added over its labelled window (negative for a dip).
    pub excess: f64,
}

/// Days of history every series has before its first event.
const LEAD_IN: usize = 42;

/// `count` series of `days` days from `first_day`, the same for the same seed.
pub fn corpus(seed: u64, count: usize, days: usize, first_day: NaiveDate) -> Vec<CorpusSeries> {
    (0..count).map(|i| one_series(&mut Rng::new(seed).fork(i as u64 + 1), i, days, first_day)).collect()
}

fn one_series(rng: &mut Rng, index: usize, days: usize, first_day: NaiveDate) -> CorpusSeries {
    let level = (rng.range(20f64.ln(), 3_000f64.ln())).exp();
    let weekend = if rng.unit() < 0.65 { rng.range(0.4, 0.75) } else { rng.range(0.9, 1.0) };
    let monthly_growth = rng.range(-0.02, 0.12);
    let noise = rng.range(0.03, 0.08);
    let fee = level * rng.range(5.0, 30.0);

    // The share of the series each kind of event acts on (requests, transfer, minutes).
    let mut events: Vec<(Event, f64)> = Vec::new();
    let anomalies = if index % 5 == 4 { 0 } else { 1 + rng.below(3) as usize };
    let mut next = LEAD_IN + rng.below(20) as usize;
    for _ in 0..anomalies {
        if next + 30 >= days {
            break;
        }
        let kind = EventKind::ANOMALIES[rng.below(5) as usize];
        let (length, magnitude, share) = match kind {
            EventKind::RetryStorm => (1 + rng.below(3) as u32, rng.range(2.0, 5.0), 0.85),
            EventKind::NewClient => (7, rng.range(1.4, 2.2), 1.0),
            EventKind::GradualDrift => (10 + rng.below(11) as u32, rng.range(1.6, 2.5), 1.0),
            EventKind::DataTransferBlowup => (3 + rng.below(5) as u32, rng.range(4.0, 10.0), rng.range(0.15, 0.3)),
            EventKind::WebsocketConnectionLeak => (5 + rng.below(6) as u32, rng.range(2.5, 5.0), rng.range(0.35, 0.45)),
            EventKind::HolidayDip => unreachable!("not an anomaly kind"),
        };
        let start = first_day + chrono::Days::new(next as u64);
        events.push((Event { kind, start, days: length, magnitude }, share));
        next += length as usize + 40 + rng.below(40) as usize;
    }
    // Holidays: a dip on fixed dates for about half the series.
    if rng.unit() < 0.5 {
        for day in 0..days {
            let date = first_day + chrono::Days::new(day as u64);
            let holiday = matches!((date.month(), date.day()), (12, 25) | (1, 1) | (7, 4) | (11, 27));
            if holiday && day >= LEAD_IN {
                events.push((
                    Event { kind: EventKind::HolidayDip, start: date, days: 1, magnitude: rng.range(0.3, 0.6) },
                    1.0,
                ));
            }
        }
    }

    let mut usage = Vec::with_capacity(days);
    let mut base = Vec::with_capacity(days);
    let mut fees = Vec::with_capacity(days);
    for day in 0..days {
        let date = first_day + chrono::Days::new(day as u64);
        let season = if date.weekday().number_from_monday() >= 6 { weekend } else { 1.0 };
        let trend = (1.0 + monthly_growth).powf(day as f64 / 30.0);
        let value = level * season * trend * lognormal(rng, noise);
        let factor: f64 = events.iter().map(|(e, share)| 1.0 + share * (e.factor(date) - 1.0)).product();
        base.push(value);
        usage.push(value * factor);
        fees.push(if date.day() == 1 { fee } else { 0.0 });
    }
    let events = events
        .into_iter()
        .map(|(event, share)| {
            let window = (event.start - first_day).num_days() as usize..=(event.end() - first_day).num_days() as usize;
            let excess = window
                .filter(|&d| d < days)
                .map(|d| base[d] * share * (event.factor(first_day + chrono::Days::new(d as u64)) - 1.0))
                .sum();
            LabelledEvent { event, excess }
        })
        .collect();
    CorpusSeries { name: format!("series-{index:04}"), first_day, usage, fees, events }
}

/// exp(N(0, sigma)), by Box–Muller.
fn lognormal(rng: &mut Rng, sigma: f64) -> f64 {
    let u = rng.unit().max(1e-12);
    let v = rng.unit();
    let normal = (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
    (sigma * normal).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_is_labelled_and_repeatable() {
        let first = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        let a = corpus(7, 50, 400, first);
        assert_eq!(a, corpus(7, 50, 400, first));
        let anomalies: usize = a.iter().map(|s| s.events.iter().filter(|e| e.event.kind.is_anomaly()).count()).sum();
        assert!(anomalies >= 50, "{anomalies}");
        assert!(a.iter().flat_map(|s| &s.events).filter(|e| e.event.kind.is_anomaly()).all(|e| e.excess > 0.0));
        assert!(a.iter().all(|s| s.fees.iter().filter(|f| **f > 0.0).count() >= 13), "a fee every month");
        for kind in EventKind::ANOMALIES {
            assert!(a.iter().flat_map(|s| &s.events).any(|e| e.event.kind == kind), "{kind:?} appears");
        }
    }
}
