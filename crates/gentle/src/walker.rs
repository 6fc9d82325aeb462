//! The parallel directory walker.
//!
//! Several worker threads share a LIFO stack of jobs: "list this directory"
//! and "stat and visit this batch of names". Listing splits large
//! directories into batches so that even one flat directory of a million
//! files is statted in parallel; the LIFO order keeps the walk depth-first,
//! which bounds the number of open directory descriptors.
//!
//! Everything is done relative to directory descriptors (`openat` with
//! `O_NOFOLLOW`, `statx` with `AT_SYMLINK_NOFOLLOW`), so symlinks are never
//! followed and a directory renamed or replaced mid-walk cannot redirect it.
//! Each directory counts its outstanding jobs; when the last one finishes the
//! visitor's post-order [`Visitor::leave`] runs (where `rm` removes the now
//! empty directory) and the parent is told. Every `statx` goes through the
//! one shared stat limiter.

use crate::console::{Console, Failed};
use crate::dir_fds::{FdBudget, FdSlot};
use crate::limiter::RateLimiter;
use crate::stats::{CallStats, Op};
use os_display::Quotable;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawDir, Statx, StatxFlags};
use rustix::io::Errno;
use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Names statted per job: large enough to amortise queueing, small enough
/// that a big directory is shared among the workers.
const BATCH: usize = 128;

/// Buffer for `getdents64`; larger means fewer readdir round trips.
const DIRENT_BUFFER: usize = 64 * 1024;

/// What the walker should do after a visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visit {
    /// Walk into this directory (ignored for anything else).
    Descend,
    /// The entry is fully handled (counted, removed).
    Done,
    /// The entry was left in place on purpose (declined, skipped); the
    /// directories above it are marked incomplete.
    Kept,
}

/// One directory entry, with its `statx` result.
pub struct Entry<'a> {
    /// The directory that contains the entry.
    pub dir: BorrowedFd<'a>,
    /// The entry's name in `dir`.
    pub name: &'a CStr,
    /// The path as the user would name it (for messages).
    pub path: &'a Path,
    pub stat: &'a Statx,
    /// 0 for the path given on the command line.
    pub depth: usize,
}

impl Entry<'_> {
    pub fn file_type(&self) -> FileType {
        FileType::from_raw_mode(self.stat.stx_mode.into())
    }

    pub fn is_dir(&self) -> bool {
        self.file_type() == FileType::Directory
    }
}

/// What a tool does with the entries of a walk. Called from several threads.
pub trait Visitor: Sync {
    /// Called once per entry, parents before their contents.
    fn visit(&self, entry: &Entry<'_>) -> Result<Visit, Failed>;

    /// Called after everything inside a directory that was descended into
    /// has been visited. `complete` is false when something inside failed or
    /// was kept. Return [`Visit::Done`] or [`Visit::Kept`].
    fn leave(&self, _entry: &Entry<'_>, _complete: bool) -> Result<Visit, Failed> {
        Ok(Visit::Done)
    }

    /// Called instead of descending when a directory cannot be opened for
    /// listing. `Ok` when the visitor dealt with the directory itself
    /// ([`Visitor::leave`] is then not called); by default `failed` is
    /// reported and the directory is left incomplete.
    fn unreadable(&self, _entry: &Entry<'_>, failed: Failed) -> Result<Visit, Failed> {
        Err(failed)
    }

    /// Whether entries that vanish during the walk (`ENOENT`, or `ENOTDIR`
    /// for a path through something that is no longer a directory) count as
    /// handled rather than as failures (`rm -f`).
    fn ignore_vanished(&self) -> bool {
        false
    }

    /// Whether a command-line path ending in `/` is resolved as the kernel
    /// does, following a symlink to the directory it names (`du`, as
    /// POSIX says). Otherwise such a symlink is visited as the link itself
    /// (`rm`: a link is removed, never what it points to); either way a
    /// non-directory named with a trailing slash is an error.
    fn follows_trailing_slash(&self) -> bool {
        true
    }

    /// What failed when an entry cannot be examined, for messages.
    fn cannot_access(&self) -> &'static str {
        "cannot access"
    }
}

/// Whether `e` says an entry is not there (any more): `ENOENT`, or
/// `ENOTDIR` for a path through something that is not a directory.
pub(crate) fn vanished(e: Errno) -> bool {
    e == Errno::NOENT || e == Errno::NOTDIR
}

/// What a walk does with a directory on another file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtherFileSystems {
    /// Visited like any other.
    Crossed,
    /// Left out without a word (`du -x`).
    Skipped,
    /// Left out and reported as a failure (`rm`: what it did not remove).
    Refused,
}

/// Settings and shared state for walks.
pub struct Walker {
    pub workers: usize,
    /// What becomes of directories on another file system (or mount
    /// points of the same one).
    pub other_file_systems: OtherFileSystems,
    pub stat_limit: Option<RateLimiter>,
    pub stats: Arc<CallStats>,
    pub stop: Arc<AtomicBool>,
    pub console: Arc<Console>,
    /// Directory descriptors held for later use before directories give
    /// theirs up (see `dir_fds`).
    pub fd_budget: usize,
}

/// How one walk ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkOutcome {
    /// The path and everything below it were visited (and left) with no
    /// failure and nothing kept.
    pub complete: bool,
    /// The walk was stopped before the end.
    pub interrupted: bool,
    /// The path itself could be statted (and was visited).
    pub found: bool,
}

const STATX_MASK: StatxFlags = StatxFlags::TYPE
    .union(StatxFlags::MODE)
    .union(StatxFlags::NLINK)
    .union(StatxFlags::INO)
    .union(StatxFlags::SIZE)
    .union(StatxFlags::BLOCKS)
    .union(StatxFlags::UID)
    .union(StatxFlags::GID);

/// The device number of a `statx` result.
pub fn device(stat: &Statx) -> (u32, u32) {
    (stat.stx_dev_major, stat.stx_dev_minor)
}

/// Identifies an inode: device and inode number.
pub type InodeKey = ((u32, u32), u64);

pub fn inode_key(stat: &Statx) -> InodeKey {
    (device(stat), stat.stx_ino)
}

/// Half the soft limit on open files: the rest is for the descriptors the
/// workers use at the moment and for the rest of the program.
fn default_fd_budget() -> usize {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    limit.map_or(1 << 20, |n| {
        usize::try_from(n / 2).unwrap_or(1 << 20).min(1 << 20)
    })
}

/// A directory being walked.
struct DirNode {
    parent: Option<Arc<DirNode>>,
    name: CString,
    path: PathBuf,
    stat: Statx,
    depth: usize,
    /// This directory, while held open.
    fd: Arc<FdSlot>,
    /// The listing plus every batch not yet finished: the directory's own
    /// jobs, which need its descriptor.
    own_jobs: AtomicUsize,
    /// The listing plus every batch and subdirectory not yet finished.
    pending: AtomicUsize,
    incomplete: AtomicBool,
}

impl DirNode {
    fn new(parent: Option<Arc<DirNode>>, name: CString, path: PathBuf, stat: Statx) -> Self {
        DirNode {
            depth: parent.as_ref().map_or(0, |p| p.depth + 1),
            parent,
            name,
            path,
            stat,
            fd: Arc::default(),
            own_jobs: AtomicUsize::new(1),
            pending: AtomicUsize::new(1),
            incomplete: AtomicBool::new(false),
        }
    }
}

/// Open the directory `name` in `dir` for listing, never through a symlink.
fn open_dir(dir: BorrowedFd<'_>, name: &CStr) -> rustix::io::Result<OwnedFd> {
    rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

enum Job {
    List(Arc<DirNode>),
    Batch(Arc<DirNode>, Vec<CString>),
}

struct QueueState {
    jobs: Vec<Job>,
    active: usize,
    /// Workers blocked in `pop`: notifying costs a system call, so it is
    /// done only when someone waits.
    waiting: usize,
}

/// The shared LIFO stack of jobs.
struct Queue {
    state: Mutex<QueueState>,
    ready: Condvar,
}

impl Queue {
    fn new() -> Self {
        Queue {
            state: Mutex::new(QueueState {
                jobs: Vec::new(),
                active: 0,
                waiting: 0,
            }),
            ready: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, job: Job) {
        let mut state = self.lock();
        state.jobs.push(job);
        if state.waiting > 0 {
            self.ready.notify_one();
        }
    }

    /// The next job, or `None` once there is no work left or `stop` is set.
    fn pop(&self, stop: &AtomicBool) -> Option<Job> {
        let mut state = self.lock();
        loop {
            if stop.load(Ordering::Relaxed) {
                return None;
            }
            if let Some(job) = state.jobs.pop() {
                state.active += 1;
                return Some(job);
            }
            if state.active == 0 {
                if state.waiting > 0 {
                    self.ready.notify_all();
                }
                return None;
            }
            state.waiting += 1;
            state = self
                .ready
                .wait_timeout(state, Duration::from_millis(100))
                .unwrap_or_else(|e| e.into_inner())
                .0;
            state.waiting -= 1;
        }
    }

    fn finished_one(&self) {
        let mut state = self.lock();
        state.active -= 1;
        if state.active == 0 && state.waiting > 0 {
            self.ready.notify_all();
        }
    }
}

fn join_name(dir: &Path, name: &CStr) -> PathBuf {
    dir.join(OsStr::from_bytes(name.to_bytes()))
}

/// Where a command-line path is: the directory that holds it and its name
/// there.
#[derive(Debug, PartialEq, Eq)]
struct Root {
    dir: PathBuf,
    name: CString,
    /// The path ends in `/`: it must name a directory (or, when the
    /// trailing slash is not followed, a symlink to one).
    dir_only: bool,
}

impl Root {
    /// Split `path`. Paths without a final name ("/", "..", "a/."), and
    /// with `follow` those ending in `/`, are opened themselves (the kernel
    /// resolving them, following a final symlink) and named ".": a `Path`
    /// drops their trailing `/` or `/.`, which says "the directory".
    fn of(path: &Path, follow: bool) -> Root {
        let bytes = path.as_os_str().as_bytes();
        let dir_only = bytes.ends_with(b"/");
        let resolved = bytes.ends_with(b"/.") || (dir_only && follow);
        let name = match path.file_name() {
            Some(name) if !resolved => name,
            _ => {
                return Root {
                    dir: path.to_path_buf(),
                    name: CString::from(c"."),
                    dir_only: false,
                }
            }
        };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Root {
            dir,
            // A name from a Path never holds a NUL byte.
            name: CString::new(name.as_bytes()).expect("path names hold no NUL byte"),
            dir_only,
        }
    }
}

/// State of one walk, shared by its workers.
struct Walk<'w, V: Visitor> {
    walker: &'w Walker,
    visitor: &'w V,
    queue: Queue,
    root_dev: (u32, u32),
    root_complete: AtomicBool,
    /// The directory holding the command-line path, never given up.
    root_parent: Arc<OwnedFd>,
    fds: FdBudget,
}

impl Walker {
    /// A walker with `workers` threads, no limit, crossing file systems.
    pub fn new(workers: usize, console: Arc<Console>) -> Self {
        Walker {
            workers: workers.max(1),
            other_file_systems: OtherFileSystems::Crossed,
            stat_limit: None,
            stats: Arc::new(CallStats::new()),
            stop: Arc::new(AtomicBool::new(false)),
            console,
            fd_budget: default_fd_budget(),
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// One rate-limited, counted `statx` without following symlinks.
    /// `None` when the walk was stopped while waiting for a slot.
    fn stat(&self, dir: BorrowedFd<'_>, name: &CStr) -> Option<rustix::io::Result<Statx>> {
        self.stat_with(dir, name, AtFlags::SYMLINK_NOFOLLOW)
    }

    fn stat_with(
        &self,
        dir: BorrowedFd<'_>,
        name: &CStr,
        flags: AtFlags,
    ) -> Option<rustix::io::Result<Statx>> {
        if let Some(limit) = &self.stat_limit {
            if !limit.acquire_unless(&self.stop) {
                return None;
            }
        }
        let result = rustix::fs::statx(dir, name, flags, STATX_MASK);
        self.stats.record(Op::Stat);
        Some(result)
    }

    /// Whether the symlink `name` in `dir` points to a directory; `None`
    /// when stopped.
    fn links_to_dir(&self, dir: BorrowedFd<'_>, name: &CStr) -> Option<rustix::io::Result<bool>> {
        let mut slashed = name.to_bytes().to_vec();
        slashed.push(b'/');
        let slashed = CString::new(slashed).expect("path names hold no NUL byte");
        // The trailing slash makes the kernel follow the link.
        let stat = self.stat_with(dir, &slashed, AtFlags::empty())?;
        Some(stat.map(|st| FileType::from_raw_mode(st.stx_mode.into()) == FileType::Directory))
    }

    /// Walk `path` (not following it if it is a symlink), calling `visitor`
    /// for it and, if it is a directory the visitor descends into, for
    /// everything below it.
    pub fn walk<V: Visitor>(&self, path: &Path, visitor: &V) -> WalkOutcome {
        let outcome = |complete, found| WalkOutcome {
            complete,
            interrupted: self.stopped(),
            found,
        };
        // The path could not be examined: a failure, or with `rm -f` not
        // there to remove.
        let not_found = |e: Errno| {
            if visitor.ignore_vanished() && vanished(e) {
                return outcome(true, false);
            }
            self.console
                .fail(path, &Failed::new(visitor.cannot_access(), e));
            outcome(false, false)
        };
        let Root {
            dir: parent,
            name,
            dir_only,
        } = Root::of(path, visitor.follows_trailing_slash());
        let parent_fd = match rustix::fs::open(
            &parent,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => Arc::new(fd),
            Err(e) => return not_found(e),
        };
        let stat = match self.stat(parent_fd.as_fd(), &name) {
            None => return outcome(false, false),
            Some(Ok(stat)) => stat,
            Some(Err(e)) => return not_found(e),
        };
        let file_type = FileType::from_raw_mode(stat.stx_mode.into());
        if dir_only && file_type != FileType::Directory {
            let to_dir = match file_type {
                FileType::Symlink => self.links_to_dir(parent_fd.as_fd(), &name),
                _ => Some(Ok(false)),
            };
            match to_dir {
                None => return outcome(false, false),
                Some(Ok(true)) => {}
                Some(Ok(false) | Err(_)) => return not_found(Errno::NOTDIR),
            }
        }
        self.stats.record_entry();
        let entry = Entry {
            dir: parent_fd.as_fd(),
            name: &name,
            path,
            stat: &stat,
            depth: 0,
        };
        let visit = match visitor.visit(&entry) {
            Ok(v) => v,
            Err(f) => {
                self.console.fail(path, &f);
                return outcome(false, true);
            }
        };
        if visit != Visit::Descend || !entry.is_dir() {
            return outcome(visit != Visit::Kept, true);
        }
        let walk = Walk {
            walker: self,
            visitor,
            queue: Queue::new(),
            root_dev: device(&stat),
            root_complete: AtomicBool::new(false),
            root_parent: parent_fd,
            fds: FdBudget::new(self.fd_budget),
        };
        walk.queue.push(Job::List(Arc::new(DirNode::new(
            None,
            name,
            path.to_path_buf(),
            stat,
        ))));
        std::thread::scope(|scope| {
            for _ in 0..self.workers {
                scope.spawn(|| walk.work());
            }
        });
        outcome(walk.root_complete.load(Ordering::Relaxed), true)
    }
}

impl<V: Visitor> Walk<'_, V> {
    fn work(&self) {
        let mut buf = Vec::new();
        while let Some(job) = self.queue.pop(&self.walker.stop) {
            match job {
                Job::List(node) => self.list(node, &mut buf),
                Job::Batch(node, names) => self.batch(node, names),
            }
            self.queue.finished_one();
        }
    }

    fn list(&self, node: Arc<DirNode>, buf: &mut Vec<MaybeUninit<u8>>) {
        let console = &self.walker.console;
        let Some(parent_fd) = self.parent_fd(&node, None) else {
            node.incomplete.store(true, Ordering::Relaxed);
            return self.finish(node, None);
        };
        let fd = match open_dir(parent_fd.as_fd(), &node.name) {
            Ok(fd) => self.fds.hold(&node.fd, fd, node.depth, false),
            Err(e) if self.visitor.ignore_vanished() && vanished(e) => {
                // Gone already: nothing to do here, nor to remove.
                if let Some(parent) = &node.parent {
                    return self.finish(Arc::clone(parent), Some(parent_fd));
                }
                self.root_complete.store(true, Ordering::Relaxed);
                return;
            }
            Err(e) => {
                return self.finish_unreadable(node, Failed::new("cannot open directory", e));
            }
        };
        drop(parent_fd);
        if buf.is_empty() {
            buf.resize(DIRENT_BUFFER, MaybeUninit::uninit());
        }
        let mut dir = RawDir::new(fd.as_fd(), buf.as_mut_slice());
        let mut names = Vec::with_capacity(BATCH);
        while let Some(entry) = dir.next() {
            if self.walker.stopped() {
                return;
            }
            match entry {
                Ok(entry) => {
                    let name = entry.file_name();
                    if name == c"." || name == c".." {
                        continue;
                    }
                    names.push(name.to_owned());
                    if names.len() == BATCH {
                        self.push_batch(&node, std::mem::take(&mut names));
                    }
                }
                Err(e) => {
                    console.fail(&node.path, &Failed::new("cannot read directory", e));
                    node.incomplete.store(true, Ordering::Relaxed);
                    break;
                }
            }
        }
        if !names.is_empty() {
            self.push_batch(&node, names);
        }
        self.own_job_done(&node);
        self.finish(node, Some(fd));
    }

    fn push_batch(&self, node: &Arc<DirNode>, names: Vec<CString>) {
        node.own_jobs.fetch_add(1, Ordering::Relaxed);
        node.pending.fetch_add(1, Ordering::Relaxed);
        self.queue.push(Job::Batch(Arc::clone(node), names));
    }

    /// The listing or a batch of `node` is done; after the last of them
    /// only its subdirectories need its descriptor.
    fn own_job_done(&self, node: &Arc<DirNode>) {
        if node.own_jobs.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.fds.idle(&node.fd, node.depth);
        }
    }

    fn batch(&self, node: Arc<DirNode>, names: Vec<CString>) {
        // Held: a directory gives up its descriptor only after its batches.
        let Some(fd) = self.dir_fd(&node, None) else {
            node.incomplete.store(true, Ordering::Relaxed);
            self.own_job_done(&node);
            return self.finish(node, None);
        };
        for name in names {
            if self.walker.stopped() {
                return;
            }
            if !self.entry(&node, &fd, name) {
                node.incomplete.store(true, Ordering::Relaxed);
            }
        }
        self.own_job_done(&node);
        self.finish(node, Some(fd));
    }

    /// The descriptor of `node`'s directory: the one held, or else the
    /// directory opened again, from `child` (a descriptor of one of its
    /// subdirectories) by "..", or from its parent by name, never through
    /// a symlink. What is opened must be the very directory walked (same
    /// device and inode): one renamed away or replaced meanwhile is
    /// reported and not entered, so the walk never leaves its tree. `None`
    /// after a failure, reported.
    fn dir_fd(&self, node: &Arc<DirNode>, child: Option<&OwnedFd>) -> Option<Arc<OwnedFd>> {
        if let Some(fd) = self.fds.get(&node.fd) {
            return Some(fd);
        }
        let opened = match child {
            Some(child) => open_dir(child.as_fd(), c".."),
            None => open_dir(self.parent_fd(node, None)?.as_fd(), &node.name),
        };
        let same = |fd: &OwnedFd| {
            rustix::fs::statx(fd, c"", AtFlags::EMPTY_PATH, StatxFlags::INO)
                .is_ok_and(|st| inode_key(&st) == inode_key(&node.stat))
        };
        let fd = opened
            .map_err(io::Error::from)
            .and_then(|fd| match same(&fd) {
                true => Ok(fd),
                false => Err(io::Error::other("replaced during the walk")),
            });
        match fd {
            Ok(fd) => Some(self.fds.hold(&node.fd, fd, node.depth, true)),
            Err(e) => {
                let failed = Failed::new("cannot open directory again", e);
                self.walker.console.fail(&node.path, &failed);
                None
            }
        }
    }

    /// The descriptor of the directory that holds `node`; `own`, if given,
    /// is `node`'s.
    fn parent_fd(&self, node: &DirNode, own: Option<&OwnedFd>) -> Option<Arc<OwnedFd>> {
        match &node.parent {
            Some(parent) => self.dir_fd(parent, own),
            None => Some(Arc::clone(&self.root_parent)),
        }
    }

    /// Stat and visit one name in `node`. False if it failed or was kept.
    fn entry(&self, node: &Arc<DirNode>, fd: &Arc<OwnedFd>, name: CString) -> bool {
        let walker = self.walker;
        let path = join_name(&node.path, &name);
        let stat = match walker.stat(fd.as_fd(), &name) {
            None => return false,
            Some(Ok(stat)) => stat,
            Some(Err(e)) if self.visitor.ignore_vanished() && vanished(e) => return true,
            Some(Err(e)) => {
                walker
                    .console
                    .fail(&path, &Failed::new(self.visitor.cannot_access(), e));
                return false;
            }
        };
        walker.stats.record_entry();
        let entry = Entry {
            dir: fd.as_fd(),
            name: &name,
            path: &path,
            stat: &stat,
            depth: node.depth + 1,
        };
        let is_dir = entry.is_dir();
        if is_dir
            && walker.other_file_systems != OtherFileSystems::Crossed
            && (device(&stat) != self.root_dev || bale_os::mount_root::is_mount_root(&stat))
        {
            if walker.other_file_systems == OtherFileSystems::Refused {
                walker.console.fail_with(
                    &format!(
                        "skipping {}: on another file system (not crossed)",
                        path.quote()
                    ),
                    "skipped on another file system",
                );
            }
            return false;
        }
        match self.visitor.visit(&entry) {
            Ok(Visit::Descend) if is_dir => {
                node.pending.fetch_add(1, Ordering::Relaxed);
                self.queue.push(Job::List(Arc::new(DirNode::new(
                    Some(Arc::clone(node)),
                    name,
                    path,
                    stat,
                ))));
                true
            }
            Ok(Visit::Descend) | Ok(Visit::Done) => true,
            Ok(Visit::Kept) => false,
            Err(f) => {
                walker.console.fail(&path, &f);
                false
            }
        }
    }

    /// One job of `node` is finished (`own`: its descriptor, if at hand);
    /// when it was the last, leave the directory and tell its parent, and
    /// so on up.
    fn finish(&self, node: Arc<DirNode>, own: Option<Arc<OwnedFd>>) {
        self.finish_with(node, own, None);
    }

    /// `node` could not be opened: its listing, its only job, is finished;
    /// the visitor decides what becomes of it.
    fn finish_unreadable(&self, node: Arc<DirNode>, failed: Failed) {
        self.finish_with(node, None, Some(failed));
    }

    fn finish_with(
        &self,
        mut node: Arc<DirNode>,
        mut own: Option<Arc<OwnedFd>>,
        mut unreadable: Option<Failed>,
    ) {
        loop {
            if node.pending.fetch_sub(1, Ordering::AcqRel) != 1 || self.walker.stopped() {
                return;
            }
            // Left, the directory needs its descriptor no more.
            self.fds.release(&node.fd, node.depth);
            let Some(parent_fd) = self.parent_fd(&node, own.as_deref()) else {
                // Reported; what holds it is not complete.
                match &node.parent {
                    Some(parent) => {
                        parent.incomplete.store(true, Ordering::Relaxed);
                        node = Arc::clone(parent);
                        own = None;
                        continue;
                    }
                    None => return,
                }
            };
            let complete = !node.incomplete.load(Ordering::Relaxed);
            let entry = Entry {
                dir: parent_fd.as_fd(),
                name: &node.name,
                path: &node.path,
                stat: &node.stat,
                depth: node.depth,
            };
            let left = match unreadable.take() {
                None => self.visitor.leave(&entry, complete),
                Some(failed) => self.visitor.unreadable(&entry, failed).or_else(|f| {
                    self.walker.console.fail(&node.path, &f);
                    self.visitor.leave(&entry, false)?;
                    Ok(Visit::Kept)
                }),
            };
            let done = match left {
                Ok(Visit::Kept) => false,
                Ok(_) => complete,
                Err(f) => {
                    self.walker.console.fail(&node.path, &f);
                    false
                }
            };
            match &node.parent {
                Some(parent) => {
                    if !done {
                        parent.incomplete.store(true, Ordering::Relaxed);
                    }
                    node = Arc::clone(parent);
                    own = Some(parent_fd);
                }
                None => {
                    self.root_complete.store(done, Ordering::Relaxed);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::sync::atomic::AtomicU64;

    /// Counts visits; on its first visit of a file, deletes every other
    /// file and directory in `dir` (as a concurrent remover would).
    struct Vanisher {
        dir: PathBuf,
        ignore: bool,
        visits: AtomicU64,
        leaves: AtomicU64,
        struck: AtomicBool,
    }

    impl Visitor for Vanisher {
        fn visit(&self, entry: &Entry<'_>) -> Result<Visit, Failed> {
            self.visits.fetch_add(1, Ordering::Relaxed);
            if entry.depth == 1 && !self.struck.swap(true, Ordering::Relaxed) {
                for e in fs::read_dir(&self.dir).unwrap() {
                    let p = e.unwrap().path();
                    if p.as_path() != entry.path {
                        let _ = fs::remove_file(&p).or_else(|_| fs::remove_dir_all(&p));
                    }
                }
            }
            Ok(if entry.is_dir() {
                Visit::Descend
            } else {
                Visit::Done
            })
        }

        fn leave(&self, _: &Entry<'_>, _: bool) -> Result<Visit, Failed> {
            self.leaves.fetch_add(1, Ordering::Relaxed);
            Ok(Visit::Done)
        }

        fn ignore_vanished(&self) -> bool {
            self.ignore
        }
    }

    fn vanishing_walk(ignore: bool) -> (u64, WalkOutcome) {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("d");
        fs::create_dir(&dir).unwrap();
        for i in 0..10 {
            fs::write(dir.join(format!("f{i}")), "").unwrap();
        }
        let console = Arc::new(Console::new("test", true));
        let walker = Walker::new(1, Arc::clone(&console));
        let v = Vanisher {
            dir: dir.clone(),
            ignore,
            visits: AtomicU64::new(0),
            leaves: AtomicU64::new(0),
            struck: AtomicBool::new(false),
        };
        let outcome = walker.walk(&dir, &v);
        // The directory itself, then one file; the other nine vanished.
        assert_eq!(v.visits.load(Ordering::Relaxed), 2);
        assert_eq!(v.leaves.load(Ordering::Relaxed), 1);
        (console.failure_count(), outcome)
    }

    #[test]
    fn vanished_entries_are_failures_unless_ignored() {
        let (failures, outcome) = vanishing_walk(false);
        assert_eq!(failures, 9);
        assert!(!outcome.complete);
        let (failures, outcome) = vanishing_walk(true);
        assert_eq!(failures, 0);
        assert!(outcome.complete);
    }

    #[test]
    fn big_flat_directories_are_split_and_fully_visited() {
        struct Count(AtomicU64);
        impl Visitor for Count {
            fn visit(&self, e: &Entry<'_>) -> Result<Visit, Failed> {
                self.0.fetch_add(1, Ordering::Relaxed);
                Ok(if e.is_dir() {
                    Visit::Descend
                } else {
                    Visit::Done
                })
            }
        }
        let t = tempfile::tempdir().unwrap();
        for d in 0..3 {
            let sub = t.path().join(format!("d{d}"));
            fs::create_dir(&sub).unwrap();
            for i in 0..(BATCH * 3 + 5) {
                fs::write(sub.join(format!("f{i}")), "").unwrap();
            }
        }
        for workers in [1, 4, 16] {
            let walker = Walker::new(workers, Arc::new(Console::new("test", true)));
            let c = Count(AtomicU64::new(0));
            let outcome = walker.walk(t.path(), &c);
            assert!(outcome.complete && outcome.found && !outcome.interrupted);
            let expected = 1 + 3 * (1 + BATCH as u64 * 3 + 5);
            assert_eq!(c.0.load(Ordering::Relaxed), expected, "{workers} workers");
            assert_eq!(walker.stats.calls(Op::Stat), expected);
            assert_eq!(walker.stats.entries(), expected);
        }
    }

    /// Removes what it visits, directories when left (as rm does), so
    /// that every descriptor a leave is given must be the right one.
    struct Remove;

    impl Visitor for Remove {
        fn visit(&self, e: &Entry<'_>) -> Result<Visit, Failed> {
            if e.is_dir() {
                return Ok(Visit::Descend);
            }
            rustix::fs::unlinkat(e.dir, e.name, AtFlags::empty())
                .map_err(|err| Failed::new("cannot remove", err))?;
            Ok(Visit::Done)
        }

        fn leave(&self, e: &Entry<'_>, complete: bool) -> Result<Visit, Failed> {
            if !complete {
                return Ok(Visit::Kept);
            }
            rustix::fs::unlinkat(e.dir, e.name, AtFlags::REMOVEDIR)
                .map_err(|err| Failed::new("cannot remove", err))?;
            Ok(Visit::Done)
        }
    }

    /// `depth` nested directories `d` under `root`, each also holding a
    /// directory `s` with a file.
    fn chain(root: &Path, depth: usize) -> PathBuf {
        let mut dir = root.to_path_buf();
        for _ in 0..depth {
            fs::create_dir_all(dir.join("s")).unwrap();
            fs::write(dir.join("s/f"), "f").unwrap();
            dir.push("d");
            fs::create_dir(&dir).unwrap();
        }
        dir
    }

    #[test]
    fn trees_deeper_than_the_descriptor_budget_are_walked_whole() {
        for workers in [1, 4] {
            let t = tempfile::tempdir().unwrap();
            let root = t.path().join("root");
            chain(&root, 150);
            let console = Arc::new(Console::new("test", false));
            let mut walker = Walker::new(workers, Arc::clone(&console));
            walker.fd_budget = 6;
            let outcome = walker.walk(&root, &Remove);
            assert!(outcome.complete, "{workers} workers");
            assert_eq!(console.failure_count(), 0);
            // 150 levels of d, s and s/f, and the root.
            assert_eq!(walker.stats.entries(), 150 * 3 + 1);
            assert!(!root.exists());
        }
    }

    #[test]
    fn a_directory_moved_out_of_the_tree_is_not_returned_to() {
        struct MoveAway {
            from: PathBuf,
            to: PathBuf,
            deepest: usize,
            moved: AtomicBool,
        }
        impl Visitor for MoveAway {
            fn visit(&self, e: &Entry<'_>) -> Result<Visit, Failed> {
                if e.depth == self.deepest && !self.moved.swap(true, Ordering::Relaxed) {
                    fs::rename(&self.from, &self.to).unwrap();
                }
                Remove.visit(e)
            }
            fn leave(&self, e: &Entry<'_>, complete: bool) -> Result<Visit, Failed> {
                Remove.leave(e, complete)
            }
        }
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        let deepest = chain(&root, 40);
        fs::write(t.path().join("canary"), "c").unwrap();
        let console = Arc::new(Console::new("test", true));
        let mut walker = Walker::new(1, Arc::clone(&console));
        walker.fd_budget = 2;
        let mover = MoveAway {
            from: root.join("d/d"),
            to: t.path().join("elsewhere"),
            deepest: deepest.strip_prefix(&root).unwrap().components().count(),
            moved: AtomicBool::new(false),
        };
        let outcome = walker.walk(&root, &mover);
        assert!(!outcome.complete);
        // Going back up from root/d/d, now t/elsewhere, leads to t, not
        // root/d: refused, and nothing outside the tree is touched.
        let summary = console.failure_summary().unwrap();
        assert!(summary.contains("replaced during the walk"), "{summary}");
        assert!(t.path().join("canary").exists());
        assert!(t.path().join("elsewhere").exists());
        assert!(root.join("d").exists());
    }

    #[test]
    fn roots_name_the_last_component() {
        let root = |path: &str, follow: bool| {
            let r = Root::of(Path::new(path), follow);
            (r.dir, r.name, r.dir_only)
        };
        let named = |dir: &str, name: &CStr, dir_only: bool| {
            (PathBuf::from(dir), name.to_owned(), dir_only)
        };
        assert_eq!(root("x", true), named(".", c"x", false));
        assert_eq!(root("a/b", true), named("a", c"b", false));
        // A trailing slash: resolved as the kernel does, or (not
        // following) the name itself, which must then be a directory.
        assert_eq!(root("a/b/", true), named("a/b/", c".", false));
        assert_eq!(root("a/b/", false), named("a", c"b", true));
        assert_eq!(root("a/b/.", false), named("a/b/.", c".", false));
        assert_eq!(root("/", false), named("/", c".", false));
        assert_eq!(root("..", false), named("..", c".", false));
    }
}
