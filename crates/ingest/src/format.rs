//! The export formats curwatch reads, told apart by their columns.

use std::fmt;

use crate::error::ErrorKind;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExportFormat {
    /// Legacy Cost and Usage Report (CUR 1), CSV or Athena Parquet.
    LegacyCur,
    /// CUR 2.0 from AWS Data Exports: fixed snake_case columns plus map columns.
    Cur2,
    /// FinOps FOCUS 1.0–1.2.
    Focus,
}

impl ExportFormat {
    pub fn label(self) -> &'static str {
        match self {
            ExportFormat::LegacyCur => "legacy CUR",
            ExportFormat::Cur2 => "CUR 2.0",
            ExportFormat::Focus => "FOCUS",
        }
    }

    /// Decides the format from (normalised) column names.
    pub fn detect<'a>(columns: impl IntoIterator<Item = &'a str> + Clone) -> Result<Self, ErrorKind> {
        let has = |name: &str| columns.clone().into_iter().any(|c| c == name);
        if has("BilledCost") || has("ChargePeriodStart") {
            return Ok(ExportFormat::Focus);
        }
        if has("line_item_unblended_cost") {
            let cur2 = ["resource_tags", "product", "cost_category", "bill_payer_account_name"];
            return Ok(if cur2.iter().any(|c| has(c)) { ExportFormat::Cur2 } else { ExportFormat::LegacyCur });
        }
        let names: Vec<&str> = columns.into_iter().collect();
        let shown: Vec<&str> = names.iter().take(6).copied().collect();
        let found = if names.is_empty() {
            "no columns".to_owned()
        } else {
            format!(
                "{} column(s) starting `{}`{}",
                names.len(),
                shown.join("`, `"),
                if names.len() > shown.len() { ", …" } else { "" }
            )
        };
        Err(ErrorKind::UnknownFormat { found })
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_format() {
        let legacy = ["line_item_unblended_cost", "resource_tags_user_team"];
        assert_eq!(ExportFormat::detect(legacy).unwrap(), ExportFormat::LegacyCur);
        assert_eq!(ExportFormat::detect(["line_item_unblended_cost", "resource_tags"]).unwrap(), ExportFormat::Cur2);
        assert_eq!(ExportFormat::detect(["BilledCost", "Tags"]).unwrap(), ExportFormat::Focus);
        let err = ExportFormat::detect(["a", "b"]).unwrap_err().to_string();
        assert!(err.contains("BilledCost") && err.contains("`a`, `b`"), "{err}");
    }
}
