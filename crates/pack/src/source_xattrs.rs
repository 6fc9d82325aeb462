//! Reads a source entry's extended attributes through a descriptor, never
//! by path (a path is resolved again, and an intermediate directory swapped
//! for a symlink would lead elsewhere): through the already open file or
//! directory where the pack has one (one metadata round trip fewer on a
//! parallel file system), else through an `O_PATH` descriptor of the entry
//! itself opened in its directory. Keeps the namespaces squashfs can store
//! and counts the others.

use bale_squashfs::xattr::{split_name, Xattr};
use rustix::fd::{AsRawFd, BorrowedFd};
use rustix::fs::{Mode, OFlags};
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use xattr::FileExt;

/// Attributes read from one entry: those kept, sorted by name, and how
/// many were in namespaces squashfs cannot hold.
#[derive(Clone, Debug, Default)]
pub struct SourceXattrs {
    pub kept: Box<[Xattr]>,
    pub dropped: u64,
}

/// The attributes of the entry `name` of the open directory `dir` itself
/// (a symlink is not followed). The `*xattr` calls take no `O_PATH`
/// descriptor before Linux 6.13, so they go through its `/proc/self/fd`
/// link, which leads to the entry the descriptor holds and no further.
pub fn entry_xattrs(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<SourceXattrs> {
    let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let entry = rustix::fs::openat(dir, name, flags, Mode::empty())?;
    let link = format!("/proc/self/fd/{}", entry.as_raw_fd());
    let names = xattr::list_deref(&link).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => io::Error::other(
            "its extended attributes are read through /proc/self/fd, and /proc is not mounted \
             (mount it, or pack with --no-xattrs)",
        ),
        _ => e,
    });
    collect(names.map(|l| l.collect()), |name| {
        xattr::get_deref(&link, name)
    })
}

/// The attributes of an open file or directory.
pub fn file_xattrs(file: &std::fs::File) -> io::Result<SourceXattrs> {
    collect(file.list_xattr().map(|l| l.collect()), |name| {
        file.get_xattr(name)
    })
}

fn collect(
    names: io::Result<Vec<OsString>>,
    get: impl Fn(&OsString) -> io::Result<Option<Vec<u8>>>,
) -> io::Result<SourceXattrs> {
    let names = match names {
        Ok(names) => names,
        Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => return Ok(SourceXattrs::default()),
        Err(e) => return Err(e),
    };
    let mut kept = Vec::new();
    let mut dropped = 0;
    for name in names {
        if split_name(name.as_bytes()).is_none() {
            dropped += 1;
            continue;
        }
        // An attribute removed since the listing is simply not there any more.
        if let Some(value) = get(&name)? {
            kept.push(Xattr {
                name: name.as_bytes().to_vec(),
                value,
            });
        }
    }
    kept.sort();
    Ok(SourceXattrs {
        kept: kept.into_boxed_slice(),
        dropped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::fd::AsFd;
    use std::os::unix::fs::symlink;

    fn value(x: &SourceXattrs) -> Vec<u8> {
        assert_eq!(x.kept.len(), 1, "{x:?}");
        x.kept[0].value.clone()
    }

    /// The scan holds the directory open: once the directory is swapped
    /// for a symlink to another one, the entry's attributes still come
    /// from the entry the scan listed (by path they would come from the
    /// other directory). `trusted.` attributes, since symlinks take no
    /// `user.` ones: needs root, as the suite runs.
    #[test]
    fn attributes_come_from_the_listed_entry_after_a_swap() {
        assert!(
            rustix::process::geteuid().is_root(),
            "needs root (CI runs as root)"
        );
        let work = tempfile::tempdir().unwrap();
        let (dir, outside) = (work.path().join("d"), work.path().join("outside"));
        for (parent, tag) in [(&dir, "listed"), (&outside, "elsewhere")] {
            std::fs::create_dir(parent).unwrap();
            symlink("target", parent.join("link")).unwrap();
            xattr::set(parent.join("link"), "trusted.tag", tag.as_bytes()).unwrap();
        }
        let listed =
            rustix::fs::open(&dir, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
        std::fs::rename(&dir, work.path().join("moved")).unwrap();
        symlink(&outside, &dir).unwrap();

        let by_path = xattr::get(dir.join("link"), "trusted.tag").unwrap();
        assert_eq!(by_path.as_deref(), Some(&b"elsewhere"[..]));
        let x = entry_xattrs(listed.as_fd(), OsStr::new("link")).unwrap();
        assert_eq!(value(&x), b"listed");
    }
}
