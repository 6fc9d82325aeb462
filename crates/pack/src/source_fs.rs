//! How many concurrent readers suit the source: on local file systems a
//! few threads saturate the disk and more only add overhead; on network
//! and parallel file systems every metadata call is a round trip, so many
//! calls in flight hide the latency.

use std::path::Path;

/// Readers for parallel and network file systems (and unknown ones).
pub const REMOTE_READERS: usize = 32;

/// `statfs` magic numbers of file systems backed by a local device or memory.
const LOCAL_MAGICS: [i64; 11] = [
    0xEF53,      // ext2/3/4
    0x5846_5342, // xfs
    0x9123_683E, // btrfs
    0x0102_1994, // tmpfs
    0x8584_58f6, // ramfs
    0x794C_7630, // overlayfs
    0x2FC1_2FC1, // zfs
    0xF2F5_2010, // f2fs
    0x7371_7368, // squashfs
    0xE0F5_E1E2, // erofs
    0x4d44,      // vfat
];

/// The default reader count for a source directory.
pub fn default_readers(source: &Path) -> usize {
    // f_type's width differs between architectures, hence the cast.
    #[allow(clippy::unnecessary_cast)]
    let local = rustix::fs::statfs(source)
        .map(|s| LOCAL_MAGICS.contains(&(s.f_type as i64)))
        .unwrap_or(false);
    if local {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (2 * cores).max(4)
    } else {
        REMOTE_READERS
    }
}
