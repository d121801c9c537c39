//! Files written beside a partition file from the same rows — its daily summary and its API
//! Gateway shapes — and linked to it by an id that both footers carry.
//!
//! The summary's id is a fingerprint of its content. The shapes are read back from the
//! finished partition file, after its footer, so theirs is a fingerprint of what they are
//! summed from: the bytes of the file's API Gateway row groups, taken as they are written. A
//! companion is moved into place before its partition file, so after an interrupted commit, or
//! beside a file that has since been replaced, the ids differ and readers fall back to the
//! lines: a reader never mixes generations.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use twox_hash::XxHash3_128;

use crate::error::StoreError;
use crate::layout::{GATEWAY_SHAPES, LINE_ITEMS, SUMMARIES};

/// One kind of companion file: where it lives and the footer key of its id.
pub(crate) struct Companion {
    folder: &'static str,
    id_key: &'static str,
}

/// Cost per day and low-cardinality column (see `summary`).
pub(crate) const DAILY_SUMMARY: Companion = Companion { folder: SUMMARIES, id_key: "curwatch.summary_id" };

/// API Gateway lines summed per shape over the month (see `shapes`).
pub(crate) const SHAPES: Companion = Companion { folder: GATEWAY_SHAPES, id_key: "curwatch.gateway_shapes_id" };

impl Companion {
    /// Where the companion of `partition_file` lives: its folder in place of `line_items/`.
    pub(crate) fn path(&self, root: &Path, partition_file: &Path) -> Option<PathBuf> {
        let relative = partition_file.strip_prefix(root.join(LINE_ITEMS)).ok()?;
        Some(root.join(self.folder).join(relative))
    }

    /// The footer entry that links a partition file to this companion.
    pub(crate) fn link(&self, id: &str) -> KeyValue {
        KeyValue::new(self.id_key.to_owned(), id.to_owned())
    }

    /// Writes the companion as Parquet, in row groups of up to `row_group_rows`, with its id
    /// in the footer (after the rows' schema).
    pub(crate) fn write(
        &self,
        path: &Path,
        schema: SchemaRef,
        batches: impl IntoIterator<Item = Result<RecordBatch, StoreError>>,
        row_group_rows: usize,
        id: &str,
    ) -> Result<(), StoreError> {
        let file = File::create(path).map_err(StoreError::io(path))?;
        let properties = WriterProperties::builder().set_max_row_group_row_count(Some(row_group_rows)).build();
        let mut writer = ArrowWriter::try_new(file, schema, Some(properties)).map_err(StoreError::parquet(path))?;
        for batch in batches {
            writer.write(&batch?).map_err(StoreError::parquet(path))?;
        }
        writer.append_key_value_metadata(self.link(id));
        writer.close().map_err(StoreError::parquet(path))?;
        Ok(())
    }

    /// The file to read for `partition_file` when the companion can answer: the companion if
    /// it was made from this very file, else the file itself.
    pub(crate) fn current(&self, root: &Path, partition_file: &Path) -> PathBuf {
        let linked = || -> Option<PathBuf> {
            let companion = self.path(root, partition_file)?;
            let id_of = |path: &Path| -> Option<String> {
                let reader = SerializedFileReader::new(File::open(path).ok()?).ok()?;
                let metadata = reader.metadata().file_metadata().key_value_metadata()?;
                metadata.iter().find(|kv| kv.key == self.id_key)?.value.clone()
            };
            let companion_id = id_of(&companion)?;
            (id_of(partition_file)? == companion_id).then_some(companion)
        };
        linked().unwrap_or_else(|| partition_file.to_owned())
    }
}

/// A companion's id: the fingerprint (XXH3-128) of its content, hashed as it is walked rather
/// than buffered. Texts are length-prefixed (`u32::MAX` for none), so parts never run into
/// each other.
#[derive(Default)]
pub(crate) struct ContentId {
    hasher: XxHash3_128,
}

impl ContentId {
    pub(crate) fn text(&mut self, value: Option<&str>) -> &mut Self {
        let length = value.map_or(u32::MAX, |v| v.len() as u32);
        self.hasher.write(&length.to_le_bytes());
        self.hasher.write(value.unwrap_or_default().as_bytes());
        self
    }

    pub(crate) fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.hasher.write(bytes);
        self
    }

    pub(crate) fn finish(&self) -> String {
        format!("{:032x}", self.hasher.finish_128())
    }
}
