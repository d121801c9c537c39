use anyhow::Context;
use chrono::{Days, NaiveDate};
use curwatch_report::{Dimension, ReportRequest, compare, run_report};
use curwatch_schema::BillingPeriod;
use curwatch_store::{PeriodRange, Store};

use crate::args::ReportArgs;
use crate::exit::ExitStatus;
use crate::log::{Log, print_stdout};

/// What a report covers: a billing period, a day range, or everything.
#[derive(Clone, Copy)]
enum Scope {
    Month(BillingPeriod),
    Days(Option<NaiveDate>, Option<NaiveDate>),
}

impl Scope {
    fn apply(self, request: &mut ReportRequest) {
        match self {
            Scope::Month(month) => {
                request.periods = PeriodRange::only(month);
                (request.from_day, request.to_day) = (None, None);
            }
            // Day filters prune whole billing periods before any file is opened.
            Scope::Days(from, to) => {
                request.periods =
                    PeriodRange { from: from.map(BillingPeriod::of_date), to: to.map(BillingPeriod::of_date) };
                (request.from_day, request.to_day) = (from, to);
            }
        }
    }

    /// The same length of time just before.
    fn previous(self) -> anyhow::Result<Scope> {
        match self {
            Scope::Month(month) => Ok(Scope::Month(month.previous())),
            Scope::Days(Some(from), Some(to)) => {
                let days = (to - from).num_days() as u64 + 1;
                let end = from - Days::new(1);
                Ok(Scope::Days(Some(end - Days::new(days - 1)), Some(end)))
            }
            Scope::Days(..) => anyhow::bail!("--compare previous needs --month, or both --from and --to"),
        }
    }
}

pub(crate) fn run(store: &Store, args: &ReportArgs, log: &Log) -> anyhow::Result<ExitStatus> {
    if let (Some(from), Some(to)) = (args.from, args.to) {
        anyhow::ensure!(from <= to, "--from {from} is after --to {to}");
    }
    if args.per_team {
        return per_team(store, args, log);
    }
    let mut scope = match args.month {
        Some(month) => Scope::Month(month),
        None => Scope::Days(args.from, args.to),
    };
    let comparing = args.compare.is_some();
    if comparing {
        if let Some(dim) = args.by.0.iter().find(|d| matches!(d, Dimension::BillingPeriod | Dimension::Day)) {
            anyhow::bail!("--compare previous lines periods up side by side; drop `{dim}` from --by");
        }
        if matches!(scope, Scope::Days(None, None)) {
            scope = Scope::Month(super::month_or_latest(store, None)?);
        }
    }
    let mut request = ReportRequest {
        dimensions: args.by.0.clone(),
        service: args.service.clone(),
        metric: args.metric,
        rules: super::load_rules(&args.rules)?,
        ..ReportRequest::default()
    };
    scope.apply(&mut request);
    let context = || format!("reading the store at {}", store.root().display());
    let report = run_report(store, &request).with_context(context)?;
    for warning in &report.warnings {
        log.warn(warning);
    }
    let mut table = if comparing {
        let previous_scope = scope.previous()?;
        if let (Scope::Month(now), Scope::Month(before)) = (scope, previous_scope) {
            log.info(&format!("comparing {now} with {before}"));
        }
        previous_scope.apply(&mut request);
        compare(&report, &run_report(store, &request).with_context(context)?)
    } else {
        report.into_table()
    };
    if let Some(top) = args.top.filter(|top| *top < table.rows.len()) {
        let all = table.rows.len();
        table.rows.truncate(top);
        if let Some(curwatch_report::Cell::Text(label)) = table.total.as_mut().and_then(|t| t.first_mut()) {
            *label = Some(format!("total (all {all} rows)"));
        }
    }
    print_stdout(&table.render(args.format))?;
    Ok(ExitStatus::Success)
}

/// Slug for a team's file name: letters, digits, `-`, `_`, `.`; anything else becomes `_`.
fn file_stem(team: &str) -> String {
    team.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect()
}

fn per_team(store: &Store, args: &ReportArgs, log: &Log) -> anyhow::Result<ExitStatus> {
    let out = args.out.as_ref().expect("clap requires --out with --per-team");
    let month = super::month_or_latest(store, args.month)?;
    let teams = write_showback(store, month, &super::load_rules(&args.rules)?, out)?;
    log.info(&format!("wrote showback for {teams} team(s), {month}, to {}", out.display()));
    print_stdout(&format!("{}\n", out.join("README.md").display()))?;
    Ok(ExitStatus::Success)
}

/// Writes one Markdown and one CSV showback per team for `month` into `out`, with an index
/// (`README.md`); returns the number of teams.
pub(crate) fn write_showback(
    store: &Store,
    month: curwatch_schema::BillingPeriod,
    rules: &curwatch_allocate::Rules,
    out: &std::path::Path,
) -> anyhow::Result<usize> {
    let teams = curwatch_report::showback(store, month, rules)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut index = format!(
        "# API Gateway showback, {month}\n\n| team | cost | previous | shared share | files |\n| --- | ---: | ---: | ---: | --- |\n"
    );
    for team in &teams {
        let stem = file_stem(&team.team);
        for (ext, text) in [("md", &team.markdown), ("csv", &team.csv)] {
            let path = out.join(format!("{stem}.{ext}"));
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        index.push_str(&format!(
            "| {} | {} | {} | {} | [{stem}.md]({stem}.md), [{stem}.csv]({stem}.csv) |\n",
            team.team,
            team.total.to_display_string(),
            team.previous.to_display_string(),
            team.shared.to_display_string()
        ));
    }
    std::fs::write(out.join("README.md"), index).with_context(|| format!("writing {}", out.display()))?;
    Ok(teams.len())
}
