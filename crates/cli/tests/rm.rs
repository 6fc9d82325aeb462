//! `bale rm` against GNU `rm`: what is removed, errors, preserve-root,
//! symlinks not followed, other file systems not crossed, and interactive
//! prompts answered through a real pseudo-terminal.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::gentle_tree::{listing, make_tree};
use support::{bale, bale_path, is_root, run_in, stderr, stdout, Tmpfs};

/// `out`'s standard error says `text`.
fn assert_said(out: &std::process::Output, text: &str) {
    assert!(stderr(out).contains(text), "{}", stderr(out));
}

/// The unprivileged user of the permission tests.
const TEST_UID: u32 = 1001;

/// Two identical copies of the test tree: `ours/` for bale, `gnu/` for rm.
struct Twin {
    dir: tempfile::TempDir,
}

impl Twin {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for side in ["ours", "gnu"] {
            make_tree(
                &dir.path().join(side).join("tree"),
                &dir.path().join(side).join("outside"),
            );
        }
        Twin { dir }
    }

    fn side(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Run `bale rm ARGS` in ours/ and `rm ARGS` in gnu/; return both outputs
    /// after checking the two trees are left identical.
    fn compare(&self, args: &[&str]) -> (std::process::Output, std::process::Output) {
        let ours = bale()
            .arg("rm")
            .args(args)
            .current_dir(self.side("ours"))
            .output()
            .unwrap();
        let gnu = run_in("rm", args, &self.side("gnu"));
        assert_eq!(
            listing(&self.side("ours")),
            listing(&self.side("gnu")),
            "trees differ after rm {args:?}\nbale: {}\nrm: {}",
            stderr(&ours),
            stderr(&gnu)
        );
        assert_eq!(
            ours.status.success(),
            gnu.status.success(),
            "exit status differs for {args:?}: bale {:?} ({}), rm {:?} ({})",
            ours.status,
            stderr(&ours),
            gnu.status,
            stderr(&gnu)
        );
        (ours, gnu)
    }
}

/// `-v` names each removal on one line, an odd name quoted and escaped so
/// it can be pasted into a shell, as GNU rm does (in another, equivalent
/// spelling).
#[test]
fn verbose_shows_odd_names_on_one_line_like_rm() {
    let w = tempfile::tempdir().unwrap();
    for side in ["ours", "gnu"] {
        std::fs::create_dir(w.path().join(side)).unwrap();
        std::fs::write(w.path().join(side).join("odd\nname"), "x").unwrap();
    }
    let ours = bale()
        .args(["rm", "-v", "odd\nname"])
        .current_dir(w.path().join("ours"))
        .output()
        .unwrap();
    let gnu = run_in("rm", &["-v", "odd\nname"], &w.path().join("gnu"));
    assert_eq!(stdout(&ours), "removed $'odd\\nname'\n");
    assert_eq!(stdout(&gnu), "removed 'odd'$'\\n''name'\n");
}

#[test]
fn recursive_removal_matches_rm() {
    let twin = Twin::new();
    twin.compare(&["-r", "tree/a/b", "tree/with space.txt", "tree/empty dir"]);
    twin.compare(&["-r", "tree"]);
    assert!(!twin.side("ours").join("tree").exists());
    // The symlink's target directory was not touched.
    assert!(twin.side("ours").join("outside/precious").exists());
}

#[test]
fn files_without_recursive_match_rm() {
    let twin = Twin::new();
    twin.compare(&[
        "tree/a/small",
        "tree/dangling",
        "tree/a/to-outside",
        "tree/d/sparse",
    ]);
    // A directory without -r is an error, the other operands still go.
    let (ours, _) = twin.compare(&["tree/d", "tree/a/empty"]);
    assert_eq!(ours.status.code(), Some(1));
    assert_said(&ours, "cannot remove 'tree/d': Is a directory");
}

#[test]
fn force_ignores_missing_like_rm() {
    let twin = Twin::new();
    twin.compare(&["-f", "no-such-file", "tree/a/small"]);
    let (ours, _) = twin.compare(&["no-such-file"]);
    assert_said(
        &ours,
        "bale rm: cannot remove 'no-such-file': No such file or directory",
    );
    // Through a file: not a directory, which -f ignores as rm does.
    let (ours, _) = twin.compare(&["tree/with space.txt/x"]);
    assert_said(
        &ours,
        "cannot remove 'tree/with space.txt/x': Not a directory",
    );
    let (ours, _) = twin.compare(&["-f", "tree/with space.txt/x"]);
    assert_eq!(stderr(&ours), "");
    // An empty name is a missing file, not a usage error.
    let (ours, _) = twin.compare(&[""]);
    assert_eq!(ours.status.code(), Some(1));
    assert_said(&ours, "cannot remove '': No such file or directory");
    let (ours, _) = twin.compare(&["-f", ""]);
    assert_eq!(stderr(&ours), "");
    twin.compare(&["-f"]);
    let (ours, _) = twin.compare(&[]);
    assert_eq!(ours.status.code(), Some(1));
    assert_eq!(stderr(&ours), "bale rm: missing operand\n");
}

/// A trailing slash says "directory": a file named so is not removed
/// (`rm -f` says nothing about it, as rm).
#[test]
fn trailing_slash_on_a_non_directory_removes_nothing_like_rm() {
    let twin = Twin::new();
    for args in [
        &["tree/a/small/"][..],
        &["-r", "tree/a/small/"],
        &["tree/dangling/"],
    ] {
        let (ours, _) = twin.compare(args);
        assert_eq!(ours.status.code(), Some(1), "{args:?}");
        let path = args.last().unwrap();
        assert!(
            stderr(&ours).contains(&format!("bale rm: cannot remove '{path}': Not a directory")),
            "{args:?}: {}",
            stderr(&ours)
        );
    }
    let (ours, _) = twin.compare(&["-rf", "tree/a/small/", "tree/dangling/"]);
    assert_eq!(stderr(&ours), "");
    assert!(twin.side("ours").join("tree/a/small").exists());
    // A directory named with a trailing slash goes as usual.
    twin.compare(&["-r", "tree/a/b/"]);
    assert!(!twin.side("ours").join("tree/a/b").exists());
}

/// rm removes an empty directory it cannot list (its own, mode 000 or 300):
/// listing is not needed to remove it. A non-empty one stays, with rm's
/// message.
#[test]
fn unreadable_empty_directories_are_removed_like_rm() {
    use std::os::unix::fs::PermissionsExt;
    support::require_root();
    let t = tempfile::tempdir().unwrap();
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    for side in ["ours", "gnu"] {
        let dir = t.path().join(side);
        for (name, mode) in [("wx", 0o300), ("none", 0o000), ("full", 0o000)] {
            let d = dir.join(name);
            std::fs::create_dir_all(&d).unwrap();
            if name == "full" {
                std::fs::write(d.join("f"), "f").unwrap();
            }
            std::os::unix::fs::chown(&d, Some(TEST_UID), Some(TEST_UID)).unwrap();
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        std::os::unix::fs::chown(&dir, Some(TEST_UID), Some(TEST_UID)).unwrap();
    }
    let as_test_user = |program: &Path, args: &[&str], dir: &Path| {
        Command::new("setpriv")
            .args([
                "--reuid",
                &TEST_UID.to_string(),
                "--regid",
                &TEST_UID.to_string(),
            ])
            .arg("--clear-groups")
            .arg(program)
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap()
    };
    for args in [&["-r", "wx", "full"][..], &["-rf", "none"]] {
        let ours = as_test_user(
            &bale_path(),
            &[&["rm"][..], args].concat(),
            &t.path().join("ours"),
        );
        let gnu = as_test_user(Path::new("rm"), args, &t.path().join("gnu"));
        assert_eq!(
            ours.status.code(),
            gnu.status.code(),
            "{args:?}: {}",
            stderr(&ours)
        );
        assert_eq!(
            listing(&t.path().join("ours")),
            listing(&t.path().join("gnu")),
            "{args:?}"
        );
        if args.contains(&"full") {
            assert_said(&ours, "bale rm: cannot remove 'full': Permission denied");
        }
    }
    let ours = t.path().join("ours");
    assert!(!ours.join("wx").exists() && !ours.join("none").exists());
    assert!(ours.join("full").exists());
    std::fs::set_permissions(ours.join("full"), std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(
        t.path().join("gnu/full"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
}

#[test]
fn symlink_to_directory_is_removed_as_a_link() {
    let twin = Twin::new();
    let ours = twin.side("ours");
    // As an operand, with -r: the link goes, the directory it names stays.
    let out = bale()
        .args(["rm", "-r", "tree/a/to-outside"])
        .current_dir(&ours)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::symlink_metadata(ours.join("tree/a/to-outside")).is_err());
    assert!(ours.join("outside/precious").exists());
    // With a trailing slash rm would follow it; bale never does.
    std::os::unix::fs::symlink(ours.join("outside"), ours.join("tree/l2")).unwrap();
    let out = bale()
        .args(["rm", "-r", "tree/l2/"])
        .current_dir(&ours)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::symlink_metadata(ours.join("tree/l2")).is_err());
    assert!(ours.join("outside/precious").exists());
}

#[test]
fn summary_counts_what_was_removed() {
    let twin = Twin::new();
    let out = bale()
        .args(["rm", "-r", "-s", "tree/a"])
        .current_dir(twin.side("ours"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // a/: small, small-link, empty, b/4k, b/c/big, 300 many-*; dirs a, b, c;
    // one symlink.
    let text = stdout(&out);
    assert!(
        text.starts_with("removed 305 files, 3 directories, 1 symbolic link, 0 other; freed "),
        "{text}"
    );
}

#[test]
fn preserve_root_refuses_root_dot_and_parents_of_cwd() {
    let t = tempfile::tempdir().unwrap();
    let deep = t.path().join("p/q");
    std::fs::create_dir_all(&deep).unwrap();
    for (args, message) in [
        (
            vec!["-rf", "/"],
            "it is dangerous to operate recursively on '/'",
        ),
        (
            vec!["-rf", "."],
            "refusing to remove '.' or '..' directory: skipping '.'",
        ),
        (
            vec!["-rf", ".."],
            "refusing to remove '.' or '..' directory: skipping '..'",
        ),
    ] {
        let out = bale()
            .arg("rm")
            .args(&args)
            .current_dir(&deep)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }
    let parent = t.path().join("p");
    let out = bale()
        .args(["rm", "-rf"])
        .arg(&parent)
        .current_dir(&deep)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_said(&out, "it contains the current directory");
    assert!(deep.exists());
}

#[test]
fn other_file_systems_are_not_crossed() {
    let t = tempfile::tempdir().unwrap();
    let tree = t.path().join("tree");
    let mnt = tree.join("sub/mnt");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("sub/file"), "x").unwrap();
    let _tmpfs = Tmpfs::new(&mnt, "1m");
    std::fs::write(mnt.join("survivor"), "on tmpfs").unwrap();
    let out = bale()
        .args(["rm", "-r", "tree"])
        .current_dir(t.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("skipping 'tree/sub/mnt': on another file system (not crossed)"),
        "{err}"
    );
    assert!(
        err.contains("1 failure: 1 skipped on another file system"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(mnt.join("survivor")).unwrap(),
        "on tmpfs"
    );
    // The rest of the tree went; the directories above the mount stay.
    assert!(!tree.join("sub/file").exists());
    assert!(mnt.exists());
}

/// Drive `bale rm ARGS` in `dir` through a pseudo-terminal.
fn pty(dir: &Path, args: &[&str]) -> rexpect::session::PtySession {
    let mut cmd = Command::new(bale_path());
    cmd.arg("rm").args(args).current_dir(dir);
    rexpect::session::spawn_command(cmd, Some(20_000)).expect("spawn in a pty")
}

fn exit_code(p: &rexpect::session::PtySession) -> i32 {
    match p.process().wait().unwrap() {
        rexpect::process::WaitStatus::Exited(_, code) => code,
        other => panic!("bale rm did not exit normally: {other:?}"),
    }
}

#[test]
fn interactive_i_asks_for_each_entry() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(t.path().join("d/sub")).unwrap();
    std::fs::write(t.path().join("d/keep"), "k").unwrap();
    std::fs::write(t.path().join("d/sub/go"), "").unwrap();
    std::fs::write(t.path().join("lone"), "l").unwrap();
    let mut p = pty(t.path(), &["-r", "-i", "lone", "d"]);
    p.exp_string("bale rm: remove regular file 'lone'? ")
        .unwrap();
    p.send_line("y").unwrap();
    p.exp_string("bale rm: descend into directory 'd'? ")
        .unwrap();
    p.send_line("yes").unwrap();
    // Then, in walk order, "keep" (declined), "sub", "sub/go" — the order of
    // entries within a directory is the file system's, so answer by name.
    let mut asked = Vec::new();
    loop {
        let (_, question) = p
            .exp_regex(r"bale rm: [^\r\n]*'\? ")
            .expect("another question");
        asked.push(question.clone());
        let yes = !question.contains("'d/keep'");
        p.send_line(if yes { "y" } else { "n" }).unwrap();
        if asked.len() == 4 {
            break;
        }
    }
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 0);
    asked.sort();
    assert_eq!(
        asked,
        [
            "bale rm: descend into directory 'd/sub'? ",
            "bale rm: remove directory 'd/sub'? ",
            "bale rm: remove regular empty file 'd/sub/go'? ",
            "bale rm: remove regular file 'd/keep'? ",
        ]
    );
    // "d" itself was never offered: it still holds "keep".
    assert!(!t.path().join("lone").exists());
    assert!(t.path().join("d/keep").exists());
    assert!(!t.path().join("d/sub").exists());
}

#[test]
fn capital_i_asks_once_before_recursive_removal() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(t.path().join("d/e")).unwrap();
    std::fs::write(t.path().join("d/e/f"), "f").unwrap();
    let mut p = pty(t.path(), &["-I", "-r", "d"]);
    p.exp_string("bale rm: remove 1 argument recursively? ")
        .unwrap();
    p.send_line("n").unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 0);
    assert!(t.path().join("d/e/f").exists());

    let mut p = pty(t.path(), &["-r", "--interactive=once", "d"]);
    p.exp_string("bale rm: remove 1 argument recursively? ")
        .unwrap();
    p.send_line("y").unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 0);
    assert!(!t.path().join("d").exists());
}

#[test]
fn capital_i_asks_once_for_more_than_three_files_only() {
    let t = tempfile::tempdir().unwrap();
    for name in ["a", "b", "c", "e"] {
        std::fs::write(t.path().join(name), name).unwrap();
    }
    // Three files: no question at all.
    let mut p = pty(t.path(), &["-I", "a", "b", "c"]);
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 0);
    assert!(!t.path().join("a").exists());
    for name in ["a", "b", "c"] {
        std::fs::write(t.path().join(name), name).unwrap();
    }
    let mut p = pty(t.path(), &["--interactive=once", "a", "b", "c", "e"]);
    p.exp_string("bale rm: remove 4 arguments? ").unwrap();
    p.send_line("y").unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 0);
    assert!(!t.path().join("e").exists());
}

#[test]
fn write_protected_files_are_asked_about_like_rm() {
    use std::os::unix::fs::PermissionsExt;
    assert!(
        is_root(),
        "this test runs bale as an unprivileged user via setpriv and must run as root (CI runs as root); it was not run"
    );
    let t = tempfile::tempdir().unwrap();
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    for (name, mode) in [("ro", 0o444), ("rw", 0o666), ("ro2", 0o444)] {
        let p = t.path().join(name);
        std::fs::write(&p, name).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let as_nobody = |args: &[&str]| {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(bale_path())
            .arg("rm")
            .args(args)
            .current_dir(t.path());
        rexpect::session::spawn_command(cmd, Some(20_000)).expect("spawn in a pty")
    };
    // Files root owns are write-protected for nobody unless world-writable.
    let mut p = as_nobody(&["ro", "rw"]);
    p.exp_string("bale rm: remove write-protected regular file 'ro'? ")
        .unwrap();
    p.send_line("n").unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 0);
    assert!(t.path().join("ro").exists());
    assert!(!t.path().join("rw").exists());
    // A signal at the question (the progress display is on: stderr is a
    // terminal) ends it at once.
    let mut p = as_nobody(&["ro"]);
    p.exp_string("bale rm: remove write-protected regular file 'ro'? ")
        .unwrap();
    p.send_control('c').unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 130);
    assert!(t.path().join("ro").exists());
    // -f never asks.
    let mut p = as_nobody(&["-f", "ro", "ro2"]);
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 0);
    assert!(!t.path().join("ro").exists());
    assert!(!t.path().join("ro2").exists());
}

/// A signal while a question waits for its answer ends bale at once, as
/// it ends rm, with 128 + the signal; nothing more is removed.
#[test]
fn a_signal_at_a_question_ends_at_once() {
    use rexpect::process::Signal;
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(t.path().join("d/e")).unwrap();
    std::fs::write(t.path().join("d/e/f"), "f").unwrap();
    std::fs::write(t.path().join("x"), "x").unwrap();
    for (args, question, signal, code) in [
        (&["-i", "x"][..], "remove regular file 'x'? ", None, 130),
        (
            &["-I", "-r", "d"],
            "remove 1 argument recursively? ",
            Some(Signal::SIGTERM),
            143,
        ),
        (
            &["-ri", "d"],
            "descend into directory 'd'? ",
            Some(Signal::SIGINT),
            130,
        ),
    ] {
        let mut cmd = Command::new(bale_path());
        cmd.arg("rm").args(args).current_dir(t.path());
        // Without the answer it would wait for ever: a short timeout.
        let mut p = rexpect::session::spawn_command(cmd, Some(5_000)).expect("spawn in a pty");
        p.exp_string(&format!("bale rm: {question}")).unwrap();
        match signal {
            // Ctrl-C on the terminal.
            None => p.send_control('c').unwrap(),
            Some(signal) => p.process_mut().signal(signal).unwrap(),
        }
        p.exp_eof()
            .unwrap_or_else(|e| panic!("{args:?}: no exit after the signal: {e}"));
        assert_eq!(exit_code(&p), code, "{args:?}");
    }
    assert!(t.path().join("x").exists());
    assert!(t.path().join("d/e/f").exists());
}

#[test]
fn force_after_interactive_wins_like_rm() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("x"), "x").unwrap();
    // -i then -f: no question (the last one wins, as in rm).
    let mut p = pty(t.path(), &["-i", "-f", "x"]);
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 0);
    assert!(!t.path().join("x").exists());
}

/// A tree deeper than the limit on open files is removed whole, in one
/// run (it used to fail with "Too many open files", and every rerun again).
#[test]
fn trees_deeper_than_the_open_file_limit_are_removed() {
    let t = tempfile::tempdir().unwrap();
    for jobs in ["1", "8"] {
        support::gentle_tree::deep_tree(&t.path().join("deep"), 1500);
        let mut cmd = Command::new(bale_path());
        cmd.args(["rm", "-r", "-j", jobs, "deep"])
            .current_dir(t.path());
        support::gentle_tree::limit_open_files(&mut cmd, 128);
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(0), "-j {jobs}: {}", stderr(&out));
        assert!(!t.path().join("deep").exists(), "-j {jobs}");
    }
}

#[test]
fn unlink_rate_report_counts_every_removal() {
    let twin = Twin::new();
    let ours = twin.side("ours");
    let entries = listing(&ours.join("tree")).len();
    let out = bale()
        .args(["rm", "-r", "-R", "-U", "100000", "tree"])
        .current_dir(&ours)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("] unlink: {entries} calls over ")),
        "expected {entries} unlink calls: {}",
        stderr(&out)
    );
}
