//! Monitors: which spend is watched, split how, and how big a deviation must be to count.

use std::path::Path;

use serde::Deserialize;

/// The fields an observation carries; monitors split by some of them and root causes rank
/// values of the others.
pub const FIELDS: [&str; 10] =
    ["account", "region", "service", "usage_type", "operation", "api_id", "stage", "api_type", "component", "team"];

/// Fields root causes are ranked over (API and stage count as one, `api_id/stage`).
pub const ROOT_CAUSE_FIELDS: [&str; 5] = ["usage_type", "operation", "api_stage", "region", "account"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Combine {
    /// Both the dollar and the percentage thresholds must be met (AWS's usual choice).
    #[default]
    And,
    Or,
}

/// When a statistically unusual point is worth reporting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Minimum impact (actual − expected) in dollars, per day.
    pub min_impact: f64,
    /// Minimum impact as a percentage of expected.
    pub min_impact_pct: f64,
    pub combine: Combine,
}

fn default_min_impact() -> f64 {
    10.0
}

fn default_min_impact_pct() -> f64 {
    20.0
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { min_impact: default_min_impact(), min_impact_pct: default_min_impact_pct(), combine: Combine::And }
    }
}

impl Thresholds {
    /// Whether an impact passes. With nothing expected, the percentage is infinite.
    pub fn passes(&self, impact: f64, impact_pct: Option<f64>) -> bool {
        let dollars = impact >= self.min_impact;
        let percent = impact > 0.0 && impact_pct.is_none_or(|p| p >= self.min_impact_pct);
        match self.combine {
            Combine::And => dollars && percent,
            Combine::Or => dollars || percent,
        }
    }
}

/// One monitor: a service filter and the fields whose every distinct value is its own series.
#[derive(Debug, Clone, PartialEq)]
pub struct Monitor {
    pub name: String,
    /// A product code such as `AmazonApiGateway`; absent or `*` watches every service.
    pub service: Option<String>,
    pub dimensions: Vec<String>,
    pub thresholds: Thresholds,
}

/// A `[[monitor]]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MonitorTable {
    name: String,
    #[serde(default)]
    service: Option<String>,
    dimensions: Vec<String>,
    #[serde(default = "default_min_impact")]
    min_impact: f64,
    #[serde(default = "default_min_impact_pct")]
    min_impact_pct: f64,
    #[serde(default)]
    combine: Combine,
}

impl From<MonitorTable> for Monitor {
    fn from(t: MonitorTable) -> Monitor {
        let thresholds = Thresholds { min_impact: t.min_impact, min_impact_pct: t.min_impact_pct, combine: t.combine };
        Monitor { name: t.name, service: t.service, dimensions: t.dimensions, thresholds }
    }
}

impl Monitor {
    pub fn watches(&self, service: Option<&str>) -> bool {
        match self.service.as_deref() {
            None | Some("*") => true,
            Some(wanted) => service == Some(wanted),
        }
    }

    /// Whether this monitor needs allocated API Gateway fields (API, stage, team…).
    pub fn needs_allocation(&self) -> bool {
        self.dimensions.iter().any(|d| matches!(d.as_str(), "api_id" | "stage" | "api_type" | "component" | "team"))
    }
}

fn monitor(name: &str, service: Option<&str>, dimensions: &[&str]) -> Monitor {
    Monitor {
        name: name.to_owned(),
        service: service.map(str::to_owned),
        dimensions: dimensions.iter().map(|d| (*d).to_owned()).collect(),
        thresholds: Thresholds::default(),
    }
}

/// The default monitors: API Gateway per account, per API and stage, per team, per
/// component and account; and all usage per service and account.
pub fn default_monitors() -> Vec<Monitor> {
    let gateway = Some("AmazonApiGateway");
    vec![
        monitor("api-gateway-by-account", gateway, &["account"]),
        monitor("api-gateway-by-api-stage", gateway, &["api_id", "stage"]),
        monitor("api-gateway-by-team", gateway, &["team"]),
        monitor("api-gateway-by-component", gateway, &["account", "component"]),
        monitor("services-by-account", None, &["account", "service"]),
    ]
}

#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MonitorFile {
    #[serde(default, rename = "monitor")]
    monitors: Vec<MonitorTable>,
}

/// Reads `[[monitor]]` tables from a TOML file.
pub fn load_monitors(path: &Path) -> Result<Vec<Monitor>, MonitorError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| MonitorError::Io { path: shown.clone(), source })?;
    parse_monitors(&text).map_err(|message| MonitorError::Invalid { path: shown, message })
}

pub fn parse_monitors(text: &str) -> Result<Vec<Monitor>, String> {
    let file: MonitorFile = toml::from_str(text).map_err(|e| e.to_string())?;
    let monitors: Vec<Monitor> = file.monitors.into_iter().map(Monitor::from).collect();
    validate(&monitors)?;
    Ok(monitors)
}

pub fn validate(monitors: &[Monitor]) -> Result<(), String> {
    if monitors.is_empty() {
        return Err("no [[monitor]] defined".into());
    }
    let mut names = std::collections::BTreeSet::new();
    for m in monitors {
        if !names.insert(m.name.as_str()) {
            return Err(format!("monitor `{}` is defined twice", m.name));
        }
        if m.dimensions.is_empty() {
            return Err(format!(
                "monitor `{}`: `dimensions` is empty; name at least one of {}",
                m.name,
                FIELDS.join(", ")
            ));
        }
        if let Some(unknown) = m.dimensions.iter().find(|d| !FIELDS.contains(&d.as_str())) {
            return Err(format!("monitor `{}`: unknown dimension `{unknown}`; use {}", m.name, FIELDS.join(", ")));
        }
        if m.needs_allocation() && m.service.as_deref() != Some("AmazonApiGateway") {
            return Err(format!(
                "monitor `{}`: api_id, stage, api_type, component and team exist for service = \"AmazonApiGateway\" only",
                m.name
            ));
        }
        if m.thresholds.min_impact < 0.0 || m.thresholds.min_impact_pct < 0.0 {
            return Err(format!("monitor `{}`: thresholds cannot be negative", m.name));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_monitors_with_thresholds_and_rejects_mistakes() {
        let monitors = parse_monitors(
            r#"
            [[monitor]]
            name = "payments-apis"
            service = "AmazonApiGateway"
            dimensions = ["api_id", "stage"]
            min_impact = 50
            min_impact_pct = 10
            combine = "or"
            "#,
        )
        .unwrap();
        assert_eq!(monitors[0].thresholds.combine, Combine::Or);
        assert!(monitors[0].thresholds.passes(60.0, Some(5.0)));
        assert!(!Thresholds::default().passes(60.0, Some(5.0)));
        assert!(Thresholds::default().passes(12.0, None), "new spend has no percentage");

        let err = parse_monitors("[[monitor]]\nname = \"x\"\ndimensions = [\"colour\"]\n").unwrap_err();
        assert!(err.contains("unknown dimension `colour`"), "{err}");
        let err = parse_monitors("[[monitor]]\nname = \"x\"\ndimensions = [\"team\"]\n").unwrap_err();
        assert!(err.contains("AmazonApiGateway"), "{err}");
        assert!(validate(&default_monitors()).is_ok());
    }
}
