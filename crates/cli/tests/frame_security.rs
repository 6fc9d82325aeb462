//! The security battery of the privileged helper: one test per rule, each
//! trying to break it as an unprivileged user calling through the real
//! sudo rule (or a setuid copy). docs/security.md explains the rules.

mod support;

use std::path::{Path, PathBuf};
use support::frame::{self, bale_as, helper_as, refusal, Mounts};
use support::{bale, run_ok};

/// A squashfs image of a one-file tree saying `text`, owned by `user`.
fn image(dir: &Path, name: &str, text: &str, user: &str) -> PathBuf {
    let src = dir.join(format!("{name}.src"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("who"), text).unwrap();
    let image = dir.join(name);
    bale()
        .args(["pack", "-q", "-f"])
        .arg(&src)
        .arg(&image)
        .assert()
        .success();
    run_ok("chown", &[&format!("{user}:"), image.to_str().unwrap()]);
    run_ok("chmod", &["644", image.to_str().unwrap()]);
    image
}

fn user_mount(name: &str) -> PathBuf {
    frame::user_mounts().join("bale-test").join(name)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_symlinked_image_is_refused() {
    let _site = frame::site();
    let home = frame::user_dir("bale-test", "sec-symlink");
    let _m = Mounts {
        prefixes: vec![user_mount("link"), home.clone()],
    };
    let real = image(&home, "real.sqfs", "real", "bale-test");
    std::os::unix::fs::symlink(&real, home.join("link.sqfs")).unwrap();
    let out = bale_as("bale-test", &["mount", s(&home.join("link.sqfs"))]);
    assert!(refusal(&out, 3).contains("refused by rule no-symlinks"));
    assert!(frame::mounts_below(&user_mount("link")).is_empty());
}

#[test]
fn a_symlink_swapped_in_after_the_check_never_gets_mounted() {
    let _site = frame::site();
    let home = frame::user_dir("bale-test", "sec-swap");
    let elsewhere = frame::user_dir("bale-other", "sec-swap");
    let target = user_mount("swap");
    let _m = Mounts {
        prefixes: vec![target.clone(), home.clone(), elsewhere.clone()],
    };
    let good = image(&home, "swap.sqfs", "good", "bale-test");
    let other = image(&elsewhere, "other.sqfs", "OTHER", "bale-other");
    let alt = home.join("alt");
    frame::as_user("bale-test", "ln", &["-s", s(&other), s(&alt)]);
    assert!(alt.is_symlink());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = {
        let (stop, good, alt) = (stop.clone(), good.clone(), alt.clone());
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                rustix::fs::renameat_with(
                    rustix::fs::CWD,
                    &good,
                    rustix::fs::CWD,
                    &alt,
                    rustix::fs::RenameFlags::EXCHANGE,
                )
                .unwrap();
                swaps += 1;
            }
            swaps
        })
    };
    let (mut mounted, mut refused) = (0, 0);
    for _ in 0..40 {
        let out = bale_as("bale-test", &["mount", s(&good), s(&target)]);
        if out.status.success() {
            mounted += 1;
            let who = std::fs::read_to_string(target.join("who")).unwrap();
            assert_eq!(who, "good", "the symlink's target was mounted");
            assert!(bale_as("bale-test", &["umount", s(&target)])
                .status
                .success());
        } else {
            let line = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(
                line.contains("no-symlinks") || line.contains("No such file"),
                "{line}"
            );
            refused += 1;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    assert!(swaps > 40, "the race was exercised ({swaps} swaps)");
    assert!(mounted + refused == 40);
}

#[test]
fn mounting_over_etc_or_outside_ones_own_directory_is_refused() {
    let _site = frame::site();
    let home = frame::user_dir("bale-test", "sec-etc");
    let _m = Mounts {
        prefixes: vec![home.clone(), user_mount("evil")],
    };
    let img = image(&home, "i.sqfs", "x", "bale-test");
    let own = frame::user_mounts().join("bale-test");
    for target in [
        PathBuf::from("/etc"),
        frame::user_mounts().join("bale-other/x"),
        own.join("../bale-other/x"),
        own.clone(),
        // Directly in one's directory only: one could rename `nested` with
        // the mount inside, away from its record.
        own.join("nested/x"),
    ] {
        let out = helper_as(
            "bale-test",
            &["mount", "--image", s(&img), "--mountpoint", s(&target)],
        );
        assert!(
            refusal(&out, 3).contains("refused by rule user-mount-root"),
            "{}",
            target.display()
        );
    }
    // A symlink in one's own directory does not lead out of it.
    std::fs::create_dir_all(&own).unwrap();
    let _ = std::fs::remove_file(own.join("evil"));
    std::os::unix::fs::symlink("/etc", own.join("evil")).unwrap();
    let target = own.join("evil");
    let out = helper_as(
        "bale-test",
        &["mount", "--image", s(&img), "--mountpoint", s(&target)],
    );
    assert!(refusal(&out, 3).contains("refused by rule no-symlinks"));
    std::fs::remove_file(own.join("evil")).unwrap();
    assert!(frame::mounts_below(Path::new("/etc")).is_empty());
}

#[test]
fn module_names_with_dot_dot_or_extra_slashes_are_refused() {
    let _site = frame::site();
    for name in [
        "../etc",
        "a/b/c",
        "/etc/passwd",
        "gcc/..",
        "gcc",
        "./gcc/1",
        "gcc/1 2",
    ] {
        let out = helper_as("bale-test", &["mount", "--module", name]);
        assert!(
            refusal(&out, 3).contains("refused by rule module-name"),
            "{name}"
        );
        let out = helper_as("bale-test", &["umount", "--module", name]);
        assert!(
            refusal(&out, 3).contains("refused by rule module-name"),
            "{name}"
        );
    }
}

#[test]
fn software_images_are_never_mounted_read_write_nor_by_path() {
    let _site = frame::site();
    let name = "sec-software";
    let dir = frame::versions().join(name).join("1.0");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("f"), "x").unwrap();
    run_ok("chmod", &["-R", "a+rX", s(&frame::versions().join(name))]);
    bale()
        .args(["create-software", &format!("{name}/1.0"), "-f"])
        .assert()
        .success();
    let _m = Mounts {
        prefixes: vec![frame::versions().join(name), frame::images().join(name)],
    };
    let out = helper_as(
        "bale-test",
        &["mount", "--rw", "--module", &format!("{name}/1.0")],
    );
    assert!(refusal(&out, 3).contains("refused by rule software-ro"));
    let by_path = frame::images().join(name).join("1.0.sqfs");
    let out = bale_as("bale-test", &["mount", s(&by_path)]);
    assert!(refusal(&out, 3).contains("refused by rule image-by-path"));
    // Nor through a symlinked directory that leads there.
    let home = frame::user_dir("bale-test", "sec-software");
    std::os::unix::fs::symlink(frame::images().join(name), home.join("sw")).unwrap();
    let out = bale_as("bale-test", &["mount", s(&home.join("sw/1.0.sqfs"))]);
    assert!(refusal(&out, 3).contains("refused by rule image-by-path"));
    assert!(frame::mounts_below(&frame::versions().join(name)).is_empty());
}

#[test]
fn another_users_image_or_job_is_refused() {
    let _site = frame::site();
    let theirs = frame::user_dir("bale-other", "sec-theirs");
    let _m = Mounts {
        prefixes: vec![theirs.clone(), user_mount("private")],
    };
    let private = image(&theirs, "private.sqfs", "theirs", "bale-other");
    run_ok("chmod", &["600", s(&private)]);
    let out = bale_as("bale-test", &["mount", s(&private)]);
    assert!(refusal(&out, 3).contains("refused by rule caller-access"));
    // Readable but not writable: no --rw (the ext4 case).
    let rw = theirs.join("rw.img");
    assert!(bale_as("bale-other", &["create", s(&rw), "--size", "16M"])
        .status
        .success());
    run_ok("chmod", &["644", s(&rw)]);
    let out = bale_as("bale-test", &["mount", s(&rw), "--rw"]);
    assert!(refusal(&out, 3).contains("refused by rule caller-access"));

    frame::job("7301", "bale-other");
    let mine = frame::user_dir("bale-test", "sec-job");
    let img = image(&mine, "j.sqfs", "j", "bale-test");
    // Another's job, an unknown job, and a job spelt as its epilog, which
    // releases by SLURM_JOB_ID, would never find it.
    for job in ["7301", "7399", "07301", "7301_1"] {
        let out = bale_as("bale-test", &["mount", s(&img), "--job-id", job]);
        assert!(
            refusal(&out, 3).contains("refused by rule job-owner"),
            "job {job}"
        );
    }
    assert!(frame::mounts_below(&frame::user_mounts().join("bale-test"))
        .iter()
        .all(|m| !m.ends_with("j")));
}

/// Rule job-running: nothing is mounted for a job that is not running —
/// also when it ends while the mount waits for the image's lock (a
/// `scancel` during the TaskProlog: its epilog may have run already, and a
/// mount made after it would stay for good).
#[test]
fn a_mount_for_a_job_that_is_not_running_is_refused_even_if_it_ended_while_waiting() {
    let _site = frame::site();
    let (place, _m) = frame::guarded_module("secjobend");
    frame::job_in_state("7311", "bale-test", "COMPLETED");
    let out = bale_as("bale-test", &["mount", "secjobend/1.0", "--job-id", "7311"]);
    assert!(refusal(&out, 3).contains("refused by rule job-running: job 7311 is COMPLETED"));

    frame::job("7312", "bale-test");
    let lock_file = frame::images().join("secjobend/1.0.sqfs.lock");
    let _ = std::fs::remove_file(&lock_file); // a failed run's
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_file)
        .unwrap();
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).unwrap();
    let waiting = frame::as_user_command(
        "bale-test",
        env!("CARGO_BIN_EXE_bale"),
        &["mount", "secjobend/1.0", "--job-id", "7312"],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    frame::job_in_state("7312", "bale-test", "CANCELLED");
    drop(lock);
    let out = waiting.wait_with_output().unwrap();
    assert!(refusal(&out, 3).contains("refused by rule job-running: job 7312 is CANCELLED"));
    assert!(
        !frame::is_mounted(&place),
        "mounted for a job that had ended"
    );
    assert!(!frame::state().join("7312.modules").exists());
    let lines = std::fs::read_to_string(&lock_file).unwrap();
    assert!(lines.lines().all(|l| l.starts_with('#')), "{lines}");
}

/// The turn-taking of module loads (a flock on the user's file in
/// /dev/shm) cannot be held up by another user: a file they planted or
/// linked under the user's name means loading without a turn, at once.
#[test]
fn another_user_cannot_hold_up_module_loads_by_the_turn_file() {
    let _site = frame::site();
    let (place, _m) = frame::guarded_module("secturn");
    let victim_uid = frame::uid("bale-other");
    let turn = format!("/dev/shm/bale-module-hook.{victim_uid}.lock");
    let bait = "/dev/shm/bale-sec-turn-bait";
    let _ = std::fs::remove_file(&turn);
    let _ = std::fs::remove_file(bait);
    // A file of the victim's that others may write, linked under the
    // turn file's name and held by the attacker.
    assert!(
        frame::as_user("bale-other", "sh", &["-c", &format!("umask 0; : > {bait}")])
            .status
            .success()
    );
    let linked = frame::as_user("bale-test", "ln", &[bait, &turn]);
    assert!(
        linked.status.success(),
        "{}",
        String::from_utf8_lossy(&linked.stderr)
    );
    let mut holder = frame::as_user_command("bale-test", "flock", &[&turn, "sleep", "60"])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let started = std::time::Instant::now();
    let out = frame::as_user(
        "bale-other",
        env!("CARGO_BIN_EXE_bale"),
        &["module-hook", "load", "secturn/1.0"],
    );
    let took = started.elapsed();
    holder.kill().unwrap();
    holder.wait().unwrap();
    let _ = std::fs::remove_file(&turn);
    let _ = std::fs::remove_file(bait);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        took < std::time::Duration::from_secs(10),
        "held up for {took:?}"
    );
    assert!(frame::is_mounted(&place));
    assert!(frame::as_user(
        "bale-other",
        env!("CARGO_BIN_EXE_bale"),
        &["module-hook", "unload", "secturn/1.0"]
    )
    .status
    .success());
}

#[test]
fn suid_binaries_and_device_nodes_inside_an_image_are_not_honoured() {
    let _site = frame::site();
    let home = frame::user_dir("bale-test", "sec-suid");
    let target = user_mount("suid");
    let _m = Mounts {
        prefixes: vec![target.clone(), home.clone()],
    };
    let src = home.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::copy("/usr/bin/id", src.join("rootid")).unwrap();
    run_ok("chmod", &["4755", s(&src.join("rootid"))]);
    run_ok("mknod", &["-m", "666", s(&src.join("null")), "c", "1", "3"]);
    let img = home.join("suid.sqfs");
    support::pack(&src, &img, &[]);
    run_ok("chmod", &["644", s(&img)]);
    assert!(bale_as("bale-test", &["mount", s(&img), s(&target)])
        .status
        .success());
    let euid = frame::as_user("bale-test", s(&target.join("rootid")), &["-u"]);
    assert_eq!(
        String::from_utf8_lossy(&euid.stdout).trim(),
        frame::uid("bale-test").to_string(),
        "setuid bit ignored"
    );
    let dev = frame::as_user(
        "bale-test",
        "sh",
        &["-c", &format!("echo x > {}", target.join("null").display())],
    );
    assert!(!dev.status.success(), "device node must not open (nodev)");
    assert!(bale_as("bale-test", &["umount", s(&target)])
        .status
        .success());
}

#[test]
fn files_that_are_not_images_are_refused() {
    let _site = frame::site();
    let home = frame::user_dir("bale-test", "sec-notimage");
    let _m = Mounts {
        prefixes: vec![
            home.clone(),
            frame::user_mounts().join("bale-test/notimage"),
        ],
    };
    let text = home.join("notes.txt");
    std::fs::write(
        &text,
        "just text, long enough to have no superblock at all\n".repeat(40),
    )
    .unwrap();
    run_ok("mkfifo", &[s(&home.join("fifo"))]);
    std::fs::create_dir(home.join("dir")).unwrap();
    run_ok("chown", &["-R", "bale-test:", s(&home)]);
    let mp = frame::user_mounts().join("bale-test/notimage");
    let cases = [
        (text, "superblock"),
        (home.join("fifo"), "image-file"),
        (home.join("dir"), "image-file"),
        (PathBuf::from("/dev/null"), "image-file"),
    ];
    for (path, rule) in cases {
        let out = helper_as(
            "bale-test",
            &["mount", "--image", s(&path), "--mountpoint", s(&mp)],
        );
        assert!(
            refusal(&out, 3).contains(&format!("refused by rule {rule}")),
            "{}",
            path.display()
        );
    }
}

#[test]
fn a_corrupt_superblock_is_refused_before_the_kernel_sees_it() {
    let _site = frame::site();
    let home = frame::user_dir("bale-test", "sec-corrupt");
    let _m = Mounts {
        prefixes: vec![home.clone(), user_mount("corrupt")],
    };
    let img = image(&home, "bad.sqfs", "x", "bale-test");
    let mut bytes = std::fs::read(&img).unwrap();
    bytes[12..16].copy_from_slice(&3u32.to_le_bytes()); // block size 3
    std::fs::write(&img, &bytes).unwrap();
    let out = bale_as("bale-test", &["mount", s(&img), s(&user_mount("corrupt"))]);
    assert!(refusal(&out, 3).contains("refused by rule superblock"));
    // An ext4 image cut short: the superblock claims more blocks than the file has.
    let ext = home.join("cut.img");
    assert!(bale_as("bale-test", &["create", s(&ext), "--size", "16M"])
        .status
        .success());
    std::fs::OpenOptions::new()
        .write(true)
        .open(&ext)
        .unwrap()
        .set_len(4 << 20)
        .unwrap();
    let out = bale_as(
        "bale-test",
        &["mount", s(&ext), s(&user_mount("corrupt")), "--rw"],
    );
    assert!(refusal(&out, 3).contains("refused by rule superblock"));
    assert!(frame::mounts_below(&user_mount("corrupt")).is_empty());
}

#[test]
fn mount_points_must_be_the_callers_and_free() {
    let _site = frame::site();
    let home = frame::user_dir("bale-test", "sec-mp");
    let taken = user_mount("taken");
    let rootdir = user_mount("rootowned");
    let _m = Mounts {
        prefixes: vec![home.clone(), taken.clone(), rootdir.clone()],
    };
    let img = image(&home, "m.sqfs", "x", "bale-test");
    let img2 = image(&home, "n.sqfs", "y", "bale-test");
    let _ = std::fs::remove_dir(&rootdir);
    std::fs::create_dir_all(&rootdir).unwrap(); // made by root in the user's directory
    let out = bale_as("bale-test", &["mount", s(&img), s(&rootdir)]);
    assert!(refusal(&out, 3).contains("refused by rule mountpoint"));
    assert!(bale_as("bale-test", &["mount", s(&img), s(&taken)])
        .status
        .success());
    let out = bale_as("bale-test", &["mount", s(&img2), s(&taken)]);
    assert!(refusal(&out, 3).contains("refused by rule mountpoint"));
    // Someone else cannot unmount it.
    let out = helper_as("bale-other", &["umount", "--mountpoint", s(&taken)]);
    assert!(refusal(&out, 1).contains("not mounted for user bale-other"));
    assert_eq!(std::fs::read_to_string(taken.join("who")).unwrap(), "x");
    assert!(bale_as("bale-test", &["umount", s(&taken)])
        .status
        .success());
}

#[test]
fn a_setuid_helper_takes_the_real_uid_and_ignores_the_environment() {
    let _site = frame::site();
    let home = frame::user_dir("bale-test", "sec-setuid");
    let _m = Mounts {
        prefixes: vec![home.clone(), user_mount("setuid")],
    };
    let img = image(&home, "s.sqfs", "setuid", "bale-test");
    let setuid = PathBuf::from("/usr/local/lib/bale-test/bale-helper-setuid");
    std::fs::copy(env!("CARGO_BIN_EXE_bale-helper"), &setuid).unwrap();
    run_ok("chmod", &["4755", s(&setuid)]);
    struct Remove(PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let _remove = Remove(setuid.clone());
    let evil = home.join("evil.toml");
    std::fs::write(&evil, "usr_mount_path = \"/\"\n").unwrap();
    let out = std::process::Command::new("runuser")
        .args([
            "-u",
            "bale-test",
            "--",
            "env",
            &format!("BALE_CONFIG={}", evil.display()),
            "SI_USR_MOUNT_PATH=/",
            "SUDO_UID=0",
            "SUDO_GID=0",
        ])
        .arg(&setuid)
        .args(["mount", "--image", s(&img), "--mountpoint", "/etc"])
        .output()
        .unwrap();
    assert!(refusal(&out, 3).contains("refused by rule user-mount-root"));
    let out = frame::as_user(
        "bale-test",
        s(&setuid),
        &[
            "mount",
            "--image",
            s(&img),
            "--mountpoint",
            s(&user_mount("setuid")),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let owner =
        std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(user_mount("setuid")).unwrap());
    assert_eq!(
        owner,
        0,
        "mounted: the image's root is root's; mounts {:?} out {:?}",
        frame::mounts_below(&frame::user_mounts()),
        String::from_utf8_lossy(&out.stdout)
    );
    let state = std::fs::read_to_string(frame::state().join("bale-test.modules")).unwrap();
    assert!(
        state.contains("s.sqfs"),
        "recorded for the real uid: {state}"
    );
    let out = frame::as_user(
        "bale-test",
        s(&setuid),
        &["umount", "--mountpoint", s(&user_mount("setuid"))],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The lock file beside an image is the user's to plant: a FIFO there (whose
/// open would block root's helper, holding every record of the node) or a
/// huge sparse file (read into root's memory) is refused at once, and
/// nothing is mounted.
#[test]
fn a_planted_fifo_or_huge_lock_file_is_refused_at_once() {
    let _site = frame::site();
    let home = frame::user_dir("bale-test", "sec-lockfile");
    let mp = user_mount("lockfile");
    let _m = Mounts {
        prefixes: vec![home.clone(), mp.clone()],
    };
    let img = image(&home, "i.sqfs", "mine", "bale-test");
    let lock = home.join("i.sqfs.lock");
    for (plant, reason) in [
        (format!("mkfifo {}", s(&lock)), "not a regular file"),
        (
            format!("truncate -s 3G {}", s(&lock)),
            "larger than 1024 KiB",
        ),
    ] {
        let _ = std::fs::remove_file(&lock);
        let out = frame::as_user("bale-test", "sh", &["-c", &plant]);
        assert!(out.status.success(), "{plant}");
        let started = std::time::Instant::now();
        let out = bale_as("bale-test", &["mount", s(&img), s(&mp)]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(reason),
            "{plant}: {err}"
        );
        assert!(err.contains("i.sqfs.lock"), "{err}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{plant}"
        );
        assert!(frame::mounts_below(&mp).is_empty(), "{plant}: mounted");
    }
}

/// `flock` needs nothing but an open descriptor: a lock file another user
/// could open is one they could hold forever, blocking every mount of the
/// image on every node. Software and user images' lock files are readable
/// by their owner only.
#[test]
fn another_user_cannot_open_a_lock_file_to_hold_it() {
    use std::os::unix::fs::MetadataExt;
    let _site = frame::site();
    let name = "sec-lockhold";
    let (_target, _module_mounts) = frame::guarded_module(name);
    let software = frame::images().join(name).join("1.0.sqfs");
    let home = frame::user_dir("bale-test", name);
    let mp = user_mount(name);
    let _m = Mounts {
        prefixes: vec![home.clone(), mp.clone()],
    };
    let img = image(&home, "i.sqfs", "mine", "bale-test");
    let module = format!("{name}/1.0");
    for args in [vec!["mount", &module], vec!["mount", s(&img), s(&mp)]] {
        let out = bale_as("bale-test", &args);
        assert!(out.status.success(), "{args:?}: {out:?}");
    }
    for (image, owner) in [(&software, 0), (&img, frame::uid("bale-test"))] {
        let lock = PathBuf::from(format!("{}.lock", image.display()));
        let meta = std::fs::metadata(&lock).unwrap();
        assert_eq!(
            (meta.mode() & 0o777, meta.uid()),
            (0o600, owner),
            "{lock:?}"
        );
        let out = frame::as_user("bale-other", "flock", &["-n", s(&lock), "true"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains("Permission denied"),
            "{lock:?}: {err}"
        );
    }
    let status = bale_as("bale-test", &["lock-status", s(&img)]);
    assert!(status.status.success(), "the owner reads it: {status:?}");
    for args in [vec!["umount", &module], vec!["umount", s(&mp)]] {
        let out = bale_as("bale-test", &args);
        assert!(out.status.success(), "{args:?}: {out:?}");
    }
}
