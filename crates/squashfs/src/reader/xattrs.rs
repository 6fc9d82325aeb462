//! Extended attributes of an inode: its xattr id entry names a run of
//! key/value records in the xattr table; a value may be stored once and
//! referenced from other records ("out of line").

use super::archive::Archive;
use super::metadata::MetaCursor;
use super::source::ReadAt;
use crate::error::{corrupt, Result};
use crate::inode::{Inode, NO_XATTR};
use crate::metadata::MetaRef;
use crate::xattr::{decode_key, decode_value, Xattr, XattrId};

/// Most bytes (names and values) accepted for one inode's attributes.
const MAX_XATTR_BYTES: usize = 4 << 20;

impl<R: ReadAt> Archive<R> {
    /// The inode's attributes with full names (`user.`, `trusted.`,
    /// `security.` prefixes included), in stored order.
    pub fn xattrs(&self, inode: &Inode) -> Result<Vec<Xattr>> {
        let Some(id) = self.xattr_id(inode)? else {
            return Ok(Vec::new());
        };
        let tables = self.xattr_tables()?;
        let open = |r: u64| MetaCursor::new(&self.image, tables.stream, MetaRef::from_inode_ref(r));
        let mut records = open(id.xattr_ref)?;
        let mut xattrs = Vec::new();
        let mut total = 0usize;
        for _ in 0..id.count {
            let key = decode_key(&mut records)?;
            let value = if key.out_of_line {
                let stored = decode_value(&mut records)?;
                let target: [u8; 8] = stored
                    .try_into()
                    .map_err(|_| corrupt("xattr value reference is not 8 bytes"))?;
                decode_value(&mut open(u64::from_le_bytes(target))?)?
            } else {
                decode_value(&mut records)?
            };
            total += key.name.len() + value.len();
            if total > MAX_XATTR_BYTES {
                return Err(corrupt("xattrs of one inode too large"));
            }
            xattrs.push(Xattr {
                name: key.name,
                value,
            });
        }
        Ok(xattrs)
    }

    /// The stored size of the inode's attributes (names with their
    /// prefixes' bytes, a separator and values, as its xattr id entry
    /// says); 0 without attributes. The kernel adds it to `st_blocks`.
    pub fn xattr_size(&self, inode: &Inode) -> Result<u32> {
        Ok(self.xattr_id(inode)?.map_or(0, |id| id.size))
    }

    fn xattr_id(&self, inode: &Inode) -> Result<Option<XattrId>> {
        if inode.xattr == NO_XATTR {
            return Ok(None);
        }
        let entry = self
            .xattr_tables()?
            .ids
            .entry::<R, { XattrId::SIZE }>(&self.image, inode.xattr.into())?;
        XattrId::decode(&entry).map(Some)
    }

    fn xattr_tables(&self) -> Result<&super::archive::XattrTables> {
        self.xattrs
            .as_ref()
            .ok_or_else(|| corrupt("inode has xattrs but the image has no xattr table"))
    }

    /// The target of a symlink inode.
    pub fn read_link<'i>(&self, inode: &'i Inode) -> Result<&'i [u8]> {
        match &inode.data {
            crate::InodeData::Symlink { target } => Ok(target),
            _ => Err(corrupt("not a symlink")),
        }
    }
}
