//! The dispatcher walks files in packing order, keeping a window of them
//! in the readers' hands. Full blocks go to the compression workers (the
//! readers send runs of zero blocks as holes); files smaller than a block
//! are packed into shared fragment blocks, after a check (hash, then
//! bytes) for an identical tail already stored.

use crate::error::{PackError, Result};
use crate::image_file::ImageFile;
use crate::options::PackOptions;
use crate::pipeline::{Done, FileOutcome, Item, Job, Pipeline};
use crate::queue::Queue;
use crate::source_reader::{Chunk, ReadJob};
use crate::source_xattrs::SourceXattrs;
use crate::tree::{Kind, Tree};
use bale_squashfs::xattr::Xattr;
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// What the readers learnt of one file, and where its tail went (its
/// blocks, if any, are the writer's [`crate::emit::BlockRun`]). Kept
/// small: a small-file tree has hundreds of thousands.
#[derive(Clone, Debug, Default)]
pub struct FileData {
    pub size: u64,
    /// Fragment block index and offset of a file smaller than a block.
    pub fragment: Option<(u32, u32)>,
    /// Left out by `--skip-unreadable`.
    pub skipped: bool,
    /// Extended attributes, read through the open file.
    pub xattrs: Box<[Xattr]>,
}

/// What the dispatcher hands back.
pub struct Dispatched {
    pub files: Vec<FileData>,
    /// Files left out by `--skip-unreadable`.
    pub skipped: Vec<PackError>,
    pub duplicates: DuplicateCount,
    /// Attributes of other namespaces than squashfs can store.
    pub dropped_xattrs: u64,
}

/// Recently sealed fragment blocks kept unpacked for tail comparisons.
const RECENT_FRAGMENTS: usize = 16;

struct Dispatcher<'a> {
    opts: &'a PackOptions,
    p: &'a Pipeline<'a>,
    image: &'a ImageFile,
    seq: u64,
    files: Vec<FileData>,
    skipped: Vec<PackError>,
    open_fragment: Vec<u8>,
    sealed: u32,
    recent: VecDeque<(u32, Arc<Vec<u8>>)>,
    /// Fragment place of the first tail with each content hash (64 bits
    /// suffice: a match is confirmed by comparing the bytes).
    tails: HashMap<u64, (u32, u32)>,
    duplicates: DuplicateCount,
    dropped_xattrs: u64,
    /// The read batch the current file belongs to (for the budget).
    batch: u32,
}

/// Small files stored once for several names with equal content.
#[derive(Debug, Default, Clone, Copy)]
pub struct DuplicateCount {
    pub files: u64,
    pub bytes: u64,
}

/// Dispatches the files of a scanned tree, handing batches of them to the
/// readers through `p.read_jobs`.
pub fn dispatch(
    tree: &Tree,
    opts: &PackOptions,
    p: &Pipeline,
    image: &ImageFile,
) -> Result<Dispatched> {
    let files = vec![FileData::default(); tree.files.len()];
    let mut d = Dispatcher::new(opts, p, image, files, small_files(tree, opts.block_size));
    let window = (opts.readers * 2).max(8);
    let mut batches = Batches {
        tree,
        block_size: u64::from(opts.block_size),
        next: 0,
    };
    // Batches handed to readers: (first ordinal, end ordinal, their chunks).
    let mut in_flight: VecDeque<(u32, u32, Arc<Queue<Chunk>>)> = VecDeque::new();
    for ordinal in 0..tree.files.len() as u32 {
        if in_flight.front().is_some_and(|(_, end, _)| *end == ordinal) {
            in_flight.pop_front();
        }
        while in_flight.len() < window {
            let Some(files) = batches.next() else { break };
            let chunks = Arc::new(Queue::new(usize::MAX, 1));
            let (start, end) = (files[0].0, files[files.len() - 1].0 + 1);
            p.read_jobs
                .push(ReadJob {
                    files,
                    chunks: chunks.clone(),
                })
                .map_err(|_| PackError::Cancelled)?;
            in_flight.push_back((start, end, chunks));
        }
        let (batch, _, chunks) = in_flight.front().expect("window holds the head");
        p.budget.set_head(*batch);
        d.batch = *batch;
        let first = d.recv(chunks)?;
        d.file(ordinal, first, chunks)?;
        p.progress.files_done.fetch_add(1, Ordering::Relaxed);
    }
    d.finish()
}

/// Dispatches files as one reader streams them, one after the other, into
/// `chunks` (each file its own read batch) until it closes the queue.
pub fn dispatch_stream(
    opts: &PackOptions,
    p: &Pipeline,
    image: &ImageFile,
    chunks: &Queue<Chunk>,
) -> Result<Dispatched> {
    let mut d = Dispatcher::new(opts, p, image, Vec::new(), 0);
    let mut ordinal = 0;
    p.budget.set_head(ordinal);
    while let Some(first) = chunks.pop() {
        d.files.push(FileData::default());
        d.file(ordinal, first, chunks)?;
        p.progress.files_done.fetch_add(1, Ordering::Relaxed);
        ordinal += 1;
        d.batch = ordinal;
        p.budget.set_head(ordinal);
    }
    if p.stopped() {
        return Err(PackError::Cancelled);
    }
    d.finish()
}

/// Cuts the packing order into read batches: a file of a block or more
/// alone, otherwise a run of consecutive small files.
struct Batches<'a> {
    tree: &'a Tree,
    block_size: u64,
    next: usize,
}

/// Most files and bytes in one batch of small files.
const BATCH_FILES: usize = 64;
pub const BATCH_BYTES: u64 = 1 << 20;

impl Iterator for Batches<'_> {
    type Item = Vec<(u32, PathBuf)>;

    fn next(&mut self) -> Option<Self::Item> {
        let files = &self.tree.files;
        let mut batch = Vec::new();
        let mut bytes = 0;
        while self.next < files.len() && batch.len() < BATCH_FILES {
            let idx = files[self.next];
            let size = match self.tree.entries[idx as usize].kind {
                Kind::File { size, .. } => size,
                _ => 0,
            };
            let large = size >= self.block_size;
            if !batch.is_empty() && (large || bytes + size > BATCH_BYTES) {
                break;
            }
            batch.push((self.next as u32, self.tree.path_of(idx)));
            bytes += size;
            self.next += 1;
            if large {
                break;
            }
        }
        (!batch.is_empty()).then_some(batch)
    }
}

impl<'a> Dispatcher<'a> {
    fn new(
        opts: &'a PackOptions,
        p: &'a Pipeline<'a>,
        image: &'a ImageFile,
        files: Vec<FileData>,
        small_files: usize,
    ) -> Dispatcher<'a> {
        Dispatcher {
            opts,
            p,
            image,
            seq: 0,
            files,
            skipped: Vec::new(),
            open_fragment: Vec::with_capacity(opts.block_size as usize),
            sealed: 0,
            recent: VecDeque::new(),
            tails: HashMap::with_capacity(small_files),
            duplicates: DuplicateCount::default(),
            dropped_xattrs: 0,
            batch: 0,
        }
    }

    /// Seals the last fragment block and hands back what was learnt.
    fn finish(mut self) -> Result<Dispatched> {
        if !self.open_fragment.is_empty() {
            self.seal_fragment()?;
        }
        Ok(Dispatched {
            files: self.files,
            skipped: self.skipped,
            duplicates: self.duplicates,
            dropped_xattrs: self.dropped_xattrs,
        })
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq - 1
    }

    fn recv(&self, chunks: &Queue<Chunk>) -> Result<Chunk> {
        if self.p.stopped() {
            return Err(PackError::Cancelled);
        }
        chunks.pop().ok_or(PackError::Cancelled)
    }

    fn send_done(&mut self, item: Item) -> Result<()> {
        let seq = self.next_seq();
        self.p
            .done
            .push(Done {
                seq,
                item,
                bytes: Vec::new(),
                compressed: false,
            })
            .map_err(|_| PackError::Cancelled)
    }

    fn send_job(&mut self, item: Item, data: Vec<u8>) -> Result<()> {
        let seq = self.next_seq();
        self.p
            .jobs
            .push(Job { seq, item, data })
            .map_err(|_| PackError::Cancelled)
    }

    /// Records what a reader learnt about a file besides its blocks.
    fn ended(&mut self, ordinal: u32, size: u64, xattrs: SourceXattrs) {
        let f = &mut self.files[ordinal as usize];
        f.size = size;
        f.xattrs = xattrs.kept;
        self.dropped_xattrs += xattrs.dropped;
    }

    /// Records a read failure: fatal, or noted and skipped.
    fn failed(&mut self, ordinal: u32, err: PackError) -> Result<()> {
        if !self.opts.skip_unreadable || matches!(err, PackError::Cancelled) {
            return Err(err);
        }
        self.files[ordinal as usize].skipped = true;
        self.skipped.push(err);
        Ok(())
    }

    /// Takes one file's chunks, `first` already received.
    fn file(&mut self, ordinal: u32, first: Chunk, rx: &Queue<Chunk>) -> Result<()> {
        let block_size = self.opts.block_size as usize;
        let mut blocks = 0u64;
        let mut next = Some(first);
        loop {
            let chunk = match next.take() {
                Some(chunk) => chunk,
                None => self.recv(rx)?,
            };
            match chunk {
                Chunk::Block(block) => {
                    self.p.budget.release(self.batch, block.len() as u64);
                    self.p
                        .progress
                        .bytes_done
                        .fetch_add(block.len() as u64, Ordering::Relaxed);
                    if blocks == 0 && block.len() < block_size {
                        return self.small_file(ordinal, block, rx);
                    }
                    blocks += 1;
                    self.send_job(Item::DataBlock { ordinal }, block)?;
                }
                Chunk::Holes(count) => {
                    self.p
                        .progress
                        .bytes_done
                        .fetch_add(count * block_size as u64, Ordering::Relaxed);
                    blocks += count;
                    self.send_done(Item::Holes { ordinal, count })?;
                }
                Chunk::End { size, hash, xattrs } => {
                    self.ended(ordinal, size, xattrs);
                    if blocks > 0 {
                        let outcome = FileOutcome::Complete { size, hash };
                        self.send_done(Item::FileEnd { ordinal, outcome })?;
                    }
                    return Ok(());
                }
                Chunk::Failed(err) => {
                    if blocks > 0 {
                        self.send_done(Item::FileEnd {
                            ordinal,
                            outcome: FileOutcome::Skipped,
                        })?;
                    }
                    return self.failed(ordinal, err);
                }
            }
        }
    }

    fn small_file(&mut self, ordinal: u32, data: Vec<u8>, rx: &Queue<Chunk>) -> Result<()> {
        let hash = match self.recv(rx)? {
            Chunk::End { hash, xattrs, .. } => {
                self.ended(ordinal, data.len() as u64, xattrs);
                hash
            }
            Chunk::Failed(err) => return self.failed(ordinal, err),
            Chunk::Block(_) | Chunk::Holes(_) => unreachable!("a short block is the last one"),
        };
        let len = data.len() as u32;
        let key = hash as u64;
        if let Some(&(index, offset)) = self.tails.get(&key) {
            if self.stored_tail(index, offset, len)? == data {
                self.files[ordinal as usize].fragment = Some((index, offset));
                self.duplicates.files += 1;
                self.duplicates.bytes += u64::from(len);
                return Ok(());
            }
        }
        if self.open_fragment.len() + data.len() > self.opts.block_size as usize {
            self.seal_fragment()?;
        }
        let place = (self.sealed, self.open_fragment.len() as u32);
        self.open_fragment.extend_from_slice(&data);
        self.tails.entry(key).or_insert(place);
        self.files[ordinal as usize].fragment = Some(place);
        Ok(())
    }

    fn seal_fragment(&mut self) -> Result<()> {
        let block = std::mem::replace(
            &mut self.open_fragment,
            Vec::with_capacity(self.opts.block_size as usize),
        );
        let index = self.sealed;
        self.sealed += 1;
        self.remember(index, Arc::new(block.clone()));
        self.send_job(Item::Fragment { index }, block)
    }

    fn remember(&mut self, index: u32, block: Arc<Vec<u8>>) {
        if self.recent.len() == RECENT_FRAGMENTS {
            self.recent.pop_front();
        }
        self.recent.push_back((index, block));
    }

    /// The bytes of a tail stored earlier, from the open fragment, the
    /// recent ones, or read back from the image.
    fn stored_tail(&mut self, index: u32, offset: u32, len: u32) -> Result<Vec<u8>> {
        let range = offset as usize..(offset + len) as usize;
        if index == self.sealed {
            return Ok(self.open_fragment[range].to_vec());
        }
        if let Some((_, block)) = self.recent.iter().find(|(i, _)| *i == index) {
            return Ok(block[range].to_vec());
        }
        let block = Arc::new(self.read_back_fragment(index)?);
        let tail = block.get(range).map(<[u8]>::to_vec).unwrap_or_default();
        self.remember(index, block);
        Ok(tail)
    }

    fn read_back_fragment(&self, index: u32) -> Result<Vec<u8>> {
        let entry = self.p.fragments.wait_for(index)?;
        let mut stored = vec![0u8; entry.size.on_disk() as usize];
        self.image.read_at(entry.start, &mut stored)?;
        if !entry.size.is_compressed() {
            return Ok(stored);
        }
        let mut block = vec![0u8; self.opts.block_size as usize];
        let len = self.opts.codec.decompress(&stored, &mut block)?;
        block.truncate(len);
        Ok(block)
    }
}

/// How many files fit in a fragment (the tails the dispatcher may remember),
/// so that their map is sized once instead of growing by doubling.
fn small_files(tree: &Tree, block_size: u32) -> usize {
    tree.files
        .iter()
        .filter(|&&idx| {
            matches!(tree.entries[idx as usize].kind,
                Kind::File { size, .. } if size < u64::from(block_size))
        })
        .count()
}
