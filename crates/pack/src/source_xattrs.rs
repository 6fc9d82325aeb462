//! Reads a source entry's extended attributes without following symlinks,
//! keeping the namespaces squashfs can store and counting the others.

use bale_squashfs::xattr::{split_name, Xattr};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Returns the storable attributes sorted by name, and how many were dropped.
pub fn read_xattrs(path: &Path) -> io::Result<(Box<[Xattr]>, u64)> {
    let names = match xattr::list(path) {
        Ok(names) => names,
        Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => return Ok((Box::default(), 0)),
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
        if let Some(value) = xattr::get(path, &name)? {
            kept.push(Xattr {
                name: name.as_bytes().to_vec(),
                value,
            });
        }
    }
    kept.sort();
    Ok((kept.into_boxed_slice(), dropped))
}
