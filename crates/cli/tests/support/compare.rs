//! Compares two directory trees entry by entry: kind, permissions, owner,
//! mtime, size, content, symlink target, device number, link count and
//! xattrs in the namespaces squashfs stores. Returns every difference.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

#[derive(Clone, Copy)]
pub struct Checks {
    pub owners: bool,
    pub xattrs: bool,
    /// unsquashfs does not create sockets.
    pub sockets: bool,
}

impl Default for Checks {
    fn default() -> Checks {
        Checks {
            owners: true,
            xattrs: true,
            sockets: true,
        }
    }
}

pub fn diff_trees(a: &Path, b: &Path, checks: Checks) -> Vec<String> {
    let mut out = Vec::new();
    walk(a, b, Path::new(""), checks, &mut out);
    out
}

fn names(dir: &Path) -> BTreeSet<OsString> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect()
}

fn kind(m: &std::fs::Metadata) -> &'static str {
    let t = m.file_type();
    match () {
        _ if t.is_dir() => "dir",
        _ if t.is_file() => "file",
        _ if t.is_symlink() => "symlink",
        _ if t.is_fifo() => "fifo",
        _ if t.is_socket() => "socket",
        _ if t.is_char_device() => "chardev",
        _ if t.is_block_device() => "blockdev",
        _ => "unknown",
    }
}

fn xattrs(p: &Path) -> Vec<(OsString, Vec<u8>)> {
    // A file system without xattr support has none to compare.
    let list = match xattr::list(p) {
        Err(e) if e.raw_os_error() == Some(95) => return Vec::new(),
        other => other.unwrap(),
    };
    let mut v: Vec<_> = list
        .filter(|n| {
            let n = n.to_string_lossy();
            n.starts_with("user.") || n.starts_with("trusted.") || n.starts_with("security.")
        })
        .map(|n| {
            let val = xattr::get(p, &n).unwrap().unwrap_or_default();
            (n, val)
        })
        .collect();
    v.sort();
    v
}

fn walk(a: &Path, b: &Path, rel: &Path, checks: Checks, out: &mut Vec<String>) {
    let (na, nb) = (names(a), names(b));
    for name in na.union(&nb) {
        let (pa, pb, r) = (a.join(name), b.join(name), rel.join(name));
        let (ma, mb) = (pa.symlink_metadata().ok(), pb.symlink_metadata().ok());
        let (ma, mb) = match (ma, mb) {
            (Some(ma), Some(mb)) => (ma, mb),
            (Some(ma), None) if !checks.sockets && kind(&ma) == "socket" => continue,
            (ma, _) => {
                let side = if ma.is_some() {
                    "only in first"
                } else {
                    "only in second"
                };
                out.push(format!("{}: {side}", r.display()));
                continue;
            }
        };
        let mut differ = |what: &str, x: String, y: String| {
            if x != y {
                out.push(format!("{}: {what} {x} != {y}", r.display()));
            }
        };
        differ("kind", kind(&ma).into(), kind(&mb).into());
        if kind(&ma) != kind(&mb) {
            continue;
        }
        differ(
            "mode",
            format!("{:o}", ma.mode() & 0o7777),
            format!("{:o}", mb.mode() & 0o7777),
        );
        if checks.owners {
            differ("uid", ma.uid().to_string(), mb.uid().to_string());
            differ("gid", ma.gid().to_string(), mb.gid().to_string());
        }
        differ("mtime", ma.mtime().to_string(), mb.mtime().to_string());
        differ("nlink", ma.nlink().to_string(), mb.nlink().to_string());
        if checks.xattrs {
            differ(
                "xattrs",
                format!("{:?}", xattrs(&pa)),
                format!("{:?}", xattrs(&pb)),
            );
        }
        match kind(&ma) {
            "dir" => walk(&pa, &pb, &r, checks, out),
            "file" => {
                differ("size", ma.len().to_string(), mb.len().to_string());
                if std::fs::read(&pa).unwrap() != std::fs::read(&pb).unwrap() {
                    out.push(format!("{}: content differs", r.display()));
                }
            }
            "symlink" => differ(
                "target",
                format!("{:?}", std::fs::read_link(&pa).unwrap()),
                format!("{:?}", std::fs::read_link(&pb).unwrap()),
            ),
            "chardev" | "blockdev" => differ("rdev", ma.rdev().to_string(), mb.rdev().to_string()),
            _ => {}
        }
    }
}

/// The sets of paths (relative to `dir`) that are hard links to one inode,
/// as seen through `stat`: equal sets on two views mean equal sharing.
pub fn hard_link_groups(dir: &Path) -> BTreeSet<Vec<std::path::PathBuf>> {
    let mut by_inode: std::collections::BTreeMap<u64, Vec<std::path::PathBuf>> = Default::default();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let meta = path.symlink_metadata().unwrap();
            if meta.is_dir() {
                stack.push(path);
            } else if meta.nlink() > 1 {
                let rel = path.strip_prefix(dir).unwrap().to_path_buf();
                by_inode.entry(meta.ino()).or_default().push(rel);
            }
        }
    }
    by_inode
        .into_values()
        .map(|mut v| {
            v.sort();
            v
        })
        .collect()
}
