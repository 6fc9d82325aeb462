//! Packing tar archives without extracting them: random trees archived by
//! GNU tar round-trip (checked three ways, like packing the tree itself),
//! every compression gives the same image, GNU sparse members are
//! expanded, and the archive's own rules hold: later members replace
//! earlier ones, hard links keep what they named, missing parent
//! directories are made, excludes cover a directory's members.

mod support;

use proptest::prelude::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use support::gen::{generate, Shape};
use support::*;

/// GNU tar run in `dir`, asserting success.
fn tar(dir: &Path, args: &[&str]) {
    ok(run_in("tar", args, dir));
}

/// GNU tar in pax format with every attribute namespace, run in `dir`.
fn pax_tar(dir: &Path, args: &[&str]) {
    let pax = ["--format=posix", "--xattrs", "--xattrs-include=*"];
    tar(dir, &[&pax[..], args].concat());
}

/// A random tree as tar can hold it: everything but sockets.
fn archivable_tree(root: &Path, seed: u64) {
    std::fs::create_dir(root).unwrap();
    let shape = Shape {
        sockets: false,
        ..Shape::default()
    };
    generate(root, seed, shape);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    /// pax format, all attribute namespaces, numeric owners: what
    /// extracting as root would restore, read three ways.
    #[test]
    fn random_trees_packed_from_their_archives_round_trip(seed in any::<u64>()) {
        require_root();
        let work = tempfile::tempdir().unwrap();
        let src = work.path().join("src");
        archivable_tree(&src, seed);
        pax_tar(work.path(), &["--numeric-owner", "-cf", "src.tar", "-C", "src", "."]);
        let image = work.path().join("image.sqfs");
        pack(&work.path().join("src.tar"), &image, &[]);
        check_image(&image, &src, work.path());
    }
}

/// libarchive's bsdtar, the other tar most archives come from (macOS,
/// BSDs): its pax archives carry attributes twice (LIBARCHIVE.xattr.* and
/// SCHILY.xattr.*) and hard links its own way. Six random trees.
#[test]
fn a_random_tree_archived_by_bsdtar_round_trips() {
    require_root();
    for seed in 21..27 {
        let work = tempfile::tempdir().unwrap();
        let src = work.path().join("src");
        archivable_tree(&src, seed);
        let args = [
            "--format=pax",
            "--numeric-owner",
            "-czf",
            "src.tgz",
            "-C",
            "src",
            ".",
        ];
        ok(run_in("bsdtar", &args, work.path()));
        let image = work.path().join("image.sqfs");
        pack(&work.path().join("src.tgz"), &image, &[]);
        check_image(&image, &src, work.path());
    }
}

#[test]
fn every_compression_gives_the_same_image() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    archivable_tree(&w.join("src"), 7);
    let base = ["--numeric-owner", "-C", "src", "."];
    let archives = [
        ("plain.tar", None),
        ("a.tar.gz", Some("--gzip")),
        ("a.tar.xz", Some("--xz")),
        ("a.tar.zst", Some("--zstd")),
        ("a.tar.bz2", Some("--bzip2")),
    ];
    for (name, filter) in archives {
        let mut args = vec!["-cf", name];
        args.extend(filter);
        args.extend(base);
        pax_tar(w, &args);
    }
    // The root comes from the "./" member, so the archive file's own
    // metadata plays no part.
    let image = |name: &str| {
        let image = w.join(format!("{name}.sqfs"));
        pack(&w.join(name), &image, &[]);
        std::fs::read(image).unwrap()
    };
    let plain = image("plain.tar");
    for (name, _) in &archives[1..] {
        assert!(image(name) == plain, "{name} gives another image");
    }
    let verified = bale()
        .arg("verify")
        .arg(w.join("plain.tar.sqfs"))
        .arg("--against")
        .arg(w.join("src"))
        .output()
        .unwrap();
    ok(verified);
}

/// GNU tar's four ways of storing holes: the old GNU header, and the pax
/// formats 0.0, 0.1 and 1.0.
#[test]
fn sparse_members_are_expanded_and_their_holes_stay_holes() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    std::fs::create_dir(w.join("src")).unwrap();
    let f = std::fs::File::create(w.join("src/sparse")).unwrap();
    f.set_len(64 << 20).unwrap();
    for (at, data) in [
        (1 << 20, "first"),
        (20 << 20, "middle"),
        ((64 << 20) - 3, "end"),
    ] {
        std::os::unix::fs::FileExt::write_all_at(&f, data.as_bytes(), at).unwrap();
    }
    let formats: [&[&str]; 4] = [
        &["--format=gnu"],
        &["--format=posix", "--sparse-version=0.0"],
        &["--format=posix", "--sparse-version=0.1"],
        &["--format=posix", "--sparse-version=1.0"],
    ];
    for format in formats {
        let mut args = format.to_vec();
        args.extend(["--sparse", "-cf", "s.tar", "-C", "src", "."]);
        tar(w, &args);
        assert!(
            std::fs::metadata(w.join("s.tar")).unwrap().len() < 1 << 20,
            "{format:?}: GNU tar stored the holes"
        );
        let image = w.join("s.sqfs");
        pack(&w.join("s.tar"), &image, &["-f"]);
        assert!(
            std::fs::metadata(&image).unwrap().len() < 64 << 10,
            "{format:?}"
        );
        let verified = bale()
            .arg("verify")
            .arg(&image)
            .arg("--against")
            .arg(w.join("src"))
            .output()
            .unwrap();
        assert!(
            verified.status.success(),
            "{format:?}: {}",
            stderr(&verified)
        );
    }
}

/// pax records are framed by their length: a value may hold newlines, and
/// what looks like a record inside it is none (a parser splitting on
/// newlines would take this symlink's target from the attribute).
#[test]
fn an_attribute_value_with_newlines_stays_whole_and_forges_nothing() {
    require_root();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    std::fs::create_dir(w.join("src")).unwrap();
    std::os::unix::fs::symlink("harmless", w.join("src/link")).unwrap();
    let value = b"a\n24 linkpath=/etc/shadow\n";
    xattr::set(w.join("src/link"), "trusted.x", value).unwrap();
    pax_tar(w, &["-cf", "x.tar", "-C", "src", "."]);
    let image = w.join("x.sqfs");
    pack(&w.join("x.tar"), &image, &[]);
    let mount = KernelMount::new(&image, &w.join("mnt"));
    let link = mount.dir.join("link");
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("harmless"));
    assert_eq!(
        xattr::get(&link, "trusted.x").unwrap().as_deref(),
        Some(&value[..])
    );
}

/// An archive that says a file twice, links to its first version, and
/// leaves out its directories: the image is what extracting it gives.
#[test]
fn later_members_replace_earlier_ones_and_links_keep_what_they_named() {
    require_root();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    std::fs::create_dir_all(w.join("src/a")).unwrap();
    std::fs::write(w.join("src/a/f"), "old").unwrap();
    std::fs::hard_link(w.join("src/a/f"), w.join("src/a/link")).unwrap();
    tar(w, &["-cf", "x.tar", "-C", "src", "a/f", "a/link"]);
    std::fs::remove_file(w.join("src/a/f")).unwrap();
    std::fs::write(w.join("src/a/f"), "new").unwrap();
    std::fs::set_permissions(w.join("src/a/f"), PermissionsExt::from_mode(0o600)).unwrap();
    tar(w, &["-rf", "x.tar", "-C", "src", "a/f"]);
    let archive_mtime = std::fs::metadata(w.join("x.tar")).unwrap().mtime();

    let image = w.join("x.sqfs");
    pack(&w.join("x.tar"), &image, &[]);
    let mount = KernelMount::new(&image, &w.join("mnt"));
    let m = &mount.dir;
    assert_eq!(std::fs::read_to_string(m.join("a/f")).unwrap(), "new");
    assert_eq!(std::fs::read_to_string(m.join("a/link")).unwrap(), "old");
    let (f, link) = (
        std::fs::metadata(m.join("a/f")).unwrap(),
        std::fs::metadata(m.join("a/link")).unwrap(),
    );
    assert_eq!((f.nlink(), link.nlink()), (1, 1));
    assert_eq!(f.mode() & 0o7777, 0o600);
    let a = std::fs::metadata(m.join("a")).unwrap();
    assert_eq!(a.mode() & 0o7777, 0o755, "a directory no member describes");
    assert_eq!(a.mtime(), archive_mtime);
}

#[test]
fn an_excluded_directory_takes_its_members_with_it() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    for dir in ["src/keep", "src/build/deep"] {
        std::fs::create_dir_all(w.join(dir)).unwrap();
    }
    for file in ["src/keep/a.c", "src/keep/a.o", "src/build/deep/x"] {
        std::fs::write(w.join(file), file).unwrap();
    }
    tar(w, &["-cf", "x.tar", "-C", "src", "."]);
    let image = w.join("x.sqfs");
    pack(
        &w.join("x.tar"),
        &image,
        &["--exclude", "build", "-e", "*.o"],
    );
    let listing = ok(bale().args(["ls", "-R"]).arg(&image).output().unwrap());
    assert!(listing.contains("a.c"), "{listing}");
    for gone in ["a.o", "build", "deep"] {
        assert!(!listing.contains(gone), "{gone} in {listing}");
    }
}

/// One reader streams the archive; threads and read-ahead change only
/// when blocks are compressed, never where they land.
#[test]
fn an_archive_image_is_identical_whatever_the_threads_and_read_ahead() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    archivable_tree(&w.join("src"), 11);
    tar(w, &["--format=gnu", "-cf", "x.tar", "-C", "src", "."]);
    let image = |extra: &[&str]| {
        pack(
            &w.join("x.tar"),
            &w.join("x.sqfs"),
            &[&["-f"], extra].concat(),
        );
        std::fs::read(w.join("x.sqfs")).unwrap()
    };
    let one = image(&["-j", "1", "--read-ahead", "256K"]);
    assert!(image(&["-j", "4", "--read-ahead", "64M"]) == one);
    assert!(image(&[]) == one);
}

/// `-` reads the archive from standard input: through a pipe (which can
/// be read only once), compressed or not, or redirected from a file.
#[test]
fn an_archive_on_standard_input_packs_the_same() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    archivable_tree(&w.join("src"), 13);
    tar(w, &["--format=gnu", "-cf", "x.tar", "-C", "src", "."]);
    tar(w, &["--format=gnu", "-cJf", "x.txz", "-C", "src", "."]);
    let from_file = w.join("file.sqfs");
    pack(&w.join("x.tar"), &from_file, &[]);
    let expected = std::fs::read(&from_file).unwrap();
    for (name, piped) in [("x.tar", true), ("x.txz", true), ("x.tar", false)] {
        let image = w.join("stdin.sqfs");
        let args = ["pack", "-q", "-f", "-", image.to_str().unwrap()];
        let out = match piped {
            true => bale()
                .args(args)
                .write_stdin(std::fs::read(w.join(name)).unwrap())
                .output(),
            false => std::process::Command::new(bale_path())
                .args(args)
                .stdin(std::fs::File::open(w.join(name)).unwrap())
                .output(),
        };
        ok(out.unwrap());
        let got = std::fs::read(&image).unwrap();
        // The root is the archive's "./" member, so nothing of the input
        // itself (a pipe or a file) shows in the image.
        assert!(got == expected, "{name} piped={piped}: another image");
    }
    // A named pipe, and bash's `<(…)` (a `/dev/fd/N` symlink to a pipe).
    let fifo = w.join("x.fifo");
    let image = w.join("fifo.sqfs");
    let fifo_arg = fifo.to_str().unwrap();
    std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    for script in [
        format!("cat x.txz > {fifo_arg} & exec \"$0\" pack -q -f {fifo_arg} fifo.sqfs"),
        "exec \"$0\" pack -q -f <(xz -dc x.txz) fifo.sqfs".to_string(),
    ] {
        let _ = std::fs::remove_file(&image);
        ok(std::process::Command::new("bash")
            .args(["-c", &script, bale_path().to_str().unwrap()])
            .current_dir(w)
            .output()
            .unwrap());
        let got = std::fs::read(&image).unwrap();
        assert!(got == expected, "{script}: another image");
    }
}
