//! Whether something is mounted on a directory: the kernel marks the root
//! of every mount in `statx` (STATX_ATTR_MOUNT_ROOT, Linux 5.8+). A kernel
//! that does not know the attribute leaves it out of the mask, and then the
//! answer is "no".

use rustix::fd::AsFd;
use rustix::fs::{AtFlags, Statx, StatxAttributes, StatxFlags};
use std::path::Path;

/// True when `stat` is of the root of a mount.
pub fn is_mount_root(stat: &Statx) -> bool {
    stat.stx_attributes_mask
        .contains(StatxAttributes::MOUNT_ROOT)
        && stat.stx_attributes.contains(StatxAttributes::MOUNT_ROOT)
}

/// The device number of the mount whose root `path` (below `dir`, not
/// followed if a symlink) is; `None` if nothing is mounted there. Read
/// without a request to any FUSE server (`AT_STATX_DONT_SYNC`, empty
/// mask): one that is dead, or not serving yet, would fail or hang it.
pub fn device_at(dir: impl AsFd, path: impl AsRef<Path>) -> Option<(u32, u32)> {
    let flags = AtFlags::SYMLINK_NOFOLLOW | AtFlags::STATX_DONT_SYNC;
    let x = rustix::fs::statx(dir, path.as_ref(), flags, StatxFlags::empty()).ok()?;
    is_mount_root(&x).then_some((x.stx_dev_major, x.stx_dev_minor))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::fs::{statx, AtFlags, StatxFlags, CWD};

    fn root_of(path: &str) -> bool {
        is_mount_root(&statx(CWD, path, AtFlags::empty(), StatxFlags::TYPE).unwrap())
    }

    #[test]
    fn the_root_directory_is_a_mount_root_and_a_fresh_directory_is_not() {
        assert!(root_of("/"));
        let dir = tempfile::tempdir().unwrap();
        assert!(!root_of(dir.path().to_str().unwrap()));
        assert!(device_at(CWD, "/").is_some());
        assert_eq!(device_at(CWD, dir.path()), None);
    }
}
