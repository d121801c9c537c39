//! A local folder laid out as AWS delivers to S3 (or a single export file).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::stats::RequestStats;
use crate::{ExportSource, Fetches, LocalFile, ObjectInfo, SourceError, StatsSnapshot};

pub struct LocalSource {
    /// What the user named: a folder, or one file.
    root: PathBuf,
    /// The folder keys are relative to: the root itself, or a file's parent.
    base: PathBuf,
    location: String,
    stats: RequestStats,
}

impl LocalSource {
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, SourceError> {
        let root = root.into();
        let meta = std::fs::metadata(&root).map_err(SourceError::io(&root))?;
        let base = if meta.is_file() { root.parent().unwrap_or(Path::new(".")).to_owned() } else { root.clone() };
        let location = root.display().to_string();
        Ok(LocalSource { root, base, location, stats: RequestStats::default() })
    }
}

impl ExportSource for LocalSource {
    fn location(&self) -> &str {
        &self.location
    }

    fn object_location(&self, key: &str) -> String {
        self.base.join(key).display().to_string()
    }

    fn list(&self) -> Result<Vec<ObjectInfo>, SourceError> {
        self.stats.listed();
        list_local(&self.root)
    }

    fn read(&self, key: &str) -> Result<Vec<u8>, SourceError> {
        self.stats.read_small();
        let path = self.base.join(key);
        std::fs::read(&path).map_err(SourceError::io(path))
    }

    fn fetch<'a>(&'a self, files: Vec<ObjectInfo>, _scratch: &Path) -> Fetches<'a> {
        // Local files are read where they are: nothing to copy, only counted.
        Box::new(files.into_iter().map(|info| {
            self.stats.downloaded();
            self.stats.received(info.size);
            let path = self.base.join(&info.key);
            Ok(LocalFile { info, path, _download: None })
        }))
    }

    fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }
}

/// Lists a local directory (or a single file), keys relative to it with `/` separators.
/// A file's "ETag" is its size and modification time: enough to notice a rewrite.
fn list_local(root: &Path) -> Result<Vec<ObjectInfo>, SourceError> {
    let info = |path: &Path, key: String| -> Result<ObjectInfo, SourceError> {
        let meta = std::fs::metadata(path).map_err(SourceError::io(path))?;
        let modified = meta.modified().ok();
        let stamp = modified.and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
        Ok(ObjectInfo { key, size: meta.len(), modified, etag: Some(format!("{}-{stamp}", meta.len())) })
    };
    let meta = std::fs::metadata(root).map_err(SourceError::io(root))?;
    if meta.is_file() {
        return Ok(vec![info(root, root.file_name().unwrap_or_default().to_string_lossy().into_owned())?]);
    }
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(root).to_owned();
            SourceError::Io { path, source: e.into() }
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let relative = entry.path().strip_prefix(root).expect("walk stays under root");
        let key = relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
        out.push(info(entry.path(), key)?);
    }
    Ok(out)
}
