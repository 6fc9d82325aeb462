//! Opening files and directories the safe way: below a trusted directory
//! descriptor with `openat2` (no symlinks, no escaping, optionally no
//! crossing of mounts), images first as `O_PATH` to check their type and
//! then reopened through `/proc/self/fd` with the caller's rights.

use crate::creds::as_caller;
use crate::failure::{io, Failure};
use crate::identity::Caller;
use bale_policy::{ImageKind, MountpointFacts, Refusal};
use rustix::fd::{AsFd, AsRawFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, StatxFlags};
use rustix::mount::UnmountFlags;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// An image opened for the loop device, with what its superblock says.
pub struct Image {
    pub fd: OwnedFd,
    /// Where the kernel says the opened file is.
    pub path: PathBuf,
    pub kind: ImageKind,
}

/// Opens a directory named by the site configuration (trusted).
pub fn dir(path: &Path) -> Result<OwnedFd, Failure> {
    rustix::fs::open(
        path,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io(path, e))
}

/// A mount point held for unmounting by descriptor: its parent directory,
/// opened below a trusted directory without following symlinks (so it
/// cannot be swapped for one), and its last name. The mount point itself is
/// not opened: holding it would make the mount busy.
pub struct MountPlace<'a> {
    pub parent: OwnedFd,
    pub leaf: &'a OsStr,
}

impl<'a> MountPlace<'a> {
    /// The place of `rel` below `dir` (shown as `dir_path`); `None` when
    /// `rel` has no last name.
    pub fn beneath(
        dir: &OwnedFd,
        dir_path: &Path,
        rel: &'a Path,
    ) -> Result<Option<MountPlace<'a>>, Failure> {
        let Some(leaf) = rel.file_name() else {
            return Ok(None);
        };
        let parent_rel = rel
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let parent = beneath(
            dir,
            dir_path,
            parent_rel,
            OFlags::PATH | OFlags::DIRECTORY,
            false,
        )?;
        Ok(Some(MountPlace { parent, leaf }))
    }

    /// Unmounts what is mounted there, never following a symlink there.
    pub fn unmount(&self, flags: UnmountFlags) -> rustix::io::Result<()> {
        let by_fd =
            Path::new(&format!("/proc/self/fd/{}", self.parent.as_raw_fd())).join(self.leaf);
        rustix::mount::unmount(&by_fd, flags | UnmountFlags::NOFOLLOW)
    }

    /// Removes the directory there if it is empty and nothing is mounted
    /// on it any more.
    pub fn remove_empty_dir(&self) {
        let _ = rustix::fs::unlinkat(&self.parent, self.leaf, rustix::fs::AtFlags::REMOVEDIR);
    }
}

/// Opens `rel` below `dir` (shown as `dir_path`) without following any
/// symlink or leaving `dir`; with `no_xdev`, without crossing a mount.
pub fn beneath(
    dir: &OwnedFd,
    dir_path: &Path,
    rel: &Path,
    flags: OFlags,
    no_xdev: bool,
) -> Result<OwnedFd, Failure> {
    let mut resolve =
        ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    if no_xdev {
        resolve |= ResolveFlags::NO_XDEV;
    }
    let path = dir_path.join(rel);
    rustix::fs::openat2(
        dir,
        rel,
        flags | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
        resolve,
    )
    .map_err(|e| match e {
        rustix::io::Errno::LOOP => Refusal::new(
            "no-symlinks",
            format!("{}: a symlink is in the way", path.display()),
        )
        .into(),
        // O_DIRECTORY meets a symlink (not followed) or a file.
        rustix::io::Errno::NOTDIR => {
            let is_link = rustix::fs::statat(dir, rel, AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink);
            if is_link {
                Refusal::new(
                    "no-symlinks",
                    format!("{}: a symlink is in the way", path.display()),
                )
                .into()
            } else {
                Refusal::new("mountpoint", format!("{}: not a directory", path.display())).into()
            }
        }
        rustix::io::Errno::XDEV => Refusal::new(
            "mountpoint",
            format!("{}: is or crosses a mount point", path.display()),
        )
        .into(),
        e => io(&path, e),
    })
}

/// The path the kernel has for an open descriptor.
pub fn fd_path<F: AsFd>(fd: F) -> Result<PathBuf, Failure> {
    let link = format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd());
    std::fs::read_link(&link).map_err(|e| io(&link, e))
}

/// Opens the image `name` in `dir` with the caller's rights: never through
/// a symlink, only a regular file, readable (and writable for `rw`) by the
/// caller, with a valid squashfs or ext4 superblock.
pub fn image_in(
    caller: &Caller,
    dir: &OwnedFd,
    dir_path: &Path,
    name: &str,
    rw: bool,
) -> Result<Image, Failure> {
    let shown = dir_path.join(name);
    let probe = as_caller(caller, || {
        rustix::fs::openat(
            dir,
            name,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
    })
    .map_err(|e| io(&shown, e))?;
    let st = rustix::fs::fstat(&probe).map_err(|e| io(&shown, e))?;
    if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
        return Err(
            Refusal::new("no-symlinks", format!("{}: is a symlink", shown.display())).into(),
        );
    }
    bale_policy::image_file(
        &shown,
        FileType::from_raw_mode(st.st_mode) == FileType::RegularFile,
    )?;
    let access = if rw { OFlags::RDWR } else { OFlags::RDONLY };
    let reopen = format!("/proc/self/fd/{}", probe.as_raw_fd());
    let fd = as_caller(caller, || {
        rustix::fs::open(
            reopen.as_str(),
            access | OFlags::CLOEXEC | OFlags::NOCTTY,
            Mode::empty(),
        )
    })
    .map_err(|e| match e {
        rustix::io::Errno::ACCESS | rustix::io::Errno::PERM => Failure::from(Refusal::new(
            "caller-access",
            format!(
                "{}: you may not {} it",
                shown.display(),
                if rw { "write" } else { "read" }
            ),
        )),
        e => io(&shown, e),
    })?;
    let again = rustix::fs::fstat(&fd).map_err(|e| io(&shown, e))?;
    if (again.st_dev, again.st_ino) != (st.st_dev, st.st_ino) {
        return Err(Failure::Error(format!(
            "{}: changed while being opened",
            shown.display()
        )));
    }
    let kind = bale_policy::image_kind(
        &shown,
        bale_kmount::superblock::detect(&fd, again.st_size as u64),
        rw,
    )?;
    let path = fd_path(&fd)?;
    Ok(Image { fd, path, kind })
}

/// Opens the user image at `path` (absolute) with the caller's rights, as
/// [`image_in`] does, and returns it with its directory, that directory's
/// path and the image's file name.
pub fn user_image(
    caller: &Caller,
    path: &Path,
    rw: bool,
) -> Result<(Image, OwnedFd, PathBuf, String), Failure> {
    let dir_path = path.parent().unwrap_or(Path::new("/"));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Failure::Error(format!("{}: image names must be UTF-8", path.display())))?;
    let dir = as_caller(caller, || dir(dir_path))?;
    let image = image_in(caller, &dir, dir_path, name, rw)?;
    Ok((image, dir, dir_path.to_path_buf(), name.to_string()))
}

/// Opens the absolute path `path` as a mount point of the caller's own:
/// resolved from `/` with the caller's rights and without any symlink, a
/// directory the caller owns with nothing mounted on it.
pub fn own_dir(caller: &Caller, path: &Path) -> Result<OwnedFd, Failure> {
    let root = dir(Path::new("/"))?;
    let rel = path.strip_prefix("/").unwrap_or(path);
    let fd = as_caller(caller, || {
        beneath(
            &root,
            Path::new("/"),
            rel,
            OFlags::PATH | OFlags::DIRECTORY,
            false,
        )
    })?;
    bale_policy::mountpoint(path, facts(&fd, path)?, caller.uid)?;
    Ok(fd)
}

/// What a mount point descriptor shows.
pub fn facts(fd: &OwnedFd, path: &Path) -> Result<MountpointFacts, Failure> {
    let st = rustix::fs::fstat(fd).map_err(|e| io(path, e))?;
    let x = rustix::fs::statx(fd, "", AtFlags::EMPTY_PATH, StatxFlags::TYPE)
        .map_err(|e| io(path, e))?;
    Ok(MountpointFacts {
        is_dir: FileType::from_raw_mode(st.st_mode) == FileType::Directory,
        owner: st.st_uid,
        mounted: bale_os::mount_root::is_mount_root(&x),
    })
}

/// `<usr root>/<caller>`, created for the caller (0755) if missing; it
/// must be a directory the caller owns. Returns it and its real path. The
/// root itself is created (root's, 0755) when missing: it lives on a
/// node-local tmpfs such as /var/run, empty after every boot.
pub fn user_dir(caller: &Caller, usr_root: &Path) -> Result<(OwnedFd, PathBuf), Failure> {
    match rustix::fs::mkdir(usr_root, Mode::from_raw_mode(0o755)) {
        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
        Err(e) => return Err(io(usr_root, e)),
    }
    let root = dir(usr_root)?;
    match rustix::fs::mkdirat(&root, caller.name.as_str(), Mode::from_raw_mode(0o755)) {
        Ok(()) => {
            let made = beneath(
                &root,
                usr_root,
                Path::new(&caller.name),
                OFlags::DIRECTORY | OFlags::RDONLY,
                true,
            )?;
            rustix::fs::fchown(
                &made,
                Some(rustix::fs::Uid::from_raw(caller.uid)),
                Some(rustix::fs::Gid::from_raw(caller.gid)),
            )
            .map_err(|e| io(usr_root.join(&caller.name), e))?;
        }
        Err(rustix::io::Errno::EXIST) => {}
        Err(e) => return Err(io(usr_root.join(&caller.name), e)),
    }
    let own = beneath(
        &root,
        usr_root,
        Path::new(&caller.name),
        OFlags::PATH | OFlags::DIRECTORY,
        true,
    )?;
    let path = fd_path(&own)?;
    let owner = facts(&own, &path)?.owner;
    if owner != caller.uid {
        return Err(Refusal::new(
            "user-mount-root",
            format!("{}: owned by uid {owner}, not you", path.display()),
        )
        .into());
    }
    Ok((own, path))
}
