//! The 32-bit size word stored for every data block and fragment block:
//! on-disk length plus a flag for blocks kept uncompressed; 0 is a hole.

use crate::error::{corrupt, Result};

const UNCOMPRESSED: u32 = 1 << 24;

/// A decoded block size word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BlockSize(u32);

impl BlockSize {
    /// A block of `len` bytes on disk, compressed or stored raw.
    pub fn stored(len: u32, compressed: bool) -> BlockSize {
        debug_assert!(len < UNCOMPRESSED);
        BlockSize(if compressed { len } else { len | UNCOMPRESSED })
    }

    /// An all-zero data block that is not stored (sparse file hole).
    pub const HOLE: BlockSize = BlockSize(0);

    pub fn from_raw(raw: u32, max_len: u32) -> Result<BlockSize> {
        let b = BlockSize(raw);
        if raw & !(UNCOMPRESSED | (UNCOMPRESSED - 1)) != 0 || b.on_disk() > max_len {
            return Err(corrupt(format!("block size word {raw:#x}")));
        }
        Ok(b)
    }

    pub fn raw(self) -> u32 {
        self.0
    }

    /// Bytes the block occupies in the image.
    pub fn on_disk(self) -> u32 {
        self.0 & (UNCOMPRESSED - 1)
    }

    pub fn is_compressed(self) -> bool {
        self.0 & UNCOMPRESSED == 0
    }

    pub fn is_hole(self) -> bool {
        self.0 == 0
    }
}
