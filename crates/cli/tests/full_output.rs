//! Standard output that cannot be written (`> /dev/full`) makes every
//! command fail in one line blaming the output — no panic, no exit 0 with
//! the output lost — and a closed pipe ends a command quietly.

mod support;

use std::process::{Command, Stdio};
use support::bale_path;

/// `bale ARGS > /dev/full`: its exit code and stderr.
fn into_full_output(args: &[&str]) -> (Option<i32>, String) {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = Command::new(bale_path())
        .args(args)
        .stdout(full)
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn every_command_that_prints_fails_on_a_full_output() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("data"), vec![7u8; 300_000]).unwrap();
    let image = dir.path().join("img.sqfs");
    support::pack(&src, &image, &[]);
    let image = image.to_str().unwrap();
    let full = "bale: standard output: No space left on device\n";
    for args in [
        vec!["ls", image],
        vec!["ls", "-lR", image],
        vec!["info", image],
        vec!["cat", image, "data"],
        vec!["lock-status", image],
        vec!["config"],
        vec!["modulefile", "--lmod"],
        vec!["generate", "complete-bash"],
    ] {
        let (code, err) = into_full_output(&args);
        assert_eq!((code, err.as_str()), (Some(1), full), "{args:?}");
    }
    let (code, err) = into_full_output(&["du", "-s", src.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.starts_with("bale du: standard output: No space left on device\n"),
        "{err}"
    );
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    for i in 0..5000 {
        std::fs::write(src.join(format!("f{i}")), "x").unwrap();
    }
    let image = dir.path().join("img.sqfs");
    support::pack(&src, &image, &[]);
    let mut ls = Command::new(bale_path())
        .arg("ls")
        .arg(&image)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before reading anything.
    drop(ls.stdout.take());
    let out = ls.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}
