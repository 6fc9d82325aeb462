//! Bad input, failing sources and interrupted packs: one clear line naming
//! the file, a non-zero exit, and never a partial or clobbered image.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::compare::{diff_trees, Checks};
use support::faulty_fs::FaultyMount;
use support::*;

/// Files in `dir` other than `keep`, e.g. leftover temporary files.
fn leftovers(dir: &Path, keep: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !keep.contains(&n.as_str()))
        .collect()
}

/// `bale pack SRC IMAGE EXTRA…`, finished, whatever its outcome.
fn pack_output(src: &Path, image: &Path, extra: &[&str]) -> std::process::Output {
    bale()
        .arg("pack")
        .arg(src)
        .arg(image)
        .args(extra)
        .output()
        .unwrap()
}

fn one_line_error(out: &std::process::Output, needle: &str) {
    assert!(!out.status.success(), "should fail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line expected: {stderr}");
    assert!(stderr.contains(needle), "{needle:?} not in: {stderr}");
    let parts: Vec<_> = stderr.trim_end().split(": ").collect();
    assert!(
        parts.windows(2).all(|w| w[0] != w[1]),
        "reason repeated: {stderr}"
    );
}

/// (A FIFO is read as an archive: pack_archive.rs.)
#[test]
fn missing_or_non_directory_source_is_named() {
    let w = tempfile::tempdir().unwrap();
    let out = pack_output(&w.path().join("nope"), &w.path().join("i"), &[]);
    one_line_error(&out, "nope: No such file or directory");
    let out = pack_output(Path::new("/dev/null"), &w.path().join("i"), &[]);
    one_line_error(&out, "/dev/null: not a directory");
    std::fs::write(w.path().join("notes.txt"), "x".repeat(2000)).unwrap();
    let out = pack_output(&w.path().join("notes.txt"), &w.path().join("i"), &[]);
    one_line_error(&out, "notes.txt: is not a tar archive (a header's checksum");
    assert_eq!(leftovers(w.path(), &["notes.txt"]), Vec::<String>::new());
}

/// Archives that cannot be packed as they are: each fails in one line
/// naming the archive (and the member), and leaves no image.
#[test]
fn a_bad_archive_fails_in_one_line_and_leaves_nothing() {
    let w = tempfile::tempdir().unwrap();
    let w = w.path();
    std::fs::create_dir_all(w.join("src/d")).unwrap();
    std::fs::write(w.join("src/d/big"), vec![7u8; 300_000]).unwrap();
    ok(run_in("tar", &["-cf", "good.tar", "-C", "src", "."], w));
    let good = std::fs::read(w.join("good.tar")).unwrap();
    std::fs::write(w.join("cut.tar"), &good[..200_000]).unwrap();
    ok(run_in("tar", &["-czf", "good.tgz", "-C", "src", "."], w));
    let gz = std::fs::read(w.join("good.tgz")).unwrap();
    std::fs::write(w.join("cut.tgz"), &gz[..gz.len() / 2]).unwrap();
    // Python's tarfile writes what GNU tar would refuse to.
    let script = r#"
import io, sys, tarfile
def add(t, name, kind=tarfile.REGTYPE, link=""):
    i = tarfile.TarInfo(name); i.type = kind; i.linkname = link
    t.addfile(i, io.BytesIO(b"") if kind == tarfile.REGTYPE else None)
with tarfile.open(sys.argv[1] + "/climb.tar", "w") as t:
    add(t, "ok"); add(t, "a/../../etc/passwd")
with tarfile.open(sys.argv[1] + "/dangling.tar", "w") as t:
    add(t, "l", tarfile.LNKTYPE, "missing")
"#;
    ok(run("python3", &["-c", script, w.to_str().unwrap()]));
    std::fs::write(w.join("empty.tgz"), "").unwrap();
    let cases: [(&str, &[&str], &str); 6] = [
        ("empty.tgz", &[], "empty.tgz: is empty, not a tar archive"),
        (
            "climb.tar",
            &[],
            "climb.tar: member a/../../etc/passwd: path climbs out",
        ),
        (
            "dangling.tar",
            &[],
            "dangling.tar: member l: is a hard link to missing",
        ),
        (
            "cut.tar",
            &[],
            "cut.tar/./d/big: the archive ends inside this member",
        ),
        (
            "cut.tgz",
            &[],
            "cut.tgz/./d/big: the archive ends inside this member",
        ),
        (
            "good.tar",
            &["--one-file-system"],
            "good.tar: is an archive; --one-file-system",
        ),
    ];
    for (archive, extra, needle) in cases {
        let out = pack_output(&w.join(archive), &w.join("i.sqfs"), extra);
        one_line_error(&out, needle);
        assert!(!w.join("i.sqfs").exists(), "{archive}: image left");
    }
    let out = std::process::Command::new(bale_path())
        .args(["pack", "-"])
        .arg(w.join("i.sqfs"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    one_line_error(&out, "stdin: is empty, not a tar archive");
    let mut expected = [
        "src",
        "good.tar",
        "cut.tar",
        "good.tgz",
        "cut.tgz",
        "climb.tar",
    ]
    .map(String::from)
    .to_vec();
    expected.push("dangling.tar".into());
    expected.push("empty.tgz".into());
    let mut left = leftovers(w, &[]);
    left.sort();
    expected.sort();
    assert_eq!(left, expected, "temporary files left");
}

/// A 1 PiB sparse file (tmpfs holds one) needs a block list of 32 GiB:
/// refused at once, from a tree and from an archive, with the way out.
#[test]
fn a_file_too_large_for_a_block_list_is_refused() {
    let w = tempfile::tempdir().unwrap();
    let fs = Tmpfs::new(&w.path().join("fs"), "16m");
    let src = fs.dir.join("src");
    std::fs::create_dir(&src).unwrap();
    let huge = std::fs::File::create(src.join("huge")).unwrap();
    huge.set_len(1 << 50).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&huge, b"x", 1 << 40).unwrap();
    ok(run_in(
        "tar",
        &[
            "--format=posix",
            "--sparse",
            "-cf",
            "h.tar",
            "-C",
            "src",
            ".",
        ],
        &fs.dir,
    ));
    for (source, name) in [
        (src.clone(), "src/huge"),
        (fs.dir.join("h.tar"), "h.tar/./huge"),
    ] {
        let out = pack_output(&source, &fs.dir.join("i.sqfs"), &[]);
        one_line_error(
            &out,
            &format!(
                "{name}: is too large for an image with 128 KiB blocks (1125899906842624 bytes;"
            ),
        );
        assert!(stderr(&out).contains("a larger --block-size takes more"));
        assert_eq!(leftovers(&fs.dir, &["src", "h.tar"]), Vec::<String>::new());
    }
}

#[test]
fn an_unreadable_exclude_list_is_named() {
    let w = tempfile::tempdir().unwrap();
    std::fs::create_dir(w.path().join("src")).unwrap();
    let out = bale()
        .args(["pack", "--exclude-from"])
        .arg(w.path().join("no-such-list"))
        .arg(w.path().join("src"))
        .arg(w.path().join("i.sqfs"))
        .output()
        .unwrap();
    one_line_error(&out, "no-such-list: No such file or directory");
    assert_eq!(leftovers(w.path(), &["src"]), Vec::<String>::new());
    // A bad pattern in a list: its file and line.
    std::fs::write(w.path().join("list"), "*.o\n\n# comment\n[abc\n").unwrap();
    let out = bale()
        .current_dir(w.path())
        .args(["pack", "--exclude-from", "list", "src", "i.sqfs"])
        .output()
        .unwrap();
    one_line_error(
        &out,
        "--exclude-from list:4: --exclude '[abc': unclosed character class",
    );
    assert_eq!(leftovers(w.path(), &["src", "list"]), Vec::<String>::new());
}

#[test]
fn standard_output_is_refused_as_the_image() {
    let w = tempfile::tempdir().unwrap();
    std::fs::create_dir(w.path().join("src")).unwrap();
    let out = bale()
        .current_dir(w.path())
        .args(["pack", "src", "-"])
        .output()
        .unwrap();
    one_line_error(&out, "-: an image cannot go to standard output");
    assert!(out.stdout.is_empty());
    assert_eq!(leftovers(w.path(), &["src"]), Vec::<String>::new());
}

#[test]
fn existing_image_is_kept_unless_forced() {
    let w = tempfile::tempdir().unwrap();
    std::fs::create_dir(w.path().join("src")).unwrap();
    std::fs::write(w.path().join("src/f"), "data").unwrap();
    let image = w.path().join("i.sqfs");
    std::fs::write(&image, "precious").unwrap();
    let out = pack_output(&w.path().join("src"), &image, &[]);
    one_line_error(&out, "i.sqfs: already exists (use --force to overwrite)");
    assert_eq!(std::fs::read(&image).unwrap(), b"precious");
    bale()
        .args(["pack", "-q", "-f"])
        .arg(w.path().join("src"))
        .arg(&image)
        .assert()
        .success();
    assert_eq!(&std::fs::read(&image).unwrap()[..4], b"hsqs");
    assert_eq!(
        leftovers(w.path(), &["src", "i.sqfs"]),
        Vec::<String>::new()
    );
    // A directory as the image: no talk of --force, which cannot help.
    std::fs::create_dir(w.path().join("images")).unwrap();
    for extra in [&[][..], &["-f"][..]] {
        let out = pack_output(&w.path().join("src"), &w.path().join("images"), extra);
        one_line_error(&out, "images: is a directory; name the image file (e.g. ");
    }
    assert_eq!(
        std::fs::read_dir(w.path().join("images")).unwrap().count(),
        0
    );
}

/// A level the codec does not have: its range, in words.
#[test]
fn a_level_out_of_range_is_named_with_the_codecs_range() {
    let w = tempfile::tempdir().unwrap();
    std::fs::create_dir(w.path().join("src")).unwrap();
    for (codec, level, says) in [
        ("zstd", "0", "zstd level 0: expected 1 to 22"),
        ("gzip", "10", "gzip level 10: expected 1 to 9"),
    ] {
        let out = pack_output(
            &w.path().join("src"),
            &w.path().join("i.sqfs"),
            &["-c", codec, "--level", level],
        );
        one_line_error(&out, says);
    }
    assert_eq!(leftovers(w.path(), &["src"]), Vec::<String>::new());
}

/// An archive member whose symlink target no symlink can have (pax allows
/// any length): one line naming the member, and no image, rather than an
/// image the kernel and bale's reader call corrupt.
#[test]
fn an_archive_symlink_no_file_system_could_hold_is_refused() {
    let w = tempfile::tempdir().unwrap();
    let archive = w.path().join("x.tar");
    let script = format!(
        "import tarfile\nt = tarfile.open({:?}, 'w', format=tarfile.PAX_FORMAT)\n\
         i = tarfile.TarInfo('long-link')\ni.type = tarfile.SYMTYPE\n\
         i.linkname = 'x' * 5000\nt.addfile(i)\nt.close()\n",
        archive.to_str().unwrap()
    );
    run_ok("python3", &["-c", &script]);
    let out = pack_output(&archive, &w.path().join("x.sqfs"), &[]);
    one_line_error(
        &out,
        "long-link: has a link target no symlink can have (symlink target of 5000 bytes (at most 4095))",
    );
    assert_eq!(leftovers(w.path(), &["x.tar"]), Vec::<String>::new());
}

/// A block size the format cannot have is a usage error (exit status 2,
/// as every bad option value), naming what is allowed.
#[test]
fn a_block_size_the_format_cannot_have_is_a_usage_error() {
    let w = tempfile::tempdir().unwrap();
    std::fs::create_dir(w.path().join("src")).unwrap();
    for size in ["3K", "2M", "2K", "100000"] {
        let out = pack_output(
            &w.path().join("src"),
            &w.path().join("i.sqfs"),
            &["-b", size],
        );
        assert_eq!(out.status.code(), Some(2), "{size}");
        assert!(
            stderr(&out).contains("not a power of two between 4K and 1M"),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(leftovers(w.path(), &["src"]), Vec::<String>::new());
}

/// A malformed SOURCE_DATE_EPOCH is named: the user may not know it is set.
#[test]
fn a_bad_source_date_epoch_is_named() {
    let w = tempfile::tempdir().unwrap();
    std::fs::create_dir(w.path().join("src")).unwrap();
    let out = bale()
        .env("SOURCE_DATE_EPOCH", "yesterday")
        .arg("pack")
        .arg(w.path().join("src"))
        .arg(w.path().join("i.sqfs"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("'yesterday'"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("SOURCE_DATE_EPOCH"),
        "{}",
        stderr(&out)
    );
    assert_eq!(leftovers(w.path(), &["src"]), Vec::<String>::new());
}

/// Runs bale as the unprivileged `nobody` user.
fn bale_as_nobody(args: &[&Path]) -> std::process::Output {
    require_root();
    let bin = assert_cmd::cargo::cargo_bin("bale");
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(bin)
        .arg("pack");
    cmd.args(args).output().unwrap()
}

fn world_writable_tree() -> tempfile::TempDir {
    let w = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(w.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::create_dir(w.path().join("src")).unwrap();
    std::fs::write(w.path().join("src/ok"), "fine").unwrap();
    std::fs::write(w.path().join("src/secret"), "hidden").unwrap();
    std::fs::set_permissions(
        w.path().join("src/secret"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    w
}

#[test]
fn unreadable_file_fails_by_default_and_is_skipped_on_request() {
    let w = world_writable_tree();
    let image = w.path().join("i.sqfs");
    let out = bale_as_nobody(&[&w.path().join("src"), &image]);
    one_line_error(&out, "src/secret: Permission denied");
    assert!(!image.exists());
    assert_eq!(leftovers(w.path(), &["src"]), Vec::<String>::new());

    let out = bale_as_nobody(&[
        Path::new("--skip-unreadable"),
        &w.path().join("src"),
        &image,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 unreadable entry left out"), "{stderr}");
    assert!(!stderr.contains("os error"), "{stderr}");
    let list =
        String::from_utf8(run_ok("unsquashfs", &["-lln", image.to_str().unwrap()]).stdout).unwrap();
    assert!(
        list.contains("squashfs-root/ok") && !list.contains("secret"),
        "{list}"
    );
}

/// The faulty FUSE tree mounted at `src`, and an empty `out` directory
/// for the image. The mount is unmounted before the directories go.
struct FaultySource {
    mount: FaultyMount,
    out: PathBuf,
    _work: tempfile::TempDir,
}

impl FaultySource {
    fn new() -> FaultySource {
        let work = tempfile::tempdir().unwrap();
        let out = work.path().join("out");
        std::fs::create_dir(&out).unwrap();
        FaultySource {
            mount: FaultyMount::new(&work.path().join("src")),
            out,
            _work: work,
        }
    }

    fn image(&self) -> PathBuf {
        self.out.join("i.sqfs")
    }

    /// `bale pack OPTIONS… src out/i.sqfs`.
    fn pack(&self, options: &[&str]) -> std::process::Output {
        bale()
            .arg("pack")
            .args(options)
            .arg(&self.mount.dir)
            .arg(self.image())
            .output()
            .unwrap()
    }

    /// Asserts that the image holds the healthy files as they are, no more
    /// (unsquashfs'd and compared); returns the scratch directory with
    /// their copy at `healthy`.
    fn assert_image_holds_the_healthy_files(&self) -> tempfile::TempDir {
        let scratch = tempfile::tempdir().unwrap();
        let healthy = scratch.path().join("healthy");
        self.mount.healthy_copy(&healthy);
        let extracted = scratch.path().join("extracted");
        unsquashfs(&self.image(), &extracted);
        assert_eq!(
            diff_trees(&healthy, &extracted, Checks::default()),
            Vec::<String>::new()
        );
        scratch
    }

    /// Packing with `excluded` left out fails on `faulty` for `reason`,
    /// without an image and, with `--force`, without touching the old one.
    fn fails_on(&self, faulty: &str, excluded: &str, reason: &str) {
        let needle = format!("{}: {reason}", self.mount.dir.join(faulty).display());
        one_line_error(&self.pack(&["--exclude", excluded]), &needle);
        assert!(!self.image().exists());
        assert_eq!(leftovers(&self.out, &[]), Vec::<String>::new());

        std::fs::write(self.image(), "precious").unwrap();
        one_line_error(&self.pack(&["--force", "--exclude", excluded]), &needle);
        assert_eq!(std::fs::read(self.image()).unwrap(), b"precious");
        assert_eq!(leftovers(&self.out, &["i.sqfs"]), Vec::<String>::new());
        std::fs::remove_file(self.image()).unwrap();
    }
}

/// The faults are where the tests below need them: `ghost` passes the
/// scan (stat) and fails only when opened; `badsector` fails mid-file.
#[test]
fn faulty_source_fails_only_where_placed() {
    use std::io::Read;
    let s = FaultySource::new();
    let ghost = s.mount.dir.join("ghost");
    assert_eq!(std::fs::symlink_metadata(&ghost).unwrap().len(), 10_000);
    let err = std::fs::File::open(&ghost).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);

    let mut file = std::fs::File::open(s.mount.dir.join("badsector")).unwrap();
    let mut first = vec![0; 128 << 10];
    file.read_exact(&mut first).unwrap();
    let err = file.read(&mut first).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EIO));
}

#[test]
fn file_vanished_between_scan_and_read_fails_the_pack() {
    FaultySource::new().fails_on("ghost", "badsector", "No such file or directory");
}

#[test]
fn read_error_mid_file_fails_the_pack() {
    FaultySource::new().fails_on("badsector", "ghost", "Input/output error");
}

#[test]
fn vanished_and_failing_files_are_left_out_on_request() {
    let s = FaultySource::new();
    let out = s.pack(&["--skip-unreadable"]);
    let stderr = stderr(&out);
    // The image is written; the exit status is 1 for `grows`, which
    // changed while it was read (as tar), not for what was left out.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("grows: changed while being read"),
        "{stderr}"
    );
    for (name, reason) in [
        ("ghost", "No such file or directory"),
        ("badsector", "Input/output error"),
    ] {
        let line = format!(
            "bale: skipped {}: {reason}",
            s.mount.dir.join(name).display()
        );
        assert!(
            stderr.lines().any(|l| l.starts_with(&line)),
            "{line:?} not in: {stderr}"
        );
    }
    assert!(
        stderr.contains("bale: 2 unreadable entries left out"),
        "{stderr}"
    );
    assert_eq!(leftovers(&s.out, &["i.sqfs"]), Vec::<String>::new());

    // Exactly the image of the healthy files alone: neither a name nor
    // partial data of the failed files is stored.
    let scratch = s.assert_image_holds_the_healthy_files();
    let healthy = scratch.path().join("healthy");
    let reference = scratch.path().join("healthy.sqfs");
    let reference_stdout = succeed(bale().arg("pack").arg(&healthy).arg(&reference));
    assert!(
        std::fs::read(s.image()).unwrap() == std::fs::read(&reference).unwrap(),
        "image differs from that of the healthy files alone"
    );
    // And reported as such: "packed N entries (BYTES in N files) into …".
    let counts = |stdout: &[u8]| {
        let summary = String::from_utf8_lossy(stdout);
        summary.split(" into ").next().unwrap().to_string()
    };
    assert_eq!(counts(&out.stdout), counts(&reference_stdout));
}

/// A file written to while it is read (a log a job still appends to) is
/// stored as read, and said so even with --quiet, as tar does; and as
/// tar's, the exit status is 1, so `bale pack SRC IMG && rm -rf SRC`
/// keeps the source.
#[test]
fn a_file_changed_while_read_is_stored_as_read_with_a_warning_and_exit_status_1() {
    let s = FaultySource::new();
    let out = s.pack(&["--quiet", "--exclude", "ghost", "--exclude", "badsector"]);
    let stderr = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "bale: warning: {}: changed while being read; the image holds what was read\n",
            s.mount.dir.join("grows").display()
        )
    );
    s.assert_image_holds_the_healthy_files();
}

#[test]
fn full_disk_leaves_no_image() {
    require_root();
    let w = tempfile::tempdir().unwrap();
    let src = w.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let mut rng = support::gen::Rng::new(5);
    for i in 0..8 {
        std::fs::write(src.join(format!("r{i}")), rng.bytes(1 << 20)).unwrap();
    }
    let small = Tmpfs::new(&w.path().join("small"), "2m");
    let out = pack_output(&src, &small.dir.join("i.sqfs"), &[]);
    let left = leftovers(&small.dir, &[]);
    drop(small);
    one_line_error(&out, "No space left on device");
    assert_eq!(left, Vec::<String>::new(), "files left on the full disk");
}

/// The destination's directory renamed while the pack runs: the image
/// cannot go in place, and its temporary file goes with the failure from
/// the renamed directory too.
#[test]
fn a_destination_directory_renamed_during_the_pack_keeps_no_temporary_file() {
    use std::io::Write;
    let w = tempfile::tempdir().unwrap();
    let src = w.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("f"), "data\n").unwrap();
    let archive = run_ok("tar", &["-C", src.to_str().unwrap(), "-cf", "-", "."]).stdout;
    let (out_dir, moved) = (w.path().join("out"), w.path().join("moved"));
    std::fs::create_dir(&out_dir).unwrap();
    let mut pack = std::process::Command::new(env!("CARGO_BIN_EXE_bale"))
        .args(["pack", "-q", "-"])
        .arg(out_dir.join("a.sqfs"))
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first member's header only: the pack waits for more.
    let (head, end) = archive.split_at(512);
    let mut input = pack.stdin.take().unwrap();
    input.write_all(head).unwrap();
    let started = Instant::now();
    while leftovers(&out_dir, &[]).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no temporary file"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    std::fs::rename(&out_dir, &moved).unwrap();
    input.write_all(end).unwrap();
    drop(input);
    let out = pack.wait_with_output().unwrap();
    one_line_error(&out, "a.sqfs: No such file or directory");
    assert_eq!(leftovers(&moved, &[]), Vec::<String>::new());
}

#[test]
fn sigterm_and_sigint_leave_nothing_behind() {
    for signal in [rustix::process::Signal::TERM, rustix::process::Signal::INT] {
        let w = tempfile::tempdir().unwrap();
        let src = w.path().join("src");
        std::fs::create_dir(&src).unwrap();
        let mut rng = support::gen::Rng::new(9);
        for i in 0..40 {
            std::fs::write(src.join(format!("r{i}")), rng.bytes(1 << 20)).unwrap();
        }
        let image = w.path().join("i.sqfs");
        // xz on random data with one thread is slow enough to interrupt.
        let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("bale"))
            .args(["pack", "-c", "xz", "-j", "1"])
            .arg(&src)
            .arg(&image)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while leftovers(w.path(), &["src"]).is_empty() {
            assert!(Instant::now() < deadline, "pack never started writing");
            std::thread::sleep(Duration::from_millis(10));
        }
        let pid = rustix::process::Pid::from_child(&child);
        rustix::process::kill_process(pid, signal).unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(128 + signal.as_raw()),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
        assert_eq!(
            leftovers(w.path(), &["src"]),
            Vec::<String>::new(),
            "after {signal:?}"
        );
    }
}

/// A symlink's attributes are read through /proc/self/fd (never by path):
/// without /proc the pack fails naming the symlink and the way out, and
/// `--no-xattrs` packs the same tree. Runs in a mount namespace of its own
/// whose /proc is unmounted: needs root.
#[test]
fn without_proc_a_symlinks_attributes_fail_with_the_cure() {
    require_root();
    let w = tempfile::tempdir().unwrap();
    std::fs::create_dir(w.path().join("src")).unwrap();
    std::os::unix::fs::symlink("target", w.path().join("src/link")).unwrap();
    let without_proc = |extra: &[&str]| {
        std::process::Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(r#"umount -l /proc && exec "$@""#)
            .arg("sh")
            .arg(bale_path())
            .args(["pack", "-q"])
            .args(extra)
            .arg(w.path().join("src"))
            .arg(w.path().join("i.sqfs"))
            .output()
            .unwrap()
    };
    let out = without_proc(&[]);
    one_line_error(
        &out,
        "src/link: its extended attributes are read through /proc",
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-xattrs"));
    assert_eq!(leftovers(w.path(), &["src"]), Vec::<String>::new());
    let out = without_proc(&["--no-xattrs"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(w.path().join("i.sqfs").exists());
}

#[test]
fn an_archive_from_a_terminal_is_refused() {
    let w = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(bale_path());
    cmd.args(["pack", "-"]).arg(w.path().join("i.sqfs"));
    let mut p = rexpect::session::spawn_command(cmd, Some(30_000)).expect("spawn in a pty");
    p.exp_string("bale: stdin: is a terminal; pipe a tar archive in, or name one")
        .unwrap();
    p.exp_eof().unwrap();
    assert_eq!(leftovers(w.path(), &[]), Vec::<String>::new());
}

/// Damaged archives through the whole pack: each either packs or fails in
/// one line, never hangs, and leaves no image behind when it fails.
#[test]
fn damaged_archives_pack_or_fail_in_one_line() {
    let w = tempfile::tempdir().unwrap();
    let w = w.path();
    let src = w.join("src");
    support::gen::generate(
        {
            std::fs::create_dir(&src).unwrap();
            &src
        },
        5,
        support::gen::Shape {
            sockets: false,
            ..Default::default()
        },
    );
    ok(run_in(
        "tar",
        &[
            "--format=posix",
            "--xattrs",
            "-czf",
            "a.tgz",
            "-C",
            "src",
            ".",
        ],
        w,
    ));
    ok(run_in(
        "tar",
        &["--format=gnu", "-cf", "a.tar", "-C", "src", "."],
        w,
    ));
    let mut rng = support::gen::Rng::new(99);
    for case in 0..24 {
        let base = std::fs::read(w.join(["a.tar", "a.tgz"][case % 2])).unwrap();
        let mut bytes = base.clone();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(bytes.len() as u64) as usize;
            bytes[i] = rng.below(256) as u8;
        }
        if rng.chance(30) {
            bytes.truncate(rng.below(bytes.len() as u64) as usize);
        }
        let damaged = w.join("damaged");
        std::fs::write(&damaged, &bytes).unwrap();
        let out = bale()
            .arg("pack")
            .arg(&damaged)
            .arg(w.join("i.sqfs"))
            .timeout(Duration::from_secs(120))
            .output()
            .unwrap();
        if out.status.success() {
            std::fs::remove_file(w.join("i.sqfs")).unwrap();
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(stderr.lines().count(), 1, "case {case}: {stderr}");
            assert!(stderr.contains("damaged"), "case {case}: {stderr}");
        }
        let mut left = leftovers(w, &["src", "a.tar", "a.tgz", "damaged"]);
        left.sort();
        assert_eq!(left, Vec::<String>::new(), "case {case}");
    }
}

/// Login nodes often limit a user's processes: when the system will not
/// give the pack its threads it stops with one line (no panic, no hang
/// waiting for threads that never started) and leaves nothing.
#[test]
fn a_limit_on_processes_fails_in_one_line_and_leaves_nothing() {
    require_root();
    let w = tempfile::tempdir().unwrap();
    let src = w.path().join("src");
    let out_dir = w.path().join("out");
    std::fs::create_dir(&src).unwrap();
    std::fs::create_dir(&out_dir).unwrap();
    for i in 0..200 {
        std::fs::write(src.join(format!("f{i}")), format!("{i}")).unwrap();
    }
    run_ok("chown", &["-R", "bale-test", w.path().to_str().unwrap()]);
    // Limits apply to the user's processes and threads; root's are exempt.
    for threads in [["-j", "1000"], ["--readers", "1000"]] {
        let started = Instant::now();
        let out = std::process::Command::new("runuser")
            .args(["-u", "bale-test", "--", "bash", "-c"])
            .arg(r#"ulimit -u 60 && exec timeout -s KILL 120 "$@""#)
            .arg("bash")
            .arg(bale_path())
            .args(["pack", "-q"])
            .args(threads)
            .arg(&src)
            .arg(out_dir.join("i.sqfs"))
            .output()
            .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(100),
            "{threads:?}: hung"
        );
        one_line_error(
            &out,
            "threads: Resource temporarily unavailable (a limit on processes or on memory, ulimit -u or -v?",
        );
        assert_eq!(out.status.code(), Some(1), "{threads:?}");
        assert_eq!(leftovers(&out_dir, &[]), Vec::<String>::new());
    }
}

/// A pack killed outright (SIGKILL, a node crash) cannot remove its
/// temporary file; the next pack to the same image does, and leaves alone
/// one that a running pack holds locked, and those of other images.
#[test]
fn temporary_files_of_killed_packs_are_removed_by_the_next_pack() {
    let w = tempfile::tempdir().unwrap();
    std::fs::create_dir(w.path().join("src")).unwrap();
    std::fs::write(w.path().join("src/f"), "data").unwrap();
    let names = [
        ".i.sqfs.Ab3dEf.bale-tmp",     // abandoned: removed
        ".i.sqfs.Gh5jKl.bale-tmp",     // being written: kept
        ".i.sqfs.too-long-1.bale-tmp", // not one of ours
        ".other.sqfs.Ab3dEf.bale-tmp", // another image's
    ];
    for name in names {
        std::fs::write(w.path().join(name), "partial").unwrap();
    }
    let mut holder = std::process::Command::new("flock")
        .arg(w.path().join(names[1]))
        .args(["sleep", "60"])
        .spawn()
        .unwrap();
    // flock(1) has the lock once the file is busy for another locker.
    let deadline = Instant::now() + Duration::from_secs(10);
    while run(
        "flock",
        &["-n", w.path().join(names[1]).to_str().unwrap(), "true"],
    )
    .status
    .success()
    {
        assert!(Instant::now() < deadline, "flock never took the lock");
        std::thread::sleep(Duration::from_millis(10));
    }
    bale()
        .args(["pack", "-q"])
        .arg(w.path().join("src"))
        .arg(w.path().join("i.sqfs"))
        .assert()
        .success();
    holder.kill().unwrap();
    holder.wait().unwrap();
    let mut left = leftovers(w.path(), &["src", "i.sqfs"]);
    left.sort();
    let mut kept: Vec<String> = names[1..].iter().map(|n| n.to_string()).collect();
    kept.sort();
    assert_eq!(left, kept);
}

/// The archive being packed cannot also be the image, even through a
/// symlink and with --force: it would be replaced by its own image.
#[test]
fn an_archive_is_not_overwritten_by_its_own_image() {
    let w = tempfile::tempdir().unwrap();
    std::fs::create_dir(w.path().join("src")).unwrap();
    std::fs::write(w.path().join("src/f"), "data").unwrap();
    ok(run_in("tar", &["-cf", "a.tar", "-C", "src", "."], w.path()));
    std::os::unix::fs::symlink("a.tar", w.path().join("link")).unwrap();
    let before = std::fs::read(w.path().join("a.tar")).unwrap();
    for source in ["a.tar", "link"] {
        let out = pack_output(&w.path().join(source), &w.path().join("a.tar"), &["-f"]);
        one_line_error(
            &out,
            "a.tar: is the archive being packed; name another image file",
        );
    }
    assert_eq!(std::fs::read(w.path().join("a.tar")).unwrap(), before);
}

/// GNU tar writes times before 1970 in base-256 two's complement; such an
/// archive packs, the time clamped to 0 (squashfs has no earlier one).
#[test]
fn gnu_times_before_1970_pack_as_zero() {
    let w = tempfile::tempdir().unwrap();
    std::fs::create_dir(w.path().join("src")).unwrap();
    std::fs::write(w.path().join("src/old"), "moon").unwrap();
    ok(run_in("touch", &["-d", "1969-07-20", "src/old"], w.path()));
    ok(run_in(
        "tar",
        &["--format=gnu", "-cf", "old.tar", "-C", "src", "old"],
        w.path(),
    ));
    bale()
        .args(["pack", "-q"])
        .arg(w.path().join("old.tar"))
        .arg(w.path().join("i.sqfs"))
        .assert()
        .success();
    let listed = ok(bale()
        .args(["ls", "-l"])
        .arg(w.path().join("i.sqfs"))
        .output()
        .unwrap());
    assert!(listed.contains(" 1970-01-01 00:00 old"), "{listed}");
}

/// Directories nested as deep as a path can name (2,000 levels of "d/")
/// pack: the scan recurses once per level.
#[test]
fn a_tree_nested_two_thousand_deep_packs() {
    let w = tempfile::tempdir().unwrap();
    let src = w.path().join("src");
    std::fs::create_dir(&src).unwrap();
    // create_dir_all by relative steps: the full path is too long for one call.
    ok(run_in(
        "sh",
        &[
            "-c",
            "for i in $(seq 2000); do mkdir d && cd d || exit 1; done; echo end > f",
        ],
        &src,
    ));
    bale()
        .args(["pack", "-q"])
        .arg(&src)
        .arg(w.path().join("i.sqfs"))
        .assert()
        .success();
    let info = ok(bale()
        .arg("info")
        .arg(w.path().join("i.sqfs"))
        .output()
        .unwrap());
    assert!(info.contains("directories: 2001"), "{info}");
}
