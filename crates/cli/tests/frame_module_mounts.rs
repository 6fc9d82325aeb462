//! A software module's one mount and who sees it: an image the admin
//! moves aside while it is mounted keeps serving new loads, and a `bale
//! run` with the FUSE backend uses the module the node has mounted.

mod support;

use support::frame::{self, bale_as};
use support::{ok, run_ok};

/// `mv 1.0.sqfs 1.0.sqfs.old` and a new `1.0.sqfs`, while mounted: the
/// loop device's backing file now has another name, yet the mount is the
/// module's; new loads are counted on it (they were refused, "is or
/// crosses a mount point", and used it unrecorded), and it goes with the
/// last release.
#[test]
fn a_module_image_moved_aside_while_mounted_still_serves_new_loads() {
    let _site = frame::site();
    let (target, _mounts) = frame::guarded_module("movedmod");
    let image = frame::images().join("movedmod/1.0.sqfs");
    ok(bale_as("bale-test", &["mount", "movedmod/1.0"]));
    let aside = image.with_extension("sqfs.old");
    std::fs::rename(&image, &aside).unwrap();
    run_ok("cp", &[aside.to_str().unwrap(), image.to_str().unwrap()]);
    ok(bale_as("bale-other", &["mount", "movedmod/1.0"]));
    let first = ok(bale_as("bale-test", &["umount", "movedmod/1.0"]));
    assert!(first.contains("still used by 1 other"), "{first}");
    assert!(frame::is_mounted(&target));
    ok(bale_as("bale-other", &["umount", "movedmod/1.0"]));
    assert!(!frame::is_mounted(&target));
}

/// As with the kernel backend, the command simply sees a module the node
/// has mounted (it used to fail: "something is already mounted there").
#[test]
fn a_fuse_run_uses_the_module_the_node_has_mounted() {
    let _site = frame::site();
    let (target, _mounts) = frame::guarded_module("runmod");
    ok(bale_as("bale-test", &["mount", "runmod/1.0"]));
    let hello = target.join("bin/hello");
    let out = bale_as(
        "bale-other",
        &[
            "run",
            "--backend",
            "fuse",
            "runmod/1.0",
            "--",
            "cat",
            hello.to_str().unwrap(),
        ],
    );
    assert_eq!(ok(out), "hello from runmod");
    ok(bale_as("bale-test", &["umount", "runmod/1.0"]));
}
