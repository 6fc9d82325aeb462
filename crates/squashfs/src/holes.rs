//! Holes of a local file. Squashfs stores an all-zero block as a hole (no
//! data, size word 0); a writer or a comparer that asks the file system
//! where a sparse file's holes are (`SEEK_HOLE`/`SEEK_DATA`) can skip them
//! without reading gigabytes of zeros.

use rustix::fs::{seek, SeekFrom};
use rustix::io::Errno;
use std::ops::Range;
use std::os::fd::AsFd;

/// Whether a file with this size and allocation may hold holes worth
/// looking for (fewer 512-byte blocks allocated than its size needs — the
/// test GNU tar and cp use): asking costs two system calls, which a dense
/// file need not pay.
pub fn may_have_holes(size: u64, allocated_512: u64) -> bool {
    allocated_512.saturating_mul(512) < size
}

/// The first hole of the file at or after `offset` and before `size`: a
/// non-empty range, or `None` when there is no hole left. A file system
/// that cannot tell answers `None` (every byte is then read), as does any
/// error: holes are only an optimisation.
pub fn next_hole(file: impl AsFd, offset: u64, size: u64) -> Option<Range<u64>> {
    let start = seek(&file, SeekFrom::Hole(offset)).ok()?;
    if start >= size {
        return None;
    }
    let end = match seek(&file, SeekFrom::Data(start)) {
        Ok(end) => end.min(size),
        Err(Errno::NXIO) => size,
        Err(_) => return None,
    };
    (start < end).then_some(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;

    #[test]
    fn holes_of_a_sparse_file_are_found_and_a_dense_file_has_none() {
        let dir = tempfile::tempdir().unwrap();
        let file = std::fs::File::create(dir.path().join("sparse")).unwrap();
        let mib = 1u64 << 20;
        file.write_all_at(b"data", 4 * mib).unwrap();
        file.set_len(16 * mib).unwrap();
        let st = rustix::fs::fstat(&file).unwrap();
        if !may_have_holes(16 * mib, st.st_blocks as u64) {
            // tmpfs and ext4 keep holes; a file system that fills them has
            // nothing for this test to find.
            panic!("the temporary directory's file system does not keep holes");
        }
        let first = next_hole(&file, 0, 16 * mib).unwrap();
        assert_eq!(first.start, 0);
        assert!(first.end <= 4 * mib, "{first:?}");
        let last = next_hole(&file, 4 * mib, 16 * mib).unwrap();
        assert!(last.start > 4 * mib && last.start <= 5 * mib, "{last:?}");
        assert_eq!(last.end, 16 * mib);
        assert_eq!(next_hole(&file, 16 * mib, 16 * mib), None);
        // A hole is cut at `size`, and none is found beyond it.
        assert_eq!(next_hole(&file, 8 * mib, 10 * mib), Some(8 * mib..10 * mib));

        let dense = std::fs::File::create(dir.path().join("dense")).unwrap();
        dense.write_all_at(&vec![1u8; 3 * mib as usize], 0).unwrap();
        let st = rustix::fs::fstat(&dense).unwrap();
        assert!(!may_have_holes(3 * mib, st.st_blocks as u64));
        assert_eq!(next_hole(&dense, 0, 3 * mib), None);
    }
}
