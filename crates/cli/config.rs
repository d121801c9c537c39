//! `curwatch run`'s configuration: a TOML file, any value overridable by a `CURWATCH_*`
//! environment variable, secrets only by reference (an environment variable or a file).

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Keys that `CURWATCH_<SECTION>_<KEY>` may override (`store` is `CURWATCH_STORE`).
pub(crate) const OVERRIDABLE: [&str; 19] = [
    "store",
    "sources.locations",
    "s3.endpoint_url",
    "s3.path_style",
    "s3.concurrency",
    "s3.max_attempts",
    "allocation.rules",
    "detection.monitors",
    "alerts.webhook_url_env",
    "alerts.webhook_url_file",
    "alerts.growth_factor",
    "alerts.max_age_days",
    "alerts.timeout_seconds",
    "alerts.max_attempts",
    "alerts.output",
    "reports.out",
    "run.lock_wait_seconds",
    "run.log_format",
    "alerts.enabled",
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    pub store: PathBuf,
    pub sources: Sources,
    #[serde(default)]
    pub s3: S3,
    #[serde(default)]
    pub allocation: Allocation,
    #[serde(default)]
    pub detection: Detection,
    #[serde(default)]
    pub alerts: Alerts,
    pub reports: Reports,
    #[serde(default)]
    pub run: Run,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Sources {
    pub locations: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct S3 {
    pub endpoint_url: Option<String>,
    #[serde(default)]
    pub path_style: bool,
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    #[serde(default = "default_s3_attempts")]
    pub max_attempts: u32,
}

impl Default for S3 {
    fn default() -> Self {
        S3 {
            endpoint_url: None,
            path_style: false,
            concurrency: default_concurrency(),
            max_attempts: default_s3_attempts(),
        }
    }
}

fn default_concurrency() -> usize {
    4
}
fn default_s3_attempts() -> u32 {
    5
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Allocation {
    /// Rules file (docs/allocation.md); tags and account mappings alone otherwise.
    pub rules: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Detection {
    /// Monitors file (`[[monitor]]` tables); the five defaults otherwise.
    pub monitors: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Alerts {
    /// Set false to detect without notifying anyone.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Environment variable holding the default Slack webhook URL.
    #[serde(default = "default_webhook_env")]
    pub webhook_url_env: String,
    /// A file holding the default webhook URL (a mounted secret); wins over the variable.
    pub webhook_url_file: Option<PathBuf>,
    #[serde(default)]
    pub team: Vec<TeamRoute>,
    /// Announce an ongoing anomaly again when its impact reaches this multiple.
    #[serde(default = "default_growth")]
    pub growth_factor: f64,
    /// Never announce anomalies that ended longer ago than this.
    #[serde(default = "default_max_age")]
    pub max_age_days: u32,
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    #[serde(default = "default_alert_attempts")]
    pub max_attempts: u32,
    /// Without a webhook, payloads are appended here (JSON lines) instead of printed.
    pub output: Option<PathBuf>,
}

impl Default for Alerts {
    fn default() -> Self {
        Alerts {
            enabled: true,
            webhook_url_env: default_webhook_env(),
            webhook_url_file: None,
            team: Vec::new(),
            growth_factor: default_growth(),
            max_age_days: default_max_age(),
            timeout_seconds: default_timeout(),
            max_attempts: default_alert_attempts(),
            output: None,
        }
    }
}

fn yes() -> bool {
    true
}
fn default_webhook_env() -> String {
    "CURWATCH_SLACK_WEBHOOK_URL".into()
}
fn default_growth() -> f64 {
    1.5
}
fn default_max_age() -> u32 {
    7
}
fn default_timeout() -> u64 {
    10
}
fn default_alert_attempts() -> u32 {
    4
}

/// A team's own webhook, in addition to the default channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TeamRoute {
    pub team: String,
    pub webhook_url_env: Option<String>,
    pub webhook_url_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Reports {
    /// Per-team showback (Markdown and CSV) for the latest month goes here.
    pub out: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Run {
    /// How long a run waits for another to finish before giving up.
    #[serde(default = "default_lock_wait")]
    pub lock_wait_seconds: u64,
    /// `text` or `json` (one object per line, for log collectors).
    #[serde(default = "default_log_format")]
    pub log_format: String,
}

impl Default for Run {
    fn default() -> Self {
        Run { lock_wait_seconds: default_lock_wait(), log_format: default_log_format() }
    }
}

fn default_lock_wait() -> u64 {
    10
}
fn default_log_format() -> String {
    "text".into()
}

#[derive(Debug, thiserror::Error)]
#[error("{path}: {problem}")]
pub(crate) struct ConfigError {
    pub path: String,
    pub problem: String,
}

impl Config {
    /// Reads `path`, applies `CURWATCH_*` overrides from `env`, and validates. Relative
    /// paths in the file are relative to the file's folder.
    pub(crate) fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let fail = |problem: String| ConfigError { path: shown.clone(), problem };
        let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))?;
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| fail(e.to_string()))?;
        let mut overridden = Vec::new();
        for key in OVERRIDABLE {
            let var = format!("CURWATCH_{}", key.replace('.', "_").to_ascii_uppercase());
            if let Some(value) = env(&var) {
                set(&mut table, key, &value).map_err(|problem| fail(format!("{var}: {problem}")))?;
                overridden.push(key);
            }
        }
        let mut config: Config = table.try_into().map_err(|e: toml::de::Error| fail(e.to_string()))?;
        // Paths written in the file are relative to it; paths from the environment, to the
        // working directory, as on a command line.
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve_paths(base, &overridden);
        config.validate().map_err(fail)?;
        Ok(config)
    }

    fn resolve_paths(&mut self, base: &Path, overridden: &[&str]) {
        let fix = |key: &str, p: &mut PathBuf| {
            if p.is_relative() && !overridden.contains(&key) {
                *p = base.join(&*p);
            }
        };
        fix("store", &mut self.store);
        fix("reports.out", &mut self.reports.out);
        if let Some(p) = self.allocation.rules.as_mut() {
            fix("allocation.rules", p);
        }
        if let Some(p) = self.detection.monitors.as_mut() {
            fix("detection.monitors", p);
        }
        if let Some(p) = self.alerts.webhook_url_file.as_mut() {
            fix("alerts.webhook_url_file", p);
        }
        if let Some(p) = self.alerts.output.as_mut() {
            fix("alerts.output", p);
        }
        for route in &mut self.alerts.team {
            if let Some(p) = route.webhook_url_file.as_mut() {
                fix("", p);
            }
        }
        if !overridden.contains(&"sources.locations") {
            for location in &mut self.sources.locations {
                if !location.starts_with("s3://") && Path::new(location).is_relative() {
                    *location = base.join(&*location).display().to_string();
                }
            }
        }
    }

    fn validate(&self) -> Result<(), String> {
        if self.sources.locations.is_empty() {
            return Err("[sources] locations is empty: name at least one s3://bucket/prefix or folder".into());
        }
        if self.alerts.growth_factor.is_nan() || self.alerts.growth_factor < 1.0 {
            return Err(format!("[alerts] growth_factor = {}: must be at least 1", self.alerts.growth_factor));
        }
        if !["text", "json"].contains(&self.run.log_format.as_str()) {
            return Err(format!("[run] log_format = \"{}\": use \"text\" or \"json\"", self.run.log_format));
        }
        if self.s3.concurrency == 0 || self.s3.max_attempts == 0 || self.alerts.max_attempts == 0 {
            return Err("s3.concurrency, s3.max_attempts and alerts.max_attempts must be at least 1".into());
        }
        for route in &self.alerts.team {
            if route.webhook_url_env.is_none() && route.webhook_url_file.is_none() {
                return Err(format!("[[alerts.team]] `{}`: give webhook_url_env or webhook_url_file", route.team));
            }
        }
        if let Some(monitors) = &self.detection.monitors {
            curwatch_anomaly::load_monitors(monitors).map_err(|e| format!("[detection] monitors: {e}"))?;
        }
        if let Some(rules) = &self.allocation.rules {
            curwatch_allocate::Rules::load(rules).map_err(|e| format!("[allocation] rules: {e}"))?;
        }
        Ok(())
    }
}

/// Sets `section.key` in `table` from an environment value: TOML syntax when it parses as a
/// value (numbers, booleans, arrays), a plain string otherwise; lists may be comma-separated.
fn set(table: &mut toml::Table, key: &str, raw: &str) -> Result<(), String> {
    let value = match format!("v = {raw}").parse::<toml::Table>() {
        Ok(mut parsed) => parsed.remove("v").expect("just set"),
        Err(_) => toml::Value::String(raw.to_owned()),
    };
    // Sources may be listed as `a,b` rather than TOML's `["a", "b"]`.
    let value = match (key, value) {
        ("sources.locations", toml::Value::String(list)) => {
            toml::Value::Array(list.split(',').map(|s| toml::Value::String(s.trim().to_owned())).collect())
        }
        (_, value) => value,
    };
    let mut parts = key.split('.').peekable();
    let mut current = table;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            current.insert(part.to_owned(), value);
            return Ok(());
        }
        let next = current.entry(part.to_owned()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = next.as_table_mut().ok_or_else(|| format!("`{part}` is not a table in the file"))?;
    }
    Ok(())
}

/// One alert destination: `default`, or `team:<name>` for a team's own channel.
pub(crate) struct Route {
    pub name: String,
    pub team: Option<String>,
    /// The webhook URL (never logged), none configured, or why it cannot be read.
    pub url: Result<Option<String>, String>,
}

impl Alerts {
    /// The default route, then one per configured team, with their webhooks resolved.
    pub(crate) fn routes(&self, env: &dyn Fn(&str) -> Option<String>) -> Vec<Route> {
        let default = Route {
            name: "default".into(),
            team: None,
            url: webhook_url(Some(&self.webhook_url_env), self.webhook_url_file.as_deref(), env),
        };
        let teams = self.team.iter().map(|route| Route {
            name: format!("team:{}", route.team),
            team: Some(route.team.clone()),
            url: webhook_url(route.webhook_url_env.as_deref(), route.webhook_url_file.as_deref(), env),
        });
        std::iter::once(default).chain(teams).collect()
    }
}

/// The webhook URL behind a reference, or why there is none. Never logged.
fn webhook_url(
    env_name: Option<&str>,
    file: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>, String> {
    if let Some(file) = file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read the webhook file {}: {e}", file.display()))?;
        let url = text.trim().to_owned();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(format!("the webhook file {} does not hold an http(s) URL", file.display()));
        }
        return Ok(Some(url));
    }
    match env_name.and_then(|name| env(name).map(|v| (name, v))) {
        Some((name, url)) if !(url.starts_with("https://") || url.starts_with("http://")) => {
            Err(format!("${name} does not hold an http(s) URL"))
        }
        Some((_, url)) => Ok(Some(url.trim().to_owned())),
        None => Ok(None),
    }
}
