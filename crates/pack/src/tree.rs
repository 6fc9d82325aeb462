//! The scanned source tree, flattened into an arena: entry 0 is the root,
//! every directory's children are contiguous and sorted bytewise by name
//! (the order squashfs listings need), hard links point at their first
//! occurrence.

use bale_squashfs::xattr::Xattr;
use std::ops::Range;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Metadata every entry carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    pub permissions: u16,
    pub uid: u32,
    pub gid: u32,
    pub mtime: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Dir {
        children: Range<u32>,
    },
    /// `ordinal` indexes the list of files whose data is packed.
    File {
        size: u64,
        ordinal: u32,
    },
    Symlink {
        target: Box<[u8]>,
    },
    BlockDevice {
        rdev: u32,
    },
    CharDevice {
        rdev: u32,
    },
    Fifo,
    Socket,
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub name: Box<[u8]>,
    pub parent: u32,
    pub meta: Meta,
    pub kind: Kind,
    pub xattrs: Box<[Xattr]>,
    /// For a hard link, the entry that was found first (which owns the inode).
    pub link_of: Option<u32>,
}

#[derive(Debug, Default)]
pub struct Tree {
    pub root_path: PathBuf,
    pub entries: Vec<Entry>,
    /// Entry index of every file with data, in packing order.
    pub files: Vec<u32>,
    /// Number of entries sharing each inode, keyed by the first entry.
    pub link_counts: std::collections::HashMap<u32, u32>,
}

impl Tree {
    pub fn children(&self, dir: u32) -> Range<u32> {
        match &self.entries[dir as usize].kind {
            Kind::Dir { children } => children.clone(),
            _ => 0..0,
        }
    }

    /// The source path of an entry, rebuilt from its ancestors' names.
    pub fn path_of(&self, mut idx: u32) -> PathBuf {
        let mut names = Vec::new();
        while idx != 0 {
            let e = &self.entries[idx as usize];
            names.push(&e.name);
            idx = e.parent;
        }
        let mut path = self.root_path.clone();
        for name in names.iter().rev() {
            path.push(std::ffi::OsStr::from_bytes(name));
        }
        path
    }

    /// The entry that owns the inode of `idx` (itself unless a hard link).
    pub fn inode_owner(&self, idx: u32) -> u32 {
        self.entries[idx as usize].link_of.unwrap_or(idx)
    }

    /// Link count to store: for directories 2 + subdirectories, otherwise
    /// the number of names the inode has inside the tree.
    pub fn link_count(&self, idx: u32) -> u32 {
        match &self.entries[idx as usize].kind {
            Kind::Dir { children } => {
                2 + children
                    .clone()
                    .filter(|&c| matches!(self.entries[c as usize].kind, Kind::Dir { .. }))
                    .count() as u32
            }
            _ => self
                .link_counts
                .get(&self.inode_owner(idx))
                .copied()
                .unwrap_or(1),
        }
    }
}
