//! The image being written: a temporary file beside the destination,
//! written with positioned I/O, synced and renamed into place only when
//! complete. Dropping it unfinished removes the temporary file. Written
//! data is handed to the disk as the image grows, so the final sync has
//! little left to wait for. A new image gets the mode any new file gets
//! (0666 less the umask, as with mksquashfs or cp); one replaced with
//! `--force` keeps its permission bits. The temporary file is locked
//! (`flock`) while it is written, so the next pack to the same image can
//! tell one left by a pack that was killed (SIGKILL, a node crash) from one
//! being written, and removes it.

use crate::error::{PackError, Result};
use rustix::fd::OwnedFd;
use rustix::fs::{FlockOperation, Mode, OFlags};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

const TEMP_SUFFIX: &str = ".bale-tmp";

/// Removes our temporary files for this image (`prefix` + six random
/// characters + the suffix) in `dir` that nobody holds locked: their pack
/// was killed before it could remove them. Only the caller's own regular
/// files; anything else, or anything in doubt, is left alone.
fn remove_abandoned(dir: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ours = name
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(TEMP_SUFFIX))
            .is_some_and(|random| random.len() == 6);
        if ours && is_abandoned(&entry.path()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether `path` is a regular file of ours that no process has locked,
/// and still the file we looked at.
fn is_abandoned(path: &Path) -> bool {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let Ok(file) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(careful_open_flags())
        .open(path)
    else {
        return false;
    };
    let (Ok(opened), Ok(named)) = (file.metadata(), path.symlink_metadata()) else {
        return false;
    };
    opened.is_file()
        && opened.uid() == rustix::process::geteuid().as_raw()
        && (opened.dev(), opened.ino()) == (named.dev(), named.ino())
        && rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive).is_ok()
}

/// Opening a name we did not create: no symlink, no blocking on a FIFO.
fn careful_open_flags() -> i32 {
    (OFlags::NOFOLLOW | OFlags::NONBLOCK).bits() as i32
}

/// Bytes written between two starts of writeback.
const WRITEBACK_STEP: u64 = 8 << 20;

pub struct ImageFile {
    /// Until committed.
    temp: Option<tempfile::NamedTempFile>,
    /// The directory the temporary file was made in, as opened then: the
    /// temporary file is removed through it, also if the directory was
    /// renamed meanwhile.
    dir: OwnedFd,
    dest: PathBuf,
    /// Where the range last handed to writeback ended.
    written_back: AtomicU64,
}

impl ImageFile {
    /// Creates the temporary file in the destination's directory.
    pub fn create(dest: &Path, force: bool) -> Result<ImageFile> {
        let existing = dest.symlink_metadata().ok();
        if !force && existing.is_some() {
            return Err(PackError::Exists(dest.to_path_buf()));
        }
        let replaced_mode = existing
            .filter(|m| m.is_file())
            .map(|m| m.permissions().mode() & 0o777);
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let prefix = format!(".{name}.");
        remove_abandoned(dir, &prefix);
        let temp = tempfile::Builder::new()
            .prefix(&prefix)
            .suffix(TEMP_SUFFIX)
            .permissions(std::fs::Permissions::from_mode(0o666))
            .tempfile_in(dir)
            .and_then(|temp| {
                if let Some(mode) = replaced_mode {
                    temp.as_file()
                        .set_permissions(std::fs::Permissions::from_mode(mode))?;
                }
                // Where flock is not supported the file is simply not
                // recognised as abandoned later.
                let _ = rustix::fs::flock(temp.as_file(), FlockOperation::NonBlockingLockExclusive);
                Ok(temp)
            })
            .map_err(|source| PackError::Output {
                path: dest.to_path_buf(),
                source: without_temporary_name(source),
            })?;
        let dir = rustix::fs::open(
            dir,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| PackError::Output {
            path: dest.to_path_buf(),
            source: e.into(),
        })?;
        Ok(ImageFile {
            temp: Some(temp),
            dir,
            dest: dest.to_path_buf(),
            written_back: AtomicU64::new(0),
        })
    }

    /// The file being written.
    pub fn file(&self) -> &File {
        self.temp
            .as_ref()
            .expect("the image is not committed yet")
            .as_file()
    }

    fn err(&self) -> impl FnOnce(std::io::Error) -> PackError + '_ {
        move |source| PackError::Output {
            path: self.dest.clone(),
            source,
        }
    }

    pub fn write_at(&self, pos: u64, bytes: &[u8]) -> Result<()> {
        self.file().write_all_at(bytes, pos).map_err(self.err())?;
        self.start_writeback(pos + bytes.len() as u64);
        Ok(())
    }

    /// Starts (without waiting) writing to disk what lies before `end`
    /// once another step has accumulated. The final sync is what counts:
    /// an error here shows up there.
    fn start_writeback(&self, end: u64) {
        let from = self.written_back.load(Ordering::Relaxed);
        if end < from + WRITEBACK_STEP {
            return;
        }
        self.written_back.store(end, Ordering::Relaxed);
        // SAFETY: a plain system call on a descriptor this file owns.
        unsafe {
            libc::sync_file_range(
                self.file().as_raw_fd(),
                from as libc::off64_t,
                (end - from) as libc::off64_t,
                libc::SYNC_FILE_RANGE_WRITE,
            );
        }
    }

    pub fn read_at(&self, pos: u64, buf: &mut [u8]) -> Result<()> {
        self.file().read_exact_at(buf, pos).map_err(self.err())
    }

    /// Truncates to `len`, syncs, and moves the file to its destination
    /// (replacing an existing one only when `force`).
    pub fn commit(mut self, len: u64, force: bool) -> Result<()> {
        let dest = self.dest.clone();
        let err = |source| PackError::Output {
            path: dest.clone(),
            source,
        };
        self.file().set_len(len).map_err(err)?;
        self.file().sync_all().map_err(err)?;
        let temp = self.temp.take().expect("committed once");
        let persisted = if force {
            temp.persist(&dest)
        } else {
            temp.persist_noclobber(&dest)
        };
        persisted.map_err(|e| {
            self.temp = Some(e.file); // for drop to remove
            match e.error.kind() {
                std::io::ErrorKind::AlreadyExists => PackError::Exists(dest.clone()),
                _ => err(e.error),
            }
        })?;
        if let Some(dir) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
            File::open(dir).and_then(|d| d.sync_all()).map_err(err)?;
        }
        Ok(())
    }
}

impl Drop for ImageFile {
    /// Removes the temporary file of an image never committed, beneath the
    /// directory it was made in (its path may lead elsewhere by now).
    fn drop(&mut self) {
        if let Some(name) = self.temp.as_ref().and_then(|t| t.path().file_name()) {
            let _ = rustix::fs::unlinkat(&self.dir, name, rustix::fs::AtFlags::empty());
        }
    }
}

/// tempfile's errors end in "at path <the temporary file's name>": a name
/// the user never gave and never sees (the error line names the image).
fn without_temporary_name(err: std::io::Error) -> std::io::Error {
    let text = err.to_string();
    match text.split_once(" at path ") {
        Some((reason, _)) => std::io::Error::new(err.kind(), reason.to_string()),
        None => err,
    }
}
