//! End-to-end tests: each runs the `curwatch` binary as a user would.

mod allocation;
mod anomalies;
mod api_gateway;
mod bad_input;
mod economics;
mod ingest;
mod query;
mod report;
mod run;
mod s3;
mod util;
