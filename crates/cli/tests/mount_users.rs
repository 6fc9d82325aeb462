//! `bale mount` without root: an ordinary user mounts, reads and
//! unmounts; the kernel enforces the image's permissions, so another user
//! is denied a 0700 directory exactly as with a kernel mount; `-o
//! allow_other` only where /etc/fuse.conf permits it; several processes
//! read at once.

mod support;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use support::frame;
use support::fuse::{
    as_user, assert_gone, assert_ok, bale_as, ensure_users, is_mounted, FuseMount, OTHER_USER,
    TEST_USER,
};
use support::fuse_conf::FuseConf;
use support::{bale, run_ok, KernelMount};

/// A work directory everyone may traverse, with a packed image in it.
fn image_of(build: impl FnOnce(&Path)) -> (tempfile::TempDir, std::path::PathBuf) {
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let src = work.path().join("src");
    std::fs::create_dir(&src).unwrap();
    build(&src);
    let image = work.path().join("img.sqfs");
    support::pack(&src, &image, &[]);
    std::fs::set_permissions(&image, std::fs::Permissions::from_mode(0o644)).unwrap();
    (work, image)
}

fn read_as(user: &str, path: &Path) -> std::process::Output {
    as_user(user, "cat").arg(path).output().unwrap()
}

#[test]
fn an_ordinary_user_mounts_reads_and_unmounts() {
    ensure_users();
    let (work, image) = image_of(|src| {
        std::fs::write(src.join("hello.txt"), "hello from the image\n").unwrap();
    });
    let dir = work.path().join("mnt");
    let mount = FuseMount::new_as(TEST_USER, &image, &dir, &[]);

    let out = read_as(TEST_USER, &dir.join("hello.txt"));
    assert_eq!(out.stdout, b"hello from the image\n");
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let line = mountinfo
        .lines()
        .find(|l| l.contains(dir.to_str().unwrap()))
        .unwrap();
    assert!(line.contains(" ro,nosuid,nodev"), "{line}");
    assert!(line.contains(" - fuse.bale "), "{line}");
    assert!(line.contains("default_permissions"), "{line}");
    // `bale list` shows it, though no record does (its owner from the
    // kernel's mount table), to anyone.
    let list = bale_as(OTHER_USER)
        .env("BALE_CONFIG", no_helper(&work))
        .arg("list")
        .output()
        .unwrap();
    let line = format!(
        "{TEST_USER} ro {} on {}: FUSE\n",
        image.display(),
        dir.display()
    );
    assert!(
        String::from_utf8_lossy(&list.stdout).contains(&line),
        "{list:?}"
    );
    let json = bale_as(OTHER_USER)
        .env("BALE_CONFIG", no_helper(&work))
        .args(["list", "--json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(
        json["fuse"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!({
                "owner": {"user": TEST_USER},
                "image": image,
                "mountpoint": dir,
                // Another user cannot see whose process serves it.
                "server": "unknown",
            })),
        "{json}"
    );
    // A name with a newline cannot forge a second line in an admin's list.
    let odd = work
        .path()
        .join("odd\nuser root ro shadow on root: mounted");
    std::fs::create_dir(&odd).unwrap();
    run_ok("chown", &[TEST_USER, odd.to_str().unwrap()]);
    let out = bale_as(TEST_USER)
        .arg("mount")
        .arg(&image)
        .arg(&odd)
        .output()
        .unwrap();
    assert_ok(&out, "bale mount");
    let list = bale()
        .env("BALE_CONFIG", no_helper(&work))
        .arg("list")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(!text.lines().any(|l| l.starts_with("user root")), "{text}");
    let out = bale_as(TEST_USER).arg("umount").arg(&odd).output().unwrap();
    assert_ok(&out, "bale umount");
    // Without allow_other, nobody else gets in, not even root.
    let other = read_as(OTHER_USER, &dir.join("hello.txt"));
    assert!(!other.status.success());
    assert!(std::fs::read(dir.join("hello.txt")).is_err());

    // Someone else cannot unmount it, named absolutely or relatively —
    // `mnt/x` looks like a module NAME/VERSION, but it is a path, also to
    // someone who may not look at it.
    let inner = work.path().join("mnt2/x");
    let second = FuseMount::new_as(TEST_USER, &image, &inner, &[]);
    for (cwd, target) in [
        (Path::new("/"), dir.as_path()),
        (work.path(), Path::new("mnt2/x")),
    ] {
        let out = bale_as(OTHER_USER)
            .current_dir(cwd)
            .env("BALE_CONFIG", no_helper(&work))
            .arg("umount")
            .arg(target)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.ends_with(": mounted by bale-test, not by you\n"),
            "{err}"
        );
    }
    assert!(is_mounted(&dir) && is_mounted(&inner));
    second.unmount(&[]);
    // Busy (fusermount3's own words are "Device or resource busy"): the
    // way out is named, and the mount stays.
    let mut holder = Command::new("setpriv")
        .args(["--reuid", TEST_USER, "--regid", TEST_USER, "--init-groups"])
        .args(["bash", "-c", r#"cd "$0" && echo in && exec sleep 30"#])
        .arg(&dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = [0u8; 3];
    holder.stdout.take().unwrap().read_exact(&mut said).unwrap();
    assert_eq!(&said, b"in\n");
    let out = bale_as(TEST_USER)
        .env("BALE_CONFIG", no_helper(&work))
        .arg("umount")
        .arg(&dir)
        .output()
        .unwrap();
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "bale: {}: mount is busy (files are open); --lazy detaches it anyway\n",
            dir.display()
        )
    );
    assert_eq!(out.status.code(), Some(4), "busy, as the helper's unmounts");
    assert!(is_mounted(&dir));
    mount.unmount(&[]);
}

/// A configuration naming a helper that is not installed.
fn no_helper(work: &tempfile::TempDir) -> std::path::PathBuf {
    let config = work.path().join("no-helper.toml");
    std::fs::write(&config, "helper = \"/nonexistent/bale-helper\"\n").unwrap();
    config
}

/// A configuration naming a helper that would succeed, but that no sudo
/// rule names; returns the configuration and the helper.
fn helper_without_sudo_rule(work: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let helper = work.join("bale-helper");
    std::fs::copy("/bin/true", &helper).unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = work.join("config.toml");
    std::fs::write(
        &config,
        format!("helper = {:?}\n", helper.to_str().unwrap()),
    )
    .unwrap();
    (config, helper)
}

/// `DIR/FILE` names a software module unless the file is there: given
/// with a MOUNTPOINT (which a module never takes) it is an image file that
/// is missing, and said so, whatever backends there are.
#[test]
fn a_missing_image_with_a_mountpoint_is_named_as_missing() {
    let work = tempfile::tempdir().unwrap();
    let mnt = work.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    for backend in [&[][..], &["--backend", "fuse"]] {
        let out = support::bale()
            .env("BALE_CONFIG", no_helper(&work))
            .arg("mount")
            .args(backend)
            .args(["img/missing.sqfs", mnt.to_str().unwrap()])
            .current_dir(work.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "bale: img/missing.sqfs: no such image file (a software module NAME/VERSION is mounted at its own place, without a MOUNTPOINT)\n"
        );
    }
}

#[test]
fn a_missing_sudo_rule_is_named_instead_of_sudos_password_prompt() {
    ensure_users();
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (config, helper) = helper_without_sudo_rule(work.path());
    for args in [&["umount", "gcc/12.2"][..], &["umount-all"]] {
        let out = bale_as(TEST_USER)
            .env("BALE_CONFIG", &config)
            .args(args)
            .current_dir(work.path())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.ends_with(&format!(
                "{}: sudo does not let you run the helper (no sudo rule for it: docs/admin.md)\n",
                helper.display()
            )) && err.lines().count() == 1,
            "{args:?}: {err}"
        );
    }
}

#[test]
fn without_a_sudo_rule_the_kernel_backend_is_passed_over_for_fuse() {
    ensure_users();
    let (work, image) = image_of(|src| {
        std::fs::write(src.join("hello.txt"), "hello\n").unwrap();
    });
    let (config, helper) = helper_without_sudo_rule(work.path());
    let mnt = work.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    std::os::unix::fs::chown(&mnt, Some(1001), Some(1001)).unwrap();
    // The site prefers the kernel backend; this user cannot have it.
    let bale = || {
        let mut bale = bale_as(TEST_USER);
        bale.env("BALE_CONFIG", &config).current_dir(work.path());
        bale
    };
    let out = bale()
        .arg("run")
        .arg(format!("{}:{}", image.display(), mnt.display()))
        .args(["--", "cat"])
        .arg(mnt.join("hello.txt"))
        .output()
        .unwrap();
    assert_ok(&out, "bale run without a sudo rule");
    assert_eq!(out.stdout, b"hello\n");
    let no_rule = format!(
        "{}: sudo does not let you run the helper (no sudo rule for it: docs/admin.md)",
        helper.display()
    );
    // Where only the kernel backend would do, the reason is the missing rule.
    let out = bale()
        .args(["run", "--backend", "kernel"])
        .arg(&image)
        .args(["--", "true"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "bale: {}: no allowed backend (kernel) can run this: {no_rule}\n",
            image.display()
        )
    );
    let out = bale().arg("mount").arg(&image).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "bale: {}: the kernel backend would mount this, but {no_rule}\n",
            image.display()
        )
    );
    assert!(!is_mounted(&mnt));
}

#[test]
fn umount_leaves_alone_what_bale_did_not_mount() {
    ensure_users();
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = no_helper(&work);
    let tmpfs = support::Tmpfs::new(&work.path().join("tmpfs"), "1M");
    let plain = work.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    // Root could unmount anything; without a helper bale unmounts only
    // its own FUSE mounts, and no user reaches fusermount3's complaints.
    for (user, target, says) in [
        (
            "root",
            tmpfs.dir.as_path(),
            "a tmpfs mount that bale did not make",
        ),
        (
            TEST_USER,
            Path::new("/proc"),
            "a proc mount that bale did not make",
        ),
        (TEST_USER, plain.as_path(), "not a mount point"),
        (
            TEST_USER,
            &work.path().join("typo"),
            "No such file or directory",
        ),
    ] {
        let out = as_user(user, assert_cmd::cargo::cargo_bin("bale"))
            .env("BALE_CONFIG", &config)
            .arg("umount")
            .arg(target)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{user} {target:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        let line = format!("bale: {}: {says}", target.display());
        assert!(
            err.starts_with(&line) && err.lines().count() == 1,
            "{user}: {err}"
        );
    }
    assert!(is_mounted(&tmpfs.dir));
    // A module needs the helper, and bale says so instead of sudo.
    let out = bale_as(TEST_USER)
        .env("BALE_CONFIG", &config)
        .args(["umount", "gcc/12.2"])
        .current_dir(work.path())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "bale: gcc/12.2: the helper /nonexistent/bale-helper is not installed (docs/admin.md)\n"
    );
}

#[test]
fn another_user_is_denied_a_private_directory_as_with_a_kernel_mount() {
    ensure_users();
    let (work, image) = image_of(|src| {
        let private = src.join("private");
        std::fs::create_dir(&private).unwrap();
        std::fs::write(private.join("secret"), "for bale-test only\n").unwrap();
        std::fs::write(src.join("public"), "for everyone\n").unwrap();
        run_ok("chown", &["-R", TEST_USER, src.to_str().unwrap()]);
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    });
    let kernel = KernelMount::new(&image, &work.path().join("kernel"));
    // Root may let other users in.
    let dir = work.path().join("fuse");
    let fuse = {
        std::fs::create_dir_all(&dir).unwrap();
        bale()
            .args(["mount", "-o", "allow_other"])
            .arg(&image)
            .arg(&dir)
            .assert()
            .success();
        FuseMount::adopt(&dir)
    };
    for view in [&kernel.dir, &fuse.dir] {
        let owner = read_as(TEST_USER, &view.join("private/secret"));
        assert_eq!(owner.stdout, b"for bale-test only\n", "{}", view.display());
        let other = read_as(OTHER_USER, &view.join("private/secret"));
        assert!(!other.status.success(), "{}", view.display());
        assert!(
            String::from_utf8_lossy(&other.stderr).contains("Permission denied"),
            "{}",
            String::from_utf8_lossy(&other.stderr)
        );
        let public = read_as(OTHER_USER, &view.join("public"));
        assert_eq!(public.stdout, b"for everyone\n");
    }
    fuse.unmount(&[]);
}

#[test]
fn allow_other_for_a_user_needs_user_allow_other_in_fuse_conf() {
    ensure_users();
    let site = frame::site();
    let (work, image) = image_of(|src| std::fs::write(src.join("f"), "shared\n").unwrap());
    let dir = work.path().join("mnt");
    std::fs::create_dir(&dir).unwrap();
    run_ok("chown", &[TEST_USER, dir.to_str().unwrap()]);
    let mount_allow_other = || {
        bale_as(TEST_USER)
            .args(["mount", "-o", "allow_other"])
            .arg(&image)
            .arg(&dir)
            .output()
            .unwrap()
    };
    {
        let _conf = FuseConf::set(&site, false);
        let out = mount_allow_other();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("bale: "), "{stderr}");
        assert!(stderr.contains("user_allow_other"), "{stderr}");
        assert_gone(&dir);
    }
    let _conf = FuseConf::set(&site, true);
    assert_ok(&mount_allow_other(), "bale mount -o allow_other");
    let mount = FuseMount::adopt_as(TEST_USER, &dir);
    for user in [TEST_USER, OTHER_USER] {
        assert_eq!(read_as(user, &dir.join("f")).stdout, b"shared\n", "{user}");
    }
    assert_eq!(std::fs::read(dir.join("f")).unwrap(), b"shared\n");
    mount.unmount(&[]);
}

#[test]
fn several_processes_read_at_once() {
    ensure_users();
    let (work, image) = image_of(|src| {
        let shape = support::gen::Shape {
            big_dir: 300,
            ..Default::default()
        };
        support::gen::generate(src, 11, shape);
        run_ok("chmod", &["-R", "a+rX", src.to_str().unwrap()]);
    });
    let kernel = KernelMount::new(&image, &work.path().join("kernel"));
    let fuse = FuseMount::new_as(TEST_USER, &image, &work.path().join("fuse"), &[]);
    let sums = |dir: &Path, user: Option<&str>| {
        // The directory is entered by the reader: root may not enter a
        // user's mount.
        let script = r#"cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r md5sum"#;
        let mut cmd = match user {
            Some(user) => as_user(user, "sh"),
            None => std::process::Command::new("sh"),
        };
        cmd.args(["-c", script, "sh"]).arg(dir);
        cmd
    };
    let expected = sums(&kernel.dir, None).output().unwrap();
    assert!(expected.status.success());
    assert!(!expected.stdout.is_empty());
    let readers: Vec<_> = (0..8)
        .map(|_| {
            sums(&fuse.dir, Some(TEST_USER))
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for reader in readers {
        let out = reader.wait_with_output().unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, expected.stdout);
    }
    fuse.unmount(&[]);
}
