//! The scheduled job end to end, with a real HTTP server standing in for Slack.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use crate::util::slack::{Reply, Slack, TOKEN};
use crate::util::{Env, describe, fixture};

struct Job {
    env: Env,
    config: PathBuf,
    slack: Slack,
}

/// What varies between tests' configurations.
struct Settings {
    max_attempts: u32,
    timeout_seconds: u64,
    lock_wait_seconds: u64,
    extra: &'static str,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { max_attempts: 3, timeout_seconds: 2, lock_wait_seconds: 0, extra: "" }
    }
}

impl Job {
    fn new(settings: Settings) -> Job {
        let env = Env::new();
        let config = env.path("curwatch.toml");
        let text = format!(
            r#"store = "{store}"

[sources]
locations = ["{source}"]

[alerts]
webhook_url_env = "TEST_SLACK_WEBHOOK"
max_age_days = 30
max_attempts = {attempts}
timeout_seconds = {timeout}
{extra}

[reports]
out = "reports"

[run]
lock_wait_seconds = {lock}
"#,
            store = env.store().display(),
            source = fixture("anomalies").display(),
            attempts = settings.max_attempts,
            timeout = settings.timeout_seconds,
            lock = settings.lock_wait_seconds,
            extra = settings.extra,
        );
        std::fs::write(&config, text).unwrap();
        Job { env, config, slack: Slack::start() }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_curwatch"));
        cmd.args(["run", "--log-format", "json", "--config"]).arg(&self.config);
        cmd.env("TEST_SLACK_WEBHOOK", &self.slack.url)
            .env_remove("CURWATCH_STORE")
            .env_remove("CURWATCH_SLACK_WEBHOOK_URL");
        cmd
    }

    fn run(&self) -> Output {
        let out = self.command().output().expect("curwatch runs");
        self.assert_no_secret(&out);
        out
    }

    /// Output, logs, the store's state and the reports never hold the webhook's token.
    fn assert_no_secret(&self, out: &Output) {
        for text in [String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)] {
            assert!(!text.contains(TOKEN) && !text.contains("/services/"), "webhook URL in output:\n{text}");
        }
        for (path, bytes) in crate::util::snapshot(self.env.dir.path()) {
            assert!(!String::from_utf8_lossy(&bytes).contains(TOKEN), "webhook URL in {}", path.display());
        }
    }
}

/// The JSON log line of `phase` (the last one).
fn log_line(out: &Output, phase: &str) -> Value {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .rfind(|v| v["phase"] == phase)
        .unwrap_or_else(|| panic!("no `{phase}` line:\n{}", describe(out)))
}

fn assert_within_slack_limits(payload: &Value) {
    let text = payload["text"].as_str().expect("a plain-text fallback");
    assert!(!text.is_empty() && text.chars().count() <= 4_000);
    let blocks = payload["blocks"].as_array().expect("Block Kit blocks");
    assert!(blocks.len() <= 50, "{} blocks", blocks.len());
    assert_eq!(blocks[0]["type"], "header");
    assert!(blocks[0]["text"]["text"].as_str().unwrap().chars().count() <= 150);
    for block in blocks.iter().filter(|b| b["type"] == "section") {
        let section = block["text"]["text"].as_str().unwrap();
        assert!(section.chars().count() <= 3_000);
        assert!(section.contains(" expected (") && section.contains("_Why: "), "{section}");
    }
}

#[test]
fn a_run_delivers_one_digest_and_a_second_run_sends_nothing() {
    let job = Job::new(Settings::default());
    let out = job.run();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let summary = log_line(&out, "summary");
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["periods_synced"], 3, "{summary}");
    let sent = summary["alerts_sent"].as_u64().unwrap();
    assert!(sent >= 5, "{summary}");
    assert_eq!(summary["alerts_pending"], 0);
    let delivered = job.slack.accepted();
    assert_eq!(delivered.len(), 1, "one digest");
    assert_within_slack_limits(&delivered[0]);
    let sections = delivered[0]["blocks"].as_array().unwrap().iter().filter(|b| b["type"] == "section").count();
    assert_eq!(sections as u64, sent, "one section per notice");
    let text = delivered[0]["text"].as_str().unwrap();
    assert!(text.contains("api_id ") && text.contains("Top causes: usage_type"), "{text}");
    assert!(job.env.path("reports/README.md").exists(), "team reports written");
    for phase in ["start", "sync", "detect", "alert", "reports"] {
        let line = log_line(&out, phase);
        assert!(line["run_id"].is_string() && line["ts"].is_string(), "{line}");
    }

    let again = job.run();
    assert_eq!(again.status.code(), Some(0), "{}", describe(&again));
    let summary = log_line(&again, "summary");
    assert_eq!((summary["periods_synced"].as_u64(), summary["alerts_sent"].as_u64()), (Some(0), Some(0)), "{summary}");
    assert_eq!(summary["reports_written"], 0);
    assert_eq!(log_line(&again, "sync")["data_downloads"], 0);
    assert_eq!(job.slack.received().len(), 1, "nothing re-sent");
}

#[test]
fn throttling_and_server_errors_are_retried_honouring_retry_after() {
    let job = Job::new(Settings::default());
    job.slack.script(&[Reply::Status(500, "rollup_error"), Reply::RateLimited { retry_after: 2 }]);
    let out = job.run();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let received = job.slack.received();
    assert_eq!(received.len(), 3, "500, 429, then accepted");
    assert_eq!(job.slack.accepted().len(), 1);
    let waited = received[2].at - received[1].at;
    assert!(waited >= Duration::from_millis(1_900), "Retry-After: 2 honoured, waited {waited:?}");
    assert_eq!(received[0].payload, received[2].payload, "the same message, retried");
}

#[test]
fn a_permanent_refusal_is_reported_and_the_alerts_wait_for_the_next_run() {
    let job = Job::new(Settings::default());
    job.slack.script(&[Reply::Status(400, "invalid_payload")]);
    let out = job.run();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("HTTP 400 `invalid_payload`") && stderr.contains("route `default`"), "{stderr}");
    assert_eq!(job.slack.received().len(), 1, "a 4xx is not retried");
    let summary = log_line(&out, "summary");
    assert_eq!(summary["ok"], false);
    assert!(summary["alerts_pending"].as_u64().unwrap() > 0);

    let next = job.run();
    assert_eq!(next.status.code(), Some(0), "{}", describe(&next));
    assert_eq!(job.slack.accepted().len(), 1, "delivered once, by the next run");
    assert_eq!(log_line(&next, "summary")["alerts_pending"], 0);
    job.run();
    assert_eq!(job.slack.received().len(), 2, "and never again");
}

#[test]
fn an_outage_then_recovery_delivers_everything_once() {
    let job = Job::new(Settings { max_attempts: 2, ..Settings::default() });
    job.slack.script(&[Reply::Status(503, "service_unavailable"), Reply::Status(503, "service_unavailable")]);
    let out = job.run();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("after 2 attempt(s)"), "{}", describe(&out));
    let pending = log_line(&out, "summary")["alerts_pending"].as_u64().unwrap();
    assert!(pending > 0);

    let next = job.run();
    assert_eq!(next.status.code(), Some(0), "{}", describe(&next));
    assert_eq!(log_line(&next, "summary")["alerts_sent"].as_u64(), Some(pending));
    assert_eq!(job.slack.accepted().len(), 1);
}

#[test]
fn a_slack_that_never_answers_times_out_and_a_removed_webhook_is_named() {
    let job = Job::new(Settings { max_attempts: 1, timeout_seconds: 1, ..Settings::default() });
    job.slack.script(&[Reply::Hang(Duration::from_secs(4))]);
    let out = job.run();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("timed out"), "{}", describe(&out));

    job.slack.script(&[Reply::Status(404, "no_service")]);
    let out = job.run();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HTTP 404 `no_service`"), "{}", describe(&out));
    assert!(job.slack.accepted().is_empty());
}

#[test]
fn a_concurrent_run_waits_briefly_then_gives_up_cleanly() {
    let job = Job::new(Settings::default());
    // The first run is held up by a slow Slack, so it keeps the lock for a while.
    job.slack.script(&[Reply::Hang(Duration::from_secs(3))]);
    let first = job.command().spawn().expect("first run starts");
    std::thread::sleep(Duration::from_millis(1_500));
    let second = job.run();
    assert_eq!(second.status.code(), Some(3), "{}", describe(&second));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("another curwatch run holds") && stderr.contains(".lock"), "{stderr}");
    let first = first.wait_with_output().unwrap();
    job.assert_no_secret(&first);
    assert_eq!(first.status.code(), Some(0), "the timed-out post was retried: {}", describe(&first));
    assert_eq!(job.slack.accepted().len(), 1);

    // The run that gave up changed nothing; the next one has nothing new, and the store is whole.
    let third = job.run();
    assert_eq!(third.status.code(), Some(0), "{}", describe(&third));
    assert_eq!(job.slack.received().len(), 2, "the hung attempt and its retry, nothing more");
    let reconcile = job.env.run(&["reconcile"]);
    assert_eq!(reconcile.status.code(), Some(0), "{}", describe(&reconcile));
}

#[test]
fn team_routes_get_their_own_digest() {
    let job = Job::new(Settings {
        extra: "\n[[alerts.team]]\nteam = \"payments\"\nwebhook_url_env = \"TEST_SLACK_PAYMENTS\"\n",
        ..Settings::default()
    });
    let payments = Slack::start();
    let out = job.command().env("TEST_SLACK_PAYMENTS", &payments.url).output().unwrap();
    job.assert_no_secret(&out);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let team = payments.accepted();
    assert_eq!(team.len(), 1);
    assert_within_slack_limits(&team[0]);
    let sections: Vec<&str> = team[0]["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "section")
        .map(|b| b["text"]["text"].as_str().unwrap())
        .collect();
    assert!(!sections.is_empty() && sections.iter().all(|s| s.contains("team *payments*")), "{sections:?}");
    let everything = job.slack.accepted();
    assert!(
        everything[0]["blocks"].as_array().unwrap().len() > team[0]["blocks"].as_array().unwrap().len(),
        "the default channel gets all"
    );
}

#[test]
fn dry_run_prints_the_payloads_and_sends_nothing() {
    let job = Job::new(Settings::default());
    let out = job.command().arg("--dry-run").output().unwrap();
    job.assert_no_secret(&out);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let printed: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(printed.len(), 1);
    assert_within_slack_limits(&printed[0]["payload"]);
    assert!(job.slack.received().is_empty());
    let real = job.run();
    assert_eq!(real.status.code(), Some(0));
    assert_eq!(job.slack.accepted()[0], printed[0]["payload"], "the real run sends what the dry run showed");
}

#[test]
fn configuration_errors_are_precise_and_exit_2() {
    let env = Env::new();
    let config = env.path("bad.toml");
    std::fs::write(&config, "store = \"s\"\n[sources]\nlocations = []\n[reports]\nout = \"r\"\n").unwrap();
    let out = env.run(&["config", "check", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bad.toml: [sources] locations is empty"),
        "{}",
        describe(&out)
    );

    std::fs::write(&config, "store = \"s\"\n[sources]\nlocations = [\"x\"]\nlocatoins = 1\n[reports]\nout = \"r\"\n")
        .unwrap();
    let out = env.run(&["config", "check", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("locatoins"), "{}", describe(&out));

    let job = Job::new(Settings::default());
    let out = job.command().env("CURWATCH_ALERTS_GROWTH_FACTOR", "0.5").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("growth_factor = 0.5"), "{}", describe(&out));

    let mut check = Command::new(env!("CARGO_BIN_EXE_curwatch"));
    let out =
        check.args(["config", "check"]).arg(&job.config).env("TEST_SLACK_WEBHOOK", &job.slack.url).output().unwrap();
    job.assert_no_secret(&out);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("alerts: Slack, default webhook set"));
}
