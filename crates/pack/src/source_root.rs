//! Opening source files and directories beneath the source directory: by
//! their path relative to a descriptor of the source root, the kernel
//! resolving every component without following a symlink or leaving the
//! tree (`openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`). A
//! directory swapped for a symlink during a pack (run as root, of a tree
//! that others can write) then fails that entry instead of listing or
//! reading one from elsewhere into the image. A path longer than the
//! kernel takes at once (PATH_MAX) is opened in pieces, each beneath the
//! directory before. Kernels before 5.6 lack `openat2`: there only the
//! last component is protected (`O_NOFOLLOW`), and paths must fit PATH_MAX.

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{self, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

pub struct SourceRoot {
    path: PathBuf,
    fd: OwnedFd,
    /// `openat2` answered ENOSYS: paths are opened whole.
    no_openat2: AtomicBool,
}

/// How the readers open a source file.
const FILE_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOCTTY)
    .union(OFlags::NONBLOCK);
/// How the scan opens a directory to list it.
const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// `openat2` retries when a rename elsewhere on the file system raced with
/// the lookup (it then answers EAGAIN rather than risk an escape).
const RACE_RETRIES: usize = 8;

impl SourceRoot {
    /// Opens the source directory `path`, following a symlink there (it is
    /// the path the user gave, which every tool follows; nothing beneath
    /// it is reached through one), and returns it with its status.
    pub fn open(path: &Path) -> io::Result<(SourceRoot, fs::Stat)> {
        let fd = fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let st = fs::fstat(&fd)?;
        let root = SourceRoot {
            path: path.to_path_buf(),
            fd,
            no_openat2: AtomicBool::new(false),
        };
        Ok((root, st))
    }

    /// Opens the regular file at `path` (the root or below it) for reading.
    pub fn open_file(&self, path: &Path) -> io::Result<OwnedFd> {
        self.open_beneath(path, FILE_FLAGS)
    }

    /// Opens the directory at `path` (the root or below it) for listing.
    pub fn open_dir(&self, path: &Path) -> io::Result<OwnedFd> {
        self.open_beneath(path, DIR_FLAGS)
    }

    fn open_beneath(&self, path: &Path, flags: OFlags) -> io::Result<OwnedFd> {
        let rel = match path.strip_prefix(&self.path) {
            Ok(rel) if rel.as_os_str().is_empty() => Path::new("."),
            Ok(rel) => rel,
            Err(_) => return Err(io::Error::other("outside the source directory")),
        };
        if !self.no_openat2.load(Ordering::Relaxed) {
            match self.open_pieces(rel.as_os_str().as_bytes(), flags) {
                Err(Errno::NOSYS) => self.no_openat2.store(true, Ordering::Relaxed),
                result => return Ok(result?),
            }
        }
        Ok(fs::open(path, flags, Mode::empty())?)
    }

    /// Opens `rel` beneath the root; a path longer than the kernel takes at
    /// once (PATH_MAX) is walked in pieces, each directory opened beneath
    /// the one before, as deep as trees go.
    fn open_pieces(&self, rel: &[u8], flags: OFlags) -> Result<OwnedFd, Errno> {
        let mut dir: Option<OwnedFd> = None;
        let mut rest = rel;
        while rest.len() > PIECE {
            let cut = rest[..=PIECE]
                .iter()
                .rposition(|&b| b == b'/')
                .filter(|&at| at > 0)
                .ok_or(Errno::NAMETOOLONG)?;
            let at = dir.as_ref().map_or(self.fd.as_fd(), |d| d.as_fd());
            dir = Some(openat2_beneath(
                at,
                &rest[..cut],
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            )?);
            rest = &rest[cut + 1..];
        }
        openat2_beneath(
            dir.as_ref().map_or(self.fd.as_fd(), |d| d.as_fd()),
            rest,
            flags,
        )
    }
}

/// The longest relative path handed to the kernel at once (PATH_MAX
/// counts the terminating NUL).
const PIECE: usize = libc::PATH_MAX as usize - 1;

/// `openat2` of `rel` beneath `dir`, through no symlink.
fn openat2_beneath(dir: BorrowedFd<'_>, rel: &[u8], flags: OFlags) -> Result<OwnedFd, Errno> {
    let rel = OsStr::from_bytes(rel);
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS;
    let mut tries = 0;
    loop {
        match fs::openat2(dir, rel, flags, Mode::empty(), resolve) {
            Err(Errno::AGAIN) if tries < RACE_RETRIES => tries += 1,
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn a_directory_swapped_for_a_symlink_is_not_followed() {
        let work = tempfile::tempdir().unwrap();
        let (root, outside) = (work.path().join("src"), work.path().join("outside"));
        for dir in [root.join("d"), outside.clone()] {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("f"), "secret").unwrap();
        }
        let (source, _) = SourceRoot::open(&root).unwrap();
        let file = root.join("d/f");
        source.open_file(&file).unwrap();

        std::fs::remove_dir_all(root.join("d")).unwrap();
        symlink(&outside, root.join("d")).unwrap();
        let err = source.open_file(&file).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP), "{err}");
        // The symlink as last component: refused by O_NOFOLLOW.
        let err = source.open_dir(&root.join("d")).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOTDIR), "{err}");
        symlink("../outside/f", root.join("g")).unwrap();
        assert!(source.open_file(&root.join("g")).is_err(), "last component");
        source.open_dir(&root).unwrap();
    }
}
