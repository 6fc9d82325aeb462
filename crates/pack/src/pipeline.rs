//! The data pipeline: many source readers → one dispatcher (file order,
//! holes, fragments, tail dedup) → compression workers → one emitter
//! (reorders, writes sequentially, block dedup). Output order depends only
//! on the tree, never on thread timing, so images are reproducible.

use crate::budget::Budget;
use crate::dispatch::{dispatch, FileData};
use crate::emit::{emit, EmitReport};
use crate::error::{PackError, Result};
use crate::fragment_table::FragmentTable;
use crate::image_file::ImageFile;
use crate::options::PackOptions;
use crate::progress::Progress;
use crate::source_reader::{read_files, ReadJob};
use crate::tree::Tree;
use bale_squashfs::tables::FragmentEntry;
use bale_squashfs::CompressionSpec;
use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

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
    Hole { ordinal: u32 },
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

/// State shared by every stage: the first error and the stop signal.
pub struct Shared<'a> {
    pub progress: &'a Progress,
    stop: AtomicBool,
    error: Mutex<Option<PackError>>,
}

impl Shared<'_> {
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.progress.cancelled.load(Ordering::Relaxed)
    }

    /// Records the first error and asks every stage to stop.
    pub fn fail(&self, err: PackError) {
        let mut slot = self.error.lock().unwrap();
        if slot.is_none() {
            *slot = Some(err);
        }
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Turns a stage's result into its value, recording its error.
    pub fn settle<T>(&self, result: Result<T>) -> Option<T> {
        result.map_err(|e| self.fail(e)).ok()
    }
}

/// Everything the metadata writer needs from the data phase.
pub struct DataLayout {
    pub files: Vec<FileData>,
    pub fragments: Vec<FragmentEntry>,
    pub end: u64,
    pub report: EmitReport,
    /// Files left out by `--skip-unreadable`.
    pub skipped: Vec<PackError>,
}

/// Writes the data of every file in `tree.files` starting at `start`.
pub fn write_data(
    tree: &Tree,
    opts: &PackOptions,
    image: &ImageFile,
    start: u64,
    progress: &Progress,
) -> Result<DataLayout> {
    let spec = opts.compression();
    let threads = opts.compression_threads();
    let readers = opts.readers.max(1);
    let shared = Shared {
        progress,
        stop: AtomicBool::new(false),
        error: Mutex::new(None),
    };
    let budget = Budget::new(opts.read_ahead / u64::from(opts.block_size), 4);
    let fragments = FragmentTable::default();
    let (read_tx, read_rx) = unbounded::<ReadJob>();
    let (job_tx, job_rx) = bounded::<Job>(threads * 2);
    let (done_tx, done_rx) = unbounded::<Done>();

    let (dispatched, emitted) = std::thread::scope(|s| {
        for i in 0..readers {
            let rx = read_rx.clone();
            let (budget, shared) = (&budget, &shared);
            std::thread::Builder::new()
                .name(format!("bale-read-{i}"))
                .spawn_scoped(s, move || read_files(rx, budget, shared, opts.block_size))
                .expect("spawn reader");
        }
        drop(read_rx);
        for i in 0..threads {
            let (rx, tx, shared) = (job_rx.clone(), done_tx.clone(), &shared);
            std::thread::Builder::new()
                .name(format!("bale-zip-{i}"))
                .spawn_scoped(s, move || compress_jobs(rx, tx, spec, shared))
                .expect("spawn compressor");
        }
        drop(job_rx);
        let emitter = {
            let (shared, fragments) = (&shared, &fragments);
            let files = tree.files.len();
            std::thread::Builder::new()
                .name("bale-write".into())
                .spawn_scoped(s, move || {
                    let emitted = shared.settle(emit(
                        done_rx,
                        image,
                        start,
                        fragments,
                        files,
                        opts.block_size,
                    ));
                    if emitted.is_none() {
                        fragments.abort();
                    }
                    emitted
                })
                .expect("spawn writer")
        };
        let dispatched = shared.settle(dispatch(
            tree, opts, &budget, &shared, &fragments, image, read_tx, job_tx, done_tx,
        ));
        budget.close();
        (dispatched, emitter.join().expect("writer thread panicked"))
    });
    if let Some(e) = shared.error.lock().unwrap().take() {
        return Err(e);
    }
    let (Some((mut files, skipped)), Some(emitted)) = (dispatched, emitted) else {
        return Err(PackError::Cancelled);
    };
    for (ordinal, run) in emitted.runs.into_iter().enumerate() {
        if let Some(run) = run {
            let f = &mut files[ordinal];
            f.blocks_start = run.start;
            f.block_sizes = run.block_sizes;
            f.sparse = run.sparse;
        }
    }
    Ok(DataLayout {
        files,
        fragments: fragments.into_entries(),
        end: emitted.end,
        report: emitted.report,
        skipped,
    })
}

fn compress_jobs(jobs: Receiver<Job>, done: Sender<Done>, spec: CompressionSpec, shared: &Shared) {
    let mut compressor = match spec.compressor() {
        Ok(c) => c,
        Err(e) => return shared.fail(e.into()),
    };
    let mut out = Vec::new();
    for job in jobs {
        let (bytes, compressed) = match compressor.compress(&job.data, &mut out) {
            Ok(true) => (std::mem::take(&mut out), true),
            Ok(false) => (job.data, false),
            Err(e) => return shared.fail(e.into()),
        };
        if done
            .send(Done {
                seq: job.seq,
                item: job.item,
                bytes,
                compressed,
            })
            .is_err()
        {
            return;
        }
    }
}
