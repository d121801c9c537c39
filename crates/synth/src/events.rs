//! Labelled events: anomalies a detector must catch and ordinary changes it must not
//! flag. The same events shape the generated billing exports (`synth --anomalies`) and
//! the series corpus `curwatch eval` scores detectors on.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Clients retrying in a loop: requests multiply for a day or three.
    RetryStorm,
    /// A new client: a lasting step up in traffic.
    NewClient,
    /// Spend creeping up over two or three weeks, then staying.
    GradualDrift,
    /// Responses grow: data transfer out multiplies for some days.
    DataTransferBlowup,
    /// WebSocket connections left open: connection minutes ramp up and stay.
    WebsocketConnectionLeak,
    /// A public holiday: traffic dips. Not an anomaly.
    HolidayDip,
}

impl EventKind {
    pub const ANOMALIES: [EventKind; 5] = [
        EventKind::RetryStorm,
        EventKind::NewClient,
        EventKind::GradualDrift,
        EventKind::DataTransferBlowup,
        EventKind::WebsocketConnectionLeak,
    ];

    pub fn is_anomaly(self) -> bool {
        self != EventKind::HolidayDip
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::RetryStorm => "retry_storm",
            EventKind::NewClient => "new_client",
            EventKind::GradualDrift => "gradual_drift",
            EventKind::DataTransferBlowup => "data_transfer_blowup",
            EventKind::WebsocketConnectionLeak => "websocket_connection_leak",
            EventKind::HolidayDip => "holiday_dip",
        }
    }

    /// Whether the change stays after the labelled window (a step or a ramp).
    fn lasts(self) -> bool {
        matches!(self, EventKind::NewClient | EventKind::GradualDrift | EventKind::WebsocketConnectionLeak)
    }

    /// Whether it builds up over its window rather than starting at full size.
    fn ramps(self) -> bool {
        matches!(self, EventKind::GradualDrift | EventKind::WebsocketConnectionLeak)
    }
}

/// One event on the usage it affects.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub kind: EventKind,
    pub start: NaiveDate,
    /// Length of the labelled window in days (a ramp's length; a step's first week).
    pub days: u32,
    /// The multiplier on the affected usage at full size.
    pub magnitude: f64,
}

impl Event {
    /// Last day of the labelled window.
    pub fn end(&self) -> NaiveDate {
        self.start + chrono::Days::new(u64::from(self.days.max(1) - 1))
    }

    /// The multiplier on the affected usage on `day`.
    pub fn factor(&self, day: NaiveDate) -> f64 {
        if day < self.start {
            return 1.0;
        }
        let elapsed = (day - self.start).num_days() as f64;
        if !self.kind.lasts() && elapsed >= f64::from(self.days) {
            return 1.0;
        }
        let progress = if self.kind.ramps() { ((elapsed + 1.0) / f64::from(self.days.max(1))).min(1.0) } else { 1.0 };
        1.0 + (self.magnitude - 1.0) * progress
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_last_spikes_end_ramps_build() {
        let day = |d: u32| NaiveDate::from_ymd_opt(2024, 3, d).unwrap();
        let storm = Event { kind: EventKind::RetryStorm, start: day(10), days: 2, magnitude: 4.0 };
        assert_eq!(
            [storm.factor(day(9)), storm.factor(day(10)), storm.factor(day(11)), storm.factor(day(12))],
            [1.0, 4.0, 4.0, 1.0]
        );
        let drift = Event { kind: EventKind::GradualDrift, start: day(10), days: 4, magnitude: 2.0 };
        assert_eq!([drift.factor(day(10)), drift.factor(day(13)), drift.factor(day(30))], [1.25, 2.0, 2.0]);
        assert_eq!(drift.end(), day(13));
    }
}
