//! Anomalies kept in the store across runs (`state/anomalies.json`), so an incident keeps
//! its id and the time it was first reported, and later stages (alerts) can tell new from
//! already known.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
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

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: {problem}")]
    Io { path: PathBuf, problem: String },
}

pub fn path(store_root: &Path) -> PathBuf {
    store_root.join("state").join("anomalies.json")
}

pub fn load(store_root: &Path) -> Result<Option<AnomalyState>, StateError> {
    let path = path(store_root);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StateError::Io { path, problem: e.to_string() }),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| StateError::Io { path, problem: format!("not a curwatch anomaly state file: {e}") })
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

/// Writes the state atomically: a temporary file renamed over the old one.
pub fn save(store_root: &Path, state: &AnomalyState) -> Result<(), StateError> {
    let path = path(store_root);
    let io = |e: std::io::Error| StateError::Io { path: path.clone(), problem: e.to_string() };
    let dir = path.parent().expect("state folder");
    std::fs::create_dir_all(dir).map_err(io)?;
    let temp = dir.join(".anomalies.json.tmp");
    let text = serde_json::to_vec_pretty(state).map_err(|e| io(std::io::Error::other(e)))?;
    std::fs::write(&temp, text).map_err(io)?;
    std::fs::rename(&temp, &path).map_err(io)
}
