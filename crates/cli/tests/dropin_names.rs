//! The original framework's tool names, installed as symlinks to `bale` by
//! `scripts/install-dropins.sh`: each one run with the original flags does
//! the real operation (as root, or as an unprivileged user through the
//! test site's sudo rule), and an unknown flag is one line and exit 2.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::frame::{self, squashfs_image, Mounts};
use support::{bale, dropin, ok, run_ok};

/// `cleanup` and `umount-all --cleanup` repair the whole node: these tests
/// must not see each other's mounts half done.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs drop-in `name` as root.
fn root(name: &str, args: &[&str]) -> Output {
    Command::new(dropin(name)).args(args).output().unwrap()
}

/// Runs drop-in `name` as `user`.
fn user(user: &str, name: &str, args: &[&str]) -> Output {
    frame::as_user(user, s(&dropin(name)), args)
}

/// A squashfs image of a small tree, readable by everyone, in `user`'s
/// fresh test directory `name`.
fn user_image(owner: &str, name: &str) -> (PathBuf, PathBuf) {
    let dir = frame::user_dir(owner, name);
    let image = squashfs_image(&dir, "img.sqfs");
    run_ok("chmod", &["644", s(&image)]);
    (dir, image)
}

fn mounted(mp: &Path) -> bool {
    !frame::mounts_below(mp).is_empty()
}

#[test]
fn create_user_image_makes_an_ext4_image_of_the_size_in_mb() {
    let _site = frame::site();
    let dir = frame::user_dir("bale-test", "dropin-create");
    let image = dir.join("u.img");
    ok(user(
        "bale-test",
        "create_user_image",
        &[s(&image), "-s", "32", "--verbosity", "1"],
    ));
    assert_eq!(std::fs::metadata(&image).unwrap().len(), 32 << 20);
    let header = ok(run_ok("dumpe2fs", &["-h", s(&image)]));
    let field = |name: &str| -> u64 {
        header
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("{name} missing: {header}"))
            .trim()
            .parse()
            .unwrap()
    };
    assert_eq!(field("Block count:") * field("Block size:"), 32 << 20);
    assert!(header.contains("extent"), "ext4: {header}");

    let again = user(
        "bale-test",
        "create_user_image",
        &[s(&image), "--size", "16"],
    );
    assert!(!again.status.success(), "exists without --overwrite");
    ok(user(
        "bale-test",
        "create_user_image",
        &[s(&image), "--size=16", "--overwrite"],
    ));
    assert_eq!(std::fs::metadata(&image).unwrap().len(), 16 << 20);
}

#[test]
fn create_software_image_packs_a_module_directory() {
    let _site = frame::site();
    let module = frame::versions().join("dropin-sw/1.0");
    let _ = std::fs::remove_dir_all(frame::versions().join("dropin-sw"));
    std::fs::create_dir_all(module.join("bin")).unwrap();
    std::fs::write(module.join("bin/hello"), "hello from dropin\n").unwrap();
    run_ok(
        "chmod",
        &["-R", "a+rX", s(&frame::versions().join("dropin-sw"))],
    );
    let work = frame::user_dir("root", "dropin-work");
    let image = frame::images().join("dropin-sw/1.0.sqfs");
    let args = [
        "dropin-sw/1.0",
        "--workdir",
        s(&work),
        "--oversize",
        "1.2",
        "-f",
        "--verbosity",
        "2",
    ];
    ok(root("create_software_image", &args));
    let out = bale()
        .args(["cat", s(&image), "bin/hello"])
        .output()
        .unwrap();
    assert_eq!(ok(out), "hello from dropin");
    let again = root("create_software_image", &["dropin-sw/1.0"]);
    assert!(!again.status.success(), "exists without --overwrite");
    ok(root(
        "create_software_image",
        &["dropin-sw/1.0", "--overwrite"],
    ));
}

#[test]
fn mount_image_mounts_a_user_image_for_a_job() {
    let _serial = serial();
    let _site = frame::site();
    let (dir, image) = user_image("bale-test", "dropin-mount");
    let mp = frame::user_mounts().join("bale-test/dropin-mount");
    let _m = Mounts {
        prefixes: vec![mp.clone(), dir],
    };
    frame::job("7801", "bale-test");
    let out = user(
        "bale-test",
        "mount_image",
        &[s(&image), "--rw", "--job_id", "7801"],
    );
    let err = frame::refusal(&out, 3);
    assert!(err.contains("you may not write it"), "--rw passed: {err}");
    let shown = ok(user(
        "bale-test",
        "mount_image",
        &[s(&image), s(&mp), "--job_id", "7801"],
    ));
    assert_eq!(shown, mp.display().to_string());
    assert_eq!(std::fs::read_to_string(mp.join("d/f")).unwrap(), "img.sqfs");
    // Recorded for the job: released by the job's umount.
    ok(frame::bale_as(
        "bale-test",
        &["umount", s(&mp), "--job-id", "7801"],
    ));
    assert!(!mounted(&mp));
}

#[test]
fn umount_image_unmounts_what_was_mounted() {
    let _serial = serial();
    let _site = frame::site();
    let (dir, image) = user_image("bale-test", "dropin-umount");
    let mp = frame::user_mounts().join("bale-test/dropin-umount");
    let _m = Mounts {
        prefixes: vec![mp.clone(), dir.clone()],
    };
    frame::job("7802", "bale-test");
    ok(frame::bale_as(
        "bale-test",
        &["mount", s(&image), s(&mp), "--job-id", "7802"],
    ));
    assert!(mounted(&mp));
    ok(user(
        "bale-test",
        "umount_image",
        &[s(&mp), "--job_id", "7802", "--verbosity", "0"],
    ));
    assert!(!mounted(&mp));
    assert!(frame::loops_below(&dir).is_empty());
}

#[test]
fn umount_all_images_releases_a_job() {
    let _serial = serial();
    let _site = frame::site();
    let (dir, image) = user_image("bale-test", "dropin-all");
    let (mpa, mpb) = (
        frame::user_mounts().join("bale-test/dropin-all-a"),
        frame::user_mounts().join("bale-test/dropin-all-b"),
    );
    let _m = Mounts {
        prefixes: vec![mpa.clone(), mpb.clone(), dir.clone()],
    };
    frame::job("7803", "bale-test");
    for mp in [&mpa, &mpb] {
        ok(frame::bale_as(
            "bale-test",
            &["mount", s(&image), s(mp), "--job-id", "7803"],
        ));
    }
    // The SLURM epilog, as root.
    ok(root(
        "umount_all_images",
        &["--job_id", "7803", "--kill", "--cleanup"],
    ));
    assert!(!mounted(&mpa) && !mounted(&mpb));
    assert!(frame::loops_below(&dir).is_empty());
}

/// A mount of a framework image on `mp` whose record is gone.
fn unreported_mount(name: &str) -> (PathBuf, PathBuf, Mounts) {
    let (dir, image) = user_image("root", name);
    let mp = frame::user_mounts().join("root").join(name);
    let m = Mounts {
        prefixes: vec![mp.clone(), dir],
    };
    bale().args(["mount", s(&image), s(&mp)]).assert().success();
    frame::forget_record("root", &mp);
    (image, mp, m)
}

#[test]
fn list_images_shows_what_nobody_reported() {
    let _serial = serial();
    let _site = frame::site();
    let (_image, mp, _m) = unreported_mount("dropin-list");
    let plain = ok(root("list_images", &["--verbosity", "1"]));
    assert!(!plain.contains(s(&mp)), "no record, not listed: {plain}");
    let listed = ok(root("list_images", &["--unreported"]));
    assert!(listed.contains(s(&mp)), "{listed}");
}

#[test]
fn cleanup_images_repairs_with_cleanup_only() {
    let _serial = serial();
    let _site = frame::site();
    let (image, mp, _m) = unreported_mount("dropin-cleanup");
    let dry = ok(root("cleanup_images", &["--verbosity", "1"]));
    assert!(dry.contains(s(&mp)), "{dry}");
    assert!(mounted(&mp), "without --cleanup nothing changes");
    ok(root(
        "cleanup_images",
        &["--cleanup", "--kill", "--verbosity", "2"],
    ));
    assert!(!mounted(&mp));
    assert!(frame::loops_below(&image).is_empty());
}

#[test]
fn an_unknown_flag_is_one_line_naming_the_tool_and_the_flag() {
    let out = Command::new(dropin("mount_image"))
        .args(["some.img", "--bogus"])
        .output()
        .unwrap();
    let err = frame::refusal(&out, 2);
    assert_eq!(err.trim(), "mount_image: unknown flag --bogus");
    // Under its own name, bale is itself.
    let out = Command::new(support::bale_path())
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
}
