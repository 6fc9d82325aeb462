//! `bale mount` under abuse: bad arguments, corrupt and truncated images
//! (operations fail with EIO, each cause logged once — to syslog when
//! detached —, the server survives and the intact parts keep working), signals, external unmounts, readers
//! killed mid-read and unmounts under load. No mount or server is ever
//! left behind.

mod support;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::frame::{self, Syslog};
use support::fuse::{assert_gone, is_mounted, servers, wait_for, FuseMount};
use support::gen::Rng;
use support::{bale, require_root, run, run_ok};

/// An image of compressible files (so every data block is compressed)
/// made by mksquashfs with gzip, whose zlib checksums catch corruption;
/// `extra` options for mksquashfs.
fn gzip_image_with(work: &Path, extra: &[&str]) -> PathBuf {
    let src = work.join("src");
    for d in 0..4 {
        let dir = src.join(format!("dir{d}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..30 {
            let line = format!("directory {d} file {f} line\n");
            std::fs::write(dir.join(format!("f{f}.txt")), line.repeat(40 + f * 400)).unwrap();
        }
    }
    let big: Vec<u8> = (0..4u32 << 20).map(|i| (i % 251) as u8).collect();
    std::fs::write(src.join("big"), big).unwrap();
    let image = work.join(format!("img{}.sqfs", extra.join("")));
    let mut args = vec![
        src.to_str().unwrap(),
        image.to_str().unwrap(),
        "-comp",
        "gzip",
        "-no-progress",
        "-quiet",
        "-noappend",
    ];
    args.extend_from_slice(extra);
    run_ok("mksquashfs", &args);
    image
}

fn gzip_image(work: &Path) -> PathBuf {
    gzip_image_with(work, &[])
}

/// A superblock field (little-endian u64 at `at`).
fn sb_u64(image: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(image[at..at + 8].try_into().unwrap())
}
const INODE_TABLE: usize = 64;
const BYTES_USED: usize = 40;

/// What a walk of a (possibly corrupt) mount met.
#[derive(Default, Debug)]
struct Walk {
    entries: usize,
    errors: Vec<(PathBuf, std::io::Error)>,
}

/// Lists, stats and reads everything under `dir`, in a thread, failing if
/// it takes longer than `limit` (a hang).
fn walk(dir: &Path, limit: Duration) -> Walk {
    let dir = dir.to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut w = Walk::default();
        let mut stack = vec![dir];
        while let Some(d) = stack.pop() {
            let entries = match std::fs::read_dir(&d) {
                Ok(e) => e,
                Err(e) => {
                    w.errors.push((d, e));
                    continue;
                }
            };
            for entry in entries {
                let path = match entry {
                    Ok(e) => e.path(),
                    Err(e) => {
                        w.errors.push((d.clone(), e));
                        break;
                    }
                };
                w.entries += 1;
                let result = path.symlink_metadata().and_then(|m| {
                    if m.is_dir() {
                        stack.push(path.clone());
                    } else if m.is_file() {
                        std::fs::read(&path)?;
                    } else if m.file_type().is_symlink() {
                        std::fs::read_link(&path)?;
                    }
                    xattr::list(&path).map(|_| ())
                });
                if let Err(e) = result {
                    w.errors.push((path, e));
                }
            }
        }
        let _ = tx.send(w);
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("walking the mount took over {limit:?}: the server hangs"))
}

fn assert_only_eio(w: &Walk) {
    for (path, e) in &w.errors {
        assert_eq!(
            e.raw_os_error(),
            Some(libc_eio()),
            "{}: {e} (expected EIO)",
            path.display()
        );
    }
}

fn libc_eio() -> i32 {
    5
}

/// `gzip_image` with the middle of the first data block damaged: `big`
/// (whose blocks lie at the start of the data area) cannot be read.
fn image_with_a_corrupt_block(work: &Path) -> PathBuf {
    let mut bytes = std::fs::read(gzip_image(work)).unwrap();
    for at in [96 + 3000, 96 + 3001, 96 + 3002] {
        bytes[at] ^= 0x5a;
    }
    let bad = work.join("bad.sqfs");
    std::fs::write(&bad, &bytes).unwrap();
    bad
}

/// On a mount of [`image_with_a_corrupt_block`]: `big` fails with EIO every
/// time, everything else reads.
fn read_around_the_corrupt_block(dir: &Path) {
    for _ in 0..3 {
        let err = std::fs::read(dir.join("big")).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc_eio()), "{err}");
    }
    let w = walk(dir, Duration::from_secs(30));
    assert_only_eio(&w);
    assert_eq!(w.errors.len(), 1, "{:?}", w.errors);
    assert_eq!(
        std::fs::read_to_string(dir.join("dir3/f29.txt")).unwrap(),
        "directory 3 file 29 line\n".repeat(40 + 29 * 400)
    );
}

#[test]
fn bad_arguments_fail_with_one_line_and_mount_nothing() {
    require_root();
    let work = tempfile::tempdir().unwrap();
    let image = gzip_image(work.path());
    let dir = work.path().join("mnt");
    std::fs::create_dir(&dir).unwrap();
    let not_image = work.path().join("src/dir0/f0.txt");
    let cases: [(&Path, &Path, &str); 5] = [
        (&work.path().join("missing.sqfs"), &dir, "No such file"),
        (&not_image, &dir, "not a squashfs image"),
        (&image, &work.path().join("nowhere"), "does not exist"),
        (&image, &not_image, "not a directory"),
        (work.path(), &dir, "is a directory"),
    ];
    for (img, mnt, reason) in cases {
        let out = bale().arg("mount").arg(img).arg(mnt).output().unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("bale: "), "{stderr}");
        assert!(stderr.contains(reason), "{stderr} lacks {reason:?}");
        assert_gone(&dir);
    }
    let out = bale().arg("umount").arg(&dir).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a mount point"));
    // An ext4 image is named as such, not as a bad squashfs.
    let ext4 = work.path().join("data.img");
    run_ok("truncate", &["-s", "8M", ext4.to_str().unwrap()]);
    run_ok("mke2fs", &["-q", "-t", "ext4", ext4.to_str().unwrap()]);
    let out = bale().arg("mount").arg(&ext4).arg(&dir).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("an ext4 image"),
        "{stderr}"
    );
    assert_gone(&dir);

    // Options other than allow_other: what every mount is, or refused.
    let out = bale()
        .args(["mount", "-o", "rw"])
        .arg(&image)
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown mount option \"rw\""), "{stderr}");
    assert_gone(&dir);
    // Thousands of request threads ran out of descriptors or stack guard
    // pages after the mount had been reported ready.
    let out = bale()
        .args(["mount", "-j", "100000"])
        .arg(&image)
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not in 0..=256"));
    assert_gone(&dir);
    let out = bale()
        .args(["mount", "-j", "256"])
        .arg(&image)
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let most = FuseMount::adopt(&dir);
    let w = walk(&dir, Duration::from_secs(30));
    assert!(w.errors.is_empty() && w.entries > 0, "{:?}", w.errors);
    most.unmount(&[]);
    assert_gone(&dir);
    let out = bale()
        .args(["mount", "-o", "ro,nosuid", "-o", "nodev"])
        .arg(&image)
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let first = FuseMount::adopt(&dir);
    // A second mount on the same place would hide the first.
    let out = bale().arg("mount").arg(&image).arg(&dir).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("already mounted there"), "{stderr}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let on_dir = format!(" {} ", dir.display());
    assert_eq!(mounts.lines().filter(|l| l.contains(&on_dir)).count(), 1);
    first.unmount(&[]);
    assert_gone(&dir);
}

#[test]
fn a_corrupt_data_block_is_eio_logged_once_and_the_rest_still_reads() {
    require_root();
    let work = tempfile::tempdir().unwrap();
    let bad = image_with_a_corrupt_block(work.path());
    let dir = work.path().join("mnt");
    std::fs::create_dir(&dir).unwrap();
    let mut server = Command::new(assert_cmd::cargo::cargo_bin("bale"))
        .args(["mount", "--foreground"])
        .arg(&bad)
        .arg(&dir)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let guard = {
        assert!(wait_for(Duration::from_secs(10), || is_mounted(&dir)));
        FuseMount::adopt(&dir)
    };
    read_around_the_corrupt_block(&dir);
    guard.unmount(&[]);
    assert!(server.wait().unwrap().success());
    let mut log = String::new();
    server
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    let eio_lines: Vec<_> = log
        .lines()
        .filter(|l| l.contains("returning EIO"))
        .collect();
    assert_eq!(eio_lines.len(), 1, "{log}");
    assert!(eio_lines[0].contains("bad.sqfs"), "{log}");
    assert!(
        !log.contains('\x1b'),
        "colour codes in a log that is no terminal: {log:?}"
    );
}

#[test]
fn the_detached_server_logs_to_syslog() {
    let site = frame::site();
    let syslog = Syslog::capture(&site);
    let work = tempfile::tempdir().unwrap();
    let bad = image_with_a_corrupt_block(work.path());
    let dir = work.path().join("mnt");
    let mount = FuseMount::new(&bad, &dir);
    read_around_the_corrupt_block(&dir);
    mount.unmount(&[]);
    // Other tests' servers may log meanwhile: count this mount's lines.
    let ours = |parts: &[&str]| {
        let messages = syslog.messages();
        messages
            .iter()
            .filter(|m| m.contains("bale-mount[") && parts.iter().all(|p| m.contains(p)))
            .count()
    };
    let (dir_name, bad_name) = (dir.display().to_string(), bad.display().to_string());
    // The server has exited; its last lines may still be on their way.
    let exited = || ours(&[&dir_name, "server exits"]) == 1;
    assert!(
        wait_for(Duration::from_secs(5), exited),
        "{:#?}",
        syslog.messages()
    );
    assert_eq!(ours(&[&dir_name, "mounted on"]), 1);
    assert_eq!(ours(&[&bad_name]), 1, "{:#?}", syslog.messages());
    assert_eq!(ours(&[&bad_name, "returning EIO"]), 1);
}

/// Mounts mutants of `image` with bytes flipped in `range`, walks each,
/// and checks: only EIO, no hang, the server stays up until unmounted.
fn walk_mutants(image: &Path, work: &Path, seed: u64, count: usize, metadata: bool) {
    let bytes = std::fs::read(image).unwrap();
    let (start, end) = if metadata {
        (sb_u64(&bytes, INODE_TABLE), sb_u64(&bytes, BYTES_USED))
    } else {
        (96, sb_u64(&bytes, INODE_TABLE))
    };
    let mut rng = Rng::new(seed);
    let (mut mounted, mut failed_ops) = (0, 0);
    for i in 0..count {
        let mut mutant = bytes.clone();
        for _ in 0..1 + rng.below(4) {
            let at = (start + rng.below(end - start)) as usize;
            mutant[at] ^= 1 << rng.below(8);
        }
        if i % 5 == 4 {
            // Truncated as well.
            mutant.truncate((start + rng.below(end - start)) as usize);
        }
        let path = work.join(format!("mutant-{seed}-{i}.sqfs"));
        std::fs::write(&path, &mutant).unwrap();
        let dir = work.join(format!("mnt-{seed}-{i}"));
        std::fs::create_dir(&dir).unwrap();
        let out = bale().arg("mount").arg(&path).arg(&dir).output().unwrap();
        if !out.status.success() {
            // Refused at open (superblock, tables, root): one line, no mount.
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
            assert_gone(&dir);
            continue;
        }
        mounted += 1;
        let mount = FuseMount::adopt(&dir);
        let w = walk(&dir, Duration::from_secs(30));
        assert_only_eio(&w);
        failed_ops += w.errors.len();
        assert_eq!(servers(&dir).len(), 1, "server died on mutant {i}");
        // Still answering.
        run_ok("stat", &["-f", dir.to_str().unwrap()]);
        mount.unmount(&[]);
    }
    assert!(
        mounted > count / 4,
        "only {mounted} of {count} mutants mounted"
    );
    // The mutants did reach the driver's error paths.
    assert!(
        failed_ops > 0,
        "no operation failed on {mounted} mounted mutants"
    );
    eprintln!("{mounted} of {count} mutants mounted; {failed_ops} operations failed with EIO");
}

#[test]
fn corrupt_metadata_never_crashes_or_hangs_the_server() {
    require_root();
    let work = tempfile::tempdir().unwrap();
    // Uncompressed inode and directory tables: flipped bits reach the
    // structures instead of failing decompression.
    let image = gzip_image_with(work.path(), &["-noI"]);
    walk_mutants(&image, work.path(), 1, 40, true);
    // A bale pack image too.
    let packed = work.path().join("packed.sqfs");
    bale()
        .args(["pack", "-q", "--no-compression"])
        .arg(work.path().join("src"))
        .arg(&packed)
        .assert()
        .success();
    walk_mutants(&packed, work.path(), 2, 40, true);
}

#[test]
fn corrupt_data_never_crashes_or_hangs_the_server() {
    require_root();
    let work = tempfile::tempdir().unwrap();
    let image = gzip_image(work.path());
    walk_mutants(&image, work.path(), 3, 20, false);
}

#[test]
fn sigterm_and_external_unmounts_end_the_server() {
    require_root();
    let work = tempfile::tempdir().unwrap();
    let image = gzip_image(work.path());
    let dir = work.path().join("mnt");
    let mount = FuseMount::new(&image, &dir);
    let pids = servers(&dir);
    assert_eq!(pids.len(), 1);
    run_ok("kill", &["-TERM", &pids[0].to_string()]);
    assert!(wait_for(Duration::from_secs(5), || !is_mounted(&dir)));
    assert_gone(&dir);
    drop(mount);

    let mount = FuseMount::new(&image, &dir);
    run_ok("umount", &[dir.to_str().unwrap()]);
    assert_gone(&dir);
    drop(mount);
}

/// A server whose mount was unmounted here but lives on in another mount
/// namespace (one made while it was mounted: a container, `bale run`) keeps
/// serving. When it ends at last — its namespace gone, or signalled — it
/// must not unmount the mount that has taken its place here since.
#[test]
fn a_server_ending_late_leaves_a_newer_mount_on_its_place_alone() {
    require_root();
    let work = tempfile::tempdir().unwrap();
    let image = gzip_image(work.path());
    let dir = work.path().join("mnt");
    std::fs::create_dir(&dir).unwrap();
    for signalled in [false, true] {
        bale().arg("mount").arg(&image).arg(&dir).assert().success();
        let old_server = servers(&dir);
        assert_eq!(old_server.len(), 1);
        let namespace = support::NamespaceCopy::of(&dir);
        bale().arg("umount").arg(&dir).assert().success();
        let new = FuseMount::new(&image, &dir);
        if signalled {
            run_ok("kill", &["-TERM", &old_server[0].to_string()]);
        }
        drop(namespace);
        let old_gone = || !Path::new(&format!("/proc/{}", old_server[0])).exists();
        assert!(
            wait_for(Duration::from_secs(10), old_gone),
            "the old server lives on"
        );
        assert!(
            is_mounted(&dir),
            "signalled {signalled}: the newer mount was unmounted"
        );
        assert!(std::fs::read_dir(&dir).unwrap().count() > 0);
        new.unmount(&[]);
        assert_gone(&dir);
    }
}

/// A process reading `file` over and over.
fn busy_reader(file: &Path) -> std::process::Child {
    Command::new("sh")
        .args(["-c", r#"while :; do cat "$1" >/dev/null; done"#, "sh"])
        .arg(file)
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn killing_a_reader_and_unmounting_under_load_leave_nothing_behind() {
    require_root();
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let image = gzip_image(work.path());
    let dir = work.path().join("mnt");
    let mount = FuseMount::new(&image, &dir);
    // Cold reads of a large file, killed mid-way.
    let mut reader = Command::new("md5sum")
        .arg(dir.join("big"))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(5));
    reader.kill().unwrap();
    reader.wait().unwrap();
    let expected = run_ok("md5sum", &[work.path().join("src/big").to_str().unwrap()]).stdout;
    let got = run_ok("md5sum", &[dir.join("big").to_str().unwrap()]).stdout;
    assert_eq!(
        String::from_utf8_lossy(&expected).split(' ').next(),
        String::from_utf8_lossy(&got).split(' ').next()
    );

    // A held file makes a plain unmount fail cleanly...
    let mut holder = Command::new("sleep")
        .arg("60")
        .stdin(std::fs::File::open(dir.join("dir1/f3.txt")).unwrap())
        .spawn()
        .unwrap();
    let mut readers: Vec<_> = (0..3).map(|_| busy_reader(&dir.join("big"))).collect();
    std::thread::sleep(Duration::from_millis(200));
    let out = bale().arg("umount").arg(&dir).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("busy"));
    assert!(is_mounted(&dir));
    // ...and a lazy one detaches at once; the server ends with the last user.
    bale()
        .args(["umount", "--lazy"])
        .arg(&dir)
        .assert()
        .success();
    assert!(!is_mounted(&dir));
    for r in readers.iter_mut().chain([&mut holder]) {
        r.kill().unwrap();
        r.wait().unwrap();
    }
    assert_gone(&dir);
    drop(mount);
    assert!(run("pgrep", &["-f", dir.to_str().unwrap()])
        .stdout
        .is_empty());
}

/// An entry whose inode is damaged is still listed, as the kernel's
/// squashfs lists it: only looking at it fails (EIO). Leaving it out would
/// let `cp -r` or `rsync` from the mount copy a tree with files missing
/// and no error.
#[test]
fn entries_with_a_damaged_inode_are_listed_and_fail_when_looked_at() {
    require_root();
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    let names: Vec<String> = (0..50).map(|i| format!("f{i}")).collect();
    for name in &names {
        std::fs::write(src.join("d").join(name), name).unwrap();
    }
    let image = work.path().join("i.sqfs");
    bale()
        .args(["pack", "-q", "--no-compression"])
        .arg(&src)
        .arg(&image)
        .assert()
        .success();
    // Uncompressed inodes of 32 bytes, the files' first: overwrite some of
    // them (after the first metadata block's 2-byte header).
    let mut bytes = std::fs::read(&image).unwrap();
    let inodes = sb_u64(&bytes, INODE_TABLE) as usize;
    bytes[inodes + 2 + 320..inodes + 2 + 520].fill(0xff);
    let bad = work.path().join("bad.sqfs");
    std::fs::write(&bad, &bytes).unwrap();

    let mount = FuseMount::new(&bad, &work.path().join("mnt"));
    let d = mount.dir.join("d");
    let mut listed: Vec<String> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    listed.sort();
    let mut expected = names.clone();
    expected.sort();
    assert_eq!(listed, expected);
    let failed: Vec<&String> = names
        .iter()
        .filter(|name| match std::fs::symlink_metadata(d.join(name)) {
            Ok(_) => false,
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc_eio()), "{name}: {e}");
                true
            }
        })
        .collect();
    assert!(
        (3..names.len() - 3).contains(&failed.len()),
        "{} of {} entries failed: {failed:?}",
        failed.len(),
        names.len()
    );
    mount.unmount(&[]);
}
