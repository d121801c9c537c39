//! Writing a partition file around the page cache, on a thread of its own.
//!
//! Ingest writes gigabytes that nothing reads back soon. Through the page cache every byte is
//! copied by the kernel into a page it must first find and account for; on the bench machine
//! that copy was the largest single cost of the writer's thread (30% of its samples for the
//! 1.96 GB of the 40M month). Here the bytes are gathered in aligned blocks that a thread of
//! their own writes with `O_DIRECT`, from the block straight to the device, while the writer
//! fills the next one. Where the file system refuses `O_DIRECT` (tmpfs, some network file
//! systems), and off Linux, the same thread writes through the page cache as usual.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Alignment of a direct write's offset, length and memory: the largest logical block size
/// of common devices.
const ALIGN: usize = 4096;
/// Bytes per block: large enough that a device write costs little per byte, small enough
/// that the two blocks in use add little to ingest's memory.
const BLOCK_BYTES: usize = 4 << 20;

/// A file being written in blocks by a thread of its own; [`DirectFile::finish`] writes the
/// rest and makes it durable.
pub(crate) struct DirectFile {
    path: PathBuf,
    /// The block being filled, `None` once handed over.
    block: Option<Block>,
    /// Full blocks to the writing thread, and empty ones back.
    full: Option<SyncSender<Block>>,
    /// Only used through `&mut self`; the mutex makes the file shareable (`Sync`) with the
    /// threads that encode columns.
    empty: Mutex<Receiver<Block>>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

/// A buffer whose usable part starts at an `ALIGN`ed address, and how much of it is filled.
struct Block {
    bytes: Vec<u8>,
    start: usize,
    len: usize,
    /// Set on the last block: the file ends after its `len` bytes.
    last: bool,
}

impl Block {
    fn new() -> Self {
        let bytes = vec![0u8; BLOCK_BYTES + ALIGN];
        let start = bytes.as_ptr().align_offset(ALIGN);
        Block { bytes, start, len: 0, last: false }
    }

    fn filled(&self) -> &[u8] {
        &self.bytes[self.start..self.start + self.len]
    }

    /// The filled part padded with zeros to a whole number of `ALIGN` bytes.
    fn padded(&mut self) -> &[u8] {
        let padded = self.len.next_multiple_of(ALIGN);
        self.bytes[self.start + self.len..self.start + padded].fill(0);
        &self.bytes[self.start..self.start + padded]
    }
}

impl DirectFile {
    /// Creates (or truncates) `path`, written directly when the file system allows it.
    pub(crate) fn create(path: &Path) -> io::Result<Self> {
        Self::create_with(path, cfg!(target_os = "linux"))
    }

    fn create_with(path: &Path, try_direct: bool) -> io::Result<Self> {
        let (file, direct) = match try_direct.then(|| open_direct(path)) {
            Some(Ok(file)) => (file, true),
            // Refused (EINVAL): this file system does not take direct writes.
            Some(Err(e)) if e.raw_os_error() == Some(EINVAL) => (File::create(path)?, false),
            Some(Err(e)) => return Err(e),
            None => (File::create(path)?, false),
        };
        let (full, incoming) = sync_channel::<Block>(1);
        let (give_back, empty) = sync_channel::<Block>(2);
        give_back.send(Block::new()).expect("the receiver is here");
        let writer = BlockWriter { path: path.to_owned(), file, direct, offset: 0 };
        let thread =
            std::thread::Builder::new().name("curwatch-file".into()).spawn(move || writer.run(incoming, give_back))?;
        Ok(DirectFile {
            path: path.to_owned(),
            block: Some(Block::new()),
            full: Some(full),
            empty: Mutex::new(empty),
            thread: Some(thread),
        })
    }

    /// Hands the current block to the writing thread and takes an empty one.
    fn hand_over(&mut self, last: bool) -> io::Result<()> {
        let (Some(mut block), Some(full)) = (self.block.take(), self.full.as_ref()) else {
            return Err(self.stopped());
        };
        block.last = last;
        if full.send(block).is_err() || last {
            return self.join(last);
        }
        let empty = self.empty.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner());
        match empty.recv() {
            Ok(mut block) => {
                block.len = 0;
                self.block = Some(block);
                Ok(())
            }
            Err(_) => self.join(false),
        }
    }

    /// Waits for the writing thread: its error if it stopped on one; an error too if it
    /// stopped before the last block (`done`).
    fn join(&mut self, done: bool) -> io::Result<()> {
        self.full = None;
        let Some(thread) = self.thread.take() else { return Err(self.stopped()) };
        match thread.join() {
            Ok(Ok(())) if !done => Err(self.stopped()),
            Ok(result) => result,
            Err(_) => Err(io::Error::other(format!("{}: the file's writing thread panicked", self.path.display()))),
        }
    }

    fn stopped(&self) -> io::Error {
        io::Error::other(format!("{}: the file's writing thread has stopped", self.path.display()))
    }

    /// Writes what is left, sets the file's length and makes it durable.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        self.hand_over(true)
    }
}

impl Write for DirectFile {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let Some(block) = self.block.as_mut() else { return Err(self.stopped()) };
        let n = data.len().min(BLOCK_BYTES - block.len);
        let at = block.start + block.len;
        block.bytes[at..at + n].copy_from_slice(&data[..n]);
        block.len += n;
        if block.len == BLOCK_BYTES {
            self.hand_over(false)?;
        }
        Ok(n)
    }

    /// Blocks go out when full; what a flush could write early, `finish` writes.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for DirectFile {
    fn drop(&mut self) {
        // Unfinished (an error on the way): stop the thread; the caller removes the file.
        self.full = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The writing thread's side.
struct BlockWriter {
    path: PathBuf,
    file: File,
    direct: bool,
    offset: u64,
}

impl BlockWriter {
    fn run(mut self, incoming: Receiver<Block>, give_back: SyncSender<Block>) -> io::Result<()> {
        for mut block in incoming {
            self.write(&mut block)?;
            if block.last {
                return self.end();
            }
            // The writer may have finished or given up: then nobody needs the block.
            let _ = give_back.send(block);
        }
        Ok(())
    }

    fn write(&mut self, block: &mut Block) -> io::Result<()> {
        if self.direct {
            // Only the last block is short; its padding is cut off by `end`.
            match self.file.write_all(block.padded()) {
                Err(e) if e.raw_os_error() == Some(EINVAL) => self.fall_back()?,
                result => {
                    result?;
                    self.offset += block.len as u64;
                    return Ok(());
                }
            }
        }
        self.file.write_all(block.filled())?;
        self.offset += block.len as u64;
        Ok(())
    }

    /// The file system took `O_DIRECT` at open but refuses the writes: go on through the
    /// page cache from where the last block ended.
    fn fall_back(&mut self) -> io::Result<()> {
        self.file = OpenOptions::new().write(true).open(&self.path)?;
        self.file.seek(SeekFrom::Start(self.offset))?;
        self.direct = false;
        Ok(())
    }

    /// The last direct block was padded: cut the file to its length, then sync it.
    fn end(self) -> io::Result<()> {
        if self.direct {
            self.file.set_len(self.offset)?;
        }
        self.file.sync_all()
    }
}

#[cfg(target_os = "linux")]
const EINVAL: i32 = libc::EINVAL;
#[cfg(not(target_os = "linux"))]
const EINVAL: i32 = 22;

#[cfg(target_os = "linux")]
fn open_direct(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new().write(true).create(true).truncate(true).custom_flags(libc::O_DIRECT).open(path)
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_path: &Path) -> io::Result<File> {
    Err(io::Error::from_raw_os_error(EINVAL))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    fn write_in_pieces(file: &mut DirectFile, data: &[u8], piece: usize) {
        for chunk in data.chunks(piece.max(1)) {
            file.write_all(chunk).unwrap();
        }
    }

    #[test]
    fn files_of_every_awkward_length_read_back_whole_directly_or_not() {
        let dir = tempfile::tempdir().unwrap();
        let lengths = [
            0,
            1,
            ALIGN - 1,
            ALIGN,
            ALIGN + 1,
            BLOCK_BYTES - 1,
            BLOCK_BYTES,
            BLOCK_BYTES + 7,
            3 * BLOCK_BYTES + ALIGN + 5,
        ];
        for direct in [true, false] {
            for (i, &n) in lengths.iter().enumerate() {
                let path = dir.path().join(format!("{direct}-{i}"));
                let data = bytes(n);
                let mut file = DirectFile::create_with(&path, direct).unwrap();
                write_in_pieces(&mut file, &data, 1 + n / 7);
                file.finish().unwrap();
                assert_eq!(std::fs::read(&path).unwrap(), data, "{n} bytes, direct {direct}");
            }
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_write_that_fails_is_an_error_not_a_hang() {
        // Every write to /dev/full fails with ENOSPC: on the writing thread, for the first
        // block, while the writer goes on filling more. The writer gets that error, and
        // anything it tries afterwards is refused, naming the file.
        for direct in [true, false] {
            let mut file = DirectFile::create_with(Path::new("/dev/full"), direct).unwrap();
            let error = file.write_all(&bytes(5 * BLOCK_BYTES)).unwrap_err();
            assert_eq!(error.raw_os_error(), Some(libc::ENOSPC), "{error}");
            let again = file.write_all(b"more").unwrap_err();
            assert_eq!(again.to_string(), "/dev/full: the file's writing thread has stopped");
            let finished = file.finish().unwrap_err();
            assert_eq!(finished.to_string(), "/dev/full: the file's writing thread has stopped");
        }
    }

    #[test]
    fn a_file_dropped_unfinished_stops_its_thread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dropped");
        let mut file = DirectFile::create(&path).unwrap();
        write_in_pieces(&mut file, &bytes(BLOCK_BYTES + 10), 65_536);
        // Dropping waits for the thread: the full block it was handed is written, the partial
        // one never is (the caller removes such a file).
        drop(file);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), BLOCK_BYTES as u64);
    }
}
