//! Inodes: the common header and the per-type bodies. Each type has a
//! basic and an extended encoding; [`Inode::encode`] picks the smallest
//! one that can hold the values and [`Inode::decode`] reads either.

use crate::bytes::{GetLe, PutLe};
use crate::dir::DirIndex;
use crate::error::{corrupt, Result};
use std::io::Read;

/// `fragment` value of a file whose tail is not in a fragment block.
pub const NO_FRAGMENT: u32 = u32::MAX;
/// `xattr` value of an inode without extended attributes.
pub const NO_XATTR: u32 = u32::MAX;
/// Longest symlink target Linux has (`PATH_MAX` less its NUL).
pub const MAX_SYMLINK_LEN: usize = 4095;

/// Why `target` cannot be a symlink's target, if it cannot: Linux makes
/// none empty, longer than [`MAX_SYMLINK_LEN`] or holding a NUL byte (the
/// kernel's squashfs refuses one longer than a page).
pub fn invalid_symlink_target(target: &[u8]) -> Option<String> {
    if target.is_empty() {
        Some("empty symlink target".into())
    } else if target.len() > MAX_SYMLINK_LEN {
        Some(format!(
            "symlink target of {} bytes (at most {MAX_SYMLINK_LEN})",
            target.len()
        ))
    } else if target.contains(&0) {
        Some("symlink target holding a NUL byte".into())
    } else {
        None
    }
}

/// The kind of file an inode describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InodeKind {
    Directory,
    File,
    Symlink,
    BlockDevice,
    CharDevice,
    Fifo,
    Socket,
}

impl InodeKind {
    /// The basic type number, also used in directory entries.
    pub fn basic_type(self) -> u16 {
        match self {
            InodeKind::Directory => 1,
            InodeKind::File => 2,
            InodeKind::Symlink => 3,
            InodeKind::BlockDevice => 4,
            InodeKind::CharDevice => 5,
            InodeKind::Fifo => 6,
            InodeKind::Socket => 7,
        }
    }

    /// Decodes a basic (1–7) or extended (8–14) type number.
    pub fn from_type(t: u16) -> Result<(InodeKind, bool)> {
        if t == 0 || t > 14 {
            return Err(corrupt(format!("inode type {t}")));
        }
        let kind = match (t - 1) % 7 {
            0 => InodeKind::Directory,
            1 => InodeKind::File,
            2 => InodeKind::Symlink,
            3 => InodeKind::BlockDevice,
            4 => InodeKind::CharDevice,
            5 => InodeKind::Fifo,
            _ => InodeKind::Socket,
        };
        Ok((kind, t > 7))
    }

    /// The `S_IFMT` bits of this kind.
    pub fn file_type_bits(self) -> u32 {
        match self {
            InodeKind::Directory => 0o040000,
            InodeKind::File => 0o100000,
            InodeKind::Symlink => 0o120000,
            InodeKind::BlockDevice => 0o060000,
            InodeKind::CharDevice => 0o020000,
            InodeKind::Fifo => 0o010000,
            InodeKind::Socket => 0o140000,
        }
    }
}

/// Type-specific part of an inode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InodeData {
    Directory(DirectoryInode),
    File(FileInode),
    Symlink { target: Vec<u8> },
    BlockDevice { rdev: u32 },
    CharDevice { rdev: u32 },
    Fifo,
    Socket,
}

/// Where a directory's listing lives and how big it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DirectoryInode {
    /// Start of the listing's metadata block, relative to the directory table.
    pub start_block: u32,
    /// Offset of the listing inside that (unpacked) block.
    pub offset: u16,
    /// Listing size in bytes plus 3 (the format counts "." and "..").
    pub size: u32,
    pub parent: u32,
    pub index: Vec<DirIndex>,
}

/// Where a regular file's data lives.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileInode {
    pub blocks_start: u64,
    pub size: u64,
    /// Bytes saved by holes (all-zero blocks not stored).
    pub sparse: u64,
    pub fragment: u32,
    pub fragment_offset: u32,
    /// Raw size words of the data blocks (see [`crate::block::BlockSize`]).
    pub block_sizes: Vec<u32>,
}

impl FileInode {
    /// Number of full or partial data blocks a file of `size` bytes has,
    /// given whether its tail lives in a fragment.
    pub fn block_count(size: u64, block_size: u32, has_fragment: bool) -> u64 {
        if has_fragment {
            size / u64::from(block_size)
        } else {
            size.div_ceil(u64::from(block_size))
        }
    }

    pub fn has_fragment(&self) -> bool {
        self.fragment != NO_FRAGMENT
    }

    /// The fragment block holding the whole file, for a non-empty file
    /// smaller than a block.
    pub fn fragment_only(&self) -> Option<u32> {
        (self.block_sizes.is_empty() && self.has_fragment() && self.size > 0)
            .then_some(self.fragment)
    }
}

/// A decoded inode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inode {
    /// Permission bits (the low 12 bits of st_mode).
    pub permissions: u16,
    pub uid_index: u16,
    pub gid_index: u16,
    pub mtime: u32,
    pub number: u32,
    pub link_count: u32,
    pub xattr: u32,
    pub data: InodeData,
}

impl Inode {
    pub fn kind(&self) -> InodeKind {
        match self.data {
            InodeData::Directory(_) => InodeKind::Directory,
            InodeData::File(_) => InodeKind::File,
            InodeData::Symlink { .. } => InodeKind::Symlink,
            InodeData::BlockDevice { .. } => InodeKind::BlockDevice,
            InodeData::CharDevice { .. } => InodeKind::CharDevice,
            InodeData::Fifo => InodeKind::Fifo,
            InodeData::Socket => InodeKind::Socket,
        }
    }

    /// Full `st_mode`: file type bits and permissions.
    pub fn mode(&self) -> u32 {
        self.kind().file_type_bits() | u32::from(self.permissions & 0o7777)
    }

    fn needs_extended(&self) -> bool {
        let plain = self.xattr == NO_XATTR;
        match &self.data {
            InodeData::Directory(d) => {
                !plain || !d.index.is_empty() || d.size > u32::from(u16::MAX)
            }
            InodeData::File(f) => {
                !plain
                    || self.link_count != 1
                    || f.sparse != 0
                    || f.blocks_start > u64::from(u32::MAX)
                    || f.size > u64::from(u32::MAX)
            }
            _ => !plain,
        }
    }

    /// Appends the encoded inode to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let ext = self.needs_extended();
        let t = self.kind().basic_type() + if ext { 7 } else { 0 };
        out.put_u16(t);
        out.put_u16(self.permissions & 0o7777);
        out.put_u16(self.uid_index);
        out.put_u16(self.gid_index);
        out.put_u32(self.mtime);
        out.put_u32(self.number);
        match &self.data {
            InodeData::Directory(d) if ext => {
                out.put_u32(self.link_count);
                out.put_u32(d.size);
                out.put_u32(d.start_block);
                out.put_u32(d.parent);
                out.put_u16(d.index.len() as u16);
                out.put_u16(d.offset);
                out.put_u32(self.xattr);
                for i in &d.index {
                    i.encode(out);
                }
            }
            InodeData::Directory(d) => {
                out.put_u32(d.start_block);
                out.put_u32(self.link_count);
                out.put_u16(d.size as u16);
                out.put_u16(d.offset);
                out.put_u32(d.parent);
            }
            InodeData::File(f) => {
                if ext {
                    out.put_u64(f.blocks_start);
                    out.put_u64(f.size);
                    out.put_u64(f.sparse);
                    out.put_u32(self.link_count);
                    out.put_u32(f.fragment);
                    out.put_u32(f.fragment_offset);
                    out.put_u32(self.xattr);
                } else {
                    out.put_u32(f.blocks_start as u32);
                    out.put_u32(f.fragment);
                    out.put_u32(f.fragment_offset);
                    out.put_u32(f.size as u32);
                }
                for &b in &f.block_sizes {
                    out.put_u32(b);
                }
            }
            InodeData::Symlink { target } => {
                out.put_u32(self.link_count);
                out.put_u32(target.len() as u32);
                out.extend_from_slice(target);
                if ext {
                    out.put_u32(self.xattr);
                }
            }
            InodeData::BlockDevice { rdev } | InodeData::CharDevice { rdev } => {
                out.put_u32(self.link_count);
                out.put_u32(*rdev);
                if ext {
                    out.put_u32(self.xattr);
                }
            }
            InodeData::Fifo | InodeData::Socket => {
                out.put_u32(self.link_count);
                if ext {
                    out.put_u32(self.xattr);
                }
            }
        }
    }

    /// Reads one inode from a metadata stream positioned at its start.
    pub fn decode(r: &mut impl Read, block_size: u32) -> Result<Inode> {
        let (kind, ext) = InodeKind::from_type(r.get_u16()?)?;
        let mut inode = Inode {
            permissions: r.get_u16()?,
            uid_index: r.get_u16()?,
            gid_index: r.get_u16()?,
            mtime: r.get_u32()?,
            number: r.get_u32()?,
            link_count: 1,
            xattr: NO_XATTR,
            data: InodeData::Fifo,
        };
        inode.data = match kind {
            InodeKind::Directory if ext => {
                inode.link_count = r.get_u32()?;
                let size = r.get_u32()?;
                let start_block = r.get_u32()?;
                let parent = r.get_u32()?;
                let count = r.get_u16()?;
                let offset = r.get_u16()?;
                inode.xattr = r.get_u32()?;
                let index = (0..count)
                    .map(|_| DirIndex::decode(r))
                    .collect::<Result<_>>()?;
                InodeData::Directory(DirectoryInode {
                    start_block,
                    offset,
                    size,
                    parent,
                    index,
                })
            }
            InodeKind::Directory => {
                let start_block = r.get_u32()?;
                inode.link_count = r.get_u32()?;
                let size = u32::from(r.get_u16()?);
                let offset = r.get_u16()?;
                let parent = r.get_u32()?;
                InodeData::Directory(DirectoryInode {
                    start_block,
                    offset,
                    size,
                    parent,
                    index: Vec::new(),
                })
            }
            InodeKind::File => {
                let mut f = FileInode::default();
                if ext {
                    f.blocks_start = r.get_u64()?;
                    f.size = r.get_u64()?;
                    f.sparse = r.get_u64()?;
                    inode.link_count = r.get_u32()?;
                    f.fragment = r.get_u32()?;
                    f.fragment_offset = r.get_u32()?;
                    inode.xattr = r.get_u32()?;
                } else {
                    f.blocks_start = u64::from(r.get_u32()?);
                    f.fragment = r.get_u32()?;
                    f.fragment_offset = r.get_u32()?;
                    f.size = u64::from(r.get_u32()?);
                }
                let count = FileInode::block_count(f.size, block_size, f.has_fragment());
                // Grow as entries arrive: a corrupt size must not allocate up front.
                for _ in 0..count {
                    f.block_sizes.push(r.get_u32()?);
                }
                InodeData::File(f)
            }
            InodeKind::Symlink => {
                inode.link_count = r.get_u32()?;
                let len = r.get_u32()?;
                if len as usize > MAX_SYMLINK_LEN {
                    return Err(corrupt(format!(
                        "symlink target of {len} bytes (at most {MAX_SYMLINK_LEN})"
                    )));
                }
                let target = r.get_bytes(len as usize)?;
                if let Some(why) = invalid_symlink_target(&target) {
                    return Err(corrupt(why));
                }
                if ext {
                    inode.xattr = r.get_u32()?;
                }
                InodeData::Symlink { target }
            }
            InodeKind::BlockDevice | InodeKind::CharDevice => {
                inode.link_count = r.get_u32()?;
                let rdev = r.get_u32()?;
                if ext {
                    inode.xattr = r.get_u32()?;
                }
                if kind == InodeKind::BlockDevice {
                    InodeData::BlockDevice { rdev }
                } else {
                    InodeData::CharDevice { rdev }
                }
            }
            InodeKind::Fifo | InodeKind::Socket => {
                inode.link_count = r.get_u32()?;
                if ext {
                    inode.xattr = r.get_u32()?;
                }
                if kind == InodeKind::Fifo {
                    InodeData::Fifo
                } else {
                    InodeData::Socket
                }
            }
        };
        Ok(inode)
    }
}

/// Packs a device number the way the kernel's `new_encode_dev` does.
pub fn encode_rdev(major: u32, minor: u32) -> u32 {
    (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & !0xff) << 12)
}

/// Splits a device number packed by [`encode_rdev`] into (major, minor).
pub fn decode_rdev(rdev: u32) -> (u32, u32) {
    (
        (rdev & 0xfff00) >> 8,
        (rdev & 0xff) | ((rdev >> 12) & 0xfff00),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn base(data: InodeData) -> Inode {
        Inode {
            permissions: 0o4755,
            uid_index: 1,
            gid_index: 2,
            mtime: 1_600_000_000,
            number: 42,
            link_count: 1,
            xattr: NO_XATTR,
            data,
        }
    }

    fn round_trip(inode: &Inode) -> Inode {
        let mut buf = Vec::new();
        inode.encode(&mut buf);
        let mut r = &buf[..];
        let back = Inode::decode(&mut r, 131072).unwrap();
        assert!(r.is_empty(), "trailing bytes");
        back
    }

    #[test]
    fn all_kinds_round_trip_basic_and_extended() {
        let dir = DirectoryInode {
            start_block: 10,
            offset: 20,
            size: 300,
            parent: 1,
            index: vec![],
        };
        let file = FileInode {
            blocks_start: 96,
            size: 300_000,
            sparse: 0,
            fragment: 3,
            fragment_offset: 17,
            block_sizes: vec![1000, 1 << 24 | 131072],
        };
        let datas = vec![
            InodeData::Directory(dir.clone()),
            InodeData::File(file.clone()),
            InodeData::Symlink {
                target: b"../a/b".to_vec(),
            },
            InodeData::BlockDevice {
                rdev: encode_rdev(8, 1),
            },
            InodeData::CharDevice {
                rdev: encode_rdev(1, 3),
            },
            InodeData::Fifo,
            InodeData::Socket,
        ];
        for data in datas {
            let plain = base(data);
            assert_eq!(round_trip(&plain), plain);
            let mut ext = plain.clone();
            ext.xattr = 5;
            ext.link_count = 3;
            assert_eq!(round_trip(&ext), ext);
        }
        let mut big = base(InodeData::Directory(DirectoryInode {
            index: vec![DirIndex {
                index: 8000,
                start_block: 4000,
                name: b"mmm".to_vec(),
            }],
            ..dir
        }));
        big.link_count = 2;
        assert_eq!(round_trip(&big), big);
    }

    /// Targets no symlink can have are corruption: extracting one fails
    /// half-way (symlink(2) refuses it) where verify should have said so.
    #[test]
    fn impossible_symlink_targets_are_corrupt() {
        let longest = vec![b'x'; MAX_SYMLINK_LEN];
        let too_long = vec![b'x'; MAX_SYMLINK_LEN + 1];
        for (target, ok) in [
            (&b"a/b"[..], true),
            (&longest[..], true),
            (&b""[..], false),
            (&b"a\0b"[..], false),
            (&too_long[..], false),
        ] {
            let inode = base(InodeData::Symlink {
                target: target.to_vec(),
            });
            let mut buf = Vec::new();
            inode.encode(&mut buf);
            let decoded = Inode::decode(&mut &buf[..], 131072);
            assert_eq!(decoded.is_ok(), ok, "{} bytes", target.len());
        }
    }

    #[test]
    fn truncated_inodes_fail() {
        let inode = base(InodeData::Symlink {
            target: b"target".to_vec(),
        });
        let mut buf = Vec::new();
        inode.encode(&mut buf);
        for len in 0..buf.len() {
            assert!(Inode::decode(&mut &buf[..len], 131072).is_err());
        }
    }

    proptest! {
        #[test]
        fn rdev_round_trips(major in 0u32..4096, minor in 0u32..(1 << 20)) {
            prop_assert_eq!(decode_rdev(encode_rdev(major, minor)), (major, minor));
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Inode::decode(&mut &bytes[..], 4096);
        }
    }
}
