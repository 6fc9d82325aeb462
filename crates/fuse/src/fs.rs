//! The FUSE request handlers: each resolves FUSE inode numbers to squashfs
//! inodes, asks the shared reader, and answers with long cache lifetimes.
//! Every handler takes `&self`, so fuser runs them on all request threads
//! at once. `open` and `opendir` answer ENOSYS on purpose: the kernel then
//! stops sending open/release pairs and keeps page and directory caches
//! (`FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR`), which suits an immutable image.

use crate::attr::{self, TTL};
use crate::errors::ErrorLog;
use crate::inodes::InodeMap;
use crate::layouts::Layouts;
use crate::listing::{self, Resume};
use crate::prefill::Prefill;
use crate::xattr;
use bale_squashfs::error::corrupt;
use bale_squashfs::reader::{Archive, FileLayout};
use bale_squashfs::{Inode, InodeData, InodeKind};
use fuser::{
    Errno, FileAttr, FileHandle, Filesystem, Generation, INodeNo, InitFlags, IoctlFlags,
    KernelConfig, LockOwner, OpenFlags, ReplyAttr, ReplyData, ReplyDirectory, ReplyDirectoryPlus,
    ReplyEntry, ReplyIoctl, ReplyLseek, ReplyOpen, ReplyStatfs, ReplyXattr, Request,
};
use std::cell::RefCell;
use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;
use std::time::Duration;

/// The mounted image.
pub(crate) struct BaleFs {
    archive: Arc<Archive<File>>,
    inodes: InodeMap,
    layouts: Layouts,
    prefill: Arc<Prefill>,
    errors: ErrorLog,
}

/// One entry handed to a readdir reply.
struct Listed<'a> {
    offset: u64,
    name: &'a [u8],
    attr: FileAttr,
    /// `attr` was read from the inode (else it only has the number and
    /// kind of the directory entry, and the kernel must not keep it).
    read: bool,
}

impl BaleFs {
    /// Serves `archive`, whose root directory was read as `root`.
    pub fn new(archive: Archive<File>, root: &Inode, errors: ErrorLog) -> BaleFs {
        let archive = Arc::new(archive);
        BaleFs {
            inodes: InodeMap::new(&archive, root.number),
            prefill: Arc::new(Prefill::new(archive.clone())),
            archive,
            layouts: Layouts::new(),
            errors,
        }
    }

    /// The page-cache prefill, to be started once the session exists.
    pub fn prefill(&self) -> Arc<Prefill> {
        self.prefill.clone()
    }

    /// The inode behind FUSE number `ino`.
    fn node(&self, ino: INodeNo) -> bale_squashfs::Result<Inode> {
        let number = self
            .inodes
            .number(ino.0)
            .ok_or_else(|| corrupt(format!("FUSE inode {} out of range", ino.0)))?;
        let inode = self
            .archive
            .inode(self.inodes.inode_ref(&self.archive, number)?)?;
        if inode.number != number {
            return Err(corrupt(format!(
                "export table entry {number} leads to inode {}",
                inode.number
            )));
        }
        Ok(inode)
    }

    /// Full attributes of `inode`.
    fn attr(&self, inode: &Inode) -> bale_squashfs::Result<FileAttr> {
        Ok(attr::attr(
            self.inodes.fuse_ino(inode.number),
            inode,
            attr::Stored {
                uid: self.archive.uid(inode)?,
                gid: self.archive.gid(inode)?,
                xattr_size: self.archive.xattr_size(inode)?,
            },
            self.archive.superblock().block_size,
        ))
    }

    /// What a directory entry alone says of its inode: number and kind.
    fn entry_stub(&self, entry: &bale_squashfs::DirEntry) -> FileAttr {
        attr::stub(self.inodes.fuse_ino(entry.inode_number), entry.kind)
    }

    /// The inode a directory entry points to, checked against the entry
    /// and remembered for later requests.
    fn entry_inode(&self, entry: &bale_squashfs::DirEntry) -> bale_squashfs::Result<Inode> {
        let inode = self.archive.inode(entry.inode_ref)?;
        if inode.kind() != entry.kind || inode.number != entry.inode_number {
            return Err(corrupt(format!(
                "directory entry {} does not match its inode",
                bale_squashfs::error::shown(&entry.name)
            )));
        }
        self.inodes.remember(inode.number, entry.inode_ref);
        if let InodeData::File(file) = &inode.data {
            if let Some(fragment) = file.fragment_only() {
                let ino = self.inodes.fuse_ino(inode.number);
                self.prefill.known(fragment, ino, entry.inode_ref);
            }
        }
        Ok(inode)
    }

    fn lookup_attr(&self, parent: INodeNo, name: &[u8]) -> bale_squashfs::Result<Option<FileAttr>> {
        let dir = self.node(parent)?;
        match self.archive.lookup(&dir, name)? {
            None => Ok(None),
            Some(entry) => self.attr(&self.entry_inode(&entry)?).map(Some),
        }
    }

    /// Feeds directory `ino`'s entries from FUSE `offset` to `add` until it
    /// reports the reply full. With `plus`, every entry's inode is read
    /// for full attributes. An error after some entries were added ends
    /// the reply early instead; the next request meets it again.
    fn list(
        &self,
        ino: INodeNo,
        offset: u64,
        plus: bool,
        mut add: impl FnMut(&Listed<'_>) -> bool,
    ) -> Result<(), Errno> {
        let op = if plus { "readdirplus" } else { "readdir" };
        let dir = self.node(ino).map_err(|e| self.errors.eio(op, &e))?;
        let InodeData::Directory(d) = &dir.data else {
            return Err(Errno::ENOTDIR);
        };
        let this = self.inodes.fuse_ino(dir.number);
        let parent = if this == INodeNo::ROOT.0 {
            this
        } else {
            self.inodes
                .number(u64::from(d.parent))
                .map(|_| self.inodes.fuse_ino(d.parent))
                .unwrap_or(INodeNo::ROOT.0)
        };
        let cookie = match listing::resume(offset) {
            Resume::Dot => {
                let attr = if plus {
                    self.attr(&dir).map_err(|e| self.errors.eio(op, &e))?
                } else {
                    attr::stub(this, InodeKind::Directory)
                };
                if add(&Listed {
                    offset: 1,
                    name: b".",
                    attr,
                    read: true,
                }) {
                    return Ok(());
                }
                0
            }
            Resume::DotDot => 0,
            Resume::Entries(cookie) => cookie,
        };
        if offset <= 1 {
            // The kernel ignores the attributes of "..".
            let attr = attr::stub(parent, InodeKind::Directory);
            if add(&Listed {
                offset: 2,
                name: b"..",
                attr,
                read: true,
            }) {
                return Ok(());
            }
        }
        let mut entries = self
            .archive
            .read_dir_at(&dir, cookie)
            .map_err(|e| self.errors.eio(op, &e))?;
        let mut added = offset <= 1;
        loop {
            let entry = match entries.next_entry() {
                Ok(Some(entry)) => entry,
                Ok(None) => return Ok(()),
                Err(e) if added => {
                    self.errors.eio(op, &e);
                    return Ok(());
                }
                Err(e) => return Err(self.errors.eio(op, &e)),
            };
            let next = entries.cookie();
            let read = plus.then(|| self.entry_inode(&entry).and_then(|i| self.attr(&i)));
            let (attr, read) = match read {
                Some(Ok(attr)) => (attr, true),
                // An entry whose inode cannot be read is still listed (a
                // copy of the tree must not silently miss it): looking at
                // it reports the error.
                Some(Err(e)) => {
                    self.errors.eio(op, &e);
                    (self.entry_stub(&entry), false)
                }
                None => (self.entry_stub(&entry), false),
            };
            let listed = Listed {
                offset: listing::offset_after(next),
                name: &entry.name,
                attr,
                read,
            };
            if add(&listed) {
                return Ok(());
            }
            added = true;
        }
    }

    /// Where file `ino`'s blocks live, from the cache.
    fn layout(&self, ino: INodeNo) -> bale_squashfs::Result<Arc<FileLayout>> {
        self.layouts.get(ino.0, || {
            let inode = self.node(ino)?;
            self.archive.file_layout(&inode)
        })
    }

    /// `SEEK_DATA` / `SEEK_HOLE` from `offset`, as on a local file system:
    /// ENXIO at or past the end, and for data sought in a final hole; the
    /// end of the file counts as a hole.
    fn seek(&self, ino: INodeNo, offset: u64, whence: i32) -> Result<u64, Errno> {
        let layout = self.layout(ino).map_err(|e| self.errors.eio("lseek", &e))?;
        if offset >= layout.size() {
            return Err(Errno::ENXIO);
        }
        let hole = layout.next_hole(offset);
        match whence {
            libc::SEEK_HOLE => Ok(hole.map_or(layout.size(), |h| h.start)),
            libc::SEEK_DATA => match hole {
                Some(h) if h.start == offset && h.end == layout.size() => Err(Errno::ENXIO),
                Some(h) if h.start == offset => Ok(h.end),
                _ => Ok(offset),
            },
            _ => Err(Errno::EINVAL),
        }
    }

    /// Answers a read from a per-thread buffer (no block-sized allocation
    /// per request).
    fn answer_read(&self, ino: INodeNo, offset: u64, size: u32, reply: ReplyData) {
        thread_local! {
            static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        }
        let layout = match self.layout(ino) {
            Ok(layout) => layout,
            Err(e) => return reply.error(self.errors.eio("read", &e)),
        };
        BUF.with_borrow_mut(|buf| {
            let len = layout.size().saturating_sub(offset).min(size.into()) as usize;
            buf.resize(len, 0);
            match self.archive.read_layout_at(&layout, offset, buf) {
                Ok(n) => reply.data(&buf[..n]),
                Err(e) => return reply.error(self.errors.eio("read", &e)),
            }
            if let Some(fragment) = layout.fragment_only() {
                self.prefill.read(fragment, ino.0);
            }
        })
    }
}

impl Filesystem for BaleFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        for flag in [
            InitFlags::FUSE_DO_READDIRPLUS,
            InitFlags::FUSE_CACHE_SYMLINKS,
            InitFlags::FUSE_PARALLEL_DIROPS,
            InitFlags::FUSE_NO_OPEN_SUPPORT,
            InitFlags::FUSE_NO_OPENDIR_SUPPORT,
            // The kernel then caches "no ACL" per inode instead of asking
            // for system.posix_acl_* on every `ls -l`.
            InitFlags::FUSE_POSIX_ACL,
        ] {
            // A kernel without one of these simply works without it.
            let _ = config.add_capabilities(flag);
        }
        if let Err(max) = config.set_max_readahead(u32::MAX) {
            let _ = config.set_max_readahead(max);
        }
        let _ = config.set_max_background(64);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.lookup_attr(parent, name.as_bytes()) {
            Ok(Some(attr)) => reply.entry(&TTL, &attr, Generation(0)),
            // Inode 0 with a lifetime: the kernel caches the absence.
            Ok(None) => reply.entry(&TTL, &attr::stub(0, InodeKind::File), Generation(0)),
            Err(e) => reply.error(self.errors.eio("lookup", &e)),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.node(ino).and_then(|inode| self.attr(&inode)) {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.error(self.errors.eio("getattr", &e)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        let target = self
            .node(ino)
            .and_then(|inode| self.archive.read_link(&inode).map(<[u8]>::to_vec));
        match target {
            Ok(target) => reply.data(&target),
            Err(e) => reply.error(self.errors.eio("readlink", &e)),
        }
    }

    fn open(&self, _req: &Request, _ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        reply.error(Errno::ENOSYS);
    }

    fn opendir(&self, _req: &Request, _ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        reply.error(Errno::ENOSYS);
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
        self.answer_read(ino, offset, size, reply);
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let result = self.list(ino, offset, false, |e| {
            reply.add(e.attr.ino, e.offset, e.attr.kind, OsStr::from_bytes(e.name))
        });
        match result {
            Ok(()) => reply.ok(),
            Err(errno) => reply.error(errno),
        }
    }

    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        let result = self.list(ino, offset, true, |e| {
            let ttl = if e.read { TTL } else { Duration::ZERO };
            reply.add(
                e.attr.ino,
                e.offset,
                OsStr::from_bytes(e.name),
                &ttl,
                &e.attr,
                Generation(0),
            )
        });
        match result {
            Ok(()) => reply.ok(),
            Err(errno) => reply.error(errno),
        }
    }

    /// Only `SEEK_DATA` and `SEEK_HOLE` reach the server (the kernel
    /// handles the others): `cp`, `tar --sparse` and the like skip holes
    /// instead of reading their zeros.
    fn lseek(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: i64,
        whence: i32,
        reply: ReplyLseek,
    ) {
        let offset = u64::try_from(offset).map_err(|_| Errno::ENXIO);
        match offset.and_then(|offset| self.seek(ino, offset, whence)) {
            Ok(to) => reply.offset(to as i64),
            Err(errno) => reply.error(errno),
        }
    }

    /// No ioctls, as on the kernel's squashfs. Python asks TCGETS
    /// (isatty) on every open file; the kernel forwards each one.
    fn ioctl(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _flags: IoctlFlags,
        _cmd: u32,
        _in_data: &[u8],
        _out_size: u32,
        reply: ReplyIoctl,
    ) {
        reply.error(Errno::ENOTTY);
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let s = attr::statfs(self.archive.superblock());
        reply.statfs(
            s.blocks,
            0,
            0,
            s.files,
            0,
            s.block_size,
            s.name_max,
            s.block_size,
        );
    }

    fn getxattr(&self, req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        match self.node(ino).and_then(|i| self.archive.xattrs(&i)) {
            Ok(all) => match xattr::get(&all, name.as_bytes(), req.uid()) {
                Some(value) => xattr::reply(reply, value, size),
                None => reply.error(Errno::NO_XATTR),
            },
            Err(e) => reply.error(self.errors.eio("getxattr", &e)),
        }
    }

    fn listxattr(&self, req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        match self.node(ino).and_then(|i| self.archive.xattrs(&i)) {
            Ok(all) => xattr::reply(reply, &xattr::list(&all, req.uid()), size),
            Err(e) => reply.error(self.errors.eio("listxattr", &e)),
        }
    }
}
