//! Extraction and verification of images made by `mksquashfs` (which must
//! be installed): a round trip preserves everything, differences are
//! found, and an existing symlink cannot redirect the extraction.

use bale_squashfs::reader::Archive;
use bale_unpack::{extract, verify, verify_against, ExtractOptions, Ignore};
use std::fs::File;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A small tree with every kind of node, holes, hard links and xattrs.
fn make_tree(root: &Path) -> PathBuf {
    let src = root.join("src");
    std::fs::create_dir_all(src.join("d/e")).unwrap();
    std::fs::write(src.join("d/file"), b"contents\n").unwrap();
    std::fs::write(
        src.join("big"),
        (0..400_000u32).map(|i| (i % 253) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    let sparse = File::create(src.join("sparse")).unwrap();
    sparse.set_len(1 << 22).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&sparse, b"x", 1 << 21).unwrap();
    std::fs::hard_link(src.join("d/file"), src.join("d/e/again")).unwrap();
    symlink("../big", src.join("d/up")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        src.join("pipe"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o620),
        0,
    )
    .unwrap();
    if is_root() {
        rustix::fs::mknodat(
            rustix::fs::CWD,
            src.join("zero"),
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::from_raw_mode(0o644),
            rustix::fs::makedev(1, 5),
        )
        .unwrap();
        std::os::unix::fs::lchown(src.join("d/up"), Some(11), Some(12)).unwrap();
        std::os::unix::fs::chown(src.join("d"), Some(13), Some(14)).unwrap();
    }
    rustix::fs::setxattr(
        src.join("d/file"),
        "user.note",
        b"kept",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    std::fs::set_permissions(src.join("d/e"), PermissionsExt::from_mode(0o555)).unwrap();
    src
}

fn image_of(src: &Path, dir: &Path) -> Archive<File> {
    let image = dir.join("image.sqfs");
    let status = Command::new("mksquashfs")
        .arg(src)
        .arg(&image)
        .args(["-comp", "zstd", "-noappend", "-quiet", "-no-progress"])
        .status()
        .expect("mksquashfs must be installed (apt-get install squashfs-tools)");
    assert!(status.success());
    Archive::open(File::open(image).unwrap()).unwrap()
}

/// Extracting into a non-empty directory.
const FORCE: ExtractOptions = ExtractOptions {
    force: true,
    subtree: None,
};

#[test]
fn extraction_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let src = make_tree(tmp.path());
    let archive = image_of(&src, tmp.path());
    let out = tmp.path().join("out");
    let report = extract(&archive, &out, ExtractOptions::default()).unwrap();
    assert_eq!(report.hard_links, 1);
    assert!(report.skipped.is_empty() || !is_root());
    let (summary, differences) = verify_against(&archive, &out, Ignore::default()).unwrap();
    assert_eq!(differences, vec![], "extracted tree differs");
    assert_eq!(summary, verify(&archive).unwrap());
    assert_eq!(
        verify_against(&archive, &src, Ignore::default()).unwrap().1,
        vec![]
    );
    let sparse = std::fs::metadata(out.join("sparse")).unwrap();
    assert!(sparse.blocks() * 512 < sparse.len() / 4, "holes stay holes");
    let err = extract(&archive, &out, ExtractOptions::default()).unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    extract(&archive, &out, FORCE).unwrap();
    assert_eq!(
        verify_against(&archive, &out, Ignore::default()).unwrap().1,
        vec![]
    );
}

#[test]
fn differences_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let src = make_tree(tmp.path());
    let archive = image_of(&src, tmp.path());
    std::fs::write(src.join("big"), {
        let mut b = std::fs::read(src.join("big")).unwrap();
        b[300_000] ^= 1;
        b
    })
    .unwrap();
    std::fs::set_permissions(src.join("d/file"), PermissionsExt::from_mode(0o600)).unwrap();
    std::fs::remove_file(src.join("d/up")).unwrap();
    std::fs::write(src.join("d/extra"), b"").unwrap();
    let lines: Vec<String> = verify_against(&archive, &src, Ignore::default())
        .unwrap()
        .1
        .iter()
        .map(ToString::to_string)
        .collect();
    for expected in [
        "big: content differs at byte 300000",
        "d/file: mode: image 0644, tree 0600",
        "d/up: missing from",
        "d/extra: not in image",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(expected)),
            "{expected:?} not in {lines:#?}"
        );
    }
}

#[test]
fn existing_symlinks_are_replaced_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let src = make_tree(tmp.path());
    let archive = image_of(&src, tmp.path());
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("big"), b"precious").unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    symlink(&outside, out.join("d")).unwrap();
    symlink(outside.join("big"), out.join("big")).unwrap();
    extract(&archive, &out, FORCE).unwrap();
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1);
    assert_eq!(std::fs::read(outside.join("big")).unwrap(), b"precious");
    assert_eq!(
        verify_against(&archive, &out, Ignore::default()).unwrap().1,
        vec![]
    );
}

/// More nodes than one chunk of parallel comparisons: every difference
/// is found, in the image's order, whichever chunk it falls in.
#[test]
fn differences_come_in_image_order_across_comparison_chunks() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    for dir in ["a", "b"] {
        std::fs::create_dir_all(src.join(dir)).unwrap();
        for i in 0..10_000 {
            std::fs::write(src.join(dir).join(format!("f{i:05}")), "").unwrap();
        }
    }
    let archive = image_of(&src, tmp.path());
    let changed = ["a/f00007", "a/f09999", "b/f00000", "b/f04321", "b/f09998"];
    for name in changed {
        std::fs::set_permissions(src.join(name), PermissionsExt::from_mode(0o600)).unwrap();
    }
    let (summary, differences) = verify_against(&archive, &src, Ignore::default()).unwrap();
    assert_eq!(summary.files, 20_000);
    let paths: Vec<&str> = differences.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(paths, changed);
    assert!(
        differences.iter().all(|d| d.what.starts_with("mode: ")),
        "{differences:?}"
    );
}
