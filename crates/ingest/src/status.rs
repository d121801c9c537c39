//! The legacy CUR data-status flag: AWS writes `cost_and_usage_data_status.parquet` beside
//! Athena-integrated reports with `status` = `READY`, or `UPDATING` while it rewrites the
//! report. A report that is being rewritten must not be read.

use arrow_array::Array;
use arrow_array::cast::AsArray;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::ErrorKind;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataStatus {
    Ready,
    Updating,
    Other(String),
}

/// Reads the `status` value of a data-status Parquet file.
pub fn parse_data_status(bytes: Vec<u8>) -> Result<DataStatus, ErrorKind> {
    let parquet = |e: parquet::errors::ParquetError| ErrorKind::Parquet(e.to_string());
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .map_err(parquet)?
        .build()
        .map_err(parquet)?;
    for batch in reader {
        let batch = batch.map_err(|e| ErrorKind::Parquet(e.to_string()))?;
        let Some(column) = batch.column_by_name("status") else {
            return Err(ErrorKind::MissingColumn { format: "data status", column: "status".into() });
        };
        let text = arrow_cast::cast(column, &arrow_schema::DataType::Utf8).map_err(|e| ErrorKind::WrongType {
            column: "status".into(),
            found: e.to_string(),
            expected: "string",
        })?;
        let strings = text.as_string::<i32>();
        if let Some(value) = (0..strings.len()).find(|&i| strings.is_valid(i)).map(|i| strings.value(i)) {
            return Ok(match value.trim().to_ascii_uppercase().as_str() {
                "READY" => DataStatus::Ready,
                "UPDATING" => DataStatus::Updating,
                _ => DataStatus::Other(value.to_owned()),
            });
        }
    }
    Err(ErrorKind::BadValue { location: crate::Location::Row(1), column: "status".into(), problem: "no value".into() })
}
