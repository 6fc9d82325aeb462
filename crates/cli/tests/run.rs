//! `bale run`: images mounted for one command only, as the unprivileged
//! user `bale-test`, with the kernel backend (the helper through the real
//! sudo rule) and the FUSE backend (a user namespace of bale's own). The
//! command sees the images, nobody else does, nothing remains afterwards,
//! exit status and signals pass through, and the rules of the helper's
//! `run` request hold (docs/security.md, docs/run.md).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;
use support::frame::{self, bale_as, helper_as, refusal, Mounts};
use support::fuse::wait_for;
use support::run_ok;

const USER: &str = "bale-test";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A test directory of `USER` with the image `img.sqfs` (its `d/f` says
/// "img.sqfs") and an empty mount point `mnt`, cleaned up on drop.
struct Setup {
    home: PathBuf,
    image: PathBuf,
    mnt: PathBuf,
    _mounts: Mounts,
}

/// `frame::squashfs_image`, readable by everyone.
fn image(dir: &Path, name: &str) -> PathBuf {
    let image = frame::squashfs_image(dir, name);
    run_ok("chmod", &["644", s(&image)]);
    image
}

fn setup(name: &str) -> Setup {
    let home = frame::user_dir(USER, name);
    let image = image(&home, "img.sqfs");
    let mnt = home.join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    run_ok("chown", &[&format!("{USER}:"), s(&mnt)]);
    Setup {
        _mounts: Mounts {
            prefixes: vec![home.clone()],
        },
        home,
        image,
        mnt,
    }
}

/// `bale run [--backend B] SPEC -- sh -c SCRIPT` as `USER`.
fn run_sh(backend: &str, spec: &str, script: &str) -> Output {
    bale_as(
        USER,
        &["run", "--backend", backend, spec, "--", "sh", "-c", script],
    )
}

impl Setup {
    /// `bale run --backend B IMAGE:MNT -- sh -c SCRIPT` as `USER` in the
    /// background, once SCRIPT has created `ready`; bale's pid goes to
    /// [`Setup::bale_pid`].
    fn start(&self, backend: &str, script: &str, ready: &Path) -> Child {
        self.start_command(backend, &format!("sh -c '{script}'"), ready)
    }

    /// As [`Setup::start`], for COMMAND given as shell words.
    fn start_command(&self, backend: &str, command: &str, ready: &Path) -> Child {
        let line = format!(
            "echo $$ > {}; exec {} run --backend {backend} {}:{} -- {command}",
            s(&self.pidfile()),
            env!("CARGO_BIN_EXE_bale"),
            s(&self.image),
            s(&self.mnt)
        );
        let child = Command::new("runuser")
            .args(["-u", USER, "--", "sh", "-c", &line])
            .current_dir("/")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        assert!(wait_for(Duration::from_secs(20), || ready.exists()));
        child
    }

    fn pidfile(&self) -> PathBuf {
        self.home.join("pid")
    }

    /// The pid of the `bale run` started by [`Setup::start`].
    fn bale_pid(&self) -> String {
        std::fs::read_to_string(self.pidfile())
            .unwrap()
            .trim()
            .to_string()
    }
}

fn text(out: &Output) -> String {
    assert!(
        out.status.success(),
        "status {:?}, stderr {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// No mount on, and no loop device of an image below, `dir` remains.
fn assert_nothing_left(dir: &Path) {
    assert!(
        frame::mounts_below(dir).is_empty(),
        "mount left below {dir:?}"
    );
    assert!(
        wait_for(Duration::from_secs(5), || frame::loops_below(dir)
            .is_empty()),
        "loop device left: {:?}",
        frame::loops_below(dir)
    );
}

/// While the command runs (it waits for `go`), the mount is invisible from
/// outside; afterwards nothing is left.
fn only_the_command_sees_the_image(backend: &str) {
    let _site = frame::site();
    let t = setup(&format!("run-visible-{backend}"));
    let (ready, go) = (t.home.join("ready"), t.home.join("go"));
    let options = t.home.join("options");
    let script = format!(
        "grep \" {mnt} \" /proc/self/mountinfo > {options}; cat {mnt}/d/f > {ready}.tmp && mv {ready}.tmp {ready}; while [ ! -e {go} ]; do sleep 0.05; done",
        mnt = s(&t.mnt),
        options = s(&options),
        ready = s(&ready),
        go = s(&go)
    );
    let child = t.start(backend, &script, &ready);
    assert_eq!(std::fs::read_to_string(&ready).unwrap(), "img.sqfs");
    let line = std::fs::read_to_string(&options).unwrap();
    assert!(line.contains(" ro,nosuid,nodev"), "{line}");
    assert!(frame::mounts_below(&t.mnt).is_empty(), "visible outside");
    assert_eq!(std::fs::read_dir(&t.mnt).unwrap().count(), 0);
    let seen = frame::as_user(USER, "ls", &[s(&t.mnt)]);
    assert!(
        text(&seen).is_empty(),
        "another process of the user sees it"
    );
    std::fs::write(&go, "").unwrap();
    let out = child.wait_with_output().unwrap();
    text(&out);
    assert_nothing_left(&t.home);
}

#[test]
fn kernel_only_the_command_sees_the_image_and_nothing_remains() {
    only_the_command_sees_the_image("kernel");
}

#[test]
fn fuse_only_the_command_sees_the_image_and_nothing_remains() {
    only_the_command_sees_the_image("fuse");
}

/// Exit status, identity, environment and working directory of the command.
fn the_command_is_the_users(backend: &str, no_new_privs: &str) {
    let _site = frame::site();
    let t = setup(&format!("run-status-{backend}"));
    let spec = format!("{}:{}", s(&t.image), s(&t.mnt));
    let out = run_sh(backend, &spec, "exit 7");
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    let line = format!(
        "cd {home} && BALE_RUN_TEST=kept exec {bale} run --backend {backend} {spec} -- sh -c 'id -u; pwd; echo $BALE_RUN_TEST; grep NoNewPrivs /proc/self/status'",
        home = s(&t.home),
        bale = env!("CARGO_BIN_EXE_bale"),
    );
    let out = frame::as_user(USER, "sh", &["-c", &line]);
    let lines: Vec<String> = text(&out).lines().map(str::to_string).collect();
    assert_eq!(lines[0], frame::uid(USER).to_string());
    assert_eq!(lines[1], s(&t.home));
    assert_eq!(lines[2], "kept");
    assert_eq!(lines[3], format!("NoNewPrivs:\t{no_new_privs}"));
}

#[test]
fn kernel_exit_status_identity_and_environment_pass_through() {
    the_command_is_the_users("kernel", "1");
}

#[test]
fn fuse_exit_status_identity_and_environment_pass_through() {
    the_command_is_the_users("fuse", "0");
}

/// SIGTERM to `bale run` reaches the command, whose death by it is the
/// exit status (143).
fn sigterm_reaches_the_command(backend: &str) {
    let _site = frame::site();
    let t = setup(&format!("run-signal-{backend}"));
    let (ready, mask) = (t.home.join("ready"), t.home.join("mask"));
    // A command that does nothing about signals (not a shell: dash clears
    // its signal mask when it starts) must get them as from a shell, with
    // nothing blocked (the helper blocks some for its own life) and TERM's
    // default action.
    let program = format!(
        "import pathlib, time; pathlib.Path({mask:?}).write_text([l for l in open(\"/proc/self/status\") if l.startswith(\"SigBlk\")][0]); pathlib.Path({ready:?}).touch(); time.sleep(30)",
        mask = s(&mask),
        ready = s(&ready)
    );
    let child = t.start_command(backend, &format!("python3 -c '{program}'"), &ready);
    assert_eq!(
        std::fs::read_to_string(&mask).unwrap(),
        "SigBlk:\t0000000000000000\n"
    );
    run_ok("kill", &["-TERM", &t.bale_pid()]);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143), "{out:?}");
    assert_nothing_left(&t.home);
}

#[test]
fn kernel_sigterm_reaches_the_command_through_sudo() {
    sigterm_reaches_the_command("kernel");
}

#[test]
fn fuse_sigterm_reaches_the_command() {
    sigterm_reaches_the_command("fuse");
}

/// `bale run` killed outright (SIGKILL cannot be passed on): with FUSE its
/// threads served the command's mounts, so the command ends too instead
/// of running on on mounts that no longer answer; nothing is left.
#[test]
fn fuse_a_killed_bale_run_takes_the_command_with_it() {
    let _site = frame::site();
    let t = setup("run-killed-fuse");
    let (ready, command_pid) = (t.home.join("ready"), t.home.join("command-pid"));
    let script = format!(
        "echo $$ > {pid}; touch {ready}; exec sleep 60",
        pid = s(&command_pid),
        ready = s(&ready)
    );
    let mut child = t.start("fuse", &script, &ready);
    let command = std::fs::read_to_string(&command_pid)
        .unwrap()
        .trim()
        .to_string();
    let alive = || {
        std::fs::read_to_string(format!("/proc/{command}/status"))
            .is_ok_and(|status| !status.contains("State:\tZ"))
    };
    assert!(alive(), "the command is not running");
    run_ok("kill", &["-KILL", &t.bale_pid()]);
    // Not its output: the command would hold the pipes open.
    child.wait().unwrap();
    assert!(
        wait_for(Duration::from_secs(10), || !alive()),
        "the command outlived bale run"
    );
    assert_nothing_left(&t.home);
}

/// A setuid-root copy of `id` inside the image runs as the user.
fn setuid_binaries_do_not_grant_root(backend: &str) {
    let _site = frame::site();
    let t = setup(&format!("run-suid-{backend}"));
    let src = t.home.join("suid-src");
    std::fs::create_dir(&src).unwrap();
    std::fs::copy("/usr/bin/id", src.join("rootid")).unwrap();
    run_ok("chmod", &["4755", s(&src.join("rootid"))]);
    let image = t.home.join("suid.sqfs");
    support::pack(&src, &image, &[]);
    run_ok("chmod", &["644", s(&image)]);
    let spec = format!("{}:{}", s(&image), s(&t.mnt));
    let out = run_sh(backend, &spec, &format!("{}/rootid -u", s(&t.mnt)));
    assert_eq!(text(&out).trim(), frame::uid(USER).to_string());
}

#[test]
fn kernel_setuid_binaries_in_the_image_do_not_grant_root() {
    setuid_binaries_do_not_grant_root("kernel");
}

#[test]
fn fuse_setuid_binaries_in_the_image_do_not_grant_root() {
    setuid_binaries_do_not_grant_root("fuse");
}

#[test]
fn several_images_in_one_run() {
    let _site = frame::site();
    for backend in ["kernel", "fuse"] {
        let t = setup(&format!("run-several-{backend}"));
        let second = image(&t.home, "two.sqfs");
        let mnt2 = t.home.join("mnt2");
        frame::as_user(USER, "mkdir", &[s(&mnt2)]);
        let spec = format!("{}:{},{}:{}", s(&t.image), s(&t.mnt), s(&second), s(&mnt2));
        let script = format!("cat {}/d/f {}/d/f", s(&t.mnt), s(&mnt2));
        assert_eq!(text(&run_sh(backend, &spec, &script)), "img.sqfstwo.sqfs");
        assert_nothing_left(&t.home);
    }
}

#[test]
fn without_a_mount_point_a_user_image_goes_below_the_users_mount_directory() {
    let _site = frame::site();
    let t = setup("run-default");
    let place = frame::user_mounts().join(USER).join("img");
    let out = run_sh("kernel", s(&t.image), &format!("cat {}/d/f", s(&place)));
    assert_eq!(text(&out), "img.sqfs");
    assert!(frame::mounts_below(&place).is_empty());
    // The FUSE backend uses the same place now that it exists.
    let out = run_sh("fuse", s(&t.image), &format!("cat {}/d/f", s(&place)));
    assert_eq!(text(&out), "img.sqfs");
    assert_nothing_left(&t.home);
}

#[test]
fn a_software_module_is_mounted_at_its_place() {
    let _site = frame::site();
    let name = "run-module";
    let dir = frame::versions().join(name).join("1.0");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("f"), "module").unwrap();
    run_ok("chmod", &["-R", "a+rX", s(&frame::versions().join(name))]);
    support::succeed(support::bale().args(["create-software", &format!("{name}/1.0"), "-f"]));
    let _m = Mounts {
        prefixes: vec![frame::versions().join(name), frame::images().join(name)],
    };
    std::fs::remove_file(dir.join("f")).unwrap();
    for backend in ["kernel", "fuse"] {
        let out = run_sh(
            backend,
            &format!("{name}/1.0"),
            &format!("cat {}/f", s(&dir)),
        );
        assert_eq!(text(&out), "module", "{backend}");
    }
    assert!(frame::mounts_below(&dir).is_empty());
    assert_nothing_left(&frame::images().join(name));
}

/// A refused run exits 3 with one line naming `path`, and the command never
/// starts.
fn assert_refused(out: &Output, rule: &str, path: &Path, marker: &Path) {
    let line = refusal(out, 3);
    assert!(line.contains(&format!("refused by rule {rule}")), "{line}");
    assert!(line.contains(s(path)), "{line}");
    assert!(!marker.exists(), "the command ran");
}

#[test]
fn mount_points_outside_ones_own_directories_are_refused() {
    let _site = frame::site();
    let t = setup("run-refuse-mp");
    let theirs = frame::user_dir("bale-other", "run-refuse-mp");
    let _other = Mounts {
        prefixes: vec![theirs.clone()],
    };
    let marker = t.home.join("ran");
    let touch = format!("touch {}", s(&marker));
    let evil = t.home.join("evil");
    std::os::unix::fs::symlink("/etc", &evil).unwrap();
    for backend in ["kernel", "fuse"] {
        for (target, shown) in [
            (PathBuf::from("/etc"), PathBuf::from("/etc")),
            (theirs.clone(), theirs.clone()),
            (evil.clone(), PathBuf::from("/etc")),
        ] {
            let out = run_sh(backend, &format!("{}:{}", s(&t.image), s(&target)), &touch);
            assert_refused(&out, "mountpoint", &shown, &marker);
        }
    }
    // The helper itself never follows the symlink.
    for target in [evil.clone(), evil.join("ssl")] {
        let out = helper_as(
            USER,
            &[
                "run",
                "--image",
                s(&t.image),
                "--mountpoint",
                s(&target),
                "--",
                "touch",
                s(&marker),
            ],
        );
        assert_refused(&out, "no-symlinks", &target, &marker);
    }
    assert!(frame::mounts_below(Path::new("/etc")).is_empty());
}

#[test]
fn an_image_the_user_cannot_read_is_refused() {
    let _site = frame::site();
    let t = setup("run-refuse-image");
    let theirs = frame::user_dir("bale-other", "run-refuse-image");
    let _other = Mounts {
        prefixes: vec![theirs.clone()],
    };
    let private = frame::squashfs_image(&theirs, "private.sqfs");
    run_ok("chown", &["bale-other:", s(&private)]);
    run_ok("chmod", &["600", s(&private)]);
    let marker = t.home.join("ran");
    let out = run_sh(
        "kernel",
        &format!("{}:{}", s(&private), s(&t.mnt)),
        &format!("touch {}", s(&marker)),
    );
    assert_refused(&out, "caller-access", &private, &marker);
    // FUSE opens the image as the user: the kernel says no.
    let out = run_sh(
        "fuse",
        &format!("{}:{}", s(&private), s(&t.mnt)),
        &format!("touch {}", s(&marker)),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied"));
    assert!(!marker.exists());
    assert_nothing_left(&theirs);
}

#[test]
fn commands_that_cannot_start_exit_as_in_a_shell_and_leave_nothing() {
    let _site = frame::site();
    let t = setup("run-notfound");
    // A script whose interpreter is missing is named as such (126), not
    // reported as a missing script.
    let script = t.home.join("orphan.sh");
    std::fs::write(&script, "#!/nonexistent/python -u\nprint(1)\n").unwrap();
    run_ok("chmod", &["755", s(&script)]);
    let spec = format!("{}:{}", s(&t.image), s(&t.mnt));
    let cases = [
        (
            "/nonexistent/program",
            127,
            "/nonexistent/program: No such file or directory".to_string(),
        ),
        (
            s(&script),
            126,
            format!(
                "{}: /nonexistent/python: bad interpreter: No such file or directory",
                s(&script)
            ),
        ),
    ];
    for backend in ["kernel", "fuse"] {
        let run = |path: &str, program: &str| {
            let args = [
                path,
                env!("CARGO_BIN_EXE_bale"),
                "run",
                "--backend",
                backend,
                &spec,
                "--",
                program,
            ];
            frame::as_user(USER, "env", &args)
        };
        let plain_path = "PATH=/usr/bin:/bin";
        let mut outcomes: Vec<_> = cases
            .iter()
            .map(|(program, code, reason)| (run(plain_path, program), *code, reason.clone()))
            .collect();
        // Not in PATH, which holds a directory the user may not read (exec
        // then answers EACCES): not found all the same, as in a shell.
        for path in [plain_path, "PATH=/root:/usr/bin:/bin"] {
            let reason = "no-such-command: command not found".to_string();
            outcomes.push((run(path, "no-such-command"), 127, reason));
        }
        for (out, code, reason) in outcomes {
            assert_eq!(out.status.code(), Some(code), "{backend}: {out:?}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(stderr.lines().count(), 1, "{backend}: {stderr}");
            assert!(stderr.contains(reason.as_str()), "{backend}: {stderr}");
        }
    }
    assert_nothing_left(&t.home);
}

#[test]
fn the_environment_of_someone_elses_process_is_not_handed_over() {
    let _site = frame::site();
    let t = setup("run-refuse-env");
    let marker = t.home.join("ran");
    // Process 1 is root's: the helper reads it only once it is the caller.
    let out = helper_as(
        USER,
        &[
            "run",
            "--env-from",
            "1",
            "--image",
            s(&t.image),
            "--mountpoint",
            s(&t.mnt),
            "--",
            "touch",
            s(&marker),
        ],
    );
    let line = refusal(&out, 1);
    assert!(line.contains("/proc/1/environ"), "{line}");
    assert!(!marker.exists(), "the command ran");
    assert_nothing_left(&t.home);
}

#[test]
fn an_ext4_image_written_on_another_node_is_refused() {
    let _site = frame::site();
    let t = setup("run-refuse-rw");
    let ext4 = t.home.join("data.img");
    assert!(bale_as(USER, &["create", s(&ext4), "--size", "16M"])
        .status
        .success());
    let lock = t.home.join("data.img.lock");
    std::fs::write(&lock, "rw othernode boot=x pid=1 time=1\n").unwrap();
    run_ok("chown", &[&format!("{USER}:"), s(&lock)]);
    let marker = t.home.join("ran");
    let out = run_sh(
        "kernel",
        &format!("{}:{}", s(&ext4), s(&t.mnt)),
        &format!("touch {}", s(&marker)),
    );
    assert_refused(&out, "cluster-lock", &ext4, &marker);
    // Once nobody writes it, it is read like a squashfs image.
    std::fs::remove_file(&lock).unwrap();
    let out = run_sh(
        "kernel",
        &format!("{}:{}", s(&ext4), s(&t.mnt)),
        &format!("ls -d {}/lost+found", s(&t.mnt)),
    );
    text(&out);
    assert_nothing_left(&t.home);
}

/// A malformed image list is a usage error (exit status 2, as for any bad
/// argument), and the command never starts.
#[test]
fn a_malformed_image_list_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    for spec in ["", "a.img:", ":/tmp", "a.img,,b.img"] {
        let out = support::bale()
            .args(["run", spec, "--", "touch"])
            .arg(&marker)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{spec:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("expected IMAGE[:MOUNTPOINT]"), "{stderr}");
        assert!(!marker.exists(), "{spec:?}: the command ran");
    }
}
