//! The 96-byte superblock at offset 0: geometry, codec, counts and the
//! positions of every table.

use crate::bytes::{GetLe, PutLe};
use crate::compression::Codec;
use crate::error::{corrupt, Error, Result};

/// "hsqs" read as a little-endian u32.
pub const MAGIC: u32 = 0x7371_7368;
/// Size of the encoded superblock.
pub const SUPERBLOCK_SIZE: usize = 96;
/// Position stored for a table that is absent.
pub const NO_TABLE: u64 = u64::MAX;
/// Smallest and largest data block sizes the format allows.
pub const MIN_BLOCK_SIZE: u32 = 4096;
pub const MAX_BLOCK_SIZE: u32 = 1 << 20;

/// Superblock flag bits.
pub mod flags {
    pub const UNCOMPRESSED_INODES: u16 = 0x0001;
    pub const UNCOMPRESSED_DATA: u16 = 0x0002;
    pub const UNCOMPRESSED_FRAGMENTS: u16 = 0x0008;
    pub const NO_FRAGMENTS: u16 = 0x0010;
    pub const ALWAYS_FRAGMENTS: u16 = 0x0020;
    pub const DUPLICATES: u16 = 0x0040;
    pub const EXPORTABLE: u16 = 0x0080;
    pub const UNCOMPRESSED_XATTRS: u16 = 0x0100;
    pub const NO_XATTRS: u16 = 0x0200;
    pub const COMPRESSOR_OPTIONS: u16 = 0x0400;
    pub const UNCOMPRESSED_IDS: u16 = 0x0800;
}

/// The decoded superblock. Table positions are absolute byte offsets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Superblock {
    pub inode_count: u32,
    pub mod_time: u32,
    pub block_size: u32,
    pub fragment_count: u32,
    pub codec: Codec,
    pub flags: u16,
    pub id_count: u16,
    pub root_inode: u64,
    pub bytes_used: u64,
    pub id_table: u64,
    pub xattr_id_table: u64,
    pub inode_table: u64,
    pub directory_table: u64,
    pub fragment_table: u64,
    pub export_table: u64,
}

impl Superblock {
    pub fn encode(&self) -> [u8; SUPERBLOCK_SIZE] {
        let mut b = Vec::with_capacity(SUPERBLOCK_SIZE);
        b.put_u32(MAGIC);
        b.put_u32(self.inode_count);
        b.put_u32(self.mod_time);
        b.put_u32(self.block_size);
        b.put_u32(self.fragment_count);
        b.put_u16(self.codec.id());
        b.put_u16(self.block_size.trailing_zeros() as u16);
        b.put_u16(self.flags);
        b.put_u16(self.id_count);
        b.put_u16(4);
        b.put_u16(0);
        for v in [
            self.root_inode,
            self.bytes_used,
            self.id_table,
            self.xattr_id_table,
            self.inode_table,
            self.directory_table,
            self.fragment_table,
            self.export_table,
        ] {
            b.put_u64(v);
        }
        b.try_into().expect("superblock is 96 bytes")
    }

    /// Decodes and sanity-checks a superblock: magic, version, block size,
    /// and table positions that lie inside `bytes_used`.
    pub fn decode(raw: &[u8; SUPERBLOCK_SIZE]) -> Result<Superblock> {
        let mut r = &raw[..];
        if r.get_u32()? != MAGIC {
            return Err(Error::BadMagic);
        }
        let inode_count = r.get_u32()?;
        let mod_time = r.get_u32()?;
        let block_size = r.get_u32()?;
        let fragment_count = r.get_u32()?;
        let codec_id = r.get_u16()?;
        let block_log = r.get_u16()?;
        let flags = r.get_u16()?;
        let id_count = r.get_u16()?;
        let (major, minor) = (r.get_u16()?, r.get_u16()?);
        if (major, minor) != (4, 0) {
            return Err(Error::Version(major, minor));
        }
        if !block_size.is_power_of_two()
            || !(MIN_BLOCK_SIZE..=MAX_BLOCK_SIZE).contains(&block_size)
            || u32::from(block_log) != block_size.trailing_zeros()
        {
            return Err(corrupt(format!("invalid block size {block_size}")));
        }
        let sb = Superblock {
            inode_count,
            mod_time,
            block_size,
            fragment_count,
            codec: Codec::from_id(codec_id)?,
            flags,
            id_count,
            root_inode: r.get_u64()?,
            bytes_used: r.get_u64()?,
            id_table: r.get_u64()?,
            xattr_id_table: r.get_u64()?,
            inode_table: r.get_u64()?,
            directory_table: r.get_u64()?,
            fragment_table: r.get_u64()?,
            export_table: r.get_u64()?,
        };
        sb.check_layout()?;
        Ok(sb)
    }

    fn check_layout(&self) -> Result<()> {
        let inside = |pos: u64| pos < self.bytes_used;
        if !inside(self.inode_table)
            || !inside(self.directory_table)
            || self.inode_table >= self.directory_table
            || (self.id_table != NO_TABLE && !inside(self.id_table))
        {
            return Err(corrupt("table positions out of range"));
        }
        for pos in [self.xattr_id_table, self.fragment_table, self.export_table] {
            if pos != NO_TABLE && pos > self.bytes_used {
                return Err(corrupt("table positions out of range"));
            }
        }
        if self.inode_count == 0 {
            return Err(corrupt("image has no inodes"));
        }
        Ok(())
    }

    pub fn has_flag(&self, flag: u16) -> bool {
        self.flags & flag != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Superblock {
        Superblock {
            inode_count: 7,
            mod_time: 1_700_000_000,
            block_size: 131072,
            fragment_count: 2,
            codec: Codec::Zstd,
            flags: flags::EXPORTABLE,
            id_count: 1,
            root_inode: 0x20_0040,
            bytes_used: 9000,
            id_table: 8990,
            xattr_id_table: NO_TABLE,
            inode_table: 5000,
            directory_table: 6000,
            fragment_table: 7000,
            export_table: 8000,
        }
    }

    #[test]
    fn round_trips() {
        let sb = sample();
        assert_eq!(Superblock::decode(&sb.encode()).unwrap(), sb);
    }

    #[test]
    fn rejects_bad_magic_and_geometry() {
        let mut raw = sample().encode();
        raw[0] = b'x';
        assert!(matches!(Superblock::decode(&raw), Err(Error::BadMagic)));
        let mut bad = sample();
        bad.block_size = 3000;
        assert!(Superblock::decode(&bad.encode()).is_err());
        let mut bad = sample();
        bad.inode_table = 1 << 40;
        assert!(Superblock::decode(&bad.encode()).is_err());
    }
}
