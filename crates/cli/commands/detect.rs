//! `curwatch detect`: any `timestamp,value` CSV scored by the anomaly detector.

use std::io::Write;

use anyhow::Context;
use curwatch_anomaly::generic::{detect_period, score_series};

use crate::args::DetectArgs;
use crate::exit::ExitStatus;
use crate::log::Log;

pub(crate) fn run(args: &DetectArgs, log: &Log) -> anyhow::Result<ExitStatus> {
    let input = args.input.display();
    let mut reader = csv::Reader::from_path(&args.input).with_context(|| format!("cannot read {input}"))?;
    let headers = reader.headers().with_context(|| format!("{input}: no header line"))?.clone();
    let column = |name: &str| {
        headers.iter().position(|h| h.trim().eq_ignore_ascii_case(name)).with_context(|| {
            format!(
                "{input}: no `{name}` column; expected a header `timestamp,value`, found `{}`",
                headers.iter().collect::<Vec<_>>().join(",")
            )
        })
    };
    let (time_column, value_column) = (column("timestamp")?, column("value")?);
    let mut timestamps = Vec::new();
    let mut values = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.with_context(|| format!("{input}: line {line}"))?;
        let text = record.get(value_column).unwrap_or("").trim();
        let value: f64 = text
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .with_context(|| format!("{input}: line {line}, column `value`: `{text}` is not a number"))?;
        timestamps.push(record.get(time_column).unwrap_or("").to_owned());
        values.push(value);
    }
    let period = match args.period.as_str() {
        "auto" => detect_period(&values),
        n => n
            .parse::<usize>()
            .ok()
            .filter(|p| *p >= 1)
            .with_context(|| format!("--period `{n}`: a whole number ≥ 1, or auto"))?,
    };
    let scores = score_series(&values, period);
    let mut out = Vec::new();
    writeln!(out, "timestamp,value,anomaly_score,label")?;
    for ((timestamp, value), (score, label)) in timestamps.iter().zip(&values).zip(&scores) {
        writeln!(out, "{},{value},{score:.4},{}", csv_field(timestamp), u8::from(*label))?;
    }
    if args.output.as_os_str() == "-" {
        std::io::stdout().write_all(&out)?;
    } else {
        std::fs::write(&args.output, out).with_context(|| format!("cannot write {}", args.output.display()))?;
    }
    let flagged = scores.iter().filter(|(_, label)| *label).count();
    let how = if args.period == "auto" { "detected" } else { "given" };
    log.info(&format!("{} points, period {period} ({how}), {flagged} anomalous", values.len()));
    Ok(ExitStatus::Success)
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_owned() }
}
