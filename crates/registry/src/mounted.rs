//! Which image is mounted at a place: the mount visible there in our mount
//! namespace and the loop device under it. The helper asks before it mounts
//! or releases; `bale module-hook load` asks too, without privileges (both
//! sources are world-readable), to skip a load that would change nothing.
//!
//! An image replaced while mounted (`bale create-software -f` renames the
//! new one into place) still counts as mounted: its loop device keeps the
//! old contents, named `IMAGE (deleted)` by the kernel, and keeps serving
//! them until the last user releases the mount; the next mount after that
//! gets the new image. Mounting the new one on top instead would change
//! files under running jobs and leave the old mount behind at the release.

use crate::loops::{self, Loop};
use crate::mountinfo::{self, Mount};
use crate::Error;
use std::path::{Path, PathBuf};

/// The image (backing file of a loop device, as the kernel names it)
/// mounted at `target` in our mount namespace, if any.
pub fn image_at(target: &Path) -> Result<Option<PathBuf>, Error> {
    let mounts = mountinfo::read()?;
    let Some(mount) = mountinfo::mounted_at(&mounts, target) else {
        return Ok(None);
    };
    Ok(loop_of(&loops::attached()?, mount).map(|l| l.backing_file.clone()))
}

/// Whether `image` (or what it replaced) is mounted anywhere in our mount
/// namespace.
pub fn anywhere(image: &Path) -> Result<bool, Error> {
    let loops = loops::attached()?;
    Ok(mountinfo::read()?
        .iter()
        .filter_map(|m| loop_of(&loops, m))
        .any(|l| is_or_was(&l.backing_file, image)))
}

/// The loop device under `mount`, if it is one of `loops`.
pub fn loop_of<'a>(loops: &'a [Loop], mount: &Mount) -> Option<&'a Loop> {
    loops
        .iter()
        .find(|l| (l.major, l.minor) == (mount.major, mount.minor))
}

/// Whether `image` — or what it was before it was replaced — is mounted
/// at `target`.
pub fn serves(target: &Path, image: &Path) -> Result<bool, Error> {
    Ok(image_at(target)?.is_some_and(|mounted| is_or_was(&mounted, image)))
}

/// Whether a loop device's backing file (as the kernel names it: the
/// file's path, with ` (deleted)` added once that path no longer leads to
/// it) is `image` or what `image` replaced.
pub fn is_or_was(backing_file: &Path, image: &Path) -> bool {
    let (backing, image) = (backing_file.as_os_str(), image.as_os_str());
    backing == image
        || backing
            .as_encoded_bytes()
            .strip_suffix(b" (deleted)")
            .is_some_and(|old| old == image.as_encoded_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_image_where_nothing_is_mounted() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(image_at(tmp.path()).unwrap(), None);
        assert!(!serves(tmp.path(), Path::new("/i.sqfs")).unwrap());
    }

    #[test]
    fn a_replaced_image_is_the_one_it_replaced() {
        let image = Path::new("/images/gcc/1.0.sqfs");
        assert!(is_or_was(image, image));
        assert!(is_or_was(
            Path::new("/images/gcc/1.0.sqfs (deleted)"),
            image
        ));
        assert!(!is_or_was(
            Path::new("/images/gcc/2.0.sqfs (deleted)"),
            image
        ));
        assert!(!is_or_was(Path::new("/images/gcc/1.0.sqfs.old"), image));
        assert!(!is_or_was(
            Path::new("/images/gcc/1.0.sqfs"),
            Path::new("/images/gcc/1.0")
        ));
    }
}
