//! The image under the reader: the source, its validated superblock, and
//! bounds-checked raw reads that load (and cache) metadata and data blocks.
//! Every byte the reader looks at goes through here.

use super::cache::{ByteCache, CacheOptions, Weigh};
use super::data_block::DataBlock;
use super::metadata::{MetaBlock, Stream};
use super::source::ReadAt;
use crate::block::BlockSize;
use crate::error::{corrupt, Error, Result};
use crate::metadata::{decode_header, METADATA_SIZE};
use crate::superblock::{Superblock, NO_TABLE};
use std::cell::RefCell;
use std::sync::Arc;

pub(crate) struct Image<R> {
    source: R,
    pub superblock: Superblock,
    metadata_cache: ByteCache<u64, MetaBlock>,
    data_cache: ByteCache<(u64, u32), DataBlock>,
}

impl Weigh for MetaBlock {
    fn bytes(&self) -> u64 {
        self.bytes.len() as u64 + 16
    }
}

impl<R: ReadAt> Image<R> {
    /// Wraps `source` once its superblock has been decoded and checked
    /// against the source's real length.
    pub fn new(source: R, superblock: Superblock, caches: CacheOptions) -> Result<Image<R>> {
        let len = source.size()?;
        if superblock.bytes_used > len {
            return Err(corrupt(format!(
                "image truncated: {len} bytes, superblock says {}",
                superblock.bytes_used
            )));
        }
        let block_size = u64::from(superblock.block_size);
        Ok(Image {
            source,
            metadata_cache: ByteCache::new(caches.metadata_bytes, METADATA_SIZE as u64),
            data_cache: ByteCache::new(caches.data_bytes, block_size),
            superblock,
        })
    }

    /// Fills `buf` from absolute position `pos`, which must lie inside
    /// the image's used bytes.
    pub fn read_exact(&self, pos: u64, buf: &mut [u8]) -> Result<()> {
        let end = pos.checked_add(buf.len() as u64);
        if end
            .filter(|&end| end <= self.superblock.bytes_used)
            .is_none()
        {
            return Err(corrupt(format!(
                "read of {} bytes at {pos} past the end of the image",
                buf.len()
            )));
        }
        self.source
            .read_exact_at(buf, pos)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => corrupt("image truncated"),
                _ => Error::Io(e),
            })
    }

    /// Reads `len` bytes at `pos` into a new buffer (`len` checked first).
    pub fn read_vec(&self, pos: u64, len: u64) -> Result<Vec<u8>> {
        if pos
            .checked_add(len)
            .filter(|&end| end <= self.superblock.bytes_used)
            .is_none()
        {
            return Err(corrupt(format!(
                "read of {len} bytes at {pos} past the end of the image"
            )));
        }
        let mut buf = vec![0u8; len as usize];
        self.read_exact(pos, &mut buf)?;
        Ok(buf)
    }

    /// The metadata block at absolute `pos`, which must end before `end`.
    pub fn metadata_block(&self, pos: u64, end: u64) -> Result<Arc<MetaBlock>> {
        let block = self
            .metadata_cache
            .get_or_load(pos, || self.load_metadata_block(pos).map(Arc::new))?;
        if block.next > end {
            return Err(corrupt(format!(
                "metadata block at {pos} runs past its table"
            )));
        }
        Ok(block)
    }

    fn load_metadata_block(&self, pos: u64) -> Result<MetaBlock> {
        let mut header = [0u8; 2];
        self.read_exact(pos, &mut header)?;
        let (len, compressed) = decode_header(u16::from_le_bytes(header))?;
        let raw = self.read_vec(pos + 2, len as u64)?;
        let bytes = if compressed {
            let mut out = vec![0u8; METADATA_SIZE];
            let n = self.superblock.codec.decompress(&raw, &mut out)?;
            if n == 0 {
                return Err(corrupt(format!("empty metadata block at {pos}")));
            }
            out.truncate(n);
            out
        } else {
            raw
        };
        Ok(MetaBlock {
            bytes: bytes.into_boxed_slice(),
            next: pos + 2 + len as u64,
        })
    }

    /// The decompressed data or fragment block stored at `start`. The
    /// stored bytes of a compressed block pass through a per-thread
    /// scratch buffer, so the only allocation is the cached block.
    pub fn data_block(&self, start: u64, size: BlockSize) -> Result<Arc<DataBlock>> {
        thread_local! {
            static RAW: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        }
        let block_size = self.superblock.block_size;
        let on_disk = size.on_disk() as usize;
        self.data_cache.get_or_load((start, size.raw()), || {
            let block = DataBlock::fill(block_size, |out| {
                let out = out
                    .get_mut(
                        ..if size.is_compressed() {
                            out.len()
                        } else {
                            on_disk
                        },
                    )
                    .ok_or_else(|| corrupt(format!("data block at {start} larger than a block")))?;
                if !size.is_compressed() {
                    self.read_exact(start, out)?;
                    return Ok(on_disk);
                }
                RAW.with_borrow_mut(|raw| {
                    raw.resize(on_disk, 0);
                    self.read_exact(start, raw)?;
                    self.superblock.codec.decompress(raw, out)
                })
            })?;
            Ok(Arc::new(block))
        })
    }

    /// The inode table: from its start up to the directory table.
    pub fn inode_stream(&self) -> Stream {
        Stream {
            start: self.superblock.inode_table,
            end: self.superblock.directory_table,
        }
    }

    /// The directory table: from its start up to the next table.
    pub fn directory_stream(&self) -> Stream {
        let sb = &self.superblock;
        let end = [
            sb.fragment_table,
            sb.export_table,
            sb.id_table,
            sb.xattr_id_table,
        ]
        .into_iter()
        .filter(|&pos| pos != NO_TABLE && pos > sb.directory_table)
        .fold(sb.bytes_used, u64::min);
        Stream {
            start: sb.directory_table,
            end,
        }
    }
}
