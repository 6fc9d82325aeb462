//! Restoring an image as a directory tree. Everything is created relative
//! to open directory descriptors with single-component names (the reader
//! rejects `/`, `.` and `..` in names) and `O_NOFOLLOW`, so a crafted image
//! cannot make the extraction write outside the destination. Holes stay
//! sparse; hard links are recreated; owners and device nodes need root.
//! A directory's mode, owner and times are applied after its content; for
//! an ordinary user, a mode that shuts the owner out comes at the very end
//! (a later hard link may name a file inside).
//! The walk creates every entry in order; files' contents (decompression
//! and writes) and their attributes are done by a few writer threads.

use crate::error::{at_path, Error, Result};
use crate::refused_xattrs::RefusedXattrs;
use bale_squashfs::inode::{decode_rdev, Inode, InodeData, InodeKind};
use bale_squashfs::reader::{Archive, FileLayout, Node, ReadAt, Visitor};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Timespec, Timestamps};
use rustix::io::Errno;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Mutex;

#[derive(Clone, Copy, Debug, Default)]
pub struct ExtractOptions {
    /// Extract into a non-empty directory, replacing what is in the way.
    pub force: bool,
    /// The directory of the image to restore (its inode reference), when
    /// not the root: its content goes into the destination.
    pub subtree: Option<u64>,
}

/// What an extraction created, and what it could not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtractReport {
    pub directories: u64,
    pub files: u64,
    pub symlinks: u64,
    pub hard_links: u64,
    pub special: u64,
    pub bytes: u64,
    /// Nodes left out (device nodes when not root), one line each, and
    /// the extended attributes that could not be set, counted.
    pub skipped: Vec<String>,
}

/// Restores the whole image, or `options.subtree`, under `dest` (created
/// with its missing parents). When it fails, what it made is removed
/// again: `dest` and the parents it created, or what it put into an empty
/// `dest` (forced into a non-empty one, it leaves everything).
pub fn extract<R: ReadAt + Sync>(
    archive: &Archive<R>,
    dest: &Path,
    options: ExtractOptions,
) -> Result<ExtractReport> {
    let created = dest
        .ancestors()
        .take_while(|d| !d.as_os_str().is_empty() && std::fs::symlink_metadata(d).is_err())
        .last()
        .map(Path::to_path_buf);
    if std::fs::metadata(dest).is_ok_and(|st| !st.is_dir()) {
        return Err(Error::Refused {
            path: dest.into(),
            reason: "not a directory (extract writes into a directory)".into(),
        });
    }
    std::fs::create_dir_all(dest).map_err(at_path(dest))?;
    let was_empty = created.is_none() && is_empty(dest)?;
    let result = extract_into(archive, dest, options);
    if result.is_err() {
        match created {
            Some(top) => remove_all(&top),
            None if was_empty => remove_contents(dest),
            None => {}
        }
    }
    result
}

fn is_empty(dir: &Path) -> Result<bool> {
    Ok(std::fs::read_dir(dir)
        .map_err(at_path(dir))?
        .next()
        .is_none())
}

/// Removes a tree made by a failed extraction, as far as it can: a
/// directory may already have its mode from the image (read-only ones
/// too), so it is made ours to empty first.
fn remove_all(path: &Path) {
    if std::fs::remove_file(path).is_err() {
        remove_contents(path);
        let _ = std::fs::remove_dir(path);
    }
}

/// Removes what is in `dir`, through directory descriptors and names
/// (never paths: a tree deeper than `PATH_MAX` goes too), without
/// recursion (so no depth overflows the stack).
fn remove_contents(dir: &Path) {
    /// A directory being emptied: its descriptor, the names left in it,
    /// and its own name in the one above.
    struct Level {
        dir: OwnedFd,
        names: Vec<std::ffi::OsString>,
        name: std::ffi::OsString,
    }
    let open = |parent: &dyn AsFd, name: &OsStr| -> Option<Level> {
        let _ = rustix::fs::chmodat(parent, name, Mode::from_raw_mode(0o700), AtFlags::empty());
        let dir = rustix::fs::openat(
            parent,
            name,
            OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()?;
        let names = rustix::fs::Dir::read_from(&dir)
            .ok()?
            .filter_map(|entry| {
                let name = entry.ok()?.file_name().to_bytes().to_vec();
                (name != b"." && name != b"..").then(|| OsStr::from_bytes(&name).to_os_string())
            })
            .collect();
        Some(Level {
            dir,
            names,
            name: name.to_os_string(),
        })
    };
    let Some(top) = open(&rustix::fs::CWD, dir.as_os_str()) else {
        return;
    };
    let mut stack = vec![top];
    while let Some(level) = stack.last_mut() {
        match level.names.pop() {
            Some(name) => {
                if let Err(Errno::ISDIR) = rustix::fs::unlinkat(&level.dir, &name, AtFlags::empty())
                {
                    if let Some(below) = open(&level.dir, &name) {
                        stack.push(below);
                    }
                }
            }
            None => {
                let done = stack.pop().expect("a level");
                if let Some(parent) = stack.last() {
                    let _ = rustix::fs::unlinkat(&parent.dir, &done.name, AtFlags::REMOVEDIR);
                }
            }
        }
    }
}

fn extract_into<R: ReadAt + Sync>(
    archive: &Archive<R>,
    dest: &Path,
    options: ExtractOptions,
) -> Result<ExtractReport> {
    let root = rustix::fs::open(
        dest,
        OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(at_path(dest))?;
    if !options.force && !is_empty(dest)? {
        return Err(Error::Refused {
            path: dest.into(),
            reason: "directory not empty (use --force to extract into it anyway)".into(),
        });
    }
    let failed = Mutex::new(None);
    let (jobs, queue) = sync_channel::<Vec<FileJob>>(QUEUED_BATCHES);
    let queue = Mutex::new(queue);
    let as_root = rustix::process::geteuid().is_root();
    let refused = RefusedXattrs::new(as_root);
    let top = options.subtree.unwrap_or(archive.superblock().root_inode);
    let (walked, report) = std::thread::scope(|s| {
        for _ in 0..writers() {
            s.spawn(|| {
                while let Ok(batch) = queue.lock().unwrap().recv() {
                    for job in batch {
                        if let Err(e) = write_contents(archive, as_root, &refused, job) {
                            failed.lock().unwrap().get_or_insert(e);
                        }
                    }
                }
            });
        }
        let mut extractor = Extractor {
            archive,
            dest: dest.to_path_buf(),
            force: options.force,
            as_root,
            dirs: Vec::new(),
            root: Some(root),
            first_links: HashMap::new(),
            closed_dirs: Vec::new(),
            report: ExtractReport::default(),
            jobs,
            batch: Vec::new(),
            failed: &failed,
            refused: &refused,
        };
        let walked = archive.walk_from(top, &mut extractor);
        extractor.hand_over();
        // Dropping the extractor closes the queue: the writers finish and end.
        let Extractor {
            report,
            closed_dirs,
            ..
        } = extractor;
        (walked.map(|()| closed_dirs), report)
    });
    // Last, the modes that would have shut the walk out (children first).
    for (dir, path, mode) in walked? {
        rustix::fs::fchmod(&dir, Mode::from_raw_mode(mode)).map_err(at_path(&path))?;
    }
    match failed.into_inner().unwrap() {
        Some(e) => Err(e),
        None => {
            let mut report = report;
            report.skipped.extend(refused.summary());
            Ok(report)
        }
    }
}

/// Files are handed to the writers in batches of this many, or of this
/// many bytes: one hand-over (a thread wake-up) per file would cost more
/// than writing a small file.
const BATCH_FILES: usize = 64;
const BATCH_BYTES: u64 = 4 << 20;
/// Batches handed over and not yet taken (their files hold descriptors).
const QUEUED_BATCHES: usize = 4;

/// Writer threads: decompression is the work, so one per core.
fn writers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 16))
}

/// A created file whose contents and attributes are still to write.
struct FileJob {
    file: std::fs::File,
    layout: FileLayout,
    inode: Inode,
    /// Its path, for errors.
    path: PathBuf,
    /// Its path in the image, for errors of the image.
    in_image: String,
}

/// Writes a file's stored blocks (holes stay holes), then its owner
/// (as root), mode, xattrs and times, in that order: a change of owner
/// clears set-id bits and capabilities, which come after it.
fn write_contents<R: ReadAt>(
    archive: &Archive<R>,
    as_root: bool,
    refused: &RefusedXattrs,
    job: FileJob,
) -> Result<()> {
    let FileJob {
        file,
        layout,
        inode,
        path,
        in_image,
    } = job;
    archive
        .for_each_stored_block(&layout, |offset, data| {
            file.write_all_at(data, offset).map_err(at_path(&path))
        })
        .map_err(|e| match e {
            Error::Image(source) => Error::InImage {
                path: in_image,
                source,
            },
            e => e,
        })?;
    file.set_len(layout.size()).map_err(at_path(&path))?;
    if as_root {
        let (uid, gid) = owner(archive, &inode)?;
        rustix::fs::fchown(&file, Some(uid), Some(gid)).map_err(at_path(&path))?;
    }
    rustix::fs::fchmod(&file, Mode::from_raw_mode(inode.mode() & 0o7777))
        .map_err(at_path(&path))?;
    set_xattrs(archive, &file, &inode, &path, refused)?;
    rustix::fs::futimens(&file, &times(&inode)).map_err(at_path(&path))
}

struct Extractor<'a, R> {
    archive: &'a Archive<R>,
    dest: PathBuf,
    force: bool,
    as_root: bool,
    /// Open descriptors of the directories from the root to the current one.
    dirs: Vec<OwnedFd>,
    /// The destination, until the walk visits the image root.
    root: Option<OwnedFd>,
    /// Where the first name of each multiply-linked inode was created.
    first_links: HashMap<u32, Vec<u8>>,
    /// Directories whose mode shuts out their owner (no rwx for the user:
    /// a hard link to a file in one could not be made as an ordinary
    /// user), with their paths and modes, given those modes at the end.
    closed_dirs: Vec<(OwnedFd, PathBuf, u32)>,
    report: ExtractReport,
    /// Where created files go to be written.
    jobs: SyncSender<Vec<FileJob>>,
    /// Created files not handed over yet.
    batch: Vec<FileJob>,
    /// The first error of a writer, which stops the walk.
    failed: &'a Mutex<Option<Error>>,
    refused: &'a RefusedXattrs,
}

impl<R: ReadAt> Visitor for Extractor<'_, R> {
    type Error = Error;

    fn visit(&mut self, node: &Node<'_>) -> Result<()> {
        if let Some(e) = self.failed.lock().unwrap().take() {
            return Err(e);
        }
        if node.depth == 0 {
            let root = self.root.take().expect("the root is visited first");
            self.set_xattrs_fd(&root, node)?;
            self.dirs.push(root);
            // Counted as verify counts it: the image's root is a directory.
            self.report.directories += 1;
            return Ok(());
        }
        let inode = node.inode;
        if inode.kind() != InodeKind::Directory && inode.link_count > 1 {
            if let Some(first) = self.first_links.get(&inode.number) {
                return self.link(first.clone(), node);
            }
            self.first_links.insert(inode.number, node.path.to_vec());
        }
        match &inode.data {
            InodeData::Directory(_) => {
                let dir = self.make_dir(node)?;
                self.set_xattrs_fd(&dir, node)?;
                self.dirs.push(dir);
                self.report.directories += 1;
            }
            InodeData::File(_) => self.write_file(node)?,
            InodeData::Symlink { target } => {
                self.replace_existing(node, |parent, name| {
                    rustix::fs::symlinkat(target.as_slice(), parent, name)
                })?;
                self.finish_node(node)?;
                self.report.symlinks += 1;
            }
            InodeData::BlockDevice { rdev } | InodeData::CharDevice { rdev } => {
                if !self.as_root {
                    self.report
                        .skipped
                        .push(format!("{}: device node (needs root)", self.shown(node)));
                    return Ok(());
                }
                let (major, minor) = decode_rdev(*rdev);
                self.make_node(node, rustix::fs::makedev(major, minor))?;
            }
            InodeData::Fifo | InodeData::Socket => self.make_node(node, 0)?,
        }
        Ok(())
    }

    fn leave(&mut self, dir: &Node<'_>) -> Result<()> {
        let fd = self.dirs.pop().expect("a directory was entered");
        let inode = dir.inode;
        let path = self.local(dir);
        if self.as_root {
            let (uid, gid) = owner(self.archive, inode)?;
            rustix::fs::fchown(&fd, Some(uid), Some(gid)).map_err(at_path(&path))?;
        }
        rustix::fs::futimens(&fd, &times(inode)).map_err(at_path(&path))?;
        let mode = inode.mode() & 0o7777;
        if !self.as_root && mode & 0o700 != 0o700 {
            self.closed_dirs.push((fd, path, mode));
            return Ok(());
        }
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode)).map_err(at_path(&path))
    }
}

impl<R: ReadAt> Extractor<'_, R> {
    fn parent(&self) -> &OwnedFd {
        self.dirs.last().expect("children come after their parent")
    }

    fn local(&self, node: &Node<'_>) -> PathBuf {
        self.dest.join(OsStr::from_bytes(node.path))
    }

    fn shown(&self, node: &Node<'_>) -> String {
        self.local(node).display().to_string()
    }

    /// Runs `create` for the node's name; with `force`, removes a
    /// non-directory or an empty directory in the way and tries once more.
    /// A directory with contents stays: `--force` never deletes a tree.
    fn replace_existing<T>(
        &self,
        node: &Node<'_>,
        create: impl Fn(&OwnedFd, &[u8]) -> rustix::io::Result<T>,
    ) -> Result<T> {
        let parent = self.parent();
        match create(parent, node.name) {
            Err(Errno::EXIST) if self.force => {
                match rustix::fs::unlinkat(parent, node.name, AtFlags::empty()) {
                    Err(Errno::ISDIR) => {
                        rustix::fs::unlinkat(parent, node.name, AtFlags::REMOVEDIR)
                    }
                    other => other,
                }
                .map_err(|e| match e {
                    Errno::NOTEMPTY | Errno::EXIST => Error::Refused {
                        path: self.local(node),
                        reason: "a directory with contents stands where the image has a \
                                 non-directory (--force replaces files and empty directories only)"
                            .into(),
                    },
                    e => at_path(self.local(node))(e),
                })?;
                create(parent, node.name)
            }
            other => other,
        }
        .map_err(at_path(self.local(node)))
    }

    /// Creates (or, with `force`, reuses) a directory and opens it.
    fn make_dir(&self, node: &Node<'_>) -> Result<OwnedFd> {
        let parent = self.parent();
        match rustix::fs::mkdirat(parent, node.name, Mode::from_raw_mode(0o700)) {
            Err(Errno::EXIST) if self.force => {}
            other => other.map_err(at_path(self.local(node)))?,
        }
        let open = || {
            rustix::fs::openat(
                parent,
                node.name,
                OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
                Mode::empty(),
            )
        };
        match open() {
            Err(Errno::NOTDIR | Errno::LOOP) if self.force => {
                rustix::fs::unlinkat(parent, node.name, AtFlags::empty())
                    .and_then(|()| {
                        rustix::fs::mkdirat(parent, node.name, Mode::from_raw_mode(0o700))
                    })
                    .and_then(|()| open())
            }
            other => other,
        }
        .map_err(at_path(self.local(node)))
    }

    /// Creates a file and hands it to the writers.
    fn write_file(&mut self, node: &Node<'_>) -> Result<()> {
        let fd = self.replace_existing(node, |parent, name| {
            rustix::fs::openat(
                parent,
                name,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )
        })?;
        let layout = self
            .archive
            .file_layout(node.inode)
            .map_err(|source| Error::InImage {
                path: String::from_utf8_lossy(node.path).into_owned(),
                source,
            })?;
        self.report.files += 1;
        self.report.bytes += layout.size();
        self.batch.push(FileJob {
            file: std::fs::File::from(fd),
            layout,
            inode: node.inode.clone(),
            path: self.local(node),
            in_image: String::from_utf8_lossy(node.path).into_owned(),
        });
        let bytes: u64 = self.batch.iter().map(|job| job.layout.size()).sum();
        if self.batch.len() >= BATCH_FILES || bytes >= BATCH_BYTES {
            self.hand_over();
        }
        Ok(())
    }

    /// Hands the files created so far to the writers.
    fn hand_over(&mut self) {
        if !self.batch.is_empty() {
            let batch = std::mem::take(&mut self.batch);
            self.jobs.send(batch).expect("the writers outlive the walk");
        }
    }

    fn make_node(&mut self, node: &Node<'_>, dev: u64) -> Result<()> {
        let kind = match node.inode.kind() {
            InodeKind::BlockDevice => FileType::BlockDevice,
            InodeKind::CharDevice => FileType::CharacterDevice,
            InodeKind::Fifo => FileType::Fifo,
            _ => FileType::Socket,
        };
        self.replace_existing(node, |parent, name| {
            rustix::fs::mknodat(parent, name, kind, Mode::from_raw_mode(0o600), dev)
        })?;
        self.finish_node(node)?;
        let path = self.local(node);
        rustix::fs::chmodat(
            self.parent(),
            node.name,
            Mode::from_raw_mode(node.inode.mode() & 0o7777),
            AtFlags::empty(),
        )
        .map_err(at_path(&path))?;
        self.report.special += 1;
        Ok(())
    }

    /// Owner, xattrs and times of a node without a descriptor of its own
    /// (symlinks, device nodes, fifos, sockets), never following it.
    fn finish_node(&self, node: &Node<'_>) -> Result<()> {
        let path = self.local(node);
        let parent = self.parent();
        let inode = node.inode;
        if self.as_root {
            let (uid, gid) = owner(self.archive, inode)?;
            rustix::fs::chownat(
                parent,
                node.name,
                Some(uid),
                Some(gid),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(at_path(&path))?;
        }
        // No *at form exists for xattrs: name the node through the parent's
        // descriptor; the l- variant does not follow the node itself.
        let via_parent = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(parent));
        let mut via = via_parent.into_bytes();
        via.push(b'/');
        via.extend_from_slice(node.name);
        for x in self.archive.xattrs(inode)? {
            let set = rustix::fs::lsetxattr(
                via.as_slice(),
                x.name.as_slice(),
                &x.value,
                rustix::fs::XattrFlags::empty(),
            );
            let on_symlink = inode.kind() == InodeKind::Symlink;
            self.refused
                .check(&x.name, on_symlink, set)
                .map_err(at_path(&path))?;
        }
        rustix::fs::utimensat(parent, node.name, &times(inode), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(at_path(&path))
    }

    fn set_xattrs_fd(&self, fd: impl AsFd, node: &Node<'_>) -> Result<()> {
        set_xattrs(
            self.archive,
            fd,
            node.inode,
            &self.local(node),
            self.refused,
        )
    }

    /// Makes another name for an inode already extracted at `first`.
    fn link(&mut self, first: Vec<u8>, node: &Node<'_>) -> Result<()> {
        let (dir, name) = match first.iter().rposition(|&b| b == b'/') {
            Some(slash) => (&first[..slash], &first[slash + 1..]),
            None => (&b"."[..], &first[..]),
        };
        let root = &self.dirs[0];
        let first_dir = rustix::fs::openat2(
            root,
            dir,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS,
        )
        .map_err(at_path(self.dest.join(OsStr::from_bytes(dir))))?;
        self.replace_existing(node, |parent, new_name| {
            rustix::fs::linkat(&first_dir, name, parent, new_name, AtFlags::empty())
        })?;
        self.report.hard_links += 1;
        Ok(())
    }
}

/// The owner to give an extracted entry (as root).
fn owner<R: ReadAt>(
    archive: &Archive<R>,
    inode: &Inode,
) -> Result<(rustix::process::Uid, rustix::process::Gid)> {
    Ok((
        rustix::process::Uid::from_raw(archive.uid(inode)?),
        rustix::process::Gid::from_raw(archive.gid(inode)?),
    ))
}

/// Sets an inode's xattrs on the open entry `fd` (at `path`).
fn set_xattrs<R: ReadAt>(
    archive: &Archive<R>,
    fd: impl AsFd,
    inode: &Inode,
    path: &Path,
    refused: &RefusedXattrs,
) -> Result<()> {
    for x in archive.xattrs(inode)? {
        let set = rustix::fs::fsetxattr(
            &fd,
            x.name.as_slice(),
            &x.value,
            rustix::fs::XattrFlags::empty(),
        );
        refused.check(&x.name, false, set).map_err(at_path(path))?;
    }
    Ok(())
}

fn times(inode: &Inode) -> Timestamps {
    let t = Timespec {
        tv_sec: inode.mtime.into(),
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}
