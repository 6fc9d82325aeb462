//! The image being written: a temporary file beside the destination,
//! written with positioned I/O, synced and renamed into place only when
//! complete. Dropping it unfinished removes the temporary file. Written
//! data is handed to the disk as the image grows, so the final sync has
//! little left to wait for. A new image gets the mode any new file gets
//! (0666 less the umask, as with mksquashfs or cp); one replaced with
//! `--force` keeps its permission bits.

use crate::error::{PackError, Result};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes written between two starts of writeback.
const WRITEBACK_STEP: u64 = 8 << 20;

pub struct ImageFile {
    temp: tempfile::NamedTempFile,
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
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".bale-tmp")
            .permissions(std::fs::Permissions::from_mode(0o666))
            .tempfile_in(dir)
            .and_then(|temp| {
                if let Some(mode) = replaced_mode {
                    temp.as_file()
                        .set_permissions(std::fs::Permissions::from_mode(mode))?;
                }
                Ok(temp)
            })
            .map_err(|source| PackError::Output {
                path: dest.to_path_buf(),
                source: without_temporary_name(source),
            })?;
        Ok(ImageFile {
            temp,
            dest: dest.to_path_buf(),
            written_back: AtomicU64::new(0),
        })
    }

    /// The file being written.
    pub fn file(&self) -> &File {
        self.temp.as_file()
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
    pub fn commit(self, len: u64, force: bool) -> Result<()> {
        let ImageFile { temp, dest, .. } = self;
        let err = |source| PackError::Output {
            path: dest.clone(),
            source,
        };
        temp.as_file().set_len(len).map_err(err)?;
        temp.as_file().sync_all().map_err(err)?;
        let persisted = if force {
            temp.persist(&dest)
        } else {
            temp.persist_noclobber(&dest)
        };
        persisted.map_err(|e| match e.error.kind() {
            std::io::ErrorKind::AlreadyExists => PackError::Exists(dest.clone()),
            _ => err(e.error),
        })?;
        if let Some(dir) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
            File::open(dir).and_then(|d| d.sync_all()).map_err(err)?;
        }
        Ok(())
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
