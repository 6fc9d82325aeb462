//! Processes keeping a mount busy (like `fuser -m`): any whose working
//! directory, root, executable, open files or memory maps are on the mount's
//! device.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// A process using a mount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    pub command: String,
}

/// The processes using the file system with device number `dev`.
pub fn holders(dev: u64) -> Vec<Holder> {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let on_dev = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.dev() == dev);
    let mut found = Vec::new();
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let dir = entry.path();
        let uses = ["cwd", "root", "exe"].iter().any(|l| on_dev(&dir.join(l)))
            || std::fs::read_dir(dir.join("fd"))
                .map(|fds| fds.flatten().any(|fd| on_dev(&fd.path())))
                .unwrap_or(false)
            || maps_device(&dir.join("maps"), dev);
        if uses {
            let command = std::fs::read_to_string(dir.join("comm"))
                .unwrap_or_default()
                .trim()
                .to_string();
            found.push(Holder { pid, command });
        }
    }
    found.sort_by_key(|h| h.pid);
    found
}

fn maps_device(maps: &Path, dev: u64) -> bool {
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let want = format!("{major:02x}:{minor:02x}");
    std::fs::read_to_string(maps)
        .map(|text| {
            text.lines()
                .any(|l| l.split_whitespace().nth(3) == Some(want.as_str()))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_ourselves_on_our_cwd_device() {
        let dev = std::fs::metadata(".").unwrap().dev();
        let me = std::process::id();
        assert!(holders(dev).iter().any(|h| h.pid == me));
        assert!(holders(u64::MAX).is_empty());
    }
}
