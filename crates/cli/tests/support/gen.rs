//! Random source trees for round-trip tests: every entry kind, odd names
//! (UTF-8, newlines, 255-byte), deep nesting, big and empty directories,
//! hard links, xattrs, sparse and duplicate files, random modes, owners
//! and times. Deterministic for a seed.

use rustix::fs::FileType;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A small xorshift generator: tests need repeatability, not quality.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// What the generator may use; root-only kinds are off for other users.
#[derive(Clone, Copy)]
pub struct Shape {
    pub max_depth: u32,
    pub max_entries: u64,
    /// One directory gets this many extra files (0 for none).
    pub big_dir: usize,
    pub as_root: bool,
    /// Sockets among the special files (tar cannot archive them).
    pub sockets: bool,
}

impl Default for Shape {
    fn default() -> Shape {
        Shape {
            max_depth: 4,
            max_entries: 8,
            big_dir: 0,
            as_root: super::is_root(),
            sockets: true,
        }
    }
}

struct Gen {
    rng: Rng,
    shape: Shape,
    files: Vec<PathBuf>,
    dirs: Vec<(PathBuf, u32)>,
    count: usize,
}

/// Fills `root` (an existing empty directory) with a random tree.
pub fn generate(root: &Path, seed: u64, shape: Shape) {
    let mut g = Gen {
        rng: Rng::new(seed),
        shape,
        files: Vec::new(),
        dirs: Vec::new(),
        count: 0,
    };
    g.dir(root, 0);
    if shape.big_dir > 0 {
        let big = root.join("big");
        std::fs::create_dir_all(&big).unwrap();
        for i in 0..shape.big_dir {
            std::fs::write(
                big.join(format!("entry-{i:06}-{}", "x".repeat(i % 40))),
                i.to_string(),
            )
            .unwrap();
        }
    }
    // Modes and times last, deepest first, so writing never hits a
    // read-only directory and directory mtimes are not disturbed.
    g.dirs
        .sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
    for (dir, mode) in std::mem::take(&mut g.dirs) {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
        g.owner_and_time(&dir);
    }
    g.owner_and_time(root);
}

const NAME_PARTS: [&str; 12] = [
    "a",
    "Z",
    "é",
    "日本",
    "🦀",
    " ",
    "-",
    "\n",
    "\\",
    "x.y",
    "__init__.py",
    "ü",
];

impl Gen {
    fn name(&mut self) -> Vec<u8> {
        self.count += 1;
        if self.rng.chance(3) {
            let mut long = format!("{}-", self.count).into_bytes();
            long.resize(255, b'L');
            return long;
        }
        let mut name = String::new();
        for _ in 0..1 + self.rng.below(3) {
            let part = *self.rng.pick(&NAME_PARTS);
            name.push_str(part);
        }
        // Unique and never "." or "..".
        format!("{name}{}", self.count).into_bytes()
    }

    fn dir(&mut self, dir: &Path, depth: u32) {
        let n = self.rng.below(self.shape.max_entries + 1);
        for _ in 0..n {
            let path = dir.join(OsStr::from_bytes(&self.name()));
            let roll = self.rng.below(100);
            match roll {
                0..=19 if depth < self.shape.max_depth => {
                    std::fs::create_dir(&path).unwrap();
                    self.dir(&path, depth + 1);
                    let mode = *self.rng.pick(&[0o755, 0o700, 0o750, 0o1777, 0o2755, 0o555]);
                    self.dirs.push((path.clone(), mode));
                    continue;
                }
                0..=59 => self.file(&path),
                60..=69 => {
                    let target = String::from_utf8_lossy(&self.name()).into_owned();
                    let target = if self.rng.chance(50) {
                        format!("../{target}")
                    } else {
                        target
                    };
                    std::os::unix::fs::symlink(target, &path).unwrap();
                }
                70..=77 if !self.files.is_empty() => {
                    let target = self.rng.pick(&self.files).clone();
                    std::fs::hard_link(target, &path).unwrap();
                    continue;
                }
                70..=84 => {
                    let kind = if roll < 80 || !self.shape.sockets {
                        FileType::Fifo
                    } else {
                        FileType::Socket
                    };
                    rustix::fs::mknodat(rustix::fs::CWD, &path, kind, 0o644.into(), 0).unwrap();
                }
                85..=89 if self.shape.as_root => {
                    let kind = if self.rng.chance(50) {
                        FileType::CharacterDevice
                    } else {
                        FileType::BlockDevice
                    };
                    let dev = rustix::fs::makedev(
                        self.rng.below(300) as u32,
                        self.rng.below(70000) as u32,
                    );
                    rustix::fs::mknodat(rustix::fs::CWD, &path, kind, 0o600.into(), dev).unwrap();
                }
                _ => self.file(&path),
            }
            self.xattrs(&path);
            self.owner_and_time(&path);
        }
    }

    fn file(&mut self, path: &Path) {
        let block = 131072usize;
        let roll = self.rng.below(100);
        if roll < 8 && !self.files.is_empty() {
            // A copy of an earlier file: content dedup.
            let from = self.rng.pick(&self.files).clone();
            std::fs::copy(from, path).unwrap();
        } else if roll < 14 {
            // Sparse: a hole, data, a hole, a little data at the end.
            let f = std::fs::File::create(path).unwrap();
            let len = block as u64 * (2 + self.rng.below(6)) + self.rng.below(5000);
            f.set_len(len).unwrap();
            use std::os::unix::fs::FileExt;
            f.write_all_at(&self.rng.bytes(1000), block as u64 + 17)
                .unwrap();
            f.write_all_at(b"end", len - 3).unwrap();
        } else {
            let len = match self.rng.below(10) {
                0 => 0,
                1..=4 => self.rng.below(200) as usize,
                5..=6 => 1000 + self.rng.below(8000) as usize,
                7 => block,
                8 => block + 1 + self.rng.below(3) as usize,
                _ => 2 * block + self.rng.below(200_000) as usize,
            };
            let content = if self.rng.chance(50) {
                self.rng.bytes(len)
            } else {
                // Compressible text.
                (0..len).map(|i| b"squashfs bale "[i % 14]).collect()
            };
            std::fs::write(path, content).unwrap();
        }
        let mode = *self
            .rng
            .pick(&[0o644, 0o755, 0o600, 0o400, 0o4755, 0o2711, 0o000]);
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        self.files.push(path.to_path_buf());
    }

    fn xattrs(&mut self, path: &Path) {
        if !self.rng.chance(20) {
            return;
        }
        let mut names = vec!["user.mime", "user.bale.test"];
        if self.shape.as_root {
            names.extend(["trusted.overlay.x", "security.capability.fake"]);
        }
        let t = path.symlink_metadata().unwrap().file_type();
        let user_allowed = t.is_file() || t.is_dir();
        for _ in 0..1 + self.rng.below(3) {
            let name = *self.rng.pick(&names);
            // user. attributes exist only on regular files and directories.
            if !user_allowed && name.starts_with("user.") {
                continue;
            }
            let len = self.rng.below(300) as usize;
            let value = self.rng.bytes(len);
            xattr::set(path, name, &value).unwrap();
        }
    }

    fn owner_and_time(&mut self, path: &Path) {
        if self.shape.as_root {
            let ids = [0u32, 1000, 65534, 123_456];
            let uid = *self.rng.pick(&ids);
            let gid = *self.rng.pick(&ids);
            std::os::unix::fs::lchown(path, Some(uid), Some(gid)).unwrap();
        }
        let secs = self.rng.below(4_000_000_000) as i64;
        let t = rustix::fs::Timestamps {
            last_access: rustix::fs::Timespec {
                tv_sec: secs,
                tv_nsec: 0,
            },
            last_modification: rustix::fs::Timespec {
                tv_sec: secs,
                tv_nsec: 0,
            },
        };
        rustix::fs::utimensat(
            rustix::fs::CWD,
            path,
            &t,
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .unwrap();
    }
}
