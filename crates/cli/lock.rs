//! One writer per store: `run` and `ingest` hold an OS lock on `<store>/.lock`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub(crate) enum LockError {
    Busy(PathBuf),
    Io(anyhow::Error),
}

/// Takes `<store>/.lock`, waiting up to `wait` for another run to finish. Released when
/// the file is dropped, or by the OS if the process dies.
pub(crate) fn lock_store(root: &Path, wait: Duration) -> Result<File, LockError> {
    let path = root.join(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| LockError::Io(anyhow::anyhow!("cannot open the lock file {}: {e}", path.display())))?;
    let deadline = Instant::now() + wait;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(std::fs::TryLockError::WouldBlock) => return Err(LockError::Busy(path)),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(LockError::Io(anyhow::anyhow!("cannot lock {}: {e}", path.display())));
            }
        }
    }
}
