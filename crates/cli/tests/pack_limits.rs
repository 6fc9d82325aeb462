//! Packs under the limits login nodes set (`ulimit -v`, `ulimit -n`), of
//! trees deeper than the kernel takes a path at once (PATH_MAX), and of
//! times squashfs cannot hold: they work, or say which limit they met.

mod support;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;
use support::*;

/// `bale pack -q SRC IMAGE` under `prlimit LIMITS` (util-linux).
fn pack_under(limits: &[&str], src: &Path, image: &Path) -> std::process::Output {
    Command::new("prlimit")
        .args(limits)
        .arg(support::bale_path())
        .args(["pack", "-q"])
        .args([src, image])
        .output()
        .expect("prlimit (util-linux)")
}

/// `depth` nested directories named `name` below `root`, and a file at
/// the bottom; made by descriptor, so beyond PATH_MAX too.
fn nest(root: &Path, name: &[u8], depth: usize) {
    use rustix::fs::{mkdirat, openat, Mode, OFlags};
    let mut dir =
        rustix::fs::open(root, OFlags::DIRECTORY | OFlags::RDONLY, Mode::empty()).unwrap();
    for _ in 0..depth {
        mkdirat(&dir, name, Mode::from_raw_mode(0o755)).unwrap();
        dir = openat(
            &dir,
            name,
            OFlags::DIRECTORY | OFlags::RDONLY,
            Mode::empty(),
        )
        .unwrap();
    }
    let file = openat(
        &dir,
        "bottom",
        OFlags::CREATE | OFlags::WRONLY,
        Mode::from_raw_mode(0o644),
    )
    .unwrap();
    rustix::io::write(&file, b"at the bottom\n").unwrap();
}

#[test]
fn a_pack_fits_a_one_gib_address_space_and_64_open_files() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    for d in 0..20 {
        let dir = src.join(format!("a{d}/b/c/d/e"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..20 {
            std::fs::write(
                dir.join(format!("f{f}")),
                format!("{d} {f}\n").repeat(f * 50),
            )
            .unwrap();
        }
    }
    let image = work.path().join("i.sqfs");
    let out = pack_under(&["--as=1073741824", "--nofile=64"], &src, &image);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    check_image(&image, &src, work.path());
}

#[test]
fn paths_longer_than_path_max_are_packed() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    std::fs::create_dir(&src).unwrap();
    // 20 levels of 255-byte names: 5,120 bytes of path.
    nest(&src, &[b'x'; 255], 20);
    let image = work.path().join("deep.sqfs");
    pack(&src, &image, &[]);
    let listed = ok(Command::new("unsquashfs")
        .arg("-lls")
        .arg(&image)
        .output()
        .unwrap());
    let bottom = listed
        .lines()
        .find(|l| l.ends_with("/bottom"))
        .expect(&listed);
    assert!(bottom.len() > 5000, "{bottom}");
    let mut inner = Vec::new();
    for _ in 0..20 {
        inner.extend_from_slice(&[b'x'; 255]);
        inner.push(b'/');
    }
    inner.extend_from_slice(b"bottom");
    let cat = bale()
        .arg("cat")
        .arg(&image)
        .arg(OsStr::from_bytes(&inner))
        .output()
        .unwrap();
    assert_eq!(ok(cat), "at the bottom");
}

#[test]
fn a_tree_deeper_than_a_scan_threads_stack_is_refused_in_one_line() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    std::fs::create_dir(&src).unwrap();
    // Under 1 GiB of address space a scan thread gets 8 MiB: 1,365 levels
    // (512 in a debug build).
    nest(&src, b"d", 1400);
    let image = work.path().join("deep.sqfs");
    let out = pack_under(&["--as=1073741824"], &src, &image);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(" directory levels deep (more than a scan thread's stack holds)"),
        "{err}"
    );
    assert!(!image.exists());
}

#[test]
fn times_squashfs_cannot_hold_are_clamped_with_a_warning_and_verify_tells() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    std::fs::create_dir(&src).unwrap();
    for (name, date) in [
        ("pre1970", "1960-01-01 UTC"),
        ("post2106", "2107-01-01 UTC"),
        ("fine", "2100-01-01 UTC"),
    ] {
        std::fs::write(src.join(name), name).unwrap();
        run_ok("touch", &["-d", date, src.join(name).to_str().unwrap()]);
    }
    let image = work.path().join("t.sqfs");
    let out = bale()
        .arg("pack")
        .arg("-q")
        .arg(&src)
        .arg(&image)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("warning: 2 entries have modification times before 1970 or after 2106"),
        "{err}"
    );
    let listed = ok(Command::new("unsquashfs")
        .args(["-lln", "-UTC"])
        .arg(&image)
        .output()
        .unwrap());
    assert!(
        listed
            .lines()
            .any(|l| l.contains("1970-01-01 00:00") && l.ends_with("/pre1970")),
        "{listed}"
    );
    assert!(
        listed
            .lines()
            .any(|l| l.contains("2106-02-07 06:28") && l.ends_with("/post2106")),
        "{listed}"
    );
    let verified = bale()
        .arg("verify")
        .arg(&image)
        .arg("--against")
        .arg(&src)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&verified.stdout);
    assert!(
        said.contains("pre1970: mtime: image 0, tree -315619200"),
        "{said}"
    );
    assert!(
        said.contains("post2106: mtime: image 4294967295, tree 4323283200"),
        "{said}"
    );
    assert!(!said.contains("fine"), "{said}");
}

#[test]
fn a_deep_tree_needs_no_open_file_per_level() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    std::fs::create_dir(&src).unwrap();
    nest(&src, b"d", 1000);
    let image = work.path().join("deep.sqfs");
    let out = pack_under(&["--nofile=64"], &src, &image);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = ok(Command::new("unsquashfs")
        .arg("-lls")
        .arg(&image)
        .output()
        .unwrap());
    assert!(listed.lines().any(|l| l.ends_with("/d/bottom")), "{listed}");
}
