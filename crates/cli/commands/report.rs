use anyhow::Context;
use curwatch_report::{ReportRequest, run_report};
use curwatch_schema::BillingPeriod;
use curwatch_store::{PeriodRange, Store};

use crate::args::ReportArgs;
use crate::exit::ExitStatus;
use crate::log::{Log, print_stdout};

pub(crate) fn run(store: &Store, args: &ReportArgs, log: &Log) -> anyhow::Result<ExitStatus> {
    let dimensions = args.by.0.clone();
    // Day filters prune whole billing periods before any file is opened.
    let periods = match args.month {
        Some(month) => PeriodRange::only(month),
        None => PeriodRange { from: args.from.map(BillingPeriod::of_date), to: args.to.map(BillingPeriod::of_date) },
    };
    if let (Some(from), Some(to)) = (args.from, args.to) {
        anyhow::ensure!(from <= to, "--from {from} is after --to {to}");
    }
    let request = ReportRequest {
        dimensions,
        periods,
        from_day: args.from,
        to_day: args.to,
        service: args.service.clone(),
        metric: args.metric,
        rules: super::load_rules(&args.rules)?,
    };
    let report =
        run_report(store, &request).with_context(|| format!("reading the store at {}", store.root().display()))?;
    for warning in &report.warnings {
        log.warn(warning);
    }
    print_stdout(&report.to_table().render(args.format))?;
    Ok(ExitStatus::Success)
}
