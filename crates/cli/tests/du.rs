//! `bale du` against GNU `du -s`: allocated and apparent sizes, kibibytes,
//! human-readable sizes and inode counts on a tree with hard links, sparse
//! files and symlinks; errors; the rate report and SIGUSR1.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use support::gentle_tree::{listing, make_tree};
use support::{bale, bale_path, run_in, stderr, stdout};

fn tree() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    make_tree(&t.path().join("tree"), &t.path().join("outside"));
    t
}

/// The outputs of `bale du ARGS PATHS` and `du DU_ARGS PATHS`, run in `dir`.
fn both(dir: &Path, bale_args: &[&str], du_args: &[&str], paths: &[&str]) -> (String, String) {
    let ours = bale()
        .arg("du")
        .args(bale_args)
        .args(paths)
        .current_dir(dir)
        .output()
        .unwrap();
    let du: Vec<&str> = du_args.iter().chain(paths).copied().collect();
    let theirs = run_in("du", &du, dir);
    assert!(theirs.status.success(), "du failed: {}", stderr(&theirs));
    assert!(ours.status.success(), "bale du failed: {}", stderr(&ours));
    (stdout(&ours), stdout(&theirs))
}

/// `bale du ARGS PATHS` and `du DU_ARGS PATHS` print the same, run in `dir`.
fn assert_same(dir: &Path, bale_args: &[&str], du_args: &[&str], paths: &[&str]) {
    let (ours, theirs) = both(dir, bale_args, du_args, paths);
    assert_eq!(
        ours, theirs,
        "bale du {bale_args:?} vs du {du_args:?} on {paths:?}"
    );
}

/// Like [`assert_same`] for a breakdown (`-d`, `-a`): the same lines, in
/// an order of bale's own (the walk is parallel) that still reports every
/// entry before the directories that contain it, as du does.
fn assert_same_breakdown(dir: &Path, args: &[&str], paths: &[&str]) {
    let (ours, theirs) = both(dir, args, args, paths);
    let sorted = |s: &str| {
        let mut lines: Vec<String> = s.lines().map(String::from).collect();
        lines.sort();
        lines
    };
    assert_eq!(sorted(&ours), sorted(&theirs), "{args:?} on {paths:?}");
    assert_children_first(&ours);
}

/// No line's path lies inside the path of an earlier line.
fn assert_children_first(output: &str) {
    let paths: Vec<&Path> = output
        .lines()
        .map(|l| Path::new(l.split_once('\t').unwrap().1))
        .collect();
    for (i, earlier) in paths.iter().enumerate() {
        for later in &paths[i + 1..] {
            assert!(
                !(later != earlier && later.starts_with(earlier)),
                "{} printed after {}:\n{output}",
                later.display(),
                earlier.display()
            );
        }
    }
}

#[test]
fn allocated_size_matches_du() {
    let t = tree();
    assert_same(t.path(), &[], &["-s"], &["tree"]);
    assert_same(t.path(), &["-s"], &["-s"], &["tree"]);
    assert_same(t.path(), &["-k"], &["-sk"], &["tree", "outside"]);
}

#[test]
fn apparent_size_matches_du() {
    let t = tree();
    assert_same(
        t.path(),
        &["--apparent-size"],
        &["-s", "--apparent-size"],
        &["tree"],
    );
    assert_same(
        t.path(),
        &["--apparent-size", "-k"],
        &["-sk", "--apparent-size"],
        &["tree/d", "tree/a"],
    );
}

#[test]
fn human_readable_matches_du() {
    let t = tree();
    // -h as in du (help is --help); -H is accepted too.
    assert_same(
        t.path(),
        &["-sh"],
        &["-sh"],
        &["tree", "tree/a/b", "tree/d/sparse"],
    );
    assert_same(
        t.path(),
        &["-H", "--apparent-size"],
        &["-sh", "--apparent-size"],
        &["tree/d", "tree/a/b/c"],
    );
}

#[test]
fn bytes_and_grand_total_match_du() {
    let t = tree();
    assert_same(t.path(), &["-b"], &["-sb"], &["tree", "tree/d/sparse"]);
    assert_same(
        t.path(),
        &["-c"],
        &["-sc"],
        &["tree/a", "tree/d", "outside", "tree/a/b"],
    );
    assert_same(t.path(), &["-bc"], &["-sbc"], &["tree/d", "outside"]);
    assert_same(
        t.path(),
        &["-hc", "--inodes"],
        &["-sc", "--inodes"],
        &["tree", "outside"],
    );
}

#[test]
fn one_file_system_leaves_out_mounts_silently_like_du() {
    support::require_root();
    let t = tree();
    let mnt = t.path().join("tree/mnt");
    let tmpfs = support::Tmpfs::new(&mnt, "4M");
    std::fs::write(tmpfs.dir.join("data"), vec![1u8; 500_000]).unwrap();
    assert_same(t.path(), &["-x"], &["-sx"], &["tree"]);
    assert_same(t.path(), &[], &["-s"], &["tree"]);
}

/// As in du, the last of -b, -k and -h says the units; -b also means
/// apparent sizes wherever it comes.
#[test]
fn last_size_flag_wins_like_du() {
    let t = tree();
    for flags in [
        "-bh", "-hb", "-bk", "-kb", "-hk", "-kh", "-khb", "-bhk", "-kk",
    ] {
        let du_flags = format!("-s{}", &flags[1..]);
        assert_same(t.path(), &[flags], &[&du_flags], &["tree", "tree/d"]);
    }
}

/// du only warns that sizes options mean nothing when counting inodes.
#[test]
fn size_options_with_inodes_warn_like_du() {
    let t = tree();
    for flag in ["-b", "--apparent-size"] {
        let out = bale()
            .args(["du", "--inodes", flag, "tree"])
            .current_dir(t.path())
            .output()
            .unwrap();
        let gnu = run_in("du", &["-s", "--inodes", flag, "tree"], t.path());
        assert_eq!(out.status.code(), Some(0), "{flag}: {}", stderr(&out));
        assert_eq!(stdout(&out), stdout(&gnu), "{flag}");
        assert_eq!(
            stderr(&out),
            stderr(&gnu).replacen("du:", "bale du:", 1),
            "{flag}"
        );
    }
}

/// Names are printed byte for byte, as du does, not made valid UTF-8.
#[test]
fn names_that_are_not_utf8_are_printed_as_they_are() {
    use std::os::unix::ffi::OsStrExt;
    let t = tempfile::tempdir().unwrap();
    let odd = std::ffi::OsStr::from_bytes(b"caf\xe9");
    std::fs::create_dir_all(t.path().join("w").join(odd)).unwrap();
    std::fs::write(t.path().join("w").join(odd).join("f"), "x").unwrap();
    let lines = |out: &[u8]| {
        let mut lines: Vec<Vec<u8>> = out.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
        lines.sort();
        lines
    };
    let ours = bale()
        .args(["du", "-a", "w"])
        .current_dir(t.path())
        .output()
        .unwrap();
    let gnu = run_in("du", &["-a", "w"], t.path());
    assert!(ours.status.success(), "{}", stderr(&ours));
    assert_eq!(lines(&ours.stdout), lines(&gnu.stdout));
    assert!(ours.stdout.windows(4).any(|w| w == b"caf\xe9"));
}

/// `-v` breaks the count down in words, singular for one.
#[test]
fn verbose_breakdown_counts_in_words() {
    let t = tree();
    let out = bale()
        .args(["du", "-v", "outside"])
        .current_dir(t.path())
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("outside: 1 file, 1 directory, 0 symbolic links, 0 other; "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn inode_counts_match_du() {
    let t = tree();
    assert_same(
        t.path(),
        &["--inodes"],
        &["-s", "--inodes"],
        &["tree", "outside"],
    );
}

#[test]
fn hard_links_count_once_across_paths_like_du() {
    let t = tree();
    // d/big-link is a second link to a/b/c/big: whichever path comes first
    // is charged, and the other path's total shrinks accordingly.
    assert_same(t.path(), &[], &["-s"], &["tree/a", "tree/d"]);
    assert_same(t.path(), &[], &["-s"], &["tree/d", "tree/a"]);
    assert_same(
        t.path(),
        &["--apparent-size"],
        &["-s", "--apparent-size"],
        &["tree/d", "tree/a"],
    );
    // A path inside one already measured is not printed again.
    assert_same(t.path(), &[], &["-s"], &["tree", "tree/a"]);
    let out = bale()
        .args(["du", "tree", "tree/a"])
        .current_dir(t.path())
        .output()
        .unwrap();
    assert_eq!(stdout(&out).lines().count(), 1);
}

#[test]
fn max_depth_and_all_match_du() {
    let t = tree();
    // tree/a holds a hard-linked pair in one directory; tree/a/b none.
    assert_same_breakdown(t.path(), &["-d1"], &["tree/a"]);
    assert_same_breakdown(t.path(), &["--max-depth=2", "--apparent-size"], &["tree/a"]);
    assert_same_breakdown(t.path(), &["-a"], &["tree/a/b"]);
    assert_same_breakdown(t.path(), &["-a", "-d1", "--inodes"], &["tree/a/b"]);
    // d/big-link is charged to a/b/c/big measured first, and not listed.
    assert_same_breakdown(t.path(), &["-ab"], &["tree/a/b", "tree/d"]);
    assert_same_breakdown(t.path(), &["-d", "1", "-c"], &["tree/a/b", "tree/d"]);
    // Depth 0 is -s.
    assert_same(t.path(), &["-d0"], &["-s"], &["tree"]);
}

#[test]
fn breakdown_charges_each_hard_link_once_in_walk_order() {
    let t = tree();
    // a/b/c/big and d/big-link are one inode in sibling directories: which
    // one is charged depends on the order of the walk (for du, of
    // readdir), but it is charged exactly once and the path's total is
    // du's.
    let (ours, theirs) = both(t.path(), &["-d1"], &["-d1"], &["tree"]);
    let sum = |s: &str| -> (u64, Option<String>) {
        let mut sum = 0;
        let mut top = None;
        for (size, path) in s.lines().map(|l| l.split_once('\t').unwrap()) {
            if path == "tree" {
                top = Some(size.to_string());
            } else {
                sum += size.parse::<u64>().unwrap();
            }
        }
        (sum, top)
    };
    assert_eq!(sum(&ours), sum(&theirs), "ours:\n{ours}\ndu:\n{theirs}");
    assert_children_first(&ours);
}

#[test]
fn summarize_conflicts_with_a_breakdown() {
    for (extra, says) in [
        ("-d1", "--summarize conflicts with --max-depth"),
        ("-a", "cannot be used with"),
    ] {
        let out = bale().args(["du", "-s", extra, "."]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
        assert!(out.stdout.is_empty());
    }
    // As du, -s goes with a depth of 0.
    let t = tree();
    assert_same(t.path(), &["-s", "-d0"], &["-s", "-d0"], &["tree"]);
}

#[test]
fn sparse_files_use_less_than_their_length() {
    let t = tree();
    let alloc = bale()
        .args(["du", "-k", "tree/d/hole"])
        .current_dir(t.path())
        .output()
        .unwrap();
    let apparent = bale()
        .args(["du", "-k", "--apparent-size", "tree/d/hole"])
        .current_dir(t.path())
        .output()
        .unwrap();
    assert_eq!(stdout(&alloc), "0\ttree/d/hole\n");
    assert_eq!(stdout(&apparent), "5120\ttree/d/hole\n");
}

#[test]
fn symlinks_are_not_followed() {
    let t = tree();
    // tree/a/to-outside points at a directory; du counts the link only.
    assert_same(t.path(), &[], &["-s"], &["tree/a/to-outside"]);
    assert_same(t.path(), &["--inodes"], &["-s", "--inodes"], &["tree/a"]);
}

/// A trailing slash (or `/.`) says "the directory": a symlink to one is
/// followed, as du (and POSIX path resolution) does; anything else is not a
/// directory.
#[test]
fn trailing_slash_resolves_like_du() {
    let t = tree();
    assert_same(
        t.path(),
        &[],
        &["-s"],
        &[
            "tree/a/to-outside",
            "tree/a/to-outside/",
            "tree/a/to-outside/.",
        ],
    );
    assert_same(t.path(), &["-s"], &["-s"], &["tree/a/to-outside/."]);
    assert_same_breakdown(t.path(), &["-a"], &["tree/a/b/"]);
    for (path, reason) in [
        ("tree/a/small/", "Not a directory"),
        ("tree/dangling/", "No such file or directory"),
    ] {
        let out = bale()
            .args(["du", "-s", path])
            .current_dir(t.path())
            .output()
            .unwrap();
        let gnu = run_in("du", &["-s", path], t.path());
        assert_eq!(out.status.code(), Some(1), "{path}");
        assert_eq!(gnu.status.code(), Some(1), "{path}");
        assert!(
            stderr(&out).contains(&format!("bale du: cannot access '{path}': {reason}")),
            "{path}: {}",
            stderr(&out)
        );
        assert_eq!(stdout(&out), "", "{path}");
    }
}

/// A tree deeper than the limit on open files is measured whole, as du
/// measures it: directories give up their descriptors beyond a budget.
#[test]
fn trees_deeper_than_the_open_file_limit_match_du() {
    let t = tempfile::tempdir().unwrap();
    support::gentle_tree::deep_tree(&t.path().join("deep"), 1500);
    for args in [&["-s"][..], &["-s", "--inodes"], &["-s", "-j", "1"]] {
        let mut cmd = Command::new(bale_path());
        cmd.arg("du").args(args).arg("deep").current_dir(t.path());
        support::gentle_tree::limit_open_files(&mut cmd, 128);
        let ours = cmd.output().unwrap();
        assert_eq!(ours.status.code(), Some(0), "{args:?}: {}", stderr(&ours));
        let du_args: Vec<&str> = args
            .iter()
            .copied()
            .filter(|a| !["-j", "1"].contains(a))
            .collect();
        let gnu = run_in("du", &[&du_args[..], &["deep"]].concat(), t.path());
        assert_eq!(stdout(&ours), stdout(&gnu), "{args:?}");
    }
    let out = bale()
        .args(["rm", "-r", "deep"])
        .current_dir(t.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn single_worker_and_many_workers_agree() {
    let t = tree();
    let one = bale()
        .args(["du", "-j", "1", "tree"])
        .current_dir(t.path())
        .output()
        .unwrap();
    let many = bale()
        .args(["du", "-j", "32", "tree"])
        .current_dir(t.path())
        .output()
        .unwrap();
    assert_eq!(stdout(&one), stdout(&many));
}

#[test]
fn missing_path_is_reported_and_others_still_measured() {
    let t = tree();
    let out = bale()
        .args(["du", "nope", "tree/a/b/c"])
        .current_dir(t.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("bale du: cannot access 'nope': No such file or directory"),
        "{err}"
    );
    assert!(
        err.contains("1 failure: 1 No such file or directory"),
        "{err}"
    );
    let du = run_in("du", &["-s", "tree/a/b/c"], t.path());
    assert_eq!(stdout(&out), stdout(&du));
}

#[test]
fn quiet_hides_error_lines_but_not_the_summary_or_status() {
    let t = tree();
    let out = bale()
        .args(["du", "-q", "nope", "tree/a/b/c"])
        .current_dir(t.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "bale du: 1 failure: 1 No such file or directory\n"
    );
    assert!(stdout(&out).ends_with("\ttree/a/b/c\n"));
}

#[test]
fn unreadable_directory_is_reported_and_the_walk_continues() {
    use std::os::unix::fs::PermissionsExt;
    let t = tree();
    let locked = t.path().join("tree/a/b/c");
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    // Root reads everything: drop to an unprivileged user when root.
    let mut cmd = if support::is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
        c.arg(bale_path());
        c
    } else {
        Command::new(bale_path())
    };
    let out = cmd
        .args(["du", "tree"])
        .current_dir(t.path())
        .output()
        .unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("cannot open directory 'tree/a/b/c': Permission denied"),
        "{err}"
    );
    assert!(err.contains("1 failure: 1 Permission denied"), "{err}");
    // Everything else was still counted: the total is printed.
    assert!(stdout(&out).ends_with("\ttree\n"), "{}", stdout(&out));
}

#[test]
fn rate_report_counts_every_stat() {
    let t = tree();
    let entries = listing(&t.path().join("tree")).len();
    let out = bale()
        .args(["du", "-R", "-S", "100000", "tree"])
        .current_dir(t.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&format!("] stat: {entries} calls over ")),
        "expected {entries} stat calls: {err}"
    );
    assert!(err.contains(" calls/sec)"), "{err}");
}

/// A bad rate is a usage error like any other: clap's format, status 2.
#[test]
fn bad_rate_is_a_clear_error() {
    for (args, shown) in [
        (
            &["du", "--stat-limit=-5"][..],
            "'-5' for '--stat-limit <RATE>': invalid rate -5",
        ),
        (
            &["du", "-S", "-1"],
            "'-1' for '--stat-limit <RATE>': invalid rate -1",
        ),
        (
            &["rm", "-U", "0.0005"],
            "'0.0005' for '--unlink-limit <RATE>': invalid rate 5e-4",
        ),
        (
            &["rm", "-S", "1e10"],
            "'1e10' for '--stat-limit <RATE>': invalid rate 1e10",
        ),
    ] {
        let out = bale().args(args).arg("no-such-path").output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).starts_with(&format!(
                "error: invalid value {shown}: expected calls per second from 0.001 to 1e9 (0: no limit)\n"
            )),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    // Rates too slow or too fast for the clock: the same line, no panic.
    for rate in ["1e-20", "1e-19", "99999999999999999999"] {
        let out = bale().args(["du", "-S", rate, "."]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{rate}: {}", stderr(&out));
        assert!(stderr(&out).contains("invalid rate"), "{}", stderr(&out));
    }
    let out = bale().args(["du", "-S", "nan", "."]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("invalid rate NaN"),
        "{}",
        stderr(&out)
    );
    let out = bale().args(["du", "-S", "fast", "."]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("invalid value 'fast'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn version_and_help_flags() {
    let v = bale().args(["du", "-V"]).output().unwrap();
    assert!(v.status.success());
    assert!(stdout(&v).contains(env!("CARGO_PKG_VERSION")));
    let h = bale().args(["du", "--help"]).output().unwrap();
    assert!(stdout(&h).contains("--stat-limit"));
    let h = bale().args(["rm", "--help"]).output().unwrap();
    assert!(stdout(&h).contains("--unlink-limit"));
}

/// SIGUSR1 prints the rates and the walk goes on; SIGINT then stops it
/// cleanly with a summary, no total (it would be a partial one) and status
/// 130.
#[test]
fn sigusr1_reports_rates_and_sigint_stops_cleanly() {
    let t = tempfile::tempdir().unwrap();
    let tree = t.path().join("big");
    std::fs::create_dir(&tree).unwrap();
    for i in 0..2000 {
        std::fs::write(tree.join(format!("f{i}")), b"").unwrap();
    }
    // 2000 entries at 100 stat/s: 20 s if left alone.
    let mut child = Command::new(bale_path())
        .args(["du", "-v", "-c", "-S", "100", "big"])
        .current_dir(t.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut next_line = || lines.next().expect("stderr closed early").unwrap();
    // Signal handlers are installed before this line is printed.
    while !next_line().contains("walking with") {}
    // SAFETY: sending a signal to our own child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGUSR1) }, 0);
    let report = loop {
        let line = next_line();
        if line.contains("] stat: ") {
            break line;
        }
    };
    assert!(report.starts_with('['), "{report}");
    assert!(
        report.contains(" calls over ") && report.ends_with(" calls/sec)"),
        "{report}"
    );
    // The walk is still going; now interrupt it.
    assert!(
        child.try_wait().unwrap().is_none(),
        "bale du ended before SIGINT"
    );
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let rest: Vec<String> = std::iter::from_fn(|| lines.next().map(|l| l.unwrap())).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{rest:?}");
    let mut printed = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut printed)
        .unwrap();
    assert_eq!(printed, "", "a partial total looks like a real one");
    let rest = rest.join("\n");
    assert!(rest.contains("bale du: interrupted after "), "{rest}");
}

/// When the reader of the output goes away (`| head -1`), du ends at once
/// as if killed by SIGPIPE, as du does, instead of walking on for nobody.
#[test]
fn a_closed_output_ends_the_walk() {
    let t = tempfile::tempdir().unwrap();
    for i in 0..2000 {
        std::fs::write(t.path().join(format!("f{i}")), b"").unwrap();
    }
    // 2000 entries at 200 stat/s: ten seconds if it walked on.
    let mut child = Command::new(bale_path())
        .args(["du", "-a", "-S", "200", "."])
        .current_dir(t.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("\t./f"), "{first}");
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > std::time::Duration::from_secs(3) {
            child.kill().unwrap();
            panic!("bale du went on walking after its reader went away");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(141));
}

#[test]
fn silent_on_stderr_when_not_a_terminal() {
    let t = tree();
    let out = bale()
        .args(["du", "tree"])
        .current_dir(t.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(stderr(&out), "");
}

#[test]
fn progress_line_on_a_terminal() {
    let t = tempfile::tempdir().unwrap();
    for i in 0..600 {
        std::fs::write(t.path().join(format!("f{i}")), b"").unwrap();
    }
    // 600 entries at 200 stat/s: three seconds of walking to watch.
    let mut cmd = Command::new(bale_path());
    cmd.args(["du", "-S", "200", "."]).current_dir(t.path());
    let mut p = rexpect::session::spawn_command(cmd, Some(20_000)).expect("spawn in a pty");
    let (_, line) = p.exp_regex(r"[1-9]\d* entries, \d+ stat/s").unwrap();
    assert!(line.contains("entries"), "{line}");
    p.exp_string("\t.").unwrap();
    p.exp_eof().unwrap();
}
