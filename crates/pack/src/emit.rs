//! The emitter: restores sequence order, writes blocks one after another,
//! records where each file's blocks went and publishes fragment blocks.
//! When a file ends with the same size and content hash as an earlier one,
//! their stored bytes are compared and, if equal, the new copy is dropped
//! by rewinding the write position.

use crate::error::{PackError, Result};
use crate::image_file::ImageFile;
use crate::pipeline::{Done, FileOutcome, Item, Pipeline};
use bale_squashfs::block::BlockSize;
use bale_squashfs::tables::FragmentEntry;
use std::collections::{BTreeMap, HashMap};

/// The blocks of one file larger than a block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockRun {
    pub start: u64,
    pub block_sizes: Vec<u32>,
    pub sparse: u64,
}

impl BlockRun {
    fn stored_len(&self) -> u64 {
        self.block_sizes
            .iter()
            .map(|&w| u64::from(w & 0xff_ffff))
            .sum()
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct EmitReport {
    /// Files whose blocks duplicated an earlier file's.
    pub duplicate_files: u64,
    /// Image bytes saved by sharing them.
    pub duplicate_bytes: u64,
}

pub struct Emitted {
    /// The block runs of files with blocks, by ordinal (most files of a
    /// small-file tree have none: a map keeps memory proportional to the
    /// large ones).
    pub runs: HashMap<u32, BlockRun>,
    pub end: u64,
    pub report: EmitReport,
}

struct Emitter<'a> {
    image: &'a ImageFile,
    p: &'a Pipeline<'a>,
    block_size: u64,
    pos: u64,
    current: Option<BlockRun>,
    runs: HashMap<u32, BlockRun>,
    seen: HashMap<(u64, u128), u32>,
    report: EmitReport,
}

pub fn emit(p: &Pipeline, image: &ImageFile, start: u64, block_size: u32) -> Result<Emitted> {
    let mut e = Emitter {
        image,
        p,
        block_size: u64::from(block_size),
        pos: start,
        current: None,
        runs: HashMap::new(),
        seen: HashMap::new(),
        report: EmitReport::default(),
    };
    let mut waiting = BTreeMap::new();
    let mut next = 0u64;
    while let Some(d) = p.done.pop() {
        waiting.insert(d.seq, d);
        while let Some(d) = waiting.remove(&next) {
            e.item(d)?;
            next += 1;
        }
    }
    if !waiting.is_empty() {
        return Err(PackError::Cancelled);
    }
    Ok(Emitted {
        runs: e.runs,
        end: e.pos,
        report: e.report,
    })
}

impl Emitter<'_> {
    fn run(&mut self) -> &mut BlockRun {
        let pos = self.pos;
        self.current.get_or_insert_with(|| BlockRun {
            start: pos,
            ..BlockRun::default()
        })
    }

    fn item(&mut self, d: Done) -> Result<()> {
        match d.item {
            Item::DataBlock { .. } => {
                self.run()
                    .block_sizes
                    .push(BlockSize::stored(d.bytes.len() as u32, d.compressed).raw());
                self.image.write_at(self.pos, &d.bytes)?;
                self.pos += d.bytes.len() as u64;
            }
            Item::Holes { count, .. } => {
                let block_size = self.block_size;
                let run = self.run();
                let holes = std::iter::repeat_n(BlockSize::HOLE.raw(), count as usize);
                run.block_sizes.extend(holes);
                run.sparse += count * block_size;
            }
            Item::Fragment { index } => {
                let entry = FragmentEntry {
                    start: self.pos,
                    size: BlockSize::stored(d.bytes.len() as u32, d.compressed),
                };
                self.image.write_at(self.pos, &d.bytes)?;
                self.pos += d.bytes.len() as u64;
                self.p.fragments.publish(index, entry);
            }
            Item::FileEnd { ordinal, outcome } => {
                let run = self.current.take().unwrap_or_default();
                match outcome {
                    FileOutcome::Skipped => self.pos = run.start,
                    FileOutcome::Complete { size, hash } => {
                        let run = self.deduplicate(run, (size, hash))?;
                        self.seen.entry((size, hash)).or_insert(ordinal);
                        self.runs.insert(ordinal, run);
                    }
                }
            }
        }
        Ok(())
    }

    /// Replaces `run` by an earlier identical one, if its bytes match.
    fn deduplicate(&mut self, run: BlockRun, key: (u64, u128)) -> Result<BlockRun> {
        let Some(&earlier) = self.seen.get(&key) else {
            return Ok(run);
        };
        let Some(prev) = self.runs.get(&earlier).cloned() else {
            return Ok(run);
        };
        if prev.block_sizes != run.block_sizes
            || !self.same_bytes(prev.start, run.start, run.stored_len())?
        {
            return Ok(run);
        }
        self.pos = run.start;
        self.report.duplicate_files += 1;
        self.report.duplicate_bytes += run.stored_len();
        Ok(BlockRun {
            sparse: run.sparse,
            ..prev
        })
    }

    fn same_bytes(&self, a: u64, b: u64, len: u64) -> Result<bool> {
        const CHUNK: u64 = 1 << 20;
        let (mut x, mut y) = (Vec::new(), Vec::new());
        let mut done = 0;
        while done < len {
            let n = CHUNK.min(len - done) as usize;
            x.resize(n, 0);
            y.resize(n, 0);
            self.image.read_at(a + done, &mut x)?;
            self.image.read_at(b + done, &mut y)?;
            if x != y {
                return Ok(false);
            }
            done += n as u64;
        }
        Ok(true)
    }
}
