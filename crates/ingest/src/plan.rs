//! Per-file read plan: which columns to read and how to map them, chosen from the header.

use arrow_array::RecordBatch;

use crate::canonical::FileContext;
use crate::cur::CurPlan;
use crate::error::ErrorKind;
use crate::focus::FocusPlan;
use crate::format::ExportFormat;
use crate::source::RawBatch;

#[derive(Debug, Clone)]
pub(crate) enum Plan {
    Cur(CurPlan),
    Focus(FocusPlan),
}

impl Plan {
    pub fn for_columns(columns: &[String]) -> Result<(ExportFormat, Plan), ErrorKind> {
        let format = ExportFormat::detect(columns.iter().map(String::as_str))?;
        let plan = match format {
            ExportFormat::Focus => Plan::Focus(FocusPlan::new(columns)?),
            cur => Plan::Cur(CurPlan::new(cur, columns)?),
        };
        Ok((format, plan))
    }

    pub fn wanted(&self) -> &[String] {
        match self {
            Plan::Cur(plan) => plan.wanted(),
            Plan::Focus(plan) => plan.wanted(),
        }
    }

    pub fn canonicalize(&self, raw: &RawBatch, ctx: &FileContext) -> Result<RecordBatch, ErrorKind> {
        match self {
            Plan::Cur(plan) => plan.canonicalize(raw, ctx),
            Plan::Focus(plan) => plan.canonicalize(raw, ctx),
        }
    }
}
