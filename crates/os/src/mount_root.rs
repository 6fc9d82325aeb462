//! Whether something is mounted on a directory: the kernel marks the root
//! of every mount in `statx` (STATX_ATTR_MOUNT_ROOT, Linux 5.8+). A kernel
//! that does not know the attribute leaves it out of the mask, and then the
//! answer is "no".

use rustix::fs::{Statx, StatxAttributes};

/// True when `stat` is of the root of a mount.
pub fn is_mount_root(stat: &Statx) -> bool {
    stat.stx_attributes_mask
        .contains(StatxAttributes::MOUNT_ROOT)
        && stat.stx_attributes.contains(StatxAttributes::MOUNT_ROOT)
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
    }
}
