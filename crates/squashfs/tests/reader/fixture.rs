//! Test fixtures: generated source trees, images made from them with
//! `mksquashfs`, and a comparable model of a tree read either from the
//! file system or from an image.

use bale_squashfs::reader::{Archive, Node, ReadAt, Visitor};
use bale_squashfs::{Error, InodeData};
use rustix::fs::{FileType, Mode, Timespec, Timestamps};
use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `mksquashfs SRC IMG -comp CODEC -noappend -quiet ARGS…`, failing
/// the test with a clear message when squashfs-tools is missing.
pub fn mksquashfs(src: &Path, img: &Path, codec: &str, args: &[&str]) {
    let out = Command::new("mksquashfs")
        .arg(src)
        .arg(img)
        .args(["-comp", codec, "-noappend", "-quiet", "-no-progress"])
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run mksquashfs ({e}): install squashfs-tools (apt-get install squashfs-tools)")
        });
    assert!(
        out.status.success(),
        "mksquashfs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Deterministic pseudo-random bytes (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

fn write(path: &Path, data: &[u8]) {
    std::fs::write(path, data).unwrap();
}

fn set_xattr(path: &Path, name: &str, value: &[u8]) {
    rustix::fs::lsetxattr(path, name, value, rustix::fs::XattrFlags::empty()).unwrap();
}

fn set_mtime(path: &Path, secs: i64) {
    let t = Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        path,
        &Timestamps {
            last_access: t,
            last_modification: t,
        },
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap();
}

/// Builds a tree covering every kind of node, files around the block size
/// (`block_size`), holes, hard links, xattrs and, when `big_dir`, a
/// directory whose listing spans several metadata blocks (so it has an index).
pub fn build_tree(root: &Path, block_size: usize, big_dir: bool) -> PathBuf {
    let src = root.join("src");
    let mut rng = Rng::new(42);
    std::fs::create_dir_all(src.join("a/b/c")).unwrap();
    write(&src.join("empty"), b"");
    write(&src.join("small.txt"), b"hello squashfs\n");
    write(&src.join("one-block"), &rng.bytes(block_size));
    write(&src.join("block-plus-one"), &rng.bytes(block_size + 1));
    write(&src.join("a/b/c/multi"), &rng.bytes(block_size * 3 + 77));
    write(&src.join("a/zeros"), &vec![0u8; block_size * 4]);
    let sparse = std::fs::File::create(src.join("sparse")).unwrap();
    sparse.set_len(block_size as u64 * 10 + 5).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&sparse, b"island", block_size as u64 * 4 + 3)
        .unwrap();
    write(&src.join("a/linked"), b"one inode, three names\n");
    std::fs::hard_link(src.join("a/linked"), src.join("a/b/linked2")).unwrap();
    std::fs::hard_link(src.join("a/linked"), src.join("linked3")).unwrap();
    std::os::unix::fs::symlink("a/b/c/multi", src.join("rel-link")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", src.join("a/abs-link")).unwrap();
    std::os::unix::fs::symlink("x".repeat(900), src.join("long-link")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        src.join("fifo"),
        FileType::Fifo,
        Mode::from_raw_mode(0o640),
        0,
    )
    .unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        src.join("a/socket"),
        FileType::Socket,
        Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    if is_root() {
        rustix::fs::mknodat(
            rustix::fs::CWD,
            src.join("a/null"),
            FileType::CharacterDevice,
            Mode::from_raw_mode(0o666),
            rustix::fs::makedev(1, 3),
        )
        .unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            src.join("a/disk"),
            FileType::BlockDevice,
            Mode::from_raw_mode(0o660),
            rustix::fs::makedev(259, 70000),
        )
        .unwrap();
        for (path, uid, gid) in [
            ("small.txt", 1234, 5678),
            ("a/b", 42, 42),
            ("rel-link", 7, 8),
        ] {
            rustix::fs::chownat(
                rustix::fs::CWD,
                src.join(path),
                Some(rustix::process::Uid::from_raw(uid)),
                Some(rustix::process::Gid::from_raw(gid)),
                rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
            )
            .unwrap();
        }
    }
    std::fs::set_permissions(
        src.join("small.txt"),
        std::os::unix::fs::PermissionsExt::from_mode(0o4755),
    )
    .unwrap();
    std::fs::set_permissions(
        src.join("a/b"),
        std::os::unix::fs::PermissionsExt::from_mode(0o1777),
    )
    .unwrap();
    let shared = vec![b'v'; 3000];
    set_xattr(&src.join("small.txt"), "user.mime", b"text/plain");
    set_xattr(&src.join("small.txt"), "user.shared", &shared);
    set_xattr(&src.join("one-block"), "user.shared", &shared);
    set_xattr(&src.join("one-block"), "user.other", b"");
    set_xattr(&src.join("a"), "user.dir", b"on a directory");
    if big_dir {
        let dir = src.join("big");
        std::fs::create_dir(&dir).unwrap();
        for i in 0..1500u32 {
            let name = format!("entry-{i:05}-{}", "n".repeat((i % 40) as usize));
            write(&dir.join(name), &i.to_le_bytes());
        }
    }
    for (i, entry) in walk_paths(&src).iter().enumerate().rev() {
        set_mtime(entry, 1_600_000_000 + i as i64 * 3671);
    }
    src
}

fn walk_paths(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        let p = out[i].clone();
        if std::fs::symlink_metadata(&p).unwrap().is_dir() {
            let mut children: Vec<_> = std::fs::read_dir(&p)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            children.sort();
            out.extend(children);
        }
        i += 1;
    }
    out
}

/// Everything the tests compare about one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    pub nlink: u64,
    pub rdev: (u32, u32),
    pub target: Option<Vec<u8>>,
    pub content: Option<Vec<u8>>,
    pub xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
}

/// The model of a source tree, keyed by path relative to `root`.
pub fn source_model(root: &Path) -> BTreeMap<Vec<u8>, Expected> {
    walk_paths(root)
        .into_iter()
        .map(|path| {
            let md = std::fs::symlink_metadata(&path).unwrap();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .as_os_str()
                .as_bytes()
                .to_vec();
            let mut xattrs = BTreeMap::new();
            let mut names = vec![0u8; 65536];
            let n = rustix::fs::llistxattr(&path, &mut names).unwrap();
            for name in names[..n].split(|&b| b == 0).filter(|n| !n.is_empty()) {
                let mut value = vec![0u8; 65536];
                let name_str = std::str::from_utf8(name).unwrap();
                let len = rustix::fs::lgetxattr(&path, name_str, &mut value).unwrap();
                xattrs.insert(name.to_vec(), value[..len].to_vec());
            }
            let ft = md.file_type();
            let rdev = if ft.is_char_device() || ft.is_block_device() {
                (rustix::fs::major(md.rdev()), rustix::fs::minor(md.rdev()))
            } else {
                (0, 0)
            };
            let expected = Expected {
                mode: md.mode(),
                uid: md.uid(),
                gid: md.gid(),
                mtime: md.mtime(),
                nlink: md.nlink(),
                rdev,
                target: ft.is_symlink().then(|| {
                    std::fs::read_link(&path)
                        .unwrap()
                        .as_os_str()
                        .as_bytes()
                        .to_vec()
                }),
                content: ft.is_file().then(|| std::fs::read(&path).unwrap()),
                xattrs,
            };
            (rel, expected)
        })
        .collect()
}

use std::os::unix::fs::FileTypeExt;

/// Builds the same model from an image through the reader's walk.
pub struct ImageModel<'a, R> {
    pub archive: &'a Archive<R>,
    pub nodes: BTreeMap<Vec<u8>, Expected>,
    /// Inode number → reference, as found by the walk.
    pub refs: BTreeMap<u32, u64>,
}

impl<R: ReadAt> Visitor for ImageModel<'_, R> {
    type Error = Error;

    fn visit(&mut self, node: &Node<'_>) -> Result<(), Error> {
        let a = self.archive;
        let inode = node.inode;
        let (rdev, target, content) = match &inode.data {
            InodeData::BlockDevice { rdev } | InodeData::CharDevice { rdev } => {
                (bale_squashfs::inode::decode_rdev(*rdev), None, None)
            }
            InodeData::Symlink { target } => ((0, 0), Some(target.clone()), None),
            InodeData::File(_) => {
                let mut content = Vec::new();
                std::io::Read::read_to_end(&mut a.open_file(inode)?, &mut content)
                    .map_err(Error::from_io)?;
                ((0, 0), None, Some(content))
            }
            _ => ((0, 0), None, None),
        };
        let expected = Expected {
            mode: inode.mode(),
            uid: a.uid(inode)?,
            gid: a.gid(inode)?,
            mtime: inode.mtime.into(),
            nlink: inode.link_count.into(),
            rdev,
            target,
            content,
            xattrs: a
                .xattrs(inode)?
                .into_iter()
                .map(|x| (x.name, x.value))
                .collect(),
        };
        self.refs.insert(inode.number, node.inode_ref);
        self.nodes.insert(node.path.to_vec(), expected);
        Ok(())
    }
}

pub fn image_model<R: ReadAt>(archive: &Archive<R>) -> ImageModel<'_, R> {
    let mut model = ImageModel {
        archive,
        nodes: BTreeMap::new(),
        refs: BTreeMap::new(),
    };
    archive.walk(&mut model).unwrap();
    model
}

/// A fresh tree and its image, in a temporary directory.
pub struct Fixture {
    /// Holds the temporary directory until the fixture is dropped.
    pub _dir: tempfile::TempDir,
    pub src: PathBuf,
    pub image: PathBuf,
}

pub fn fixture(codec: &str, block_size: usize, big_dir: bool, args: &[&str]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let src = build_tree(dir.path(), block_size, big_dir);
    let image = dir.path().join("image.sqfs");
    let bs = block_size.to_string();
    let mut all = vec!["-b", bs.as_str()];
    all.extend_from_slice(args);
    mksquashfs(&src, &image, codec, &all);
    Fixture {
        _dir: dir,
        src,
        image,
    }
}

/// Where the raw listing entry of the directory `a/b/c` of a fixture starts
/// in an image made with uncompressed metadata (`-noI -noD`): its inode
/// offset, delta, type 1 (directory), name length - 1 = 0, then `c`.
pub fn raw_entry_of_c(bytes: &[u8]) -> usize {
    let archive = Archive::open(bytes.to_vec()).unwrap();
    let (_, b) = archive.lookup_path(b"a/b", false).unwrap().unwrap();
    let c = archive.lookup(&b, b"c").unwrap().unwrap();
    let offset = (c.inode_ref as u16).to_le_bytes();
    let dir_table = archive.superblock().directory_table as usize;
    (dir_table..bytes.len() - 9)
        .find(|&i| bytes[i..i + 2] == offset && bytes[i + 4..i + 9] == [1, 0, 0, 0, b'c'])
        .expect("entry for c")
}
