//! Bad input and interrupted packs: one clear line naming the file, a
//! non-zero exit, and never a partial or clobbered image.

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::*;

/// Files in `dir` other than `keep`, e.g. leftover temporary files.
fn leftovers(dir: &Path, keep: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !keep.contains(&n.as_str()))
        .collect()
}

fn one_line_error(out: &std::process::Output, needle: &str) {
    assert!(!out.status.success(), "should fail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line expected: {stderr}");
    assert!(stderr.contains(needle), "{needle:?} not in: {stderr}");
}

#[test]
fn missing_or_non_directory_source_is_named() {
    let w = tempfile::tempdir().unwrap();
    let out = bale()
        .arg("pack")
        .arg(w.path().join("nope"))
        .arg(w.path().join("i"))
        .output()
        .unwrap();
    one_line_error(&out, "nope: No such file or directory");
    std::fs::write(w.path().join("file"), "x").unwrap();
    let out = bale()
        .arg("pack")
        .arg(w.path().join("file"))
        .arg(w.path().join("i"))
        .output()
        .unwrap();
    one_line_error(&out, "file: not a directory");
    assert_eq!(leftovers(w.path(), &["file"]), Vec::<String>::new());
}

#[test]
fn existing_image_is_kept_unless_forced() {
    let w = tempfile::tempdir().unwrap();
    std::fs::create_dir(w.path().join("src")).unwrap();
    std::fs::write(w.path().join("src/f"), "data").unwrap();
    let image = w.path().join("i.sqfs");
    std::fs::write(&image, "precious").unwrap();
    let out = bale()
        .arg("pack")
        .arg(w.path().join("src"))
        .arg(&image)
        .output()
        .unwrap();
    one_line_error(&out, "i.sqfs: already exists (use --force to overwrite)");
    assert_eq!(std::fs::read(&image).unwrap(), b"precious");
    bale()
        .args(["pack", "-q", "-f"])
        .arg(w.path().join("src"))
        .arg(&image)
        .assert()
        .success();
    assert_eq!(&std::fs::read(&image).unwrap()[..4], b"hsqs");
    assert_eq!(
        leftovers(w.path(), &["src", "i.sqfs"]),
        Vec::<String>::new()
    );
}

/// Runs bale as the unprivileged `nobody` user.
fn bale_as_nobody(args: &[&Path]) -> std::process::Output {
    require_root();
    let bin = assert_cmd::cargo::cargo_bin("bale");
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(bin)
        .arg("pack");
    cmd.args(args).output().unwrap()
}

fn world_writable_tree() -> tempfile::TempDir {
    let w = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(w.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::create_dir(w.path().join("src")).unwrap();
    std::fs::write(w.path().join("src/ok"), "fine").unwrap();
    std::fs::write(w.path().join("src/secret"), "hidden").unwrap();
    std::fs::set_permissions(
        w.path().join("src/secret"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    w
}

#[test]
fn unreadable_file_fails_by_default_and_is_skipped_on_request() {
    let w = world_writable_tree();
    let image = w.path().join("i.sqfs");
    let out = bale_as_nobody(&[&w.path().join("src"), &image]);
    one_line_error(&out, "src/secret: Permission denied");
    assert!(!image.exists());
    assert_eq!(leftovers(w.path(), &["src"]), Vec::<String>::new());

    let out = bale_as_nobody(&[
        Path::new("--skip-unreadable"),
        &w.path().join("src"),
        &image,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 unreadable entries left out"), "{stderr}");
    let list =
        String::from_utf8(run_ok("unsquashfs", &["-lln", image.to_str().unwrap()]).stdout).unwrap();
    assert!(
        list.contains("squashfs-root/ok") && !list.contains("secret"),
        "{list}"
    );
}

#[test]
fn full_disk_leaves_no_image() {
    require_root();
    let w = tempfile::tempdir().unwrap();
    let src = w.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let mut rng = support::gen::Rng::new(5);
    for i in 0..8 {
        std::fs::write(src.join(format!("r{i}")), rng.bytes(1 << 20)).unwrap();
    }
    let small = Tmpfs::new(&w.path().join("small"), "2m");
    let out = bale()
        .arg("pack")
        .arg(&src)
        .arg(small.dir.join("i.sqfs"))
        .output()
        .unwrap();
    let left = leftovers(&small.dir, &[]);
    drop(small);
    one_line_error(&out, "No space left on device");
    assert_eq!(left, Vec::<String>::new(), "files left on the full disk");
}

#[test]
fn sigterm_and_sigint_leave_nothing_behind() {
    for signal in [rustix::process::Signal::TERM, rustix::process::Signal::INT] {
        let w = tempfile::tempdir().unwrap();
        let src = w.path().join("src");
        std::fs::create_dir(&src).unwrap();
        let mut rng = support::gen::Rng::new(9);
        for i in 0..40 {
            std::fs::write(src.join(format!("r{i}")), rng.bytes(1 << 20)).unwrap();
        }
        let image = w.path().join("i.sqfs");
        // xz on random data with one thread is slow enough to interrupt.
        let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("bale"))
            .args(["pack", "-c", "xz", "-j", "1"])
            .arg(&src)
            .arg(&image)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while leftovers(w.path(), &["src"]).is_empty() {
            assert!(Instant::now() < deadline, "pack never started writing");
            std::thread::sleep(Duration::from_millis(10));
        }
        let pid = rustix::process::Pid::from_child(&child);
        rustix::process::kill_process(pid, signal).unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(130),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
        assert_eq!(
            leftovers(w.path(), &["src"]),
            Vec::<String>::new(),
            "after {signal:?}"
        );
    }
}
