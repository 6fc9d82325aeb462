//! Lookup tables (id, fragment, export, xattr id): an array of fixed-size
//! entries kept in metadata blocks, found through an index of u64 block
//! positions stored right after them.

use crate::block::BlockSize;
use crate::bytes::{GetLe, PutLe};
use crate::compression::Compressor;
use crate::error::Result;
use crate::metadata::{MetadataWriter, METADATA_SIZE};

/// Encodes `entries` (already serialized) as metadata blocks followed by
/// their index, for a table whose first block lands at absolute `position`.
/// Returns the bytes to write and the absolute position of the index,
/// which is what the superblock points at.
pub fn encode_lookup_table(
    entries: &[u8],
    position: u64,
    compressor: Compressor,
) -> Result<(Vec<u8>, u64)> {
    let mut meta = MetadataWriter::new(compressor);
    let mut index = Vec::new();
    for chunk in entries.chunks(METADATA_SIZE) {
        index.put_u64(position + meta.position().block);
        meta.write(chunk)?;
    }
    let mut bytes = meta.finish()?;
    let index_pos = position + bytes.len() as u64;
    bytes.extend_from_slice(&index);
    Ok((bytes, index_pos))
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
