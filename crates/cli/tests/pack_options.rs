//! `bale pack` options users rely on: --all-root, --mtime and
//! SOURCE_DATE_EPOCH, --exclude and --exclude-from, --one-file-system, --no-xattrs, and the
//! summary warning for attribute namespaces squashfs cannot store.

mod support;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use support::*;

fn sample(dir: &Path) {
    std::fs::create_dir_all(dir.join("src/sub/.git")).unwrap();
    std::fs::write(dir.join("src/a.c"), "int main;").unwrap();
    std::fs::write(dir.join("src/a.o"), "obj").unwrap();
    std::fs::write(dir.join("src/sub/b.o"), "obj").unwrap();
    std::fs::write(dir.join("src/sub/keep.txt"), "keep").unwrap();
    std::fs::write(dir.join("src/sub/.git/HEAD"), "ref").unwrap();
}

fn listing(image: &Path) -> String {
    String::from_utf8(run_ok("unsquashfs", &["-lln", image.to_str().unwrap()]).stdout).unwrap()
}

#[test]
fn all_root_and_mtime_override_metadata() {
    require_root();
    let w = tempfile::tempdir().unwrap();
    sample(w.path());
    std::os::unix::fs::lchown(w.path().join("src/a.c"), Some(1234), Some(5678)).unwrap();
    let image = w.path().join("i.sqfs");
    pack(
        &w.path().join("src"),
        &image,
        &["--all-root", "--mtime", "1000000000"],
    );
    let m = KernelMount::new(&image, &w.path().join("mnt"));
    let meta = m.dir.join("a.c").metadata().unwrap();
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mtime()),
        (0, 0, 1_000_000_000)
    );
    assert_eq!(m.dir.join("sub").metadata().unwrap().mtime(), 1_000_000_000);
}

/// `--owner` and `--group` take a name (looked up like `id` does) or a
/// number, for a tree and for an archive; a name nobody has is refused.
#[test]
fn owner_and_group_apply_to_every_entry() {
    let w = tempfile::tempdir().unwrap();
    sample(w.path());
    ok(run_in(
        "tar",
        &["-cf", "src.tar", "-C", "src", "."],
        w.path(),
    ));
    let nobody: u32 = ok(run("id", &["-u", "nobody"])).parse().unwrap();
    for (src, image) in [("src", "dir.sqfs"), ("src.tar", "tar.sqfs")] {
        let image = w.path().join(image);
        pack(
            &w.path().join(src),
            &image,
            &["--owner", "nobody", "--group", "4242"],
        );
        let listing = listing(&image);
        let owners: Vec<&str> = listing
            .lines()
            .map(|l| l.split_whitespace().nth(1).unwrap())
            .collect();
        assert!(owners.len() >= 7, "{listing}");
        let expected = format!("{nobody}/4242");
        assert!(owners.iter().all(|o| *o == expected), "{listing}");
    }
    let out = bale()
        .args(["pack", "--owner", "no-such-user-here"])
        .arg(w.path().join("src"))
        .arg(w.path().join("x.sqfs"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("'no-such-user-here' for '--owner <USER>': no such user"));
    assert!(!w.path().join("x.sqfs").exists());
    // (uid_t) -1 is what chown takes for "no change": no file has it.
    let out = bale()
        .args(["pack", "--group", "4294967295"])
        .arg(w.path().join("src"))
        .arg(w.path().join("x.sqfs"))
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("4294967295 is not a valid group id"),
        "{}",
        stderr(&out)
    );
    assert!(!w.path().join("x.sqfs").exists());
}

#[test]
fn source_date_epoch_makes_images_reproducible() {
    let w = tempfile::tempdir().unwrap();
    sample(w.path());
    let pack = |name: &str| {
        bale()
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args(["pack", "-q"])
            .arg(w.path().join("src"))
            .arg(w.path().join(name))
            .assert()
            .success();
        std::fs::read(w.path().join(name)).unwrap()
    };
    let first = pack("one.sqfs");
    // Touch the source: with SOURCE_DATE_EPOCH the image must not change.
    std::fs::write(w.path().join("src/a.c"), "int main;").unwrap();
    assert!(first == pack("two.sqfs"), "images differ");
    assert!(listing(&w.path().join("one.sqfs")).contains("2023-11-14"));
}

#[test]
fn excludes_match_names_anywhere_and_paths_from_the_top() {
    let w = tempfile::tempdir().unwrap();
    sample(w.path());
    let image = w.path().join("i.sqfs");
    pack(
        &w.path().join("src"),
        &image,
        &["--exclude", "*.o", "-e", "sub/.git"],
    );
    let list = listing(&image);
    assert!(list.contains("squashfs-root/a.c"), "{list}");
    assert!(list.contains("squashfs-root/sub/keep.txt"), "{list}");
    assert!(!list.contains(".o"), "{list}");
    assert!(!list.contains(".git"), "{list}");
}

/// rsync's reading of a pattern, for a tree and for an archive of it: a
/// leading '/' anchors at the top, a trailing '/' spares files.
#[test]
fn excludes_anchor_on_a_leading_slash_and_take_directories_on_a_trailing_one() {
    let w = tempfile::tempdir().unwrap();
    let src = w.path().join("src");
    for dir in ["build/x", "sub/build", "sub/cache", "keep"] {
        std::fs::create_dir_all(src.join(dir)).unwrap();
    }
    for file in ["build/x/f", "sub/build/g", "keep/cache", "a.c"] {
        std::fs::write(src.join(file), "data").unwrap();
    }
    ok(run_in(
        "tar",
        &["-cf", "src.tar", "-C", "src", "."],
        w.path(),
    ));
    for source in ["src", "src.tar"] {
        let image = w.path().join("i.sqfs");
        pack(
            &w.path().join(source),
            &image,
            &["--force", "-e", "/build", "-e", "cache/"],
        );
        let list = listing(&image);
        let names: Vec<&str> = list
            .lines()
            .filter_map(|l| l.split("squashfs-root").nth(1))
            .collect();
        assert_eq!(
            names,
            [
                "",
                "/a.c",
                "/keep",
                "/keep/cache",
                "/sub",
                "/sub/build",
                "/sub/build/g"
            ],
            "{source}"
        );
    }
}

#[test]
fn exclude_from_reads_one_pattern_a_line() {
    let w = tempfile::tempdir().unwrap();
    sample(w.path());
    let list_file = w.path().join("excludes");
    std::fs::write(&list_file, "# build products\n*.o\n\n  \nsub/.git\n").unwrap();
    let image = w.path().join("i.sqfs");
    let list_file = list_file.to_str().unwrap();
    pack(
        &w.path().join("src"),
        &image,
        &["-e", "keep.txt", "--exclude-from", list_file],
    );
    let list = listing(&image);
    assert!(list.contains("squashfs-root/a.c"), "{list}");
    for gone in [".o", ".git", "keep.txt"] {
        assert!(!list.contains(gone), "{gone} in {list}");
    }
}

#[test]
fn one_file_system_stops_at_mount_points() {
    require_root();
    let w = tempfile::tempdir().unwrap();
    sample(w.path());
    let inner = Tmpfs::new(&w.path().join("src/sub/mnt"), "1m");
    std::fs::write(inner.dir.join("on-tmpfs"), "x").unwrap();
    let image = w.path().join("i.sqfs");
    let out = bale()
        .args(["pack", "--one-file-system"])
        .arg(w.path().join("src"))
        .arg(&image)
        .output()
        .unwrap();
    drop(inner);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sub/mnt: other file system"), "{stderr}");
    let list = listing(&image);
    assert!(list.contains("squashfs-root/sub/mnt\n"), "{list}");
    assert!(!list.contains("on-tmpfs"), "{list}");
}

#[test]
fn unsupported_xattr_namespaces_get_one_summary_warning() {
    let w = tempfile::tempdir().unwrap();
    sample(w.path());
    // POSIX ACLs live in system.* attributes, which squashfs cannot store.
    for f in ["a.c", "a.o", "sub/b.o"] {
        run_ok(
            "setfacl",
            &[
                "-m",
                "u:65534:r",
                w.path().join("src").join(f).to_str().unwrap(),
            ],
        );
    }
    xattr::set(w.path().join("src/a.c"), "user.kept", b"yes").unwrap();
    let image = w.path().join("i.sqfs");
    let out = bale()
        .arg("pack")
        .arg(w.path().join("src"))
        .arg(&image)
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.lines().count(),
        1,
        "one warning line expected: {stderr}"
    );
    assert!(stderr.contains("3 extended attributes"), "{stderr}");
    let x = w.path().join("x");
    unsquashfs(&image, &x);
    assert_eq!(
        xattr::get(x.join("a.c"), "user.kept").unwrap().as_deref(),
        Some(&b"yes"[..])
    );

    let bare = w.path().join("bare.sqfs");
    pack(&w.path().join("src"), &bare, &["--no-xattrs"]);
    let info =
        String::from_utf8(run_ok("unsquashfs", &["-s", bare.to_str().unwrap()]).stdout).unwrap();
    assert!(info.contains("Xattrs are not stored"), "{info}");
}

/// Twelve 1 MiB random files: xz with one thread takes a few seconds.
fn slow_source(w: &Path) -> std::path::PathBuf {
    let src = w.join("src");
    std::fs::create_dir(&src).unwrap();
    let mut rng = support::gen::Rng::new(3);
    for i in 0..12 {
        std::fs::write(src.join(format!("r{i}")), rng.bytes(1 << 20)).unwrap();
    }
    src
}

/// `bale pack -c xz -j 1 SRC IMAGE` in a terminal.
fn pack_in_a_pty(src: &Path, image: &Path) -> rexpect::session::PtySession {
    let mut cmd = std::process::Command::new(bale_path());
    cmd.args(["pack", "-c", "xz", "-j", "1"])
        .arg(src)
        .arg(image);
    rexpect::session::spawn_command(cmd, Some(60_000)).expect("spawn in a pty")
}

#[test]
fn progress_bar_on_a_terminal_then_the_summary() {
    let w = tempfile::tempdir().unwrap();
    let src = slow_source(w.path());
    let mut p = pack_in_a_pty(&src, &w.path().join("i.sqfs"));
    p.exp_regex(r"\d+(\.\d+)? [KMG]iB/12\.00 MiB \d+/12 files")
        .unwrap();
    p.exp_string("packed 13 entries").unwrap();
    p.exp_eof().unwrap();
}

/// An archive's size is known only at its end: members and bytes so far.
#[test]
fn progress_from_an_archive_counts_members_and_bytes() {
    let w = tempfile::tempdir().unwrap();
    slow_source(w.path());
    ok(run_in("tar", &["-cf", "src.tar", "src"], w.path()));
    let mut p = pack_in_a_pty(&w.path().join("src.tar"), &w.path().join("i.sqfs"));
    p.exp_regex(r"\d+ entries, \d+(\.\d+)? [KMG]iB read")
        .unwrap();
    p.exp_string("packed 14 entries").unwrap();
    p.exp_eof().unwrap();
}

/// A new image gets the mode any new file gets (0666 less the umask, so
/// the site's users can read a software image), not a temporary file's
/// 0600; an image replaced with `--force` keeps its permission bits.
#[test]
fn a_new_image_follows_the_umask_and_a_replaced_one_keeps_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    let w = tempfile::tempdir().unwrap();
    sample(w.path());
    let image = w.path().join("i.sqfs");
    let bale = assert_cmd::cargo::cargo_bin("bale");
    let src = w.path().join("src");
    let pack_with_umask = |umask: &str, extra: &[&str]| {
        let script = format!("umask {umask} && exec \"$@\"");
        let mut args = vec!["-c", &script, "sh", bale.to_str().unwrap(), "pack", "-q"];
        args.extend_from_slice(extra);
        args.extend([src.to_str().unwrap(), image.to_str().unwrap()]);
        ok(run("sh", &args));
    };
    let mode = || image.metadata().unwrap().permissions().mode() & 0o7777;
    pack_with_umask("022", &[]);
    assert_eq!(mode(), 0o644);
    std::fs::remove_file(&image).unwrap();
    pack_with_umask("027", &[]);
    assert_eq!(mode(), 0o640);
    std::fs::set_permissions(&image, std::fs::Permissions::from_mode(0o604)).unwrap();
    pack_with_umask("077", &["--force"]);
    assert_eq!(mode(), 0o604);
}

/// The source path may be a symlink to the tree (as with every tool,
/// what is beneath is never reached through one), and an image replaced
/// with `--force` inside the tree is not packed into its successor.
#[test]
fn a_symlinked_source_is_followed_and_the_replaced_image_left_out() {
    let w = tempfile::tempdir().unwrap();
    sample(w.path());
    std::os::unix::fs::symlink("src", w.path().join("link")).unwrap();
    let image = w.path().join("src/i.sqfs");
    for _ in 0..2 {
        pack(&w.path().join("link"), &image, &["--force"]);
    }
    let names = ok(bale().args(["ls", "-R"]).arg(&image).output().unwrap());
    assert!(names.contains("keep.txt"), "{names}");
    assert!(!names.contains("i.sqfs"), "{names}");
}

/// `--progress-every` prints a line with the figures of the bar even when
/// stderr is not a terminal (a batch job's log), the summary after them.
#[test]
fn progress_lines_go_to_a_log() {
    let w = tempfile::tempdir().unwrap();
    let src = w.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let mut rng = support::gen::Rng::new(7);
    for i in 0..16 {
        std::fs::write(src.join(format!("f{i:02}")), rng.bytes(1 << 20)).unwrap();
    }
    // Random bytes through xz on one thread: seconds, many intervals.
    let out = bale()
        .args(["pack", "-c", "xz", "-j", "1", "--progress-every", "0.1"])
        .arg(&src)
        .arg(w.path().join("i.sqfs"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(!lines.is_empty(), "no progress lines");
    for line in &lines {
        let figures = line.strip_prefix("bale: ").expect(line);
        assert!(
            figures.starts_with("scanning: ")
                || (figures.contains(" of 16.00 MiB (")
                    && figures.contains(" of 16 files, ")
                    && figures.ends_with("/s")),
            "{line}"
        );
    }
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("packed 17 entries"));
}
