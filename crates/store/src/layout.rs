//! Where things live inside a store.

use std::path::{Path, PathBuf};

use curwatch_schema::BillingPeriod;

use crate::error::StoreError;

pub(crate) const LINE_ITEMS: &str = "line_items";
/// Daily summaries, one per partition file, at the same relative path.
pub(crate) const SUMMARIES: &str = "summaries";
/// API Gateway lines summed per shape, one file per partition file, at the same relative path.
pub(crate) const GATEWAY_SHAPES: &str = "api_gateway_shapes";
pub(crate) const STATE: &str = "state";
pub(crate) const STAGING: &str = ".staging";
const PERIOD_PREFIX: &str = "billing_period=";

pub(crate) fn period_dir(root: &Path, period: BillingPeriod) -> PathBuf {
    root.join(LINE_ITEMS).join(format!("{PERIOD_PREFIX}{period}"))
}

pub(crate) fn partition_path(root: &Path, period: BillingPeriod, export: &str) -> PathBuf {
    period_dir(root, period).join(format!("{}.parquet", export_slug(export)))
}

/// A file-name-safe, collision-free name for an export id.
pub fn export_slug(export: &str) -> String {
    let safe: String =
        export.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' }).collect();
    // FNV-1a: tiny, stable across versions, enough to keep sanitised names apart.
    let mut hash: u32 = 0x811c_9dc5;
    for byte in export.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("{safe}-{hash:08x}")
}

pub(crate) fn periods(root: &Path) -> Result<Vec<BillingPeriod>, StoreError> {
    let dir = root.join(LINE_ITEMS);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io(&dir)(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(StoreError::io(&dir))?;
        let name = entry.file_name();
        if let Some(period) = name.to_str().and_then(|n| n.strip_prefix(PERIOD_PREFIX)).and_then(|p| p.parse().ok()) {
            out.push(period);
        }
    }
    out.sort();
    Ok(out)
}

/// Partition files of one period, sorted for deterministic reads.
pub(crate) fn partition_files(root: &Path, period: BillingPeriod) -> Result<Vec<PathBuf>, StoreError> {
    let dir = period_dir(root, period);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(StoreError::io(&dir))? {
        let path = entry.map_err(StoreError::io(&dir))?.path();
        if path.extension().is_some_and(|e| e == "parquet") {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Makes a rename durable (best effort where directories cannot be opened).
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_safe_and_distinct() {
        let a = export_slug("cur:111122223333:daily");
        assert!(a.starts_with("cur_111122223333_daily-"), "{a}");
        assert_ne!(export_slug("a:b"), export_slug("a_b"));
        assert_eq!(export_slug("file:x"), export_slug("file:x"));
    }
}
