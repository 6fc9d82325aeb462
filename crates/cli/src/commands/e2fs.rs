//! Running e2fsprogs (`mke2fs`, `e2fsck`, `resize2fs`) with an explicit argv
//! and a clean environment; a failure is one line with the tool's own
//! last words.

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
        let text = String::from_utf8_lossy(&out.stderr);
        let last = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("failed");
        let last = last.trim();
        let last = last.strip_prefix(&format!("{tool}: ")).unwrap_or(last);
        bail!("{}: {tool}: {last}", what.display());
    }
    Ok(())
}
