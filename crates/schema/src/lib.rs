//! The canonical line-item model every other curwatch crate speaks.
//!
//! Readers turn each billing-export format into batches of this schema, the store
//! persists it, and allocation, detection and reports read it back. `docs/schema.md`
//! is the user-facing description of the same contract.

pub mod charge_class;
pub mod columns;
pub mod intern;
pub mod money;
pub mod naming;
pub mod period;

pub use charge_class::ChargeClass;
pub use columns::{canonical_batch_schema, canonical_schema};
pub use money::Money;
pub use period::BillingPeriod;
