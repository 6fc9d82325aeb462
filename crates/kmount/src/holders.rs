//! Processes keeping a mount busy (like `fuser -m`): any whose working
//! directory, root, executable, open files or memory maps are on the mount's
//! device.
//!
//! `/proc/PID/status`, `comm` and `maps` are read as bytes: a process's
//! name and the paths it maps may be any bytes, and a holder missed for a
//! name that is not UTF-8 would go unnamed and unkilled.

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

/// The four uids of /proc/PID/status's `Uid:` line (after `Name:`, which
/// holds the process's name as it is).
fn uids(status: &Path) -> Vec<u32> {
    std::fs::read(status)
        .ok()
        .and_then(|text| {
            let line = lines(&text).find_map(|l| l.strip_prefix(b"Uid:"))?;
            line.split(u8::is_ascii_whitespace)
                .filter(|u| !u.is_empty())
                .map(|u| std::str::from_utf8(u).ok()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(|&b| b == b'\n')
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
            let comm = std::fs::read(dir.join("comm")).unwrap_or_default();
            let command = String::from_utf8_lossy(&comm).trim().to_string();
            let uids = uids(&dir.join("status"));
            found.push(Holder { pid, command, uids });
        }
    }
    found.sort_by_key(|h| h.pid);
    found
}

/// Whether process `pid` belongs to SLURM job `job`: its environment says
/// `SLURM_JOB_ID=job` (every process a job starts inherits it, also one
/// that left the job's process group or session), or its control group is
/// the job's (`…/job_JOB/…`, where `proctrack/cgroup` puts every task).
/// Needs root to read another user's environment.
pub fn in_job(pid: u32, job: &str) -> bool {
    let dir = Path::new("/proc").join(pid.to_string());
    let variable = format!("SLURM_JOB_ID={job}");
    let by_environment = std::fs::read(dir.join("environ"))
        .is_ok_and(|env| env.split(|&b| b == 0).any(|v| v == variable.as_bytes()));
    let group = format!("job_{job}");
    let by_cgroup = std::fs::read(dir.join("cgroup")).is_ok_and(|text| {
        lines(&text).any(|l| l.split(|&b| b == b'/').any(|part| part == group.as_bytes()))
    });
    by_environment || by_cgroup
}

fn maps_device(maps: &Path, dev: u64) -> bool {
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let want = format!("{major:02x}:{minor:02x}");
    std::fs::read(maps)
        .map(|text| {
            lines(&text).any(|l| {
                l.split(|&b| b == b' ').filter(|f| !f.is_empty()).nth(3) == Some(want.as_bytes())
            })
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

    /// Waits for `done`, failing the test after 10 s.
    fn within_10_s(done: impl Fn() -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !done() {
            assert!(std::time::Instant::now() < deadline, "not within 10 s");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    #[test]
    fn a_process_is_in_the_job_its_environment_names() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .env("SLURM_JOB_ID", "4711")
            .spawn()
            .unwrap();
        // The new program's environment shows once exec has set it up (its
        // name shows earlier, with an empty environment).
        let environ = Path::new("/proc")
            .join(child.id().to_string())
            .join("environ");
        within_10_s(|| !std::fs::read(&environ).unwrap().is_empty());
        let (in_it, in_other, in_prefix) = (
            in_job(child.id(), "4711"),
            in_job(child.id(), "4712"),
            in_job(child.id(), "471"),
        );
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(in_it && !in_other && !in_prefix);
    }

    #[test]
    fn a_process_whose_name_and_maps_are_not_utf8_is_found_whole() {
        use std::os::unix::ffi::OsStrExt;
        let tmp = tempfile::tempdir().unwrap();
        let program = tmp.path().join(std::ffi::OsStr::from_bytes(b"sl\xfe"));
        std::fs::copy("/bin/sleep", &program).unwrap();
        let mut child = std::process::Command::new(&program)
            .arg("30")
            .current_dir("/")
            .spawn()
            .unwrap();
        let dev = std::fs::metadata(tmp.path()).unwrap().dev();
        let proc_dir = Path::new("/proc").join(child.id().to_string());
        // The name shows in comm early in exec, the program's maps later:
        // wait for both.
        within_10_s(|| {
            std::fs::read(proc_dir.join("comm")).unwrap() == b"sl\xfe\n"
                && maps_device(&proc_dir.join("maps"), dev)
        });
        let uid = rustix::process::getuid().as_raw();
        let found = holders(dev).into_iter().find(|h| h.pid == child.id());
        child.kill().unwrap();
        child.wait().unwrap();
        let found = found.expect("the process running from the directory");
        assert!(found.is_only_of(uid), "{found:?}");
        assert_eq!(found.command, "sl\u{fffd}");
    }
}
