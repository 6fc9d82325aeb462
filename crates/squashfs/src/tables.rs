//! Lookup tables (id, fragment, export, xattr id): an array of fixed-size
//! entries kept in metadata blocks, found through an index of u64 block
//! positions stored right after them.

use crate::block::BlockSize;
use crate::bytes::{GetLe, PutLe};
use crate::compression::Compressor;
use crate::error::Result;
use crate::metadata::{MetadataWriter, METADATA_SIZE};

/// A lookup table ready to be written: its metadata blocks, then the index
/// of their absolute positions (which the superblock points at).
pub struct LookupTable {
    pub blocks: Vec<u8>,
    pub index: Vec<u8>,
}

impl LookupTable {
    /// Encodes `entries` (already serialized) for a table whose first block
    /// lands at absolute `position`.
    pub fn encode(entries: &[u8], position: u64, compressor: Compressor) -> Result<LookupTable> {
        let mut meta = MetadataWriter::new(compressor);
        let mut index = Vec::new();
        for chunk in entries.chunks(METADATA_SIZE) {
            index.put_u64(position + meta.position().block);
            meta.write(chunk)?;
        }
        Ok(LookupTable {
            blocks: meta.finish()?,
            index,
        })
    }
}

/// Number of metadata blocks (and so index entries) a table of `len` bytes needs.
pub fn index_len(len: u64) -> u64 {
    len.div_ceil(METADATA_SIZE as u64)
}

/// One fragment table entry: where a fragment block lives and its size word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragmentEntry {
    pub start: u64,
    pub size: BlockSize,
}

impl FragmentEntry {
    pub const SIZE: usize = 16;

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u64(self.start);
        out.put_u32(self.size.raw());
        out.put_u32(0);
    }

    pub fn decode(mut raw: &[u8], block_size: u32) -> Result<FragmentEntry> {
        let start = raw.get_u64()?;
        let size = BlockSize::from_raw(raw.get_u32()?, block_size)?;
        Ok(FragmentEntry { start, size })
    }
}
