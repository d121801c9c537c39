//! Attributing API Gateway charges: which API, stage, API type and charge component each
//! line belongs to.
//!
//! Classification works on the text of a line (resource id, usage type) and needs no
//! store access, so reports and later allocation share one set of rules.

pub mod classify;

pub use classify::{ApiLine, ApiType, ApiTypes, Component, classify_line, region_of_usage_type};
