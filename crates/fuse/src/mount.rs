//! Mounting: check the mount point, open and check the image, then mount
//! through fuser (mount(2) as root, fusermount3 otherwise) and complete
//! the FUSE handshake, so the mount serves requests once this returns.

use crate::error::Error;
use crate::errors::ErrorLog;
use crate::fs::BaleFs;
use crate::options::{fuser_config, MountConfig};
use crate::server::Server;
use bale_squashfs::reader::Archive;
use rustix::fs::{statx, AtFlags, StatxFlags, CWD};
use std::fs::File;
use std::path::{Path, PathBuf};

/// Mounts `config.image` on `config.mountpoint`. Requests queue in the
/// kernel until [`Server::run`] starts serving them.
pub fn mount(config: &MountConfig) -> Result<Server, Error> {
    let mountpoint = check_mountpoint(&config.mountpoint)?;
    let image = std::path::absolute(&config.image).map_err(|e| Error::new(&config.image, e))?;
    let file =
        bale_squashfs::reader::open_image_file(&image).map_err(|e| Error::new(&config.image, e))?;
    let ext4 = is_ext4(&file);
    let archive = Archive::open_with(file, config.caches()).map_err(|e| match e {
        bale_squashfs::Error::BadMagic if ext4 => Error::new(
            &config.image,
            "an ext4 image: the FUSE driver reads squashfs only; ext4 images are mounted by the \
             kernel backend (below $SI_USR_MOUNT_PATH/$USER, through the helper)",
        ),
        e => Error::new(&config.image, e),
    })?;
    let root = archive.root().map_err(|e| Error::new(&config.image, e))?;
    let fs = BaleFs::new(archive, &root, ErrorLog::new(image.clone()));
    let options = fuser_config(config, &image)?;
    Server::start(fs, mountpoint, &options)
}

/// The mount point as an absolute path without symlinks; it must be a
/// directory with nothing mounted on it (a second mount would hide the
/// first, whose server would go on serving nobody).
fn check_mountpoint(path: &Path) -> Result<PathBuf, Error> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::new(path, "mount point does not exist"),
        _ if e.raw_os_error() == Some(libc::ENOTCONN) => Error::new(
            path,
            "a FUSE mount whose server has ended is still there (unmount it first)",
        ),
        _ => Error::new(path, e),
    })?;
    if !meta.is_dir() {
        return Err(Error::new(path, "mount point is not a directory"));
    }
    let canonical = path.canonicalize().map_err(|e| Error::new(path, e))?;
    let x = statx(CWD, &canonical, AtFlags::empty(), StatxFlags::TYPE)
        .map_err(|e| Error::new(path, std::io::Error::from(e)))?;
    if bale_os::mount_root::is_mount_root(&x) {
        return Err(Error::new(
            path,
            "something is already mounted there (unmount it first)",
        ));
    }
    Ok(canonical)
}

/// Whether `file` starts like an ext2/3/4 file system (magic 0xEF53 in the
/// superblock at 1024), to say so instead of "not a squashfs image".
fn is_ext4(file: &File) -> bool {
    use std::os::unix::fs::FileExt;
    let mut magic = [0u8; 2];
    file.read_exact_at(&mut magic, 1024 + 56).is_ok() && magic == 0xEF53u16.to_le_bytes()
}
