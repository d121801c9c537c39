//! Attributing API Gateway charges to APIs, stages, API types, charge components and teams,
//! with every cent accounted for.
//!
//! - `classify`: API id, stage, API type and component from resource ARNs and usage types.
//! - `rules`: the rules file — owner tag, ordered rules, account owners, shared-cost policy.
//! - `engine`: one streaming pass over the store; ownership per line; shared lines split exactly.
//! - `split`: largest-remainder division that conserves every unit of money.

pub mod classify;
mod engine;
mod glob;
pub mod rules;
pub mod split;

pub use classify::{ApiLine, ApiType, ApiTypes, Component, classify_line, region_of_usage_type};
pub use engine::{AllocateError, AllocatedRow, Allocation, Costs, UNALLOCATED, allocate, allocate_each};
pub use rules::{Rules, RulesError};
