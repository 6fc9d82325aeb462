//! `bale generate`: the bash completion completes subcommands and options
//! in a real bash, the manual pages render with groff (which must be
//! installed) and cover every subcommand, and misuse is one line.

mod support;

use std::process::Command;
use support::{bale, ok};

/// What bash completes for the words of `line` (the last one being typed),
/// with the generated completion script loaded.
fn bash_completes(line: &[&str]) -> Vec<String> {
    let script = bale().args(["generate", "complete-bash"]).output().unwrap();
    assert!(script.status.success());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bale.bash");
    std::fs::write(&file, &script.stdout).unwrap();
    let words = line.join(" ");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD={}; COMP_LINE='{words}'; \
             COMP_POINT=${{#COMP_LINE}}; _bale bale \"${{COMP_WORDS[COMP_CWORD]}}\" \
             \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            file.display(),
            line.len() - 1
        ))
        .output()
        .unwrap();
    ok(out).lines().map(str::to_string).collect()
}

#[test]
fn bash_completes_subcommands_and_their_options() {
    assert_eq!(bash_completes(&["bale", "pa"]), ["pack"]);
    assert_eq!(
        bash_completes(&["bale", "umount"]),
        ["umount", "umount-all"]
    );
    assert_eq!(
        bash_completes(&["bale", "pack", "--compr"]),
        ["--compression"]
    );
    assert_eq!(
        bash_completes(&["bale", "pack", "--compression", "l"]),
        ["lz4"]
    );
}

#[test]
fn zsh_and_fish_completions_name_the_subcommands() {
    for (what, first) in [("complete-zsh", "#compdef bale"), ("complete-fish", "")] {
        let out = bale().args(["generate", what]).output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.starts_with(first), "{what}");
        for sub in ["pack", "mount", "umount-all", "lock-status"] {
            assert!(text.contains(sub), "{what} lacks {sub}");
        }
    }
}

/// The subcommands `bale --help` lists.
fn subcommands() -> Vec<String> {
    let help = bale().arg("--help").output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    help.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .filter(|name| name != "help")
        .collect()
}

#[test]
fn manual_pages_cover_every_subcommand_and_render() {
    let dir = tempfile::tempdir().unwrap();
    bale()
        .args(["generate", "man"])
        .arg(dir.path())
        .assert()
        .success();
    let subs = subcommands();
    assert!(subs.len() > 20, "{subs:?}");
    for sub in &subs {
        assert!(
            dir.path().join(format!("bale-{sub}.1")).is_file(),
            "no page for {sub}"
        );
    }
    let out = Command::new("groff")
        .args(["-man", "-Tascii", "-P-bcou"])
        .arg(dir.path().join("bale-pack.1"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("--exclude-from"), "{text}");
    assert!(text.contains("Possible values:"), "{text}");
    let top = std::fs::read_to_string(dir.path().join("bale.1")).unwrap();
    assert!(top.contains("bale\\-lock\\-status(1)"), "{top}");
}

#[test]
fn misuse_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    for (args, says) in [
        (vec!["man".to_string()], "name the directory".to_string()),
        (
            vec!["man".to_string(), missing.display().to_string()],
            format!("{}: not a directory", missing.display()),
        ),
        (
            vec![
                "complete-bash".to_string(),
                dir.path().display().to_string(),
            ],
            "redirect them".to_string(),
        ),
    ] {
        let out = bale().arg("generate").args(&args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(&says), "{args:?}: {err}");
    }
}
