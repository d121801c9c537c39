//! Backoff for the retries curwatch makes itself: bodies that break off after the SDK
//! has handed over the response (the SDK retries the request, not the body).

use std::time::Duration;

/// Exponential backoff with full jitter: uniform in [0, min(20 s, 200 ms · 2^attempt)].
pub(super) fn backoff(attempt: u32) -> Duration {
    let cap = Duration::from_millis(200u64.saturating_mul(1 << attempt.min(10))).min(Duration::from_secs(20));
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let fraction = f64::from(seed % 1000) / 1000.0;
    cap.mul_f64(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 1..20 {
            let cap = Duration::from_millis(200 << attempt.min(10)).min(Duration::from_secs(20));
            assert!(backoff(attempt) <= cap, "attempt {attempt}");
        }
    }
}
