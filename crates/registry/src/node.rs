//! Per-node records: `<state dir>/<job id>.modules` or `<user>.modules`
//! lists what each job or interactive user has mounted on this node. They
//! are the reference counts of shared software mounts: an image is
//! unmounted when no record names its mount point any more.
//!
//! Every change happens under an exclusive flock on `<state dir>/.lock`;
//! files are replaced by temp + rename, so a crash never leaves a
//! half-written record. One record per line, tab-separated:
//! `NAME  MODE  IMAGE  MOUNTPOINT` (NAME is the module `NAME/VERSION` or `-`
//! for a user image, MODE `ro` or `rw`, paths escaped).

use crate::escape::{escape, unescape};
use crate::{atomic, Error};
use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Whose record: a SLURM job or an interactive user.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    Job(String),
    User(String),
}

const SUFFIX: &str = ".modules";

impl Key {
    /// A job id as SLURM numbers jobs (`SLURM_JOB_ID`, also of an array's
    /// task): digits, no leading zero. One spelling per job, so the job's
    /// epilog finds every record made for it (`013` or `12_3` would name
    /// job 13 or an array task to `scontrol`, but a record the epilog of
    /// that job, which knows it as `13` or its own id, never releases).
    pub fn job(id: &str) -> Result<Key, String> {
        let ok = !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) && !id.starts_with('0');
        if ok {
            Ok(Key::Job(id.to_string()))
        } else {
            Err(format!(
                "invalid job id {id:?} (the job's number as SLURM_JOB_ID gives it)"
            ))
        }
    }

    /// A user name as the system knows it.
    pub fn user(name: &str) -> Result<Key, String> {
        let ok = !name.is_empty()
            && !name.starts_with(['.', '-'])
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            && !name.chars().all(|c| c.is_ascii_digit());
        if ok {
            Ok(Key::User(name.to_string()))
        } else {
            Err(format!("user name {name:?} cannot name a record"))
        }
    }

    fn file_name(&self) -> String {
        match self {
            Key::Job(id) | Key::User(id) => format!("{id}{SUFFIX}"),
        }
    }

    fn from_file_name(name: &str) -> Option<Key> {
        let stem = name.strip_suffix(SUFFIX)?;
        Key::job(stem).or_else(|_| Key::user(stem)).ok()
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Job(id) => write!(f, "job {id}"),
            Key::User(name) => write!(f, "user {name}"),
        }
    }
}

/// One mount a job or user holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// `NAME/VERSION` of a software module; `None` for a user image.
    pub module: Option<String>,
    pub rw: bool,
    pub image: PathBuf,
    pub mountpoint: PathBuf,
}

impl Record {
    fn render(&self) -> String {
        format!(
            "{}\t{}\t{}\t{}\n",
            self.module.as_deref().unwrap_or("-"),
            if self.rw { "rw" } else { "ro" },
            escape(self.image.as_os_str()),
            escape(self.mountpoint.as_os_str())
        )
    }

    fn parse(line: &str) -> Option<Record> {
        let mut f = line.split('\t');
        let module = match f.next()? {
            "-" => None,
            name => Some(name.to_string()),
        };
        let rw = match f.next()? {
            "rw" => true,
            "ro" => false,
            _ => return None,
        };
        let image = unescape(f.next()?)?;
        let mountpoint = unescape(f.next()?)?;
        f.next().is_none().then_some(Record {
            module,
            rw,
            image,
            mountpoint,
        })
    }
}

/// How long a mount, an unmount or a cleanup waits for the node's records:
/// each holds them for milliseconds, or up to the 20 s an image's lock may
/// take, so a minute is a stuck holder.
pub const LOCK_WAIT: Duration = Duration::from_secs(60);

/// The process the lock file names as its holder, as `pid N (COMMAND)`.
fn holder(lock: &OwnedFd) -> String {
    let mut buf = [0u8; 32];
    let n = rustix::io::pread(lock, &mut buf, 0).unwrap_or(0);
    let pid = String::from_utf8_lossy(&buf[..n]).trim().to_string();
    match std::fs::read(format!("/proc/{pid}/comm")) {
        Ok(comm) if !pid.is_empty() => {
            format!("pid {pid} ({})", String::from_utf8_lossy(&comm).trim())
        }
        _ => "an unknown process".into(),
    }
}

/// What to do about a record file with a malformed line, said after it.
pub const MALFORMED_REPAIR: &str =
    "root's `bale cleanup --cleanup` sets the file aside, keeping its good lines";

/// What [`NodeState::all_readable`] found: every key's readable records,
/// and the keys whose files have lines that are not, with the first.
#[derive(Debug, Default)]
pub struct AllRecords {
    pub records: Vec<(Key, Vec<Record>)>,
    pub malformed: Vec<(Key, Error)>,
}

/// The state directory, locked for as long as this value lives.
pub struct NodeState {
    dir: OwnedFd,
    path: PathBuf,
    _lock: Option<OwnedFd>,
}

impl NodeState {
    /// Creates the directory if needed (0755) and takes the global lock,
    /// waiting for other bale processes on this node up to [`LOCK_WAIT`].
    pub fn lock(path: &Path) -> Result<NodeState, Error> {
        NodeState::lock_within(path, LOCK_WAIT)
    }

    /// [`NodeState::lock`], waiting up to `wait`: a holder stuck beyond it
    /// (on a hung file system, say) is named, and the caller fails instead
    /// of hanging every mount, unmount and epilog of the node behind it.
    pub fn lock_within(path: &Path, wait: Duration) -> Result<NodeState, Error> {
        match rustix::fs::mkdir(path, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(Error::io(path, e)),
        }
        let dir = rustix::fs::open(
            path,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::io(path, e))?;
        let lock_path = path.join(".lock");
        let lock = rustix::fs::openat(
            &dir,
            ".lock",
            OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| Error::io(&lock_path, e))?;
        let taken = bale_os::flock::exclusive_until(
            &lock,
            Instant::now() + wait,
            Duration::from_millis(10),
        )
        .map_err(|e| Error::io(&lock_path, e))?;
        if !taken {
            return Err(Error::Busy {
                holder: holder(&lock),
                path: lock_path,
                seconds: wait.as_secs(),
                advice: String::new(),
            });
        }
        // Who holds it, for whoever waits too long.
        let me = format!("{}\n", std::process::id());
        let _ = rustix::fs::ftruncate(&lock, 0)
            .and_then(|()| rustix::io::pwrite(&lock, me.as_bytes(), 0).map(drop));
        Ok(NodeState {
            dir,
            path: path.to_path_buf(),
            _lock: Some(lock),
        })
    }

    /// Opens the directory for reading only, without the lock (which only
    /// root may take): each file is replaced whole, so every file read is
    /// consistent, though two files may be from different moments.
    /// `None` if the directory does not exist yet.
    pub fn snapshot(path: &Path) -> Result<Option<NodeState>, Error> {
        match rustix::fs::open(
            path,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(dir) => Ok(Some(NodeState {
                dir,
                path: path.to_path_buf(),
                _lock: None,
            })),
            Err(rustix::io::Errno::NOENT) => Ok(None),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// The records of `key` (none if it has no file); a malformed line
    /// fails the reading.
    pub fn read(&self, key: &Key) -> Result<Vec<Record>, Error> {
        match self.read_lenient(key)? {
            (records, None) => Ok(records),
            (_, Some(malformed)) => Err(malformed),
        }
    }

    /// The records of `key` on the lines that can be read, and the first
    /// line that cannot (not text, or not a record).
    fn read_lenient(&self, key: &Key) -> Result<(Vec<Record>, Option<Error>), Error> {
        let path = self.path.join(key.file_name());
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), None)),
            Err(e) => return Err(Error::io(path, e)),
        };
        let mut records = Vec::new();
        let mut malformed = None;
        let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
        // An empty file has no lines (splitting it would give one, empty).
        let lines = body.split(|&b| b == b'\n').filter(|_| !body.is_empty());
        for (i, line) in lines.enumerate() {
            match std::str::from_utf8(line).ok().and_then(Record::parse) {
                Some(record) => records.push(record),
                None => {
                    malformed.get_or_insert_with(|| Error::Parse {
                        path: path.clone(),
                        line: i + 1,
                        reason: "malformed record".into(),
                    });
                }
            }
        }
        Ok((records, malformed))
    }

    /// Replaces the records of `key`; no records removes its file.
    pub fn write(&self, key: &Key, records: &[Record]) -> Result<(), Error> {
        let name = key.file_name();
        if records.is_empty() {
            return match rustix::fs::unlinkat(
                &self.dir,
                name.as_str(),
                rustix::fs::AtFlags::empty(),
            ) {
                Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
                Err(e) => Err(Error::io(self.path.join(name), e)),
            };
        }
        let text: String = records.iter().map(Record::render).collect();
        atomic::replace(&self.dir, &self.path, &name, text.as_bytes(), 0o644)
    }

    /// Every key with records, sorted. A malformed record file fails the
    /// whole reading: mounts and unmounts count the users of a shared
    /// mount, and a line they cannot read may name it.
    pub fn all(&self) -> Result<Vec<(Key, Vec<Record>)>, Error> {
        let all = self.all_readable()?;
        match all.malformed.into_iter().next() {
            Some((_, malformed)) => Err(malformed),
            None => Ok(all.records),
        }
    }

    /// Every key with the records that can be read, sorted, and apart
    /// from them each malformed record file, for `list` and `cleanup` to
    /// report (and repair) while they go on with the rest.
    pub fn all_readable(&self) -> Result<AllRecords, Error> {
        let entries = std::fs::read_dir(&self.path).map_err(|e| Error::io(&self.path, e))?;
        let mut keys = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&self.path, e))?;
            if let Some(key) = Key::from_file_name(&entry.file_name().to_string_lossy()) {
                keys.push(key);
            }
        }
        keys.sort();
        let mut all = AllRecords::default();
        for key in keys {
            let (records, malformed) = self.read_lenient(&key)?;
            if let Some(malformed) = malformed {
                all.malformed.push((key.clone(), malformed));
            }
            all.records.push((key, records));
        }
        Ok(all)
    }

    /// Repairs the malformed record file of `key`: renames it to
    /// `<file>.corrupt.<seconds>` (never over another; no reading looks at
    /// such names) and writes the lines that can be read back under its
    /// name. Where the original went.
    pub fn set_aside(&self, key: &Key) -> Result<PathBuf, Error> {
        let (records, _) = self.read_lenient(key)?;
        let name = key.file_name();
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let aside = format!("{name}.corrupt.{seconds}");
        rustix::fs::renameat_with(
            &self.dir,
            name.as_str(),
            &self.dir,
            aside.as_str(),
            rustix::fs::RenameFlags::NOREPLACE,
        )
        .map_err(|e| Error::io(self.path.join(&name), e))?;
        self.write(key, &records)?;
        Ok(self.path.join(aside))
    }

    /// Removes the temporary files of writers killed before their rename
    /// (every writer holds the lock we hold, so none is at work); their
    /// names, for the report.
    pub fn remove_temporaries(&self) -> Result<Vec<String>, Error> {
        let entries = std::fs::read_dir(&self.path).map_err(|e| Error::io(&self.path, e))?;
        let mut removed = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&self.path, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !atomic::is_temporary(&name) {
                continue;
            }
            match rustix::fs::unlinkat(&self.dir, name.as_str(), rustix::fs::AtFlags::empty()) {
                Ok(()) | Err(rustix::io::Errno::NOENT) => removed.push(name),
                Err(e) => return Err(Error::io(self.path.join(&name), e)),
            }
        }
        removed.sort();
        Ok(removed)
    }

    /// The keys whose readable records name `mountpoint`.
    pub fn users_of(&self, mountpoint: &Path) -> Result<Vec<Key>, Error> {
        Ok(self.all_readable()?.users_of(mountpoint))
    }
}

impl AllRecords {
    /// The keys whose readable records name `mountpoint`.
    pub fn users_of(&self, mountpoint: &Path) -> Vec<Key> {
        self.records
            .iter()
            .filter(|(_, records)| records.iter().any(|r| r.mountpoint == mountpoint))
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// The keys whose record files have malformed lines: any of them may
    /// name a shared mount, which then must stay.
    pub fn malformed_keys(&self) -> impl Iterator<Item = &Key> {
        self.malformed.iter().map(|(key, _)| key)
    }

    /// Whether a readable record names `image`, other than `except`'s
    /// `record`.
    pub fn uses_image(&self, image: &Path, except: Option<(&Key, &Record)>) -> bool {
        self.records.iter().any(|(k, rs)| {
            rs.iter()
                .any(|r| r.image == image && except != Some((k, r)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(module: Option<&str>, mountpoint: &str) -> Record {
        Record {
            module: module.map(str::to_string),
            rw: false,
            image: "/pfs/IMAGES/gcc/6.1.0.sqfs".into(),
            mountpoint: mountpoint.into(),
        }
    }

    #[test]
    fn temporaries_of_killed_writers_are_removed_and_records_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let state = NodeState::lock(tmp.path()).unwrap();
        let key = Key::user("alice").unwrap();
        state.write(&key, &[record(None, "/u/alice/a")]).unwrap();
        std::fs::write(tmp.path().join(".alice.modules.tmp.99999.0"), "half").unwrap();
        assert_eq!(
            state.remove_temporaries().unwrap(),
            [".alice.modules.tmp.99999.0"]
        );
        assert_eq!(state.read(&key).unwrap().len(), 1);
        let mut left: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, [".lock", "alice.modules"]);
    }

    #[test]
    fn a_malformed_record_file_is_reported_apart_and_set_aside_keeping_its_good_lines() {
        let tmp = tempfile::tempdir().unwrap();
        let state = NodeState::lock(tmp.path()).unwrap();
        let (alice, job) = (Key::user("alice").unwrap(), Key::job("42").unwrap());
        state.write(&alice, &[record(None, "/u/alice/a")]).unwrap();
        let good = record(Some("gcc/12"), "/sw/gcc/12").render();
        let text = [
            good.as_bytes(),
            b"garbage\n-\tro\t/i\xff\t/m\n",
            good.as_bytes(),
        ]
        .concat();
        std::fs::write(tmp.path().join("42.modules"), &text).unwrap();
        let err = state.all().unwrap_err().to_string();
        assert!(
            err.ends_with("42.modules: line 2: malformed record"),
            "{err}"
        );
        assert!(state.read(&job).is_err());
        let all = state.all_readable().unwrap();
        let malformed: Vec<_> = all.malformed.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(malformed, std::slice::from_ref(&job));
        let counts: Vec<_> = all
            .records
            .iter()
            .map(|(k, r)| (k.clone(), r.len()))
            .collect();
        assert_eq!(counts, [(job.clone(), 2), (alice.clone(), 1)]);
        let aside = state.set_aside(&job).unwrap();
        assert_eq!(std::fs::read(&aside).unwrap(), text);
        assert_eq!(state.read(&job).unwrap().len(), 2);
        assert_eq!(
            state.all().unwrap().len(),
            2,
            "the file set aside is not read"
        );
    }

    #[test]
    fn a_stuck_holder_is_named_and_waited_for_only_so_long() {
        let tmp = tempfile::tempdir().unwrap();
        let held = NodeState::lock(tmp.path()).unwrap();
        let started = Instant::now();
        let err = match NodeState::lock_within(tmp.path(), Duration::from_millis(300)) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("locked twice"),
        };
        assert!(started.elapsed() >= Duration::from_millis(300));
        let me = format!("pid {} (", std::process::id());
        assert!(
            err.contains(".lock: still locked after 0 s by ") && err.contains(&me),
            "{err}"
        );
        drop(held);
        assert!(NodeState::lock_within(tmp.path(), Duration::from_millis(300)).is_ok());
    }

    #[test]
    fn keys() {
        assert!(Key::job("1234").is_ok() && Key::job("7").is_ok());
        for bad in ["", "_1", "12a", "../x", "1/2", "013", "0", "12_3"] {
            assert!(Key::job(bad).is_err(), "{bad}");
        }
        assert!(Key::user("alice").is_ok() && Key::user("a.b-c_d").is_ok());
        for bad in ["", ".lock", "-x", "a/b", "..", "123", "a b"] {
            assert!(Key::user(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Key::from_file_name("77.modules"),
            Some(Key::Job("77".into()))
        );
        assert_eq!(
            Key::from_file_name("bob.modules"),
            Some(Key::User("bob".into()))
        );
        assert_eq!(Key::from_file_name(".bob.modules.tmp.1.0"), None);
    }

    #[test]
    fn records_round_trip_and_count_users() {
        let tmp = tempfile::tempdir().unwrap();
        let state = NodeState::lock(&tmp.path().join("state")).unwrap();
        let job = Key::job("17").unwrap();
        let alice = Key::user("alice").unwrap();
        let odd = record(None, "/var/run/user_images/alice/with\ttab");
        state
            .write(&job, &[record(Some("gcc/6.1.0"), "/v/gcc/6.1.0")])
            .unwrap();
        state
            .write(
                &alice,
                &[record(Some("gcc/6.1.0"), "/v/gcc/6.1.0"), odd.clone()],
            )
            .unwrap();
        assert_eq!(state.read(&alice).unwrap()[1], odd);
        assert_eq!(
            state.users_of(Path::new("/v/gcc/6.1.0")).unwrap(),
            [job.clone(), alice.clone()]
        );
        state.write(&job, &[]).unwrap();
        assert_eq!(state.users_of(Path::new("/v/gcc/6.1.0")).unwrap(), [alice]);
        assert!(state.read(&job).unwrap().is_empty());
        std::fs::write(tmp.path().join("state/9.modules"), "junk\n").unwrap();
        let err = state.read(&Key::job("9").unwrap()).unwrap_err().to_string();
        assert!(err.contains("9.modules: line 1"), "{err}");
    }

    #[test]
    fn the_lock_serialises_read_modify_write() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        let threads: Vec<_> = (0..6)
            .map(|i| {
                let dir = dir.clone();
                std::thread::spawn(move || {
                    for j in 0..15 {
                        let state = NodeState::lock(&dir).unwrap();
                        let key = Key::user("shared").unwrap();
                        let mut records = state.read(&key).unwrap();
                        records.push(record(None, &format!("/m/{i}/{j}")));
                        state.write(&key, &records).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let state = NodeState::lock(&dir).unwrap();
        assert_eq!(state.read(&Key::user("shared").unwrap()).unwrap().len(), 90);
    }
}
