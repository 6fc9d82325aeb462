//! Disk usage accounting, like `du`: allocated bytes (512-byte blocks),
//! apparent bytes and entry counts per path, each hard-linked inode counted
//! once across all paths of one run (the first path that reaches it wins).
//! Directories are counted once too (which also breaks bind-mount loops);
//! with several paths every entry is remembered, so a path inside one
//! already measured adds nothing and is not printed, as with du.
//!
//! A [`Breakdown`] (`du --max-depth`, `du -a`) also reports directories
//! (and files) below each path. The walk is parallel, so each directory
//! shallow enough to be reported keeps a running total while it is open;
//! deeper entries add to their nearest reported ancestor, and a directory
//! adds its total to its parent when it is left (post-order, so it is
//! reported after everything inside it, as du does; siblings come in no
//! fixed order).

use crate::console::Failed;
use crate::session::Session;
use crate::walker::{inode_key, Entry, InodeKey, Visit, Visitor};
use rustix::fs::{FileType, Statx};
use std::collections::{HashMap, HashSet};
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

    /// The totals of one entry on its own.
    fn of(st: &Statx, file_type: FileType) -> Totals {
        let mut t = Totals {
            allocated: st.stx_blocks * 512,
            apparent: st.stx_size,
            ..Totals::default()
        };
        *match file_type {
            FileType::RegularFile => &mut t.files,
            FileType::Directory => &mut t.dirs,
            FileType::Symlink => &mut t.symlinks,
            _ => &mut t.other,
        } += 1;
        t
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
    /// Adds `other`; counters it leaves at zero are not touched (they are
    /// shared by every worker: most entries change three of the six).
    fn add(&self, other: &Totals) {
        let add = |c: &AtomicU64, v: u64| {
            if v != 0 {
                c.fetch_add(v, Ordering::Relaxed);
            }
        };
        add(&self.allocated, other.allocated);
        add(&self.apparent, other.apparent);
        add(&self.files, other.files);
        add(&self.dirs, other.dirs);
        add(&self.symlinks, other.symlinks);
        add(&self.other, other.other);
    }

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

/// What to report below each path, besides the path itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Breakdown {
    /// Report directories down to this depth (`--max-depth`; 0 reports
    /// the paths only). `None`: every directory when `all`, else none.
    pub max_depth: Option<usize>,
    /// Report files and other entries too, not only directories (`-a`).
    pub all: bool,
}

impl Breakdown {
    /// The deepest level reported (0: only the paths themselves).
    fn depth(&self) -> usize {
        match self.max_depth {
            Some(depth) => depth,
            None if self.all => usize::MAX,
            None => 0,
        }
    }
}

/// The result for one path: a command-line path, or with a [`Breakdown`]
/// an entry below one.
#[derive(Debug, Clone)]
pub struct PathUsage {
    pub path: PathBuf,
    pub totals: Totals,
    /// Everything under the path could be read.
    pub complete: bool,
    /// 0 for a command-line path.
    pub depth: usize,
}

/// Called for every path reported, from the walk's worker threads.
pub type Report<'a> = dyn Fn(&PathUsage) + Sync + 'a;

/// The du visitor: counts every entry, descends into every directory.
struct DuCounter<'a> {
    counters: Counters,
    /// Directories, and inodes with more than one link, already counted.
    seen: Mutex<HashSet<InodeKey>>,
    /// The last path walked was already counted under an earlier one.
    root_seen_before: AtomicBool,
    /// Remember every entry, not just directories and hard links.
    remember_all: bool,
    breakdown: Breakdown,
    /// Running totals of the open directories that will be reported
    /// (depth 1 to the breakdown's depth).
    open_dirs: Mutex<HashMap<PathBuf, Totals>>,
    report: &'a Report<'a>,
}

impl<'a> DuCounter<'a> {
    /// `remember_all` when several paths are measured (see the module docs).
    fn new(remember_all: bool, breakdown: Breakdown, report: &'a Report<'a>) -> Self {
        DuCounter {
            counters: Counters::default(),
            seen: Mutex::new(HashSet::new()),
            root_seen_before: AtomicBool::new(false),
            remember_all,
            breakdown,
            open_dirs: Mutex::new(HashMap::new()),
            report,
        }
    }

    /// The totals since the last call, resetting them (hard-link memory is
    /// kept, as du does across its arguments).
    fn take_totals(&self) -> Totals {
        self.counters.take()
    }

    /// Whether the last path walked had been counted before; resets.
    fn take_root_seen_before(&self) -> bool {
        self.root_seen_before.swap(false, Ordering::Relaxed)
    }

    fn open_dirs(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Totals>> {
        self.open_dirs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `totals` of an entry at `depth` to its nearest reported
    /// ancestor, if there is one below the command-line path.
    fn add_to_ancestor(&self, path: &Path, depth: usize, totals: &Totals) {
        let ancestor_depth = (depth - 1).min(self.breakdown.depth());
        if ancestor_depth == 0 {
            return;
        }
        let Some(ancestor) = path.ancestors().nth(depth - ancestor_depth) else {
            return;
        };
        if let Some(running) = self.open_dirs().get_mut(ancestor) {
            running.add(totals);
        }
    }
}

impl Visitor for DuCounter<'_> {
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
        let totals = Totals::of(st, file_type);
        self.counters.add(&totals);
        let reported = entry.depth > 0 && entry.depth <= self.breakdown.depth();
        if is_dir && reported {
            // Reported, and added to its parent, when left.
            self.open_dirs().insert(entry.path.to_path_buf(), totals);
            return Ok(Visit::Descend);
        }
        if reported && self.breakdown.all {
            (self.report)(&PathUsage {
                path: entry.path.to_path_buf(),
                totals,
                complete: true,
                depth: entry.depth,
            });
        }
        if entry.depth > 0 {
            self.add_to_ancestor(entry.path, entry.depth, &totals);
        }
        Ok(if is_dir { Visit::Descend } else { Visit::Done })
    }

    fn leave(&self, entry: &Entry<'_>, complete: bool) -> Result<Visit, Failed> {
        let Some(totals) = self.open_dirs().remove(entry.path) else {
            return Ok(Visit::Done);
        };
        (self.report)(&PathUsage {
            path: entry.path.to_path_buf(),
            totals,
            complete,
            depth: entry.depth,
        });
        self.add_to_ancestor(entry.path, entry.depth, &totals);
        Ok(Visit::Done)
    }
}

/// Measure each path in turn, calling `report` for each one as it is done
/// (so output streams) and, with a `breakdown`, for the entries below it
/// that are reported. Paths that could not be statted, or were already
/// counted under an earlier path, are not reported. Stops early when the
/// session is interrupted. Returns the grand total of the paths reported.
pub fn run(
    session: &Session,
    paths: &[PathBuf],
    breakdown: Breakdown,
    report: &Report<'_>,
) -> Totals {
    let counter = DuCounter::new(paths.len() > 1, breakdown, report);
    let mut grand_total = Totals::default();
    for path in paths {
        let outcome = session.walker.walk(Path::new(path), &counter);
        let usage = PathUsage {
            path: path.clone(),
            totals: counter.take_totals(),
            complete: outcome.complete,
            depth: 0,
        };
        // An interrupted walk's total would look like a real one.
        if outcome.interrupted {
            break;
        }
        if outcome.found && !counter.take_root_seen_before() {
            grand_total.add(&usage.totals);
            report(&usage);
        }
    }
    grand_total
}
