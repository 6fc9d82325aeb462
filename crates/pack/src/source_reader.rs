//! Source readers: each takes the next batch of files (one large file, or
//! a run of small ones), reads each in block-sized chunks within the
//! read-ahead budget, hashes it, and hands the chunks to the dispatcher
//! through the batch's own queue. Batching small files keeps thread
//! hand-offs far below one per file. A directory tree's readers open each
//! file beneath the source root without following symlinks
//! ([`crate::source_root`]); an archive's one reader is
//! [`crate::archive_reader`].

use crate::error::{source_err, PackError};
use crate::pipeline::Pipeline;
use crate::queue::Queue;
use crate::source_root::SourceRoot;
use crate::source_xattrs::{file_xattrs, SourceXattrs};
use rustix::buffer::spare_capacity;
use rustix::fd::AsFd;
use rustix::fs::FileType;
use rustix::io::Errno;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use xxhash_rust::xxh3::Xxh3;

/// Consecutive files to read, in packing order, by ordinal and path.
pub struct ReadJob {
    pub files: Vec<(u32, PathBuf)>,
    pub chunks: Arc<Queue<Chunk>>,
}

/// What a reader sends for each file of a batch: blocks in order, then
/// its end (or why it failed).
pub enum Chunk {
    /// `block_size` bytes, or fewer for the last block.
    Block(Vec<u8>),
    End {
        size: u64,
        hash: u128,
        xattrs: SourceXattrs,
    },
    Failed(PackError),
}

/// A directory tree's reader: takes batches until the job queue closes and
/// opens each file beneath `source`. Every file gets a final chunk (its
/// end, or why it failed), so the dispatcher never waits in vain.
pub fn read_files(p: &Pipeline, source: &SourceRoot, block_size: u32, xattrs: bool) {
    while let Some(job) = p.read_jobs.pop() {
        let batch = job.files.first().map_or(0, |(o, _)| *o);
        // One file streams block by block; a run of small files is handed
        // over in one piece, so the dispatcher wakes once per batch.
        let mut sink = Sink {
            queue: &job.chunks,
            held: (job.files.len() > 1).then(Vec::new),
            batch,
        };
        for (_, path) in &job.files {
            let end = if p.stopped() {
                Chunk::Failed(PackError::Cancelled)
            } else {
                read_one(p, source, path, &mut sink, block_size, xattrs)
                    .unwrap_or_else(Chunk::Failed)
            };
            sink.send(end);
        }
        sink.flush();
    }
}

fn read_one(
    p: &Pipeline,
    source: &SourceRoot,
    path: &Path,
    sink: &mut Sink,
    block_size: u32,
    xattrs: bool,
) -> Result<Chunk, PackError> {
    let (file, expected) = open_regular(source, path)?;
    let xattrs = match xattrs {
        true => file_xattrs(&file).map_err(source_err(path))?,
        false => SourceXattrs::default(),
    };
    let (size, hash) = send_blocks(p, sink, path, expected, block_size, |offset, len| {
        read_block(&file, offset, len)
    })?;
    Ok(Chunk::End { size, hash, xattrs })
}

/// Where a reader's chunks go: straight to the queue, or held until the
/// batch is complete.
pub struct Sink<'a> {
    queue: &'a Queue<Chunk>,
    held: Option<Vec<Chunk>>,
    /// The batch's first ordinal, which its read-ahead is accounted to.
    batch: u32,
}

impl<'a> Sink<'a> {
    /// Straight to `queue`, accounting read-ahead to `batch`.
    pub fn direct(queue: &'a Queue<Chunk>, batch: u32) -> Sink<'a> {
        Sink {
            queue,
            held: None,
            batch,
        }
    }

    pub fn send(&mut self, chunk: Chunk) {
        match &mut self.held {
            Some(held) => held.push(chunk),
            None => {
                let _ = self.queue.push(chunk);
            }
        }
    }

    fn flush(&mut self) {
        if let Some(held) = self.held.take() {
            let _ = self.queue.push_all(held);
        }
    }
}

/// Reads up to `expected` bytes block by block with `read(offset, len)`
/// (fewer than `len` only at the end) within the read-ahead budget, and
/// sends them; returns the size read and the content hash.
pub fn send_blocks(
    p: &Pipeline,
    sink: &mut Sink,
    path: &Path,
    expected: u64,
    block_size: u32,
    mut read: impl FnMut(u64, usize) -> io::Result<Vec<u8>>,
) -> Result<(u64, u128), PackError> {
    let mut hasher = Xxh3::new();
    let mut size = 0u64;
    while size < expected {
        let want = (expected - size).min(u64::from(block_size));
        if p.stopped() || !p.budget.acquire(sink.batch, want) {
            return Err(PackError::Cancelled);
        }
        let block = read(size, want as usize);
        let got = block.as_ref().map_or(0, Vec::len) as u64;
        p.budget.release(sink.batch, want - got);
        let block = block.map_err(source_err(path))?;
        if block.is_empty() {
            break;
        }
        hasher.update(&block);
        size += block.len() as u64;
        let short = (block.len() as u64) < want;
        sink.send(Chunk::Block(block));
        if short {
            break;
        }
    }
    Ok((size, hasher.digest128()))
}

/// Opens the file at `path` beneath the source root and returns it with
/// its size now: what a reader will read, never more (a file growing while
/// we pack is stored as it was, a shrinking one as it now is). An entry
/// that is no longer a regular file fails (opening a FIFO does not block:
/// the open is non-blocking).
fn open_regular(source: &SourceRoot, path: &Path) -> Result<(File, u64), PackError> {
    let fd = source.open_file(path).map_err(source_err(path))?;
    let st = rustix::fs::fstat(&fd).map_err(|e| source_err(path)(e.into()))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(PackError::Changed {
            path: path.to_path_buf(),
            reason: "is no longer a regular file",
        });
    }
    Ok((File::from(fd), st.st_size as u64))
}

/// Reads `len` bytes at `offset`, fewer only at the end of the file: one
/// system call for what the kernel hands over at once (a small file's
/// whole content), where `Read::read_to_end` starts with 8 KiB and doubles.
fn read_block(file: impl AsFd, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut block = Vec::with_capacity(len);
    while block.len() < len {
        let at = offset + block.len() as u64;
        match rustix::io::pread(&file, spare_capacity(&mut block), at) {
            Ok(0) => break,
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // The allocation may hold more than asked; never keep more.
    block.truncate(len);
    Ok(block)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_swapped_for_a_fifo_or_directory_fails_without_blocking() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("f");
        std::fs::write(&path, "12345").unwrap();
        let source = SourceRoot::open(root.path()).unwrap();
        assert_eq!(open_regular(&source, &path).unwrap().1, 5);
        std::fs::remove_file(&path).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &path,
            FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let err = open_regular(&source, &path).unwrap_err();
        assert!(matches!(err, PackError::Changed { .. }), "{err}");
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        let err = open_regular(&source, &path).unwrap_err();
        assert!(matches!(err, PackError::Changed { .. }), "{err}");
    }

    #[test]
    fn a_block_is_what_was_asked_or_the_rest_of_the_file() {
        let mut file = tempfile::tempfile().unwrap();
        let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        io::Write::write_all(&mut file, &content).unwrap();
        assert_eq!(read_block(&file, 0, 4).unwrap(), content[..4]);
        assert_eq!(
            read_block(&file, 1000, 131_072).unwrap(),
            content[1000..132_072]
        );
        assert_eq!(read_block(&file, 299_990, 64).unwrap(), content[299_990..]);
        assert!(read_block(&file, 300_000, 64).unwrap().is_empty());
    }
}
