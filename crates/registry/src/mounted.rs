//! Which image is mounted at a place: the mount visible there in our mount
//! namespace and the loop device under it. The helper asks before it mounts
//! or releases; `bale module-hook load` asks too, without privileges (both
//! sources are world-readable), to skip a load that would change nothing.

use crate::{loops, mountinfo, Error};
use std::path::{Path, PathBuf};

/// The image (backing file of a loop device, as the kernel names it)
/// mounted at `target` in our mount namespace, if any.
pub fn image_at(target: &Path) -> Result<Option<PathBuf>, Error> {
    let mounts = mountinfo::read()?;
    let Some(mount) = mountinfo::mounted_at(&mounts, target) else {
        return Ok(None);
    };
    Ok(loops::attached()?
        .into_iter()
        .find(|l| (l.major, l.minor) == (mount.major, mount.minor))
        .map(|l| l.backing_file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_image_where_nothing_is_mounted() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(image_at(tmp.path()).unwrap(), None);
    }
}
