//! Comparing one image node with the same path in a local tree: kind,
//! mode, owner, mtime, size, link count, symlink target, device numbers,
//! xattrs (user., trusted., security.), contents, and names present only
//! locally.

use crate::error::{at_path, Result};
use bale_squashfs::holes;
use bale_squashfs::inode::{decode_rdev, InodeData, InodeKind};
use bale_squashfs::reader::{Archive, FileLayout, ReadAt};
use bale_squashfs::xattr::split_name;
use bale_squashfs::Inode;
use os_display::Quotable;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fmt;
use std::fs::{File, Metadata};
use std::ops::Range;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// One way the image differs from the tree, at one path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// Path relative to the image root ("." for the root).
    pub path: String,
    pub what: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.what)
    }
}

/// Metadata a comparison leaves out, for trees that differ from the image
/// on purpose: extracted by an ordinary user (owners), packed with
/// `--all-root` (owners) or `--mtime` (mtimes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ignore {
    /// Do not compare uid and gid.
    pub owners: bool,
    /// Do not compare modification times.
    pub mtimes: bool,
}

/// Compares image nodes with the tree at `root`; one node at a time, so
/// nodes can be compared in parallel.
pub(crate) struct Comparer {
    root: PathBuf,
    ignore: Ignore,
}

/// What comparing one node found.
#[derive(Default)]
pub(crate) struct Compared {
    pub differences: Vec<Difference>,
    /// Whether the file's contents were read (no need to read them again).
    pub contents_read: bool,
}

/// A path of the image as a difference line shows it: quoted and escaped
/// as a shell would need it when it must be (one line per difference).
fn shown(path: &[u8]) -> String {
    match path.is_empty() {
        true => ".".into(),
        false => OsStr::from_bytes(path).maybe_quote().to_string(),
    }
}

fn local_kind(ft: std::fs::FileType) -> InodeKind {
    if ft.is_dir() {
        InodeKind::Directory
    } else if ft.is_symlink() {
        InodeKind::Symlink
    } else if ft.is_block_device() {
        InodeKind::BlockDevice
    } else if ft.is_char_device() {
        InodeKind::CharDevice
    } else if ft.is_fifo() {
        InodeKind::Fifo
    } else if ft.is_socket() {
        InodeKind::Socket
    } else {
        InodeKind::File
    }
}

impl Comparer {
    pub fn new(root: &Path, ignore: Ignore) -> Comparer {
        Comparer {
            root: root.to_path_buf(),
            ignore,
        }
    }

    /// Compares the image's node at `path` with its local counterpart.
    pub fn compare<R: ReadAt>(
        &self,
        archive: &Archive<R>,
        path: &[u8],
        inode: &Inode,
    ) -> Result<Compared> {
        let mut pair = Pair {
            archive,
            path,
            inode,
            local: self.root.join(OsStr::from_bytes(path)),
            ignore: self.ignore,
            found: Compared::default(),
        };
        match std::fs::symlink_metadata(&pair.local) {
            Ok(md) => pair.compare(&md)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                pair.differ(format!("missing from {}", self.root.maybe_quote()));
            }
            Err(e) => return Err(at_path(&pair.local)(e)),
        }
        Ok(pair.found)
    }
}

/// One node of the image and the same path in the tree.
struct Pair<'a, R> {
    archive: &'a Archive<R>,
    path: &'a [u8],
    inode: &'a Inode,
    local: PathBuf,
    ignore: Ignore,
    found: Compared,
}

impl<R: ReadAt> Pair<'_, R> {
    fn differ(&mut self, what: String) {
        self.found.differ(self.path, what);
    }

    /// Compares with the local node, whose status is `md`.
    fn compare(&mut self, md: &Metadata) -> Result<()> {
        let (archive, inode) = (self.archive, self.inode);
        let kind = local_kind(md.file_type());
        if kind != inode.kind() {
            self.differ(format!("kind: image {:?}, tree {kind:?}", inode.kind()));
            return Ok(());
        }
        let (owners, mtimes) = (!self.ignore.owners, !self.ignore.mtimes);
        // Signed and wide: a tree's mtime may be before 1970.
        let fields: [(&str, bool, i128, i128); 5] = [
            (
                "mode",
                true,
                (inode.mode() & 0o7777).into(),
                (md.mode() & 0o7777).into(),
            ),
            ("uid", owners, archive.uid(inode)?.into(), md.uid().into()),
            ("gid", owners, archive.gid(inode)?.into(), md.gid().into()),
            ("mtime", mtimes, inode.mtime.into(), md.mtime().into()),
            (
                "link count",
                true,
                inode.link_count.into(),
                md.nlink().into(),
            ),
        ];
        for (name, _, image, tree) in fields.into_iter().filter(|f| f.1) {
            if image != tree {
                let (image, tree) = if name == "mode" {
                    (format!("{image:04o}"), format!("{tree:04o}"))
                } else {
                    (image.to_string(), tree.to_string())
                };
                self.differ(format!("{name}: image {image}, tree {tree}"));
            }
        }
        self.xattrs()?;
        match &inode.data {
            InodeData::Symlink { target } => {
                let local_target = std::fs::read_link(&self.local).map_err(at_path(&self.local))?;
                if local_target.as_os_str().as_bytes() != target.as_slice() {
                    self.differ(format!(
                        "symlink target: image {}, tree {}",
                        OsStr::from_bytes(target).maybe_quote(),
                        local_target.maybe_quote()
                    ));
                }
            }
            InodeData::BlockDevice { rdev } | InodeData::CharDevice { rdev } => {
                let image = decode_rdev(*rdev);
                let tree = (rustix::fs::major(md.rdev()), rustix::fs::minor(md.rdev()));
                if image != tree {
                    self.differ(format!("device: image {image:?}, tree {tree:?}"));
                }
            }
            InodeData::Directory(_) => self.names()?,
            InodeData::File(_) => {
                let layout = archive.file_layout(inode)?;
                let size = layout.size();
                if size != md.len() {
                    self.differ(format!("size: image {size}, tree {}", md.len()));
                } else {
                    self.contents(&layout, md)?;
                    self.found.contents_read = true;
                }
            }
            InodeData::Fifo | InodeData::Socket => {}
        }
        Ok(())
    }

    /// Reports names in the local directory that the image lacks.
    fn names(&mut self) -> Result<()> {
        let in_image: BTreeSet<Vec<u8>> = self
            .archive
            .read_dir(self.inode)?
            .into_iter()
            .map(|e| e.name)
            .collect();
        let local = &self.local;
        let mut in_tree = Vec::new();
        for entry in std::fs::read_dir(local).map_err(at_path(local))? {
            let name = entry.map_err(at_path(local))?.file_name();
            in_tree.push(name.as_bytes().to_vec());
        }
        in_tree.sort();
        for name in in_tree.into_iter().filter(|n| !in_image.contains(n)) {
            let mut only_here = self.path.to_vec();
            if !only_here.is_empty() {
                only_here.push(b'/');
            }
            only_here.extend_from_slice(&name);
            self.found.differ(&only_here, "not in image".into());
        }
        Ok(())
    }

    /// Compares contents block by block. A hole of the image is not read
    /// where the local file has a hole too (asked only of a file with
    /// fewer blocks allocated than its size needs).
    fn contents(&mut self, layout: &FileLayout, md: &Metadata) -> Result<()> {
        let local = &self.local;
        let tree = File::open(local).map_err(at_path(local))?;
        let sparse = holes::may_have_holes(md.len(), md.blocks());
        let mut hole: Option<Range<u64>> = None;
        let covers = |hole: &Option<Range<u64>>, r: &Range<u64>| {
            hole.as_ref()
                .is_some_and(|h| h.start <= r.start && r.end <= h.end)
        };
        let block_size = self.archive.superblock().block_size as usize;
        let (mut a, mut b) = (vec![0u8; block_size], vec![0u8; block_size]);
        for (range, image_hole) in layout.ranges() {
            if image_hole && sparse {
                if !covers(&hole, &range) {
                    hole = holes::next_hole(&tree, range.start, md.len());
                }
                if covers(&hole, &range) {
                    continue;
                }
            }
            let len = (range.end - range.start) as usize;
            let (a, b) = (&mut a[..len], &mut b[..len]);
            self.archive.read_layout_at(layout, range.start, a)?;
            FileExt::read_exact_at(&tree, b, range.start).map_err(at_path(local))?;
            if let Some(i) = a.iter().zip(b.iter()).position(|(x, y)| x != y) {
                self.differ(format!(
                    "content differs at byte {}",
                    range.start + i as u64
                ));
                return Ok(());
            }
        }
        Ok(())
    }

    fn xattrs(&mut self) -> Result<()> {
        let image: BTreeMap<Vec<u8>, Vec<u8>> = self
            .archive
            .xattrs(self.inode)?
            .into_iter()
            .map(|x| (x.name, x.value))
            .collect();
        let tree = local_xattrs(&self.local)?;
        for name in image.keys().chain(tree.keys()).collect::<BTreeSet<_>>() {
            let what = match (image.get(name), tree.get(name)) {
                (Some(_), None) => "only in image",
                (None, Some(_)) => "only in tree",
                (Some(a), Some(b)) if a != b => "values differ",
                _ => continue,
            };
            self.differ(format!(
                "xattr {}: {what}",
                bale_squashfs::error::shown(name)
            ));
        }
        Ok(())
    }
}

impl Compared {
    fn differ(&mut self, path: &[u8], what: String) {
        self.differences.push(Difference {
            path: shown(path),
            what,
        });
    }
}

/// The local node's attributes in the namespaces squashfs can store.
fn local_xattrs(path: &Path) -> Result<BTreeMap<Vec<u8>, Vec<u8>>> {
    let unsupported = |e: rustix::io::Errno| e == rustix::io::Errno::NOTSUP;
    let mut names = match rustix::fs::llistxattr_query(path) {
        Ok(len) => vec![0u8; len],
        Err(e) if unsupported(e) => return Ok(BTreeMap::new()),
        Err(e) => return Err(at_path(path)(e)),
    };
    let len = rustix::fs::llistxattr(path, &mut names[..]).map_err(at_path(path))?;
    let mut out = BTreeMap::new();
    for name in names[..len].split(|&b| b == 0) {
        if split_name(name).is_none() {
            continue;
        }
        let size = rustix::fs::lgetxattr_query(path, name).map_err(at_path(path))?;
        let mut value = vec![0u8; size];
        let n = rustix::fs::lgetxattr(path, name, &mut value[..]).map_err(at_path(path))?;
        value.truncate(n);
        out.insert(name.to_vec(), value);
    }
    Ok(out)
}
