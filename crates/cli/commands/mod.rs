mod ingest;
mod report;
mod synth;

use crate::args::{Cli, Command};
use crate::exit::ExitStatus;
use crate::log::Log;

pub(crate) fn dispatch(cli: Cli, log: &Log) -> anyhow::Result<ExitStatus> {
    let store = curwatch_store::Store::new(&cli.store);
    match cli.command {
        Command::Ingest(args) => ingest::run(&store, &args, log),
        Command::Report(args) => report::run(&store, &args),
        Command::Synth(args) => synth::run(&args, log),
    }
}
