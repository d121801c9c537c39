//! Delivery to one Slack incoming webhook: at most one message a second, 429 waits for
//! `Retry-After`, 5xx and timeouts retry with backoff, other 4xx are permanent and reported
//! with Slack's error text. The URL is a secret: it never appears in an error.

use std::time::{Duration, Instant};

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Slack refused the message (e.g. 400 `invalid_payload`, 404 `no_service`); retrying
    /// will not help until something is fixed.
    #[error("Slack refused the message on route `{route}`: HTTP {status} `{text}`")]
    Permanent { route: String, status: u16, text: String },
    /// Still failing after every attempt (5xx, timeouts, connection errors, rate limits).
    #[error("Slack did not accept the message on route `{route}` after {attempts} attempt(s): {problem}")]
    Transient { route: String, attempts: u32, problem: String },
}

pub struct Webhook {
    route: String,
    url: String,
    agent: ureq::Agent,
    max_attempts: u32,
    /// Longest wait honoured for a `Retry-After`.
    max_wait: Duration,
    last_sent: Option<Instant>,
}

impl Webhook {
    /// `route` names the webhook in messages; `url` is never shown.
    pub fn new(route: &str, url: String, timeout: Duration, max_attempts: u32) -> Webhook {
        let agent: ureq::Agent =
            ureq::Agent::config_builder().timeout_global(Some(timeout)).http_status_as_error(false).build().into();
        Webhook {
            route: route.to_owned(),
            url,
            agent,
            max_attempts: max_attempts.max(1),
            max_wait: Duration::from_secs(60),
            last_sent: None,
        }
    }

    /// Posts one message, pacing and retrying as Slack asks.
    pub fn send(&mut self, payload: &Value) -> Result<(), DeliveryError> {
        let body = payload.to_string();
        let mut problem = String::new();
        for attempt in 1..=self.max_attempts {
            self.pace();
            self.last_sent = Some(Instant::now());
            let result = self.agent.post(&self.url).header("Content-Type", "application/json").send(body.as_str());
            let wait = match result {
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok());
                    let text = response.body_mut().read_to_string().unwrap_or_default();
                    let text = text.trim().chars().take(200).collect::<String>();
                    match status {
                        200..=299 => return Ok(()),
                        429 => {
                            problem = format!("HTTP 429 rate limited `{text}`");
                            Duration::from_secs(retry_after.unwrap_or(1)).min(self.max_wait)
                        }
                        500..=599 => {
                            problem = format!("HTTP {status} `{text}`");
                            backoff(attempt)
                        }
                        _ => return Err(DeliveryError::Permanent { route: self.route.clone(), status, text }),
                    }
                }
                Err(error) => {
                    problem = describe(&error);
                    backoff(attempt)
                }
            };
            if attempt < self.max_attempts {
                std::thread::sleep(wait);
            }
        }
        Err(DeliveryError::Transient { route: self.route.clone(), attempts: self.max_attempts, problem })
    }

    /// At most one message a second per webhook.
    fn pace(&self) {
        if let Some(last) = self.last_sent {
            let since = last.elapsed();
            if since < Duration::from_secs(1) {
                std::thread::sleep(Duration::from_secs(1) - since);
            }
        }
    }
}

/// What went wrong, without the URL (ureq's own messages may contain it).
fn describe(error: &ureq::Error) -> String {
    match error {
        ureq::Error::Timeout(kind) => format!("timed out ({kind:?})"),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        ureq::Error::Io(e) => format!("network error: {:?}", e.kind()),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => "TLS error".into(),
        ureq::Error::BadUri(_) => "the webhook URL is not a valid URL".into(),
        _ => "the request failed".into(),
    }
}

/// 1 s, 2 s, 4 s … up to 30 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.saturating_sub(1).min(5)).min(Duration::from_secs(30))
}
