//! What a sync did, per export and billing period.

use curwatch_ingest::{DiscoveredUnit, IngestError};
use curwatch_schema::BillingPeriod;
use curwatch_source::StatsSnapshot;
use curwatch_store::PartitionRecord;

#[derive(Debug)]
pub enum Outcome {
    /// The store already holds this delivery: nothing was downloaded.
    Unchanged,
    /// Read and committed; the period's previous data was replaced.
    Ingested(Vec<PartitionRecord>),
    /// Deliberately not read this run (AWS is rewriting the report); why.
    Waiting(String),
    /// Could not be read; the store keeps its previous data for this export and period.
    Failed(IngestError),
}

#[derive(Debug)]
pub struct UnitReport {
    /// The export, when known (a manifest that does not parse names none).
    pub export_id: Option<String>,
    pub billing_period: Option<BillingPeriod>,
    pub files: usize,
    pub bytes: u64,
    pub outcome: Outcome,
}

impl UnitReport {
    pub(crate) fn new(unit: &DiscoveredUnit, outcome: Outcome) -> Self {
        UnitReport {
            export_id: Some(unit.export_id.clone()),
            billing_period: unit.billing_period,
            files: unit.files.len(),
            bytes: unit.files.iter().map(|f| f.size).sum(),
            outcome,
        }
    }

    pub(crate) fn failed_discovery(error: IngestError) -> Self {
        UnitReport { export_id: None, billing_period: None, files: 0, bytes: 0, outcome: Outcome::Failed(error) }
    }

    /// `export period`, or the manifest's location when the export is unknown.
    pub fn label(&self) -> String {
        let export = self.export_id.clone().unwrap_or_else(|| "(unreadable manifest)".into());
        match self.billing_period {
            Some(period) => format!("{export} {period}"),
            None => format!("{export} (loose file)"),
        }
    }
}

/// The result of syncing one source.
#[derive(Debug, Default)]
pub struct SyncReport {
    pub source: String,
    pub units: Vec<UnitReport>,
    /// Data files that no current manifest lists (older deliveries left in the bucket).
    pub ignored: Vec<String>,
    /// Things worth saying that are not failures.
    pub notes: Vec<String>,
    pub stats: StatsSnapshot,
}

impl SyncReport {
    pub fn count(&self, matches: impl Fn(&Outcome) -> bool) -> usize {
        self.units.iter().filter(|u| matches(&u.outcome)).count()
    }

    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed(_)))
    }

    pub fn committed(&self) -> impl Iterator<Item = &PartitionRecord> {
        self.units
            .iter()
            .filter_map(|u| match &u.outcome {
                Outcome::Ingested(records) => Some(records.iter()),
                _ => None,
            })
            .flatten()
    }
}
