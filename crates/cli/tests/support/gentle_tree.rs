//! Trees for the `bale du` and `bale rm` tests: hard links inside and
//! across directories, sparse files, symlinks (dangling, to a directory
//! outside the tree), names with spaces; a tree deeper than the limit on
//! open files; and listing what is left of one.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

fn write(path: &Path, bytes: usize) {
    fs::write(path, vec![b'x'; bytes]).unwrap();
}

/// A tree with regular files of assorted sizes, empty files and
/// directories, nested directories, hard links (inside and across
/// subdirectories), sparse files, symlinks (dangling, to a directory outside
/// the tree) and names with spaces.
pub fn make_tree(root: &Path, outside: &Path) {
    fs::create_dir_all(root.join("a/b/c")).unwrap();
    fs::create_dir_all(root.join("empty dir")).unwrap();
    fs::create_dir_all(root.join("d")).unwrap();
    write(&root.join("a/small"), 10);
    write(&root.join("a/b/4k"), 4096);
    write(&root.join("a/b/c/big"), 300 * 1024 + 7);
    write(&root.join("with space.txt"), 5000);
    fs::File::create(root.join("a/empty")).unwrap();
    fs::hard_link(root.join("a/b/c/big"), root.join("d/big-link")).unwrap();
    fs::hard_link(root.join("a/small"), root.join("a/small-link")).unwrap();
    // Sparse: 20 MiB long, one 64 KiB block of data in the middle.
    let sparse = fs::File::create(root.join("d/sparse")).unwrap();
    sparse.set_len(20 << 20).unwrap();
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = &sparse;
        f.seek(SeekFrom::Start(8 << 20)).unwrap();
        f.write_all(&[7u8; 65536]).unwrap();
    }
    // Entirely sparse.
    fs::File::create(root.join("d/hole"))
        .unwrap()
        .set_len(5 << 20)
        .unwrap();
    symlink("/nonexistent/target", root.join("dangling")).unwrap();
    fs::create_dir_all(outside).unwrap();
    write(&outside.join("precious"), 123);
    symlink(outside, root.join("a/to-outside")).unwrap();
    for i in 0..300 {
        write(&root.join(format!("a/b/many-{i}")), i * 37);
    }
}

/// Every path under `root` (relative, sorted), with a type marker, as
/// `find` would list it.
pub fn listing(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if fs::symlink_metadata(root).is_err() {
        return out;
    }
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let meta = fs::symlink_metadata(&p).unwrap();
        let rel = p.strip_prefix(root).unwrap().display().to_string();
        let kind = if meta.is_dir() {
            "d"
        } else if meta.file_type().is_symlink() {
            "l"
        } else {
            "f"
        };
        out.push(format!("{kind} {rel}"));
        if meta.is_dir() {
            for e in fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        }
    }
    out.sort();
    out
}

/// `depth` nested directories `d` under a new directory `root`, made one
/// level at a time relative to the last (the path grows past PATH_MAX).
pub fn deep_tree(root: &Path, depth: usize) {
    use rustix::fs::{mkdirat, openat, Mode, OFlags};
    fs::create_dir(root).unwrap();
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let mut dir = openat(rustix::fs::CWD, root, flags, Mode::empty()).unwrap();
    for _ in 0..depth {
        mkdirat(&dir, "d", Mode::from_raw_mode(0o755)).unwrap();
        dir = openat(&dir, "d", flags, Mode::empty()).unwrap();
    }
}

/// Run `cmd` with at most `n` open files (soft and hard limit).
pub fn limit_open_files(cmd: &mut std::process::Command, n: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child.
    unsafe {
        cmd.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: n,
                rlim_max: n,
            };
            match libc::setrlimit(libc::RLIMIT_NOFILE, &limit) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            }
        });
    }
}
