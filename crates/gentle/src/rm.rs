//! Removing trees like `rm`, gently: every unlink and rmdir is relative to
//! the directory descriptor the walker opened (so a symlink swapped in
//! mid-walk is removed, never followed), goes through the unlink limiter,
//! and is counted. Directories are removed post-order, and only when
//! everything inside them was removed. Other file systems are never entered.

use crate::console::Failed;
use crate::limiter::{InvalidRate, RateLimiter};
use crate::prompt::{Interactive, Prompter};
use crate::session::{limiter, Session};
use crate::stats::{CallStats, Op};
use crate::walker::{inode_key, vanished, Entry, InodeKey, OtherFileSystems, Visit, Visitor};
use os_display::Quotable;
use rustix::fs::{AtFlags, FileType};
use std::collections::HashMap;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Default)]
pub struct RmOptions {
    pub recursive: bool,
    /// Ignore missing paths, never prompt.
    pub force: bool,
    pub interactive: Interactive,
    /// Print each removal, like `rm -v`.
    pub verbose: bool,
    /// `unlink`/`rmdir` calls per second; `None` (or 0) for no limit.
    pub unlink_limit: Option<f64>,
    /// Whether stdin is a terminal: only then are write-protected entries
    /// asked about without `-i`.
    pub stdin_is_terminal: bool,
    /// Whose permissions decide what is write-protected; `None` for this
    /// process's.
    pub identity: Option<Identity>,
}

/// The identity permissions are checked against.
#[derive(Debug, Clone)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

impl Identity {
    /// The effective user and groups of this process.
    pub fn current() -> Self {
        use rustix::process::{getegid, geteuid, getgroups};
        Identity {
            uid: geteuid().as_raw(),
            gid: getegid().as_raw(),
            groups: getgroups()
                .map(|g| g.into_iter().map(|g| g.as_raw()).collect())
                .unwrap_or_default(),
        }
    }

    /// Whether an entry is write-protected for us, judged like rm from its
    /// permission bits (ACLs are not consulted): never for root or symlinks.
    pub fn write_protected(&self, file_type: FileType, stat: &rustix::fs::Statx) -> bool {
        if self.uid == 0 || file_type == FileType::Symlink {
            return false;
        }
        let mode = u32::from(stat.stx_mode);
        let bit = if stat.stx_uid == self.uid {
            0o200
        } else if stat.stx_gid == self.gid || self.groups.contains(&stat.stx_gid) {
            0o020
        } else {
            0o002
        };
        mode & bit == 0
    }
}

/// What was removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RmSummary {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub other: u64,
    /// Allocated bytes released: an inode's blocks count once its last link
    /// is removed.
    pub freed: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RmError {
    #[error("missing operand")]
    MissingOperand,
    #[error("--unlink-limit: {0}")]
    Rate(#[from] InvalidRate),
}

/// How rm names a file type in its questions.
pub fn type_name(file_type: FileType, size: u64) -> &'static str {
    match file_type {
        FileType::RegularFile if size == 0 => "regular empty file",
        FileType::RegularFile => "regular file",
        FileType::Directory => "directory",
        FileType::Symlink => "symbolic link",
        FileType::Fifo => "fifo",
        FileType::Socket => "socket",
        FileType::CharacterDevice => "character special file",
        FileType::BlockDevice => "block special file",
        _ => "file",
    }
}

/// Why `path` must not be removed, if it must not: it names "." or "..",
/// or (recursively) it is "/" or a directory holding the current directory.
pub fn refusal(path: &Path, recursive: bool) -> Option<String> {
    let bytes = path.as_os_str().as_bytes();
    let trimmed = match bytes.iter().rposition(|&b| b != b'/') {
        Some(end) => &bytes[..=end],
        None => bytes,
    };
    let last = trimmed.rsplit(|&b| b == b'/').next().unwrap_or(trimmed);
    if last == b"." || last == b".." {
        return Some(format!(
            "refusing to remove '.' or '..' directory: skipping {}",
            path.quote()
        ));
    }
    if !recursive {
        return None;
    }
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.is_dir() {
        return None;
    }
    let same = |m: &std::fs::Metadata| m.dev() == meta.dev() && m.ino() == meta.ino();
    if std::fs::metadata("/").is_ok_and(|root| same(&root)) {
        return Some(format!(
            "it is dangerous to operate recursively on {} (same as '/'): refusing",
            path.quote()
        ));
    }
    let cwd = std::env::current_dir().ok()?;
    if cwd
        .ancestors()
        .any(|dir| std::fs::metadata(dir).is_ok_and(|m| same(&m)))
    {
        return Some(format!(
            "refusing to remove {}: it contains the current directory",
            path.quote()
        ));
    }
    None
}

/// The question `-I` asks before starting, if it asks one.
pub fn once_question(paths: usize, recursive: bool) -> Option<String> {
    let s = if paths == 1 { "" } else { "s" };
    if recursive {
        Some(format!("remove {paths} argument{s} recursively"))
    } else if paths > 3 {
        Some(format!("remove {paths} arguments"))
    } else {
        None
    }
}

#[derive(Default)]
struct Removed {
    files: AtomicU64,
    dirs: AtomicU64,
    symlinks: AtomicU64,
    other: AtomicU64,
    freed: AtomicU64,
}

/// The rm visitor.
pub struct Remover<'a> {
    options: &'a RmOptions,
    prompter: &'a dyn Prompter,
    unlink_limit: Option<RateLimiter>,
    stats: Arc<CallStats>,
    stop: Arc<AtomicBool>,
    console: Arc<crate::console::Console>,
    removed: Removed,
    identity: Identity,
    /// Links still to be removed for inodes with several links.
    links_left: Mutex<HashMap<InodeKey, u32>>,
}

impl<'a> Remover<'a> {
    pub fn new(
        session: &Session,
        options: &'a RmOptions,
        prompter: &'a dyn Prompter,
    ) -> Result<Self, RmError> {
        Ok(Remover {
            options,
            prompter,
            unlink_limit: limiter(options.unlink_limit)?,
            stats: Arc::clone(&session.walker.stats),
            stop: Arc::clone(&session.walker.stop),
            console: Arc::clone(&session.console),
            removed: Removed::default(),
            identity: options.identity.clone().unwrap_or_else(Identity::current),
            links_left: Mutex::new(HashMap::new()),
        })
    }

    /// Whether to go ahead with `action` ("remove", "descend into") on
    /// `entry`, asking first where the interactive mode says so.
    fn ask(&self, action: &str, entry: &Entry<'_>) -> bool {
        let file_type = entry.file_type();
        let protected = self.identity.write_protected(file_type, entry.stat);
        let asking = match self.options.interactive {
            Interactive::Always => true,
            Interactive::Never => false,
            Interactive::Once | Interactive::WriteProtected => {
                protected && self.options.stdin_is_terminal
            }
        };
        if !asking {
            return true;
        }
        let kind = type_name(file_type, entry.stat.stx_size);
        let protected = if protected { "write-protected " } else { "" };
        let question = format!("{action} {protected}{kind} {}", entry.path.quote());
        self.prompter.confirm(&question)
    }

    /// One rate-limited, counted unlink or rmdir of `entry`. `Ok(false)` when
    /// the walk was stopped first.
    fn unlink(&self, entry: &Entry<'_>, flags: AtFlags) -> Result<bool, Failed> {
        if let Some(limit) = &self.unlink_limit {
            if !limit.acquire_unless(&self.stop) {
                return Ok(false);
            }
        }
        let result = rustix::fs::unlinkat(entry.dir, entry.name, flags);
        self.stats.record(Op::Unlink);
        match result {
            Ok(()) => Ok(true),
            Err(e) if self.options.force && vanished(e) => Ok(true),
            Err(e) => Err(Failed::new("cannot remove", e)),
        }
    }

    /// Blocks this removal frees, counting a multiply linked inode's blocks
    /// with its last link.
    fn freed_by(&self, entry: &Entry<'_>) -> u64 {
        let st = entry.stat;
        let bytes = st.stx_blocks * 512;
        if st.stx_nlink <= 1 || entry.is_dir() {
            return bytes;
        }
        let mut left = self.links_left.lock().unwrap_or_else(|e| e.into_inner());
        let key = inode_key(st);
        let n = left.entry(key).or_insert(st.stx_nlink);
        *n -= 1;
        if *n == 0 {
            left.remove(&key);
            bytes
        } else {
            0
        }
    }

    fn count(&self, entry: &Entry<'_>) {
        let r = &self.removed;
        let kind = match entry.file_type() {
            FileType::RegularFile => &r.files,
            FileType::Directory => &r.dirs,
            FileType::Symlink => &r.symlinks,
            _ => &r.other,
        };
        kind.fetch_add(1, Ordering::Relaxed);
        r.freed.fetch_add(self.freed_by(entry), Ordering::Relaxed);
        if self.options.verbose {
            let what = if entry.is_dir() { "directory " } else { "" };
            self.console
                .out(format!("removed {what}{}", entry.path.quote()));
        }
    }

    pub fn summary(&self) -> RmSummary {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let r = &self.removed;
        RmSummary {
            files: get(&r.files),
            dirs: get(&r.dirs),
            symlinks: get(&r.symlinks),
            other: get(&r.other),
            freed: get(&r.freed),
        }
    }
}

impl Visitor for Remover<'_> {
    fn visit(&self, entry: &Entry<'_>) -> Result<Visit, Failed> {
        if entry.is_dir() {
            if !self.options.recursive {
                return Err(Failed::new(
                    "cannot remove",
                    io::Error::from_raw_os_error(libc::EISDIR),
                ));
            }
            if !self.ask("descend into", entry) {
                return Ok(Visit::Kept);
            }
            return Ok(Visit::Descend);
        }
        if !self.ask("remove", entry) {
            return Ok(Visit::Kept);
        }
        if !self.unlink(entry, AtFlags::empty())? {
            return Ok(Visit::Kept);
        }
        self.count(entry);
        Ok(Visit::Done)
    }

    fn leave(&self, entry: &Entry<'_>, complete: bool) -> Result<Visit, Failed> {
        if !complete || !self.ask("remove", entry) {
            return Ok(Visit::Kept);
        }
        if !self.unlink(entry, AtFlags::REMOVEDIR)? {
            return Ok(Visit::Kept);
        }
        self.count(entry);
        Ok(Visit::Done)
    }

    /// A directory that cannot be listed may still be empty (rm's own
    /// mode 000 or 300 directories): try to remove it, and report why it
    /// could not be listed only if that fails, as rm does.
    fn unreadable(&self, entry: &Entry<'_>, failed: Failed) -> Result<Visit, Failed> {
        self.leave(entry, true)
            .map_err(|_| Failed::new("cannot remove", failed.error))
    }

    fn ignore_vanished(&self) -> bool {
        self.options.force
    }

    /// `x/` naming a symlink to a directory removes the link, never what it
    /// points to.
    fn follows_trailing_slash(&self) -> bool {
        false
    }

    fn cannot_access(&self) -> &'static str {
        "cannot remove"
    }
}

/// Remove `paths` as `rm` would with `options`, asking `prompter` where the
/// interactive mode says so. Per-path failures are reported through the
/// session's console; the caller gets what was removed.
pub fn run(
    session: &mut Session,
    paths: &[PathBuf],
    options: &RmOptions,
    prompter: &dyn Prompter,
) -> Result<RmSummary, RmError> {
    if paths.is_empty() {
        if options.force {
            return Ok(RmSummary::default());
        }
        return Err(RmError::MissingOperand);
    }
    session.walker.other_file_systems = OtherFileSystems::Refused;
    if options.interactive == Interactive::Always {
        // Questions come one at a time, in walk order.
        session.walker.workers = 1;
    }
    let remover = Remover::new(session, options, prompter)?;
    if options.interactive == Interactive::Once {
        if let Some(question) = once_question(paths.len(), options.recursive) {
            if !prompter.confirm(&question) {
                return Ok(RmSummary::default());
            }
        }
    }
    for path in paths {
        if let Some(message) = refusal(path, options.recursive) {
            session.console.fail_with(&message, "refused");
            continue;
        }
        let outcome = session.walker.walk(path, &remover);
        if outcome.interrupted {
            break;
        }
    }
    Ok(remover.summary())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::ScriptedPrompter;
    use crate::session::CommonOptions;
    use std::fs;

    fn session() -> Session {
        let options = CommonOptions {
            quiet: true,
            ..CommonOptions::default()
        };
        Session::new("test", options, &[Op::Stat, Op::Unlink]).unwrap()
    }

    fn recursive(interactive: Interactive) -> RmOptions {
        RmOptions {
            recursive: true,
            interactive,
            ..RmOptions::default()
        }
    }

    fn tree() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir_all(t.path().join("d/sub")).unwrap();
        fs::write(t.path().join("d/a"), "a").unwrap();
        fs::write(t.path().join("d/sub/b"), "bb").unwrap();
        t
    }

    #[test]
    fn refuses_dot_dotdot_and_root() {
        for p in [".", "..", "a/.", "a/..", "a/../", "./"] {
            assert!(refusal(Path::new(p), false).is_some(), "{p}");
        }
        assert!(refusal(Path::new("/"), true).unwrap().contains("dangerous"));
        assert!(refusal(Path::new("/"), false).is_none());
        assert!(refusal(Path::new("a.."), true).is_none());
    }

    #[test]
    fn refuses_parents_of_the_current_directory() {
        let cwd = std::env::current_dir().unwrap();
        let parent = cwd.parent().unwrap();
        assert!(refusal(parent, true).unwrap().contains("current directory"));
    }

    #[test]
    fn once_asks_for_recursion_or_many_paths() {
        assert_eq!(
            once_question(1, true).as_deref(),
            Some("remove 1 argument recursively")
        );
        assert_eq!(once_question(3, false), None);
        assert_eq!(
            once_question(4, false).as_deref(),
            Some("remove 4 arguments")
        );
    }

    #[test]
    fn recursive_removal_counts_what_it_removed() {
        let t = tree();
        let mut s = session();
        let opts = recursive(Interactive::WriteProtected);
        let summary = run(
            &mut s,
            &[t.path().join("d")],
            &opts,
            &ScriptedPrompter::new([]),
        )
        .unwrap();
        assert!(!t.path().join("d").exists());
        assert_eq!((summary.files, summary.dirs), (2, 2));
        assert_eq!(s.walker.stats.calls(Op::Unlink), 4);
        assert_eq!(s.finish(), 0);
    }

    #[test]
    fn declining_keeps_the_file_and_its_parents() {
        let t = tree();
        let mut s = session();
        let opts = recursive(Interactive::Always);
        // descend d: yes; then each question in walk order: answer yes except
        // for "remove regular file '.../d/a'".
        struct Decline;
        impl Prompter for Decline {
            fn confirm(&self, q: &str) -> bool {
                !q.ends_with("/d/a'")
            }
        }
        let summary = run(&mut s, &[t.path().join("d")], &opts, &Decline).unwrap();
        assert!(t.path().join("d/a").exists());
        assert!(!t.path().join("d/sub").exists());
        assert_eq!((summary.files, summary.dirs), (1, 1));
        // Nothing failed: keeping a file on request is not an error.
        assert_eq!(s.finish(), 0);
    }

    #[test]
    fn asks_the_rm_questions() {
        let t = tree();
        fs::remove_file(t.path().join("d/sub/b")).unwrap();
        let mut s = session();
        let opts = recursive(Interactive::Always);
        let p = ScriptedPrompter::new([true; 10]);
        run(&mut s, &[t.path().join("d")], &opts, &p).unwrap();
        let d = t.path().join("d");
        let mut q = p.questions();
        q.sort();
        let mut expected = vec![
            format!("descend into directory '{}'", d.display()),
            format!("descend into directory '{}/sub'", d.display()),
            format!("remove directory '{}'", d.display()),
            format!("remove directory '{}/sub'", d.display()),
            format!("remove regular file '{}/a'", d.display()),
        ];
        expected.sort();
        assert_eq!(q, expected);
        assert!(!d.exists());
    }

    #[test]
    fn write_protection_follows_the_permission_bits() {
        let me = Identity {
            uid: 1000,
            gid: 100,
            groups: vec![100, 200],
        };
        let t = tree();
        let stat = |mode: u32, uid: u32, gid: u32| {
            let mut st = rustix::fs::statx(
                rustix::fs::CWD,
                t.path(),
                AtFlags::empty(),
                rustix::fs::StatxFlags::BASIC_STATS,
            )
            .unwrap();
            st.stx_mode = mode as u16;
            st.stx_uid = uid;
            st.stx_gid = gid;
            st
        };
        let file = FileType::RegularFile;
        assert!(!me.write_protected(file, &stat(0o644, 1000, 5)));
        assert!(me.write_protected(file, &stat(0o444, 1000, 5)));
        assert!(!me.write_protected(file, &stat(0o464, 0, 200)));
        assert!(me.write_protected(file, &stat(0o644, 0, 200)));
        assert!(!me.write_protected(file, &stat(0o446, 0, 0)));
        assert!(me.write_protected(file, &stat(0o664, 0, 0)));
        assert!(!me.write_protected(FileType::Symlink, &stat(0o444, 1000, 5)));
        let root = Identity {
            uid: 0,
            gid: 0,
            groups: vec![],
        };
        assert!(!root.write_protected(file, &stat(0o000, 1000, 5)));
    }

    #[test]
    fn write_protected_files_are_asked_about_on_a_terminal_only() {
        use std::os::unix::fs::PermissionsExt;
        let nobody = Identity {
            uid: 65534,
            gid: 65534,
            groups: vec![],
        };
        for (terminal, interactive, asked) in [
            (true, Interactive::WriteProtected, true),
            (true, Interactive::Once, true),
            (false, Interactive::WriteProtected, false),
            (true, Interactive::Never, false),
        ] {
            let t = tree();
            let ro = t.path().join("d/a");
            fs::set_permissions(&ro, fs::Permissions::from_mode(0o444)).unwrap();
            let opts = RmOptions {
                interactive,
                stdin_is_terminal: terminal,
                identity: Some(nobody.clone()),
                ..RmOptions::default()
            };
            let p = ScriptedPrompter::new([false]);
            let mut s = session();
            run(&mut s, &[ro.clone(), t.path().join("d/sub/b")], &opts, &p).unwrap();
            // Files created by the test's user are write-protected for
            // "nobody" unless world-writable: both are asked about.
            let expected: Vec<String> = if asked {
                vec![
                    format!("remove write-protected regular file '{}'", ro.display()),
                    format!(
                        "remove write-protected regular file '{}'",
                        t.path().join("d/sub/b").display()
                    ),
                ]
            } else {
                vec![]
            };
            assert_eq!(
                p.questions(),
                expected,
                "{interactive:?}, terminal {terminal}"
            );
            // The first question was answered no, any second one by default no.
            assert_eq!(ro.exists(), asked);
        }
    }

    #[test]
    fn directory_without_recursive_is_an_error() {
        let t = tree();
        let mut s = session();
        run(
            &mut s,
            &[t.path().join("d")],
            &RmOptions::default(),
            &ScriptedPrompter::new([]),
        )
        .unwrap();
        assert!(t.path().join("d/a").exists());
        assert_eq!(s.finish(), 1);
        assert!(s
            .console
            .failure_summary()
            .unwrap()
            .contains("Is a directory"));
    }

    #[test]
    fn once_declined_removes_nothing() {
        let t = tree();
        let mut s = session();
        let opts = recursive(Interactive::Once);
        let p = ScriptedPrompter::new([false]);
        run(&mut s, &[t.path().join("d")], &opts, &p).unwrap();
        assert_eq!(p.questions(), vec!["remove 1 argument recursively"]);
        assert!(t.path().join("d/sub/b").exists());
    }

    #[test]
    fn freed_bytes_count_hard_links_once_all_are_gone() {
        let t = tree();
        let d = t.path().join("d");
        fs::write(d.join("big"), vec![1u8; 64 * 1024]).unwrap();
        fs::hard_link(d.join("big"), t.path().join("outside")).unwrap();
        let mut s = session();
        let opts = recursive(Interactive::WriteProtected);
        let summary = run(
            &mut s,
            std::slice::from_ref(&d),
            &opts,
            &ScriptedPrompter::new([]),
        )
        .unwrap();
        // "big" still has a link outside: its 64 KiB are not freed.
        assert!(summary.freed < 64 * 1024, "{summary:?}");
        assert!(t.path().join("outside").exists());
    }
}
