//! The outbox: every notice is written to `state/outbox.json` before it is sent and marked
//! sent only after Slack accepted it, so a run that cannot reach Slack leaves it pending for
//! the next, and a notice is never queued twice.

use std::collections::HashMap;

use chrono::NaiveDate;
use curwatch_anomaly::{Anomaly, Status};
use curwatch_store::{Store, StoreError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoticeKind {
    /// First announcement of an anomaly.
    New,
    /// An ongoing anomaly whose impact grew past the configured factor.
    Grown,
    /// An announced anomaly that ended.
    Resolved,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryStatus {
    Pending,
    Sent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// `<anomaly id>:<kind>[:<n>]@<route>`: what makes a notice unique.
    pub key: String,
    pub anomaly_id: String,
    pub kind: NoticeKind,
    /// `default` or `team:<name>`: which webhook, by name (never the URL).
    pub route: String,
    pub team: Option<String>,
    /// The anomaly as it was when the notice was queued.
    pub anomaly: Anomaly,
    pub status: EntryStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub queued_at: String,
    pub sent_at: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outbox {
    pub version: u32,
    pub entries: Vec<Entry>,
}

/// When to announce.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Announce an ongoing anomaly again when its impact reaches this multiple of the
    /// impact last announced.
    pub growth_factor: f64,
    /// Never announce anomalies that ended more than this many days before the run's day
    /// (the first run over a year of history is not a year of alerts).
    pub max_age_days: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy { growth_factor: 1.5, max_age_days: 7 }
    }
}

const FILE: &str = "outbox.json";

impl Outbox {
    pub fn load(store: &Store) -> Result<Outbox, StoreError> {
        Ok(store.read_json_state(FILE)?.unwrap_or(Outbox { version: 1, entries: Vec::new() }))
    }

    /// Written whole or not at all, like the store's own state.
    pub fn save(&self, store: &Store) -> Result<(), StoreError> {
        store.write_json_state(FILE, self)
    }

    pub fn pending(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| e.status == EntryStatus::Pending)
    }

    /// Queues what `anomalies` call for on `routes` (a route per team that has one, and
    /// `default`); returns how many notices were added.
    pub fn enqueue(
        &mut self,
        anomalies: &[Anomaly],
        as_of: NaiveDate,
        policy: &Policy,
        routes: &dyn Fn(Option<&str>) -> Vec<String>,
        now: &str,
    ) -> usize {
        // The outbox only grows: index it once rather than scanning it per anomaly and route.
        let mut history: HashMap<(&str, &str), Vec<&Entry>> = HashMap::new();
        for entry in &self.entries {
            history.entry((entry.anomaly_id.as_str(), entry.route.as_str())).or_default().push(entry);
        }
        let mut added = Vec::new();
        for anomaly in anomalies {
            let team = anomaly.dimensions.iter().find(|(k, _)| k == "team").map(|(_, v)| v.clone());
            for route in routes(team.as_deref()) {
                let mine = history.get(&(anomaly.id.as_str(), route.as_str())).map_or(&[][..], Vec::as_slice);
                let announced = mine.iter().rfind(|e| e.kind != NoticeKind::Resolved).map(|e| e.anomaly.impact);
                // An anomaly first announced when already over needs no separate "resolved".
                let resolved_noted =
                    mine.iter().any(|e| e.kind == NoticeKind::Resolved || e.anomaly.status == Status::Resolved);
                let grown_count = mine.iter().filter(|e| e.kind == NoticeKind::Grown).count();
                let recent = (as_of - anomaly.end).num_days() <= i64::from(policy.max_age_days);
                let kind = match announced {
                    None if recent => Some((NoticeKind::New, format!("{}:new", anomaly.id))),
                    None => None,
                    Some(_) if anomaly.status == Status::Resolved && !resolved_noted => {
                        Some((NoticeKind::Resolved, format!("{}:resolved", anomaly.id)))
                    }
                    Some(last)
                        if anomaly.status != Status::Resolved && anomaly.impact >= policy.growth_factor * last =>
                    {
                        Some((NoticeKind::Grown, format!("{}:grown:{}", anomaly.id, grown_count + 1)))
                    }
                    Some(_) => None,
                };
                if let Some((kind, key)) = kind {
                    added.push(Entry {
                        key: format!("{key}@{route}"),
                        anomaly_id: anomaly.id.clone(),
                        kind,
                        route: route.clone(),
                        team: team.clone(),
                        anomaly: anomaly.clone(),
                        status: EntryStatus::Pending,
                        attempts: 0,
                        last_error: None,
                        queued_at: now.to_owned(),
                        sent_at: None,
                    });
                }
            }
        }
        let count = added.len();
        self.entries.extend(added);
        count
    }

    pub fn mark_sent(&mut self, keys: &[String], now: &str) {
        for entry in self.entries.iter_mut().filter(|e| keys.contains(&e.key)) {
            entry.status = EntryStatus::Sent;
            entry.attempts += 1;
            entry.last_error = None;
            entry.sent_at = Some(now.to_owned());
        }
    }

    pub fn mark_failed(&mut self, keys: &[String], error: &str) {
        for entry in self.entries.iter_mut().filter(|e| keys.contains(&e.key)) {
            entry.attempts += 1;
            entry.last_error = Some(error.to_owned());
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn anomaly(id: &str, impact: f64, api: String) -> Anomaly {
        let day = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
        Anomaly {
            id: id.into(),
            monitor: "api-gateway-by-api-stage".into(),
            dimensions: vec![("api_id".into(), api), ("team".into(), "payments".into())],
            start: day,
            end: day,
            peak: day,
            peak_impact: impact,
            expected: 100.0,
            actual: 100.0 + impact,
            impact,
            impact_pct: Some(impact),
            severity: 0.9,
            signals: vec![curwatch_anomaly::Signal::Spike],
            status: Status::Open,
            root_causes: Vec::new(),
            start_hour: None,
            end_hour: None,
        }
    }

    pub(crate) fn entry(anomaly: &Anomaly) -> Entry {
        let mut outbox = Outbox::default();
        outbox.enqueue(
            std::slice::from_ref(anomaly),
            anomaly.end,
            &Policy::default(),
            &|_| vec!["default".into()],
            "t",
        );
        outbox.entries.remove(0)
    }

    #[test]
    fn announces_once_again_when_grown_and_when_resolved() {
        let routes = |team: Option<&str>| {
            let mut r = vec!["default".to_owned()];
            r.extend(team.map(|t| format!("team:{t}")));
            r
        };
        let policy = Policy { growth_factor: 1.5, max_age_days: 7 };
        let mut a = anomaly("an-1", 100.0, "a1".into());
        let day = a.end;
        let mut outbox = Outbox::default();
        assert_eq!(outbox.enqueue(&[a.clone()], day, &policy, &routes, "t"), 2, "default and the team's route");
        assert_eq!(outbox.enqueue(&[a.clone()], day, &policy, &routes, "t"), 0, "never twice");
        a.status = Status::Ongoing;
        a.impact = 140.0;
        assert_eq!(outbox.enqueue(&[a.clone()], day, &policy, &routes, "t"), 0, "grew, but not past 1.5 ×");
        a.impact = 151.0;
        assert_eq!(outbox.enqueue(&[a.clone()], day, &policy, &routes, "t"), 2);
        assert!(outbox.entries.iter().any(|e| e.key == "an-1:grown:1@default"));
        a.impact = 200.0;
        assert_eq!(
            outbox.enqueue(&[a.clone()], day, &policy, &routes, "t"),
            0,
            "measured against the last announcement"
        );
        a.status = Status::Resolved;
        assert_eq!(outbox.enqueue(&[a.clone()], day, &policy, &routes, "t"), 2);
        assert_eq!(outbox.enqueue(&[a.clone()], day, &policy, &routes, "t"), 0);

        let old = anomaly("an-old", 500.0, "a2".into());
        let later = old.end + chrono::Days::new(8);
        assert_eq!(outbox.enqueue(&[old], later, &policy, &routes, "t"), 0, "too old to announce");
        let mut gone = anomaly("an-2", 50.0, "a3".into());
        gone.status = Status::Resolved;
        assert_eq!(outbox.enqueue(&[gone.clone()], day, &policy, &routes, "t"), 2);
        assert_eq!(
            outbox.enqueue(&[gone], day, &policy, &routes, "t"),
            0,
            "announced as over already: no separate resolved"
        );

        let keys: Vec<String> = outbox.pending().map(|e| e.key.clone()).collect();
        outbox.mark_sent(&keys[..1], "t2");
        assert_eq!(outbox.pending().count(), keys.len() - 1);
    }
}
