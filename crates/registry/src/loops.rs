//! Loop devices, from `/sys/block/loop*`: which are attached, to what
//! backing file, read-only or not, with autoclear or not.
//!
//! A backing file's path is read as bytes: its directory may be renamed to
//! any name while the device is attached, and a device left out of the
//! list would make a live read-write mount look stale (and lose its lock).

use crate::Error;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// An attached loop device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loop {
    /// `/dev/loopN`.
    pub device: PathBuf,
    pub major: u32,
    pub minor: u32,
    /// As the kernel reports it (suffixed ` (deleted)` if unlinked).
    pub backing_file: PathBuf,
    pub read_only: bool,
    pub autoclear: bool,
}

/// Every attached loop device on the node (loop devices are not
/// namespaced: every mount namespace sees them all).
pub fn attached() -> Result<Vec<Loop>, Error> {
    attached_in(Path::new("/sys/block"))
}

/// The loop devices this node has `image` attached to: mounted here, by a
/// `bale run`, or in another mount namespace that copied the mount. Found
/// by the path the kernel shows, which follows renames.
pub fn holding(image: &Path) -> Result<Vec<Loop>, Error> {
    let real = std::fs::canonicalize(image).unwrap_or_else(|_| image.to_path_buf());
    Ok(attached()?
        .into_iter()
        .filter(|l| crate::mounted::is_or_was(&l.backing_file, &real))
        .collect())
}

fn attached_in(sys_block: &Path) -> Result<Vec<Loop>, Error> {
    let entries = std::fs::read_dir(sys_block).map_err(|e| Error::io(sys_block, e))?;
    let mut loops = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(sys_block, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("loop") {
            continue;
        }
        let dir = entry.path();
        let Ok(mut backing) = std::fs::read(dir.join("loop/backing_file")) else {
            continue; // not attached
        };
        // The kernel ends the path with one newline; the path may hold more.
        if backing.last() == Some(&b'\n') {
            backing.pop();
        }
        let read = |file: &str| std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        let (major, minor) = read("dev")
            .trim()
            .split_once(':')
            .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
            .unwrap_or((0, 0));
        loops.push(Loop {
            device: Path::new("/dev").join(&name),
            major,
            minor,
            backing_file: PathBuf::from(OsString::from_vec(backing)),
            read_only: read("ro").trim() == "1",
            autoclear: read("loop/autoclear").trim() == "1",
        });
    }
    loops.sort_by_key(|l| l.minor);
    Ok(loops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_sysfs_layout() {
        let tmp = tempfile::tempdir().unwrap();
        let l = tmp.path().join("loop5");
        std::fs::create_dir_all(l.join("loop")).unwrap();
        std::fs::write(l.join("dev"), "7:5\n").unwrap();
        std::fs::write(l.join("ro"), "1\n").unwrap();
        std::fs::write(l.join("loop/backing_file"), "/pfs/a b.sqfs\n").unwrap();
        std::fs::write(l.join("loop/autoclear"), "1\n").unwrap();
        std::fs::create_dir_all(tmp.path().join("loop6/loop")).unwrap(); // detached
        let l = tmp.path().join("loop7");
        std::fs::create_dir_all(l.join("loop")).unwrap();
        std::fs::write(l.join("dev"), "7:7\n").unwrap();
        std::fs::write(l.join("loop/backing_file"), b"/pfs/\xff/rw.img\n\n").unwrap();
        std::fs::create_dir_all(tmp.path().join("sda")).unwrap();
        let loops = attached_in(tmp.path()).unwrap();
        assert_eq!(
            loops,
            [
                Loop {
                    device: "/dev/loop5".into(),
                    major: 7,
                    minor: 5,
                    backing_file: "/pfs/a b.sqfs".into(),
                    read_only: true,
                    autoclear: true,
                },
                Loop {
                    device: "/dev/loop7".into(),
                    major: 7,
                    minor: 7,
                    backing_file: OsString::from_vec(b"/pfs/\xff/rw.img\n".to_vec()).into(),
                    read_only: false,
                    autoclear: false,
                }
            ]
        );
    }
}
