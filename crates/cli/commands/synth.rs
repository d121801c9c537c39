use curwatch_synth::{Layout, SynthConfig, generate};

use crate::args::SynthArgs;
use crate::exit::ExitStatus;
use crate::log::Log;

pub(crate) fn run(args: &SynthArgs, log: &Log) -> anyhow::Result<ExitStatus> {
    let config = SynthConfig {
        seed: args.seed,
        start: args.start,
        months: args.months,
        lines_per_month: args.lines,
        hourly: args.hourly,
        width: args.width,
        lines_per_file: args.lines_per_file,
        layouts: Layout::parse_list(&args.layouts)?,
        anomalies: args.anomalies,
    };
    let truth = generate(&config, &args.out)?;
    let rows: u64 = truth.totals.iter().map(|t| t.rows).sum();
    log.info(&format!(
        "wrote {} layout(s) × {rows} line items to {} (truth: {})",
        config.layouts.len(),
        args.out.display(),
        args.out.join("truth.json").display()
    ));
    Ok(ExitStatus::Success)
}
