//! A decompressed data or fragment block as the cache keeps it: always in
//! a buffer of the full block size, whatever its length. Every cached
//! block is then one allocation of the same size, so a block evicted from
//! the cache leaves a hole the next one fits exactly, and a long-running
//! reader (a FUSE server) does not fragment its heap as blocks of varying
//! lengths come and go.

use super::cache::Weigh;
use std::ops::Deref;

pub(crate) struct DataBlock {
    buf: Box<[u8]>,
    len: usize,
}

impl DataBlock {
    /// Fills a new block-sized buffer with `fill`, which returns how many
    /// bytes it wrote.
    pub fn fill<E>(
        block_size: u32,
        fill: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<DataBlock, E> {
        let mut buf = vec![0u8; block_size as usize].into_boxed_slice();
        let len = fill(&mut buf)?.min(buf.len());
        Ok(DataBlock { buf, len })
    }
}

impl Deref for DataBlock {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Weigh for DataBlock {
    fn bytes(&self) -> u64 {
        self.buf.len() as u64
    }
}
