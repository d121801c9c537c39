mod ingest;
mod reconcile;
mod report;
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
        Command::Synth(args) => synth::run(&args, log),
    }
}

/// The allocation rules named on the command line, or the defaults.
pub(crate) fn load_rules(arg: &crate::args::RulesArg) -> anyhow::Result<curwatch_allocate::Rules> {
    Ok(match &arg.rules {
        Some(path) => curwatch_allocate::Rules::load(path)?,
        None => curwatch_allocate::Rules::default(),
    })
}
