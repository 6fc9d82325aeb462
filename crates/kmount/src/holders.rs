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
    /// Real, effective, saved and file-system uid (empty if unknown).
    pub uids: Vec<u32>,
}

impl Holder {
    /// Whether every uid of the process is `uid`: a process of that user
    /// alone, not a setuid program it started.
    pub fn is_only_of(&self, uid: u32) -> bool {
        !self.uids.is_empty() && self.uids.iter().all(|&u| u == uid)
    }
}

/// The four uids of /proc/PID/status's `Uid:` line.
fn uids(status: &Path) -> Vec<u32> {
    std::fs::read_to_string(status)
        .ok()
        .and_then(|text| {
            let line = text.lines().find_map(|l| l.strip_prefix("Uid:"))?;
            line.split_whitespace().map(|u| u.parse().ok()).collect()
        })
        .unwrap_or_default()
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
            let uids = uids(&dir.join("status"));
            found.push(Holder { pid, command, uids });
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
        let uid = rustix::process::getuid().as_raw();
        assert!(holders(dev)
            .iter()
            .any(|h| h.pid == me && h.is_only_of(uid)));
        assert!(holders(dev)
            .iter()
            .any(|h| h.pid == me && !h.is_only_of(uid + 1)));
        assert!(holders(u64::MAX).is_empty());
    }
}
