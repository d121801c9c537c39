use curwatch_report::economics::{recommend as find_savings, recommendations_table, stage_usage, units_table};
use curwatch_store::{PeriodRange, Store};

use crate::args::EconomicsArgs;
use crate::exit::ExitStatus;
use crate::log::{Log, print_stdout};

pub(crate) fn units(store: &Store, args: &EconomicsArgs, log: &Log) -> anyhow::Result<ExitStatus> {
    let month = super::month_or_latest(store, args.month)?;
    log.info(&format!("API Gateway unit economics for {month}"));
    let stages = stage_usage(store, PeriodRange::only(month), &super::load_rules(&args.rules)?)?;
    let mut table = units_table(&stages);
    if let Some(top) = args.top {
        table.rows.truncate(top);
    }
    print_stdout(&table.render(args.format))?;
    Ok(ExitStatus::Success)
}

pub(crate) fn recommend(store: &Store, args: &EconomicsArgs, log: &Log) -> anyhow::Result<ExitStatus> {
    let month = super::month_or_latest(store, args.month)?;
    let stages = stage_usage(store, PeriodRange::only(month), &super::load_rules(&args.rules)?)?;
    let mut found = find_savings(&stages);
    log.info(&format!("{} API Gateway saving(s) found in {month}; savings are per month, estimated", found.len()));
    if let Some(top) = args.top {
        found.truncate(top);
    }
    print_stdout(&recommendations_table(&found).render(args.format))?;
    Ok(ExitStatus::Success)
}
