//! How commands recognize a software module: by its place below
//! `$SI_MOUNT_PATH`, given to `bale umount` however it is spelled, and by
//! `NAME/VERSION` run from a directory where that is the module's own
//! directory rather than an image.

mod support;

use bale_registry::node::{Key, NodeState};
use std::path::Path;
use std::process::Output;
use support::frame::{self, bale_as};
use support::ok;

/// `bale ARGS` as `user`, in the working directory `dir`.
fn bale_in(user: &str, dir: &Path, args: &[&str]) -> Output {
    frame::as_user_command(user, env!("CARGO_BIN_EXE_bale"), args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// Whether `key`'s records on this node name `module`.
fn holds(key: &Key, module: &str) -> bool {
    let state = NodeState::snapshot(&frame::state()).unwrap().unwrap();
    let records = state.read(key).unwrap();
    records.iter().any(|r| r.module.as_deref() == Some(module))
}

/// The module's place, absolute, through a symlink, or relative to the
/// working directory, releases the module's record (the user's or the
/// job's); bale-other's share keeps the mount meanwhile.
#[test]
fn umount_of_a_modules_place_releases_the_module() {
    let _site = frame::site();
    let name = "place-umount";
    let (target, _mounts) = frame::guarded_module(name);
    let module = format!("{name}/1.0");
    frame::job("7011", "bale-test");
    let home = frame::user_dir("bale-test", "place-umount");
    let link = home.join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    ok(bale_as("bale-other", &["mount", &module]));
    let versions = frame::versions();
    let parent = target.parent().unwrap();
    let ways: [(&Path, &str, Option<&str>); 4] = [
        (Path::new("/"), target.to_str().unwrap(), None),
        (Path::new("/"), link.to_str().unwrap(), Some("7011")),
        (parent, "1.0", None),
        (&versions, &format!("./{module}"), Some("7011")),
    ];
    for (dir, named, job) in ways {
        let key = match job {
            Some(id) => Key::job(id).unwrap(),
            None => Key::user("bale-test").unwrap(),
        };
        let job_args: Vec<&str> = job.iter().flat_map(|id| ["--job-id", id]).collect();
        ok(bale_as(
            "bale-test",
            &[&["mount", &module][..], &job_args].concat(),
        ));
        assert!(holds(&key, &module));
        ok(bale_in(
            "bale-test",
            dir,
            &[&["umount", named][..], &job_args].concat(),
        ));
        assert!(!holds(&key, &module), "{named} in {}", dir.display());
        assert!(frame::mounts_below(&target).contains(&target));
    }
    ok(bale_as("bale-other", &["umount", target.to_str().unwrap()]));
    assert!(frame::mounts_below(&target).is_empty());
}

/// In `$SI_MOUNT_PATH`, `NAME/VERSION` is also the module's directory: it
/// is no image, so `mount`, `run` and `umount` take it for the module
/// (they took it for an image path: "not a regular file"). A file of that
/// name stays the image it names, and a directory of that form given to
/// `umount` elsewhere stays the mount point it names.
#[test]
fn name_version_naming_a_directory_is_the_module() {
    let _site = frame::site();
    let name = "place-relative";
    let (target, _mounts) = frame::guarded_module(name);
    let module = format!("{name}/1.0");
    let versions = frame::versions();
    ok(bale_in("bale-test", &versions, &["mount", &module]));
    let key = Key::user("bale-test").unwrap();
    assert!(holds(&key, &module));
    let hello = target.join("bin/hello");
    let ran = bale_in(
        "bale-test",
        &versions,
        &["run", &module, "--", "cat", hello.to_str().unwrap()],
    );
    assert_eq!(ok(ran), format!("hello from {name}"));
    ok(bale_in("bale-test", &versions, &["umount", &module]));
    assert!(!holds(&key, &module));
    assert!(frame::mounts_below(&target).is_empty());

    let home = frame::user_dir("bale-test", "place-relative");
    let _fuse = frame::Mounts {
        prefixes: vec![home.clone()],
    };
    std::fs::create_dir(home.join(name)).unwrap();
    frame::squashfs_image(&home.join(name), "1.0");
    support::run_ok("chown", &["-R", "bale-test:", home.to_str().unwrap()]);
    let mountpoint = frame::user_dir("bale-test", "place-relative-mnt");
    let spec = format!("{module}:{}", mountpoint.display());
    let file = mountpoint.join("d/f");
    let ran = bale_in(
        "bale-test",
        &home,
        &["run", &spec, "--", "cat", file.to_str().unwrap()],
    );
    assert_eq!(ok(ran), "1.0");
    let fuse = home.join("mnt/x");
    ok(frame::as_user(
        "bale-test",
        "mkdir",
        &["-p", fuse.to_str().unwrap()],
    ));
    let mount = ["mount", "--backend", "fuse", &module, "mnt/x"];
    ok(bale_in("bale-test", &home, &mount));
    assert_eq!(frame::mounts_below(&fuse), [fuse.as_path()]);
    ok(bale_in("bale-test", &home, &["umount", "mnt/x"]));
    assert!(frame::mounts_below(&fuse).is_empty());
}
