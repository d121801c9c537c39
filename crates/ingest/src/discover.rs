//! Deciding which files to read: the current manifest of each export and billing period,
//! and loose files nobody manages.
//!
//! Discovery works on a listing of keys, so a local directory and an S3 prefix go through
//! exactly the same rules. Stale assembly folders and old deliveries sit beside current
//! ones in real buckets: only the current manifest's files are ever read.

use curwatch_schema::BillingPeriod;
pub use curwatch_source::ObjectInfo;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::error::{ErrorKind, IngestError};
use crate::manifest::{Manifest, ManifestKind, parse_manifest};

/// A set of files that is ingested (and replaced in the store) as one.
#[derive(Debug, Clone)]
pub struct DiscoveredUnit {
    pub export_id: String,
    /// Known from the manifest; `None` for loose files (rows say their own period).
    pub billing_period: Option<BillingPeriod>,
    /// The manifest key and its delivery id, when a manifest governs the unit.
    pub manifest: Option<(String, String)>,
    pub files: Vec<ObjectInfo>,
}

/// The outcome of discovery over one listing.
#[derive(Debug, Default)]
pub struct Discovery {
    pub units: Vec<DiscoveredUnit>,
    /// Data files under a managed export that no current manifest lists (stale deliveries).
    pub ignored: Vec<String>,
    /// Manifests that could not be used: unreadable, or listing files that are absent.
    /// Their exports and periods are skipped; everything else is still planned.
    pub errors: Vec<IngestError>,
    /// Legacy CUR data-status files (`cost_and_usage_data_status/*.parquet`), with the
    /// report folder each speaks for.
    pub status_files: Vec<(String, ObjectInfo)>,
}

/// A parsed manifest, the object it came from, and whether it is an assembly-folder copy.
type Candidate<'a> = (Manifest, &'a ObjectInfo, bool);

/// Plans the units of a listing. `source` names the listing root in messages (a folder
/// or `s3://bucket/prefix`); `read` fetches a manifest's bytes by key.
pub fn plan_units(
    source: &str,
    listing: &[ObjectInfo],
    mut read: impl FnMut(&str) -> Result<Vec<u8>, IngestError>,
) -> Result<Discovery, IngestError> {
    let by_key: HashMap<&str, &ObjectInfo> = listing.iter().map(|o| (o.key.as_str(), o)).collect();
    let mut candidates: BTreeMap<(String, BillingPeriod), Vec<Candidate>> = BTreeMap::new();
    let mut governed: Vec<String> = Vec::new();
    let mut discovery = Discovery::default();
    for object in listing.iter().filter(|o| o.key.ends_with("-Manifest.json")) {
        // An unusable manifest still governs its folder, so its data files are not read as loose.
        governed.push(parent(&object.key).to_owned());
        let parsed = read(&object.key).and_then(|bytes| {
            parse_manifest(&bytes, &object.key)
                .map_err(|kind| IngestError::new(Path::new(source).join(&object.key), kind))
        });
        let manifest = match parsed {
            Ok(manifest) => manifest,
            Err(error) => {
                discovery.errors.push(error);
                continue;
            }
        };
        let dir = parent(&object.key);
        // A legacy manifest inside its own assembly folder is a historical copy.
        let in_assembly = manifest.kind == ManifestKind::LegacyCur && file_name(dir) == manifest.delivery_id;
        governed.push(match manifest.kind {
            ManifestKind::LegacyCur if in_assembly => parent(dir).to_owned(),
            ManifestKind::LegacyCur => dir.to_owned(),
            // <export>/metadata/BILLING_PERIOD=…/ governs the whole export folder.
            ManifestKind::DataExport => export_root(dir).to_owned(),
        });
        candidates.entry((manifest.export_id.clone(), manifest.billing_period)).or_default().push((
            manifest,
            object,
            in_assembly,
        ));
    }

    let mut listed: HashMap<String, ()> = HashMap::new();
    'units: for ((export_id, period), mut found) in candidates {
        // Current manifests first, then the most recently written.
        found.sort_by_key(|(_, object, in_assembly)| (*in_assembly, std::cmp::Reverse(object.modified)));
        let (manifest, object, _) = &found[0];
        let mut files = Vec::with_capacity(manifest.files.len());
        for key in &manifest.files {
            let Some(info) = resolve(&by_key, &object.key, key) else {
                discovery.errors.push(IngestError::new(
                    Path::new(source).join(&object.key),
                    ErrorKind::ListedFileMissing { key: key.clone(), listing: source.to_owned() },
                ));
                continue 'units;
            };
            listed.insert(info.key.clone(), ());
            files.push(info.clone());
        }
        discovery.units.push(DiscoveredUnit {
            export_id,
            billing_period: Some(period),
            manifest: Some((object.key.clone(), manifest.delivery_id.clone())),
            files,
        });
    }

    for object in listing.iter().filter(|o| o.key.ends_with(".parquet")) {
        if let Some(pos) = object.key.find(STATUS_FOLDER) {
            let root = object.key[..pos].trim_end_matches('/').to_owned();
            discovery.status_files.push((root, object.clone()));
        }
    }

    for object in listing.iter().filter(|o| is_data_file(&o.key)) {
        if listed.contains_key(&object.key) {
            continue;
        }
        if governed.iter().any(|root| root.is_empty() || object.key.starts_with(&format!("{root}/"))) {
            discovery.ignored.push(object.key.clone());
            continue;
        }
        discovery.units.push(DiscoveredUnit {
            export_id: loose_export_id(&object.key),
            billing_period: None,
            manifest: None,
            files: vec![object.clone()],
        });
    }
    Ok(discovery)
}

/// A manifest names bucket keys; the listing may be rooted below the bucket (leading
/// folders of the key are absent) or above it (the manifest's own folders come first).
/// Tries the longest key under each of the manifest's ancestor folders, nearest root first.
fn resolve<'a>(by_key: &HashMap<&str, &'a ObjectInfo>, manifest_key: &str, key: &str) -> Option<&'a ObjectInfo> {
    let mut prefixes = vec![""];
    prefixes.extend(manifest_key.match_indices('/').map(|(i, _)| &manifest_key[..=i]));
    let mut rest = key.trim_start_matches('/');
    loop {
        for prefix in &prefixes {
            let candidate = format!("{prefix}{rest}");
            if let Some(found) = by_key.get(candidate.as_str()) {
                return Some(found);
            }
        }
        rest = rest.split_once('/')?.1;
    }
}

/// Loose files are their own export, named for the file: re-ingesting it replaces it.
fn loose_export_id(key: &str) -> String {
    let name = file_name(key);
    let stem = name.split('.').next().unwrap_or(name);
    format!("file:{stem}")
}

/// The folder AWS keeps a legacy report's READY/UPDATING flag in (Athena-integrated reports).
const STATUS_FOLDER: &str = "cost_and_usage_data_status/";

fn is_data_file(key: &str) -> bool {
    let name = file_name(key);
    if name.starts_with('.') || key.contains(STATUS_FOLDER) {
        return false;
    }
    [".csv", ".csv.gz", ".gz", ".parquet"].iter().any(|ext| name.ends_with(ext))
}

fn parent(key: &str) -> &str {
    key.rsplit_once('/').map_or("", |(dir, _)| dir)
}

fn file_name(key: &str) -> &str {
    key.rsplit_once('/').map_or(key, |(_, name)| name)
}

fn export_root(dir: &str) -> &str {
    match dir.rfind("/metadata/").or_else(|| dir.starts_with("metadata/").then_some(0)) {
        Some(0) if dir.starts_with("metadata/") => "",
        Some(pos) => &dir[..pos],
        None => dir,
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;

    fn obj(key: &str, age: u64) -> ObjectInfo {
        let modified = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000 - age);
        ObjectInfo { key: key.into(), size: 1, modified: Some(modified), etag: None }
    }

    fn legacy(assembly: &str, keys: &[&str]) -> Vec<u8> {
        serde_json::json!({"assemblyId": assembly, "account": "1", "reportName": "r",
            "billingPeriod": {"start": "20240101T000000.000Z"}, "reportKeys": keys})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn reads_only_the_current_assembly() {
        let listing = vec![
            obj("cur/r/20240101-20240201/r-Manifest.json", 0),
            obj("cur/r/20240101-20240201/new/r-Manifest.json", 0),
            obj("cur/r/20240101-20240201/new/r-1.csv.gz", 0),
            obj("cur/r/20240101-20240201/old/r-Manifest.json", 50),
            obj("cur/r/20240101-20240201/old/r-1.csv.gz", 50),
            obj("loose.csv", 0),
        ];
        let discovery = plan_units("src", &listing, |key| {
            Ok(if key.contains("/old/") {
                legacy("old", &["bucketprefix/cur/r/20240101-20240201/old/r-1.csv.gz"])
            } else {
                legacy("new", &["bucketprefix/cur/r/20240101-20240201/new/r-1.csv.gz"])
            })
        })
        .unwrap();
        assert_eq!(discovery.units.len(), 2);
        let unit = &discovery.units[0];
        assert_eq!(unit.export_id, "cur:1:r");
        assert_eq!(unit.manifest.as_ref().unwrap().1, "new");
        assert_eq!(unit.files[0].key, "cur/r/20240101-20240201/new/r-1.csv.gz");
        assert_eq!(discovery.units[1].export_id, "file:loose");
        assert_eq!(discovery.ignored, vec!["cur/r/20240101-20240201/old/r-1.csv.gz"]);
    }

    #[test]
    fn a_listed_file_that_is_missing_is_an_error() {
        let listing = vec![obj("r/20240101-20240201/r-Manifest.json", 0)];
        let discovery =
            plan_units("src", &listing, |_| Ok(legacy("a", &["r/20240101-20240201/a/r-1.csv.gz"]))).unwrap();
        assert!(discovery.units.is_empty());
        let err = discovery.errors[0].to_string();
        assert!(err.contains("r-Manifest.json") && err.contains("a/r-1.csv.gz"), "{err}");
    }

    #[test]
    fn data_export_manifests_govern_their_export_folder() {
        let listing = vec![
            obj("e/metadata/BILLING_PERIOD=2024-01/e-Manifest.json", 0),
            obj("e/data/BILLING_PERIOD=2024-01/e-00001.snappy.parquet", 0),
            obj("e/data/BILLING_PERIOD=2024-01/e-00002.snappy.parquet", 0),
        ];
        let manifest = serde_json::json!({"executionId": "x", "exportName": "e",
            "dataFiles": ["s3://b/e/data/BILLING_PERIOD=2024-01/e-00002.snappy.parquet"]});
        let discovery = plan_units("src", &listing, |_| Ok(manifest.to_string().into_bytes())).unwrap();
        assert_eq!(discovery.units.len(), 1);
        assert_eq!(discovery.units[0].files.len(), 1);
        assert_eq!(discovery.ignored, vec!["e/data/BILLING_PERIOD=2024-01/e-00001.snappy.parquet"]);
    }
}
