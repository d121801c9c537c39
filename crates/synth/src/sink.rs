//! Writing line items to CSV (optionally gzip) or Parquet files, rotating by size.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{
    Decimal128Builder, Float64Builder, MapBuilder, StringBuilder, TimestampMicrosecondBuilder,
    TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use chrono::DateTime;
use flate2::Compression as GzLevel;
use flate2::write::GzEncoder;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::columns::{Column, Kind, Value};
use crate::layout::SynthError;
use crate::model::Line;

const CHUNK: usize = 16 * 1024;

/// How a format spells what the columns hold.
#[derive(Clone, Copy)]
pub(crate) struct Style {
    pub parquet: bool,
    pub gzip: bool,
    /// CSV timestamps: `2024-01-01T00:00:00.000Z` (true) or FOCUS's `2024-01-01 00:00:00` (false).
    pub iso_times: bool,
    /// CSV null: empty, or FOCUS's literal `NULL`.
    pub null: &'static str,
    /// Parquet money as decimals (FOCUS) instead of doubles (CUR).
    pub decimal_money: bool,
    /// Parquet timestamps in milliseconds without zone (Athena CUR) or UTC microseconds.
    pub millis: bool,
}

enum Builder {
    Text(StringBuilder),
    Float(Float64Builder),
    Decimal(Decimal128Builder),
    Millis(TimestampMillisecondBuilder),
    Micros(TimestampMicrosecondBuilder),
    Map(Box<MapBuilder<StringBuilder, StringBuilder>>),
}

impl Builder {
    fn new(kind: Kind, style: Style) -> Self {
        match kind {
            Kind::Text => Builder::Text(StringBuilder::new()),
            Kind::Float => Builder::Float(Float64Builder::new()),
            Kind::Money if style.decimal_money => {
                Builder::Decimal(Decimal128Builder::new().with_precision_and_scale(24, 10).expect("valid"))
            }
            Kind::Money => Builder::Float(Float64Builder::new()),
            Kind::Time if style.millis => Builder::Millis(TimestampMillisecondBuilder::new()),
            Kind::Time => Builder::Micros(TimestampMicrosecondBuilder::new().with_timezone("UTC")),
            Kind::Map => Builder::Map(Box::new(MapBuilder::new(None, StringBuilder::new(), StringBuilder::new()))),
        }
    }

    fn push(&mut self, value: Value) {
        match (self, value) {
            (Builder::Text(b), Value::Text(t)) => b.append_value(t),
            (Builder::Text(b), _) => b.append_null(),
            (Builder::Float(b), Value::Float(f)) => b.append_value(f),
            (Builder::Float(b), Value::Money(m)) => b.append_value(m.to_f64()),
            (Builder::Float(b), _) => b.append_null(),
            (Builder::Decimal(b), Value::Money(m)) => b.append_value(m.units()),
            (Builder::Decimal(b), _) => b.append_null(),
            (Builder::Millis(b), Value::Time(t)) => b.append_value(t / 1000),
            (Builder::Millis(b), _) => b.append_null(),
            (Builder::Micros(b), Value::Time(t)) => b.append_value(t),
            (Builder::Micros(b), _) => b.append_null(),
            (Builder::Map(b), Value::Map(entries)) => {
                for (k, v) in entries {
                    b.keys().append_value(k);
                    b.values().append_value(v);
                }
                b.append(true).expect("aligned");
            }
            (Builder::Map(b), _) => b.append(false).expect("aligned"),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Text(b) => Arc::new(b.finish()),
            Builder::Float(b) => Arc::new(b.finish()),
            Builder::Decimal(b) => Arc::new(b.finish()),
            Builder::Millis(b) => Arc::new(b.finish()),
            Builder::Micros(b) => Arc::new(b.finish()),
            Builder::Map(b) => Arc::new(b.finish()),
        }
    }
}

enum Inner {
    Csv(csv::Writer<Box<dyn Write + Send>>),
    Parquet {
        path: PathBuf,
        file: Option<File>,
        writer: Option<ArrowWriter<File>>,
        builders: Vec<Builder>,
        rows: usize,
    },
}

/// One open data file.
struct DataFile {
    inner: Inner,
}

impl DataFile {
    fn create(path: &Path, columns: &[Column], style: Style) -> Result<Self, SynthError> {
        let file = File::create(path).map_err(SynthError::io(path))?;
        if style.parquet {
            let builders = columns.iter().map(|c| Builder::new(c.kind, style)).collect();
            return Ok(DataFile {
                inner: Inner::Parquet { path: path.to_owned(), file: Some(file), writer: None, builders, rows: 0 },
            });
        }
        let out: Box<dyn Write + Send> = if style.gzip {
            Box::new(GzEncoder::new(BufWriter::with_capacity(1 << 20, file), GzLevel::default()))
        } else {
            Box::new(BufWriter::with_capacity(1 << 20, file))
        };
        let mut writer = csv::Writer::from_writer(out);
        writer.write_record(columns.iter().map(|c| c.name.as_str())).map_err(SynthError::csv(path))?;
        Ok(DataFile { inner: Inner::Csv(writer) })
    }

    fn push(&mut self, line: &Line, columns: &[Column], style: Style, path: &Path) -> Result<(), SynthError> {
        match &mut self.inner {
            Inner::Csv(writer) => {
                for column in columns {
                    let field = csv_field((column.get)(line), style);
                    writer.write_field(field.as_bytes()).map_err(SynthError::csv(path))?;
                }
                writer.write_record(None::<&[u8]>).map_err(SynthError::csv(path))
            }
            Inner::Parquet { builders, rows, .. } => {
                for (builder, column) in builders.iter_mut().zip(columns) {
                    builder.push((column.get)(line));
                }
                *rows += 1;
                if *rows >= CHUNK {
                    self.flush(columns)?;
                }
                Ok(())
            }
        }
    }

    fn flush(&mut self, columns: &[Column]) -> Result<(), SynthError> {
        let Inner::Parquet { path, file, writer, builders, rows } = &mut self.inner else {
            return Ok(());
        };
        if *rows == 0 && writer.is_some() {
            return Ok(());
        }
        let arrays = columns.iter().zip(builders.iter_mut()).map(|(c, b)| (c.name.as_str(), b.finish(), true));
        let batch = RecordBatch::try_from_iter_with_nullable(arrays).map_err(|e| SynthError::Other(e.to_string()))?;
        if writer.is_none() {
            let props = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
            let created =
                ArrowWriter::try_new(file.take().expect("file until first flush"), batch.schema(), Some(props))
                    .map_err(SynthError::parquet(path))?;
            *writer = Some(created);
        }
        writer.as_mut().expect("created").write(&batch).map_err(SynthError::parquet(path))?;
        *rows = 0;
        Ok(())
    }

    fn finish(mut self, columns: &[Column], path: &Path) -> Result<(), SynthError> {
        self.flush(columns)?;
        match self.inner {
            Inner::Csv(writer) => {
                let mut out = writer.into_inner().map_err(|e| SynthError::Other(e.to_string()))?;
                out.flush().map_err(SynthError::io(path))
            }
            Inner::Parquet { writer, .. } => {
                writer.expect("flushed once").close().map_err(SynthError::parquet(path))?;
                Ok(())
            }
        }
    }
}

fn csv_field(value: Value, style: Style) -> String {
    match value {
        Value::Null => style.null.to_owned(),
        Value::Text(t) => t.into_owned(),
        Value::Float(f) => f.to_string(),
        Value::Money(m) => m.to_exact_string(),
        Value::Time(t) => {
            let time = DateTime::from_timestamp_micros(t).expect("in range");
            if style.iso_times {
                time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
            } else {
                time.format("%Y-%m-%d %H:%M:%S").to_string()
            }
        }
        Value::Map(entries) => {
            let object: serde_json::Map<String, serde_json::Value> =
                entries.into_iter().map(|(k, v)| (k.into_owned(), serde_json::Value::String(v.into_owned()))).collect();
            serde_json::Value::Object(object).to_string()
        }
    }
}

/// Data files of one delivery: `<stem>-00001.<ext>`, a new file every `lines_per_file`.
pub(crate) struct DataFiles {
    dir: PathBuf,
    stem: String,
    ext: &'static str,
    columns: Arc<Vec<Column>>,
    style: Style,
    lines_per_file: u64,
    current: Option<(PathBuf, DataFile, u64)>,
    pub written: Vec<PathBuf>,
}

impl DataFiles {
    pub(crate) fn new(dir: &Path, stem: &str, columns: Arc<Vec<Column>>, style: Style, lines_per_file: u64) -> Self {
        let ext = match (style.parquet, style.gzip) {
            (true, _) => "snappy.parquet",
            (false, true) => "csv.gz",
            (false, false) => "csv",
        };
        DataFiles {
            dir: dir.to_owned(),
            stem: stem.to_owned(),
            ext,
            columns,
            style,
            lines_per_file: lines_per_file.max(1),
            current: None,
            written: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, line: &Line) -> Result<(), SynthError> {
        if self.current.as_ref().is_some_and(|(_, _, n)| *n >= self.lines_per_file) {
            self.close_current()?;
        }
        if self.current.is_none() {
            std::fs::create_dir_all(&self.dir).map_err(SynthError::io(&self.dir))?;
            let path = self.dir.join(format!("{}-{:05}.{}", self.stem, self.written.len() + 1, self.ext));
            let file = DataFile::create(&path, &self.columns, self.style)?;
            self.current = Some((path, file, 0));
        }
        let (path, file, count) = self.current.as_mut().expect("opened");
        file.push(line, &self.columns, self.style, path)?;
        *count += 1;
        Ok(())
    }

    /// Closes the last file; returns every file written.
    pub(crate) fn finish(mut self) -> Result<Vec<PathBuf>, SynthError> {
        self.close_current()?;
        Ok(self.written)
    }

    fn close_current(&mut self) -> Result<(), SynthError> {
        if let Some((path, file, _)) = self.current.take() {
            file.finish(&self.columns, &path)?;
            self.written.push(path);
        }
        Ok(())
    }
}
