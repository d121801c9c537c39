//! `curwatch ingest`: sync each source into the store and say what happened per period.

use std::cell::Cell as Counter;

use curwatch_report::{Cell, OutputFormat, Table};
use curwatch_schema::Money;
use curwatch_source::{ExportSource, StatsSnapshot};
use curwatch_store::{PartitionRecord, Store};
use curwatch_sync::{Outcome, Progress, SyncOptions, SyncReport, UnitReport};

use crate::args::IngestArgs;
use crate::exit::ExitStatus;
use crate::log::{Log, print_stdout};
use crate::progress::Bar;

pub(crate) fn run(store: &Store, args: &IngestArgs, log: &Log) -> anyhow::Result<ExitStatus> {
    let options = SyncOptions { full: args.full };
    // A scheduled run may be writing the same store: wait for it rather than interleave.
    // (A store that does not exist yet has no run writing it, and a failed first ingest
    // must not leave an empty one behind.)
    let _lock = if store.root().exists() {
        match crate::lock::lock_store(store.root(), std::time::Duration::from_secs(60)) {
            Ok(lock) => Some(lock),
            Err(crate::lock::LockError::Busy(path)) => anyhow::bail!(
                "another curwatch run holds {} and did not finish within 60 s; nothing was ingested",
                path.display()
            ),
            Err(crate::lock::LockError::Io(error)) => return Err(error),
        }
    } else {
        None
    };
    let mut reports = Vec::new();
    let mut source_failures = 0;
    for location in &args.sources {
        let source = match curwatch_source::open(location, &args.s3.options()) {
            Ok(source) => source,
            Err(error) => {
                source_failures += 1;
                log.error_with_note(&error.into(), &format!("{location} was skipped; the store is unchanged for it"));
                continue;
            }
        };
        let progress = CliProgress { source: source.as_ref(), log, bar: Bar::new(log), rows: Counter::new(0) };
        let result = curwatch_sync::sync(source.as_ref(), store, options, &progress);
        progress.bar.finish();
        match result {
            Ok(report) => {
                say_summary(&report, log);
                reports.push(report);
            }
            Err(error) => {
                source_failures += 1;
                log.error_with_note(&error.into(), &format!("{location} was skipped; the store is unchanged for it"));
            }
        }
    }
    let table = summary(&reports, &store.partitions()?);
    let worth_a_table = reports.iter().flat_map(|r| &r.units).any(|u| !matches!(u.outcome, Outcome::Unchanged));
    if worth_a_table || args.format != OutputFormat::Table {
        print_stdout(&table.render(args.format))?;
    }
    let failed: usize = reports.iter().map(SyncReport::failed).sum::<usize>() + source_failures;
    Ok(if failed > 0 { ExitStatus::Failure } else { ExitStatus::Success })
}

struct CliProgress<'a> {
    source: &'a dyn ExportSource,
    log: &'a Log,
    bar: Bar,
    rows: Counter<u64>,
}

impl Progress for CliProgress<'_> {
    fn planned(&self, units: usize, bytes: u64) {
        if units > 0 {
            self.bar.start(bytes, &format!("reading {units} period(s) from {}", self.source.location()));
        }
    }

    fn rows(&self, rows: u64) {
        self.rows.set(rows);
        self.bar.update(self.source.stats().bytes_downloaded, rows);
    }

    fn finished(&self, unit: &UnitReport) {
        match &unit.outcome {
            Outcome::Ingested(records) => {
                let rows: u64 = records.iter().map(|r| r.rows).sum();
                let cost: Money = records.iter().map(|r| r.unblended_cost).sum();
                let text = format!(
                    "ingested {}: {} file(s), {rows} rows, {} unblended",
                    unit.label(),
                    unit.files,
                    cost.to_display_string()
                );
                self.bar.line(self.log, &text);
            }
            Outcome::Failed(_) | Outcome::Unchanged | Outcome::Waiting(_) => {}
        }
    }
}

/// Per-unit problems, then one line for the source: outcomes and the requests it took.
fn say_summary(report: &SyncReport, log: &Log) {
    if !report.ignored.is_empty() {
        log.info(&format!(
            "{}: ignored {} data file(s) that no current manifest lists (older deliveries)",
            report.source,
            report.ignored.len()
        ));
    }
    for note in &report.notes {
        log.warn(note);
    }
    for unit in &report.units {
        match &unit.outcome {
            Outcome::Failed(error) => {
                let note = match unit.export_id {
                    Some(_) => format!("{} was not ingested; the store keeps its previous data for it", unit.label()),
                    None => "skipped; the store keeps its previous data for this export and period".to_owned(),
                };
                log.error_with_note(&anyhow::anyhow!("{error}"), &note);
            }
            Outcome::Waiting(why) => log.warn(&format!("{} skipped this run: {why}", unit.label())),
            Outcome::Unchanged | Outcome::Ingested(_) => {}
        }
    }
    if report.units.is_empty() {
        log.warn(&format!("{}: no billing export files found", report.source));
    }
    let count = |f: fn(&Outcome) -> bool| report.count(f);
    log.info(&format!(
        "{}: {} period(s): {} ingested, {} unchanged, {} waiting, {} failed; {}",
        report.source,
        report.units.len(),
        count(|o| matches!(o, Outcome::Ingested(_))),
        count(|o| matches!(o, Outcome::Unchanged)),
        count(|o| matches!(o, Outcome::Waiting(_))),
        count(|o| matches!(o, Outcome::Failed(_))),
        describe_requests(&report.stats, report.source.starts_with("s3://")),
    ));
}

fn describe_requests(stats: &StatsSnapshot, remote: bool) -> String {
    let data = human_bytes(stats.bytes_downloaded);
    if remote {
        format!(
            "requests: {} list, {} manifest/status reads, {} data downloads ({data}), {} retries",
            stats.list_requests, stats.small_reads, stats.data_downloads, stats.retries
        )
    } else {
        format!("{} manifest/status reads, {} data files read ({data})", stats.small_reads, stats.data_downloads)
    }
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// One row per export and period seen: what happened, and what the store holds for it now.
fn summary(reports: &[SyncReport], held: &[PartitionRecord]) -> Table {
    let headers = ["export", "billing_period", "status", "files", "rows", "unblended_cost"];
    let mut lines: Vec<(String, String, &str, u64, Vec<&PartitionRecord>)> = Vec::new();
    for unit in reports.iter().flat_map(|r| &r.units) {
        let (status, records): (&str, Vec<&PartitionRecord>) = match &unit.outcome {
            Outcome::Ingested(records) => ("ingested", records.iter().collect()),
            other => {
                let status = match other {
                    Outcome::Unchanged => "unchanged",
                    Outcome::Waiting(_) => "waiting",
                    _ => "failed",
                };
                let period = unit.billing_period.map(|p| p.to_string());
                let mine = held.iter().filter(|r| {
                    Some(&r.export) == unit.export_id.as_ref() && period.as_ref().is_none_or(|p| &r.billing_period == p)
                });
                (status, mine.collect())
            }
        };
        if records.is_empty() {
            let export = unit.export_id.clone().unwrap_or_default();
            let period = unit.billing_period.map(|p| p.to_string()).unwrap_or_default();
            lines.push((export, period, status, unit.files as u64, Vec::new()));
        }
        for record in records {
            let files = record.source_files.len() as u64;
            lines.push((record.export.clone(), record.billing_period.clone(), status, files, vec![record]));
        }
    }
    lines.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let (mut total_rows, mut total_cost) = (0u64, Money::ZERO);
    let text = |s: &str| Cell::Text(Some(s.to_owned()));
    let rows = lines
        .into_iter()
        .map(|(export, period, status, files, record)| {
            let (rows, cost) = match record.first() {
                Some(r) => {
                    total_rows += r.rows;
                    total_cost += r.unblended_cost;
                    (Cell::Integer(r.rows as i64), Cell::Money(r.unblended_cost))
                }
                None => (Cell::Text(None), Cell::Text(None)),
            };
            vec![text(&export), text(&period), text(status), Cell::Integer(files as i64), rows, cost]
        })
        .collect();
    let total = vec![
        text("total in store"),
        text(""),
        text(""),
        text(""),
        Cell::Integer(total_rows as i64),
        Cell::Money(total_cost),
    ];
    Table { headers: headers.iter().map(|h| (*h).to_owned()).collect(), rows, total: Some(total) }
}
