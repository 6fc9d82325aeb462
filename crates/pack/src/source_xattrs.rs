//! Reads a source entry's extended attributes without following symlinks —
//! by path during the scan, or through the already open file for regular
//! files (one metadata round trip fewer on a parallel file system) —
//! keeping the namespaces squashfs can store and counting the others.

use bale_squashfs::xattr::{split_name, Xattr};
use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use xattr::FileExt;

/// Attributes read from one entry: those kept, sorted by name, and how
/// many were in namespaces squashfs cannot hold.
#[derive(Clone, Debug, Default)]
pub struct SourceXattrs {
    pub kept: Box<[Xattr]>,
    pub dropped: u64,
}

/// The attributes of `path` itself (a symlink is not followed).
pub fn path_xattrs(path: &Path) -> io::Result<SourceXattrs> {
    collect(xattr::list(path).map(|l| l.collect()), |name| {
        xattr::get(path, name)
    })
}

/// The attributes of an open file.
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
