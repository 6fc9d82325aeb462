//! Paths that are not UTF-8 in the kernel's tables. Any user can make a
//! mount point of such a name, or rename the directory of a mounted image
//! to one: the mount table and the loop devices must still be read whole,
//! for everyone, and such a path must be usable as an argument.

mod support;

use serde_json::Value;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use support::frame::{self, as_user_command, Mounts};
use support::ok;

/// `dir/name`, `name` being bytes.
fn named(dir: &Path, name: &[u8]) -> PathBuf {
    dir.join(OsStr::from_bytes(name))
}

/// `bale ARGS PATH` as `user`, `PATH` not UTF-8.
fn bale_with_path(user: &str, args: &[&str], path: &Path) -> std::process::Output {
    as_user_command(user, env!("CARGO_BIN_EXE_bale"), args)
        .arg(path)
        .output()
        .unwrap()
}

fn list_json(user: &str) -> Value {
    serde_json::from_str(&ok(frame::bale_as(user, &["list", "--json"]))).unwrap()
}

/// A user's FUSE mount on a directory named `m\xfe` leaves `list`, its
/// JSON, `cleanup`, module loads and unloads working for every user; the
/// owner unmounts it by its name.
#[test]
fn a_mount_point_that_is_not_utf8_breaks_nothing_for_anyone() {
    let _site = frame::site();
    let name = "non-utf8-mod";
    let (target, _module_mounts) = frame::guarded_module(name);
    let module = format!("{name}/1.0");
    let home = frame::user_dir("bale-test", "non-utf8-fuse");
    let _mounts = Mounts {
        prefixes: vec![home.clone()],
    };
    let image = frame::squashfs_image(&home, "u.sqfs");
    let mountpoint = named(&home, b"m\xfe");
    std::fs::create_dir(&mountpoint).unwrap();
    std::os::unix::fs::chown(&mountpoint, Some(frame::uid("bale-test")), None).unwrap();
    ok(bale_with_path(
        "bale-test",
        &["mount", "--backend", "fuse", image.to_str().unwrap()],
        &mountpoint,
    ));

    let listed = ok(frame::bale_as("bale-other", &["list"]));
    let shown = format!("$'{}/m\\xFE'", home.display());
    assert!(listed.contains(&shown), "{listed}");
    let fuse = &list_json("bale-other")["fuse"];
    let lossy = mountpoint.to_string_lossy();
    assert!(
        fuse.as_array()
            .unwrap()
            .iter()
            .any(|f| f["mountpoint"] == *lossy),
        "{fuse}"
    );
    ok(support::bale().args(["cleanup"]).output().unwrap());
    ok(frame::bale_as(
        "bale-other",
        &["module-hook", "-v", "load", &module],
    ));
    assert!(frame::mounts_below(&target).contains(&target));
    ok(frame::bale_as(
        "bale-other",
        &["module-hook", "unload", &module],
    ));
    assert!(!frame::mounts_below(&target).contains(&target));

    ok(bale_with_path("bale-test", &["umount"], &mountpoint));
    assert!(frame::mounts_below(&home).is_empty());
}

/// A read-write image whose directory is renamed to `\xff` while mounted
/// is still mounted: `list` says so, and `cleanup` keeps its record and its
/// lock line (dropping them would let another node mount it read-write).
#[test]
fn a_read_write_image_whose_directory_becomes_non_utf8_stays_locked() {
    let _site = frame::site();
    let home = frame::user_dir("bale-test", "non-utf8-rw");
    let mounted = frame::user_mounts().join("bale-test").join("rw");
    let _mounts = Mounts {
        prefixes: vec![mounted.clone(), home.clone()],
    };
    let (dir, moved) = (home.join("d"), named(&home, b"\xff"));
    std::fs::create_dir(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(frame::uid("bale-test")), None).unwrap();
    let image = dir.join("rw.img");
    let img = image.to_str().unwrap();
    ok(frame::bale_as(
        "bale-test",
        &["create", img, "--size", "16M"],
    ));
    ok(frame::bale_as("bale-test", &["mount", img, "--rw"]));
    std::fs::rename(&dir, &moved).unwrap();

    let listed = ok(frame::bale_as("bale-test", &["list"]));
    assert!(listed.contains("mounted from /dev/loop"), "{listed}");
    assert!(listed.contains("\\xFF/rw.img"), "{listed}");
    let loops = &list_json("bale-test")["loops"];
    let lossy = moved.join("rw.img").to_string_lossy().into_owned();
    assert!(
        loops
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["image"] == *lossy),
        "{loops}"
    );
    let cleanup = ok(support::bale()
        .args(["cleanup", "--cleanup"])
        .output()
        .unwrap());
    assert!(!cleanup.contains("dropped stale record"), "{cleanup}");
    let lock = std::fs::read_to_string(moved.join("rw.img.lock")).unwrap();
    assert!(lock.starts_with("rw "), "{lock}");

    std::fs::rename(&moved, &dir).unwrap();
    ok(frame::bale_as(
        "bale-test",
        &["umount", mounted.to_str().unwrap()],
    ));
    assert!(frame::mounts_below(&mounted).is_empty());
    let lock = std::fs::read_to_string(dir.join("rw.img.lock")).unwrap_or_default();
    assert!(lock.is_empty(), "{lock}");
}
