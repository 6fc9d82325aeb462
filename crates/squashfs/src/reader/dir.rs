//! Directories: iterating a listing (resumable through a cookie, for FUSE
//! readdir), and name lookup that uses the directory index of extended
//! directory inodes to skip ahead and stops once past the name, since
//! entries are sorted bytewise.

use super::archive::Archive;
use super::metadata::MetaCursor;
use super::source::ReadAt;
use crate::dir::{DirHeader, RawDirEntry, SIZE_BIAS};
use crate::error::{corrupt, Result};
use crate::inode::{DirectoryInode, Inode, InodeData, InodeKind};
use crate::metadata::{MetaRef, METADATA_SIZE};
use std::collections::VecDeque;
use std::io::Read;

/// One entry of a directory listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub name: Vec<u8>,
    /// Reference of the entry's inode, for [`Archive::inode`].
    pub inode_ref: u64,
    pub inode_number: u32,
    pub kind: InodeKind,
}

/// An iterator over a directory listing. After an error it yields nothing.
pub struct ReadDir<'a, R> {
    archive: &'a Archive<R>,
    /// The listing's bytes not read yet; `None` once finished or failed.
    cursor: Option<std::io::Take<MetaCursor<'a, R>>>,
    listing_len: u64,
    run: Option<DirHeader>,
    run_offset: u64,
    run_read: u32,
    last_name: Option<Vec<u8>>,
}

impl<R: ReadAt> Archive<R> {
    /// All entries of a directory, in listing (bytewise name) order.
    pub fn read_dir(&self, dir: &Inode) -> Result<Vec<DirEntry>> {
        self.read_dir_at(dir, 0)?.collect()
    }

    /// Iterates a directory from `cookie`: 0 for the start, or a value
    /// returned by [`ReadDir::cookie`] for the same directory. A cookie
    /// that names no entry (made up: a program's `seekdir` to an offset it
    /// never got) lists nothing, as the kernel's squashfs does; it says
    /// nothing about the image.
    pub fn read_dir_at(&self, dir: &Inode, cookie: u64) -> Result<ReadDir<'_, R>> {
        let run_offset = cookie >> 16;
        let skip = cookie & 0xffff;
        let mut entries =
            self.listing_from_index(dir, |index| u64::from(index.index) <= run_offset)?;
        while entries.run.is_none() && entries.cursor.is_some() && entries.consumed() < run_offset {
            entries.skip_run()?;
        }
        if entries.consumed() != run_offset {
            entries.cursor = None;
        }
        for _ in 0..skip {
            entries.next_entry()?;
        }
        Ok(entries)
    }

    /// The entry called `name` in `dir`, if there is one.
    pub fn lookup(&self, dir: &Inode, name: &[u8]) -> Result<Option<DirEntry>> {
        let mut entries = self.listing_from_index(dir, |index| index.name.as_slice() <= name)?;
        while let Some(entry) = entries.next_entry()? {
            match entry.name.as_slice().cmp(name) {
                std::cmp::Ordering::Less => continue,
                std::cmp::Ordering::Equal => return Ok(Some(entry)),
                std::cmp::Ordering::Greater => return Ok(None),
            }
        }
        Ok(None)
    }

    /// Resolves a `/`-separated path from the root as the kernel walks a
    /// path inside the image's own tree: "." and empty components are
    /// skipped, ".." goes up (not above the root), a symlink met before
    /// the last component is followed (an absolute target from the
    /// image's root), and the last one too when `follow_last` (or when a
    /// '/' ends the path). `None` when nothing is there; a name below a
    /// file is an error (ENOTDIR), and so are more than [`MAX_SYMLINKS`]
    /// symlinks on the way (ELOOP).
    pub fn lookup_path(&self, path: &[u8], follow_last: bool) -> Result<Option<(u64, Inode)>> {
        let mut dirs = vec![(self.superblock().root_inode, self.root()?)];
        let mut pending: VecDeque<Vec<u8>> = components(path).collect();
        let mut links = 0;
        while let Some(name) = pending.pop_front() {
            if name.is_empty() || name == b"." {
                continue;
            }
            if name == b".." {
                if dirs.len() > 1 {
                    dirs.pop();
                }
                continue;
            }
            let parent = &dirs.last().expect("the root stays").1;
            let Some(entry) = self.lookup(parent, &name)? else {
                return Ok(None);
            };
            let inode = self.inode(entry.inode_ref)?;
            match &inode.data {
                InodeData::Directory(_) => dirs.push((entry.inode_ref, inode)),
                InodeData::Symlink { target } if follow_last || !pending.is_empty() => {
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(std::io::Error::from(rustix::io::Errno::LOOP).into());
                    }
                    if target.starts_with(b"/") {
                        dirs.truncate(1);
                    }
                    for name in components(target).rev() {
                        pending.push_front(name);
                    }
                }
                // Anything else ends the path; a name (or a '/') after it
                // is ENOTDIR, as the kernel says.
                _ if pending.is_empty() => return Ok(Some((entry.inode_ref, inode))),
                _ => return Err(std::io::Error::from(rustix::io::Errno::NOTDIR).into()),
            }
        }
        Ok(dirs.pop())
    }

    /// Positions a listing at its start, or at the last index entry
    /// accepted by `skip_to` (the index is consulted while it accepts, as
    /// the kernel does).
    fn listing_from_index(
        &self,
        dir: &Inode,
        skip_to: impl Fn(&crate::dir::DirIndex) -> bool,
    ) -> Result<ReadDir<'_, R>> {
        let InodeData::Directory(d) = &dir.data else {
            return Err(corrupt("not a directory"));
        };
        let listing_len = u64::from(
            d.size
                .checked_sub(SIZE_BIAS)
                .ok_or_else(|| corrupt(format!("directory size {}", d.size)))?,
        );
        let mut start = MetaRef {
            block: d.start_block.into(),
            offset: d.offset,
        };
        let mut consumed = 0u64;
        for index in d.index.iter().take_while(|i| skip_to(i)) {
            let offset = u64::from(index.index);
            if offset < consumed || offset >= listing_len {
                return Err(corrupt("directory index out of order"));
            }
            consumed = offset;
            start = MetaRef {
                block: index.start_block.into(),
                offset: ((u64::from(d.offset) + offset) % METADATA_SIZE as u64) as u16,
            };
        }
        self.listing(d, start, listing_len, consumed)
    }

    fn listing(
        &self,
        d: &DirectoryInode,
        start: MetaRef,
        listing_len: u64,
        consumed: u64,
    ) -> Result<ReadDir<'_, R>> {
        if usize::from(d.offset) >= METADATA_SIZE {
            return Err(corrupt(format!("directory offset {}", d.offset)));
        }
        let cursor = if consumed < listing_len {
            let cursor = MetaCursor::new(&self.image, self.image.directory_stream(), start)?;
            Some(cursor.take(listing_len - consumed))
        } else {
            None
        };
        Ok(ReadDir {
            archive: self,
            cursor,
            listing_len,
            run: None,
            run_offset: consumed,
            run_read: 0,
            last_name: None,
        })
    }
}

impl<R: ReadAt> ReadDir<'_, R> {
    /// Bytes of the listing read so far.
    fn consumed(&self) -> u64 {
        self.listing_len - self.cursor.as_ref().map_or(0, |c| c.limit())
    }

    /// Resumes iteration at the next entry when given to
    /// [`Archive::read_dir_at`]; never 0 once an entry has been read.
    pub fn cookie(&self) -> u64 {
        match self.run {
            Some(_) => self.run_offset << 16 | u64::from(self.run_read),
            None => self.consumed() << 16,
        }
    }

    /// Reads a whole run (header and entries) without returning it.
    fn skip_run(&mut self) -> Result<()> {
        self.next_entry()?;
        while self.run.is_some() {
            self.next_entry()?;
        }
        Ok(())
    }

    /// The next entry, `None` at the end of the listing.
    pub fn next_entry(&mut self) -> Result<Option<DirEntry>> {
        let result = self.read_entry();
        if !matches!(result, Ok(Some(_))) {
            self.cursor = None;
        }
        result
    }

    fn read_entry(&mut self) -> Result<Option<DirEntry>> {
        let consumed = self.consumed();
        let Some(cursor) = self.cursor.as_mut() else {
            return Ok(None);
        };
        let header = match self.run {
            Some(header) => header,
            None if cursor.limit() == 0 => return Ok(None),
            None => {
                let header = DirHeader::decode(cursor)?;
                self.run_offset = consumed;
                self.run_read = 0;
                header
            }
        };
        let raw = RawDirEntry::decode(cursor)?;
        self.run_read += 1;
        self.run = (self.run_read < header.count).then_some(header);

        let sb = self.archive.superblock();
        let number = i64::from(header.inode_number) + i64::from(raw.inode_delta);
        let inode_number = u32::try_from(number)
            .ok()
            .filter(|n| (1..=sb.inode_count).contains(n))
            .ok_or_else(|| corrupt(format!("directory entry inode number {number}")))?;
        if usize::from(raw.offset) >= METADATA_SIZE {
            return Err(corrupt(format!(
                "directory entry inode offset {} past a metadata block",
                raw.offset
            )));
        }
        if self
            .last_name
            .as_ref()
            .is_some_and(|last| *last >= raw.name)
        {
            return Err(corrupt("directory entries out of order"));
        }
        self.last_name = Some(raw.name.clone());
        Ok(Some(DirEntry {
            name: raw.name,
            inode_ref: MetaRef {
                block: header.start_block.into(),
                offset: raw.offset,
            }
            .to_inode_ref(),
            inode_number,
            kind: InodeKind::from_type(raw.kind)?.0,
        }))
    }
}

impl<R: ReadAt> Iterator for ReadDir<'_, R> {
    type Item = Result<DirEntry>;

    fn next(&mut self) -> Option<Result<DirEntry>> {
        self.next_entry().transpose()
    }
}

/// Symlinks followed while resolving one path at most (Linux's limit).
pub const MAX_SYMLINKS: u32 = 40;

/// The `/`-separated names of a path; a trailing '/' gives an empty last
/// name, which makes a symlink before it followed.
fn components(path: &[u8]) -> impl DoubleEndedIterator<Item = Vec<u8>> + '_ {
    path.split(|&b| b == b'/').map(<[u8]>::to_vec)
}
