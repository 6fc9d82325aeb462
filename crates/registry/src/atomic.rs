//! Replacing a file whole: write a temporary file in the same directory,
//! sync it, rename it over the old one. A crash leaves either the old or the
//! new content, never a mix; a left-over temporary file is ignored by
//! readers (its name starts with `.`).

use crate::Error;
use rustix::fd::AsFd;
use rustix::fs::{Mode, OFlags};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

/// What the name of a temporary file holds after the target's name:
/// `.NAME.tmp.PID.SERIAL`.
const TEMP_MARK: &str = ".tmp.";

/// Whether `file_name` is one of our temporary files.
pub fn is_temporary(file_name: &str) -> bool {
    file_name.starts_with('.') && file_name.contains(TEMP_MARK)
}

/// Replaces `name` in the directory `dir` (shown as `dir_path` in errors)
/// with `content`, created with `mode`.
pub fn replace<D: AsFd>(
    dir: D,
    dir_path: &Path,
    name: &str,
    content: &[u8],
    mode: u32,
) -> Result<(), Error> {
    static SERIAL: AtomicU32 = AtomicU32::new(0);
    let temp = format!(
        ".{name}{TEMP_MARK}{}.{}",
        rustix::process::getpid().as_raw_nonzero(),
        SERIAL.fetch_add(1, Ordering::Relaxed)
    );
    let temp_path = dir_path.join(&temp);
    let _ = rustix::fs::unlinkat(&dir, temp.as_str(), rustix::fs::AtFlags::empty());
    let fd = rustix::fs::openat(
        &dir,
        temp.as_str(),
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(mode),
    )
    .map_err(|e| Error::io(&temp_path, e))?;
    let mut file = std::fs::File::from(fd);
    let written = file
        .write_all(content)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(&temp_path, e))
        .and_then(|()| {
            rustix::fs::renameat(&dir, temp.as_str(), &dir, name)
                .map_err(|e| Error::io(dir_path.join(name), e))
        });
    if written.is_err() {
        let _ = rustix::fs::unlinkat(&dir, temp.as_str(), rustix::fs::AtFlags::empty());
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let fd = rustix::fs::open(
            dir.path(),
            OFlags::DIRECTORY | OFlags::RDONLY,
            Mode::empty(),
        )
        .unwrap();
        replace(&fd, dir.path(), "r", b"one\n", 0o644).unwrap();
        replace(&fd, dir.path(), "r", b"two\n", 0o644).unwrap();
        assert_eq!(std::fs::read(dir.path().join("r")).unwrap(), b"two\n");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["r"]);
    }
}
