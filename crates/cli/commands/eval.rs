//! `curwatch eval`: the detector and two baselines, side by side, on labelled corpora.

use chrono::{Datelike, NaiveDate};
use curwatch_anomaly::Thresholds;
use curwatch_anomaly::eval::{LabelledEvent, LabelledSeries, Method, Scores, evaluate};
use curwatch_anomaly::monitor::Combine;
use curwatch_report::{Cell, Table};
use curwatch_synth::corpus::{CorpusSeries, corpus};

use crate::args::EvalArgs;
use crate::exit::ExitStatus;
use crate::log::print_stdout;

pub(crate) fn run(args: &EvalArgs) -> anyhow::Result<ExitStatus> {
    let thresholds =
        Thresholds { min_impact: args.min_impact, min_impact_pct: args.min_impact_pct, combine: Combine::And };
    let first_day = NaiveDate::from_ymd_opt(2024, 1, 1).expect("a date");
    let mut all = Vec::new();
    let mut rows = Vec::new();
    for &seed in &args.seeds {
        let labelled: Vec<LabelledSeries> =
            corpus(seed, args.series, args.days, first_day).iter().map(to_labelled).collect();
        for method in Method::ALL {
            rows.push(row(&seed.to_string(), &evaluate(&labelled, method, &thresholds)));
        }
        all.extend(labelled);
    }
    if args.seeds.len() > 1 {
        for method in Method::ALL {
            rows.push(row("all", &evaluate(&all, method, &thresholds)));
        }
    }
    let headers = [
        "seed",
        "method",
        "series",
        "events",
        "detected",
        "alerts",
        "false_alerts",
        "precision",
        "recall",
        "f1",
        "cost_weighted_recall",
        "median_delay_days",
        "fee_day_alerts",
    ];
    let table = Table { headers: headers.iter().map(|h| (*h).to_owned()).collect(), rows, total: None };
    print_stdout(&table.render(args.format))?;
    Ok(ExitStatus::Success)
}

fn row(seed: &str, s: &Scores) -> Vec<Cell> {
    let text = |t: &str| Cell::Text(Some(t.to_owned()));
    let ratio = |r: f64| Cell::Number((r * 1000.0).round() / 1000.0);
    vec![
        text(seed),
        text(s.method.label()),
        Cell::Integer(s.series as i64),
        Cell::Integer(s.events as i64),
        Cell::Integer(s.detected as i64),
        Cell::Integer(s.alerts as i64),
        Cell::Integer(s.false_alerts as i64),
        ratio(s.precision),
        ratio(s.recall),
        ratio(s.f1),
        ratio(s.cost_weighted_recall),
        Cell::Number(s.median_delay_days),
        Cell::Integer(s.fee_day_alerts as i64),
    ]
}

fn to_labelled(series: &CorpusSeries) -> LabelledSeries {
    let index = |day: NaiveDate| (day - series.first_day).num_days() as usize;
    LabelledSeries {
        name: series.name.clone(),
        phase0: series.first_day.weekday().num_days_from_monday() as usize,
        usage: series.usage.clone(),
        fees: series.fees.clone(),
        fee_days: series.fees.iter().enumerate().filter(|(_, f)| **f > 0.0).map(|(d, _)| d).collect(),
        events: series
            .events
            .iter()
            .map(|e| LabelledEvent {
                kind: e.event.kind.as_str().to_owned(),
                anomaly: e.event.kind.is_anomaly(),
                start: index(e.event.start),
                end: index(e.event.end()),
                excess: e.excess,
            })
            .collect(),
    }
}
