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
use bale_squashfs::holes;
use rustix::buffer::spare_capacity;
use rustix::fd::AsFd;
use rustix::fs::FileType;
use rustix::io::Errno;
use std::fs::File;
use std::io;
use std::ops::Range;
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
    /// This many full blocks of zeros.
    Holes(u64),
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
    let mut file = open_regular(source, path)?;
    let xattrs = match xattrs {
        true => file_xattrs(&file.file).map_err(source_err(path))?,
        false => SourceXattrs::default(),
    };
    let (size, hash) = send_blocks(p, sink, path, file.size, block_size, &mut file)?;
    if file.changed_since_opened() {
        p.changed.lock().unwrap().push(path.to_path_buf());
    }
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

/// A file's content as a reader gets it.
pub trait Content {
    /// `len` bytes at `offset`, fewer only at the end.
    fn read(&mut self, offset: u64, len: usize) -> io::Result<Vec<u8>>;
    /// The first hole (a non-empty range of zeros that need not be read)
    /// at or after `offset`, if any.
    fn next_hole(&mut self, offset: u64) -> Option<Range<u64>>;
}

/// Most blocks one file may have: its block list (4 bytes a block, holes
/// included) is held in memory and stored in its inode. 2^27 blocks are
/// 512 MiB of list: 16 TiB with 128 KiB blocks (ext4's largest file), 128
/// TiB with 1 MiB; a size beyond is an archive's claim, not a real file.
const MAX_FILE_BLOCKS: u64 = 1 << 27;

/// What a zero block adds to the content hash instead of its bytes, so a
/// hole is hashed without being materialised and a file hashes the same
/// whether its zeros were read or skipped.
const ZERO_BLOCK: &[u8; 16] = b"bale: zero block";

/// Sends up to `expected` bytes of `content` block by block within the
/// read-ahead budget: full blocks of zeros as holes (skipped unread where
/// the content knows its holes), the rest as data; returns the size sent
/// and the content hash.
pub fn send_blocks(
    p: &Pipeline,
    sink: &mut Sink,
    path: &Path,
    expected: u64,
    block_size: u32,
    content: &mut impl Content,
) -> Result<(u64, u128), PackError> {
    let full = u64::from(block_size);
    if expected.div_ceil(full) > MAX_FILE_BLOCKS {
        return Err(PackError::BadSource {
            path: path.to_path_buf(),
            reason: format!(
                "is too large for an image with {} KiB blocks ({expected} bytes; at most {} blocks a file, a larger --block-size takes more)",
                full >> 10,
                MAX_FILE_BLOCKS
            ),
        });
    }
    let mut hasher = Xxh3::new();
    let mut size = 0u64;
    let mut hole = content.next_hole(0);
    while size < expected {
        if let Some(h) = hole.clone() {
            if size >= h.end {
                hole = content.next_hole(size);
                continue;
            }
            let end = h.end.min(expected);
            if h.start <= size && size + full <= end {
                let count = (end - size) / full;
                (0..count).for_each(|_| hasher.update(ZERO_BLOCK));
                sink.send(Chunk::Holes(count));
                size += count * full;
                continue;
            }
        }
        let want = (expected - size).min(full);
        if p.stopped() || !p.budget.acquire(sink.batch, want) {
            return Err(PackError::Cancelled);
        }
        let block = content.read(size, want as usize);
        let got = block.as_ref().map_or(0, Vec::len) as u64;
        p.budget.release(sink.batch, want - got);
        let block = block.map_err(source_err(path))?;
        if block.is_empty() {
            break;
        }
        size += got;
        if got == full && is_zero(&block) {
            p.budget.release(sink.batch, got);
            hasher.update(ZERO_BLOCK);
            sink.send(Chunk::Holes(1));
            continue;
        }
        hasher.update(&block);
        sink.send(Chunk::Block(block));
        if got < want {
            break;
        }
    }
    Ok((size, hasher.digest128()))
}

/// True when every byte is zero; folds 64-byte chunks so it vectorizes.
fn is_zero(data: &[u8]) -> bool {
    data.chunks(64)
        .all(|c| c.iter().fold(0u8, |acc, &b| acc | b) == 0)
}

/// A regular file of a directory tree, opened by a reader.
#[derive(Debug)]
struct SourceFile {
    file: File,
    size: u64,
    /// Its modification time when opened (seconds, nanoseconds).
    mtime: (i128, i128),
    /// Whether it may hold holes worth asking for.
    sparse: bool,
}

impl SourceFile {
    /// Whether it was written to since it was opened (as `tar` checks):
    /// its size or modification time is no longer what it was.
    fn changed_since_opened(&self) -> bool {
        rustix::fs::fstat(&self.file)
            .is_ok_and(|st| st.st_size as u64 != self.size || modified(&st) != self.mtime)
    }
}

fn modified(st: &rustix::fs::Stat) -> (i128, i128) {
    (i128::from(st.st_mtime), i128::from(st.st_mtime_nsec))
}

impl Content for SourceFile {
    fn read(&mut self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        read_block(&self.file, offset, len)
    }

    fn next_hole(&mut self, offset: u64) -> Option<Range<u64>> {
        self.sparse
            .then(|| holes::next_hole(&self.file, offset, self.size))
            .flatten()
    }
}

/// Opens the file at `path` beneath the source root, with its size now:
/// what a reader will read, never more (a file growing while we pack is
/// stored as it was, a shrinking one as it now is; either is reported
/// when it happens during the read). An entry that is no
/// longer a regular file fails (opening a FIFO does not block: the open is
/// non-blocking).
fn open_regular(source: &SourceRoot, path: &Path) -> Result<SourceFile, PackError> {
    let fd = source.open_file(path).map_err(source_err(path))?;
    let st = rustix::fs::fstat(&fd).map_err(|e| source_err(path)(e.into()))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(PackError::Changed {
            path: path.to_path_buf(),
            reason: "is no longer a regular file",
        });
    }
    let size = st.st_size as u64;
    Ok(SourceFile {
        file: File::from(fd),
        size,
        mtime: modified(&st),
        sparse: holes::may_have_holes(size, st.st_blocks as u64),
    })
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
    use crate::progress::Progress;

    #[test]
    fn an_entry_swapped_for_a_fifo_or_directory_fails_without_blocking() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("f");
        std::fs::write(&path, "12345").unwrap();
        let (source, _) = SourceRoot::open(root.path()).unwrap();
        assert_eq!(open_regular(&source, &path).unwrap().size, 5);
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

    const BS: u64 = 4096;

    /// `size` bytes of ones except zeros in `zeros`, of which those in
    /// `holes` are holes it knows; records what was read.
    struct Fake {
        size: u64,
        zeros: Vec<Range<u64>>,
        holes: Vec<Range<u64>>,
        reads: Vec<Range<u64>>,
    }

    impl Content for Fake {
        fn read(&mut self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
            let end = self.size.min(offset + len as u64);
            self.reads.push(offset..end);
            let zero = |at| self.zeros.iter().any(|z: &Range<u64>| z.contains(&at));
            Ok((offset..end).map(|at| u8::from(!zero(at))).collect())
        }

        fn next_hole(&mut self, offset: u64) -> Option<Range<u64>> {
            let h = self.holes.iter().find(|h| h.end > offset)?;
            Some(h.start.max(offset)..h.end)
        }
    }

    /// What `send_blocks` sends for `content`: block lengths (0 for one
    /// hole), the size and the hash.
    fn sent(content: &mut Fake) -> (Vec<usize>, u64, u128) {
        let progress = Progress::default();
        let p = Pipeline::new(&progress, 1 << 30, BS as u32, 1);
        let queue = Queue::new(usize::MAX, 1);
        let mut sink = Sink::direct(&queue, 0);
        let size = content.size;
        let path = Path::new("f");
        let (size, hash) = send_blocks(&p, &mut sink, path, size, BS as u32, content).unwrap();
        queue.producer_done();
        let mut blocks = Vec::new();
        while let Some(chunk) = queue.pop() {
            match chunk {
                Chunk::Block(b) => blocks.push(b.len()),
                Chunk::Holes(n) => blocks.extend((0..n).map(|_| 0)),
                _ => unreachable!("send_blocks sends blocks and holes only"),
            }
        }
        (blocks, size, hash)
    }

    #[test]
    fn holes_are_sent_unread_and_hash_like_zeros_that_were_read() {
        let size = 20 * BS + 100;
        let zeros = vec![BS + 10..9 * BS, 12 * BS..14 * BS, 19 * BS..size];
        let mut known = Fake {
            size,
            zeros: zeros.clone(),
            // The middle zeros were written, not left as a hole.
            holes: vec![zeros[0].clone(), zeros[2].clone()],
            reads: Vec::new(),
        };
        let (blocks, sent_size, hash) = sent(&mut known);
        assert_eq!(sent_size, size);
        let full = BS as usize;
        let mut expected = vec![full; 21];
        for hole in [2, 3, 4, 5, 6, 7, 8, 12, 13, 19] {
            expected[hole] = 0;
        }
        // The last, short block is data even where it is all zeros.
        expected[20] = 100;
        assert_eq!(blocks, expected);
        // Only the short last block is read inside a hole.
        let in_hole = |r: &Range<u64>| {
            let covers = |h: &Range<u64>| h.start <= r.start && r.end <= h.end;
            known.holes.iter().any(covers)
        };
        let read_in_holes: Vec<_> = known.reads.iter().filter(|r| in_hole(r)).collect();
        assert_eq!(read_in_holes, [&(20 * BS..size)]);
        assert_eq!(known.reads.len(), 21 - 8, "{:?}", known.reads);

        let mut unknown = Fake {
            size,
            zeros,
            holes: Vec::new(),
            reads: Vec::new(),
        };
        let (blocks_read, _, hash_read) = sent(&mut unknown);
        assert_eq!(
            blocks_read, expected,
            "zero blocks that were read are holes too"
        );
        assert_eq!(hash_read, hash, "same content, same hash");
        let mut other = Fake {
            size,
            zeros: vec![BS + 10..5 * BS, 5 * BS + 1..9 * BS],
            holes: Vec::new(),
            reads: Vec::new(),
        };
        assert_ne!(sent(&mut other).2, hash);
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
