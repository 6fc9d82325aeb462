//! What reaches the server: once the kernel's caches are warm, listing,
//! stat, open, isatty, read and close of files seen before send only the
//! ioctl the kernel cannot answer itself (Python asks isatty on every
//! open) — lookups, attributes, pages and listings stay cached, and open,
//! flush and release stop after the first ENOSYS. Cold, one read of a small
//! file fills the page cache with the other files of its fragment block
//! the kernel knows, so reading those sends nothing. Counted from the
//! request log of `bale mount --debug`, and seen in the page cache with
//! cachestat(2).

mod support;

use std::io::{IsTerminal, Read};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
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

/// A tree written by a test, packed, and mounted by a server in the
/// foreground that logs every request.
struct Logged {
    _work: tempfile::TempDir,
    src: PathBuf,
    dir: PathBuf,
    log: PathBuf,
    server: Child,
    mount: FuseMount,
}

impl Logged {
    fn mount(fill: impl FnOnce(&Path)) -> Logged {
        require_root();
        let work = tempfile::tempdir().unwrap();
        let src = work.path().join("src");
        fill(&src);
        let image = work.path().join("img.sqfs");
        support::pack(&src, &image, &[]);
        let dir = work.path().join("mnt");
        std::fs::create_dir(&dir).unwrap();
        let log = work.path().join("requests.log");
        let server = Command::new(support::bale_path())
            .args(["mount", "--foreground", "--debug"])
            .arg(&image)
            .arg(&dir)
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
            .spawn()
            .unwrap();
        assert!(wait_for(Duration::from_secs(10), || is_mounted(&dir)));
        let mount = FuseMount::adopt(&dir);
        Logged {
            _work: work,
            src,
            dir,
            log,
            server,
            mount,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }

    /// Reads `rel` through the mount and checks it against the source.
    fn read_matches(&self, rel: &str) {
        let want = std::fs::read(self.src.join(rel)).unwrap();
        assert_eq!(std::fs::read(self.dir.join(rel)).unwrap(), want, "{rel}");
    }

    /// Waits until the files `rel` are whole in the page cache.
    fn wait_cached(&self, rel: &[String], why: &str) {
        let cached = || {
            rel.iter().all(|r| {
                let len = std::fs::metadata(self.src.join(r)).unwrap().len();
                cached_bytes(&self.dir.join(r)) >= len
            })
        };
        assert!(wait_for(Duration::from_secs(10), cached), "{why}");
    }

    fn unmount(mut self) {
        self.mount.unmount(&[]);
        assert!(self.server.wait().unwrap().success());
    }
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

/// Lists `dir` with attributes (READDIRPLUS): the kernel then knows
/// every file in it.
fn list(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        entry.unwrap().metadata().unwrap();
    }
}

/// Bytes of `path` in the page cache, by cachestat(2) on an fd of our own.
/// (util-linux `fincore` maps the file: a /proc read of the exiting
/// fincore by another test could keep that mapping, and so the mount,
/// busy past its exit.)
fn cached_bytes(path: &Path) -> u64 {
    /// cachestat's number on every architecture (Linux 6.5).
    const SYS_CACHESTAT: libc::c_long = 451;
    #[repr(C)]
    struct Range {
        offset: u64,
        /// 0: to the end of the file.
        len: u64,
    }
    #[repr(C)]
    #[derive(Default)]
    struct CacheStat {
        cached_pages: u64,
        dirty: u64,
        writeback: u64,
        evicted: u64,
        recently_evicted: u64,
    }
    let file = std::fs::File::open(path).unwrap();
    let range = Range { offset: 0, len: 0 };
    let mut stat = CacheStat::default();
    // SAFETY: the kernel reads `range` and writes `stat`, both live here.
    let rc = unsafe {
        libc::syscall(
            SYS_CACHESTAT,
            file.as_raw_fd(),
            &range as *const Range,
            &mut stat as *mut CacheStat,
            0,
        )
    };
    assert_eq!(
        rc,
        0,
        "cachestat {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
    stat.cached_pages * rustix::param::page_size() as u64
}

#[test]
fn warm_caches_leave_only_isatty_to_the_server() {
    let m = Logged::mount(|src| {
        for d in 0..3 {
            let sub = src.join(format!("pkg{d}"));
            std::fs::create_dir_all(&sub).unwrap();
            for f in 0..10 {
                std::fs::write(sub.join(format!("mod{f}.py")), format!("x = {d}{f}\n")).unwrap();
            }
        }
    });
    let files = import_like_pass(&m.dir);
    let cold = m.log();
    assert_eq!(import_like_pass(&m.dir), files);
    let log = m.log();
    let warm = opcodes(&log[cold.len()..]);
    assert_eq!(warm, vec!["IOCTL"; files], "{}", &log[cold.len()..]);
    for once in ["OPEN", "OPENDIR", "FLUSH"] {
        let count = opcodes(&log).iter().filter(|op| **op == once).count();
        assert!(count <= 1, "{once} sent {count} times:\n{log}");
    }
    m.unmount();
}

#[test]
fn a_small_file_read_fills_the_page_cache_with_its_known_fragment_neighbours() {
    // 20 files of 4000 bytes: all in one fragment block.
    let m = Logged::mount(|src| {
        write_files(&src.join("pkg"), "f", 10, 4000);
        write_files(&src.join("later"), "g", 10, 4000);
    });
    let pkg: Vec<String> = (1..10).map(|i| format!("pkg/f{i}")).collect();
    list(&m.dir.join("pkg"));
    assert_eq!(cached_bytes(&m.dir.join(&pkg[0])), 0, "nothing read yet");
    m.read_matches("pkg/f0");
    m.wait_cached(&pkg, "neighbours not pushed");
    let before = m.log().len();
    for rel in &pkg {
        m.read_matches(rel);
    }
    let log = m.log();
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
    let g1 = "later/g1".to_string();
    assert_eq!(
        cached_bytes(&m.dir.join(&g1)),
        0,
        "pushed before the kernel knew it"
    );
    m.read_matches("later/g0");
    m.wait_cached(&[g1], "a file looked up later not pushed");
    assert_eq!(
        cached_bytes(&m.dir.join("later/g2")),
        0,
        "never looked up, never pushed"
    );
    m.unmount();
}

#[test]
fn a_read_also_pushes_the_known_files_of_the_next_fragment_blocks() {
    // Two 50,000-byte files per 128 KiB fragment block: five blocks.
    let m = Logged::mount(|src| write_files(&src.join("big"), "b", 10, 50_000));
    list(&m.dir.join("big"));
    m.read_matches("big/b0");
    let rest: Vec<String> = (1..10).map(|i| format!("big/b{i}")).collect();
    m.wait_cached(&rest, "later blocks not pushed");
    for rel in &rest {
        m.read_matches(rel);
    }
    m.unmount();
}
