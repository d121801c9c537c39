//! Billing-export manifests: legacy CUR (`reportKeys`) and Data Exports (`dataFiles`).

use curwatch_schema::BillingPeriod;
use serde::Deserialize;

use crate::error::ErrorKind;
use crate::timestamp::parse_timestamp_micros;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestKind {
    /// Legacy CUR: `<report>-Manifest.json` with `assemblyId` and `reportKeys`.
    LegacyCur,
    /// AWS Data Exports (CUR 2.0, FOCUS): `executionId` and `dataFiles`.
    DataExport,
}

/// What a manifest says: which export, which month, which delivery, which files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub kind: ManifestKind,
    /// Stable export identity, e.g. `cur:123456789012:daily-cur` or `export:123456789012:focus`.
    pub export_id: String,
    pub billing_period: BillingPeriod,
    /// The delivery this manifest describes: assembly id or execution id.
    pub delivery_id: String,
    /// The data files, as bucket-relative keys, in manifest order.
    pub files: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    assembly_id: Option<String>,
    account: Option<String>,
    report_name: Option<String>,
    billing_period: Option<serde_json::Value>,
    report_keys: Option<Vec<String>>,
    execution_id: Option<String>,
    export_arn: Option<String>,
    export_name: Option<String>,
    data_files: Option<Vec<String>>,
}

/// Parses a manifest. `key` is where it was found (its folder may carry `BILLING_PERIOD=`).
pub fn parse_manifest(bytes: &[u8], key: &str) -> Result<Manifest, ErrorKind> {
    let raw: RawManifest =
        serde_json::from_slice(bytes).map_err(|e| ErrorKind::Manifest(format!("not valid manifest JSON: {e}")))?;
    let file_stem = key.rsplit('/').next().unwrap_or(key).trim_end_matches("-Manifest.json").to_owned();
    if let Some(keys) = raw.report_keys {
        let name = raw.report_name.unwrap_or(file_stem);
        let export_id = match raw.account {
            Some(account) => format!("cur:{account}:{name}"),
            None => format!("cur:{name}"),
        };
        let billing_period = period_from_value(raw.billing_period.as_ref())
            .or_else(|| period_from_key(key))
            .ok_or_else(|| ErrorKind::Manifest("no readable `billingPeriod.start`".into()))?;
        let delivery_id = raw.assembly_id.ok_or_else(|| ErrorKind::Manifest("no `assemblyId`".into()))?;
        return Ok(Manifest { kind: ManifestKind::LegacyCur, export_id, billing_period, delivery_id, files: keys });
    }
    if let Some(files) = raw.data_files {
        let (account, name) = match raw.export_arn.as_deref().and_then(parse_export_arn) {
            Some((account, name)) => (Some(account), name),
            None => (None, raw.export_name.unwrap_or(file_stem)),
        };
        let export_id = match account {
            Some(account) => format!("export:{account}:{name}"),
            None => format!("export:{name}"),
        };
        let billing_period =
            period_from_value(raw.billing_period.as_ref()).or_else(|| period_from_key(key)).ok_or_else(|| {
                ErrorKind::Manifest("no billing period in the manifest or its BILLING_PERIOD= folder".into())
            })?;
        let delivery_id = raw.execution_id.ok_or_else(|| ErrorKind::Manifest("no `executionId`".into()))?;
        let files = files.iter().map(|f| bucket_relative(f).to_owned()).collect();
        return Ok(Manifest { kind: ManifestKind::DataExport, export_id, billing_period, delivery_id, files });
    }
    Err(ErrorKind::Manifest("neither `reportKeys` (legacy CUR) nor `dataFiles` (Data Exports) is present".into()))
}

/// `arn:aws:bcm-data-exports:us-east-1:123456789012:export/name-uuid` → (account, name-uuid's name).
fn parse_export_arn(arn: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let account = parts.get(4)?;
    let name = parts.get(5)?.strip_prefix("export/")?;
    Some(((*account).to_owned(), name.to_owned()))
}

/// `s3://bucket/key` → `key`; keys pass through.
pub fn bucket_relative(uri: &str) -> &str {
    match uri.strip_prefix("s3://") {
        Some(rest) => rest.split_once('/').map_or("", |(_, key)| key),
        None => uri.trim_start_matches('/'),
    }
}

fn period_from_value(value: Option<&serde_json::Value>) -> Option<BillingPeriod> {
    let text = match value? {
        serde_json::Value::String(s) => s.as_str(),
        serde_json::Value::Object(o) => o.get("start")?.as_str()?,
        _ => return None,
    };
    text.parse().ok().or_else(|| parse_timestamp_micros(text).and_then(BillingPeriod::of_micros))
}

fn period_from_key(key: &str) -> Option<BillingPeriod> {
    key.split('/').find_map(|part| part.strip_prefix("BILLING_PERIOD=")).and_then(|p| p.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_legacy_manifest() {
        let json = br#"{"assemblyId":"a1","account":"111122223333","reportName":"daily",
            "billingPeriod":{"start":"20240101T000000.000Z","end":"20240201T000000.000Z"},
            "reportKeys":["cur/daily/20240101-20240201/a1/daily-1.csv.gz"],"compression":"GZIP"}"#;
        let m = parse_manifest(json, "cur/daily/20240101-20240201/daily-Manifest.json").unwrap();
        assert_eq!(m.kind, ManifestKind::LegacyCur);
        assert_eq!(m.export_id, "cur:111122223333:daily");
        assert_eq!(m.billing_period.to_string(), "2024-01");
        assert_eq!(m.delivery_id, "a1");
    }

    #[test]
    fn parses_a_data_export_manifest() {
        let json =
            br#"{"executionId":"e9","exportArn":"arn:aws:bcm-data-exports:us-east-1:111122223333:export/focus-1",
            "dataFiles":["s3://bucket/p/focus/data/BILLING_PERIOD=2024-02/focus-00001.snappy.parquet"]}"#;
        let m = parse_manifest(json, "p/focus/metadata/BILLING_PERIOD=2024-02/focus-Manifest.json").unwrap();
        assert_eq!(m.export_id, "export:111122223333:focus-1");
        assert_eq!(m.billing_period.to_string(), "2024-02");
        assert_eq!(m.files, vec!["p/focus/data/BILLING_PERIOD=2024-02/focus-00001.snappy.parquet"]);
    }

    #[test]
    fn rejects_manifests_that_say_nothing() {
        assert!(parse_manifest(b"{}", "x-Manifest.json").unwrap_err().to_string().contains("reportKeys"));
        assert!(parse_manifest(b"{not json", "x-Manifest.json").unwrap_err().to_string().contains("JSON"));
    }
}
