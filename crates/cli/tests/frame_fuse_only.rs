//! A site that allows only the FUSE backend (`backends = ["fuse"]`, for
//! sites that keep users' images away from the kernel's file systems):
//! the helper refuses every user image however it is asked, and still
//! mounts the admin's software modules.

mod support;

use support::frame::{self, bale_as, helper_as, refusal, Mounts, Options};
use support::ok;

const SITE: Options = Options {
    extra_config: "backends = [\"fuse\"]\n",
    ..Options::DEFAULT
};

#[test]
fn users_images_never_reach_the_kernel_but_modules_do() {
    let _site = frame::site_with(SITE);
    let home = frame::user_dir("bale-test", "fuseonly");
    let _mounts = Mounts {
        prefixes: vec![home.clone(), frame::user_mounts().join("bale-test")],
    };
    let image = home.join("rw.img");
    let img = image.to_str().unwrap();
    ok(bale_as("bale-test", &["create", img, "--size", "8M"]));
    let squashfs = frame::squashfs_image(&home, "ro.sqfs");
    let sqfs = squashfs.to_str().unwrap();
    let refused = "refused by rule backends";
    for attempt in [
        bale_as("bale-test", &["mount", "--backend", "kernel", "--rw", img]),
        bale_as("bale-test", &["mount", "--backend", "kernel", sqfs]),
        helper_as("bale-test", &["mount", "--rw", "--image", img]),
        bale_as(
            "bale-test",
            &["run", "--backend", "kernel", sqfs, "--", "true"],
        ),
    ] {
        let err = refusal(&attempt, 3);
        assert!(err.contains(refused), "{err}");
    }
    assert!(frame::mounts_below(&home).is_empty());
    assert!(frame::mounts_below(&frame::user_mounts()).is_empty());

    let (target, _module) = frame::guarded_module("fuseonlymod");
    assert_eq!(
        ok(bale_as("bale-test", &["mount", "fuseonlymod/1.0"])),
        target.display().to_string()
    );
    ok(bale_as("bale-test", &["umount", "fuseonlymod/1.0"]));
}
