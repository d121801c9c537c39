use crate::{args::SynthArgs, exit::ExitStatus, log::Log};
pub(crate) fn run(_args: &SynthArgs, _log: &Log) -> anyhow::Result<ExitStatus> { anyhow::bail!("pending") }
