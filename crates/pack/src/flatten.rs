//! A scan's nested result — a directory's or an archive's — and how it is
//! laid out as a [`Tree`]: each directory's children contiguous, hard
//! links pointing at the entry that owns their inode, files with data
//! numbered in the order their data is read.

use crate::tree::{Entry, Kind, Meta, Tree};
use bale_squashfs::xattr::Xattr;
use std::collections::HashMap;
use std::path::PathBuf;

/// One scanned entry before flattening.
#[derive(Clone, Debug)]
pub struct Node {
    pub name: Box<[u8]>,
    pub meta: Meta,
    pub kind: NodeKind,
    pub xattrs: Box<[Xattr]>,
    /// Equal for every name of one inode with several, unique otherwise:
    /// (device, inode) in a directory, a number the archive scan gives.
    pub link_key: Option<(u64, u64)>,
}

#[derive(Clone, Debug)]
pub enum NodeKind {
    /// Children sorted bytewise by name.
    Dir(Vec<Node>),
    /// `data_order` places the file's data among the others: all equal
    /// in a directory (tree order is kept), the order an archive's reader
    /// read it in.
    File {
        size: u64,
        data_order: u64,
    },
    Symlink(Box<[u8]>),
    BlockDevice(u32),
    CharDevice(u32),
    Fifo,
    Socket,
}

/// Lays the nested scan result out breadth-first per directory so each
/// directory's children are contiguous, links hard links together, and
/// numbers the files with data by `data_order` (ties in tree order).
/// Returns the tree and the files' `data_order`s by ordinal.
pub fn flatten(root_path: PathBuf, root: Node) -> (Tree, Vec<u64>) {
    let mut tree = Tree {
        root_path,
        // Sized once: growing by doubling would need the old and the new
        // arena at once, next to the whole scanned tree.
        entries: Vec::with_capacity(node_count(&root)),
        ..Tree::default()
    };
    let mut data_orders = Vec::new();
    let mut pending: Vec<(u32, Vec<Node>)> = Vec::new();
    let mut first_link: HashMap<(u64, u64), u32> = HashMap::new();
    let mut push =
        |tree: &mut Tree, node: Node, parent: u32, pending: &mut Vec<(u32, Vec<Node>)>| {
            let idx = tree.entries.len() as u32;
            let link_of = node.link_key.and_then(|key| match first_link.get(&key) {
                Some(&first) => Some(first),
                None => {
                    first_link.insert(key, idx);
                    None
                }
            });
            if let Some(owner) = link_of {
                *tree.link_counts.entry(owner).or_insert(1) += 1;
            }
            let kind = match node.kind {
                NodeKind::Dir(children) => {
                    pending.push((idx, children));
                    Kind::Dir { children: 0..0 }
                }
                NodeKind::File { size, data_order } if link_of.is_none() => {
                    tree.files.push(idx);
                    data_orders.push(data_order);
                    Kind::File {
                        size,
                        ordinal: tree.files.len() as u32 - 1,
                    }
                }
                NodeKind::File { size, .. } => Kind::File {
                    size,
                    ordinal: u32::MAX,
                },
                NodeKind::Symlink(target) => Kind::Symlink { target },
                NodeKind::BlockDevice(rdev) => Kind::BlockDevice { rdev },
                NodeKind::CharDevice(rdev) => Kind::CharDevice { rdev },
                NodeKind::Fifo => Kind::Fifo,
                NodeKind::Socket => Kind::Socket,
            };
            tree.entries.push(Entry {
                name: node.name,
                parent,
                meta: node.meta,
                kind,
                xattrs: node.xattrs,
                link_of,
            });
        };
    push(&mut tree, root, 0, &mut pending);
    let mut next = 0;
    while next < pending.len() {
        let (dir, children) = std::mem::take(&mut pending[next]);
        next += 1;
        let start = tree.entries.len() as u32;
        for child in children {
            push(&mut tree, child, dir, &mut pending);
        }
        tree.entries[dir as usize].kind = Kind::Dir {
            children: start..tree.entries.len() as u32,
        };
    }
    if !data_orders.is_sorted() {
        renumber_files(&mut tree, &mut data_orders);
    }
    (tree, data_orders)
}

/// Puts `tree.files` in `data_orders` order (stable) and renumbers them.
fn renumber_files(tree: &mut Tree, data_orders: &mut Vec<u64>) {
    let mut order: Vec<u32> = (0..tree.files.len() as u32).collect();
    order.sort_by_key(|&i| data_orders[i as usize]);
    tree.files = order.iter().map(|&i| tree.files[i as usize]).collect();
    *data_orders = order.iter().map(|&i| data_orders[i as usize]).collect();
    for (ordinal, &idx) in tree.files.iter().enumerate() {
        if let Kind::File { ordinal: o, .. } = &mut tree.entries[idx as usize].kind {
            *o = ordinal as u32;
        }
    }
}

fn node_count(root: &Node) -> usize {
    let mut count = 0;
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        count += 1;
        if let NodeKind::Dir(children) = &node.kind {
            stack.extend(children);
        }
    }
    count
}
