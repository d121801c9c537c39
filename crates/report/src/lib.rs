//! Reports over the store: cost grouped by any dimensions, exactly summed, rendered as a
//! terminal table, CSV, JSON or Markdown.

mod aggregate;
mod allocation;
mod api_gateway;
mod compare;
mod dimension;
pub mod economics;
pub mod render;
mod showback;

pub use aggregate::{Metric, Report, ReportError, ReportRequest, ReportRow, run_report};
pub use allocation::{Reconciliation, reconcile};
pub use compare::compare;
pub use dimension::{DIMENSION_NAMES, Dimension};
pub use render::{Cell, OutputFormat, Table};
pub use showback::{TeamShowback, showback};
