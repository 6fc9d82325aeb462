//! Inode access: by reference, the root, a sequential scan of the inode
//! table, and the owner ids behind an inode's id indices.

use super::archive::Archive;
use super::metadata::MetaCursor;
use super::source::ReadAt;
use crate::error::{corrupt, Result};
use crate::inode::Inode;
use crate::metadata::{MetaRef, METADATA_SIZE};

impl<R: ReadAt> Archive<R> {
    /// The root directory's inode.
    pub fn root(&self) -> Result<Inode> {
        let root = self.inode(self.superblock().root_inode)?;
        match root.data {
            crate::InodeData::Directory(_) => Ok(root),
            _ => Err(corrupt("root inode is not a directory")),
        }
    }

    /// The inode at `inode_ref` (block << 16 | offset in the inode table).
    pub fn inode(&self, inode_ref: u64) -> Result<Inode> {
        let at = MetaRef::from_inode_ref(inode_ref);
        if inode_ref >> 48 != 0 || usize::from(at.offset) >= METADATA_SIZE {
            return Err(corrupt(format!("inode reference {inode_ref:#x}")));
        }
        let mut cursor = MetaCursor::new(&self.image, self.image.inode_stream(), at)?;
        self.decode_inode(&mut cursor)
    }

    fn decode_inode(&self, cursor: &mut MetaCursor<'_, R>) -> Result<Inode> {
        let sb = self.superblock();
        let inode = Inode::decode(cursor, sb.block_size)?;
        if inode.number == 0 || inode.number > sb.inode_count {
            return Err(corrupt(format!(
                "inode number {} (the image has inodes 1 to {})",
                inode.number, sb.inode_count
            )));
        }
        Ok(inode)
    }

    /// Every inode in inode-table order with its reference, as stored
    /// (no directory walk): `inode_count` of them, or an error.
    pub fn inodes(&self) -> impl Iterator<Item = Result<(u64, Inode)>> + '_ {
        let mut cursor = Some(MetaCursor::new(
            &self.image,
            self.image.inode_stream(),
            MetaRef::default(),
        ));
        let mut left = self.superblock().inode_count;
        std::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            let step = match cursor.take()? {
                Ok(mut c) => {
                    let at = c.position().to_inode_ref();
                    let inode = self.decode_inode(&mut c);
                    cursor = Some(Ok(c));
                    inode.map(|i| (at, i))
                }
                Err(e) => Err(e),
            };
            left = if step.is_ok() { left - 1 } else { 0 };
            Some(step)
        })
    }

    /// The owner's uid.
    pub fn uid(&self, inode: &Inode) -> Result<u32> {
        self.id(inode.uid_index)
    }

    /// The owner's gid.
    pub fn gid(&self, inode: &Inode) -> Result<u32> {
        self.id(inode.gid_index)
    }

    fn id(&self, index: u16) -> Result<u32> {
        self.ids()
            .get(usize::from(index))
            .copied()
            .ok_or_else(|| corrupt(format!("id index {index} out of range")))
    }
}
