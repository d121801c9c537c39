//! The incremental decision: does the store already hold this delivery?

use curwatch_ingest::DiscoveredUnit;
use curwatch_store::PartitionRecord;

/// True when every partition the store holds for the unit's export and period came from
/// the same delivery (manifest id) and the same files with the same sizes and ETags.
/// A period the store has never seen is never unchanged.
pub fn is_unchanged(unit: &DiscoveredUnit, held: &[PartitionRecord]) -> bool {
    let period = unit.billing_period.map(|p| p.to_string());
    let mine: Vec<&PartitionRecord> = held
        .iter()
        .filter(|r| r.export == unit.export_id && period.as_ref().is_none_or(|p| &r.billing_period == p))
        .collect();
    if mine.is_empty() {
        return false;
    }
    let delivery = unit.manifest.as_ref().map(|(_, id)| id.as_str());
    let mut wanted: Vec<(&str, u64, Option<&str>)> =
        unit.files.iter().map(|f| (f.key.as_str(), f.size, f.etag.as_deref())).collect();
    wanted.sort_unstable();
    mine.iter().all(|record| {
        let mut had: Vec<(&str, u64, Option<&str>)> =
            record.source_files.iter().map(|f| (f.key.as_str(), f.size, f.etag.as_deref())).collect();
        had.sort_unstable();
        record.delivery_id.as_deref() == delivery && had == wanted
    })
}

/// The report folder (from `updating`) that a legacy manifest at `manifest_key` sits under.
pub(crate) fn governing_status<'a>(manifest_key: &str, updating: &'a [String]) -> Option<&'a str> {
    updating.iter().find(|root| root.is_empty() || manifest_key.starts_with(&format!("{root}/"))).map(String::as_str)
}

#[cfg(test)]
mod tests {
    use curwatch_ingest::ObjectInfo;
    use curwatch_schema::{BillingPeriod, Money};
    use curwatch_store::SourceFileRecord;

    use super::*;

    fn unit(delivery: &str, etag: &str) -> DiscoveredUnit {
        DiscoveredUnit {
            export_id: "cur:1:r".into(),
            billing_period: Some("2024-01".parse::<BillingPeriod>().unwrap()),
            manifest: Some(("r-Manifest.json".into(), delivery.into())),
            files: vec![ObjectInfo { key: "a.csv.gz".into(), size: 10, modified: None, etag: Some(etag.into()) }],
        }
    }

    fn record(delivery: &str, etag: &str) -> PartitionRecord {
        PartitionRecord {
            billing_period: "2024-01".into(),
            export: "cur:1:r".into(),
            path: String::new(),
            format: String::new(),
            manifest: None,
            delivery_id: Some(delivery.into()),
            source_files: vec![SourceFileRecord { key: "a.csv.gz".into(), size: 10, etag: Some(etag.into()) }],
            rows: 1,
            unblended_cost: Money::ZERO,
            amortized_cost: Money::ZERO,
            ingested_at: String::new(),
        }
    }

    #[test]
    fn same_delivery_and_etags_is_unchanged_anything_else_is_not() {
        assert!(is_unchanged(&unit("d1", "e1"), &[record("d1", "e1")]));
        assert!(!is_unchanged(&unit("d2", "e1"), &[record("d1", "e1")]), "new assembly");
        assert!(!is_unchanged(&unit("d1", "e2"), &[record("d1", "e1")]), "file rewritten in place");
        assert!(!is_unchanged(&unit("d1", "e1"), &[]), "never seen");
    }

    #[test]
    fn status_roots_govern_their_own_folder_only() {
        let updating = vec!["cur/report".to_owned()];
        assert_eq!(governing_status("cur/report/year=2024/month=1/r-Manifest.json", &updating), Some("cur/report"));
        assert_eq!(governing_status("cur/report2/year=2024/month=1/r-Manifest.json", &updating), None);
    }
}
