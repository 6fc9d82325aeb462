//! Round trips of random trees through `bale pack`, checked against the
//! source three ways: our own reader (`bale verify --against`),
//! `unsquashfs -d`, and a kernel loop mount. Also: every codec, odd block sizes, a 50k-entry directory, and
//! byte-identical output whatever the thread count.

mod support;

use proptest::prelude::*;
use std::path::Path;
use support::compare::{diff_trees, Checks};
use support::gen::{generate, Shape};
use support::*;

/// Packs `src` and checks the image three ways.
fn check_round_trip(src: &Path, work: &Path, extra: &[&str]) {
    let image = work.join("image.sqfs");
    pack(src, &image, extra);
    check_image(&image, src, work);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_trees_round_trip(seed in any::<u64>()) {
        require_root();
        let work = tempfile::tempdir().unwrap();
        let src = work.path().join("src");
        std::fs::create_dir(&src).unwrap();
        generate(&src, seed, Shape::default());
        check_round_trip(&src, work.path(), &[]);
    }
}

#[test]
fn every_codec_and_block_size_round_trips() {
    require_root();
    let variants: [&[&str]; 7] = [
        &["-c", "gzip"],
        &["-c", "xz"],
        &["-c", "lz4"],
        &["--no-compression"],
        &["-c", "zstd", "--level", "19"],
        &["-b", "4K"],
        &["-b", "1M", "-c", "gzip", "--level", "1"],
    ];
    for (i, extra) in variants.iter().enumerate() {
        let work = tempfile::tempdir().unwrap();
        let src = work.path().join("src");
        std::fs::create_dir(&src).unwrap();
        generate(
            &src,
            1000 + i as u64,
            Shape {
                max_entries: 10,
                ..Shape::default()
            },
        );
        check_round_trip(&src, work.path(), extra);
    }
}

#[test]
fn large_flat_directory_is_indexed_and_every_name_resolves() {
    require_root();
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    std::fs::create_dir(&src).unwrap();
    generate(
        &src,
        7,
        Shape {
            max_entries: 3,
            big_dir: 50_000,
            ..Shape::default()
        },
    );
    let image = work.path().join("image.sqfs");
    pack(&src, &image, &[]);
    let mount = KernelMount::new(&image, &work.path().join("mnt"));
    // Every lookup goes through the directory index; a wrong index entry
    // makes the kernel miss names.
    for entry in std::fs::read_dir(src.join("big")).unwrap() {
        let name = entry.unwrap().file_name();
        let m = mount.dir.join("big").join(&name).symlink_metadata();
        assert!(m.is_ok(), "kernel lookup of big/{name:?} failed");
    }
    let diffs = diff_trees(&src, &mount.dir, Checks::default());
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

#[test]
fn output_is_identical_whatever_the_thread_count_and_read_ahead() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    std::fs::create_dir(&src).unwrap();
    generate(
        &src,
        99,
        Shape {
            max_entries: 12,
            max_depth: 5,
            ..Shape::default()
        },
    );
    let one = work.path().join("one.sqfs");
    let many = work.path().join("many.sqfs");
    pack(
        &src,
        &one,
        &["--threads", "1", "--readers", "1", "--read-ahead", "4K"],
    );
    pack(
        &src,
        &many,
        &["--threads", "7", "--readers", "64", "--read-ahead", "64M"],
    );
    let (a, b) = (std::fs::read(&one).unwrap(), std::fs::read(&many).unwrap());
    assert!(a == b, "images differ between 1 and 7 threads");
}

#[test]
fn identical_files_are_stored_once() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    for i in 0..5 {
        std::fs::write(src.join(format!("big{i}")), &big).unwrap();
        std::fs::write(src.join(format!("small{i}")), b"same small content").unwrap();
    }
    // Same hash bucket is never enough: equal size, different content.
    let mut other = big.clone();
    other[500_000] ^= 1;
    std::fs::write(src.join("big-other"), &other).unwrap();
    let image = work.path().join("image.sqfs");
    let out = bale().arg("pack").arg(&src).arg(&image).output().unwrap();
    assert!(out.status.success());
    let summary = String::from_utf8_lossy(&out.stdout);
    // Four copies of the large file and four of the small one.
    assert!(summary.contains(" 8 duplicate files"), "summary: {summary}");
    let single = work.path().join("single.sqfs");
    let only = work.path().join("only");
    std::fs::create_dir(&only).unwrap();
    std::fs::write(only.join("big0"), &big).unwrap();
    pack(&only, &single, &[]);
    let (dup_len, one_len) = (
        image.metadata().unwrap().len(),
        single.metadata().unwrap().len(),
    );
    // Five copies plus a near-copy cost about two copies, not six.
    assert!(
        dup_len < one_len * 5 / 2,
        "dedup image {dup_len} vs one copy {one_len}"
    );
    let extracted = work.path().join("x");
    unsquashfs(&image, &extracted);
    assert_eq!(std::fs::read(extracted.join("big-other")).unwrap(), other);
    assert_eq!(std::fs::read(extracted.join("big3")).unwrap(), big);
    assert_eq!(
        std::fs::read(extracted.join("small4")).unwrap(),
        b"same small content"
    );
}
