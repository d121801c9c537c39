use anyhow::Context;
use curwatch_report::reconcile;
use curwatch_schema::Money;
use curwatch_store::{PeriodRange, Store};

use crate::args::ReconcileArgs;
use crate::exit::ExitStatus;
use crate::log::{Log, print_stdout};

pub(crate) fn run(store: &Store, args: &ReconcileArgs, log: &Log) -> anyhow::Result<ExitStatus> {
    let rules = super::load_rules(&args.rules)?;
    let periods = args.month.map_or(PeriodRange::ALL, PeriodRange::only);
    let result = reconcile(store, periods, &rules, args.metric)
        .with_context(|| format!("reconciling the store at {}", store.root().display()))?;
    for name in &result.unmatched_rules {
        log.warn(&format!("allocation rule `{name}` matched no line"));
    }
    print_stdout(&result.to_table().render(args.format))?;
    let worst = result.worst_difference();
    if worst > Money::from_cents(1) {
        log.warn(&format!("allocation differs from the source by up to {}", worst.to_exact_string()));
        return Ok(ExitStatus::Failure);
    }
    log.info(&format!(
        "reconciled: {} billing period/account pair(s), largest difference {}",
        result.rows.len(),
        worst.to_exact_string()
    ));
    Ok(ExitStatus::Success)
}
