//! FUSE inode numbers ↔ squashfs inodes. The FUSE number of an inode is
//! its squashfs inode number, except that the root (FUSE requires 1) and
//! squashfs inode 1 swap numbers. A number leads to the inode's reference
//! through the export table when the image has one; otherwise through a
//! map filled as lookups and listings meet inodes (the kernel only uses
//! numbers it has been given, so the map always knows them).

use bale_squashfs::reader::{Archive, ReadAt};
use bale_squashfs::{error::corrupt, Result};
use std::collections::HashMap;
use std::sync::RwLock;

pub(crate) struct InodeMap {
    root_number: u32,
    root_ref: u64,
    inode_count: u32,
    /// `None` when the export table answers.
    learned: Option<RwLock<HashMap<u32, u64>>>,
}

impl InodeMap {
    pub fn new<R: ReadAt>(archive: &Archive<R>, root_number: u32) -> InodeMap {
        let sb = archive.superblock();
        InodeMap {
            root_number,
            root_ref: sb.root_inode,
            inode_count: sb.inode_count,
            learned: (!archive.has_export_table()).then(|| RwLock::new(HashMap::new())),
        }
    }

    /// The FUSE number of squashfs inode `number`.
    pub fn fuse_ino(&self, number: u32) -> u64 {
        u64::from(self.swap(number))
    }

    /// The squashfs inode number behind FUSE number `ino`, if in range.
    pub fn number(&self, ino: u64) -> Option<u32> {
        u32::try_from(ino)
            .ok()
            .filter(|n| (1..=self.inode_count).contains(n))
            .map(|n| self.swap(n))
    }

    fn swap(&self, n: u32) -> u32 {
        if n == self.root_number {
            1
        } else if n == 1 {
            self.root_number
        } else {
            n
        }
    }

    /// Records where inode `number` lives, for images without an export table.
    pub fn remember(&self, number: u32, inode_ref: u64) {
        if let Some(map) = &self.learned {
            let known = map
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .contains_key(&number);
            if !known {
                map.write()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(number, inode_ref);
            }
        }
    }

    /// The reference of inode `number`.
    pub fn inode_ref<R: ReadAt>(&self, archive: &Archive<R>, number: u32) -> Result<u64> {
        if number == self.root_number {
            return Ok(self.root_ref);
        }
        let found = match &self.learned {
            None => archive.inode_ref_by_number(number)?,
            Some(map) => map
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .get(&number)
                .copied(),
        };
        found.ok_or_else(|| corrupt(format!("inode {number} was never looked up")))
    }
}
