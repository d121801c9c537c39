//! Anomalies kept in the store across runs (`state/anomalies.json`), so an incident keeps
//! its id and the time it was first reported, and later stages (alerts) can tell new from
//! already known.

use chrono::NaiveDate;
use curwatch_store::{Store, StoreError};
use serde::{Deserialize, Serialize};

use crate::incident::Anomaly;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnownAnomaly {
    #[serde(flatten)]
    pub anomaly: Anomaly,
    /// When a run first reported it (UTC, RFC 3339).
    pub first_reported: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyState {
    pub version: u32,
    /// The run's as-of day.
    pub as_of: NaiveDate,
    pub anomalies: Vec<KnownAnomaly>,
}

const FILE: &str = "anomalies.json";

pub fn load(store: &Store) -> Result<Option<AnomalyState>, StoreError> {
    store.read_json_state(FILE)
}

/// The current anomalies, keeping first-report times of those already known.
pub fn merge(previous: Option<&AnomalyState>, current: Vec<Anomaly>, as_of: NaiveDate, now: &str) -> AnomalyState {
    let anomalies = current
        .into_iter()
        .map(|anomaly| {
            let first_reported = previous
                .and_then(|p| p.anomalies.iter().find(|k| k.anomaly.id == anomaly.id))
                .map_or_else(|| now.to_owned(), |k| k.first_reported.clone());
            KnownAnomaly { anomaly, first_reported }
        })
        .collect();
    AnomalyState { version: 1, as_of, anomalies }
}

pub fn save(store: &Store, state: &AnomalyState) -> Result<(), StoreError> {
    store.write_json_state(FILE, state)
}
