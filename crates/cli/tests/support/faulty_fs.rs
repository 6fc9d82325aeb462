//! A FUSE source tree that fails on cue, served from the test process:
//! `ghost` is listed and stat'ed like any file but has vanished when
//! opened (ENOENT), `badsector` reads its first 128 KiB and then fails
//! with EIO like a bad disk, `grows` is written to (size and modification
//! time change) once it has been read to its end, like a log a job is
//! still appending to; the other files read normally. Nothing is
//! cached by the kernel (zero TTLs, direct I/O), so every fault is met
//! exactly where it is placed. Dropping the mount unmounts it.

use fuser::{
    Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo,
    LockOwner, MountOption, OpenFlags, ReplyAttr, ReplyData, ReplyDirectory, ReplyEntry, ReplyOpen,
    Request,
};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How a file fails when read.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    /// Gone between the listing and the open: ENOENT.
    Vanished,
    /// Reads below this offset succeed, reads at or beyond it give EIO.
    IoErrorFrom(u64),
    /// Reads well, then grows by [`GROWTH`] bytes once read to its end.
    Grows,
}

/// What a growing file gains (bytes, and seconds of modification time).
const GROWTH: u64 = 100;

/// A file at the root of the tree: its name, content and fault, if any.
struct SourceFile {
    name: &'static str,
    data: Vec<u8>,
    fault: Option<Fault>,
    /// A [`Fault::Grows`] file has been read to its end.
    grown: AtomicBool,
}

impl SourceFile {
    fn new(name: &'static str, data: Vec<u8>, fault: Option<Fault>) -> SourceFile {
        SourceFile {
            name,
            data,
            fault,
            grown: AtomicBool::new(false),
        }
    }

    /// Whether it reads whole: it may only change while being read.
    fn readable(&self) -> bool {
        matches!(self.fault, None | Some(Fault::Grows))
    }
}

/// Bytes that differ from block to block (no holes, no duplicates).
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8) ^ ((i >> 9) as u8).wrapping_mul(seed))
        .collect()
}

/// The tree served: two healthy files on either side of the faulty ones,
/// one spanning several blocks and one small enough for a fragment.
fn source_files() -> Vec<SourceFile> {
    vec![
        SourceFile::new("a-small", b"small and healthy\n".to_vec(), None),
        SourceFile::new(
            "badsector",
            pattern(300 << 10, 3),
            Some(Fault::IoErrorFrom(128 << 10)),
        ),
        SourceFile::new("big", pattern(200 << 10, 5), None),
        SourceFile::new("ghost", pattern(10_000, 7), Some(Fault::Vanished)),
        SourceFile::new("grows", pattern(150 << 10, 9), Some(Fault::Grows)),
        SourceFile::new("z-small", b"last one\n".to_vec(), None),
    ]
}

/// The file system: the root directory (inode 1) holding `files`, file
/// `i` as inode `i + 2`.
struct FaultyFs {
    files: Arc<[SourceFile]>,
}

const MTIME: Duration = Duration::from_secs(1_700_000_000);

impl FaultyFs {
    fn file(&self, ino: INodeNo) -> Option<&SourceFile> {
        (ino.0 as usize)
            .checked_sub(2)
            .and_then(|i| self.files.get(i))
    }

    fn attr(&self, ino: INodeNo) -> Option<FileAttr> {
        let (kind, mut size, perm) = match ino {
            INodeNo::ROOT => (FileType::Directory, 0, 0o755),
            _ => (
                FileType::RegularFile,
                self.file(ino)?.data.len() as u64,
                0o644,
            ),
        };
        let mut time = SystemTime::UNIX_EPOCH + MTIME;
        if self
            .file(ino)
            .is_some_and(|f| f.grown.load(Ordering::Relaxed))
        {
            size += GROWTH;
            time += Duration::from_secs(GROWTH);
        }
        Some(FileAttr {
            ino,
            size,
            blocks: size.div_ceil(512),
            atime: time,
            mtime: time,
            ctime: time,
            crtime: time,
            kind,
            perm,
            nlink: 1,
            uid: 0,
            gid: 0,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        })
    }
}

impl Filesystem for FaultyFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let found = (parent == INodeNo::ROOT)
            .then(|| self.files.iter().position(|f| OsStr::new(f.name) == name))
            .flatten()
            .and_then(|i| self.attr(INodeNo(i as u64 + 2)));
        match found {
            Some(attr) => reply.entry(&Duration::ZERO, &attr, Generation(0)),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.attr(ino) {
            Some(attr) => reply.attr(&Duration::ZERO, &attr),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        if ino != INodeNo::ROOT {
            return reply.error(Errno::ENOTDIR);
        }
        let dots = [(".", FileType::Directory), ("..", FileType::Directory)];
        let files = self.files.iter().map(|f| (f.name, FileType::RegularFile));
        for (i, (name, kind)) in dots.into_iter().chain(files).enumerate() {
            let ino = INodeNo((i as u64).max(1));
            if i as u64 >= offset && reply.add(ino, i as u64 + 1, kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.file(ino) {
            Some(f) if f.fault == Some(Fault::Vanished) => reply.error(Errno::ENOENT),
            // Direct I/O: every read reaches `read`, none is served or
            // read ahead by the page cache.
            Some(_) => reply.opened(FileHandle(0), FopenFlags::FOPEN_DIRECT_IO),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let Some(f) = self.file(ino) else {
            return reply.error(Errno::ENOENT);
        };
        let readable = match f.fault {
            Some(Fault::IoErrorFrom(bad)) if offset >= bad => return reply.error(Errno::EIO),
            Some(Fault::IoErrorFrom(bad)) => bad,
            _ => f.data.len() as u64,
        };
        let start = offset.min(readable);
        let end = (offset + u64::from(size)).min(readable);
        reply.data(&f.data[start as usize..end as usize]);
        if f.fault == Some(Fault::Grows) && end == readable {
            f.grown.store(true, Ordering::Relaxed);
        }
    }
}

/// [`source_files`] mounted on a directory; unmounted on drop.
pub struct FaultyMount {
    pub dir: PathBuf,
    files: Arc<[SourceFile]>,
    _session: fuser::BackgroundSession,
}

impl FaultyMount {
    /// Mounts on `dir` (created if missing); needs root for mount(2).
    pub fn new(dir: &Path) -> FaultyMount {
        super::require_root();
        std::fs::create_dir_all(dir).unwrap();
        let files: Arc<[SourceFile]> = source_files().into();
        let mut config = Config::default();
        config.mount_options = vec![MountOption::RO, MountOption::FSName("bale-faulty".into())];
        let fs = FaultyFs {
            files: files.clone(),
        };
        let session = fuser::spawn_mount(fs, dir, &config)
            .unwrap_or_else(|e| panic!("cannot mount the faulty FUSE tree: {e}"));
        FaultyMount {
            dir: dir.to_path_buf(),
            files,
            _session: session,
        }
    }

    /// The files that read without fault (a growing one as it was read),
    /// written as a plain tree at `dir` with the attributes they had when
    /// listed: what a pack that leaves out the faulty ones must store.
    pub fn healthy_copy(&self, dir: &Path) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir(dir).unwrap();
        let time = SystemTime::UNIX_EPOCH + MTIME;
        for f in self.files.iter().filter(|f| f.readable()) {
            let path = dir.join(f.name);
            std::fs::write(&path, &f.data).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            std::fs::File::open(&path)
                .unwrap()
                .set_modified(time)
                .unwrap();
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::File::open(dir)
            .unwrap()
            .set_modified(time)
            .unwrap();
    }
}
