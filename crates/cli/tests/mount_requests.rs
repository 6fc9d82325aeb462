//! What reaches the server once the kernel's caches are warm: listing,
//! stat, open, isatty, read and close of files seen before send only the
//! ioctl the kernel cannot answer itself (Python asks isatty on every
//! open) — lookups, attributes, pages and listings stay cached, and open,
//! flush and release stop after the first ENOSYS. Counted from the request
//! log of `bale mount --debug`.

mod support;

use std::io::{IsTerminal, Read};
use std::path::Path;
use std::process::{Command, Stdio};
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
    let mut server = Command::new(support::bale_path())
        .args(["mount", "--foreground", "--debug"])
        .arg(&image)
        .arg(&dir)
        .stderr(Stdio::from(std::fs::File::create(&log_path).unwrap()))
        .spawn()
        .unwrap();
    assert!(wait_for(Duration::from_secs(10), || is_mounted(&dir)));
    let mount = FuseMount::adopt(&dir);

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
