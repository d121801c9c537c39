//! Command-line interface definitions.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};
use curwatch_report::{Dimension, Metric, OutputFormat};
use curwatch_schema::BillingPeriod;

#[derive(Parser)]
#[command(
    name = "curwatch",
    version,
    about = "Turn AWS Cost and Usage Reports into answers: where API Gateway spend goes and what changed.",
    long_about = None,
    after_help = "Exit codes: 0 success, 1 failure (bad input, partial ingest, unreadable store, undelivered alerts), \
                  2 usage error or bad configuration, 3 another run holds the lock.\n\
                  Docs: docs/user-guide.md"
)]
pub(crate) struct Cli {
    /// The curwatch store (canonical Parquet and state files).
    #[arg(long, global = true, env = "CURWATCH_STORE", default_value = "./curwatch-data")]
    pub store: PathBuf,

    /// Print results only: no progress or notes on stderr.
    #[arg(long, short, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Sync billing exports from S3, a local folder or files into the store.
    ///
    /// Each export's current manifest decides which files are read; stale assembly
    /// folders are ignored. Periods whose delivery the store already holds are skipped
    /// without downloading anything; a changed period is replaced atomically. A period
    /// that fails keeps its previous data, the others still ingest, and the exit code is 1.
    ///
    /// S3 credentials and region come from the standard AWS chain (environment,
    /// AWS_PROFILE, SSO, web identity, instance and container roles); the bucket's own
    /// region is found automatically. Needs s3:ListBucket and s3:GetObject.
    Ingest(IngestArgs),
    /// Sum cost from the store, grouped by any dimensions.
    Report(ReportArgs),
    /// Check that allocated API Gateway cost equals the source, per billing period and account.
    ///
    /// Exits 1 if any difference exceeds $0.01.
    Reconcile(ReconcileArgs),
    /// API Gateway unit economics: billable units and cost per million per API, stage and component.
    Units(EconomicsArgs),
    /// API Gateway savings: REST→HTTP, idle WebSockets, large payloads, costly caches, busy non-prod stages.
    Recommend(EconomicsArgs),
    /// Run SQL over the store: tables `line_items` and `api_gateway` (see docs/queries.md).
    Query(QueryArgs),
    /// Spend anomalies against seasonal baselines, per monitor, with root causes in dollars.
    ///
    /// Usage charges only (fees, tax, credits, refunds, discounts and commitments are left
    /// out and reported apart). A run as of day D sees data through D, whose last day is
    /// incomplete and not judged. Writes state/anomalies.json when run as of the latest data.
    Anomalies(AnomaliesArgs),
    /// Score any regular series (CSV `timestamp,value`) with the same detector.
    Detect(DetectArgs),
    /// Backtest the detector and two simple baselines on a labelled synthetic corpus.
    Eval(EvalArgs),
    /// Generate realistic, seeded billing exports with a truth file of their totals.
    Synth(SynthArgs),
    /// The scheduled job: sync sources, detect anomalies, alert Slack, write team reports.
    ///
    /// Safe to run every few hours; a second run does nothing new. Each anomaly reaches
    /// Slack once (again only if it grows); undelivered alerts wait in the store's outbox.
    ///
    /// Exit codes: 0 done (anomalies found is not a failure), 1 something failed (a source,
    /// a period, Slack delivery — pending alerts go out next run), 2 bad configuration,
    /// 3 another run holds the lock.
    Run(RunArgs),
    /// Configuration helpers.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Args)]
pub(crate) struct RunArgs {
    /// The job's configuration (TOML; see docs/operations.md).
    #[arg(long, env = "CURWATCH_CONFIG")]
    pub config: PathBuf,

    /// Print the Slack payloads instead of sending them; the outbox is left as it was.
    #[arg(long)]
    pub dry_run: bool,

    /// `text` or `json` (one object per line: run id, phase, counts, durations). Overrides [run] log_format.
    #[arg(long)]
    pub log_format: Option<String>,
}

#[derive(Subcommand)]
pub(crate) enum ConfigCommand {
    /// Validate a configuration file (with CURWATCH_* overrides applied) and say what it will do.
    Check {
        /// The configuration file.
        file: PathBuf,
    },
}

#[derive(Args)]
pub(crate) struct AnomaliesArgs {
    /// Judge as a run on this day would (data through it; YYYY-MM-DD). Default: the latest data.
    #[arg(long)]
    pub as_of: Option<NaiveDate>,

    /// Only this monitor's anomalies.
    #[arg(long)]
    pub monitor: Option<String>,

    /// Monitors file (TOML, `[[monitor]]` tables); the five default monitors otherwise.
    #[arg(long, env = "CURWATCH_MONITORS")]
    pub monitors: Option<PathBuf>,

    /// Hourly series (for hourly exports): a weekly season of 168 hours, dollar thresholds per
    /// hour (the daily ones ÷ 24). Team monitors are daily only and are skipped.
    #[arg(long)]
    pub hourly: bool,

    /// Replay the daily runs from --from to --to and print when each anomaly was first flagged.
    #[arg(long, requires_all = ["from", "to"])]
    pub backtest: bool,

    /// First day of the backtest (YYYY-MM-DD).
    #[arg(long)]
    pub from: Option<NaiveDate>,

    /// Last day of the backtest (YYYY-MM-DD).
    #[arg(long)]
    pub to: Option<NaiveDate>,

    #[command(flatten)]
    pub rules: RulesArg,

    /// Output format.
    #[arg(long, default_value = "table", value_parser = parse_format)]
    pub format: OutputFormat,
}

#[derive(Args)]
pub(crate) struct DetectArgs {
    /// CSV with a header and columns `timestamp,value`, at a regular interval.
    #[arg(long)]
    pub input: PathBuf,

    /// Where to write `timestamp,value,anomaly_score,label` (`-` for stdout).
    #[arg(long)]
    pub output: PathBuf,

    /// Season length in points (7 for daily data with a weekly cycle, 24 for hourly), or `auto`.
    #[arg(long, default_value = "auto")]
    pub period: String,
}

#[derive(Args)]
pub(crate) struct EvalArgs {
    /// Corpus seeds, comma-separated: each gives a different corpus.
    #[arg(long, default_value = "1,2,3", value_delimiter = ',')]
    pub seeds: Vec<u64>,

    /// Series per seed.
    #[arg(long, default_value_t = 120)]
    pub series: usize,

    /// Days per series.
    #[arg(long, default_value_t = 400)]
    pub days: usize,

    /// Minimum impact in dollars per day for every method.
    #[arg(long, default_value_t = 10.0)]
    pub min_impact: f64,

    /// Minimum impact in percent of expected for every method.
    #[arg(long, default_value_t = 20.0)]
    pub min_impact_pct: f64,

    /// Output format.
    #[arg(long, default_value = "table", value_parser = parse_format)]
    pub format: OutputFormat,
}

#[derive(Args)]
pub(crate) struct QueryArgs {
    /// A file of SQL, such as one in queries/.
    #[arg(required_unless_present = "sql", conflicts_with = "sql")]
    pub file: Option<PathBuf>,

    /// SQL given inline instead of a file.
    #[arg(long)]
    pub sql: Option<String>,

    /// Only this billing period's data (YYYY-MM); all periods by default.
    #[arg(long)]
    pub month: Option<BillingPeriod>,

    #[command(flatten)]
    pub rules: RulesArg,

    /// Output format.
    #[arg(long, default_value = "table", value_parser = parse_format)]
    pub format: OutputFormat,
}

#[derive(Args)]
pub(crate) struct EconomicsArgs {
    /// Billing period to analyse (YYYY-MM); the latest in the store by default.
    #[arg(long)]
    pub month: Option<BillingPeriod>,

    /// Show only the first N rows.
    #[arg(long)]
    pub top: Option<usize>,

    #[command(flatten)]
    pub rules: RulesArg,

    /// Output format.
    #[arg(long, default_value = "table", value_parser = parse_format)]
    pub format: OutputFormat,
}

#[derive(Args)]
pub(crate) struct RulesArg {
    /// Allocation rules (TOML): owner tag, rules, account owners, shared-cost policy.
    /// See docs/allocation.md.
    #[arg(long, env = "CURWATCH_RULES")]
    pub rules: Option<PathBuf>,
}

#[derive(Args)]
pub(crate) struct ReconcileArgs {
    /// Only this billing period (YYYY-MM).
    #[arg(long)]
    pub month: Option<BillingPeriod>,

    /// Which cost to reconcile.
    #[arg(long, default_value = "unblended", value_parser = parse_metric)]
    pub metric: Metric,

    #[command(flatten)]
    pub rules: RulesArg,

    /// Output format.
    #[arg(long, default_value = "table", value_parser = parse_format)]
    pub format: OutputFormat,
}

#[derive(Args)]
pub(crate) struct IngestArgs {
    /// Where exports are: `s3://bucket/prefix`, a local folder mirroring one, or single files
    /// (legacy CUR, CUR 2.0, FOCUS; Parquet or CSV/CSV.gz).
    #[arg(required = true, value_name = "SOURCE")]
    pub sources: Vec<String>,

    /// Re-read every billing period, even those whose delivery the store already holds.
    #[arg(long)]
    pub full: bool,

    #[command(flatten)]
    pub s3: S3Args,

    /// Output format of the ingest summary.
    #[arg(long, default_value = "table", value_parser = parse_format)]
    pub format: OutputFormat,
}

/// How to reach S3. Credentials and region come from the standard AWS chain
/// (AWS_ACCESS_KEY_ID…, AWS_PROFILE, SSO, web identity, instance and container roles).
#[derive(Args, Clone)]
pub(crate) struct S3Args {
    /// An S3-compatible endpoint (MinIO, Ceph, LocalStack…); AWS_ENDPOINT_URL also works.
    #[arg(long, env = "CURWATCH_S3_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// Path-style addressing (host/bucket/key); automatic for localhost and IP endpoints.
    #[arg(long)]
    pub path_style: bool,

    /// Data files downloaded at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,

    /// Attempts per S3 request (throttling, 5xx and dropped connections are retried with backoff).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub max_attempts: u32,
}

impl S3Args {
    pub(crate) fn options(&self) -> curwatch_source::S3Options {
        curwatch_source::S3Options {
            endpoint_url: self.endpoint_url.clone(),
            force_path_style: self.path_style,
            concurrency: usize::from(self.concurrency),
            max_attempts: self.max_attempts,
        }
    }
}

#[derive(Args)]
pub(crate) struct ReportArgs {
    /// Dimensions to group by, comma-separated: billing_period, day, account, payer, service,
    /// service_name, region, usage_type, operation, line_item_type, charge_class, resource_id,
    /// pricing_unit, provider, export, tag:<key>, cost_category:<key>; for API Gateway also
    /// api_id, api_type, stage, component, and after allocation team, owner_source, label:<name>.
    #[arg(long, default_value = "billing_period,service", value_parser = parse_dimensions)]
    pub by: Dimensions,

    /// Only this billing period (YYYY-MM).
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub month: Option<BillingPeriod>,

    /// First usage day to include (YYYY-MM-DD).
    #[arg(long)]
    pub from: Option<NaiveDate>,

    /// Last usage day to include (YYYY-MM-DD, inclusive).
    #[arg(long)]
    pub to: Option<NaiveDate>,

    /// Only this service's product code, e.g. AmazonApiGateway.
    #[arg(long)]
    pub service: Option<String>,

    /// Which cost to sum: unblended, net (after discounts) or amortized.
    #[arg(long, default_value = "unblended", value_parser = parse_metric)]
    pub metric: Metric,

    /// Write one API Gateway showback per team (Markdown and CSV) into --out, for --month
    /// (the latest by default) against the month before. --by is ignored.
    #[arg(long, requires = "out")]
    pub per_team: bool,

    /// Folder for --per-team files (created if missing).
    #[arg(long, requires = "per_team")]
    pub out: Option<PathBuf>,

    /// Only the N costliest rows (the total still covers all rows).
    #[arg(long)]
    pub top: Option<usize>,

    /// Add the previous period's cost, the change and the % change. `previous` is the month
    /// before --month (the latest month by default), or the same number of days before --from/--to.
    #[arg(long, value_parser = ["previous"])]
    pub compare: Option<String>,

    #[command(flatten)]
    pub rules: RulesArg,

    /// Output format.
    #[arg(long, default_value = "table", value_parser = parse_format)]
    pub format: OutputFormat,
}

#[derive(Args)]
pub(crate) struct SynthArgs {
    /// Folder to write the exports into (laid out as AWS delivers to S3).
    #[arg(long)]
    pub out: PathBuf,

    /// Layouts to write: legacy-csv, legacy-parquet, cur2-parquet, cur2-csv, focus-parquet, focus-csv, or all.
    #[arg(long, default_value = "all")]
    pub layouts: String,

    /// Seed: the same seed and options write the same bytes.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// First billing period.
    #[arg(long, default_value = "2024-01")]
    pub start: BillingPeriod,

    /// Number of months.
    #[arg(long, default_value_t = 2)]
    pub months: u32,

    /// Approximate line items per month and layout.
    #[arg(long, default_value_t = 20_000)]
    pub lines: u64,

    /// Hourly line items (as large CURs are) instead of daily.
    #[arg(long)]
    pub hourly: bool,

    /// Total columns per row, padded with realistic product and pricing attributes.
    #[arg(long, default_value_t = 110)]
    pub width: usize,

    /// Line items per data file before a new file is started.
    #[arg(long, default_value_t = 1_000_000)]
    pub lines_per_file: u64,

    /// Inject labelled anomalies (retry storm, data-transfer blow-up, WebSocket connection
    /// leak, new client, gradual drift) and a holiday dip into the API Gateway series, and
    /// write labels.json. Needs --months 3 or more.
    #[arg(long)]
    pub anomalies: bool,
}

/// A `--by` list.
#[derive(Clone)]
pub(crate) struct Dimensions(pub Vec<Dimension>);

fn parse_dimensions(text: &str) -> Result<Dimensions, String> {
    let dims = Dimension::parse_list(text).map_err(|e| e.to_string())?;
    if dims.is_empty() {
        return Err("give at least one dimension".to_owned());
    }
    Ok(Dimensions(dims))
}

fn parse_format(text: &str) -> Result<OutputFormat, String> {
    text.parse()
}

fn parse_metric(text: &str) -> Result<Metric, String> {
    text.parse()
}
