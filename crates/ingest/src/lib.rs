//! Reading AWS billing exports — legacy CUR, CUR 2.0 and FOCUS, as Parquet or (gzip) CSV —
//! into the canonical line-item schema, and finding the files a manifest says are current.
//!
//! Reading streams: files are decoded a batch at a time with only the needed columns,
//! so memory stays flat whatever the file size.

mod canonical;
mod cur;
pub mod discover;
mod error;
mod focus;
mod format;
pub mod manifest;
mod plan;
mod read;
mod source;
mod status;
mod timestamp;

pub use canonical::FileContext;
pub use discover::{DiscoveredUnit, Discovery, ObjectInfo, plan_units};
pub use error::{ErrorKind, IngestError, Location};
pub use focus::service_code_for_name;
pub use format::ExportFormat;
pub use read::{BATCH_ROWS, Encoding, FileReader, open_csv_stream, open_file};
pub use status::{DataStatus, parse_data_status};
pub use timestamp::parse_timestamp_micros;
