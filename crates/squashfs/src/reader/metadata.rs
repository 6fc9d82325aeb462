//! Reading metadata streams: a cursor implementing `std::io::Read` that
//! starts at a [`MetaRef`] and crosses from block to block, through the
//! cache of decompressed blocks.

use super::image::Image;
use super::source::ReadAt;
use crate::error::{corrupt, Result};
use crate::metadata::MetaRef;
use std::io::Read;
use std::sync::Arc;

/// One decompressed metadata block and the position of the block after it.
pub(crate) struct MetaBlock {
    pub bytes: Box<[u8]>,
    pub next: u64,
}

/// Bounds of a metadata stream: its blocks start at or after `start` (the
/// origin of [`MetaRef::block`]) and end at or before `end`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stream {
    pub start: u64,
    pub end: u64,
}

/// A reader over a metadata stream, from a position to the stream's end.
pub(crate) struct MetaCursor<'a, R> {
    image: &'a Image<R>,
    stream: Stream,
    block_pos: u64,
    block: Arc<MetaBlock>,
    offset: usize,
}

impl<'a, R: ReadAt> MetaCursor<'a, R> {
    pub fn new(image: &'a Image<R>, stream: Stream, at: MetaRef) -> Result<MetaCursor<'a, R>> {
        let block_pos = stream
            .start
            .checked_add(at.block)
            .filter(|&pos| pos < stream.end)
            .ok_or_else(|| corrupt(format!("metadata reference {at} outside its table")))?;
        let block = image.metadata_block(block_pos, stream.end)?;
        let offset = usize::from(at.offset);
        if offset > block.bytes.len() {
            return Err(corrupt(format!("metadata reference {at} past its block")));
        }
        Ok(MetaCursor {
            image,
            stream,
            block_pos,
            block,
            offset,
        })
    }

    /// Where the next byte comes from, as a reference into the stream.
    pub fn position(&self) -> MetaRef {
        if self.offset == self.block.bytes.len() && self.block.next < self.stream.end {
            return MetaRef {
                block: self.block.next - self.stream.start,
                offset: 0,
            };
        }
        MetaRef {
            block: self.block_pos - self.stream.start,
            offset: self.offset as u16,
        }
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<usize> {
        while self.offset == self.block.bytes.len() {
            if self.block.next >= self.stream.end {
                return Ok(0);
            }
            self.block_pos = self.block.next;
            self.block = self.image.metadata_block(self.block_pos, self.stream.end)?;
            self.offset = 0;
        }
        let available = &self.block.bytes[self.offset..];
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.offset += n;
        Ok(n)
    }
}

impl<R: ReadAt> Read for MetaCursor<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.fill(buf).map_err(|e| e.into_io())
    }
}
