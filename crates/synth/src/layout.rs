//! Writing the model as each AWS delivery layout, with manifests and stale deliveries.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use curwatch_schema::BillingPeriod;
use serde_json::json;

use crate::columns::{self, Column};
use crate::model::Org;
use crate::rng::Rng;
use crate::sink::{DataFiles, Style};
use crate::truth::{Truth, TruthBuilder};

const BUCKET: &str = "billing-bucket";
/// A stale delivery covers the month as it stood on this day.
const STALE_DAYS: u32 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Layout {
    /// Legacy CUR, gzip CSV, versioned: several assembly folders a month.
    LegacyCsv,
    /// Legacy CUR for Athena: Parquet under `year=/month=`.
    LegacyParquet,
    /// CUR 2.0 Data Export, Parquet.
    Cur2Parquet,
    /// CUR 2.0 Data Export, gzip CSV.
    Cur2Csv,
    /// FOCUS 1.0 Data Export, Parquet.
    FocusParquet,
    /// FOCUS 1.0 Data Export, gzip CSV with `NULL` nulls and space-separated timestamps.
    FocusCsv,
}

impl Layout {
    pub const ALL: [Layout; 6] = [
        Layout::LegacyCsv,
        Layout::LegacyParquet,
        Layout::Cur2Parquet,
        Layout::Cur2Csv,
        Layout::FocusParquet,
        Layout::FocusCsv,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Layout::LegacyCsv => "legacy-csv",
            Layout::LegacyParquet => "legacy-parquet",
            Layout::Cur2Parquet => "cur2-parquet",
            Layout::Cur2Csv => "cur2-csv",
            Layout::FocusParquet => "focus-parquet",
            Layout::FocusCsv => "focus-csv",
        }
    }

    pub fn parse_list(text: &str) -> Result<Vec<Layout>, SynthError> {
        if text.trim() == "all" {
            return Ok(Layout::ALL.to_vec());
        }
        text.split(',').map(|s| s.trim().parse()).collect()
    }

    fn columns(self, width: usize) -> Vec<Column> {
        match self {
            Layout::LegacyCsv => columns::legacy(width, false),
            Layout::LegacyParquet => columns::legacy(width, true),
            Layout::Cur2Parquet | Layout::Cur2Csv => columns::cur2(width),
            Layout::FocusParquet | Layout::FocusCsv => columns::focus(width),
        }
    }

    fn style(self) -> Style {
        let base = Style { parquet: false, gzip: true, iso_times: true, null: "", decimal_money: false, millis: false };
        match self {
            Layout::LegacyCsv | Layout::Cur2Csv => base,
            Layout::LegacyParquet => Style { parquet: true, millis: true, ..base },
            Layout::Cur2Parquet => Style { parquet: true, ..base },
            Layout::FocusParquet => Style { parquet: true, decimal_money: true, ..base },
            Layout::FocusCsv => Style { iso_times: false, null: "NULL", ..base },
        }
    }

    fn is_data_export(self) -> bool {
        !matches!(self, Layout::LegacyCsv | Layout::LegacyParquet)
    }

    fn has_stale_delivery(self) -> bool {
        matches!(self, Layout::LegacyCsv | Layout::Cur2Parquet | Layout::Cur2Csv)
    }
}

impl FromStr for Layout {
    type Err = SynthError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Layout::ALL.into_iter().find(|l| l.name() == text).ok_or_else(|| {
            SynthError::Other(format!(
                "unknown layout `{text}`; choose from {} or all",
                Layout::ALL.map(Layout::name).join(", ")
            ))
        })
    }
}

#[derive(Debug, Clone)]
pub struct SynthConfig {
    pub seed: u64,
    pub start: BillingPeriod,
    pub months: u32,
    pub lines_per_month: u64,
    pub hourly: bool,
    pub width: usize,
    pub lines_per_file: u64,
    pub layouts: Vec<Layout>,
    /// Inject labelled anomalies and non-anomalies and write `labels.json`.
    pub anomalies: bool,
}

/// `labels.json`: what `synth --anomalies` put in the data, for detectors to be judged on.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Labels {
    /// Anomalies (and the holiday dip, labelled `anomaly: false`).
    pub events: Vec<crate::model::Label>,
    /// Days with month-level fees, tax, credits and discounts: not anomalies.
    pub month_start_fee_days: Vec<chrono::NaiveDate>,
}

/// Days of data `synth --anomalies` needs: history before the first event, and the last one.
pub const DAYS_FOR_ANOMALIES: u32 = 84;

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: {message}", path.display())]
    Write { path: PathBuf, message: String },
    #[error("{0}")]
    Other(String),
}

impl SynthError {
    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SynthError + '_ {
        move |source| SynthError::Io { path: path.to_owned(), source }
    }

    pub(crate) fn csv(path: &Path) -> impl FnOnce(csv::Error) -> SynthError + '_ {
        move |e| SynthError::Write { path: path.to_owned(), message: e.to_string() }
    }

    pub(crate) fn parquet(path: &Path) -> impl FnOnce(parquet::errors::ParquetError) -> SynthError + '_ {
        move |e| SynthError::Write { path: path.to_owned(), message: e.to_string() }
    }
}

/// One delivery being written: where, and the files so far.
struct Delivery {
    layout: Layout,
    id: String,
    files: DataFiles,
}

/// Writes every configured layout under `out` and returns (and writes) the truth.
pub fn generate(config: &SynthConfig, out: &Path) -> Result<Truth, SynthError> {
    let mut org = Org::new(config.seed, config.lines_per_month, config.hourly);
    if config.anomalies {
        write_labels(config, out, &mut org)?;
    }
    let mut ids = Rng::new(config.seed).fork(0xA55E_4B1E);
    let mut truth = TruthBuilder::default();
    let columns: BTreeMap<Layout, Arc<Vec<Column>>> =
        config.layouts.iter().map(|l| (*l, Arc::new(l.columns(config.width)))).collect();
    let mut period = config.start;
    for _ in 0..config.months {
        let mut stale: Vec<Delivery> = Vec::new();
        let mut current: Vec<Delivery> = Vec::new();
        for &layout in &config.layouts {
            if layout.has_stale_delivery() {
                stale.push(delivery(out, layout, period, &mut ids, &columns[&layout], config, true));
            }
            current.push(delivery(out, layout, period, &mut ids, &columns[&layout], config, false));
        }
        if !stale.is_empty() {
            org.month(period, config.start, STALE_DAYS, config.hourly, config.seed, &mut |line| {
                stale.iter_mut().try_for_each(|d| d.files.push(line))
            })?;
        }
        org.month(period, config.start, period.days(), config.hourly, config.seed, &mut |line| {
            truth.add(line);
            current.iter_mut().try_for_each(|d| d.files.push(line))
        })?;
        for (delivery, is_current) in
            stale.into_iter().map(|d| (d, false)).chain(current.into_iter().map(|d| (d, true)))
        {
            let layout = delivery.layout;
            let id = delivery.id;
            let files = delivery.files.finish()?;
            write_manifest(out, layout, period, &id, &files, &columns[&layout], org.payer.id.as_str(), is_current)?;
        }
        period = period.next();
    }
    let exports = config
        .layouts
        .iter()
        .map(|l| {
            let id = if l.is_data_export() {
                format!("export:{}:{}", org.payer.id, l.name())
            } else {
                format!("cur:{}:{}", org.payer.id, l.name())
            };
            (l.name().to_owned(), id)
        })
        .collect();
    let truth = truth.finish(config.seed, exports);
    let path = out.join("truth.json");
    std::fs::create_dir_all(out).map_err(SynthError::io(out))?;
    std::fs::write(&path, serde_json::to_vec_pretty(&truth).expect("serialisable")).map_err(SynthError::io(&path))?;
    Ok(truth)
}

fn write_labels(config: &SynthConfig, out: &Path, org: &mut Org) -> Result<(), SynthError> {
    let mut days = 0;
    let mut fee_days = Vec::new();
    let mut period = config.start;
    for _ in 0..config.months {
        days += period.days();
        fee_days.push(period.first_day());
        period = period.next();
    }
    if days < DAYS_FOR_ANOMALIES {
        return Err(SynthError::Other(format!(
            "--anomalies needs at least {DAYS_FOR_ANOMALIES} days of data (history before the events); ask for --months 3 or more"
        )));
    }
    let labels = Labels { events: org.schedule_events(config.start.first_day()), month_start_fee_days: fee_days };
    std::fs::create_dir_all(out).map_err(SynthError::io(out))?;
    let path = out.join("labels.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&labels).expect("serialisable")).map_err(SynthError::io(&path))
}

fn uuid(rng: &mut Rng) -> String {
    let hex = format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64());
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

fn date_range(period: BillingPeriod) -> String {
    format!("{}-{}", period.first_day().format("%Y%m%d"), period.next().first_day().format("%Y%m%d"))
}

/// The folder (relative to the layout's bucket root) a delivery's data files go in.
fn data_dir(layout: Layout, period: BillingPeriod, delivery_id: &str) -> String {
    let name = layout.name();
    match layout {
        Layout::LegacyCsv => format!("cur/{name}/{}/{delivery_id}", date_range(period)),
        Layout::LegacyParquet => format!("cur/{name}/{name}/year={}/month={}", period.year(), period.month()),
        _ => format!("exports/{name}/data/BILLING_PERIOD={period}"),
    }
}

fn delivery(
    out: &Path,
    layout: Layout,
    period: BillingPeriod,
    ids: &mut Rng,
    columns: &Arc<Vec<Column>>,
    config: &SynthConfig,
    stale: bool,
) -> Delivery {
    let id = uuid(ids);
    let root = out.join(layout.name());
    let dir = root.join(data_dir(layout, period, &id));
    // A stale Data Export file sits beside the current ones under another name.
    let stem = if stale && layout.is_data_export() {
        format!("{}-{}", layout.name(), &id[..8])
    } else {
        layout.name().to_owned()
    };
    Delivery { layout, id, files: DataFiles::new(&dir, &stem, columns.clone(), layout.style(), config.lines_per_file) }
}

#[allow(clippy::too_many_arguments)]
fn write_manifest(
    out: &Path,
    layout: Layout,
    period: BillingPeriod,
    delivery_id: &str,
    files: &[PathBuf],
    columns: &[Column],
    payer: &str,
    current: bool,
) -> Result<(), SynthError> {
    let root = out.join(layout.name());
    let key = |path: &PathBuf| -> String {
        let rel = path.strip_prefix(&root).expect("written under the layout root");
        rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
    };
    let name = layout.name();
    let start = period.first_day().format("%Y%m%dT000000.000Z").to_string();
    let end = period.next().first_day().format("%Y%m%dT000000.000Z").to_string();
    let write = |rel: String, value: serde_json::Value| -> Result<(), SynthError> {
        let path = root.join(rel);
        let dir = path.parent().expect("manifest has a folder");
        std::fs::create_dir_all(dir).map_err(SynthError::io(dir))?;
        std::fs::write(&path, serde_json::to_vec_pretty(&value).expect("json")).map_err(SynthError::io(&path))
    };
    if layout.is_data_export() {
        if !current {
            return Ok(());
        }
        let manifest = json!({
            "executionId": delivery_id,
            "exportArn": format!("arn:aws:bcm-data-exports:us-east-1:{payer}:export/{name}"),
            "billingPeriod": {"start": period.first_day().format("%Y-%m-%dT00:00:00.000Z").to_string(),
                              "end": period.next().first_day().format("%Y-%m-%dT00:00:00.000Z").to_string()},
            "columns": columns.iter().map(|c| json!({"name": c.name, "type": kind_name(c.kind)})).collect::<Vec<_>>(),
            "dataFiles": files.iter().map(|f| format!("s3://{BUCKET}/{}", key(f))).collect::<Vec<_>>(),
        });
        return write(format!("exports/{name}/metadata/BILLING_PERIOD={period}/{name}-Manifest.json"), manifest);
    }
    let parquet = layout == Layout::LegacyParquet;
    let manifest = json!({
        "assemblyId": delivery_id,
        "account": payer,
        "reportId": format!("{:x}", crate::rng::Rng::new(payer.len() as u64).next_u64()),
        "reportName": name,
        "bucket": BUCKET,
        "billingPeriod": {"start": start, "end": end},
        "columns": columns.iter().map(|c| {
            let (category, field) = c.name.split_once('/').unwrap_or(("", c.name.as_str()));
            json!({"category": category, "name": field, "type": kind_name(c.kind)})
        }).collect::<Vec<_>>(),
        "charset": "UTF-8",
        "compression": if parquet { "Parquet" } else { "GZIP" },
        "contentType": if parquet { "Parquet" } else { "text/csv" },
        "reportKeys": files.iter().map(key).collect::<Vec<_>>(),
        "additionalArtifactKeys": [],
    });
    if parquet {
        return write(format!("{}/{name}-Manifest.json", data_dir(layout, period, delivery_id)), manifest);
    }
    // Versioned CSV: a copy in the assembly folder always; the date-range copy only for the current one.
    write(format!("{}/{name}-Manifest.json", data_dir(layout, period, delivery_id)), manifest.clone())?;
    if current {
        write(format!("cur/{name}/{}/{name}-Manifest.json", date_range(period)), manifest)?;
    }
    Ok(())
}

fn kind_name(kind: columns::Kind) -> &'static str {
    match kind {
        columns::Kind::Text => "string",
        columns::Kind::Float | columns::Kind::Money => "double",
        columns::Kind::Time => "timestamp",
        columns::Kind::Map => "map<string,string>",
    }
}
