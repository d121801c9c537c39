//! Attributing API Gateway charges to APIs, stages, API types, charge components and teams,
//! with every cent accounted for.
//!
//! - `classify`: API id, stage, API type and component from resource ARNs and usage types.
//! - `rules`: the rules file — owner tag, ordered rules, account owners, shared-cost policy.
//! - `engine`: ownership per line shape; shared lines split exactly; totals kept to reconcile.
//! - `lines`: the two passes over the store's API Gateway lines, fingerprinted on every core.
//! - `split`: largest-remainder division that conserves every unit of money.

pub mod classify;
mod engine;
mod glob;
mod lines;
pub mod rules;
pub mod split;

pub use classify::{ApiLine, ApiType, ApiTypes, Component, PairClassifier, classify_line, region_of_usage_type};
pub use engine::{
    AllocateError, AllocatedRow, AllocatedRowRef, Allocation, Costs, Granularity, UNALLOCATED, allocate, allocate_each,
};
pub use rules::{Rules, RulesError};
