//! Builds the xattr table: each distinct attribute set is stored once and
//! gets an id that inodes refer to.

use crate::error::Result;
use bale_squashfs::metadata::MetadataWriter;
use bale_squashfs::xattr::{encode_xattr, Xattr, XattrId};
use bale_squashfs::Compressor;
use std::collections::HashMap;

pub struct XattrWriter {
    meta: MetadataWriter,
    ids: Vec<XattrId>,
    known: HashMap<Box<[Xattr]>, u32>,
}

impl XattrWriter {
    pub fn new(compressor: Compressor) -> XattrWriter {
        XattrWriter {
            meta: MetadataWriter::new(compressor),
            ids: Vec::new(),
            known: HashMap::new(),
        }
    }

    /// The id of an attribute set, storing it on first use.
    pub fn id_of(&mut self, set: &[Xattr]) -> Result<u32> {
        if let Some(&id) = self.known.get(set) {
            return Ok(id);
        }
        let xattr_ref = self.meta.position().to_inode_ref();
        let mut bytes = Vec::new();
        for x in set {
            encode_xattr(x, &mut bytes);
        }
        self.meta.write(&bytes)?;
        let id = self.ids.len() as u32;
        self.ids.push(XattrId {
            xattr_ref,
            count: set.len() as u32,
            size: set
                .iter()
                .map(|x| (x.name.len() + 1 + x.value.len()) as u32)
                .sum(),
        });
        self.known.insert(set.into(), id);
        Ok(id)
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The key/value stream and the serialized id entries.
    pub fn finish(self) -> Result<(Vec<u8>, Vec<u8>, u32)> {
        let mut entries = Vec::with_capacity(self.ids.len() * XattrId::SIZE);
        for id in &self.ids {
            id.encode(&mut entries);
        }
        Ok((self.meta.finish()?, entries, self.ids.len() as u32))
    }
}
