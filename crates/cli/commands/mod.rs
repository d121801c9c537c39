mod anomalies;
mod detect;
mod economics;
mod eval;
mod ingest;
mod observations;
mod query;
mod reconcile;
mod report;
mod run;
mod synth;

use crate::args::{Cli, Command};
use crate::exit::ExitStatus;
use crate::log::Log;

pub(crate) fn dispatch(cli: Cli, log: &Log) -> anyhow::Result<ExitStatus> {
    let store = curwatch_store::Store::new(&cli.store);
    match cli.command {
        Command::Ingest(args) => ingest::run(&store, &args, log),
        Command::Report(args) => report::run(&store, &args, log),
        Command::Reconcile(args) => reconcile::run(&store, &args, log),
        Command::Query(args) => query::run(&store, &args),
        Command::Units(args) => economics::units(&store, &args, log),
        Command::Recommend(args) => economics::recommend(&store, &args, log),
        Command::Anomalies(args) => anomalies::run(&store, &args, log),
        Command::Detect(args) => detect::run(&args, log),
        Command::Eval(args) => eval::run(&args),
        Command::Synth(args) => synth::run(&args, log),
        Command::Run(args) => run::run(&args, log),
        Command::Config(crate::args::ConfigCommand::Check { file }) => run::check(&file, log),
    }
}

/// The allocation rules named on the command line, or the defaults.
pub(crate) fn load_rules(arg: &crate::args::RulesArg) -> anyhow::Result<curwatch_allocate::Rules> {
    Ok(match &arg.rules {
        Some(path) => curwatch_allocate::Rules::load(path)?,
        None => curwatch_allocate::Rules::default(),
    })
}

/// The billing period a command analyses: the one asked for, else the latest with data.
pub(crate) fn month_or_latest(
    store: &curwatch_store::Store,
    month: Option<curwatch_schema::BillingPeriod>,
) -> anyhow::Result<curwatch_schema::BillingPeriod> {
    match month {
        Some(month) => Ok(month),
        None => store.periods()?.last().copied().ok_or_else(|| {
            anyhow::anyhow!(
                "the store at {} holds no billing data yet; run `curwatch ingest` first",
                store.root().display()
            )
        }),
    }
}
