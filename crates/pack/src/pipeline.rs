//! The data pipeline: many source readers (one for an archive) → one
//! dispatcher (file order, holes, fragments, tail dedup) → compression
//! workers → one emitter (reorders, writes sequentially, block dedup).
//! Output order depends only on the source, never on thread timing, so
//! images are reproducible.

use crate::archive_reader::read_archive;
use crate::budget::Budget;
use crate::dispatch::{dispatch, dispatch_stream, FileData};
use crate::emit::{emit, BlockRun, EmitReport};
use crate::error::{PackError, Result};
use crate::fragment_table::FragmentTable;
use crate::image_file::ImageFile;
use crate::options::{PackOptions, ARCHIVE_READ_AHEAD, DEFAULT_READ_AHEAD};
use crate::progress::Progress;
use crate::queue::Queue;
use crate::scan::ScanReport;
use crate::source::Source;
use crate::source_reader::{read_files, ReadJob};
use crate::tree::Tree;
use bale_squashfs::tables::FragmentEntry;
use bale_squashfs::CompressionSpec;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::thread::{Scope, ScopedJoinHandle};

/// A unit of work for a compression worker.
pub struct Job {
    pub seq: u64,
    pub item: Item,
    pub data: Vec<u8>,
}

/// What a sequence number stands for in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    DataBlock { ordinal: u32 },
    Holes { ordinal: u32, count: u64 },
    FileEnd { ordinal: u32, outcome: FileOutcome },
    Fragment { index: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileOutcome {
    Complete { size: u64, hash: u128 },
    Skipped,
}

/// A finished unit, in any order; the emitter restores sequence order.
pub struct Done {
    pub seq: u64,
    pub item: Item,
    pub bytes: Vec<u8>,
    pub compressed: bool,
}

/// What every stage shares: the queues between stages, the read-ahead
/// budget, fragment locations, and the first error. Any stage failing
/// closes everything, so no thread stays blocked.
pub struct Pipeline<'a> {
    pub progress: &'a Progress,
    pub budget: Budget,
    pub fragments: FragmentTable,
    pub read_jobs: Queue<ReadJob>,
    pub jobs: Queue<Job>,
    pub done: Queue<Done>,
    /// Files that changed while they were read (reported, not fatal).
    pub changed: Mutex<Vec<PathBuf>>,
    stop: AtomicBool,
    error: Mutex<Option<PackError>>,
}

impl Pipeline<'_> {
    /// The stages' shared state for `threads` compressors, readers holding
    /// at most `read_ahead` bytes of blocks of `block_size`.
    pub fn new(
        progress: &Progress,
        read_ahead: u64,
        block_size: u32,
        threads: usize,
    ) -> Pipeline<'_> {
        Pipeline {
            progress,
            budget: Budget::new(read_ahead, read_reserve(block_size)),
            fragments: FragmentTable::default(),
            read_jobs: Queue::new(usize::MAX, 1),
            jobs: Queue::new(threads * 2, 1),
            done: Queue::new(usize::MAX, threads + 1),
            changed: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            error: Mutex::new(None),
        }
    }

    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.progress.cancelled.load(Ordering::Relaxed)
    }

    /// Records the first error and wakes every stage so it can stop.
    pub fn fail(&self, err: PackError) {
        let mut slot = self.error.lock().unwrap();
        if slot.is_none() {
            *slot = Some(err);
        }
        drop(slot);
        self.stop.store(true, Ordering::Relaxed);
        self.budget.close();
        self.read_jobs.close();
        self.jobs.close();
        self.done.close();
        self.fragments.abort();
    }

    /// Turns a stage's result into its value, recording its error.
    pub fn settle<T>(&self, result: Result<T>) -> Option<T> {
        result.map_err(|e| self.fail(e)).ok()
    }
}

/// Starts one thread of a stage, or, when the system will not give us one
/// (a limit on processes or memory), fails the pipeline so that the threads
/// already running stop instead of waiting for it.
fn start_thread<'scope, T: Send + 'scope>(
    scope: &'scope Scope<'scope, '_>,
    p: &Pipeline<'_>,
    name: String,
    body: impl FnOnce() -> T + Send + 'scope,
) -> Option<ScopedJoinHandle<'scope, T>> {
    std::thread::Builder::new()
        .name(name)
        .spawn_scoped(scope, body)
        .map_err(|e| p.fail(PackError::no_threads("pack", e)))
        .ok()
}

/// Everything the metadata writer needs from the data phase.
pub struct DataLayout {
    pub files: Vec<FileData>,
    /// Block runs of the files with blocks, by ordinal.
    pub runs: HashMap<u32, BlockRun>,
    pub dropped_xattrs: u64,
    pub fragments: Vec<FragmentEntry>,
    pub end: u64,
    pub report: EmitReport,
    /// Files left out by `--skip-unreadable`.
    pub skipped: Vec<PackError>,
    /// Files that changed while they were read, sorted.
    pub changed: Vec<PathBuf>,
}

/// Writes the data of every file of `source` starting at `start`: a
/// scanned tree's read by `opts.readers` threads, an archive's by one that
/// learns the tree as it reads. Returns the tree, what its scan reported,
/// and where the data went.
pub fn write_data(
    source: Source,
    opts: &PackOptions,
    image: &ImageFile,
    start: u64,
    progress: &Progress,
) -> Result<(Tree, ScanReport, DataLayout)> {
    let spec = opts.compression();
    let threads = opts.compression_threads();
    let read_ahead = opts.read_ahead.unwrap_or(match source {
        Source::Tree { .. } => DEFAULT_READ_AHEAD,
        Source::Archive(_) => ARCHIVE_READ_AHEAD,
    });
    let p = Pipeline::new(progress, read_ahead, opts.block_size, threads);
    // An archive's files, streamed by its reader.
    let streamed = Queue::new(usize::MAX, 1);
    let (dispatched, emitted, archive_tree) = std::thread::scope(|s| {
        for i in 0..threads {
            let p = &p;
            let compressor = start_thread(s, p, format!("bale-zip-{i}"), move || {
                p.settle(compress_jobs(p, spec));
                p.done.producer_done();
            });
            if compressor.is_none() {
                break;
            }
        }
        let emitter = {
            let p = &p;
            start_thread(s, p, "bale-write".into(), move || {
                p.settle(emit(p, image, start, opts.block_size))
            })
        };
        let (dispatched, archive_tree) = match &source {
            Source::Tree { tree, root, .. } => {
                for i in 0..opts.readers.max(1) {
                    let p = &p;
                    let reader = start_thread(s, p, format!("bale-read-{i}"), move || {
                        read_files(p, root, opts.block_size, opts.xattrs)
                    });
                    if reader.is_none() {
                        break;
                    }
                }
                (p.settle(dispatch(tree, opts, &p, image)), None)
            }
            Source::Archive(archive) => {
                let (p, streamed) = (&p, &streamed);
                let reader = start_thread(s, p, "bale-read-archive".into(), move || {
                    let tree = p.settle(read_archive(p, archive, opts, streamed));
                    streamed.producer_done();
                    tree
                });
                match reader {
                    Some(reader) => {
                        let dispatched = p.settle(dispatch_stream(opts, p, image, streamed));
                        (dispatched, reader.join().expect("archive reader panicked"))
                    }
                    None => (None, None),
                }
            }
        };
        p.read_jobs.close();
        p.jobs.producer_done();
        p.done.producer_done();
        p.budget.close();
        let emitted = emitter.and_then(|e| e.join().expect("writer thread panicked"));
        (dispatched, emitted, archive_tree)
    });
    if let Some(e) = p.error.lock().unwrap().take() {
        return Err(e);
    }
    let (Some(dispatched), Some(mut emitted)) = (dispatched, emitted) else {
        return Err(PackError::Cancelled);
    };
    emitted.report.duplicate_files += dispatched.duplicates.files;
    emitted.report.duplicate_bytes += dispatched.duplicates.bytes;
    let mut changed = std::mem::take(&mut *p.changed.lock().unwrap());
    changed.sort_unstable();
    let mut layout = DataLayout {
        files: dispatched.files,
        runs: emitted.runs,
        dropped_xattrs: dispatched.dropped_xattrs,
        fragments: p.fragments.into_entries(),
        end: emitted.end,
        report: emitted.report,
        skipped: dispatched.skipped,
        changed,
    };
    match (source, archive_tree) {
        (Source::Tree { tree, report, .. }, _) => Ok((tree, report, layout)),
        (Source::Archive(archive), Some(archive_tree)) => {
            let (tree, read_as, report) = archive_tree.finish(archive.path());
            layout.renumber(&read_as);
            Ok((tree, report, layout))
        }
        (Source::Archive(_), None) => Err(PackError::Cancelled),
    }
}

impl DataLayout {
    /// Numbers the files as the tree does: `read_as[i]` is the ordinal
    /// the tree's file `i` was read as. Files read but not in the tree (an
    /// archive member a later one replaced) are dropped; their data stays
    /// in the image, unreferenced.
    fn renumber(&mut self, read_as: &[u64]) {
        self.files = read_as
            .iter()
            .map(|&o| std::mem::take(&mut self.files[o as usize]))
            .collect();
        let mut runs = HashMap::with_capacity(self.runs.len());
        for (ordinal, &o) in read_as.iter().enumerate() {
            if let Some(run) = self.runs.remove(&(o as u32)) {
                runs.insert(ordinal as u32, run);
            }
        }
        self.runs = runs;
    }
}

/// What the head batch may always read: a full batch of small files, or
/// four blocks of a large file.
fn read_reserve(block_size: u32) -> u64 {
    crate::dispatch::BATCH_BYTES.max(4 * u64::from(block_size))
}

fn compress_jobs(p: &Pipeline, spec: CompressionSpec) -> Result<()> {
    let mut compressor = spec.compressor()?;
    let mut out = Vec::new();
    while let Some(job) = p.jobs.pop() {
        let (bytes, compressed) = match compressor.compress(&job.data, &mut out)? {
            true => (std::mem::take(&mut out), true),
            false => (job.data, false),
        };
        let done = Done {
            seq: job.seq,
            item: job.item,
            bytes,
            compressed,
        };
        if p.done.push(done).is_err() {
            break;
        }
    }
    Ok(())
}
