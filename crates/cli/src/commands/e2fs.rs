//! Running e2fsprogs (`mke2fs`, `e2fsck`, `resize2fs`, `e2undo`) with an
//! explicit argv and a clean environment; a failure is one line with the
//! tool's own last words.

use anyhow::bail;
use std::ffi::OsStr;
use std::process::Command;

/// Runs `tool args…`; `what` names the file in errors.
pub fn run(tool: &str, args: &[&OsStr], what: &std::path::Path) -> anyhow::Result<()> {
    let out = Command::new(tool)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LC_ALL", "C")
        .output()
        .map_err(|e| {
            anyhow::anyhow!(
                "{}: cannot run {tool}: {e} (install e2fsprogs)",
                what.display()
            )
        })?;
    // e2fsck: 1 = errors corrected, which is fine before a resize.
    let ok = out.status.success() || (tool == "e2fsck" && out.status.code() == Some(1));
    if !ok {
        bail!(
            "{}: {tool}: {}",
            what.display(),
            last_words(tool, &out.stderr)
        );
    }
    Ok(())
}

/// The line of `stderr` that says what went wrong: the last one the tool
/// signed (`resize2fs: No space left on device while …`, followed by
/// advice lines), else the last non-empty one.
fn last_words(tool: &str, stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let signature = format!("{tool}: ");
    let lines = || text.lines().rev().map(str::trim).filter(|l| !l.is_empty());
    let signed = lines().find_map(|l| l.strip_prefix(&signature));
    signed
        .or_else(|| lines().next())
        .unwrap_or("failed")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::last_words;

    #[test]
    fn the_signed_line_wins_over_advice_after_it() {
        let stderr = b"Resizing the filesystem on a.img to 4194304 (1k) blocks.\n\
resize2fs: No space left on device while trying to resize a.img\n\
Please run 'e2fsck -fy a.img' to fix the filesystem\n\
after the aborted resize operation.\n";
        assert_eq!(
            last_words("resize2fs", stderr),
            "No space left on device while trying to resize a.img"
        );
    }

    #[test]
    fn without_a_signed_line_the_last_line_is_taken() {
        assert_eq!(last_words("e2fsck", b"one\n  two  \n\n"), "two");
        assert_eq!(last_words("e2fsck", b""), "failed");
    }
}
