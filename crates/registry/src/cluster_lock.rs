//! `<image>.lock`: the cluster-wide record of which nodes have an image
//! mounted, on the shared file system beside the image.
//!
//! The format extends the original framework's: one line per node with the
//! image mounted read-only, starting with its host name, or a single
//! `rw HOST` line when mounted read-write; after the host comes an owner
//! record (`boot=… pid=… time=…`). Changes are made under an exclusive
//! `flock` on the file and written by temp + rename. While holding the
//! flock, a `# holder …` line is appended so that a holder that hangs (a
//! flock can be held forever by a hung client) can be identified and its
//! lock broken by replacing the file ([`break_lock`]).
//!
//! Lock files are readable by their owner (root, or the image's owner) only:
//! `flock` needs nothing but an open descriptor, so a lock file anyone can
//! open is one anyone can hold forever, and with it every mount of the image
//! on every node.

use crate::owner::Owner;
use crate::{atomic, Error};
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{AtFlags, FlockOperation, Mode, OFlags};
use std::fmt::Write as _;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One node's mount of the image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub rw: bool,
    pub owner: Owner,
}

/// What a lock file says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Contents {
    pub entries: Vec<Entry>,
    /// The process that held (or holds) the flock, if it left its record.
    pub holder: Option<Owner>,
}

const HOLDER: &str = "# holder ";

/// Owner read and write, nothing for anyone else (see the module comment).
const MODE: u32 = 0o600;

/// What a lock file's name adds to its image's.
const SUFFIX: &str = ".lock";

/// The name of the lock file of the image file named `image_name`.
pub fn name_for(image_name: &str) -> String {
    format!("{image_name}{SUFFIX}")
}

/// The lock file beside the image at `image`.
pub fn path_for(image: &Path) -> PathBuf {
    let mut path = image.as_os_str().to_owned();
    path.push(SUFFIX);
    PathBuf::from(path)
}

impl Contents {
    pub fn parse(text: &str) -> Contents {
        let mut contents = Contents::default();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix(HOLDER) {
                contents.holder = Owner::parse(rest);
            } else if line.starts_with('#') {
                continue;
            } else if let Some(rest) = line.strip_prefix("rw ") {
                contents
                    .entries
                    .extend(Owner::parse(rest).map(|owner| Entry { rw: true, owner }));
            } else if let Some(owner) = Owner::parse(line) {
                contents.entries.push(Entry { rw: false, owner });
            }
        }
        contents
    }

    /// The file text for `entries` (no holder line).
    pub fn render(entries: &[Entry]) -> String {
        let mut text = String::new();
        for entry in entries {
            let mode = if entry.rw { "rw " } else { "" };
            let _ = writeln!(text, "{mode}{}", entry.owner);
        }
        text
    }
}

/// An exclusively locked `<image>.lock`; dropping it without
/// [`commit`](ClusterLock::commit) leaves the file as it was.
pub struct ClusterLock {
    dir: OwnedFd,
    dir_path: PathBuf,
    name: String,
    file: std::fs::File,
    original_len: u64,
    pub contents: Contents,
}

impl ClusterLock {
    /// Locks `name` in `dir` (created if missing), waiting up to
    /// `timeout`, and records `me` as the holder.
    pub fn acquire(
        dir: OwnedFd,
        dir_path: &Path,
        name: &str,
        me: &Owner,
        timeout: Duration,
    ) -> Result<ClusterLock, Error> {
        let path = dir_path.join(name);
        let deadline = Instant::now() + timeout;
        let file = loop {
            let fd = open_lock_file(&dir, &path, name, OFlags::RDWR | OFlags::CREATE)?;
            let taken = bale_os::flock::exclusive_until(&fd, deadline, Duration::from_millis(20))
                .map_err(|e| Error::io(&path, e))?;
            if !taken {
                let holder = read(&dir, dir_path, name)?
                    .holder
                    .map_or_else(|| "an unknown process".to_string(), |h| h.to_string());
                let image = name.strip_suffix(SUFFIX).unwrap_or(name);
                return Err(Error::Busy {
                    advice: format!(
                        " (`bale lock-status {0}` tells whether it is stale; \
                             `bale unlock --stale {0}` breaks a stale holder)",
                        dir_path.join(image).display()
                    ),
                    path,
                    seconds: timeout.as_secs(),
                    holder,
                });
            }
            // Someone may have replaced the file while we waited: the lock
            // must be on the file the name points to now.
            let locked = rustix::fs::fstat(&fd).map_err(|e| Error::io(&path, e))?;
            match rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(now) if (now.st_dev, now.st_ino) == (locked.st_dev, locked.st_ino) => {
                    break std::fs::File::from(fd)
                }
                Ok(_) | Err(rustix::io::Errno::NOENT) => continue,
                Err(e) => return Err(Error::io(&path, e)),
            }
        };
        let mut lock = ClusterLock {
            dir,
            dir_path: dir_path.to_path_buf(),
            name: name.to_string(),
            file,
            original_len: 0,
            contents: Contents::default(),
        };
        let text = read_capped(&lock.file, &path)?;
        lock.original_len = text.len() as u64;
        lock.contents = Contents::parse(&text);
        let holder_line = format!("{HOLDER}{me}\n");
        lock.file
            .seek(SeekFrom::End(0))
            .and_then(|_| lock.file.write_all(holder_line.as_bytes()))
            .map_err(|e| Error::io(&path, e))?;
        Ok(lock)
    }

    pub fn path(&self) -> PathBuf {
        self.dir_path.join(&self.name)
    }

    /// Writes `entries` as the new contents and releases the lock.
    pub fn commit(self, entries: &[Entry]) -> Result<(), Error> {
        let text = Contents::render(entries);
        atomic::replace(&self.dir, &self.dir_path, &self.name, text.as_bytes(), MODE)
        // Dropping `self` now only closes the replaced file.
    }
}

impl Drop for ClusterLock {
    fn drop(&mut self) {
        // Uncommitted: take our holder line away again (a no-op on a file
        // that commit already replaced, as `file` is then the old inode).
        let _ = self.file.set_len(self.original_len);
    }
}

/// Reads a lock file without locking it (for status reports); a missing
/// file reads as empty.
pub fn read<D: AsFd>(dir: D, dir_path: &Path, name: &str) -> Result<Contents, Error> {
    let path = dir_path.join(name);
    match open_existing(&dir, &path, name)? {
        Some(fd) => Ok(Contents::parse(&read_capped(
            &std::fs::File::from(fd),
            &path,
        )?)),
        None => Ok(Contents::default()),
    }
}

/// [`open_lock_file`] for reading; `None` when there is no lock file.
fn open_existing<D: AsFd>(dir: D, path: &Path, name: &str) -> Result<Option<OwnedFd>, Error> {
    match open_lock_file(dir, path, name, OFlags::RDONLY) {
        Ok(fd) => Ok(Some(fd)),
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// A lock file lists one line per node holding the image: this is far
/// more than any cluster needs, and keeps a planted huge file out of
/// root's memory.
pub const MAX_LOCK_FILE: u64 = 1 << 20;

/// Opens the lock file `name` without following a symlink and without
/// blocking (a FIFO planted there would hang the helper, holding the node's
/// records), and only if it is a regular file of at most [`MAX_LOCK_FILE`].
fn open_lock_file<D: AsFd>(
    dir: D,
    path: &Path,
    name: &str,
    flags: OFlags,
) -> Result<OwnedFd, Error> {
    let fd = rustix::fs::openat(
        &dir,
        name,
        flags | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::from_raw_mode(MODE),
    )
    .map_err(|e| Error::io(path, e))?;
    let st = rustix::fs::fstat(&fd).map_err(|e| Error::io(path, e))?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile {
        return Err(Error::io(path, std::io::Error::other("not a regular file")));
    }
    if st.st_size as u64 > MAX_LOCK_FILE {
        return Err(too_large(path));
    }
    Ok(fd)
}

/// The file's text, refused if it has grown past [`MAX_LOCK_FILE`].
fn read_capped(file: &std::fs::File, path: &Path) -> Result<String, Error> {
    let mut text = String::new();
    file.take(MAX_LOCK_FILE + 1)
        .read_to_string(&mut text)
        .map_err(|e| Error::io(path, e))?;
    match text.len() as u64 > MAX_LOCK_FILE {
        true => Err(too_large(path)),
        false => Ok(text),
    }
}

fn too_large(path: &Path) -> Error {
    Error::io(
        path,
        std::io::Error::other(format!(
            "larger than {} KiB: not a lock file bale wrote",
            MAX_LOCK_FILE >> 10
        )),
    )
}

/// Whether someone holds the flock now (probed with a shared,
/// non-blocking lock that is released at once; needs read access only).
pub fn is_locked<D: AsFd>(dir: D, dir_path: &Path, name: &str) -> Result<bool, Error> {
    let path = dir_path.join(name);
    let Some(fd) = open_existing(&dir, &path, name)? else {
        return Ok(false);
    };
    match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockShared) {
        Ok(()) => Ok(false),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(true),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// Replaces the lock file with one listing `keep`, without taking the
/// flock: whoever holds it keeps a lock on the old, now nameless file.
pub fn break_lock<D: AsFd>(
    dir: D,
    dir_path: &Path,
    name: &str,
    keep: &[Entry],
) -> Result<(), Error> {
    atomic::replace(dir, dir_path, name, Contents::render(keep).as_bytes(), MODE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::owner::Node;

    fn dir(path: &Path) -> OwnedFd {
        rustix::fs::open(
            path,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap()
    }

    /// Takes the lock file `i.lock` in `dir_path`.
    fn acquire_in(dir_path: &Path, me: &Owner, wait: Duration) -> Result<ClusterLock, Error> {
        ClusterLock::acquire(dir(dir_path), dir_path, "i.lock", me, wait)
    }

    fn node(host: &str) -> Node {
        Node {
            host: host.into(),
            boot: "boot".into(),
        }
    }

    #[test]
    fn parses_the_original_format_and_owner_records() {
        let c = Contents::parse("node1\nnode2 boot=b pid=3 time=4\n# a comment\n\n");
        assert_eq!(c.entries.len(), 2);
        assert!(!c.entries[0].rw && c.entries[0].owner.boot.is_none());
        assert_eq!(c.entries[1].owner.pid, Some(3));
        let c = Contents::parse("rw node3\n# holder node3 boot=b pid=9 time=1\n");
        assert!(c.entries[0].rw && c.entries[0].owner.host == "node3");
        assert_eq!(c.holder.unwrap().pid, Some(9));
        let entries = vec![Entry {
            rw: true,
            owner: node("n").owner(1),
        }];
        assert_eq!(
            Contents::parse(&Contents::render(&entries)).entries,
            entries
        );
    }

    /// A FIFO (whose open or read would block root's helper forever) or a
    /// huge file planted as the lock file: refused at once.
    #[test]
    fn fifos_and_huge_files_are_refused_without_waiting() {
        let tmp = tempfile::tempdir().unwrap();
        let me = node("n1").owner(std::process::id());
        let lock_file = tmp.path().join("i.lock");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &lock_file,
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let started = Instant::now();
        let err = acquire_in(tmp.path(), &me, Duration::from_secs(1))
            .err()
            .unwrap();
        assert!(
            err.to_string().ends_with("i.lock: not a regular file"),
            "{err}"
        );
        let err = read(dir(tmp.path()), tmp.path(), "i.lock").unwrap_err();
        assert!(err.to_string().ends_with("not a regular file"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(1));
        std::fs::remove_file(&lock_file).unwrap();
        std::fs::File::create(&lock_file)
            .unwrap()
            .set_len(MAX_LOCK_FILE + 1)
            .unwrap();
        let err = acquire_in(tmp.path(), &me, Duration::from_secs(1))
            .err()
            .unwrap();
        assert!(err.to_string().contains("larger than 1024 KiB"), "{err}");
        assert_eq!(
            std::fs::metadata(&lock_file).unwrap().len(),
            MAX_LOCK_FILE + 1
        );
    }

    #[test]
    fn commit_writes_and_drop_restores() {
        let tmp = tempfile::tempdir().unwrap();
        let me = node("n1").owner(std::process::id());
        let lock = acquire_in(tmp.path(), &me, Duration::from_secs(1)).unwrap();
        assert!(lock.contents.entries.is_empty());
        let during = read(dir(tmp.path()), tmp.path(), "i.lock").unwrap();
        assert_eq!(during.holder.as_ref(), Some(&me));
        lock.commit(&[Entry {
            rw: false,
            owner: me.clone(),
        }])
        .unwrap();
        let text = std::fs::read_to_string(tmp.path().join("i.lock")).unwrap();
        assert_eq!(text, format!("{me}\n"));

        let lock = acquire_in(tmp.path(), &me, Duration::from_secs(1)).unwrap();
        assert_eq!(lock.contents.entries.len(), 1);
        drop(lock);
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("i.lock")).unwrap(),
            text
        );
    }

    #[test]
    fn a_held_lock_times_out_naming_the_holder_and_can_be_broken() {
        let tmp = tempfile::tempdir().unwrap();
        let hung = node("n1").owner(4242);
        let held = acquire_in(tmp.path(), &hung, Duration::from_secs(1)).unwrap();
        let me = node("n2").owner(1);
        let err = acquire_in(tmp.path(), &me, Duration::from_millis(100))
            .err()
            .unwrap();
        assert!(err.to_string().contains("pid=4242"), "{err}");
        let advice = format!("`bale unlock --stale {}/i`", tmp.path().display());
        assert!(
            err.to_string()
                .ends_with(&format!("{advice} breaks a stale holder)")),
            "{err}"
        );
        assert!(is_locked(dir(tmp.path()), tmp.path(), "i.lock").unwrap());
        break_lock(dir(tmp.path()), tmp.path(), "i.lock", &[]).unwrap();
        assert!(!is_locked(dir(tmp.path()), tmp.path(), "i.lock").unwrap());
        let lock = acquire_in(tmp.path(), &me, Duration::from_millis(100)).unwrap();
        assert!(lock.contents.holder.is_none());
        drop(held);
    }

    #[test]
    fn waiters_serialise_across_replacements() {
        let tmp = tempfile::tempdir().unwrap();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let path = tmp.path().to_path_buf();
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        let me = node(&format!("n{i}")).owner(i);
                        let lock = ClusterLock::acquire(
                            dir(&path),
                            &path,
                            "i.lock",
                            &me,
                            Duration::from_secs(30),
                        )
                        .unwrap();
                        let mut entries = lock.contents.entries.clone();
                        entries.push(Entry {
                            rw: false,
                            owner: me,
                        });
                        lock.commit(&entries).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let contents = read(dir(tmp.path()), tmp.path(), "i.lock").unwrap();
        assert_eq!(contents.entries.len(), 160, "no update may be lost");
    }
}
