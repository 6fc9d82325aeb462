//! Lookup tables (id, fragment, export, xattr id): fixed-size entries in
//! metadata blocks located through an index of block positions. The index
//! is loaded when the image is opened; entries are read on demand.

use super::image::Image;
use super::source::ReadAt;
use crate::error::{corrupt, Result};
use crate::metadata::METADATA_SIZE;
use crate::tables::index_len;

pub(crate) struct LookupTable {
    name: &'static str,
    /// Absolute position of every metadata block of entries.
    blocks: Vec<u64>,
    /// Position of the index; the entry blocks all lie before it.
    index_pos: u64,
    count: u64,
    entry_size: usize,
}

impl LookupTable {
    /// Loads the index of a table of `count` entries of `entry_size` bytes
    /// whose index starts at absolute `index_pos`.
    pub fn open<R: ReadAt>(
        image: &Image<R>,
        name: &'static str,
        index_pos: u64,
        count: u64,
        entry_size: usize,
    ) -> Result<LookupTable> {
        let block_count = index_len(count * entry_size as u64);
        let raw = image
            .read_vec(index_pos, block_count * 8)
            .map_err(|e| corrupt(format!("{name} table index: {e}")))?;
        let blocks: Vec<u64> = raw
            .chunks_exact(8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8-byte chunk")))
            .collect();
        if blocks.iter().any(|&pos| pos >= index_pos) {
            return Err(corrupt(format!("{name} table block after its index")));
        }
        Ok(LookupTable {
            name,
            blocks,
            index_pos,
            count,
            entry_size,
        })
    }

    pub fn len(&self) -> u64 {
        self.count
    }

    /// Position of the first block, or of the index when there are none.
    pub fn start(&self) -> u64 {
        self.blocks.first().copied().unwrap_or(self.index_pos)
    }

    /// Position just past the index.
    pub fn end(&self) -> u64 {
        self.index_pos + self.blocks.len() as u64 * 8
    }

    /// The raw bytes of entry `i`.
    pub fn entry<R: ReadAt, const N: usize>(&self, image: &Image<R>, i: u64) -> Result<[u8; N]> {
        debug_assert_eq!(N, self.entry_size);
        if i >= self.count {
            return Err(corrupt(format!(
                "{} index {i} out of range ({} entries)",
                self.name, self.count
            )));
        }
        let byte = i * N as u64;
        let block_pos = self.blocks[(byte / METADATA_SIZE as u64) as usize];
        let offset = (byte % METADATA_SIZE as u64) as usize;
        let block = image.metadata_block(block_pos, self.index_pos)?;
        block
            .bytes
            .get(offset..offset + N)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| corrupt(format!("{} table block too short", self.name)))
    }
}
