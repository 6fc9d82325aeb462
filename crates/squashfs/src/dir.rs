//! Directory listings in the directory table: runs of entries behind a
//! header that names their inode block and base inode number, plus the
//! index that extended directory inodes carry to skip ahead on lookups.

use crate::bytes::{GetLe, PutLe};
use crate::error::{corrupt, Result};
use crate::inode::InodeKind;
use crate::metadata::{MetaRef, MetadataWriter, METADATA_SIZE};
use std::io::Read;

/// Most entries one header may cover.
pub const MAX_RUN: usize = 256;
/// Longest file name the format stores.
pub const MAX_NAME_LEN: usize = 256;
/// Bytes the format adds to a listing's size for "." and "..".
pub const SIZE_BIAS: u32 = 3;

/// Header of a run of entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirHeader {
    /// Number of entries in the run (stored minus one).
    pub count: u32,
    /// Inode table block of every inode in the run.
    pub start_block: u32,
    /// Base that entry deltas are added to.
    pub inode_number: u32,
}

impl DirHeader {
    pub const SIZE: usize = 12;

    pub fn decode(r: &mut impl Read) -> Result<DirHeader> {
        let stored = r.get_u32()?;
        if stored as usize >= MAX_RUN {
            return Err(corrupt(format!("directory run of {stored}+1 entries")));
        }
        let count = stored + 1;
        Ok(DirHeader {
            count,
            start_block: r.get_u32()?,
            inode_number: r.get_u32()?,
        })
    }
}

/// One raw directory entry, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawDirEntry {
    /// Offset of the inode inside its (unpacked) inode block.
    pub offset: u16,
    pub inode_delta: i16,
    /// Basic inode type (1–7).
    pub kind: u16,
    pub name: Vec<u8>,
}

impl RawDirEntry {
    pub fn decode(r: &mut impl Read) -> Result<RawDirEntry> {
        let offset = r.get_u16()?;
        let inode_delta = r.get_u16()? as i16;
        let kind = r.get_u16()?;
        let name_len = usize::from(r.get_u16()?) + 1;
        if name_len > MAX_NAME_LEN {
            return Err(corrupt(format!("directory entry name of {name_len} bytes")));
        }
        if kind == 0 || kind > 7 {
            return Err(corrupt(format!("directory entry of unknown type {kind}")));
        }
        let name = r.get_bytes(name_len)?;
        if name.contains(&b'/') || name.contains(&0) || name == b"." || name == b".." {
            return Err(corrupt("invalid name in directory entry"));
        }
        Ok(RawDirEntry {
            offset,
            inode_delta,
            kind,
            name,
        })
    }

    /// Size of the encoded entry.
    pub fn encoded_len(name_len: usize) -> usize {
        8 + name_len
    }
}

/// One directory index entry of an extended directory inode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirIndex {
    /// Offset of a run header from the start of the listing.
    pub index: u32,
    /// Directory table block holding that header.
    pub start_block: u32,
    /// Name of the first entry in that run.
    pub name: Vec<u8>,
}

impl DirIndex {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.index);
        out.put_u32(self.start_block);
        out.put_u32(self.name.len() as u32 - 1);
        out.extend_from_slice(&self.name);
    }

    pub fn decode(r: &mut impl Read) -> Result<DirIndex> {
        let index = r.get_u32()?;
        let start_block = r.get_u32()?;
        let name_len = r.get_u32()? as usize + 1;
        if name_len > MAX_NAME_LEN {
            return Err(corrupt("directory index name too long"));
        }
        Ok(DirIndex {
            index,
            start_block,
            name: r.get_bytes(name_len)?,
        })
    }
}

/// What the writer knows about a child when listing a directory.
pub struct ListingEntry<'a> {
    pub name: &'a [u8],
    pub inode: MetaRef,
    pub inode_number: u32,
    pub kind: InodeKind,
}

/// Where a written listing starts and what its directory inode must record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    pub start: MetaRef,
    /// Listing size plus [`SIZE_BIAS`], as stored in the inode.
    pub size: u32,
    pub index: Vec<DirIndex>,
}

/// Writes the listing of one directory (entries sorted by name, bytewise)
/// into the directory table. A new run starts whenever the inode block
/// changes, the inode number delta would not fit, a run is full, or the
/// listing crosses into a new directory-table block; each run that starts
/// in a new block gets an index entry so lookups can skip to it.
pub fn write_listing(meta: &mut MetadataWriter, entries: &[ListingEntry]) -> Result<Listing> {
    let start = meta.position();
    let mut written = 0u32;
    let mut index = Vec::new();
    let mut indexed_block = start.block;
    let mut run_start = 0;
    let mut buf = Vec::new();
    while run_start < entries.len() {
        let first = &entries[run_start];
        let header_pos = meta.position();
        let run_len = entries[run_start..]
            .iter()
            .take(MAX_RUN)
            .take_while(|e| {
                e.inode.block == first.inode.block
                    && i16::try_from(i64::from(e.inode_number) - i64::from(first.inode_number))
                        .is_ok()
            })
            .count();
        // Stop the run where it would spill into the next directory block, so
        // that every block boundary is followed by a header the index can name.
        let room = METADATA_SIZE - usize::from(header_pos.offset);
        let mut used = DirHeader::SIZE;
        let mut fitting = 0;
        for e in &entries[run_start..run_start + run_len] {
            used += RawDirEntry::encoded_len(e.name.len());
            fitting += 1;
            if used >= room {
                break;
            }
        }
        if header_pos.block != indexed_block {
            index.push(DirIndex {
                index: written,
                start_block: header_pos.block as u32,
                name: first.name.to_vec(),
            });
            indexed_block = header_pos.block;
        }
        buf.clear();
        buf.put_u32(fitting as u32 - 1);
        buf.put_u32(first.inode.block as u32);
        buf.put_u32(first.inode_number);
        for e in &entries[run_start..run_start + fitting] {
            buf.put_u16(e.inode.offset);
            buf.put_u16((i64::from(e.inode_number) - i64::from(first.inode_number)) as i16 as u16);
            buf.put_u16(e.kind.basic_type());
            buf.put_u16(e.name.len() as u16 - 1);
            buf.extend_from_slice(e.name);
        }
        meta.write(&buf)?;
        written += buf.len() as u32;
        run_start += fitting;
    }
    Ok(Listing {
        start,
        size: written + SIZE_BIAS,
        index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_counts_are_bounded_without_overflow() {
        let header = |stored: u32| {
            let mut b = Vec::new();
            b.put_u32(stored);
            b.put_u32(0);
            b.put_u32(1);
            b
        };
        assert_eq!(DirHeader::decode(&mut &header(255)[..]).unwrap().count, 256);
        assert!(DirHeader::decode(&mut &header(256)[..]).is_err());
        assert!(DirHeader::decode(&mut &header(u32::MAX)[..]).is_err());
    }
}
