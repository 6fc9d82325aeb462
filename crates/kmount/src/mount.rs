//! Mounting by file descriptor with the new mount API: `fsopen` a file
//! system on a loop device, `fsmount` it with `nosuid,nodev` (and `ro`),
//! and `move_mount` it onto a directory opened `O_PATH|O_NOFOLLOW` — the
//! directory that was checked is the one mounted on.

use bale_policy::ImageKind;
use rustix::fd::AsFd;
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags, UnmountFlags};
use std::path::Path;

/// Mounts `device` (a loop device holding an image of `kind`) on the
/// directory `target`.
pub fn mount<F: AsFd>(device: &Path, kind: ImageKind, target: F, rw: bool) -> std::io::Result<()> {
    let fstype = match kind {
        ImageKind::Squashfs => "squashfs",
        ImageKind::Ext4 => "ext4",
    };
    let fs = rustix::mount::fsopen(fstype, FsOpenFlags::FSOPEN_CLOEXEC)?;
    rustix::mount::fsconfig_set_string(&fs, "source", device)?;
    if !rw {
        rustix::mount::fsconfig_set_flag(&fs, "ro")?;
    }
    rustix::mount::fsconfig_create(&fs)?;
    let mut attrs = MountAttrFlags::MOUNT_ATTR_NOSUID | MountAttrFlags::MOUNT_ATTR_NODEV;
    if !rw {
        attrs |= MountAttrFlags::MOUNT_ATTR_RDONLY;
    }
    let mnt = rustix::mount::fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, attrs)?;
    rustix::mount::move_mount(
        &mnt,
        "",
        &target,
        "",
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
    )?;
    Ok(())
}

/// Unmounts `target` without following a symlink there; `lazy` detaches
/// even if busy.
pub fn unmount(target: &Path, lazy: bool) -> std::io::Result<()> {
    let mut flags = UnmountFlags::NOFOLLOW;
    if lazy {
        flags |= UnmountFlags::DETACH;
    }
    Ok(rustix::mount::unmount(target, flags)?)
}
