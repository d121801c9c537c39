//! The store's state files: current partitions and the append-only ingest log.

use std::io::Write;
use std::path::Path;

use curwatch_schema::Money;
use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::layout::{STATE, sync_dir};

const PARTITIONS: &str = "partitions.json";
const LOG: &str = "ingest-log.jsonl";

/// One source file that went into a partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceFileRecord {
    pub key: String,
    pub size: u64,
    pub etag: Option<String>,
}

/// What the store holds for one export and billing period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionRecord {
    pub billing_period: String,
    pub export: String,
    /// Relative to the store root.
    pub path: String,
    pub format: String,
    pub manifest: Option<String>,
    /// Assembly id or execution id of the delivery read.
    pub delivery_id: Option<String>,
    pub source_files: Vec<SourceFileRecord>,
    pub rows: u64,
    pub unblended_cost: Money,
    pub amortized_cost: Money,
    pub ingested_at: String,
}

#[derive(Serialize, Deserialize)]
struct PartitionsFile {
    version: u32,
    partitions: Vec<PartitionRecord>,
}

pub(crate) fn read_partitions(root: &Path) -> Result<Vec<PartitionRecord>, StoreError> {
    let path = root.join(STATE).join(PARTITIONS);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io(&path)(e)),
    };
    let file: PartitionsFile =
        serde_json::from_slice(&bytes).map_err(|e| StoreError::State { path: path.clone(), message: e.to_string() })?;
    Ok(file.partitions)
}

/// Replaces the records of the given partitions and appends them to the log.
pub(crate) fn record_commit(root: &Path, committed: &[PartitionRecord]) -> Result<(), StoreError> {
    let dir = root.join(STATE);
    std::fs::create_dir_all(&dir).map_err(StoreError::io(&dir))?;
    let mut partitions = read_partitions(root)?;
    partitions.retain(|p| !committed.iter().any(|c| c.export == p.export && c.billing_period == p.billing_period));
    partitions.extend(committed.iter().cloned());
    partitions.sort_by(|a, b| (&a.billing_period, &a.export).cmp(&(&b.billing_period, &b.export)));
    let text = serde_json::to_vec_pretty(&PartitionsFile { version: 1, partitions }).expect("serialisable");
    let path = dir.join(PARTITIONS);
    write_atomically(&path, &text)?;

    let log = dir.join(LOG);
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&log).map_err(StoreError::io(&log))?;
    let mut lines = Vec::new();
    for record in committed {
        serde_json::to_writer(&mut lines, record).expect("serialisable");
        lines.push(b'\n');
    }
    file.write_all(&lines).and_then(|()| file.sync_all()).map_err(StoreError::io(&log))?;
    Ok(())
}

/// Write-to-temp, fsync, rename: the file is either old or new, never half-written.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().expect("state files live in a folder");
    let tmp = dir.join(format!(".{}.tmp", path.file_name().expect("named").to_string_lossy()));
    let mut file = std::fs::File::create(&tmp).map_err(StoreError::io(&tmp))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(StoreError::io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(StoreError::io(path))?;
    sync_dir(dir);
    Ok(())
}
