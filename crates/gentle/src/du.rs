//! Disk usage accounting, like `du -s`: allocated bytes (512-byte blocks),
//! apparent bytes and entry counts per path, each hard-linked inode counted
//! once across all paths of one run (the first path that reaches it wins).
//! Directories are counted once too (which also breaks bind-mount loops);
//! with several paths every entry is remembered, so a path inside one
//! already measured adds nothing and is not printed, as with du.

use crate::console::Failed;
use crate::session::Session;
use crate::walker::{inode_key, Entry, InodeKey, Visit, Visitor};
use rustix::fs::FileType;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

/// What was found under one path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Allocated bytes (`st_blocks` × 512).
    pub allocated: u64,
    /// Apparent bytes (`st_size`).
    pub apparent: u64,
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    /// Devices, FIFOs, sockets.
    pub other: u64,
}

impl Totals {
    /// All entries counted, like `du --inodes`.
    pub fn inodes(&self) -> u64 {
        self.files + self.dirs + self.symlinks + self.other
    }

    /// Adds `other` to these totals (a grand total over several paths).
    pub fn add(&mut self, other: &Totals) {
        self.allocated += other.allocated;
        self.apparent += other.apparent;
        self.files += other.files;
        self.dirs += other.dirs;
        self.symlinks += other.symlinks;
        self.other += other.other;
    }
}

#[derive(Default)]
struct Counters {
    allocated: AtomicU64,
    apparent: AtomicU64,
    files: AtomicU64,
    dirs: AtomicU64,
    symlinks: AtomicU64,
    other: AtomicU64,
}

impl Counters {
    fn take(&self) -> Totals {
        let take = |c: &AtomicU64| c.swap(0, Ordering::Relaxed);
        Totals {
            allocated: take(&self.allocated),
            apparent: take(&self.apparent),
            files: take(&self.files),
            dirs: take(&self.dirs),
            symlinks: take(&self.symlinks),
            other: take(&self.other),
        }
    }
}

/// The du visitor: counts every entry, descends into every directory.
pub struct DuCounter {
    counters: Counters,
    /// Directories, and inodes with more than one link, already counted.
    seen: Mutex<HashSet<InodeKey>>,
    /// The last path walked was already counted under an earlier one.
    root_seen_before: AtomicBool,
    /// Remember every entry, not just directories and hard links.
    remember_all: bool,
}

impl DuCounter {
    /// `remember_all` when several paths are measured (see the module docs).
    pub fn new(remember_all: bool) -> Self {
        DuCounter {
            counters: Counters::default(),
            seen: Mutex::new(HashSet::new()),
            root_seen_before: AtomicBool::new(false),
            remember_all,
        }
    }

    /// The totals since the last call, resetting them (hard-link memory is
    /// kept, as du does across its arguments).
    pub fn take_totals(&self) -> Totals {
        self.counters.take()
    }

    /// Whether the last path walked had been counted before; resets.
    pub fn take_root_seen_before(&self) -> bool {
        self.root_seen_before.swap(false, Ordering::Relaxed)
    }
}

impl Visitor for DuCounter {
    fn visit(&self, entry: &Entry<'_>) -> Result<Visit, Failed> {
        let st = entry.stat;
        let file_type = entry.file_type();
        let is_dir = file_type == FileType::Directory;
        if self.remember_all || is_dir || st.stx_nlink > 1 {
            let first = self
                .seen
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(inode_key(st));
            if !first {
                if entry.depth == 0 {
                    self.root_seen_before.store(true, Ordering::Relaxed);
                }
                return Ok(Visit::Done);
            }
        }
        let c = &self.counters;
        c.allocated
            .fetch_add(st.stx_blocks * 512, Ordering::Relaxed);
        c.apparent.fetch_add(st.stx_size, Ordering::Relaxed);
        let kind = match file_type {
            FileType::RegularFile => &c.files,
            FileType::Directory => &c.dirs,
            FileType::Symlink => &c.symlinks,
            _ => &c.other,
        };
        kind.fetch_add(1, Ordering::Relaxed);
        Ok(if is_dir { Visit::Descend } else { Visit::Done })
    }
}

/// The result for one command-line path.
#[derive(Debug, Clone)]
pub struct PathUsage {
    pub path: PathBuf,
    pub totals: Totals,
    /// Everything under the path could be read.
    pub complete: bool,
}

/// Measure each path in turn, calling `report` as each one is done (so
/// output streams); paths that could not be statted, or were already
/// counted under an earlier path, are not reported. Stops early when the
/// session is interrupted.
pub fn run(session: &Session, paths: &[PathBuf], mut report: impl FnMut(&PathUsage)) {
    let counter = DuCounter::new(paths.len() > 1);
    for path in paths {
        let outcome = session.walker.walk(Path::new(path), &counter);
        let usage = PathUsage {
            path: path.clone(),
            totals: counter.take_totals(),
            complete: outcome.complete,
        };
        if outcome.found && !counter.take_root_seen_before() {
            report(&usage);
        }
        if outcome.interrupted {
            break;
        }
    }
}
