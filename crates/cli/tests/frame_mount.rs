//! The image framework end to end, as root and as unprivileged users
//! calling the helper through a real sudo rule: software modules mounted
//! once per node and reference counted, user images read-only and
//! read-write, create and resize, and `create-software`.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;
use support::frame::{self, bale_as, refusal, Mounts};
use support::fuse::wait_for;
use support::{ok, run_ok};

fn mount_count(target: &Path) -> usize {
    frame::mounts_below(target)
        .iter()
        .filter(|t| *t == target)
        .count()
}

fn lock_lines(image: &Path) -> Vec<String> {
    let lock = PathBuf::from(format!("{}.lock", image.display()));
    std::fs::read_to_string(lock)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_software_module_is_mounted_once_for_all_its_users_and_goes_with_the_last() {
    let _site = frame::site();
    let name = "refcount-basic";
    let (target, _mounts) = frame::guarded_module(name);
    let image = frame::images().join(name).join("1.0.sqfs");
    frame::job("7001", "bale-test");
    let module = format!("{name}/1.0");

    assert_eq!(
        ok(bale_as("bale-test", &["mount", &module])),
        target.display().to_string()
    );
    let mounts = bale_registry::mountinfo::read().unwrap();
    let m = bale_registry::mountinfo::mounted_at(&mounts, &target).unwrap();
    assert_eq!(m.fstype, "squashfs");
    for opt in ["ro", "nosuid", "nodev"] {
        assert!(
            m.options.split(',').any(|o| o == opt),
            "{opt} missing in {}",
            m.options
        );
    }
    let hello = frame::as_user(
        "bale-other",
        "cat",
        &[target.join("bin/hello").to_str().unwrap()],
    );
    assert_eq!(ok(hello), format!("hello from {name}"));
    ok(bale_as("bale-other", &["mount", &module]));
    ok(bale_as(
        "bale-test",
        &["mount", &module, "--job-id", "7001"],
    ));
    assert_eq!(mount_count(&target), 1, "one mount for all users");
    assert_eq!(frame::loops_below(&frame::images().join(name)).len(), 1);
    assert_eq!(lock_lines(&image).len(), 1, "{:?}", lock_lines(&image));

    ok(bale_as("bale-test", &["umount", &module]));
    ok(bale_as(
        "bale-test",
        &["umount", &module, "--job-id", "7001"],
    ));
    assert_eq!(mount_count(&target), 1, "bale-other still uses it");
    ok(bale_as("bale-other", &["umount", &module]));
    assert_eq!(mount_count(&target), 0);
    assert!(
        frame::loops_below(&frame::images().join(name)).is_empty(),
        "autoclear detached the loop device"
    );
    assert!(lock_lines(&image).is_empty(), "{:?}", lock_lines(&image));
    // The original directory is usable again.
    assert!(target.join("bin/hello").is_file());
    // Unmounting what one does not hold is an error, not a crash.
    let out = bale_as("bale-test", &["umount", &module]);
    assert!(refusal(&out, 1).contains("not mounted for user bale-test"));
}

#[test]
fn many_concurrent_users_and_jobs_share_exactly_one_mount() {
    let _site = frame::site();
    let name = "refcount-race";
    let (target, _mounts) = frame::guarded_module(name);
    let module = format!("{name}/1.0");
    let workers: Vec<_> = (0..6)
        .map(|i| {
            let user = if i % 2 == 0 {
                "bale-test"
            } else {
                "bale-other"
            };
            let job = format!("72{i:02}");
            frame::job(&job, user);
            let (module, target) = (module.clone(), target.clone());
            std::thread::spawn(move || {
                for _ in 0..4 {
                    ok(bale_as(user, &["mount", &module, "--job-id", &job]));
                    assert_eq!(mount_count(&target), 1, "exactly one mount while used");
                    ok(bale_as(user, &["umount", &module, "--job-id", &job]));
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(mount_count(&target), 0, "none after");
    assert!(frame::loops_below(&frame::images().join(name)).is_empty());
    let state = bale_registry::node::NodeState::lock(&frame::state()).unwrap();
    let left: Vec<_> = state
        .all()
        .unwrap()
        .into_iter()
        .flat_map(|(_, r)| r)
        .filter(|r| r.mountpoint == target)
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn user_images_read_only_and_read_write_with_create_and_resize() {
    let _site = frame::site();
    let home = frame::user_dir("bale-test", "rwcycle");
    let mounted = frame::user_mounts().join("bale-test").join("data");
    let _mounts = Mounts {
        prefixes: vec![mounted.clone(), home.clone()],
    };
    let src = home.join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("sub/a.txt"), "alpha\n").unwrap();
    run_ok("chown", &["-R", "bale-test:", home.to_str().unwrap()]);
    let image = home.join("data.img");
    let img = image.to_str().unwrap();
    ok(bale_as(
        "bale-test",
        &["create", img, "--from", src.to_str().unwrap()],
    ));

    assert_eq!(
        ok(bale_as("bale-test", &["mount", img, "--rw"])),
        mounted.display().to_string()
    );
    assert!(
        lock_lines(&image)[0].starts_with("rw "),
        "{:?}",
        lock_lines(&image)
    );
    let write = frame::as_user(
        "bale-test",
        "sh",
        &["-c", &format!("echo beta > {}/b.txt", mounted.display())],
    );
    ok(write);
    assert_eq!(
        std::fs::read_to_string(mounted.join("sub/a.txt")).unwrap(),
        "alpha\n"
    );
    // A second mount of a read-write image, even on this node, is refused.
    let other = frame::user_mounts().join("bale-test").join("data2");
    let out = bale_as("bale-test", &["mount", img, other.to_str().unwrap()]);
    assert!(refusal(&out, 3).contains("refused by rule cluster-lock"));
    assert!(!other.exists(), "a refused mount leaves no mount point");
    let out = bale_as("bale-test", &["resize", img, "64M"]);
    assert!(refusal(&out, 1).contains("resize needs it unmounted"));
    // Nor replaced: what is written there would go into an unlinked file.
    use std::os::unix::fs::MetadataExt;
    let before = std::fs::metadata(&image).unwrap().ino();
    let out = bale_as("bale-test", &["create", "-f", img, "--size", "20M"]);
    assert!(refusal(&out, 1).contains("replacing it needs it unmounted everywhere"));
    assert_eq!(std::fs::metadata(&image).unwrap().ino(), before);
    ok(bale_as("bale-test", &["umount", mounted.to_str().unwrap()]));
    assert!(lock_lines(&image).is_empty());
    assert!(!mounted.exists(), "the mount point goes with the mount");
    run_ok("e2fsck", &["-fn", img]);

    ok(bale_as("bale-test", &["resize", img, "64M"]));
    assert_eq!(std::fs::metadata(&image).unwrap().len(), 64 << 20);
    ok(bale_as("bale-test", &["mount", img]));
    assert_eq!(
        std::fs::read_to_string(mounted.join("b.txt")).unwrap(),
        "beta\n"
    );
    let write = frame::as_user(
        "bale-test",
        "sh",
        &["-c", &format!("echo x > {}/c.txt", mounted.display())],
    );
    assert!(!write.status.success(), "read-only without --rw");
    ok(bale_as("bale-test", &["umount", mounted.to_str().unwrap()]));

    // A `bale run` of it leaves no lock line, yet excludes --rw on its node.
    let ready = home.join("run-ready");
    let mut run = frame::as_user_command(
        "bale-test",
        env!("CARGO_BIN_EXE_bale"),
        &[
            "run",
            "--backend",
            "kernel",
            img,
            "--",
            "sh",
            "-c",
            &format!("touch {} && exec sleep 30", ready.display()),
        ],
    )
    .spawn()
    .unwrap();
    assert!(support::fuse::wait_for(
        std::time::Duration::from_secs(20),
        || ready.exists()
    ));
    let out = bale_as("bale-test", &["mount", img, "--rw"]);
    let err = refusal(&out, 3);
    assert!(err.contains("refused by rule cluster-lock"), "{err}");
    assert!(
        err.contains("attached to /dev/loop") && err.contains("by a bale run"),
        "{err}"
    );
    // SIGTERM travels runuser → bale → sudo → the command.
    let pid = rustix::process::Pid::from_child(&run);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    run.wait().unwrap();
    assert!(support::fuse::wait_for(
        std::time::Duration::from_secs(10),
        || frame::loops_below(&image).is_empty()
    ));

    // A squashfs image packed by the user mounts read-only, never --rw.
    let sqfs = home.join("data.sqfs");
    ok(bale_as(
        "bale-test",
        &["pack", "-q", src.to_str().unwrap(), sqfs.to_str().unwrap()],
    ));
    let out = bale_as("bale-test", &["mount", sqfs.to_str().unwrap(), "--rw"]);
    assert!(refusal(&out, 3).contains("refused by rule superblock"));
    ok(bale_as("bale-test", &["mount", sqfs.to_str().unwrap()]));
    assert_eq!(
        std::fs::read_to_string(mounted.join("sub/a.txt")).unwrap(),
        "alpha\n"
    );
    ok(bale_as("bale-test", &["umount", mounted.to_str().unwrap()]));
    assert!(frame::mounts_below(&mounted).is_empty());
    assert!(frame::loops_below(&home).is_empty());
}

#[test]
fn create_refuses_oversized_images_and_leaves_nothing_behind() {
    let _site = frame::site();
    let home = frame::user_dir("bale-test", "createbad");
    let image = home.join("huge.img");
    let out = bale_as(
        "bale-test",
        &["create", image.to_str().unwrap(), "--size", "2T"],
    );
    assert!(refusal(&out, 3).contains("refused by rule image-size"));
    std::fs::write(home.join("exists.img"), "x").unwrap();
    let out = bale_as(
        "bale-test",
        &[
            "create",
            home.join("exists.img").to_str().unwrap(),
            "--size",
            "8M",
        ],
    );
    assert!(refusal(&out, 1).contains("already exists"));
    let small = home.join("small.img");
    let out = bale_as(
        "bale-test",
        &["create", small.to_str().unwrap(), "--size", "1K"],
    );
    assert!(refusal(&out, 1).contains("small.img: --size 1024: an ext4 image needs at least 1M"));
    // Errors name the image, not the temporary file it is built in.
    let nowhere = home.join("no-dir/x.img");
    let out = bale_as(
        "bale-test",
        &["create", nowhere.to_str().unwrap(), "--size", "8M"],
    );
    assert_eq!(
        refusal(&out, 1).trim_end(),
        format!("bale: {}: No such file or directory", nowhere.display())
    );
    // A tree with a file the user cannot read: mke2fs's reason, not advice
    // about room that would not help.
    let tree = home.join("tree");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("secret"), "x").unwrap();
    run_ok("chmod", &["000", tree.join("secret").to_str().unwrap()]);
    let out = bale_as(
        "bale-test",
        &[
            "create",
            home.join("t.img").to_str().unwrap(),
            "--from",
            tree.to_str().unwrap(),
        ],
    );
    let err = refusal(&out, 1);
    assert!(
        err.contains("Permission denied") && !err.contains("oversize"),
        "{err}"
    );
    std::fs::remove_dir_all(&tree).unwrap();
    let names: Vec<_> = std::fs::read_dir(&home)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["exists.img"], "no partial image");
}

/// A grow that the file system under the image cannot hold stops half-way
/// (resize2fs then leaves the image with errors); `resize` says why,
/// returns the space and repairs the image at its old size, every file
/// kept; once there is room the same resize works.
#[test]
fn a_resize_that_runs_out_of_space_leaves_the_image_whole() {
    let _site = frame::site();
    let home = frame::user_dir("bale-test", "resizefull");
    let small = support::Tmpfs::new(&home.join("small"), "12M");
    let mounted = frame::user_mounts().join("bale-test").join("full");
    let _mounts = Mounts {
        prefixes: vec![mounted.clone(), home.clone()],
    };
    let src = home.join("src");
    std::fs::create_dir(&src).unwrap();
    for i in 0..40 {
        let bytes: Vec<u8> = (0..20_000u32).map(|b| (b * 7 + i) as u8).collect();
        std::fs::write(src.join(format!("f{i}")), bytes).unwrap();
    }
    run_ok("chown", &["-R", "bale-test:", home.to_str().unwrap()]);
    let image = small.dir.join("full.img");
    let img = image.to_str().unwrap();
    ok(bale_as("bale-test", &["create", img, "--size", "8M"]));
    ok(bale_as("bale-test", &["mount", img, "--rw"]));
    run_ok(
        "cp",
        &[
            "-a",
            &format!("{}/.", src.display()),
            mounted.to_str().unwrap(),
        ],
    );
    ok(bale_as("bale-test", &["umount", mounted.to_str().unwrap()]));

    // Leave 64 KiB free: less than the new groups' metadata.
    let free = rustix::fs::statvfs(&small.dir).unwrap();
    let filler = small.dir.join("filler");
    let room = free.f_bavail * free.f_frsize - (64 << 10);
    std::fs::write(&filler, vec![1u8; room as usize]).unwrap();
    let out = bale_as("bale-test", &["resize", img, "1G"]);
    let err = refusal(&out, 1);
    assert!(
        err.contains("full.img: resize2fs: ")
            && err
                .contains("the resize was abandoned and e2fsck repaired the image (8388608 bytes)"),
        "{err}"
    );
    assert_eq!(std::fs::metadata(&image).unwrap().len(), 8 << 20);
    run_ok("e2fsck", &["-fn", img]);
    ok(bale_as("bale-test", &["mount", img]));
    run_ok(
        "diff",
        &[
            "-r",
            "-x",
            "lost+found",
            src.to_str().unwrap(),
            mounted.to_str().unwrap(),
        ],
    );
    ok(bale_as("bale-test", &["umount", mounted.to_str().unwrap()]));

    std::fs::remove_file(&filler).unwrap();
    ok(bale_as("bale-test", &["resize", img, "1G"]));
    assert_eq!(std::fs::metadata(&image).unwrap().len(), 1 << 30);
    run_ok("e2fsck", &["-fn", img]);
}

#[test]
fn create_software_builds_in_the_workdir_and_replaces_the_image_atomically() {
    let _site = frame::site();
    let name = "create-sw";
    let module = format!("{name}/1.0");
    let dir = frame::software_module(name);
    let image = frame::images().join(name).join("1.0.sqfs");
    let work = frame::user_dir("root", "create-sw-work");
    let _mounts = Mounts {
        prefixes: vec![dir.clone(), frame::images().join(name), work.clone()],
    };
    let mode = std::os::unix::fs::PermissionsExt::mode(&image.metadata().unwrap().permissions());
    assert_eq!(mode & 0o7777, 0o644, "every user of the node may read it");
    let first = std::fs::read(&image).unwrap();
    let out = support::bale()
        .args(["create-software", &module])
        .output()
        .unwrap();
    assert!(refusal(&out, 1).contains("already exists (use -f to replace it)"));
    assert_eq!(std::fs::read(&image).unwrap(), first);

    // --oversize is accepted for the original tool's scripts and changes
    // nothing: the same tree packs to the same bytes.
    let work_arg = work.to_str().unwrap();
    let args = ["create-software", &module, "-f", "--workdir", work_arg];
    ok(support::bale()
        .args(args)
        .args(["--oversize", "1.5"])
        .output()
        .unwrap());
    assert_eq!(std::fs::read(&image).unwrap(), first);

    // Replaced by a rename: a reader of the old image keeps reading it.
    let mut old = std::fs::File::open(&image).unwrap();
    std::fs::write(dir.join("bin/hello"), "hello again\n").unwrap();
    ok(support::bale().args(args).output().unwrap());
    let mut kept = Vec::new();
    std::io::Read::read_to_end(&mut old, &mut kept).unwrap();
    assert_eq!(kept, first, "the old image was not written over");
    let out = support::bale()
        .args(["cat", image.to_str().unwrap(), "bin/hello"])
        .output()
        .unwrap();
    assert_eq!(ok(out), "hello again");
    let left: Vec<_> = std::fs::read_dir(&work).unwrap().collect();
    assert!(left.is_empty(), "nothing left in the workdir: {left:?}");

    // The module's directory is packed only while no image hides it.
    ok(bale_as("bale-test", &["mount", &module]));
    let out = support::bale().args(args).output().unwrap();
    assert!(refusal(&out, 1).contains("is mounted"));
    ok(bale_as("bale-test", &["umount", &module]));
}

/// Replaced by `create-software -f` on another node while mounted here,
/// a module's image keeps serving its old contents to this node's users
/// (no second mount on top of the first, so nothing changes under running
/// jobs and nothing stays behind); the first mount after the last release
/// gets the new image.
#[test]
fn a_module_image_replaced_while_mounted_serves_until_the_last_release() {
    let _site = frame::site();
    let name = "replaced-sw";
    let module = format!("{name}/1.0");
    let (dir, _mounts) = frame::guarded_module(name);
    let images = frame::images().join(name);
    let hello = dir.join("bin/hello");
    let old = format!("hello from {name}\n");
    ok(bale_as("bale-test", &["mount", &module]));
    assert_eq!(std::fs::read_to_string(&hello).unwrap(), old);

    // The other node packs the new version and renames it into place.
    let tree = tempfile::tempdir().unwrap();
    std::fs::create_dir(tree.path().join("bin")).unwrap();
    std::fs::write(tree.path().join("bin/hello"), "hello again\n").unwrap();
    let staged = images.join(".1.0.sqfs.new");
    ok(support::bale()
        .arg("pack")
        .args([tree.path(), staged.as_path()])
        .output()
        .unwrap());
    run_ok("chmod", &["644", staged.to_str().unwrap()]);
    std::fs::rename(&staged, images.join("1.0.sqfs")).unwrap();

    ok(bale_as("bale-other", &["mount", &module]));
    // `cleanup` sees both records held by that mount: nothing to repair.
    ok(support::bale()
        .args(["cleanup", "--cleanup"])
        .output()
        .unwrap());
    assert_eq!(frame::mounts_below(&dir).len(), 1, "one mount, shared");
    assert_eq!(std::fs::read_to_string(&hello).unwrap(), old);
    for user in ["bale-test", "bale-other"] {
        ok(bale_as(user, &["umount", &module]));
    }
    assert!(frame::mounts_below(&dir).is_empty(), "nothing left mounted");
    assert!(
        wait_for(Duration::from_secs(5), || frame::loops_below(&images)
            .is_empty()),
        "the old image's loop device is gone"
    );

    ok(bale_as("bale-test", &["mount", &module]));
    assert_eq!(std::fs::read_to_string(&hello).unwrap(), "hello again\n");
    ok(bale_as("bale-test", &["umount", &module]));
}

#[test]
fn a_busy_umount_names_the_holders_and_lazy_detaches_a_read_only_mount() {
    let _site = frame::site();
    let home = frame::user_dir("bale-test", "lazy");
    let mp = frame::user_mounts().join("bale-test").join("lazy");
    let rw_mp = frame::user_mounts().join("bale-test").join("lazy-rw");
    let _mounts = Mounts {
        prefixes: vec![mp.clone(), rw_mp.clone(), home.clone()],
    };
    let (image, mpath) = (
        frame::squashfs_image(&home, "lazy.sqfs"),
        mp.to_str().unwrap(),
    );
    run_ok("chmod", &["644", image.to_str().unwrap()]);
    ok(bale_as(
        "bale-test",
        &["mount", image.to_str().unwrap(), mpath],
    ));
    let mut holder = std::process::Command::new("sleep")
        .arg("300")
        .current_dir(&mp)
        .spawn()
        .unwrap();
    let out = bale_as("bale-test", &["umount", mpath]);
    let busy = format!("{mpath}: busy, in use by {} (sleep)", holder.id());
    assert!(refusal(&out, 4).contains(&busy), "names the holder");
    // Only a mount the caller may unmount anyway.
    let out = frame::helper_as("bale-other", &["umount", "--lazy", "--mountpoint", mpath]);
    assert!(refusal(&out, 1).contains("not mounted for user bale-other"));
    assert_eq!(mount_count(&mp), 1);

    ok(bale_as("bale-test", &["umount", "--lazy", mpath]));
    assert_eq!(mount_count(&mp), 0, "detached at once");
    assert!(lock_lines(&image).is_empty(), "{:?}", lock_lines(&image));
    let listed = ok(bale_as("bale-test", &["list"]));
    assert!(!listed.contains(mpath), "record released: {listed}");
    let cwd = format!("/proc/{}/cwd/d/f", holder.id());
    assert_eq!(
        std::fs::read_to_string(cwd).unwrap(),
        "lazy.sqfs",
        "the holder still reads it"
    );
    holder.kill().unwrap();
    holder.wait().unwrap();
    let gone = || frame::loops_below(&image).is_empty();
    assert!(
        support::fuse::wait_for(std::time::Duration::from_secs(5), gone),
        "the loop device goes with the last holder"
    );

    // A read-write image is never detached while in use.
    let ext4 = home.join("lazy.img");
    let ext4 = ext4.to_str().unwrap();
    ok(bale_as("bale-test", &["create", ext4, "--size", "16M"]));
    let rw_path = rw_mp.to_str().unwrap();
    ok(bale_as("bale-test", &["mount", ext4, rw_path, "--rw"]));
    let out = bale_as("bale-test", &["umount", "--lazy", rw_path]);
    let line = refusal(&out, 3);
    assert!(
        line.contains(&format!("refused by rule lazy-read-only: {rw_path}: ")),
        "{line}"
    );
    assert_eq!(mount_count(&rw_mp), 1);
    ok(bale_as("bale-test", &["umount", rw_path]));
    assert_eq!(mount_count(&rw_mp), 0);
}

/// The helper creates records, lock files and directories with the modes
/// it names whatever the caller's umask (a 077 umask once made the node's
/// records unreadable: `bale list` failed for everyone else), and gives a
/// command run under `bale run` the caller's umask back.
#[test]
fn a_callers_umask_reaches_the_command_but_not_what_the_helper_writes() {
    use std::os::unix::fs::PermissionsExt;
    let _site = frame::site();
    let name = "umask-077";
    let (target, _mounts) = frame::guarded_module(name);
    let image = frame::images().join(name).join("1.0.sqfs");
    let module = format!("{name}/1.0");
    let with_umask_077 = |args: &str| {
        let script = format!("umask 077 && exec {} {args}", env!("CARGO_BIN_EXE_bale"));
        frame::as_user("bale-test", "sh", &["-c", &script])
    };
    ok(with_umask_077(&format!("mount {module}")));
    let mode = |path: &Path| path.metadata().unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode(&PathBuf::from(format!("{}.lock", image.display()))),
        0o600,
        "the lock file's owner only (see frame_security)"
    );
    for entry in std::fs::read_dir(frame::state()).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() != ".lock" {
            assert_eq!(mode(&path), 0o644, "{}", path.display());
        }
    }
    let listed = ok(bale_as("bale-other", &["list"]));
    assert!(listed.contains(&module), "{listed}");
    let umask = ok(with_umask_077(&format!("run {module} -- sh -c umask")));
    assert_eq!(umask, "0077");
    ok(bale_as("bale-test", &["umount", &module]));
    assert_eq!(mount_count(&target), 0);
}

/// `bale umount IMAGE` releases every place the caller has the image
/// mounted on this node (a kernel mount through the helper, FUSE mounts),
/// and then says it is mounted nowhere of theirs. `SI_USR_MOUNT_PATH`,
/// gone as a tmpfs is after a reboot, is made again (root's, 0755).
#[test]
fn umount_of_an_image_releases_each_of_its_callers_mounts() {
    use std::os::unix::fs::MetadataExt;
    let _site = frame::site();
    let usr_root = frame::user_mounts();
    assert_eq!(frame::mounts_below(&usr_root), Vec::<PathBuf>::new());
    std::fs::remove_dir_all(&usr_root).unwrap();
    let home = frame::user_dir("bale-test", "umount-image");
    let image = frame::squashfs_image(&home, "tools.sqfs");
    run_ok("chown", &["bale-test:", image.to_str().unwrap()]);
    let fuse_dir = home.join("fuse");
    ok(frame::as_user(
        "bale-test",
        "mkdir",
        &[fuse_dir.to_str().unwrap()],
    ));
    let image_arg = image.to_str().unwrap();
    let kernel_dir = PathBuf::from(ok(bale_as("bale-test", &["mount", image_arg])));
    ok(bale_as(
        "bale-test",
        &[
            "mount",
            "--backend",
            "fuse",
            image_arg,
            fuse_dir.to_str().unwrap(),
        ],
    ));
    assert_eq!(mount_count(&kernel_dir) + mount_count(&fuse_dir), 2);
    let made = usr_root.metadata().unwrap();
    assert_eq!((made.uid(), made.mode() & 0o7777), (0, 0o755));
    ok(bale_as("bale-test", &["umount", image_arg]));
    assert_eq!(mount_count(&kernel_dir) + mount_count(&fuse_dir), 0);
    let out = bale_as("bale-test", &["umount", image_arg]);
    assert!(
        refusal(&out, 1).contains("tools.sqfs: not mounted by you on this node"),
        "{out:?}"
    );
}

/// A read-write image unmounted here while a copy of its mount lives on in
/// another mount namespace (a container started while it was mounted) is
/// still written there: this node's lock line stays, so no other node can
/// mount it read-write too, until that namespace ends.
#[test]
fn a_read_write_image_still_mounted_in_another_namespace_keeps_its_lock() {
    let _site = frame::site();
    let home = frame::user_dir("bale-test", "rw-elsewhere");
    let mounted = frame::user_mounts().join("bale-test").join("rwns");
    let _mounts = Mounts {
        prefixes: vec![mounted.clone(), home.clone()],
    };
    let image = home.join("rwns.img");
    let img = image.to_str().unwrap();
    ok(bale_as("bale-test", &["create", img, "--size", "16M"]));
    ok(bale_as("bale-test", &["mount", img, "--rw"]));
    let namespace = support::NamespaceCopy::of(&mounted);
    let out = bale_as("bale-test", &["umount", mounted.to_str().unwrap()]);
    let err = refusal(&out, 1);
    assert!(
        err.contains("still mounted read-write in another mount namespace"),
        "{err}"
    );
    assert_eq!(mount_count(&mounted), 0, "unmounted here");
    assert!(
        lock_lines(&image)[0].starts_with("rw "),
        "{:?}",
        lock_lines(&image)
    );
    let cleanup = ok(support::bale()
        .args(["cleanup", "--cleanup"])
        .output()
        .unwrap());
    assert!(
        cleanup.contains("still mounted read-write in another mount namespace"),
        "{cleanup}"
    );
    // Its loop device, in use there (and autoclear), is left alone.
    assert!(!cleanup.contains("detach"), "{cleanup}");
    assert!(lock_lines(&image)[0].starts_with("rw "), "cleanup kept it");
    // Nor may the owner be led to break it, or change the image meanwhile.
    let status = ok(bale_as("bale-test", &["lock-status", img]));
    assert!(status.contains("live"), "{status}");
    ok(bale_as("bale-test", &["unlock", img, "--stale"]));
    assert!(
        lock_lines(&image)[0].starts_with("rw "),
        "unlock --stale kept it"
    );
    for change in [
        vec!["resize", img, "32M"],
        vec!["create", "-f", img, "--size", "16M"],
    ] {
        let err = refusal(&bale_as("bale-test", &change), 1);
        assert!(
            err.contains("needs it unmounted everywhere"),
            "{change:?}: {err}"
        );
    }

    drop(namespace);
    ok(bale_as("bale-test", &["umount", mounted.to_str().unwrap()]));
    assert!(lock_lines(&image).is_empty(), "{:?}", lock_lines(&image));
    run_ok("e2fsck", &["-fn", img]);
}

/// An image renamed while mounted read-write is still mounted: `list` says
/// so, `cleanup` keeps its record and lock line, and `resize` under the new
/// name is refused (it used to resize the file system under the mount).
#[test]
fn an_image_renamed_while_mounted_read_write_stays_locked() {
    let _site = frame::site();
    let home = frame::user_dir("bale-test", "rw-renamed");
    let mounted = frame::user_mounts().join("bale-test").join("renamed");
    let _mounts = Mounts {
        prefixes: vec![mounted.clone(), home.clone()],
    };
    let (image, moved) = (home.join("renamed.img"), home.join("moved.img"));
    let (img, mv) = (image.to_str().unwrap(), moved.to_str().unwrap());
    ok(bale_as("bale-test", &["create", img, "--size", "16M"]));
    ok(bale_as("bale-test", &["mount", img, "--rw"]));
    ok(frame::as_user("bale-test", "mv", &[img, mv]));
    let listed = ok(bale_as("bale-test", &["list"]));
    assert!(listed.contains("mounted from /dev/loop"), "{listed}");
    let cleanup = ok(support::bale()
        .args(["cleanup", "--cleanup"])
        .output()
        .unwrap());
    assert!(!cleanup.contains("dropped stale record"), "{cleanup}");
    assert!(
        lock_lines(&image)[0].starts_with("rw "),
        "{:?}",
        lock_lines(&image)
    );
    let err = refusal(&bale_as("bale-test", &["resize", mv, "32M"]), 1);
    assert!(err.contains("attached to /dev/loop"), "{err}");
    ok(bale_as("bale-test", &["umount", mounted.to_str().unwrap()]));
    assert_eq!(mount_count(&mounted), 0);
    assert!(lock_lines(&image).is_empty(), "{:?}", lock_lines(&image));
    run_ok("e2fsck", &["-fn", mv]);
}
