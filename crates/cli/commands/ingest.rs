//! `curwatch ingest`: discovery → readers → store, one atomic unit at a time.

use std::path::{Path, PathBuf};

use anyhow::Context;
use curwatch_ingest::{DiscoveredUnit, FileContext, discover_local, local_base, open_file};
use curwatch_report::{Cell, OutputFormat, Table};
use curwatch_schema::Money;
use curwatch_store::{PartitionRecord, SourceFileRecord, Store, UnitSource};

use crate::args::IngestArgs;
use crate::exit::ExitStatus;
use crate::log::{Log, print_stdout};

pub(crate) fn run(store: &Store, args: &IngestArgs, log: &Log) -> anyhow::Result<ExitStatus> {
    let mut committed: Vec<PartitionRecord> = Vec::new();
    let mut failures = 0usize;
    for source in &args.sources {
        let discovery =
            discover_local(source).with_context(|| format!("discovering exports in {}", source.display()))?;
        if !discovery.ignored.is_empty() {
            log.info(&format!(
                "{}: ignored {} data file(s) that no current manifest lists (older deliveries)",
                source.display(),
                discovery.ignored.len()
            ));
        }
        for error in discovery.errors {
            failures += 1;
            log.error_with_note(&error.into(), "skipped; the store keeps its previous data for this export and period");
        }
        if discovery.units.is_empty() {
            log.warn(&format!("{}: no billing export files found", source.display()));
        }
        let base = local_base(source);
        for unit in &discovery.units {
            match ingest_unit(store, &base, unit) {
                Ok(records) => {
                    for record in &records {
                        log.info(&format!(
                            "ingested {} {}: {} rows, {} unblended",
                            record.export,
                            record.billing_period,
                            record.rows,
                            record.unblended_cost.to_display_string()
                        ));
                    }
                    committed.extend(records);
                }
                Err(error) => {
                    failures += 1;
                    let period = unit.billing_period.map_or_else(|| "(loose file)".to_owned(), |p| p.to_string());
                    let note = format!(
                        "{} {period} was not ingested; the store keeps its previous data for it",
                        unit.export_id
                    );
                    log.error_with_note(&error, &note);
                }
            }
        }
    }
    if !committed.is_empty() || args.format != OutputFormat::Table {
        print_stdout(&summary(&committed).render(args.format))?;
    }
    if failures > 0 {
        log.info(&format!("{failures} unit(s) failed; {} partition(s) ingested", committed.len()));
        return Ok(ExitStatus::Failure);
    }
    Ok(ExitStatus::Success)
}

fn ingest_unit(store: &Store, base: &Path, unit: &DiscoveredUnit) -> anyhow::Result<Vec<PartitionRecord>> {
    let (manifest, delivery_id) = unit.manifest.clone().unzip();
    let source_files = unit
        .files
        .iter()
        .map(|f| SourceFileRecord { key: f.key.clone(), size: f.size, etag: f.etag.clone() })
        .collect();
    let mut writer = store.begin_unit(UnitSource {
        export: unit.export_id.clone(),
        format: String::new(),
        declared_period: unit.billing_period,
        manifest,
        delivery_id,
        source_files,
    })?;
    for file in &unit.files {
        let path: PathBuf = base.join(&file.key);
        let ctx = FileContext { export: unit.export_id.clone(), source_file: file.key.clone() };
        let reader = open_file(&path, ctx)?;
        writer.set_format(reader.format().label());
        for batch in reader {
            writer.write(&batch?)?;
        }
    }
    Ok(writer.commit()?)
}

fn summary(records: &[PartitionRecord]) -> Table {
    let headers = ["billing_period", "export", "format", "files", "rows", "unblended_cost"];
    let rows = records
        .iter()
        .map(|r| {
            vec![
                Cell::Text(Some(r.billing_period.clone())),
                Cell::Text(Some(r.export.clone())),
                Cell::Text(Some(r.format.clone())),
                Cell::Integer(r.source_files.len() as i64),
                Cell::Integer(r.rows as i64),
                Cell::Money(r.unblended_cost),
            ]
        })
        .collect();
    let total_rows: u64 = records.iter().map(|r| r.rows).sum();
    let total_cost: Money = records.iter().map(|r| r.unblended_cost).sum();
    let total = vec![
        Cell::Text(Some("total".into())),
        Cell::Text(Some(String::new())),
        Cell::Text(Some(String::new())),
        Cell::Integer(records.iter().map(|r| r.source_files.len() as i64).sum()),
        Cell::Integer(total_rows as i64),
        Cell::Money(total_cost),
    ];
    Table { headers: headers.iter().map(|h| (*h).to_owned()).collect(), rows, total: Some(total) }
}
