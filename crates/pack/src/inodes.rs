//! Writes the inode and directory tables. Directories are handled in
//! post-order so every listing can name its children's inodes; all children
//! of a directory are written together, numbered consecutively, so a
//! listing needs few run headers. The root comes last.

use crate::error::{PackError, Result};
use crate::ids::IdTable;
use crate::pipeline::DataLayout;
use crate::tree::{Kind, Tree};
use crate::xattr_writer::XattrWriter;
use bale_squashfs::dir::{write_listing, Listing, ListingEntry};
use bale_squashfs::inode::{DirectoryInode, FileInode, InodeData, NO_FRAGMENT, NO_XATTR};
use bale_squashfs::metadata::{MetaRef, MetadataWriter};
use bale_squashfs::{CompressionSpec, Inode, InodeKind};
use std::collections::HashMap;

pub struct InodeTables {
    pub inode_table: Vec<u8>,
    pub directory_table: Vec<u8>,
    pub root: MetaRef,
    pub inode_count: u32,
    /// Inode reference of each inode number (index = number - 1).
    pub export: Vec<u64>,
}

struct Writer<'a> {
    tree: &'a Tree,
    data: &'a DataLayout,
    ids: &'a mut IdTable,
    xattrs: &'a mut XattrWriter,
    numbers: Vec<u32>,
    refs: Vec<Option<MetaRef>>,
    /// Listings written but whose directory inode is not yet (few at a time).
    listings: HashMap<u32, Listing>,
    inodes: MetadataWriter,
    dirs: MetadataWriter,
    inode_count: u32,
}

pub fn write_inodes(
    tree: &Tree,
    data: &DataLayout,
    ids: &mut IdTable,
    xattrs: &mut XattrWriter,
    spec: CompressionSpec,
) -> Result<InodeTables> {
    let order = directories_post_order(tree);
    let n = tree.entries.len();
    let mut w = Writer {
        tree,
        data,
        ids,
        xattrs,
        numbers: vec![0; n],
        refs: vec![None; n],
        listings: HashMap::new(),
        inodes: MetadataWriter::new(spec.compressor()?),
        dirs: MetadataWriter::new(spec.compressor()?),
        inode_count: 0,
    };
    w.number(&order)?;
    let mut encoded = Vec::new();
    for &dir in &order {
        let children: Vec<u32> = w.included_children(dir).collect();
        for &child in &children {
            let owner = tree.inode_owner(child);
            if w.refs[owner as usize].is_none() {
                w.refs[owner as usize] = Some(w.write_inode(owner, &mut encoded)?);
            }
        }
        let entries: Vec<ListingEntry> = children
            .iter()
            .map(|&c| {
                let owner = tree.inode_owner(c) as usize;
                ListingEntry {
                    name: &tree.entries[c as usize].name,
                    inode: w.refs[owner].expect("written above"),
                    inode_number: w.numbers[owner],
                    kind: kind_of(&tree.entries[owner].kind),
                }
            })
            .collect();
        w.listings
            .insert(dir, write_listing(&mut w.dirs, &entries)?);
    }
    let root = w.write_inode(0, &mut encoded)?;
    let mut export = vec![0u64; w.inode_count as usize];
    for (idx, r) in w.refs.iter().enumerate() {
        if let Some(r) = r {
            export[w.numbers[idx] as usize - 1] = r.to_inode_ref();
        }
    }
    export[w.numbers[0] as usize - 1] = root.to_inode_ref();
    Ok(InodeTables {
        inode_table: w.inodes.finish()?,
        directory_table: w.dirs.finish()?,
        root,
        inode_count: w.inode_count,
        export,
    })
}

/// Directories, each after all directories below it; the root last.
fn directories_post_order(tree: &Tree) -> Vec<u32> {
    let mut order = Vec::new();
    let mut stack = vec![(0u32, tree.children(0))];
    while let Some((dir, children)) = stack.last_mut() {
        let dir = *dir;
        match children.find(|&c| matches!(tree.entries[c as usize].kind, Kind::Dir { .. })) {
            Some(sub) => stack.push((sub, tree.children(sub))),
            None => {
                order.push(dir);
                stack.pop();
            }
        }
    }
    order
}

fn kind_of(kind: &Kind) -> InodeKind {
    match kind {
        Kind::Dir { .. } => InodeKind::Directory,
        Kind::File { .. } => InodeKind::File,
        Kind::Symlink { .. } => InodeKind::Symlink,
        Kind::BlockDevice { .. } => InodeKind::BlockDevice,
        Kind::CharDevice { .. } => InodeKind::CharDevice,
        Kind::Fifo => InodeKind::Fifo,
        Kind::Socket => InodeKind::Socket,
    }
}

impl Writer<'_> {
    /// Children that are in the image (files left out by
    /// `--skip-unreadable`, and their hard links, are not).
    fn included_children(&self, dir: u32) -> impl Iterator<Item = u32> + '_ {
        self.tree.children(dir).filter(|&c| {
            match self.tree.entries[self.tree.inode_owner(c) as usize].kind {
                Kind::File { ordinal, .. } => !self.data.files[ordinal as usize].skipped,
                _ => true,
            }
        })
    }

    /// Gives inode numbers in exactly the order inodes will be written.
    fn number(&mut self, order: &[u32]) -> Result<()> {
        let mut next = 0u32;
        for &dir in order {
            let children: Vec<u32> = self.included_children(dir).collect();
            for child in children {
                let owner = self.tree.inode_owner(child) as usize;
                if self.numbers[owner] == 0 {
                    next = next
                        .checked_add(1)
                        .ok_or_else(|| PackError::Limit("more than 2^32 inodes".into()))?;
                    self.numbers[owner] = next;
                }
            }
        }
        self.numbers[0] = next + 1;
        self.inode_count = next + 1;
        Ok(())
    }

    fn write_inode(&mut self, idx: u32, buf: &mut Vec<u8>) -> Result<MetaRef> {
        let entry = &self.tree.entries[idx as usize];
        let data = match &entry.kind {
            Kind::Dir { .. } => {
                let listing = self.listings.remove(&idx).expect("listed before its inode");
                let parent = if idx == 0 {
                    self.inode_count + 1
                } else {
                    self.numbers[entry.parent as usize]
                };
                InodeData::Directory(DirectoryInode {
                    start_block: listing.start.block as u32,
                    offset: listing.start.offset,
                    size: listing.size,
                    parent,
                    index: listing.index,
                })
            }
            Kind::File { ordinal, .. } => {
                let f = &self.data.files[*ordinal as usize];
                let run = self.data.runs.get(ordinal).cloned().unwrap_or_default();
                let (fragment, fragment_offset) = f.fragment.unwrap_or((NO_FRAGMENT, 0));
                InodeData::File(FileInode {
                    blocks_start: run.start,
                    size: f.size,
                    sparse: run.sparse,
                    fragment,
                    fragment_offset,
                    block_sizes: run.block_sizes,
                })
            }
            Kind::Symlink { target } => InodeData::Symlink {
                target: target.to_vec(),
            },
            Kind::BlockDevice { rdev } => InodeData::BlockDevice { rdev: *rdev },
            Kind::CharDevice { rdev } => InodeData::CharDevice { rdev: *rdev },
            Kind::Fifo => InodeData::Fifo,
            Kind::Socket => InodeData::Socket,
        };
        let inode = Inode {
            permissions: entry.meta.permissions,
            uid_index: self.ids.index_of(entry.meta.uid)?,
            gid_index: self.ids.index_of(entry.meta.gid)?,
            mtime: entry.meta.mtime,
            number: self.numbers[idx as usize],
            link_count: self.tree.link_count(idx),
            xattr: if entry.xattrs.is_empty() {
                NO_XATTR
            } else {
                self.xattrs.id_of(&entry.xattrs)?
            },
            data,
        };
        let at = self.inodes.position();
        buf.clear();
        inode.encode(buf);
        self.inodes.write(buf)?;
        Ok(at)
    }
}
