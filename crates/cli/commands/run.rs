//! `curwatch run`: the scheduled job — sync, detect, alert, report — and `config check`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use curwatch_alert::{DeliveryError, Outbox, Policy, Webhook, digest};
use curwatch_allocate::Rules;
use curwatch_anomaly::{Status, detect, judged_range};
use curwatch_source::S3Options;
use curwatch_store::Store;
use curwatch_sync::{Outcome, Silent, SyncOptions};
use serde_json::{Value, json};

use crate::args::RunArgs;
use crate::config::Config;
use crate::exit::ExitStatus;
use crate::lock::{LockError, lock_store};
use crate::log::{Log, print_stdout};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

pub(crate) fn check(file: &Path, log: &Log) -> anyhow::Result<ExitStatus> {
    let config = match Config::load(file, &env) {
        Ok(config) => config,
        Err(error) => {
            log.error(&error.into());
            return Ok(ExitStatus::BadConfig);
        }
    };
    let mut lines = vec![
        format!("{}: valid", file.display()),
        format!("store: {}", config.store.display()),
        format!("sources: {}", config.sources.locations.join(", ")),
        format!("reports: {}", config.reports.out.display()),
    ];
    if config.alerts.enabled {
        for route in config.alerts.routes(&env) {
            let line = match (&route.team, route.url) {
                (_, Err(problem)) => {
                    log.error(&anyhow::anyhow!("{}: {}: {problem}", file.display(), route.name));
                    return Ok(ExitStatus::BadConfig);
                }
                (None, Ok(Some(_))) => "alerts: Slack, default webhook set".to_owned(),
                (None, Ok(None)) => match &config.alerts.output {
                    Some(path) => format!("alerts: no webhook; payloads appended to {}", path.display()),
                    None => {
                        format!("alerts: no webhook (${} is unset); payloads printed", config.alerts.webhook_url_env)
                    }
                },
                (Some(team), Ok(Some(_))) => format!("alerts: team {team} has its own webhook"),
                (Some(team), Ok(None)) => {
                    format!("alerts: team {team}'s webhook is not set; its alerts go to the default only")
                }
            };
            lines.push(line);
        }
    } else {
        lines.push("alerts: disabled".into());
    }
    print_stdout(&format!("{}\n", lines.join("\n")))?;
    Ok(ExitStatus::Success)
}

pub(crate) fn run(args: &RunArgs, log: &Log) -> anyhow::Result<ExitStatus> {
    let config = match Config::load(&args.config, &env) {
        Ok(config) => config,
        Err(error) => {
            log.error(&error.into());
            return Ok(ExitStatus::BadConfig);
        }
    };
    let format = args.log_format.clone().unwrap_or_else(|| config.run.log_format.clone());
    if !["text", "json"].contains(&format.as_str()) {
        log.error(&anyhow::anyhow!("--log-format `{format}`: use text or json"));
        return Ok(ExitStatus::BadConfig);
    }
    let events = Events::new(format == "json", log.is_quiet());
    let store = Store::new(&config.store);
    std::fs::create_dir_all(store.root()).with_context(|| format!("creating the store {}", store.root().display()))?;
    let _lock = match lock_store(store.root(), Duration::from_secs(config.run.lock_wait_seconds)) {
        Ok(lock) => lock,
        Err(LockError::Busy(path)) => {
            events.error(
                "lock",
                &format!(
                    "another curwatch run holds {} and did not finish within {} s; this run did nothing",
                    path.display(),
                    config.run.lock_wait_seconds
                ),
                json!({}),
            );
            return Ok(ExitStatus::Busy);
        }
        Err(LockError::Io(error)) => return Err(error),
    };
    events.info(
        "start",
        "run started",
        json!({"store": store.root(), "sources": config.sources.locations.len(), "dry_run": args.dry_run}),
    );
    let rules = match &config.allocation.rules {
        Some(path) => Rules::load(path)?,
        None => Rules::default(),
    };
    let mut job = Job { config: &config, store: &store, events: &events, failed: false, summary: BTreeMap::new() };
    job.sync();
    if let Some((anomalies, as_of)) = job.detect(&rules)? {
        job.alert(&anomalies, as_of, args.dry_run)?;
    }
    job.reports(&rules)?;
    let ok = !job.failed;
    let summary = std::mem::take(&mut job.summary);
    events.summary(ok, summary);
    Ok(if ok { ExitStatus::Success } else { ExitStatus::Failure })
}

struct Job<'a> {
    config: &'a Config,
    store: &'a Store,
    events: &'a Events,
    failed: bool,
    summary: BTreeMap<&'static str, Value>,
}

impl Job<'_> {
    fn sync(&mut self) {
        let started = Instant::now();
        let s3 = S3Options {
            endpoint_url: self.config.s3.endpoint_url.clone(),
            force_path_style: self.config.s3.path_style,
            concurrency: self.config.s3.concurrency,
            max_attempts: self.config.s3.max_attempts,
        };
        let (mut synced, mut rows, mut unchanged, mut waiting, mut failed, mut downloads) = (0, 0u64, 0, 0, 0, 0);
        for location in &self.config.sources.locations {
            let report = curwatch_source::open(location, &s3).map_err(anyhow::Error::from).and_then(|source| {
                Ok(curwatch_sync::sync(source.as_ref(), self.store, SyncOptions::default(), &Silent)?)
            });
            let report = match report {
                Ok(report) => report,
                Err(error) => {
                    failed += 1;
                    self.events.error(
                        "sync",
                        &format!("{location}: {error:#}; the store is unchanged for it"),
                        json!({}),
                    );
                    continue;
                }
            };
            downloads += report.stats.data_downloads;
            for unit in &report.units {
                match &unit.outcome {
                    Outcome::Ingested(records) => {
                        synced += records.len();
                        rows += records.iter().map(|r| r.rows).sum::<u64>();
                    }
                    Outcome::Unchanged => unchanged += 1,
                    Outcome::Waiting(why) => {
                        waiting += 1;
                        self.events.warn("sync", &format!("{} waits: {why}", unit.label()), json!({}));
                    }
                    Outcome::Failed(error) => {
                        failed += 1;
                        self.events.error("sync", &format!("{error}; the store keeps its previous data"), json!({}));
                    }
                }
            }
        }
        self.failed |= failed > 0;
        self.summary.insert("periods_synced", json!(synced));
        self.summary.insert("rows", json!(rows));
        self.events.info(
            "sync",
            &format!(
                "{synced} period(s) synced ({rows} rows), {unchanged} unchanged, {waiting} waiting, {failed} failed"
            ),
            json!({"periods_synced": synced, "rows": rows, "unchanged": unchanged, "waiting": waiting, "failed": failed,
                   "data_downloads": downloads, "duration_ms": started.elapsed().as_millis() as u64}),
        );
    }

    /// Anomalies as of the latest data, kept in the store; `None` when there is no data.
    fn detect(&mut self, rules: &Rules) -> anyhow::Result<Option<(Vec<curwatch_anomaly::Anomaly>, chrono::NaiveDate)>> {
        let started = Instant::now();
        let monitors = super::observations::monitors(self.config.detection.monitors.as_deref())?;
        let Some((set, last)) = super::observations::series(self.store, rules, &monitors, false)? else {
            self.events.warn("detect", "the store holds no billing data yet", json!({}));
            return Ok(None);
        };
        let first = set.first_day.expect("a set built from data");
        let (as_of, judged) = judged_range(first, last, None, set.slots_per_day);
        let anomalies = detect(&set, &monitors, &curwatch_anomaly::params_for(&set), judged);
        let new = super::observations::remember(self.store, &anomalies, as_of)?;
        let ongoing = anomalies.iter().filter(|a| a.status != Status::Resolved).count();
        let resolved = anomalies.iter().filter(|a| a.status == Status::Resolved).count();
        self.summary.insert("anomalies_new", json!(new));
        self.summary.insert("anomalies_ongoing", json!(ongoing));
        self.summary.insert("anomalies_resolved", json!(resolved));
        self.events.info(
            "detect",
            &format!(
                "{} series judged through {}: {new} new, {ongoing} open or ongoing, {resolved} resolved anomalies",
                set.series.len(),
                as_of.pred_opt().unwrap_or(as_of)
            ),
            json!({"series": set.series.len(), "data_through": as_of, "anomalies": anomalies.len(), "new": new,
                   "ongoing": ongoing, "resolved": resolved, "duration_ms": started.elapsed().as_millis() as u64}),
        );
        Ok(Some((anomalies, as_of)))
    }

    fn alert(
        &mut self,
        anomalies: &[curwatch_anomaly::Anomaly],
        as_of: chrono::NaiveDate,
        dry_run: bool,
    ) -> anyhow::Result<()> {
        let alerts = &self.config.alerts;
        if !alerts.enabled {
            self.events.info("alert", "alerts are disabled", json!({}));
            return Ok(());
        }
        let started = Instant::now();
        let mut outbox = Outbox::load(self.store)?;
        // Webhooks by route; a route without one goes to the output file or stdout.
        let mut hooks: BTreeMap<String, Webhook> = BTreeMap::new();
        let timeout = Duration::from_secs(alerts.timeout_seconds);
        let mut team_routes = Vec::new();
        for route in alerts.routes(&env) {
            match route.url {
                Ok(Some(url)) => {
                    hooks.insert(route.name.clone(), Webhook::new(&route.name, url, timeout, alerts.max_attempts));
                    team_routes.extend(route.team);
                }
                Ok(None) => {
                    if let Some(team) = route.team {
                        self.events.warn(
                            "alert",
                            &format!("team {team}: no webhook set; default channel only"),
                            json!({}),
                        );
                    }
                }
                Err(problem) => {
                    self.failed = true;
                    self.events.error("alert", &format!("{} webhook: {problem}", route.name), json!({}));
                }
            }
        }
        let routes = |team: Option<&str>| {
            let mut routes = vec!["default".to_owned()];
            if let Some(team) = team.filter(|t| team_routes.iter().any(|r| r == t)) {
                routes.push(format!("team:{team}"));
            }
            routes
        };
        let policy = Policy { growth_factor: alerts.growth_factor, max_age_days: alerts.max_age_days };
        let queued = outbox.enqueue(anomalies, as_of, &policy, &routes, &now());
        if !dry_run {
            outbox.save(self.store)?;
        }

        let mut by_route: BTreeMap<String, Vec<curwatch_alert::Entry>> = BTreeMap::new();
        for entry in outbox.pending() {
            by_route.entry(entry.route.clone()).or_default().push(entry.clone());
        }
        let (mut sent, mut messages) = (0, 0);
        for (route, entries) in by_route {
            let refs: Vec<&curwatch_alert::Entry> = entries.iter().collect();
            for message in digest(&route, &refs, as_of) {
                if dry_run {
                    print_stdout(&format!("{}\n", json!({"route": route, "payload": message.payload})))?;
                    continue;
                }
                let delivered =
                    match hooks.get_mut(&route) {
                        Some(hook) => hook.send(&message.payload),
                        None if route == "default" => self.sink(&message.payload).map_err(|e| {
                            DeliveryError::Transient { route: route.clone(), attempts: 1, problem: e.to_string() }
                        }),
                        // A team route whose webhook went away: its notices wait for it.
                        None => break,
                    };
                match delivered {
                    Ok(()) => {
                        outbox.mark_sent(&message.keys, &now());
                        sent += message.keys.len();
                        messages += 1;
                        outbox.save(self.store)?;
                    }
                    Err(error) => {
                        outbox.mark_failed(&message.keys, &error.to_string());
                        outbox.save(self.store)?;
                        self.failed = true;
                        self.events.error(
                            "alert",
                            &format!("{error}; the alerts stay pending for the next run"),
                            json!({}),
                        );
                        break;
                    }
                }
            }
        }
        let pending = if dry_run { 0 } else { outbox.pending().count() };
        self.summary.insert("alerts_sent", json!(sent));
        self.summary.insert("alerts_pending", json!(pending));
        self.events.info(
            "alert",
            &format!("{queued} notice(s) queued, {sent} sent in {messages} message(s), {pending} pending"),
            json!({"queued": queued, "sent": sent, "messages": messages, "pending": pending, "dry_run": dry_run,
                   "duration_ms": started.elapsed().as_millis() as u64}),
        );
        Ok(())
    }

    /// Without a webhook: append the payload to the output file, or print it.
    fn sink(&self, payload: &Value) -> anyhow::Result<()> {
        match &self.config.alerts.output {
            Some(path) => {
                use std::io::Write;
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("opening {}", path.display()))?;
                writeln!(file, "{payload}").with_context(|| format!("writing {}", path.display()))
            }
            None => print_stdout(&format!("{payload}\n")),
        }
    }

    /// Per-team showback for the latest month, rewritten only when the store or the rules changed.
    fn reports(&mut self, rules: &Rules) -> anyhow::Result<()> {
        let started = Instant::now();
        let Some(month) = self.store.periods()?.last().copied() else { return Ok(()) };
        let out = &self.config.reports.out;
        let partitions = self.store.read_state("partitions.json")?.unwrap_or_default();
        let rules_text = self.config.allocation.rules.as_ref().and_then(|p| std::fs::read(p).ok()).unwrap_or_default();
        let fingerprint = format!(
            "{:016x}",
            fnv(&[&partitions, &rules_text, month.to_string().as_bytes(), out.display().to_string().as_bytes()])
        );
        // A run state this version cannot parse only means the reports are rewritten.
        let previous: Value = match self.store.read_json_state(RUN_STATE) {
            Ok(state) => state.unwrap_or(Value::Null),
            Err(curwatch_store::StoreError::StageState { .. }) => Value::Null,
            Err(e) => return Err(e.into()),
        };
        if previous["reports_fingerprint"] == fingerprint.as_str() && out.join("README.md").exists() {
            self.summary.insert("reports_written", json!(0));
            self.events.info(
                "reports",
                "nothing changed since the last run; reports left as they are",
                json!({"written": 0}),
            );
            return Ok(());
        }
        let teams = super::report::write_showback(self.store, month, rules, out)?;
        let state =
            json!({"reports_fingerprint": fingerprint, "reports_month": month.to_string(), "written_at": now()});
        self.store.write_json_state(RUN_STATE, &state)?;
        self.summary.insert("reports_written", json!(teams));
        self.events.info(
            "reports",
            &format!("showback for {teams} team(s), {month}, written to {}", out.display()),
            json!({"teams": teams, "month": month.to_string(), "out": out, "duration_ms": started.elapsed().as_millis() as u64}),
        );
        Ok(())
    }
}

/// What the last run wrote, so an unchanged store is not reported on again.
const RUN_STATE: &str = "run.json";

fn fnv(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.iter().chain(b"\x00") {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The run's log: human lines, or one JSON object per line, on stderr.
struct Events {
    json: bool,
    quiet: bool,
    run_id: String,
    started: Instant,
}

impl Events {
    fn new(json: bool, quiet: bool) -> Events {
        let run_id = format!("{}-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"), std::process::id());
        Events { json, quiet, run_id, started: Instant::now() }
    }

    fn info(&self, phase: &str, message: &str, fields: Value) {
        self.emit("info", phase, message, fields);
    }

    fn warn(&self, phase: &str, message: &str, fields: Value) {
        self.emit("warn", phase, message, fields);
    }

    fn error(&self, phase: &str, message: &str, fields: Value) {
        self.emit("error", phase, message, fields);
    }

    fn summary(&self, ok: bool, counts: BTreeMap<&'static str, Value>) {
        let text = counts.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
        let mut fields: serde_json::Map<String, Value> = counts.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        fields.insert("ok".into(), json!(ok));
        fields.insert("duration_ms".into(), json!(self.started.elapsed().as_millis() as u64));
        // The summary is printed even with --quiet: a failed run must be loud.
        let level = if ok { "info" } else { "error" };
        self.write(
            level,
            "summary",
            &format!("run {}: {text}", if ok { "finished" } else { "FAILED" }),
            Value::Object(fields),
            true,
        );
    }

    fn emit(&self, level: &str, phase: &str, message: &str, fields: Value) {
        self.write(level, phase, message, fields, level == "error");
    }

    #[allow(clippy::print_stderr)]
    fn write(&self, level: &str, phase: &str, message: &str, fields: Value, always: bool) {
        if self.quiet && !always {
            return;
        }
        if self.json {
            let mut object =
                json!({"ts": now(), "run_id": self.run_id, "level": level, "phase": phase, "message": message});
            if let (Some(target), Value::Object(extra)) = (object.as_object_mut(), fields) {
                target.extend(extra);
            }
            eprintln!("{object}");
        } else {
            eprintln!("{level}: [{phase}] {message}");
        }
    }
}
