//! The tree a tar archive describes, built member by member as the
//! archive is read: what extracting it would give. A later member
//! replaces an earlier one of the same path (a directory only updates its
//! metadata); a hard link shares the inode of the member it names;
//! parent directories no member describes get mode 0755 and the owner and
//! mtime of the archive file. Names are taken as numbers (uid, gid), as
//! `tar --numeric-owner` extracts them.

use crate::archive::member_xattrs;
use crate::error::{printable, PackError, Result};
use crate::exclude::Excludes;
use crate::flatten::{flatten, Node, NodeKind};
use crate::options::PackOptions;
use crate::scan::ScanReport;
use crate::tar_members::Member;
use crate::tree::{Meta, Tree};
use bale_squashfs::inode::encode_rdev;
use bale_squashfs::xattr::Xattr;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Longest member path taken: what Linux can open.
const MAX_PATH: usize = 4096;
/// Longest name of one entry: what Linux file systems can hold.
const MAX_NAME: usize = 255;

/// An entry being built; directories keep their children by name.
struct Building {
    meta: Meta,
    xattrs: Box<[Xattr]>,
    kind: BuildKind,
    link_key: Option<(u64, u64)>,
}

enum BuildKind {
    Dir(BTreeMap<Box<[u8]>, Building>),
    Leaf(NodeKind),
}

/// The tree so far, and how to add to it.
pub struct ArchiveTree<'a> {
    opts: &'a PackOptions,
    excludes: Excludes,
    /// What a directory no member describes gets.
    implicit: Meta,
    root: Building,
    /// Files with data so far: the next one's ordinal.
    files: u64,
    dropped_xattrs: u64,
    clamped_times: u64,
}

impl<'a> ArchiveTree<'a> {
    /// An empty tree; directories no member describes get the owner and
    /// mtime of the archive file `st`.
    pub fn new(opts: &'a PackOptions, st: &std::fs::Metadata) -> Result<ArchiveTree<'a>> {
        let implicit = opts.meta(0o755, st.uid(), st.gid(), st.mtime());
        Ok(ArchiveTree {
            opts,
            excludes: Excludes::new(&opts.excludes)?,
            implicit,
            root: directory(implicit),
            files: 0,
            dropped_xattrs: 0,
            clamped_times: 0,
        })
    }

    /// Adds one member. Returns the ordinal its data is to be read as, if
    /// it is a file with data (not excluded, not a hard link); the error
    /// names the member.
    pub fn add(&mut self, archive: &Path, member: &Member) -> Result<Option<u32>> {
        let files = self.files;
        self.place(member).map_err(|reason| PackError::BadSource {
            path: archive.to_path_buf(),
            reason: format!("member {}: {reason}", printable(&member.path)),
        })?;
        Ok((self.files > files).then_some(files as u32))
    }

    /// The finished tree (files numbered in archive order), with each
    /// file's ordinal at reading, by its ordinal in the tree.
    pub fn finish(self, archive: &Path) -> (Tree, Vec<u64>, ScanReport) {
        let (tree, read_as) = flatten(archive.to_path_buf(), into_node(Box::default(), self.root));
        let report = ScanReport {
            dropped_xattrs: self.dropped_xattrs,
            clamped_times: self.clamped_times,
            ..ScanReport::default()
        };
        (tree, read_as, report)
    }
}

fn directory(meta: Meta) -> Building {
    Building {
        meta,
        xattrs: Box::default(),
        kind: BuildKind::Dir(BTreeMap::new()),
        link_key: None,
    }
}

impl ArchiveTree<'_> {
    /// Puts one member in the tree; the error is the reason.
    fn place(&mut self, member: &Member) -> std::result::Result<(), String> {
        // A GNU volume label names the archive, not an entry.
        if member.typeflag == b'V' {
            return Ok(());
        }
        let names = components(&member.path)?;
        if self.excluded(&names, is_directory(member)) {
            return Ok(());
        }
        let mut leaf = self.leaf(member)?;
        // A regular file's are read with its data; a hard link has its
        // target's.
        let file = matches!(leaf.kind, BuildKind::Leaf(NodeKind::File { .. }));
        if self.opts.xattrs && leaf.link_key.is_none() && !file {
            let x = member_xattrs(member);
            self.dropped_xattrs += x.dropped;
            leaf.xattrs = x.kept;
        }
        let Some((name, parents)) = names.split_last() else {
            return match leaf.kind {
                BuildKind::Dir(_) => {
                    (self.root.meta, self.root.xattrs) = (leaf.meta, leaf.xattrs);
                    Ok(())
                }
                BuildKind::Leaf(_) => Err("is the archive's root, and not a directory".into()),
            };
        };
        let implicit = self.implicit;
        let dir = parent(&mut self.root, parents, implicit)?;
        match dir.get_mut(*name) {
            Some(old) if is_dir(old) && is_dir(&leaf) => {
                (old.meta, old.xattrs) = (leaf.meta, leaf.xattrs);
            }
            _ => {
                dir.insert(Box::from(*name), leaf);
            }
        }
        Ok(())
    }

    /// What a member describes, before it is placed.
    fn leaf(&mut self, m: &Member) -> std::result::Result<Building, String> {
        let link_target = || match bale_squashfs::inode::invalid_symlink_target(&m.link) {
            Some(why) => Err(format!("has a link target no symlink can have ({why})")),
            None => Ok(m.link.clone().into_boxed_slice()),
        };
        let device = encode_rdev(m.dev_major, m.dev_minor);
        if is_directory(m) {
            return Ok(Building {
                meta: self.meta(m)?,
                ..directory(self.implicit)
            });
        }
        let node = match m.typeflag {
            b'0' | b'\0' | b'7' | b'S' => {
                self.files += 1;
                NodeKind::File {
                    size: m.size,
                    data_order: self.files - 1,
                }
            }
            b'2' => NodeKind::Symlink(link_target()?),
            b'3' => NodeKind::CharDevice(device),
            b'4' => NodeKind::BlockDevice(device),
            b'6' => NodeKind::Fifo,
            b'1' => return hard_link(&mut self.root, &m.link, m.position),
            other => {
                return Err(format!(
                    "has a type bale cannot store ({:?})",
                    char::from(other)
                ))
            }
        };
        Ok(Building {
            meta: self.meta(m)?,
            xattrs: Box::default(),
            kind: BuildKind::Leaf(node),
            link_key: None,
        })
    }

    fn meta(&mut self, m: &Member) -> std::result::Result<Meta, String> {
        self.clamped_times += u64::from(self.opts.clamps_time(m.mtime));
        let id = |n: u64, what: &str| {
            u32::try_from(n).map_err(|_| format!("has a {what} too large for squashfs ({n})"))
        };
        // An id the image could not hold is an error only if stored.
        let uid = self.opts.owner.map_or_else(|| id(m.uid, "uid"), Ok)?;
        let gid = self.opts.group.map_or_else(|| id(m.gid, "gid"), Ok)?;
        Ok(self.opts.meta(m.mode, uid, gid, m.mtime))
    }

    /// Whether the member (a directory if `is_dir`) or a directory above
    /// it is excluded.
    fn excluded(&self, names: &[&[u8]], is_dir: bool) -> bool {
        let mut rel = PathBuf::new();
        names.iter().enumerate().any(|(i, name)| {
            rel.push(OsStr::from_bytes(name));
            match i + 1 < names.len() || is_dir {
                true => self.excludes.matches_dir(&rel),
                false => self.excludes.matches(&rel),
            }
        })
    }
}

/// A new name for the entry an earlier member put at `target`: both
/// now share one inode.
fn hard_link(
    root: &mut Building,
    target: &[u8],
    position: u64,
) -> std::result::Result<Building, String> {
    let missing = || {
        format!(
            "is a hard link to {}, which no earlier member is (or it was excluded)",
            printable(target)
        )
    };
    let names = components(target)?;
    let (name, parents) = names.split_last().ok_or_else(missing)?;
    let found = walk(root, parents)
        .and_then(|dir| dir.get_mut(*name))
        .ok_or_else(missing)?;
    let BuildKind::Leaf(kind) = &found.kind else {
        return Err("is a hard link to a directory".into());
    };
    let key = *found.link_key.get_or_insert((0, position));
    Ok(Building {
        meta: found.meta,
        xattrs: found.xattrs.clone(),
        kind: BuildKind::Leaf(kind.clone()),
        link_key: Some(key),
    })
}

/// The children of the directory at `names`, made where missing.
fn parent<'t>(
    root: &'t mut Building,
    names: &[&[u8]],
    implicit: Meta,
) -> std::result::Result<&'t mut BTreeMap<Box<[u8]>, Building>, String> {
    let mut dir = root;
    for name in names {
        let BuildKind::Dir(children) = &mut dir.kind else {
            unreachable!("only directories are descended into")
        };
        dir = children
            .entry(Box::from(*name))
            .or_insert_with(|| directory(implicit));
        if !matches!(dir.kind, BuildKind::Dir(_)) {
            return Err(format!(
                "lies below {}, which is not a directory",
                printable(name)
            ));
        }
    }
    match &mut dir.kind {
        BuildKind::Dir(children) => Ok(children),
        BuildKind::Leaf(_) => unreachable!("checked while descending"),
    }
}

/// The children of the existing directory at `names`.
fn walk<'t>(
    root: &'t mut Building,
    names: &[&[u8]],
) -> Option<&'t mut BTreeMap<Box<[u8]>, Building>> {
    let mut children = match &mut root.kind {
        BuildKind::Dir(children) => children,
        BuildKind::Leaf(_) => return None,
    };
    for name in names {
        children = match &mut children.get_mut(*name)?.kind {
            BuildKind::Dir(c) => c,
            BuildKind::Leaf(_) => return None,
        };
    }
    Some(children)
}

/// A member path's names: leading '/', '.' and empty names dropped; '..'
/// and overlong paths or names refused.
fn components(path: &[u8]) -> std::result::Result<Vec<&[u8]>, String> {
    if path.len() > MAX_PATH {
        return Err(format!("path is longer than {MAX_PATH} bytes"));
    }
    let mut names = Vec::new();
    for name in path.split(|&b| b == b'/') {
        match name {
            b"" | b"." => {}
            b".." => return Err("path climbs out of the archive with '..'".into()),
            _ if name.len() > MAX_NAME => {
                return Err(format!("has a name longer than {MAX_NAME} bytes"))
            }
            _ => names.push(name),
        }
    }
    Ok(names)
}

/// Whether a member describes a directory: 'D' is a GNU incremental
/// dump's directory (its listing as data); an old archive marks one as a
/// file whose name ends in '/'.
fn is_directory(m: &Member) -> bool {
    let old_style_dir = matches!(m.typeflag, b'0' | b'\0' | b'7') && m.path.ends_with(b"/");
    matches!(m.typeflag, b'5' | b'D') || old_style_dir
}

fn is_dir(b: &Building) -> bool {
    matches!(b.kind, BuildKind::Dir(_))
}

fn into_node(name: Box<[u8]>, b: Building) -> Node {
    let kind = match b.kind {
        BuildKind::Dir(children) => NodeKind::Dir(
            children
                .into_iter()
                .map(|(name, child)| into_node(name, child))
                .collect(),
        ),
        BuildKind::Leaf(kind) => kind,
    };
    Node {
        name,
        meta: b.meta,
        kind,
        xattrs: b.xattrs,
        link_key: b.link_key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_paths_are_normalised_and_escapes_refused() {
        let names = |p: &str| components(p.as_bytes()).map(|v| v.concat());
        assert_eq!(names("./usr//lib/").unwrap(), b"usrlib");
        assert_eq!(names("/etc/passwd").unwrap(), b"etcpasswd");
        assert!(names(".").unwrap().is_empty());
        assert!(names("a/../../etc").is_err());
        assert!(names(&"x".repeat(256)).is_err());
        assert!(names(&"a/".repeat(3000)).is_err());
    }
}
