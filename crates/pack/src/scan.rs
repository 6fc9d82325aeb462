//! The parallel source scan: lists directories and stats their entries on
//! many threads at once (each metadata call may be a network round trip on
//! a parallel file system), then flattens the result into a [`Tree`].

use crate::error::{source_err, PackError, Result};
use crate::exclude::Excludes;
use crate::flatten::{flatten, Node, NodeKind};
use crate::options::PackOptions;
use crate::progress::Progress;
use crate::source_root::SourceRoot;
use crate::source_xattrs::{entry_xattrs, file_xattrs, SourceXattrs};
use crate::tree::{Meta, Tree};
use bale_squashfs::inode::encode_rdev;
use bale_squashfs::xattr::Xattr;
use rayon::prelude::*;
use rustix::fd::AsFd;
use rustix::fs::{self, AtFlags, FileType};
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Mutex;

/// What the scan found besides the tree.
#[derive(Debug, Default)]
pub struct ScanReport {
    /// Entries left out by `--skip-unreadable`, with the reason.
    pub skipped: Vec<PackError>,
    /// Directories not descended into because they are other file systems.
    pub other_fs: Vec<PathBuf>,
    /// Attributes in namespaces squashfs cannot store (counted, not listed).
    pub dropped_xattrs: u64,
    /// Entries whose mtime squashfs cannot hold, stored clamped.
    pub clamped_times: u64,
}

/// A directory entry once stat'ed: finished, or a subdirectory to scan
/// after its parent is closed.
enum Entry {
    Done(Node),
    Dir {
        name: Box<[u8]>,
        st: fs::Stat,
        path: PathBuf,
        rel: PathBuf,
    },
}

struct Scanner<'a> {
    opts: &'a PackOptions,
    source: SourceRoot,
    excludes: Excludes,
    root_dev: u64,
    /// The image being replaced (`--force`), when it lies in the tree:
    /// left out, as mksquashfs does, so that repacking a directory into
    /// itself does not store the previous image in the next.
    destination: Option<(u64, u64)>,
    progress: &'a Progress,
    report: Mutex<ScanReport>,
    /// Directory levels a scan thread's stack holds.
    max_depth: usize,
}

/// Stack of a scan thread (address space; only what is used is memory):
/// the scan recurses once per directory level.
const SCAN_STACK: usize = 32 << 20;
/// The least stack a scan thread gets under a limit on address space.
const MIN_SCAN_STACK: usize = 8 << 20;
/// The stack one directory level may take: 2–4 KiB in an optimised build,
/// 6–16 KiB in a debug build (the tests').
const LEVEL_STACK: usize = if cfg!(debug_assertions) {
    16 << 10
} else {
    6 << 10
};

/// How many scan threads, with how much stack each: `readers` threads of
/// [`SCAN_STACK`]; under a limit on address space (`ulimit -v`, common on
/// login nodes) a quarter of it shared out — fewer threads rather than less
/// than [`MIN_SCAN_STACK`] each.
fn scan_threads(readers: usize) -> (usize, usize) {
    let readers = readers.max(1);
    let Some(limit) = bale_os::limits::address_space() else {
        return (readers, SCAN_STACK);
    };
    let budget = usize::try_from(limit / 4).unwrap_or(usize::MAX);
    let stack = (budget / readers).clamp(MIN_SCAN_STACK, SCAN_STACK);
    ((budget / stack).clamp(1, readers), stack)
}

/// Scans `opts.source` with `opts.readers` threads. Returns the source
/// directory opened too: the readers open files beneath that descriptor,
/// so the data comes from the very tree that was scanned.
pub fn scan(opts: &PackOptions, progress: &Progress) -> Result<(Tree, ScanReport, SourceRoot)> {
    let root = &opts.source;
    let (source, st) = SourceRoot::open(root).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOTDIR) => PackError::BadSource {
            path: root.clone(),
            reason: "not a directory".into(),
        },
        _ => source_err(root)(e),
    })?;
    let destination = fs::lstat(&opts.image)
        .ok()
        .filter(|st| FileType::from_raw_mode(st.st_mode) == FileType::RegularFile)
        .map(|st| (st.st_dev, st.st_ino));
    let (threads, stack) = scan_threads(opts.readers);
    let scanner = Scanner {
        max_depth: stack / LEVEL_STACK,
        opts,
        source,
        excludes: Excludes::new(&opts.excludes)?,
        root_dev: st.st_dev,
        destination,
        progress,
        report: Mutex::new(ScanReport::default()),
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("bale-scan-{i}"))
        .stack_size(stack)
        .build()
        .map_err(|e| PackError::no_threads("scan", e))?;
    let root_node = pool.install(|| -> Result<Node> {
        let (children, xattrs) = scanner.scan_dir(root, Path::new(""))?;
        Ok(Node {
            name: Box::default(),
            meta: scanner.meta(&st),
            kind: NodeKind::Dir(children),
            xattrs,
            link_key: None,
        })
    })?;
    let (tree, _) = flatten(root.clone(), root_node);
    let Scanner { source, report, .. } = scanner;
    Ok((tree, report.into_inner().unwrap(), source))
}

impl Scanner<'_> {
    fn cancelled(&self) -> Result<()> {
        if self.progress.cancelled.load(Ordering::Relaxed) {
            return Err(PackError::Cancelled);
        }
        Ok(())
    }

    fn meta(&self, st: &fs::Stat) -> Meta {
        if self.opts.clamps_time(st.st_mtime) {
            self.report.lock().unwrap().clamped_times += 1;
        }
        self.opts
            .meta(st.st_mode, st.st_uid, st.st_gid, st.st_mtime)
    }

    /// Attributes of the non-file entry at `path`, by `read` (regular
    /// files' are read through the open file by the source readers).
    fn xattrs(
        &self,
        path: &Path,
        read: impl FnOnce() -> io::Result<SourceXattrs>,
    ) -> Result<Box<[Xattr]>> {
        if !self.opts.xattrs {
            return Ok(Box::default());
        }
        let x = read().map_err(source_err(path))?;
        if x.dropped > 0 {
            self.report.lock().unwrap().dropped_xattrs += x.dropped;
        }
        Ok(x.kept)
    }

    /// Lists `path` (relative name `rel` for exclude matching) and scans
    /// its entries in parallel; subdirectories recurse once the directory
    /// is closed, so a deep tree holds no descriptor per level. Returns the
    /// entries and the directory's own attributes.
    fn scan_dir(&self, path: &Path, rel: &Path) -> Result<(Vec<Node>, Box<[Xattr]>)> {
        self.cancelled()?;
        let dir = File::from(self.source.open_dir(path).map_err(source_err(path))?);
        let xattrs = self.xattrs(path, || file_xattrs(&dir))?;
        let mut names = Vec::new();
        for item in fs::Dir::read_from(&dir).map_err(|e| source_err(path)(e.into()))? {
            let item = item.map_err(|e| source_err(path)(e.into()))?;
            let name = item.file_name().to_bytes();
            if name != b"." && name != b".." {
                names.push(name.to_vec().into_boxed_slice());
            }
        }
        names.sort_unstable();
        let entries: Vec<Option<Entry>> = names
            .into_par_iter()
            .map(|name| {
                let child_path = path.join(OsStr::from_bytes(&name));
                let child_rel = rel.join(OsStr::from_bytes(&name));
                if self.excludes.matches(&child_rel) {
                    return Ok(None);
                }
                self.skippable(self.scan_entry(&dir, name, &child_path, &child_rel))
            })
            .collect::<Result<_>>()?;
        drop(dir);
        let nodes: Vec<Option<Node>> = entries
            .into_par_iter()
            .map(|entry| match entry {
                Some(Entry::Dir {
                    name,
                    st,
                    path,
                    rel,
                }) => self.skippable(self.scan_dir(&path, &rel).map(|(children, xattrs)| {
                    Some(Node {
                        name,
                        meta: self.meta(&st),
                        kind: NodeKind::Dir(children),
                        xattrs,
                        link_key: None,
                    })
                })),
                Some(Entry::Done(node)) => Ok(Some(node)),
                None => Ok(None),
            })
            .collect::<Result<_>>()?;
        Ok((nodes.into_iter().flatten().collect(), xattrs))
    }

    /// An entry's result; with `--skip-unreadable` one that could not be
    /// read is reported and left out.
    fn skippable<T>(&self, result: Result<Option<T>>) -> Result<Option<T>> {
        match result {
            Err(e @ (PackError::Source { .. } | PackError::Changed { .. }))
                if self.opts.skip_unreadable =>
            {
                self.report.lock().unwrap().skipped.push(e);
                Ok(None)
            }
            other => other,
        }
    }

    /// The entry `name` of `dir`: a node, or a subdirectory still to scan.
    fn scan_entry(
        &self,
        dir: &File,
        name: Box<[u8]>,
        path: &Path,
        rel: &Path,
    ) -> Result<Option<Entry>> {
        let st = fs::statat(dir, OsStr::from_bytes(&name), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| source_err(path)(e.into()))?;
        if self.destination == Some((st.st_dev, st.st_ino)) {
            return Ok(None);
        }
        let file_type = FileType::from_raw_mode(st.st_mode);
        if file_type == FileType::Directory && self.excludes.matches_dir(rel) {
            return Ok(None);
        }
        self.progress.entries.fetch_add(1, Ordering::Relaxed);
        let kind = match file_type {
            FileType::Directory if self.opts.one_file_system && st.st_dev != self.root_dev => {
                self.report
                    .lock()
                    .unwrap()
                    .other_fs
                    .push(path.to_path_buf());
                NodeKind::Dir(Vec::new())
            }
            FileType::Directory if rel.components().count() >= self.max_depth => {
                return Err(PackError::BadSource {
                    path: path.to_path_buf(),
                    reason: format!(
                        "more than {} directory levels deep (more than a scan thread's stack holds)",
                        self.max_depth
                    ),
                })
            }
            FileType::Directory => {
                return Ok(Some(Entry::Dir {
                    name,
                    st,
                    path: path.to_path_buf(),
                    rel: rel.to_path_buf(),
                }))
            }
            FileType::RegularFile => NodeKind::File {
                size: st.st_size as u64,
                data_order: 0,
            },
            FileType::Symlink => {
                let target = fs::readlinkat(dir, OsStr::from_bytes(&name), Vec::new())
                    .map_err(|e| source_err(path)(e.into()))?;
                NodeKind::Symlink(target.into_bytes().into_boxed_slice())
            }
            FileType::BlockDevice | FileType::CharacterDevice => {
                let rdev = encode_rdev(fs::major(st.st_rdev), fs::minor(st.st_rdev));
                if file_type == FileType::BlockDevice {
                    NodeKind::BlockDevice(rdev)
                } else {
                    NodeKind::CharDevice(rdev)
                }
            }
            FileType::Fifo => NodeKind::Fifo,
            FileType::Socket => NodeKind::Socket,
            FileType::Unknown => {
                return Err(PackError::BadSource {
                    path: path.to_path_buf(),
                    reason: "unknown file type".into(),
                })
            }
        };
        let link_key =
            (file_type != FileType::Directory && st.st_nlink > 1).then_some((st.st_dev, st.st_ino));
        let xattrs = match &kind {
            NodeKind::File { .. } => Box::default(),
            _ => self.xattrs(path, || entry_xattrs(dir.as_fd(), OsStr::from_bytes(&name)))?,
        };
        Ok(Some(Entry::Done(Node {
            name,
            meta: self.meta(&st),
            kind,
            xattrs,
            link_key,
        })))
    }
}
