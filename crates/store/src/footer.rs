//! A partition file's footer, kept compact while its row groups are written.
//!
//! Parquet's own file writer keeps every row group's metadata to the end: about 600 bytes a
//! column chunk, its index slots included, which came to 5.7 MB at the end of a 40M-line month
//! (351 row groups of 26 chunks) and grew with the month. The store writes its column chunks
//! itself, so it keeps what the footer needs of each in a record of under 100 bytes, and
//! builds Parquet's metadata only to write it.

use std::sync::Arc;

use parquet::basic::{Compression, EncodingMask};
use parquet::errors::ParquetError;
use parquet::file::metadata::{
    ColumnChunkMetaData, FileMetaData, KeyValue, PageEncodingStats, ParquetMetaData, ParquetMetaDataWriter,
    RowGroupMetaData,
};
use parquet::file::properties::WriterProperties;
use parquet::file::statistics::Statistics;
use parquet::schema::types::SchemaDescPtr;

/// The row groups written so far, for the footer.
pub(crate) struct Footer {
    schema: SchemaDescPtr,
    row_groups: Vec<RowGroupRecord>,
}

struct RowGroupRecord {
    /// Where its first column chunk starts.
    file_offset: i64,
    rows: i64,
    uncompressed_bytes: i64,
    chunks: Box<[ChunkRecord]>,
}

/// What the footer says of a column chunk, its offsets where the chunk was written.
struct ChunkRecord {
    dictionary_offset: Option<i64>,
    data_offset: i64,
    compressed_bytes: i64,
    uncompressed_bytes: i64,
    values: i64,
    compression: Compression,
    encodings: EncodingMask,
    pages: Box<[PageEncodingStats]>,
    /// Few columns keep statistics: boxed, the others pay a pointer.
    statistics: Option<Box<Statistics>>,
}

impl Footer {
    pub(crate) fn new(schema: SchemaDescPtr) -> Self {
        Footer { schema, row_groups: Vec::new() }
    }

    /// Records a row group of `rows` rows written from `file_offset`, its chunks (in leaf
    /// order) each with the offset it was written at. Chunk metadata comes as the store's
    /// chunk writers make it: offsets from the chunk's own start.
    pub(crate) fn push_row_group(
        &mut self,
        file_offset: i64,
        rows: i64,
        chunks: impl IntoIterator<Item = (i64, ColumnChunkMetaData)>,
    ) -> Result<(), ParquetError> {
        let chunks: Box<[ChunkRecord]> = chunks.into_iter().map(|(at, chunk)| ChunkRecord::of(&chunk, at)).collect();
        if chunks.len() != self.schema.num_columns() {
            return Err(ParquetError::General(format!(
                "a row group of {} column chunks for {} columns",
                chunks.len(),
                self.schema.num_columns()
            )));
        }
        let uncompressed_bytes = chunks.iter().map(|c| c.uncompressed_bytes).sum();
        self.row_groups.push(RowGroupRecord { file_offset, rows, uncompressed_bytes, chunks });
        Ok(())
    }

    /// The footer's bytes as Parquet's writer would write them after these row groups: file
    /// metadata with `key_values` (the properties' own first), its length and the magic.
    pub(crate) fn to_bytes(
        &self,
        properties: &WriterProperties,
        key_values: Vec<KeyValue>,
    ) -> Result<Vec<u8>, ParquetError> {
        let rows = self.row_groups.iter().map(|g| g.rows).sum();
        let key_values: Vec<KeyValue> =
            properties.key_value_metadata().into_iter().flatten().cloned().chain(key_values).collect();
        let file = FileMetaData::new(
            properties.writer_version().as_num(),
            rows,
            Some(properties.created_by().to_owned()),
            (!key_values.is_empty()).then_some(key_values),
            Arc::clone(&self.schema),
            None,
        );
        let row_groups = self
            .row_groups
            .iter()
            .enumerate()
            .map(|(ordinal, group)| group.metadata(&self.schema, ordinal, properties))
            .collect::<Result<Vec<_>, _>>()?;
        let metadata = ParquetMetaData::new(file, row_groups);
        let mut bytes = Vec::new();
        ParquetMetaDataWriter::new(&mut bytes, &metadata)
            .with_write_path_in_schema(properties.write_path_in_schema())
            .finish()?;
        Ok(bytes)
    }
}

impl RowGroupRecord {
    fn metadata(
        &self,
        schema: &SchemaDescPtr,
        ordinal: usize,
        properties: &WriterProperties,
    ) -> Result<RowGroupMetaData, ParquetError> {
        let columns = self
            .chunks
            .iter()
            .enumerate()
            .map(|(leaf, chunk)| chunk.metadata(schema, leaf))
            .collect::<Result<Vec<_>, _>>()?;
        let ordinal = i32::try_from(ordinal).map_err(|_| ParquetError::General("too many row groups".into()))?;
        RowGroupMetaData::builder(Arc::clone(schema))
            .set_column_metadata(columns)
            .set_total_byte_size(self.uncompressed_bytes)
            .set_num_rows(self.rows)
            .set_sorting_columns(properties.sorting_columns().cloned())
            .set_ordinal(ordinal)
            .set_file_offset(self.file_offset)
            .build()
    }
}

impl ChunkRecord {
    fn of(chunk: &ColumnChunkMetaData, at: i64) -> Self {
        let start = chunk.dictionary_page_offset().unwrap_or_else(|| chunk.data_page_offset());
        let moved = |offset: i64| offset - start + at;
        ChunkRecord {
            dictionary_offset: chunk.dictionary_page_offset().map(moved),
            data_offset: moved(chunk.data_page_offset()),
            compressed_bytes: chunk.compressed_size(),
            uncompressed_bytes: chunk.uncompressed_size(),
            values: chunk.num_values(),
            compression: chunk.compression(),
            encodings: *chunk.encodings_mask(),
            pages: chunk.page_encoding_stats().map(|stats| stats.clone().into_boxed_slice()).unwrap_or_default(),
            statistics: chunk.statistics().map(|s| Box::new(s.clone())),
        }
    }

    fn metadata(&self, schema: &SchemaDescPtr, leaf: usize) -> Result<ColumnChunkMetaData, ParquetError> {
        let mut builder = ColumnChunkMetaData::builder(schema.column(leaf))
            .set_compression(self.compression)
            .set_encodings_mask(self.encodings)
            .set_total_compressed_size(self.compressed_bytes)
            .set_total_uncompressed_size(self.uncompressed_bytes)
            .set_num_values(self.values)
            .set_data_page_offset(self.data_offset)
            .set_dictionary_page_offset(self.dictionary_offset);
        if !self.pages.is_empty() {
            builder = builder.set_page_encoding_stats(self.pages.to_vec());
        }
        if let Some(statistics) = &self.statistics {
            builder = builder.set_statistics(statistics.as_ref().clone());
        }
        builder.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_record_is_under_a_hundred_bytes() {
        assert!(std::mem::size_of::<ChunkRecord>() < 100, "{}", std::mem::size_of::<ChunkRecord>());
    }
}
