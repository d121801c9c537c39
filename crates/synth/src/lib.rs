//! Deterministic generator of realistic AWS billing exports.
//!
//! One seeded model of an organisation (accounts, API Gateway APIs and stages, other
//! services, tax, credits, discounts, savings plans, fees) is written in every layout AWS
//! delivers — legacy CUR CSV (several assemblies a month) and Athena Parquet, CUR 2.0 and
//! FOCUS as Parquet or gzip CSV — each with its manifests, plus a truth file of what was
//! written. Lines stream to the writers, so it scales to tens of millions of rows.

mod columns;
pub mod corpus;
pub mod events;
mod layout;
mod model;
mod rng;
mod sink;
mod truth;

pub use layout::{DAYS_FOR_ANOMALIES, Labels, Layout, SynthConfig, SynthError, generate};
pub use model::Label;
pub use truth::{Truth, TruthRow};
