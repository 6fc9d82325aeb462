//! The reader returns exactly the source tree: names, kinds, modes, owners,
//! mtimes, link counts, symlink targets, device numbers, xattrs, contents.

use crate::fixture::{fixture, image_model, source_model, Fixture, Rng};
use bale_squashfs::reader::{Archive, CacheOptions};
use bale_squashfs::InodeKind;
use std::collections::BTreeMap;
use std::fs::File;

fn check_image(f: &Fixture) {
    let archive = Archive::open(File::open(&f.image).unwrap()).unwrap();
    let model = image_model(&archive);
    let expected = source_model(&f.src);
    assert!(expected[&b"small.txt"[..]].xattrs.len() == 2 && expected.len() > 20);
    assert_eq!(
        model.nodes.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (path, want) in &expected {
        assert_eq!(
            &model.nodes[path],
            want,
            "{}",
            String::from_utf8_lossy(path)
        );
    }
    check_lookups(&archive, &model.refs, &model.nodes);
    check_inode_scan(&archive, &model.refs);
    check_random_reads(&archive, &expected);
    check_cookies(&archive);
}

/// Every path resolves by name (through the directory index where there
/// is one), absent names do not, and the export table agrees with the walk.
fn check_lookups<R: bale_squashfs::ReadAt>(
    archive: &Archive<R>,
    refs: &BTreeMap<u32, u64>,
    nodes: &BTreeMap<Vec<u8>, crate::fixture::Expected>,
) {
    for path in nodes.keys() {
        let (_, inode) = archive
            .lookup_path(path, false)
            .unwrap()
            .expect("path resolves");
        assert_eq!(
            refs[&inode.number],
            archive.lookup_path(path, false).unwrap().unwrap().0
        );
        let mut missing = path.clone();
        missing.extend_from_slice(b"-missing");
        assert!(archive.lookup_path(&missing, false).unwrap().is_none());
    }
    for (&number, &inode_ref) in refs {
        assert_eq!(
            archive.inode_ref_by_number(number).unwrap(),
            Some(inode_ref)
        );
    }
}

/// The sequential scan of the inode table meets every inode once.
fn check_inode_scan<R: bale_squashfs::ReadAt>(archive: &Archive<R>, refs: &BTreeMap<u32, u64>) {
    let scanned: BTreeMap<u32, u64> = archive
        .inodes()
        .map(|r| r.map(|(at, inode)| (inode.number, at)).unwrap())
        .collect();
    assert_eq!(&scanned, refs);
    assert_eq!(scanned.len() as u32, archive.superblock().inode_count);
}

/// Reads at random offsets and lengths match the source bytes.
fn check_random_reads<R: bale_squashfs::ReadAt>(
    archive: &Archive<R>,
    expected: &BTreeMap<Vec<u8>, crate::fixture::Expected>,
) {
    let mut rng = Rng::new(7);
    for (path, want) in expected {
        let Some(content) = &want.content else {
            continue;
        };
        let (_, inode) = archive.lookup_path(path, false).unwrap().unwrap();
        let layout = archive.file_layout(&inode).unwrap();
        for _ in 0..20 {
            let offset = rng.below(content.len() as u64 + 10);
            let mut buf = vec![0xaa; rng.below(70_000) as usize];
            let n = archive.read_layout_at(&layout, offset, &mut buf).unwrap();
            let start = (offset as usize).min(content.len());
            let end = (start + buf.len()).min(content.len());
            assert_eq!(&buf[..n], &content[start..end]);
        }
    }
}

/// Listing resumed from any cookie continues exactly where it stopped.
fn check_cookies<R: bale_squashfs::ReadAt>(archive: &Archive<R>) {
    let (_, dir) = archive
        .lookup_path(b"big", false)
        .unwrap()
        .or_else(|| archive.lookup_path(b"a", false).unwrap())
        .unwrap();
    let all = archive.read_dir(&dir).unwrap();
    let mut entries = archive.read_dir_at(&dir, 0).unwrap();
    let mut seen = 0;
    loop {
        let cookie = entries.cookie();
        let resumed: Vec<_> = archive
            .read_dir_at(&dir, cookie)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(resumed, all[seen..], "resumed at {cookie:#x}");
        if entries.next().is_none() {
            break;
        }
        seen += 1;
        for _ in 0..96 {
            if entries.next().is_some() {
                seen += 1;
            }
        }
    }
    // A cookie no listing gave (a program's seekdir to a made-up offset)
    // lists nothing, as on the kernel's squashfs: no error, which a FUSE
    // mount would report as EIO and log as damage.
    for made_up in [3 << 16, 1 << 40, u64::MAX] {
        let rest: Vec<_> = archive
            .read_dir_at(&dir, made_up)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(rest.is_empty(), "{made_up:#x}: {rest:?}");
    }
}

#[test]
fn zstd_image_reads_back_exactly() {
    let f = fixture("zstd", 131072, true, &[]);
    check_image(&f);
    let archive = Archive::open(File::open(&f.image).unwrap()).unwrap();
    let dir = archive.lookup_path(b"big", false).unwrap().unwrap().1;
    match &dir.data {
        bale_squashfs::InodeData::Directory(d) => assert!(!d.index.is_empty(), "big dir indexed"),
        _ => panic!("big is a directory"),
    }
    assert_eq!(
        archive.compressor_options(),
        None,
        "default zstd level needs no options"
    );
}

/// The fixture's sparse file (10 blocks and 5 bytes, data only in block
/// 4): where mksquashfs left holes (its zero tail too), and what is stored.
#[test]
fn holes_are_found_where_mksquashfs_left_them() {
    let f = fixture("zstd", 4096, false, &[]);
    let archive = Archive::open(File::open(&f.image).unwrap()).unwrap();
    let inode = archive.lookup_path(b"sparse", false).unwrap().unwrap().1;
    let layout = archive.file_layout(&inode).unwrap();
    let k = 4096u64;
    assert_eq!(layout.next_hole(0), Some(0..4 * k));
    assert_eq!(layout.next_hole(100), Some(100..4 * k));
    let size = 10 * k + 5;
    assert_eq!(layout.next_hole(4 * k), Some(5 * k..size));
    assert_eq!(layout.next_hole(9 * k + 1), Some(9 * k + 1..size));
    assert_eq!(layout.next_hole(size), None);
    let mut stored = Vec::new();
    archive
        .for_each_stored_block(&layout, |offset, data| {
            stored.push((offset, data.len()));
            bale_squashfs::Result::Ok(())
        })
        .unwrap();
    assert_eq!(stored, [(4 * k, 4096)]);
}

#[test]
fn gzip_small_blocks_read_back_exactly() {
    check_image(&fixture("gzip", 4096, true, &[]));
}

#[test]
fn xz_image_reads_back_exactly() {
    check_image(&fixture("xz", 65536, false, &["-Xdict-size", "100%"]));
}

#[test]
fn lz4_without_fragments_reads_back_exactly() {
    let f = fixture("lz4", 8192, false, &["-no-fragments", "-Xhc"]);
    check_image(&f);
    let archive = Archive::open(File::open(&f.image).unwrap()).unwrap();
    assert!(archive.compressor_options().is_some(), "lz4 stores options");
}

#[test]
fn uncompressed_and_always_fragmented_images_read_back() {
    check_image(&fixture(
        "zstd",
        4096,
        false,
        &["-noI", "-noD", "-noF", "-noX", "-always-use-fragments"],
    ));
}

#[test]
fn tiny_caches_and_many_threads_agree() {
    let f = fixture("zstd", 4096, false, &[]);
    let archive = Archive::open_with(
        File::open(&f.image).unwrap(),
        CacheOptions {
            metadata_bytes: 0,
            data_bytes: 8192,
        },
    )
    .unwrap();
    let expected = source_model(&f.src);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let model = image_model(&archive);
                assert_eq!(model.nodes, expected);
            });
        }
    });
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    assert_send_sync(&archive);
}

#[test]
fn kinds_are_reported() {
    let f = fixture("zstd", 131072, false, &[]);
    let archive = Archive::open(std::sync::Arc::new(std::fs::read(&f.image).unwrap())).unwrap();
    let kinds: Vec<InodeKind> = archive.inodes().map(|r| r.unwrap().1.kind()).collect();
    for kind in [
        InodeKind::Directory,
        InodeKind::File,
        InodeKind::Symlink,
        InodeKind::Fifo,
        InodeKind::Socket,
    ] {
        assert!(kinds.contains(&kind), "{kind:?}");
    }
    let root = archive.root().unwrap();
    let link = archive.lookup(&root, b"rel-link").unwrap().unwrap();
    let link = archive.inode(link.inode_ref).unwrap();
    assert_eq!(archive.read_link(&link).unwrap(), b"a/b/c/multi");
}
