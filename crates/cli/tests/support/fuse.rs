//! FUSE mounts for tests: `bale mount` as root or as an unprivileged test
//! user, a guard that always unmounts (lazily) on drop, the mount table,
//! the server processes of a mount point, and the test users.

use super::{bale, run, run_ok};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The unprivileged user that mounts; [`OTHER_USER`] is someone else.
pub const TEST_USER: &str = "bale-test";
pub const OTHER_USER: &str = "bale-other";

/// Creates the test users if missing (idempotent; needs root) and checks
/// that unprivileged users can open /dev/fuse (scripts/test.sh sets it up).
pub fn ensure_users() {
    super::require_root();
    for user in [TEST_USER, OTHER_USER] {
        if !run("id", &["-u", user]).status.success() {
            let out = run("useradd", &["-m", user]);
            // A concurrent test may have created it meanwhile.
            assert!(
                out.status.success() || run("id", &["-u", user]).status.success(),
                "useradd {user}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let mode = std::fs::metadata("/dev/fuse")
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()))
        .expect("/dev/fuse missing: the kernel needs FUSE");
    assert_eq!(
        mode & 0o006,
        0o006,
        "/dev/fuse is not usable by other users: run `chmod 0666 /dev/fuse` (scripts/test.sh does)"
    );
}

/// A command run as `user` (no supplementary groups).
pub fn as_user(user: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new("runuser");
    cmd.args(["-u", user, "--"]).arg(program);
    cmd
}

/// `bale` run as `user`.
pub fn bale_as(user: &str) -> Command {
    as_user(user, assert_cmd::cargo::cargo_bin("bale"))
}

/// Whether `dir` is a mount point, from /proc/self/mountinfo.
pub fn is_mounted(dir: &Path) -> bool {
    let dir = dir.to_str().unwrap().replace(' ', "\\040");
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(dir.as_str()))
}

/// Pids of `bale mount` servers whose command line names `dir`.
pub fn servers(dir: &Path) -> Vec<u32> {
    let out = run("pgrep", &["-f", &format!("bale mount .*{}", dir.display())]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Waits up to `limit` for `done`; false if it never held.
pub fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `bale mount` (detached server), unmounted lazily on drop.
pub struct FuseMount {
    pub dir: PathBuf,
    user: Option<String>,
}

impl FuseMount {
    /// Mounts `image` on `dir` (created if missing) as root.
    pub fn new(image: &Path, dir: &Path) -> FuseMount {
        std::fs::create_dir_all(dir).unwrap();
        bale().arg("mount").arg(image).arg(dir).assert().success();
        FuseMount {
            dir: dir.to_path_buf(),
            user: None,
        }
    }

    /// Mounts as `user`, who must own `dir` (created if missing).
    pub fn new_as(user: &str, image: &Path, dir: &Path, extra: &[&str]) -> FuseMount {
        std::fs::create_dir_all(dir).unwrap();
        run_ok("chown", &[user, dir.to_str().unwrap()]);
        let out = bale_as(user)
            .arg("mount")
            .arg(image)
            .arg(dir)
            .args(extra)
            .output()
            .unwrap();
        assert_ok(&out, "bale mount");
        FuseMount::adopt_as(user, dir)
    }

    /// Takes charge of a mount root made on `dir` some other way.
    pub fn adopt(dir: &Path) -> FuseMount {
        FuseMount::adopted(dir, None)
    }

    /// Takes charge of a mount `user` made on `dir` some other way.
    pub fn adopt_as(user: &str, dir: &Path) -> FuseMount {
        FuseMount::adopted(dir, Some(user.to_string()))
    }

    fn adopted(dir: &Path, user: Option<String>) -> FuseMount {
        assert!(is_mounted(dir), "{} is not mounted", dir.display());
        FuseMount {
            dir: dir.to_path_buf(),
            user,
        }
    }

    /// `bale umount` (as the mounting user), then checks that the mount
    /// and its server are gone.
    pub fn unmount(self, extra: &[&str]) {
        let mut cmd = match &self.user {
            Some(user) => bale_as(user),
            None => Command::new(assert_cmd::cargo::cargo_bin("bale")),
        };
        let out = cmd
            .arg("umount")
            .args(extra)
            .arg(&self.dir)
            .output()
            .unwrap();
        assert_ok(&out, "bale umount");
        assert_gone(&self.dir);
    }
}

/// Asserts that nothing is mounted on `dir` and no server for it runs.
pub fn assert_gone(dir: &Path) {
    assert!(!is_mounted(dir), "{} still mounted", dir.display());
    assert!(
        wait_for(Duration::from_secs(5), || servers(dir).is_empty()),
        "server for {} still running: {:?}",
        dir.display(),
        servers(dir)
    );
}

pub fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Drop for FuseMount {
    fn drop(&mut self) {
        if is_mounted(&self.dir) {
            let _ = run("umount", &["-l", self.dir.to_str().unwrap()]);
        }
    }
}
