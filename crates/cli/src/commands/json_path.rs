//! Paths in `--json` output. A path is any bytes but JSON text is Unicode,
//! and serde fails on the first path that is not UTF-8: one user's mount
//! point named so would break `bale list --json` for everyone. Such a path
//! is given lossily instead, each byte that is not UTF-8 as U+FFFD; the
//! human output names it exactly (quoted as a shell needs it).

use serde_json::Value;
use std::path::Path;

/// `path` as a JSON string, lossy where it is not UTF-8.
pub fn path(path: &Path) -> Value {
    Value::String(path.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn a_path_that_is_not_utf8_is_still_a_string() {
        let raw = Path::new(std::ffi::OsStr::from_bytes(b"/u/m\xfe\n"));
        assert_eq!(path(raw), Value::String("/u/m\u{fffd}\n".into()));
        assert_eq!(path(Path::new("/u/a b")), Value::String("/u/a b".into()));
    }
}
