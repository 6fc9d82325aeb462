//! Helpers shared by the integration tests: random source trees, a full
//! directory-to-directory comparison, kernel loop mounts and FUSE mounts
//! that clean up after themselves, a FUSE source tree that fails on cue,
//! and running commands as unprivileged users.
#![allow(dead_code)]

pub mod compare;
pub mod faulty_fs;
pub mod frame;
pub mod fuse;
pub mod fuse_conf;
pub mod gen;
pub mod gentle_tree;
pub mod modules;
pub mod nodes;
pub mod slurm;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `bale` binary under test.
pub fn bale() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("bale").expect("bale binary")
}

/// `bale pack --quiet SRC IMAGE EXTRA…`, asserting success.
pub fn pack(src: &Path, image: &Path, extra: &[&str]) {
    bale()
        .arg("pack")
        .arg(src)
        .arg(image)
        .args(extra)
        .arg("--quiet")
        .assert()
        .success();
}

/// Asserts that a finished command succeeded; its stdout, trimmed.
pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Checks an image against the tree it should hold three ways: our own
/// reader (`bale verify --against`), `unsquashfs -d` and a kernel loop
/// mount (sockets aside for unsquashfs, which does not restore them).
/// `work` holds the extracted copy and the mount point.
pub fn check_image(image: &Path, src: &Path, work: &Path) {
    let verified = bale()
        .arg("verify")
        .arg(image)
        .arg("--against")
        .arg(src)
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "bale verify --against differs:\n{}{}",
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );

    let out = work.join("unsquashed");
    unsquashfs(image, &out);
    let diffs = compare::diff_trees(
        src,
        &out,
        compare::Checks {
            sockets: false,
            ..compare::Checks::default()
        },
    );
    assert!(
        diffs.is_empty(),
        "unsquashfs differs from source:\n{}",
        diffs.join("\n")
    );

    let mount = KernelMount::new(image, &work.join("mnt"));
    let diffs = compare::diff_trees(src, &mount.dir, compare::Checks::default());
    assert!(
        diffs.is_empty(),
        "kernel mount differs from source:\n{}",
        diffs.join("\n")
    );
}

/// Runs a prepared command, asserts it succeeded (showing its stderr if
/// not) and returns its stdout.
pub fn succeed(cmd: &mut assert_cmd::Command) -> Vec<u8> {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Path of the `bale` binary, for spawning it by other means.
pub fn bale_path() -> PathBuf {
    assert_cmd::cargo::cargo_bin("bale")
}

/// The original framework's tool `name` (`mount_image`, …): a symlink to
/// the `bale` under test, installed once by `scripts/install-dropins.sh`
/// into a world-readable directory.
pub fn dropin(name: &str) -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join("bale-test-dropins");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/install-dropins.sh");
        run_ok(
            "sh",
            &[
                script.to_str().unwrap(),
                dir.to_str().unwrap(),
                bale_path().to_str().unwrap(),
            ],
        );
        run_ok("chmod", &["755", dir.to_str().unwrap()]);
        dir
    });
    let path = dir.join(name);
    assert!(path.is_symlink(), "{} not installed", path.display());
    path
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs a program in `dir` and returns its output.
pub fn run_in(program: &str, args: &[&str], dir: &Path) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Tests that need kernel mounts, chown or mknod run as root (CI does).
pub fn require_root() {
    assert!(
        is_root(),
        "this test needs root: run the suite as root (CI does)"
    );
}

/// Runs a program and returns its output, panicking if it cannot start.
pub fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program}: {e} (is it installed? see scripts/test.sh)")
        })
}

/// Runs a program and asserts it succeeded.
pub fn run_ok(program: &str, args: &[&str]) -> Output {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A read-only kernel mount of a squashfs image, unmounted on drop.
pub struct KernelMount {
    pub dir: PathBuf,
}

impl KernelMount {
    pub fn new(image: &Path, dir: &Path) -> KernelMount {
        std::fs::create_dir_all(dir).unwrap();
        run_ok(
            "mount",
            &[
                "-t",
                "squashfs",
                "-o",
                "loop,ro",
                image.to_str().unwrap(),
                dir.to_str().unwrap(),
            ],
        );
        KernelMount {
            dir: dir.to_path_buf(),
        }
    }
}

impl Drop for KernelMount {
    fn drop(&mut self) {
        let dir = self.dir.to_str().unwrap();
        if !run("umount", &[dir]).status.success() {
            let _ = run("umount", &["-l", dir]);
        }
    }
}

/// A mount namespace holding a copy of every mount — `target`'s included —
/// as a container or job step started now would; it ends when dropped.
pub struct NamespaceCopy(std::process::Child);

impl NamespaceCopy {
    pub fn of(target: &Path) -> NamespaceCopy {
        let child = std::process::Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sleep", "120"])
            .spawn()
            .expect("unshare (util-linux)");
        let copied = || {
            std::fs::read_to_string(format!("/proc/{}/mountinfo", child.id()))
                .is_ok_and(|m| m.contains(target.to_str().unwrap()))
        };
        assert!(
            fuse::wait_for(std::time::Duration::from_secs(5), copied),
            "no copy of {} in a new mount namespace",
            target.display()
        );
        NamespaceCopy(child)
    }
}

impl Drop for NamespaceCopy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A small tmpfs mounted on `dir` (created if missing), unmounted on drop
/// even when the test fails.
pub struct Tmpfs {
    pub dir: PathBuf,
}

impl Tmpfs {
    pub fn new(dir: &Path, size: &str) -> Tmpfs {
        require_root();
        std::fs::create_dir_all(dir).unwrap();
        let options = format!("size={size}");
        run_ok(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &options,
                "tmpfs",
                dir.to_str().unwrap(),
            ],
        );
        Tmpfs {
            dir: dir.to_path_buf(),
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = run("umount", &[self.dir.to_str().unwrap()]);
    }
}

/// `unsquashfs -d DEST IMAGE`, as root so owners and devices are restored.
pub fn unsquashfs(image: &Path, dest: &Path) {
    run_ok(
        "unsquashfs",
        &[
            "-no-progress",
            "-d",
            dest.to_str().unwrap(),
            image.to_str().unwrap(),
        ],
    );
}
