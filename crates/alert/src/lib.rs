//! Alerts: which anomalies to announce (once each, again only when they grow, and when they
//! end), an outbox in the store so nothing is lost or sent twice, Slack digests within
//! Slack's limits, and delivery to incoming webhooks that honours rate limits.

pub mod digest;
pub mod outbox;
pub mod webhook;

pub use digest::{Message, digest};
pub use outbox::{Entry, EntryStatus, NoticeKind, Outbox, Policy};
pub use webhook::{DeliveryError, Webhook};
