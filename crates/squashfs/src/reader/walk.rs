//! Depth-first walk of the whole tree, for extraction, verification and
//! tests. It is iterative (no recursion, so deep trees cannot overflow the
//! stack), checks that each entry matches the inode it points to, and
//! refuses to enter a directory twice: that catches directory loops (an
//! entry pointing to an ancestor) and directories linked from two places,
//! so the walk always ends. An inode number belongs to one inode: two
//! inodes with the same number would pass for hard links of one file
//! (readers that meet a number again skip what they already did).

use super::archive::Archive;
use super::dir::DirEntry;
use super::source::ReadAt;
use crate::error::{corrupt, shown, Error};
use crate::inode::{Inode, InodeData};
use std::collections::HashMap;

/// One node met by the walk.
pub struct Node<'a> {
    /// Path from the root, components joined by `/`; empty for the root.
    pub path: &'a [u8],
    /// Last path component; empty for the root.
    pub name: &'a [u8],
    pub inode_ref: u64,
    pub inode: &'a Inode,
    /// 0 for the root.
    pub depth: usize,
}

/// What the walk calls back. Returning an error stops the walk.
pub trait Visitor {
    type Error: From<Error>;

    /// Called for every node, parents before their children.
    fn visit(&mut self, node: &Node<'_>) -> Result<(), Self::Error>;

    /// Called for every directory once all its children were visited.
    fn leave(&mut self, _dir: &Node<'_>) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// A directory being walked: its node, its entries, the next one to visit.
struct Frame {
    inode_ref: u64,
    inode: Inode,
    path_len: usize,
    name_start: usize,
    entries: std::vec::IntoIter<DirEntry>,
}

impl<R: ReadAt> Archive<R> {
    /// Walks every node under the root, depth first, in listing order.
    pub fn walk<V: Visitor>(&self, visitor: &mut V) -> Result<(), V::Error> {
        self.walk_from(self.superblock().root_inode, visitor)
    }

    /// Walks the subtree of the directory at `root_ref`; paths are
    /// relative to it.
    pub fn walk_from<V: Visitor>(&self, root_ref: u64, visitor: &mut V) -> Result<(), V::Error> {
        let root = self.inode(root_ref)?;
        let mut path = Vec::new();
        // Where each inode number met so far is (its inode reference).
        let mut places = HashMap::new();
        visitor.visit(&Node {
            path: &path,
            name: &[],
            inode_ref: root_ref,
            inode: &root,
            depth: 0,
        })?;
        places.insert(root.number, root_ref);
        let mut stack = vec![Frame {
            entries: self.read_dir(&root)?.into_iter(),
            inode_ref: root_ref,
            inode: root,
            path_len: 0,
            name_start: 0,
        }];
        while let Some(frame) = stack.last_mut() {
            let Some(entry) = frame.entries.next() else {
                let frame = stack.pop().expect("frame on the stack");
                path.truncate(frame.path_len);
                visitor.leave(&Node {
                    path: &path,
                    name: &path[frame.name_start..],
                    inode_ref: frame.inode_ref,
                    inode: &frame.inode,
                    depth: stack.len(),
                })?;
                continue;
            };
            let parent_len = frame.path_len;
            path.truncate(parent_len);
            if parent_len > 0 {
                path.push(b'/');
            }
            let name_start = path.len();
            path.extend_from_slice(&entry.name);
            let inode = self.inode(entry.inode_ref).map_err(within(&path))?;
            if inode.kind() != entry.kind || inode.number != entry.inode_number {
                return Err(corrupt(format!(
                    "directory entry {} does not match its inode",
                    shown(&path)
                ))
                .into());
            }
            let depth = stack.len();
            visitor.visit(&Node {
                path: &path,
                name: &path[name_start..],
                inode_ref: entry.inode_ref,
                inode: &inode,
                depth,
            })?;
            let is_dir = matches!(inode.data, InodeData::Directory(_));
            match places.insert(inode.number, entry.inode_ref) {
                Some(other) if other != entry.inode_ref => {
                    return Err(corrupt(format!(
                        "{}: inode number {} is also that of another inode",
                        shown(&path),
                        inode.number
                    ))
                    .into());
                }
                Some(_) if is_dir => {
                    return Err(corrupt(format!("directory loop at {}", shown(&path))).into());
                }
                _ => {}
            }
            if is_dir {
                stack.push(Frame {
                    entries: self.read_dir(&inode).map_err(within(&path))?.into_iter(),
                    inode_ref: entry.inode_ref,
                    inode,
                    path_len: path.len(),
                    name_start,
                });
            }
        }
        Ok(())
    }
}

/// Names the entry at `path` in a damage found there, so that a listing or
/// a check says where the image is corrupt.
fn within(path: &[u8]) -> impl FnOnce(Error) -> Error + '_ {
    move |e| match e {
        Error::Corrupt(reason) => corrupt(format!("{}: {reason}", shown(path))),
        other => other,
    }
}
