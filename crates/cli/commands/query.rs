use curwatch_store::Store;

use crate::args::QueryArgs;
use crate::exit::ExitStatus;

#[cfg(feature = "sql")]
pub(crate) fn run(store: &Store, args: &QueryArgs) -> anyhow::Result<ExitStatus> {
    use anyhow::Context;
    use curwatch_query::run_query;
    use curwatch_store::PeriodRange;

    use crate::log::print_stdout;

    let (sql, origin) = match (&args.sql, &args.file) {
        (Some(sql), _) => (sql.clone(), "--sql".to_owned()),
        (None, Some(file)) => (
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?,
            file.display().to_string(),
        ),
        (None, None) => unreachable!("clap requires a file or --sql"),
    };
    let periods = args.month.map_or(PeriodRange::ALL, PeriodRange::only);
    let table = run_query(store, &sql, periods, &super::load_rules(&args.rules)?)
        .with_context(|| format!("running {origin}"))?;
    print_stdout(&table.render(args.format))?;
    Ok(ExitStatus::Success)
}

#[cfg(not(feature = "sql"))]
pub(crate) fn run(_store: &Store, _args: &QueryArgs) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("this curwatch was built without SQL support (the `sql` feature); rebuild with default features")
}
