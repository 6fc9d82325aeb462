//! Sparse files: `bale pack` asks the file system where a file's holes
//! are and skips them unread, the image keeps them as holes, and the
//! kernel, unsquashfs and our own reader give back the data and the zeros
//! (`bale mount` answers `SEEK_DATA`/`SEEK_HOLE` as the kernel does);
//! `bale verify --against` skips holes both sides have and still finds
//! data the tree has where the image has a hole. A sparse tar member is
//! packed the same way from its map.

mod support;

use rustix::fs::SeekFrom;
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use support::fuse::FuseMount;
use support::*;

const GIB: u64 = 1 << 30;
/// Far more than the test could read in its time if holes were read.
const SIZE: u64 = 64 * GIB;

/// Bytes read so far by this process and the children it has waited for
/// (`rchar`: every read and pread, holes included).
fn bytes_read() -> u64 {
    let io = std::fs::read_to_string("/proc/self/io").unwrap();
    let line = io.lines().find(|l| l.starts_with("rchar:")).unwrap();
    line["rchar:".len()..].trim().parse().unwrap()
}

/// The data of the sparse file: a start shorter than a block, an
/// unaligned run of blocks in the middle, the file's last bytes.
fn islands() -> Vec<(u64, Vec<u8>)> {
    let bytes = |n: usize, seed: u64| -> Vec<u8> {
        (0..n as u64)
            .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 7) as u8 | 1)
            .collect()
    };
    vec![
        (0, bytes(100, 1)),
        (5 * GIB + 12_345, bytes(300_000, 2)),
        (SIZE - 3, bytes(3, 3)),
    ]
}

/// Reads `len` bytes of `path` at `offset`.
fn read_at(path: &Path, offset: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    File::open(path)
        .unwrap()
        .read_exact_at(&mut buf, offset)
        .unwrap();
    buf
}

/// The sparse file's data and some of its zeros, as `path` gives them.
fn assert_holds_the_islands(path: &Path, who: &str) {
    assert_eq!(std::fs::metadata(path).unwrap().len(), SIZE, "{who}");
    for (at, data) in islands() {
        assert_eq!(read_at(path, at, data.len()), data, "{who}: data at {at}");
    }
    for at in [100, 5 * GIB, 40 * GIB, SIZE - 4096] {
        assert_eq!(read_at(path, at, 3), [0, 0, 0], "{who}: zeros at {at}");
    }
}

/// Where `SEEK_DATA` (0) and `SEEK_HOLE` (1) lead from offsets around
/// the data of the files under `dir`.
fn seeks(dir: &Path) -> Vec<(&'static str, u8, Result<u64, rustix::io::Errno>)> {
    let mut offsets = vec![0, 99, 100, 4095, 4096, 131_071, 131_072, SIZE - 1, SIZE];
    for (at, data) in islands() {
        let end = at + data.len() as u64;
        offsets.extend([
            at.saturating_sub(1),
            at,
            at + 1,
            end - 1,
            end,
            end + 131_072,
        ]);
    }
    let mut answers = Vec::new();
    for name in ["big", "zeros"] {
        let file = File::open(dir.join(name)).unwrap();
        for &offset in &offsets {
            for (whence, to) in [(0, SeekFrom::Data(offset)), (1, SeekFrom::Hole(offset))] {
                answers.push((name, whence, rustix::fs::seek(&file, to)));
            }
        }
    }
    answers
}

/// `dir/src` holding `big`: the islands in a file of [`SIZE`].
fn sparse_tree(dir: &Path) -> (std::path::PathBuf, File) {
    let src = dir.join("src");
    std::fs::create_dir(&src).unwrap();
    let big = File::create(src.join("big")).unwrap();
    big.set_len(SIZE).unwrap();
    for (at, data) in islands() {
        big.write_all_at(&data, at).unwrap();
    }
    (src, big)
}

/// `bale extract IMAGE DIR/extracted`, asserting success; the new tree.
fn extracted(image: &Path, dir: &Path) -> std::path::PathBuf {
    let to = dir.join("extracted");
    ok(bale().arg("extract").arg(image).arg(&to).output().unwrap());
    to
}

fn verify_against(image: &Path, tree: &Path) -> std::process::Output {
    bale()
        .arg("verify")
        .arg(image)
        .arg("--against")
        .arg(tree)
        .output()
        .unwrap()
}

#[test]
fn holes_are_skipped_unread_and_stay_holes() {
    require_root();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let (src, big) = sparse_tree(w);
    // Zeros written, not left as a hole: stored as holes too.
    std::fs::write(src.join("zeros"), vec![0u8; 1 << 20]).unwrap();

    let image = w.join("s.sqfs");
    let before = bytes_read();
    let said = ok(bale().arg("pack").arg(&src).arg(&image).output().unwrap());
    let read = bytes_read() - before;
    assert!(read < 64 << 20, "bale pack read {read} bytes");
    assert!(
        said.contains("in 2 files, 64.00 GiB of it holes)"),
        "{said}"
    );
    assert!(std::fs::metadata(&image).unwrap().len() < 4 << 20);

    let kernel = KernelMount::new(&image, &w.join("mnt"));
    assert_holds_the_islands(&kernel.dir.join("big"), "kernel mount");
    let zeros = std::fs::read(kernel.dir.join("zeros")).unwrap();
    assert!(zeros.len() == 1 << 20 && zeros.iter().all(|&b| b == 0));
    let fuse = FuseMount::new(&image, &w.join("fuse"));
    assert_holds_the_islands(&fuse.dir.join("big"), "bale mount");
    let (by_kernel, by_fuse) = (seeks(&kernel.dir), seeks(&fuse.dir));
    assert_eq!(
        by_fuse, by_kernel,
        "SEEK_DATA/SEEK_HOLE: bale mount, kernel"
    );
    assert!(
        by_kernel.contains(&("big", 0, Ok(5 * GIB))),
        "{by_kernel:?}"
    );
    drop(kernel);
    fuse.unmount(&[]);

    let out = w.join("unsquashed");
    unsquashfs(&image, &out);
    assert_holds_the_islands(&out.join("big"), "unsquashfs");
    let extract = extracted(&image, w);
    let big_extracted = extract.join("big");
    assert_holds_the_islands(&big_extracted, "bale extract");
    let allocated = std::fs::metadata(&big_extracted).unwrap().blocks() * 512;
    assert!(
        allocated < 8 << 20,
        "bale extract filled holes: {allocated}"
    );

    let verified = verify_against(&image, &src);
    assert!(verified.status.success(), "{}", stderr(&verified));
    // Data where the image has a hole: a comparison that skipped the
    // tree's data would miss it.
    let at = 40 * GIB + 7;
    big.write_all_at(b"x", at).unwrap();
    let verified = verify_against(&image, &src);
    assert!(!verified.status.success());
    let said = stdout(&verified) + &stderr(&verified);
    assert!(
        said.contains(&format!("content differs at byte {at}")),
        "{said}"
    );
}

#[test]
fn a_sparse_members_holes_come_from_its_map() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let (src, _) = sparse_tree(w);
    let args = [
        "--format=posix",
        "--sparse",
        "-cf",
        "s.tar",
        "-C",
        "src",
        ".",
    ];
    ok(run_in("tar", &args, w));
    let image = w.join("s.sqfs");
    pack(&w.join("s.tar"), &image, &[]);
    assert!(std::fs::metadata(&image).unwrap().len() < 4 << 20);
    let verified = verify_against(&image, &src);
    assert!(verified.status.success(), "{}", stderr(&verified));
    let extract = extracted(&image, w);
    assert_holds_the_islands(&extract.join("big"), "bale extract");
}
