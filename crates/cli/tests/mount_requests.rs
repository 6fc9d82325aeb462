//! What reaches the server: once the kernel's caches are warm, listing,
//! stat, open, isatty, read and close of files seen before send only the
//! ioctl the kernel cannot answer itself (Python asks isatty on every
//! open) — lookups, attributes, pages and listings stay cached, and open,
//! flush and release stop after the first ENOSYS. Cold, one read of a small
//! file fills the page cache with the other files of its fragment block
//! the kernel knows, so reading those sends nothing. Counted from the
//! request log of `bale mount --debug`, and seen in the page cache with
//! util-linux `fincore`.

mod support;

use std::io::{IsTerminal, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::fuse::{is_mounted, wait_for, FuseMount};
use support::require_root;

/// Lists every directory and stats, opens, asks isatty, reads and closes
/// every file below `dir`; returns the number of files.
fn import_like_pass(dir: &Path) -> usize {
    let mut files = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.metadata().unwrap().is_dir() {
            files += import_like_pass(&path);
            continue;
        }
        let mut file = std::fs::File::open(&path).unwrap();
        assert!(!file.is_terminal());
        file.read_to_end(&mut Vec::new()).unwrap();
        files += 1;
    }
    files
}

/// The opcodes of the requests in a `--debug` log (`… ino 0x… OPCODE …`).
fn opcodes(log: &str) -> Vec<&str> {
    log.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace().skip_while(|w| *w != "ino");
            words.nth(2)
        })
        .collect()
}

/// Mounts `image` on `dir` with a server in the foreground logging every
/// request to `log`.
fn logged_mount(image: &Path, dir: &Path, log: &Path) -> (Child, FuseMount) {
    let server = Command::new(support::bale_path())
        .args(["mount", "--foreground", "--debug"])
        .arg(image)
        .arg(dir)
        .stderr(Stdio::from(std::fs::File::create(log).unwrap()))
        .spawn()
        .unwrap();
    assert!(wait_for(Duration::from_secs(10), || is_mounted(dir)));
    (server, FuseMount::adopt(dir))
}

/// Writes `count` files of `len` letters, each different, named
/// `{prefix}{i}` into `dir`.
fn write_files(dir: &Path, prefix: &str, count: usize, len: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..count {
        let text: String = (0..len)
            .map(|n| char::from(b'a' + ((n * 7 + i) % 26) as u8))
            .collect();
        std::fs::write(dir.join(format!("{prefix}{i}")), text).unwrap();
    }
}

/// Bytes of `path` in the page cache.
fn cached_bytes(path: &Path) -> u64 {
    let out = Command::new("fincore")
        .args(["--bytes", "--noheadings", "--output", "RES"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "fincore {}", path.display());
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn warm_caches_leave_only_isatty_to_the_server() {
    require_root();
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    for d in 0..3 {
        let sub = src.join(format!("pkg{d}"));
        std::fs::create_dir_all(&sub).unwrap();
        for f in 0..10 {
            std::fs::write(sub.join(format!("mod{f}.py")), format!("x = {d}{f}\n")).unwrap();
        }
    }
    let image = work.path().join("img.sqfs");
    support::pack(&src, &image, &[]);
    let dir = work.path().join("mnt");
    std::fs::create_dir(&dir).unwrap();
    let log_path = work.path().join("requests.log");
    let (mut server, mount) = logged_mount(&image, &dir, &log_path);

    let files = import_like_pass(&dir);
    let cold = std::fs::read_to_string(&log_path).unwrap();
    assert_eq!(import_like_pass(&dir), files);
    let log = std::fs::read_to_string(&log_path).unwrap();
    let warm = opcodes(&log[cold.len()..]);
    assert_eq!(warm, vec!["IOCTL"; files], "{}", &log[cold.len()..]);
    for once in ["OPEN", "OPENDIR", "FLUSH"] {
        let count = opcodes(&log).iter().filter(|op| **op == once).count();
        assert!(count <= 1, "{once} sent {count} times:\n{log}");
    }
    mount.unmount(&[]);
    assert!(server.wait().unwrap().success());
}

#[test]
fn a_small_file_read_fills_the_page_cache_with_its_known_fragment_neighbours() {
    require_root();
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    // 15 files of 4000 bytes: all in one fragment block.
    for (dir, prefix) in [("pkg", "f"), ("later", "g")] {
        write_files(&src.join(dir), prefix, 10, 4000);
    }
    let image = work.path().join("img.sqfs");
    support::pack(&src, &image, &[]);
    let dir = work.path().join("mnt");
    std::fs::create_dir(&dir).unwrap();
    let log_path = work.path().join("requests.log");
    let (mut server, mount) = logged_mount(&image, &dir, &log_path);
    let pkg = |i: usize| dir.join(format!("pkg/f{i}"));

    // Listed with attributes (READDIRPLUS): the kernel knows every file.
    for entry in std::fs::read_dir(dir.join("pkg")).unwrap() {
        entry.unwrap().metadata().unwrap();
    }
    assert_eq!(cached_bytes(&pkg(1)), 0, "nothing read yet");
    std::fs::read(pkg(0)).unwrap();
    let filled = || (1..10).all(|i| cached_bytes(&pkg(i)) >= 4000);
    assert!(
        wait_for(Duration::from_secs(10), filled),
        "neighbours not pushed"
    );

    let before = std::fs::read_to_string(&log_path).unwrap().len();
    for i in 1..10 {
        let want = std::fs::read(src.join(format!("pkg/f{i}"))).unwrap();
        assert_eq!(std::fs::read(pkg(i)).unwrap(), want, "pkg/f{i}");
    }
    let log = std::fs::read_to_string(&log_path).unwrap();
    let reads = opcodes(&log[before..])
        .iter()
        .filter(|op| **op == "READ")
        .count();
    assert_eq!(
        reads,
        0,
        "pushed files were read again:\n{}",
        &log[before..]
    );

    // Files the kernel learns of later wait for the block's next read.
    let later = |i: usize| dir.join(format!("later/g{i}"));
    assert_eq!(
        cached_bytes(&later(1)),
        0,
        "pushed before the kernel knew it"
    );
    std::fs::read(later(0)).unwrap();
    assert!(wait_for(Duration::from_secs(10), || cached_bytes(&later(
        1
    )) >= 4000));
    assert_eq!(cached_bytes(&later(2)), 0, "never looked up, never pushed");
    assert_eq!(
        std::fs::read_to_string(later(1)).unwrap(),
        std::fs::read_to_string(src.join("later/g1")).unwrap()
    );

    mount.unmount(&[]);
    assert!(server.wait().unwrap().success());
}

#[test]
fn a_read_also_pushes_the_known_files_of_the_next_fragment_blocks() {
    require_root();
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    // Two 50,000-byte files per 128 KiB fragment block: five blocks.
    write_files(&src.join("big"), "b", 10, 50_000);
    let image = work.path().join("img.sqfs");
    support::pack(&src, &image, &[]);
    let dir = work.path().join("mnt");
    std::fs::create_dir(&dir).unwrap();
    let (mut server, mount) = logged_mount(&image, &dir, &work.path().join("requests.log"));
    let big = |i: usize| dir.join(format!("big/b{i}"));

    for entry in std::fs::read_dir(dir.join("big")).unwrap() {
        entry.unwrap().metadata().unwrap();
    }
    std::fs::read(big(0)).unwrap();
    let filled = || (1..10).all(|i| cached_bytes(&big(i)) >= 50_000);
    assert!(
        wait_for(Duration::from_secs(10), filled),
        "later blocks not pushed"
    );
    for i in 1..10 {
        let want = std::fs::read(src.join(format!("big/b{i}"))).unwrap();
        assert_eq!(std::fs::read(big(i)).unwrap(), want, "big/b{i}");
    }
    mount.unmount(&[]);
    assert!(server.wait().unwrap().success());
}
