//! Reading the store back: projected, period-pruned streams of canonical batches.

use std::fs::File;
use std::path::PathBuf;

use arrow_array::RecordBatch;
use curwatch_schema::BillingPeriod;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use crate::error::StoreError;

/// Inclusive range of billing periods to read; open ends read everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeriodRange {
    pub from: Option<BillingPeriod>,
    pub to: Option<BillingPeriod>,
}

impl PeriodRange {
    pub const ALL: PeriodRange = PeriodRange { from: None, to: None };

    pub fn only(period: BillingPeriod) -> Self {
        PeriodRange { from: Some(period), to: Some(period) }
    }

    pub fn contains(&self, period: BillingPeriod) -> bool {
        self.from.is_none_or(|f| period >= f) && self.to.is_none_or(|t| period <= t)
    }
}

/// A stream of batches over the selected partitions, one file at a time.
pub struct Scan {
    files: std::vec::IntoIter<PathBuf>,
    columns: Vec<String>,
    current: Option<(PathBuf, ParquetRecordBatchReader)>,
}

impl Scan {
    pub(crate) fn new(files: Vec<PathBuf>, columns: &[&str]) -> Self {
        Scan { files: files.into_iter(), columns: columns.iter().map(|c| (*c).to_owned()).collect(), current: None }
    }

    fn open_next(&mut self) -> Option<Result<(), StoreError>> {
        let path = self.files.next()?;
        let result = (|| {
            let file = File::open(&path).map_err(StoreError::io(&path))?;
            let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(StoreError::parquet(&path))?;
            let fields = builder.schema().fields();
            let mut roots = Vec::with_capacity(self.columns.len());
            for name in &self.columns {
                let index = fields.iter().position(|f| f.name() == name).ok_or_else(|| StoreError::Parquet {
                    path: path.clone(),
                    message: format!("no column `{name}`; the store was written by another version"),
                })?;
                roots.push(index);
            }
            let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
            let reader =
                builder.with_projection(mask).with_batch_size(64 * 1024).build().map_err(StoreError::parquet(&path))?;
            self.current = Some((path, reader));
            Ok(())
        })();
        Some(result)
    }
}

impl Iterator for Scan {
    type Item = Result<RecordBatch, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((path, reader)) = &mut self.current {
                match reader.next() {
                    Some(Ok(batch)) => return Some(Ok(batch)),
                    Some(Err(e)) => {
                        return Some(Err(StoreError::Parquet { path: path.clone(), message: e.to_string() }));
                    }
                    None => self.current = None,
                }
            }
            if let Err(e) = self.open_next()? {
                return Some(Err(e));
            }
        }
    }
}
