//! The image framework's test site: directories under `/tmp/bale-frame-test`,
//! `/etc/bale/config.toml` pointing at them, the freshly built helper
//! installed root-owned with a real sudo rule for every user, and a fake
//! `scontrol` whose jobs the tests declare (or the real one, for tests
//! that run a SLURM cluster), as [`Options`] say. Installed while any test
//! holds a [`Site`], removed when the last one ends (also on failure).
//! Tests clean their mounts with [`Mounts`], which also works on panic.
//! The site is machine-wide, so it is held under an exclusive `flock` of
//! [`SITE_LOCK`]: test binaries (or checkouts) that need it take turns.

use super::{require_root, run, run_ok};
use bale_registry::node::NodeState;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

pub const BASE: &str = "/tmp/bale-frame-test";
const CONFIG: &str = "/etc/bale/config.toml";
const MARK: &str = "# written by bale's test suite (crates/cli/tests/support/frame.rs)";
const HELPER: &str = "/usr/local/lib/bale-test/bale-helper";
const SUDOERS: &str = "/etc/sudoers.d/bale-test-frame";

/// Held (flock) by the process that has the test site installed.
pub const SITE_LOCK: &str = "/tmp/bale-frame-test.lock";

/// Which `scontrol` the site's configuration names.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scontrol {
    /// A fake whose jobs the tests declare with [`job`].
    Fake,
    /// `/usr/bin/scontrol`, asking the cluster of support/slurm.rs.
    Real,
}

/// How the test site is installed. All tests of one process (test binary)
/// share one site, so they must all ask for the same options: a test that
/// needs other options goes into a test binary of its own.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Options {
    pub scontrol: Scontrol,
    /// Lines appended to `/etc/bale/config.toml`, the only configuration
    /// the helper reads (`loop_budget = 2\n`, …).
    pub extra_config: &'static str,
    /// `image_path` and `mount_path` name symlinks to [`images`] and
    /// [`versions`], as a site's paths on a parallel file system often do.
    pub roots_through_symlinks: bool,
}

impl Options {
    /// The fake `scontrol`, nothing extra.
    pub const DEFAULT: Options = Options {
        scontrol: Scontrol::Fake,
        extra_config: "",
        roots_through_symlinks: false,
    };
}

/// How many [`Site`]s this process holds, the lock while it is > 0, and
/// the options installed.
struct Users {
    count: usize,
    lock: Option<std::fs::File>,
    options: Options,
}

static USERS: Mutex<Users> = Mutex::new(Users {
    count: 0,
    lock: None,
    options: Options::DEFAULT,
});

/// The test site, installed while held.
pub struct Site;

/// The test site with [`Options::DEFAULT`].
pub fn site() -> Site {
    site_with(Options::DEFAULT)
}

/// The test site with `options`; a process uses one kind.
pub fn site_with(options: Options) -> Site {
    require_root();
    let mut users = USERS.lock().unwrap_or_else(|e| e.into_inner());
    if users.count == 0 {
        let lock = std::fs::File::create(SITE_LOCK).unwrap();
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).unwrap();
        users.lock = Some(lock);
        users.options = options;
        install(options);
    }
    assert_eq!(
        users.options, options,
        "the test site is installed with other options: put this test in its own test binary"
    );
    users.count += 1;
    Site
}

impl Drop for Site {
    fn drop(&mut self) {
        let mut users = USERS.lock().unwrap_or_else(|e| e.into_inner());
        users.count -= 1;
        if users.count == 0 {
            let _ = std::fs::remove_file(SUDOERS);
            let _ = std::fs::remove_file(CONFIG);
            let _ = std::fs::remove_file(HELPER);
            users.lock = None;
        }
    }
}

pub fn base() -> PathBuf {
    PathBuf::from(BASE)
}
pub fn images() -> PathBuf {
    base().join("IMAGES")
}
pub fn versions() -> PathBuf {
    base().join("VERSIONS")
}
pub fn user_mounts() -> PathBuf {
    base().join("user")
}
pub fn state() -> PathBuf {
    base().join("state")
}

fn install(options: Options) {
    for tool in ["sudo", "mke2fs", "mksquashfs", "runuser", "visudo"] {
        let found = ["/usr/bin", "/usr/sbin", "/bin", "/sbin"]
            .iter()
            .any(|d| Path::new(d).join(tool).exists());
        assert!(
            found,
            "{tool} is missing: run scripts/test.sh (it installs sudo, e2fsprogs, squashfs-tools)"
        );
    }
    if let Ok(existing) = std::fs::read_to_string(CONFIG) {
        assert!(existing.starts_with(MARK), "{CONFIG} exists and is not the test suite's: refusing to overwrite a real site configuration");
    }
    for dir in [
        images(),
        versions(),
        user_mounts(),
        state(),
        base().join("home"),
        base().join("jobs"),
    ] {
        std::fs::create_dir_all(&dir).unwrap();
    }
    run_ok("chmod", &["-R", "go+rX", BASE]);
    let scontrol = match options.scontrol {
        Scontrol::Fake => fake_scontrol(),
        Scontrol::Real => PathBuf::from("/usr/bin/scontrol"),
    };
    let (image_path, mount_path) = if options.roots_through_symlinks {
        let link = |real: PathBuf| {
            let link = real.with_extension("link");
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(real.file_name().unwrap(), &link).unwrap();
            link
        };
        (link(images()), link(versions()))
    } else {
        (images(), versions())
    };
    std::fs::create_dir_all("/etc/bale").unwrap();
    let config = format!(
        "{MARK}\nimage_path = \"{}\"\nmount_path = \"{}\"\nusr_mount_path = \"{}\"\nstate_dir = \"{}\"\nhelper = \"{HELPER}\"\nscontrol = \"{}\"\n{}",
        image_path.display(),
        mount_path.display(),
        user_mounts().display(),
        state().display(),
        scontrol.display(),
        options.extra_config
    );
    std::fs::write(CONFIG, config).unwrap();
    std::fs::create_dir_all(Path::new(HELPER).parent().unwrap()).unwrap();
    let temp = format!("{HELPER}.new");
    std::fs::copy(env!("CARGO_BIN_EXE_bale-helper"), &temp).unwrap();
    run_ok("chmod", &["755", &temp]);
    std::fs::rename(&temp, HELPER).unwrap();
    let rule = format!("{SUDOERS}.new");
    std::fs::write(&rule, format!("ALL ALL=(root) NOPASSWD: {HELPER}\n")).unwrap();
    run_ok("chmod", &["440", &rule]);
    run_ok("visudo", &["-cqf", &rule]);
    std::fs::rename(&rule, SUDOERS).unwrap();
}

/// A copy of the test site's configuration with `strict_modules = true`,
/// readable by everyone: point `BALE_CONFIG` at it.
pub fn strict_config(_site: &Site) -> tempfile::NamedTempFile {
    let strict = tempfile::NamedTempFile::new().unwrap();
    let text = std::fs::read_to_string(CONFIG).unwrap();
    std::fs::write(strict.path(), format!("{text}strict_modules = true\n")).unwrap();
    run_ok("chmod", &["644", strict.path().to_str().unwrap()]);
    strict
}

/// The fake `scontrol show job -o ID`, answering from the files of [`job`].
fn fake_scontrol() -> PathBuf {
    let scontrol = base().join("scontrol");
    std::fs::write(
        &scontrol,
        format!("#!/bin/sh\n# fake scontrol: show job -o ID\nf={BASE}/jobs/$4\n[ -f \"$f\" ] || {{ echo \"slurm_load_jobs error: Invalid job id specified\" >&2; exit 1; }}\necho \"JobId=$4 JobName=t UserId=$(cat \"$f\") GroupId=x(0)\"\n"),
    )
    .unwrap();
    run_ok("chmod", &["755", scontrol.to_str().unwrap()]);
    scontrol
}

/// Declares SLURM job `id` as owned by `user` (to the fake `scontrol`).
pub fn job(id: &str, user: &str) {
    job_in_state(id, user, "RUNNING");
}

/// Declares job `id` of `user` in `state` (`COMPLETED`, …) for the fake
/// `scontrol`.
pub fn job_in_state(id: &str, user: &str, state: &str) {
    let uid = uid(user);
    std::fs::write(
        base().join("jobs").join(id),
        format!("{user}({uid}) JobState={state}"),
    )
    .unwrap();
}

pub fn uid(user: &str) -> u32 {
    id(user, "-u")
}

/// The primary group of `user`.
pub fn gid(user: &str) -> u32 {
    id(user, "-g")
}

/// `id FLAG USER` as a number.
fn id(user: &str, flag: &str) -> u32 {
    let out = run_ok("id", &[flag, user]);
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// A fresh directory `name` owned by `user` in that user's test home.
pub fn user_dir(user: &str, name: &str) -> PathBuf {
    let dir = base().join("home").join(user).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let owner = format!("{user}:");
    for d in [base().join("home").join(user), dir.clone()] {
        run_ok("chown", &[&owner, d.to_str().unwrap()]);
    }
    dir
}

/// Runs `bale ARGS` as `user` (through runuser, like a login would).
pub fn bale_as(user: &str, args: &[&str]) -> Output {
    as_user(user, env!("CARGO_BIN_EXE_bale"), args)
}

/// Runs the helper itself as `user` through the sudo rule.
pub fn helper_as(user: &str, args: &[&str]) -> Output {
    let mut all = vec!["-n", HELPER];
    all.extend_from_slice(args);
    as_user(user, "sudo", &all)
}

pub fn as_user(user: &str, program: &str, args: &[&str]) -> Output {
    as_user_command(user, program, args)
        .output()
        .expect("runuser")
}

/// `program ARGS` as `user`, to start in the background.
pub fn as_user_command(user: &str, program: &str, args: &[&str]) -> Command {
    let mut command = Command::new("runuser");
    command
        .args(["-u", user, "--", program])
        .args(args)
        .current_dir("/");
    command
}

/// A squashfs image `dir/name` of a small tree (`d/f` holding `name`),
/// packed by `bale pack` as the caller.
pub fn squashfs_image(dir: &Path, name: &str) -> PathBuf {
    let src = dir.join(format!("{name}.src"));
    std::fs::create_dir_all(src.join("d")).unwrap();
    std::fs::write(src.join("d/f"), name).unwrap();
    let image = dir.join(name);
    super::bale()
        .args(["pack", "-q", "-f"])
        .arg(&src)
        .arg(&image)
        .assert()
        .success();
    image
}

/// A software module `name/1.0` with a small tree, packed by
/// `bale create-software` (as root, the admin).
pub fn software_module(name: &str) -> PathBuf {
    let dir = versions().join(name).join("1.0");
    let _ = std::fs::remove_dir_all(versions().join(name));
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::write(dir.join("bin/hello"), format!("hello from {name}\n")).unwrap();
    run_ok(
        "chmod",
        &["-R", "a+rX", versions().join(name).to_str().unwrap()],
    );
    super::bale()
        .args(["create-software", &format!("{name}/1.0"), "-f"])
        .assert()
        .success();
    assert!(images().join(name).join("1.0.sqfs").is_file());
    dir
}

/// Removes `user`'s record of the mount on `mountpoint`, as a crash between
/// mount and record would leave it: the mount becomes unreported.
pub fn forget_record(user: &str, mountpoint: &Path) {
    let state = NodeState::lock(&state()).unwrap();
    let key = bale_registry::node::Key::user(user).unwrap();
    let mut records = state.read(&key).unwrap();
    records.retain(|r| r.mountpoint != mountpoint);
    state.write(&key, &records).unwrap();
}

/// The mounts below `prefix` in this mount namespace.
pub fn mounts_below(prefix: &Path) -> Vec<PathBuf> {
    bale_registry::mountinfo::read()
        .unwrap()
        .into_iter()
        .map(|m| m.target)
        .filter(|t| t.starts_with(prefix))
        .collect()
}

/// Whether something is mounted on `target` itself.
pub fn is_mounted(target: &Path) -> bool {
    mounts_below(target).contains(&target.to_path_buf())
}

/// Loop devices whose backing file is below `prefix`.
pub fn loops_below(prefix: &Path) -> Vec<PathBuf> {
    bale_registry::loops::attached()
        .unwrap()
        .into_iter()
        .filter(|l| l.backing_file.starts_with(prefix))
        .map(|l| l.device)
        .collect()
}

/// [`software_module`], with a guard that undoes its mounts on drop.
pub fn guarded_module(name: &str) -> (PathBuf, Mounts) {
    let target = software_module(name);
    let mounts = Mounts {
        prefixes: vec![target.clone(), images().join(name)],
    };
    (target, mounts)
}

/// Everything a test mounted below its prefixes (mount points and images):
/// unmounted, records removed and loop devices detached on drop.
pub struct Mounts {
    pub prefixes: Vec<PathBuf>,
}

impl Drop for Mounts {
    fn drop(&mut self) {
        for prefix in &self.prefixes {
            let mut targets = mounts_below(prefix);
            targets.sort();
            for target in targets.iter().rev() {
                // Not `run`: a mount point's name may be any bytes.
                let _ = Command::new("umount").arg("-l").arg(target).output();
            }
        }
        if let Ok(state) = NodeState::lock(&state()) {
            for (key, records) in state.all().unwrap_or_default() {
                let keep: Vec<_> = records
                    .iter()
                    .filter(|r| {
                        !self
                            .prefixes
                            .iter()
                            .any(|p| r.mountpoint.starts_with(p) || r.image.starts_with(p))
                    })
                    .cloned()
                    .collect();
                let _ = state.write(&key, &keep);
            }
        }
        for prefix in &self.prefixes {
            for device in loops_below(prefix) {
                let _ = run("losetup", &["-d", device.to_str().unwrap()]);
            }
        }
    }
}

/// The one stderr line of a failed command, asserting exit `code`.
pub fn refusal(out: &Output, code: i32) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout {:?} stderr {stderr:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
    stderr
}

/// A stand-in syslog daemon for the test site: a datagram socket that
/// `/dev/log` points to while held, drained by a thread (senders block once
/// a few datagrams wait). This machine runs no syslog daemon, and a test
/// must not hide a real one, so `/dev/log` must be absent or a leftover of
/// ours. Take it while holding the [`Site`], whose lock serializes the
/// processes that use it; the tests of one process take turns (one
/// `/dev/log` at a time).
pub struct Syslog {
    messages: std::sync::Arc<Mutex<Vec<String>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    drain: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

const DEV_LOG: &str = "/dev/log";

/// Whether a [`Syslog`] of this process is held, and its release.
static CAPTURING: (Mutex<bool>, std::sync::Condvar) =
    (Mutex::new(false), std::sync::Condvar::new());

impl Syslog {
    /// Waits until no other test of this process holds a `Syslog`.
    pub fn capture(_site: &Site) -> Syslog {
        let (held, released) = &CAPTURING;
        let mut held = held.lock().unwrap_or_else(|e| e.into_inner());
        while *held {
            held = released.wait(held).unwrap_or_else(|e| e.into_inner());
        }
        *held = true;
        drop(held);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(std::time::Duration::from_millis(50)))
            .unwrap();
        if let Ok(meta) = std::fs::symlink_metadata(DEV_LOG) {
            // Ours, left by a killed run: a symlink to a socket nobody reads.
            let unread = std::os::unix::net::UnixDatagram::unbound()
                .and_then(|s| s.connect(DEV_LOG))
                .is_err();
            assert!(
                meta.file_type().is_symlink() && unread,
                "{DEV_LOG} exists: a syslog daemon runs here; stop it to run this test"
            );
        }
        let _ = std::fs::remove_file(DEV_LOG);
        run_ok("chmod", &["666", path.to_str().unwrap()]);
        run_ok("chmod", &["755", dir.path().to_str().unwrap()]);
        std::os::unix::fs::symlink(&path, DEV_LOG).unwrap();
        let messages = std::sync::Arc::new(Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let drain = {
            let (messages, stop) = (messages.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut buf = vec![0; 64 << 10];
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if let Ok(n) = socket.recv(&mut buf) {
                        let message = String::from_utf8_lossy(&buf[..n]).into_owned();
                        messages.lock().unwrap().push(message);
                    }
                }
            })
        };
        Syslog {
            messages,
            stop,
            drain: Some(drain),
            _dir: dir,
        }
    }

    /// The messages received so far (each as sent: `<PRI>TIME TAG[PID]: TEXT`).
    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }

    /// Every message sent before this call, once all have arrived: a
    /// marker sent now is received after them (one socket, in order).
    pub fn flushed(&self) -> Vec<String> {
        static MARKERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = MARKERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let marker = format!("bale test suite: flush marker {n}");
        std::os::unix::net::UnixDatagram::unbound()
            .unwrap()
            .send_to(marker.as_bytes(), DEV_LOG)
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let messages = self.messages();
            if let Some(at) = messages.iter().position(|m| *m == marker) {
                return messages[..at].to_vec();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{marker:?} never arrived"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

impl Drop for Syslog {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(DEV_LOG);
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(drain) = self.drain.take() {
            let _ = drain.join();
        }
        let (held, released) = &CAPTURING;
        *held.lock().unwrap_or_else(|e| e.into_inner()) = false;
        released.notify_one();
    }
}
