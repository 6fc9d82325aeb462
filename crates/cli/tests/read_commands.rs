//! The read subcommands against images made by `mksquashfs` (which must be
//! installed): info agrees with `unsquashfs -s`, ls with the tree, cat with
//! the bytes, extract reproduces the source, verify finds differences.

mod support;

use assert_cmd::Command;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    src: PathBuf,
    image: PathBuf,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let src = root.join("src");
    std::fs::create_dir_all(src.join("docs/deep")).unwrap();
    std::fs::write(src.join("docs/readme"), b"read me\n").unwrap();
    std::fs::write(
        src.join("docs/deep/data"),
        (0..300_000u32)
            .map(|i| (i * 7 % 251) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    for i in 0..40 {
        std::fs::write(src.join(format!("docs/n{i:02}")), format!("{i}\n")).unwrap();
    }
    std::fs::hard_link(src.join("docs/readme"), src.join("readme")).unwrap();
    symlink("docs/readme", src.join("link")).unwrap();
    symlink("docs", src.join("docslink")).unwrap();
    std::fs::set_permissions(src.join("docs/deep"), PermissionsExt::from_mode(0o750)).unwrap();
    if rustix::process::geteuid().is_root() {
        std::os::unix::fs::chown(src.join("docs/readme"), Some(1001), Some(1002)).unwrap();
    }
    rustix::fs::setxattr(
        src.join("docs/readme"),
        "user.origin",
        b"test",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    let image = root.join("image.sqfs");
    let status = std::process::Command::new("mksquashfs")
        .arg(&src)
        .arg(&image)
        .args([
            "-comp",
            "gzip",
            "-b",
            "65536",
            "-noappend",
            "-quiet",
            "-no-progress",
        ])
        .status()
        .expect("mksquashfs must be installed (apt-get install squashfs-tools)");
    assert!(status.success());
    Fixture {
        _tmp: tmp,
        root,
        src,
        image,
    }
}

fn bale() -> Command {
    Command::cargo_bin("bale").unwrap()
}

fn stdout_of(args: &[&dyn AsRef<std::ffi::OsStr>]) -> String {
    let out = bale()
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `unsquashfs -s` reports "Number of inodes 12"-style lines.
fn unsquashfs_field(image: &Path, label: &str) -> String {
    let out = std::process::Command::new("unsquashfs")
        .arg("-s")
        .arg(image)
        .output()
        .expect("unsquashfs must be installed (apt-get install squashfs-tools)");
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(label))
        .unwrap_or_else(|| panic!("{label} not in {text}"))
        .trim()
        .to_string()
}

fn info_field<'a>(info: &'a str, label: &str) -> &'a str {
    info.lines()
        .find_map(|l| l.strip_prefix(label))
        .unwrap_or_else(|| panic!("{label} not in {info}"))
        .trim()
}

#[test]
fn info_agrees_with_unsquashfs() {
    let f = fixture();
    let info = stdout_of(&[&"info", &f.image]);
    for (ours, theirs) in [
        ("inodes:", "Number of inodes"),
        ("block size:", "Block size"),
        ("fragments:", "Number of fragments"),
        ("ids:", "Number of ids"),
    ] {
        assert_eq!(
            info_field(&info, ours),
            unsquashfs_field(&f.image, theirs),
            "{ours}"
        );
    }
    assert!(info_field(&info, "compression:").starts_with("gzip"));
    // Each with its human form.
    let used = info_field(&info, "bytes used:");
    let (number, human) = used.split_once(" (").expect(used);
    assert!(
        number.parse::<u64>().is_ok() && human.ends_with("KiB)"),
        "{used}"
    );
    let made = info_field(&info, "modification time:");
    assert!(made.contains(" UTC (") && made.ends_with(')'), "{made}");
    assert!(info.contains("exportable"));
    assert!(info.contains("inode table:"));
}

#[test]
fn ls_matches_the_tree() {
    let f = fixture();
    let mut names: Vec<String> = std::fs::read_dir(f.src.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        stdout_of(&[&"ls", &f.image, &"docs"]),
        names.join("\n") + "\n"
    );
    let long = stdout_of(&[&"ls", &f.image, &"-l"]);
    let link = long
        .lines()
        .find(|l| l.ends_with("link -> docs/readme"))
        .unwrap();
    assert!(link.starts_with("lrwxrwxrwx"), "{link}");
    assert!(long
        .lines()
        .any(|l| l.starts_with("drwxr-xr-x") && l.ends_with(" docs")));
    let readme = long.lines().find(|l| l.ends_with(" readme")).unwrap();
    assert!(readme.starts_with("-rw-r--r--   2 "), "{readme}");
    // A symlink given is followed (a directory's is listed), except that
    // -l shows the link itself unless a '/' follows it, as with ls.
    let listing = names.join("\n") + "\n";
    assert_eq!(stdout_of(&[&"ls", &f.image, &"docslink"]), listing);
    assert_eq!(stdout_of(&[&"ls", &f.image, &"link"]), "link\n");
    let own = stdout_of(&[&"ls", &f.image, &"-l", &"docslink"]);
    assert!(own.trim_end().ends_with("docslink -> docs"), "{own}");
    let through = stdout_of(&[&"ls", &f.image, &"-l", &"docslink/"]);
    assert_eq!(through.lines().count(), names.len(), "{through}");
    let recursive = stdout_of(&[&"ls", &f.image, &"-R"]);
    assert!(recursive.contains("\n/docs/deep:\ndata\n"), "{recursive}");
    bale()
        .arg("ls")
        .arg(&f.image)
        .arg("nope")
        .assert()
        .failure()
        .stderr(predicates::str::contains("nope: no such file or directory"));
}

#[test]
fn cat_streams_the_bytes() {
    let f = fixture();
    let out = bale()
        .arg("cat")
        .arg(&f.image)
        .arg("docs/deep/data")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        out.stdout,
        std::fs::read(f.src.join("docs/deep/data")).unwrap()
    );
    bale()
        .arg("cat")
        .arg(&f.image)
        .arg("docs")
        .assert()
        .failure()
        .stderr(predicates::str::ends_with("docs: is a directory\n"));
    // A symlink is followed inside the image, as on a mount of it.
    let out = bale()
        .arg("cat")
        .arg(&f.image)
        .arg("link")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, b"read me\n");
}

#[test]
fn extract_reproduces_the_source() {
    let f = fixture();
    let out = f.root.join("out");
    bale()
        .arg("extract")
        .arg(&f.image)
        .arg(&out)
        .assert()
        .success();
    bale()
        .arg("verify")
        .arg(&f.image)
        .arg("--against")
        .arg(&out)
        .assert()
        .success()
        .stdout("");
    let readme = std::fs::symlink_metadata(out.join("docs/readme")).unwrap();
    let source = std::fs::symlink_metadata(f.src.join("docs/readme")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        (
            readme.uid(),
            readme.gid(),
            readme.mode(),
            readme.mtime(),
            readme.nlink()
        ),
        (
            source.uid(),
            source.gid(),
            source.mode(),
            source.mtime(),
            source.nlink()
        )
    );
    let extract = |force: bool| {
        let mut cmd = bale();
        cmd.arg("extract").arg(&f.image).arg(&out);
        if force {
            cmd.arg("-f");
        }
        cmd.assert()
    };
    extract(false)
        .failure()
        .stderr(predicates::str::contains("not empty"));
    extract(true).success();
    // -f replaces an empty directory where the image has a file, but never
    // deletes a tree that stands there.
    std::fs::remove_file(out.join("docs/readme")).unwrap();
    std::fs::create_dir(out.join("docs/readme")).unwrap();
    extract(true).success();
    assert!(out.join("docs/readme").is_file());
    std::fs::remove_file(out.join("docs/readme")).unwrap();
    std::fs::create_dir_all(out.join("docs/readme/mine")).unwrap();
    extract(true).code(1).stderr(format!(
        "bale: {}: a directory with contents stands where the image has a non-directory \
         (--force replaces files and empty directories only)\n",
        out.join("docs/readme").display()
    ));
    assert!(out.join("docs/readme/mine").is_dir());
    // A file as the destination: said so, and left as it was.
    let file = f.root.join("a-file");
    std::fs::write(&file, "mine").unwrap();
    for force in [&[][..], &["-f"]] {
        bale()
            .arg("extract")
            .arg(&f.image)
            .arg(&file)
            .args(force)
            .assert()
            .code(1)
            .stderr(format!(
                "bale: {}: not a directory (extract writes into a directory)\n",
                file.display()
            ));
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
}

/// Names below `dir`, relative to it, sorted.
fn names_below(dir: &Path) -> Vec<PathBuf> {
    let mut names = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.symlink_metadata().unwrap().is_dir() {
                stack.push(path.clone());
            }
            names.push(path.strip_prefix(dir).unwrap().to_path_buf());
        }
    }
    names.sort();
    names
}

/// `--path` restores one directory of the image (reached through a
/// symlink here), its content straight into the destination.
#[test]
fn extract_restores_one_directory_on_request() {
    let f = fixture();
    let out = f.root.join("docs-only");
    bale()
        .args(["extract", "--path", "docslink"])
        .arg(&f.image)
        .arg(&out)
        .assert()
        .success();
    assert_eq!(names_below(&out), names_below(&f.src.join("docs")));
    assert_eq!(
        std::fs::read(out.join("deep/data")).unwrap(),
        std::fs::read(f.src.join("docs/deep/data")).unwrap()
    );
    bale()
        .args(["extract", "--path", "docs/readme"])
        .arg(&f.image)
        .arg(f.root.join("file"))
        .assert()
        .failure()
        .stderr(predicates::str::contains("docs/readme: not a directory"));
    assert!(!f.root.join("file").exists());
}

/// A name holding a newline is shown quoted and escaped, as a shell
/// writes it: one line per difference still.
/// A FIFO named as the image: every command says so at once instead of
/// waiting forever for a writer (`timeout` ends a hang as a failure).
#[test]
fn a_fifo_as_the_image_is_refused_without_waiting() {
    let w = tempfile::tempdir().unwrap();
    let fifo = w.path().join("ff");
    let mnt = w.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    support::run_ok("mkfifo", &[fifo.to_str().unwrap()]);
    let fifo = fifo.to_str().unwrap();
    for args in [
        vec!["ls", fifo],
        vec!["cat", fifo, "x"],
        vec!["verify", fifo],
        vec!["info", fifo],
        vec!["mount", "--backend", "fuse", fifo, mnt.to_str().unwrap()],
    ] {
        let out = Command::new("timeout")
            .arg("20")
            .arg(env!("CARGO_BIN_EXE_bale"))
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(
            err,
            format!("bale: {fifo}: is a FIFO, not an image file\n"),
            "{args:?}"
        );
    }
}

/// A name holding a terminal's escape sequences (it could retitle the
/// window or forge a line): into a pipe as it is, as ls does; on a
/// terminal quoted, so nothing reaches the terminal raw.
#[test]
fn ls_quotes_names_on_a_terminal_and_not_into_a_pipe() {
    let w = tempfile::tempdir().unwrap();
    let src = w.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let name = "a\x1b]0;pwned\x07\nb";
    std::fs::write(src.join(name), "1").unwrap();
    std::os::unix::fs::symlink("\x1b[2Jt", src.join("link")).unwrap();
    let image = w.path().join("i.sqfs");
    bale()
        .args(["pack", "-q"])
        .arg(&src)
        .arg(&image)
        .assert()
        .success();
    let piped = stdout_of(&[&"ls", &image]);
    assert_eq!(piped, format!("{name}\nlink\n"));
    // `script` runs it on a pseudo-terminal.
    let line = format!(
        "{} ls -l {}",
        env!("CARGO_BIN_EXE_bale"),
        image.to_str().unwrap()
    );
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(
        !shown.contains('\x1b') && !shown.contains('\x07'),
        "{shown:?}"
    );
    assert!(shown.contains("$'a\\x1B]0;pwned\\x07\\nb'"), "{shown:?}");
    assert!(shown.contains("link -> $'\\x1B[2Jt'"), "{shown:?}");
}

#[test]
fn verify_shows_odd_names_on_one_line() {
    let w = tempfile::tempdir().unwrap();
    let src = w.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("odd\nname"), "1").unwrap();
    let image = w.path().join("i.sqfs");
    bale()
        .args(["pack", "-q"])
        .arg(&src)
        .arg(&image)
        .assert()
        .success();
    // New content, same size and modification time: one difference.
    let odd = src.join("odd\nname");
    let mtime = odd.metadata().unwrap().modified().unwrap();
    std::fs::write(&odd, "2").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&odd)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let out = bale()
        .arg("verify")
        .arg(&image)
        .arg("--against")
        .arg(&src)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout, "$'odd\\nname': content differs at byte 0\n");
}

#[test]
fn verify_can_leave_out_owners_and_mtimes() {
    support::require_root();
    let f = fixture();
    let image = f.root.join("all-root.sqfs");
    bale()
        .args(["pack", "-q", "--all-root", "--mtime", "1"])
        .arg(&f.src)
        .arg(&image)
        .assert()
        .success();
    let verify = |ignore: &[&str]| {
        bale()
            .arg("verify")
            .arg(&image)
            .arg("--against")
            .arg(&f.src)
            .args(ignore)
            .output()
            .unwrap()
    };
    let all = String::from_utf8(verify(&[]).stdout).unwrap();
    assert!(
        all.contains("docs/readme: uid: image 0, tree 1001"),
        "{all}"
    );
    assert!(
        all.contains("docs/readme: gid: image 0, tree 1002"),
        "{all}"
    );
    assert!(all.contains("docs/n00: mtime: image 1, tree "), "{all}");
    let owners_kept = verify(&["--ignore-mtimes"]);
    assert_eq!(owners_kept.status.code(), Some(1));
    let owners_kept = String::from_utf8(owners_kept.stdout).unwrap();
    assert!(!owners_kept.contains("mtime"), "{owners_kept}");
    // docs/readme and its hard link readme, uid and gid.
    assert_eq!(owners_kept.lines().count(), 4, "{owners_kept}");
    let neither = verify(&["--ignore-owners", "--ignore-mtimes"]);
    assert!(neither.status.success(), "{}", support::stdout(&neither));
    // Meaningless without a tree to compare with.
    bale()
        .args(["verify", "--ignore-owners"])
        .arg(&image)
        .assert()
        .code(2);
}

#[test]
fn verify_reports_each_difference() {
    let f = fixture();
    bale().arg("verify").arg(&f.image).assert().success();
    let data = f.src.join("docs/deep/data");
    let mut bytes = std::fs::read(&data).unwrap();
    bytes[12345] ^= 0x40;
    std::fs::write(&data, bytes).unwrap();
    std::fs::set_permissions(f.src.join("docs/n07"), PermissionsExt::from_mode(0o600)).unwrap();
    std::fs::remove_file(f.src.join("docs/n08")).unwrap();
    std::fs::write(f.src.join("docs/extra"), b"new").unwrap();
    let verify_against = || {
        bale()
            .arg("verify")
            .arg(&f.image)
            .arg("--against")
            .arg(&f.src)
            .output()
            .unwrap()
    };
    let out = verify_against();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    for expected in [
        "docs/deep/data: content differs at byte 12345",
        "docs/n07: mode: image 0644, tree 0600",
        "docs/n08: missing from",
        "docs/extra: not in image",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(expected)),
            "{expected:?} not in {stdout}"
        );
    }
    // Compared in parallel, reported in the image's order every time.
    for _ in 0..5 {
        assert_eq!(String::from_utf8(verify_against().stdout).unwrap(), stdout);
    }
}

/// A tree to compare with that is missing, or not a directory: one line
/// naming it, not a "missing from" line for every entry of the image.
#[test]
fn verify_against_a_missing_tree_is_one_line() {
    let f = fixture();
    for (against, reason) in [
        (f.root.join("nosuch"), "No such file or directory"),
        (f.image.clone(), "Not a directory"),
    ] {
        let out = bale()
            .arg("verify")
            .arg(&f.image)
            .arg("--against")
            .arg(&against)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(support::stdout(&out), "");
        assert_eq!(
            support::stderr(&out),
            format!("bale: {}: {reason}\n", against.display())
        );
    }
}

#[test]
fn corrupt_images_are_named_in_one_line() {
    let f = fixture();
    let mut bytes = std::fs::read(&f.image).unwrap();
    bytes.truncate(bytes.len() / 2);
    let bad = f.root.join("bad.sqfs");
    std::fs::write(&bad, bytes).unwrap();
    let out = bale().arg("verify").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("bale: {}: ", bad.display())),
        "{stderr}"
    );
}

/// A damaged data block: verify and extract both name the image and the
/// file whose block it is.
#[test]
fn a_damaged_data_block_is_named_with_its_file() {
    let w = tempfile::tempdir().unwrap();
    let src = w.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("f"), "compressible text ".repeat(20_000)).unwrap();
    let image = w.path().join("i.sqfs");
    // gzip at its default level writes no compressor options: the first
    // data block starts right after the 96-byte superblock.
    bale()
        .args(["pack", "-q", "-c", "gzip"])
        .arg(&src)
        .arg(&image)
        .assert()
        .success();
    let mut bytes = std::fs::read(&image).unwrap();
    bytes[96 + 8..96 + 40].fill(0xA5);
    std::fs::write(&image, bytes).unwrap();
    for args in [vec!["verify"], vec!["extract"]] {
        let mut command = bale();
        command.args(&args).arg(&image);
        if args[0] == "extract" {
            command.arg(w.path().join("out"));
        }
        let out = command.output().unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.starts_with(&format!("bale: {}: f: corrupt image: ", image.display())),
            "{args:?}: {stderr}"
        );
    }
    assert!(!w.path().join("out").exists());
}

/// A failure at the bottom of a tree deeper than PATH_MAX: what the
/// extraction made is taken back all the same (it is removed through
/// directory descriptors, not paths).
#[test]
fn a_failed_extract_of_a_tree_deeper_than_path_max_leaves_nothing() {
    let w = tempfile::tempdir().unwrap();
    let src = w.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let open = |at: &dyn std::os::fd::AsFd, name: &str| {
        rustix::fs::openat(
            at,
            name,
            rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::RDONLY,
            rustix::fs::Mode::empty(),
        )
        .unwrap()
    };
    // 20 levels of 250-byte names: 5,000-byte paths.
    let long = "d".repeat(250);
    let mut dir = open(&rustix::fs::CWD, src.to_str().unwrap());
    for _ in 0..20 {
        rustix::fs::mkdirat(&dir, long.as_str(), rustix::fs::Mode::from_raw_mode(0o755)).unwrap();
        dir = open(&dir, &long);
    }
    let bottom = rustix::fs::openat(
        &dir,
        "bottom",
        rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CREATE,
        rustix::fs::Mode::from_raw_mode(0o644),
    )
    .unwrap();
    std::io::Write::write_all(
        &mut std::fs::File::from(bottom),
        "compressible text ".repeat(20_000).as_bytes(),
    )
    .unwrap();
    let image = w.path().join("i.sqfs");
    bale()
        .args(["pack", "-q", "-c", "gzip"])
        .arg(&src)
        .arg(&image)
        .assert()
        .success();
    // Its only file's first data block follows the superblock.
    let mut bytes = std::fs::read(&image).unwrap();
    bytes[96 + 8..96 + 40].fill(0xA5);
    std::fs::write(&image, bytes).unwrap();
    let out = w.path().join("out");
    let failed = bale()
        .arg("extract")
        .arg(&image)
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(1), "{failed:?}");
    assert!(!out.exists(), "the failed extraction left its tree");
}

/// A write failing in a writer thread (a full disk here) ends the
/// extraction with one line naming a file, exit status 1, and takes back
/// what it made: the directories it created (parents too), or what it put
/// into an empty one.
#[test]
fn extract_onto_a_full_disk_fails_in_one_line_and_leaves_nothing() {
    let f = fixture();
    let small = support::Tmpfs::new(&f.root.join("small"), "256k");
    std::fs::create_dir(small.dir.join("empty")).unwrap();
    for dest in ["out", "a/b/out", "empty"] {
        let out = bale()
            .arg("extract")
            .arg(&f.image)
            .arg(small.dir.join(dest))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(&format!("{dest}/")) && stderr.ends_with(": No space left on device\n"),
            "{stderr}"
        );
        let mut left: Vec<String> = std::fs::read_dir(&small.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["empty"], "after extracting into {dest}");
        assert_eq!(
            std::fs::read_dir(small.dir.join("empty")).unwrap().count(),
            0
        );
    }
}

/// An ordinary user's extraction leaves out what only root may make — a
/// device node, `trusted.*` attributes — says so once per kind, and
/// restores the rest (it used to fail over the first such attribute and
/// remove everything).
#[test]
fn a_users_extract_leaves_out_what_needs_root_and_says_so() {
    support::fuse::ensure_users();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    for name in ["f", "g"] {
        let file = src.join(name);
        std::fs::write(&file, name).unwrap();
        for attr in ["user.kept", "trusted.root-only"] {
            rustix::fs::setxattr(&file, attr, b"v", rustix::fs::XattrFlags::empty()).unwrap();
        }
    }
    support::run_ok(
        "mknod",
        &[src.join("null").to_str().unwrap(), "c", "1", "3"],
    );
    // A hard link whose first name is in a directory of mode 000: its
    // second name must still be made (an ordinary user cannot reach into
    // that directory once it has its mode).
    for dir in ["a", "b"] {
        std::fs::create_dir(src.join(dir)).unwrap();
    }
    std::fs::write(src.join("a/f2"), "linked").unwrap();
    std::fs::hard_link(src.join("a/f2"), src.join("b/g2")).unwrap();
    std::fs::set_permissions(src.join("a"), std::fs::Permissions::from_mode(0o000)).unwrap();
    let image = tmp.path().join("i.sqfs");
    support::pack(&src, &image, &[]);
    std::fs::set_permissions(&image, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    support::run_ok("chown", &["bale-test", out_dir.to_str().unwrap()]);
    let dest = out_dir.join("x");
    let out = support::fuse::bale_as("bale-test")
        .arg("extract")
        .arg(&image)
        .arg(&dest)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let skipped: Vec<_> = stderr
        .lines()
        .filter(|l| l.starts_with("bale: skipped"))
        .collect();
    assert_eq!(
        skipped,
        [
            format!(
                "bale: skipped {}: device node (needs root)",
                dest.join("null").display()
            ),
            "bale: skipped 2 extended attributes trusted.* (needs root)".to_string(),
        ],
        "{stderr}"
    );
    for name in ["f", "g"] {
        let file = dest.join(name);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), name);
        let mut value = [0u8; 8];
        let n = rustix::fs::getxattr(&file, "user.kept", &mut value).unwrap();
        assert_eq!(&value[..n], b"v");
        let trusted = rustix::fs::getxattr(&file, "trusted.root-only", &mut value);
        assert_eq!(trusted, Err(rustix::io::Errno::NODATA));
    }
    let linked = dest.join("b/g2").metadata().unwrap();
    assert_eq!(linked.nlink(), 2);
    assert_eq!(
        std::fs::read_to_string(dest.join("b/g2")).unwrap(),
        "linked"
    );
    assert_eq!(dest.join("a").metadata().unwrap().mode() & 0o7777, 0);
}

/// Names are bytes: a name that is not UTF-8 is listed as it is and can be
/// named in `ls`, `cat` and `extract --path`; a symlink given to `ls` that
/// leads nowhere is listed itself, as ls does.
#[test]
fn names_that_are_not_utf8_and_dangling_links_can_be_named() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let dir = OsStr::from_bytes(b"d\xff\xfe");
    let file = OsStr::from_bytes(b"f\x80");
    std::fs::create_dir_all(src.join(dir)).unwrap();
    std::fs::write(src.join(dir).join(file), "bytes").unwrap();
    symlink("nowhere", src.join("dangling")).unwrap();
    let image = tmp.path().join("i.sqfs");
    support::pack(&src, &image, &[]);

    let listed = bale().arg("ls").arg(&image).output().unwrap();
    assert_eq!(listed.stdout, b"dangling\nd\xff\xfe\n", "in byte order");
    let inside = bale().arg("ls").arg(&image).arg(dir).output().unwrap();
    assert_eq!(inside.stdout, b"f\x80\n", "{inside:?}");
    let cat = bale()
        .arg("cat")
        .arg(&image)
        .arg(Path::new(dir).join(file))
        .output()
        .unwrap();
    assert_eq!(cat.stdout, b"bytes", "{cat:?}");
    let out = tmp.path().join("out");
    let extracted = bale()
        .arg("extract")
        .arg("--path")
        .arg(dir)
        .arg(&image)
        .arg(&out)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&extracted.stdout);
    // The directory counts as verify counts an image's root.
    assert!(
        said.starts_with("extracted 1 directory, 1 file "),
        "{extracted:?}"
    );
    assert_eq!(std::fs::read(out.join(file)).unwrap(), b"bytes");
    let link = bale()
        .args(["ls"])
        .arg(&image)
        .arg("dangling")
        .output()
        .unwrap();
    assert!(link.status.success(), "{link:?}");
    assert_eq!(link.stdout, b"dangling\n");
    let missing = bale()
        .args(["ls"])
        .arg(&image)
        .arg("nothing")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nothing: no such file"));
}
