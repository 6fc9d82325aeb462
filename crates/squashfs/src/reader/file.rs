//! Regular file contents: where each block lives ([`FileLayout`]), reads
//! at any offset through the block cache, holes as zeros, and the tail
//! kept in a fragment block.

use super::archive::Archive;
use super::source::ReadAt;
use crate::block::BlockSize;
use crate::error::{corrupt, Result};
use crate::inode::{Inode, InodeData};
use crate::tables::FragmentEntry;
use std::ops::Range;

/// The positions of a file's blocks, computed once per inode: block `i`
/// starts at `blocks_start` plus the on-disk sizes of the blocks before it.
/// Keep one per open file to avoid recomputing it on every read.
#[derive(Clone, Debug)]
pub struct FileLayout {
    size: u64,
    block_size: u32,
    blocks: Vec<(u64, BlockSize)>,
    tail: Option<Tail>,
    /// See [`crate::inode::FileInode::fragment_only`].
    fragment_only: Option<u32>,
}

/// The last partial block of a file stored inside a fragment block.
#[derive(Clone, Copy, Debug)]
struct Tail {
    fragment: FragmentEntry,
    offset: u32,
}

impl FileLayout {
    /// File size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Number of data blocks, not counting a tail in a fragment.
    pub fn block_count(&self) -> usize {
        self.blocks.len()
    }

    /// The fragment block holding the whole file, for a non-empty file
    /// smaller than a block.
    pub fn fragment_only(&self) -> Option<u32> {
        self.fragment_only
    }

    /// Whether data block `i` is a hole (all zeros, not stored).
    pub fn is_hole(&self, i: usize) -> bool {
        self.blocks.get(i).is_some_and(|(_, size)| size.is_hole())
    }

    /// The first hole at or after `offset` (a non-empty run of hole
    /// blocks, from `offset` on if it is inside one), if any: what
    /// `SEEK_HOLE` and `SEEK_DATA` answer from.
    pub fn next_hole(&self, offset: u64) -> Option<Range<u64>> {
        let block_size = u64::from(self.block_size);
        let first = usize::try_from(offset / block_size).ok()?;
        let is_hole = |&i: &usize| self.is_hole(i);
        let start = (first..self.blocks.len()).find(is_hole)?;
        let end = (start..self.blocks.len())
            .find(|i| !is_hole(i))
            .unwrap_or(self.blocks.len());
        let start = (start as u64 * block_size).max(offset);
        let end = (end as u64 * block_size).min(self.size);
        (start < end).then_some(start..end)
    }

    /// The file's blocks in order (the tail last) as byte ranges, each with
    /// whether it is a hole: what a reader that skips holes walks.
    pub fn ranges(&self) -> impl Iterator<Item = (Range<u64>, bool)> + '_ {
        let block_size = u64::from(self.block_size);
        (0..self.size.div_ceil(block_size)).map(move |i| {
            let start = i * block_size;
            let end = (start + block_size).min(self.size);
            (start..end, self.is_hole(i as usize))
        })
    }
}

impl<R: ReadAt> Archive<R> {
    /// Validates a regular file inode's block list and fragment reference
    /// against the image and returns where its blocks live.
    pub fn file_layout(&self, inode: &Inode) -> Result<FileLayout> {
        let InodeData::File(file) = &inode.data else {
            return Err(corrupt("not a regular file"));
        };
        let sb = self.superblock();
        let mut pos = file.blocks_start;
        let mut blocks = Vec::with_capacity(file.block_sizes.len());
        for &raw in &file.block_sizes {
            let size = BlockSize::from_raw(raw, sb.block_size)?;
            blocks.push((pos, size));
            pos = pos
                .checked_add(size.on_disk().into())
                .filter(|&end| end <= sb.bytes_used)
                .ok_or_else(|| corrupt("file data past the end of the image"))?;
        }
        let tail = if file.has_fragment() {
            let tail_len = (file.size % u64::from(sb.block_size)) as u32;
            if file
                .fragment_offset
                .checked_add(tail_len)
                .filter(|&end| end <= sb.block_size)
                .is_none()
            {
                return Err(corrupt("fragment offset past the fragment block"));
            }
            Some(Tail {
                fragment: self.fragment(file.fragment)?,
                offset: file.fragment_offset,
            })
        } else {
            None
        };
        Ok(FileLayout {
            size: file.size,
            block_size: sb.block_size,
            blocks,
            tail,
            fragment_only: file.fragment_only(),
        })
    }

    /// Reads file bytes at `offset` into `buf`; returns how many were read
    /// (less than `buf.len()` only at the end of the file).
    pub fn read_at(&self, inode: &Inode, offset: u64, buf: &mut [u8]) -> Result<usize> {
        self.read_layout_at(&self.file_layout(inode)?, offset, buf)
    }

    /// [`Archive::read_at`] with a layout computed beforehand.
    pub fn read_layout_at(&self, file: &FileLayout, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let block_size = u64::from(self.superblock().block_size);
        let want = file.size.saturating_sub(offset).min(buf.len() as u64) as usize;
        let mut done = 0;
        while done < want {
            let pos = offset + done as u64;
            let index = pos / block_size;
            let within = (pos % block_size) as usize;
            let block_len = (file.size - index * block_size).min(block_size) as usize;
            let n = (want - done).min(block_len - within);
            let out = &mut buf[done..done + n];
            match file.blocks.get(index as usize) {
                Some((_, size)) if size.is_hole() => out.fill(0),
                Some(&(start, size)) => {
                    let data = self.image.data_block(start, size)?;
                    copy_from(&data, within, out)?;
                }
                None => {
                    let tail = file
                        .tail
                        .ok_or_else(|| corrupt("file has more bytes than blocks"))?;
                    let data = self
                        .image
                        .data_block(tail.fragment.start, tail.fragment.size)?;
                    copy_from(&data, tail.offset as usize + within, out)?;
                }
            }
            done += n;
        }
        Ok(done)
    }

    /// Calls `f` with the offset and bytes of each stored block of a file,
    /// in order, the tail last; holes (zeros, nothing stored) are skipped.
    pub fn for_each_stored_block<E: From<crate::Error>>(
        &self,
        file: &FileLayout,
        mut f: impl FnMut(u64, &[u8]) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let mut buf = vec![0u8; self.superblock().block_size as usize];
        for (range, _) in file.ranges().filter(|(_, hole)| !hole) {
            let buf = &mut buf[..(range.end - range.start) as usize];
            let n = self.read_layout_at(file, range.start, buf)?;
            f(range.start, &buf[..n])?;
        }
        Ok(())
    }

    /// A streaming reader over a regular file's contents.
    pub fn open_file(&self, inode: &Inode) -> Result<FileReader<'_, R>> {
        Ok(FileReader {
            archive: self,
            layout: self.file_layout(inode)?,
            pos: 0,
        })
    }
}

fn copy_from(block: &[u8], at: usize, out: &mut [u8]) -> Result<()> {
    let src = block
        .get(at..at + out.len())
        .ok_or_else(|| corrupt("data block shorter than the file needs"))?;
    out.copy_from_slice(src);
    Ok(())
}

/// Reads a file from start to end through `std::io::Read`.
pub struct FileReader<'a, R> {
    archive: &'a Archive<R>,
    layout: FileLayout,
    pos: u64,
}

impl<R> FileReader<'_, R> {
    pub fn layout(&self) -> &FileLayout {
        &self.layout
    }
}

impl<R: ReadAt> std::io::Read for FileReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self
            .archive
            .read_layout_at(&self.layout, self.pos, buf)
            .map_err(|e| e.into_io())?;
        self.pos += n as u64;
        Ok(n)
    }
}
