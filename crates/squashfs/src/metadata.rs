//! Metadata streams (inode table, directory table, lookup tables, xattrs):
//! 8 KiB units each stored behind a 2-byte header, compressed when that helps.

use crate::compression::Compressor;
use crate::error::{corrupt, Result};

/// Uncompressed size of one metadata block.
pub const METADATA_SIZE: usize = 8192;
/// Header bit marking a block stored without compression.
const STORED_RAW: u16 = 0x8000;

/// A position inside a metadata stream: the start of its block on disk,
/// relative to the table start, and the byte offset in the unpacked block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MetaRef {
    pub block: u64,
    pub offset: u16,
}

/// As errors show it: where in its table the reference points.
impl std::fmt::Display for MetaRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "(block at byte {}, offset {})", self.block, self.offset)
    }
}

impl MetaRef {
    /// The 48-bit reference used for inodes (block << 16 | offset).
    pub fn to_inode_ref(self) -> u64 {
        (self.block << 16) | u64::from(self.offset)
    }

    pub fn from_inode_ref(r: u64) -> MetaRef {
        MetaRef {
            block: r >> 16,
            offset: (r & 0xffff) as u16,
        }
    }
}

/// Splits a metadata block header into its on-disk length and whether the
/// payload is compressed.
pub fn decode_header(header: u16) -> Result<(usize, bool)> {
    let len = usize::from(header & !STORED_RAW);
    if len == 0 || len > METADATA_SIZE {
        return Err(corrupt(format!("metadata block length {len}")));
    }
    Ok((len, header & STORED_RAW == 0))
}

/// Builds one metadata stream in memory, compressing each full block.
pub struct MetadataWriter {
    compressor: Compressor,
    pending: Vec<u8>,
    out: Vec<u8>,
    scratch: Vec<u8>,
}

impl MetadataWriter {
    pub fn new(compressor: Compressor) -> MetadataWriter {
        MetadataWriter {
            compressor,
            pending: Vec::with_capacity(METADATA_SIZE),
            out: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Where the next byte written will live.
    pub fn position(&self) -> MetaRef {
        MetaRef {
            block: self.out.len() as u64,
            offset: self.pending.len() as u16,
        }
    }

    pub fn write(&mut self, mut data: &[u8]) -> Result<()> {
        while !data.is_empty() {
            let take = (METADATA_SIZE - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.pending.len() == METADATA_SIZE {
                self.flush_block()?;
            }
        }
        Ok(())
    }

    fn flush_block(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let smaller = self.compressor.compress(&self.pending, &mut self.scratch)?;
        let (header, payload) = if smaller {
            (self.scratch.len() as u16, &self.scratch)
        } else {
            (self.pending.len() as u16 | STORED_RAW, &self.pending)
        };
        self.out.extend_from_slice(&header.to_le_bytes());
        self.out.extend_from_slice(payload);
        self.pending.clear();
        Ok(())
    }

    /// Flushes the last, partial block and returns the encoded stream.
    pub fn finish(mut self) -> Result<Vec<u8>> {
        self.flush_block()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compression::{Codec, CompressionSpec};

    #[test]
    fn positions_follow_blocks() {
        let spec = CompressionSpec {
            codec: Codec::Zstd,
            level: None,
            block_size: 131072,
            raw: false,
        };
        let mut w = MetadataWriter::new(spec.compressor().unwrap());
        assert_eq!(
            w.position(),
            MetaRef {
                block: 0,
                offset: 0
            }
        );
        w.write(&[7u8; 8000]).unwrap();
        assert_eq!(
            w.position(),
            MetaRef {
                block: 0,
                offset: 8000
            }
        );
        w.write(&[7u8; 300]).unwrap();
        let pos = w.position();
        assert_eq!(pos.offset, 108);
        assert!(
            pos.block > 2 && pos.block < 200,
            "compressed block: {pos:?}"
        );
        let out = w.finish().unwrap();
        let (len, compressed) = decode_header(u16::from_le_bytes([out[0], out[1]])).unwrap();
        assert!(compressed);
        assert_eq!(len as u64 + 2, pos.block);
    }

    #[test]
    fn inode_refs_round_trip() {
        let r = MetaRef {
            block: 0x1234_5678,
            offset: 8191,
        };
        assert_eq!(MetaRef::from_inode_ref(r.to_inode_ref()), r);
    }
}
