//! One Slack digest per route and run: a header, a section per anomaly (team, API/stage,
//! actual vs expected, impact in dollars and percent, top causes, a short why), resolved
//! anomalies noted — Block Kit with a plain-text fallback, split to stay within Slack's
//! limits (50 blocks a message, 3,000 characters a section, 150 a header).

use chrono::NaiveDate;
use curwatch_anomaly::{Anomaly, Signal, signed_dollars};
use serde_json::{Value, json};

use crate::outbox::{Entry, NoticeKind};

/// Sections per message, leaving room for the header and context blocks.
const SECTIONS_PER_MESSAGE: usize = 45;
const SECTION_CHARS: usize = 3_000;
const TEXT_CHARS: usize = 4_000;
const HEADER_CHARS: usize = 150;

/// One webhook POST.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub route: String,
    /// The outbox entries this message delivers.
    pub keys: Vec<String>,
    pub payload: Value,
}

/// The digest messages for `entries` (all of one route), in order.
pub fn digest(route: &str, entries: &[&Entry], as_of: NaiveDate) -> Vec<Message> {
    let count = |kind: NoticeKind| entries.iter().filter(|e| e.kind == kind).count();
    let summary = format!(
        "curwatch: {} new, {} growing, {} resolved anomal{} (data through {as_of})",
        count(NoticeKind::New),
        count(NoticeKind::Grown),
        count(NoticeKind::Resolved),
        if entries.len() == 1 { "y" } else { "ies" }
    );
    let chunks: Vec<&[&Entry]> = entries.chunks(SECTIONS_PER_MESSAGE).collect();
    chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            let title = if chunks.len() > 1 { format!("{summary} — part {} of {}", i + 1, chunks.len()) } else { summary.clone() };
            let mut blocks = vec![json!({"type": "header", "text": {"type": "plain_text", "text": clip(&title, HEADER_CHARS)}})];
            let mut text = format!("{title}\n");
            for entry in chunk.iter() {
                let section = section_text(entry);
                blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": clip(&section, SECTION_CHARS)}}));
                text.push_str(&format!("• {}\n", curwatch_anomaly::explain(&entry.anomaly)));
            }
            blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": "curwatch · usage charges only · `curwatch anomalies` for details"}]}));
            Message {
                route: route.to_owned(),
                keys: chunk.iter().map(|e| e.key.clone()).collect(),
                payload: json!({"text": clip(&text, TEXT_CHARS), "blocks": blocks}),
            }
        })
        .collect()
}

fn section_text(entry: &Entry) -> String {
    let a = &entry.anomaly;
    let label = match entry.kind {
        NoticeKind::New => ":rotating_light: *New anomaly*",
        NoticeKind::Grown => ":chart_with_upwards_trend: *Still growing*",
        NoticeKind::Resolved => ":white_check_mark: *Resolved*",
    };
    let team = entry.team.as_deref().map(|t| format!(" · team *{}*", escape(t))).unwrap_or_default();
    let what = a.dimensions.iter().map(|(k, v)| format!("{k} `{}`", escape(v))).collect::<Vec<_>>().join(" ");
    let pct = a.impact_pct.map_or_else(|| "new spend".to_owned(), |p| format!("{p:+.0}%"));
    let span = if a.start == a.end { a.start.to_string() } else { format!("{} → {}", a.start, a.end) };
    let mut text = format!(
        "{label}{team} · {what}\n*${:.2}* vs ${:.2} expected (*{pct}*, {}) · {span} · {} · {}\n",
        a.actual,
        a.expected,
        signed_dollars(a.impact),
        a.status.as_str(),
        escape(&a.monitor),
    );
    if !a.root_causes.is_empty() {
        let causes: Vec<String> = a
            .root_causes
            .iter()
            .take(3)
            .map(|c| format!("{} `{}` {}", c.dimension, escape(&c.value), signed_dollars(c.impact)))
            .collect();
        text.push_str(&format!("Top causes: {}\n", causes.join(", ")));
    }
    text.push_str(&format!("_Why: {}_", why(a)));
    text
}

/// A short reason a person can check.
fn why(a: &Anomaly) -> &'static str {
    if a.signals.contains(&Signal::NewSpend) {
        "spend appeared where there was none, or jumped while history is short"
    } else if a.signals.contains(&Signal::Drift) && !a.signals.contains(&Signal::Spike) {
        "a sustained rise above the trend of the previous weeks"
    } else if a.signals.contains(&Signal::Drift) {
        "a jump that has held, above both the last week and the longer trend"
    } else {
        "far above the usual spend for this weekday in the last weeks"
    }
}

/// Slack mrkdwn control characters.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn clip(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(limit - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::tests::{anomaly, entry};

    #[test]
    fn long_digests_split_within_slack_limits() {
        let entries: Vec<Entry> =
            (0..100).map(|i| entry(&anomaly(&format!("an-{i}"), 100.0, "x".repeat(5_000)))).collect();
        let refs: Vec<&Entry> = entries.iter().collect();
        let messages = digest("default", &refs, NaiveDate::from_ymd_opt(2024, 3, 5).unwrap());
        assert_eq!(messages.len(), 3);
        let mut keys = Vec::new();
        for (i, message) in messages.iter().enumerate() {
            let blocks = message.payload["blocks"].as_array().unwrap();
            assert!(blocks.len() <= 50);
            let header = blocks[0]["text"]["text"].as_str().unwrap();
            assert!(header.ends_with(&format!("part {} of 3", i + 1)) && header.chars().count() <= 150, "{header}");
            for block in &blocks[1..blocks.len() - 1] {
                assert!(block["text"]["text"].as_str().unwrap().chars().count() <= 3_000);
            }
            assert!(message.payload["text"].as_str().unwrap().chars().count() <= 4_000);
            keys.extend(message.keys.clone());
        }
        assert_eq!(keys, entries.iter().map(|e| e.key.clone()).collect::<Vec<_>>(), "every notice once, in order");
    }
}
