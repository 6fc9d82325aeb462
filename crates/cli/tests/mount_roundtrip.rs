//! `bale mount` shows exactly what a kernel mount of the same image shows:
//! random trees (every entry kind, hard links, xattrs, a large directory,
//! sparse files, odd names, owners, modes, times) packed by `bale pack`
//! and by mksquashfs with every codec, with and without an export table.

mod support;

use std::path::Path;
use support::compare::{diff_trees, hard_link_groups, Checks};
use support::fuse::FuseMount;
use support::gen::{generate, Shape};
use support::{require_root, run_ok, KernelMount};

/// Compares the FUSE view of `image` with the kernel's.
fn same_view(image: &Path, work: &Path) {
    let kernel = KernelMount::new(image, &work.join("kernel"));
    let fuse = FuseMount::new(image, &work.join("fuse"));
    let diffs = diff_trees(&kernel.dir, &fuse.dir, Checks::default());
    assert!(
        diffs.is_empty(),
        "{} differences, first: {:#?}",
        diffs.len(),
        &diffs[..diffs.len().min(20)]
    );
    assert_eq!(hard_link_groups(&kernel.dir), hard_link_groups(&fuse.dir));
    // st_blocks, which a tree of the source cannot be compared on: data
    // without holes plus the attributes' bytes.
    let blocks = |dir: &Path| {
        let out = run_ok("find", &[dir.to_str().unwrap(), "-printf", "%P %b\\0"]);
        let mut entries: Vec<_> = out.stdout.split(|&b| b == 0).map(<[u8]>::to_vec).collect();
        entries.sort();
        entries
    };
    assert!(blocks(&kernel.dir) == blocks(&fuse.dir), "st_blocks differ");
    let statfs = |dir: &Path| {
        let out = run_ok(
            "stat",
            &["-f", "-c", "%b %f %a %c %d %S %l", dir.to_str().unwrap()],
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(statfs(&kernel.dir), statfs(&fuse.dir), "statfs differs");
    fuse.unmount(&[]);
}

fn random_tree(work: &Path, seed: u64, big_dir: usize) -> std::path::PathBuf {
    let src = work.join("src");
    std::fs::create_dir(&src).unwrap();
    generate(
        &src,
        seed,
        Shape {
            big_dir,
            ..Shape::default()
        },
    );
    src
}

#[test]
fn bale_pack_images_look_the_same_through_fuse() {
    require_root();
    for seed in [1u64, 2, 3] {
        let work = tempfile::tempdir().unwrap();
        let src = random_tree(work.path(), seed, if seed == 1 { 5000 } else { 0 });
        let image = work.path().join("tree.sqfs");
        support::pack(&src, &image, &[]);
        same_view(&image, work.path());
    }
}

#[test]
fn mksquashfs_images_look_the_same_through_fuse_with_every_codec() {
    require_root();
    let work = tempfile::tempdir().unwrap();
    let src = random_tree(work.path(), 7, 1500);
    for (codec, extra) in [
        ("gzip", &[][..]),
        ("xz", &[][..]),
        ("lz4", &[][..]),
        ("zstd", &[][..]),
        // No export table: the driver learns inode positions as it goes.
        ("gzip", &["-no-exports"][..]),
        // Small blocks and no fragments: many blocks per file.
        ("zstd", &["-b", "4096", "-no-fragments"][..]),
    ] {
        let case = work.path().join(format!("{codec}{}", extra.join("")));
        std::fs::create_dir(&case).unwrap();
        let image = case.join("tree.sqfs");
        let mut args = vec![
            src.to_str().unwrap(),
            image.to_str().unwrap(),
            "-comp",
            codec,
            "-no-progress",
            "-quiet",
        ];
        args.extend_from_slice(extra);
        run_ok("mksquashfs", &args);
        same_view(&image, &case);
    }
}
