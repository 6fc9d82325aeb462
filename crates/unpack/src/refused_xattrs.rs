//! Extended attributes an extraction cannot restore: `trusted.*` and
//! `security.capability` need root, Linux allows no `user.*` on symlinks,
//! some file systems take no attributes at all and others only small ones
//! (ext4 without `ea_inode`: one block for all of a file's). Like unsquashfs, the extraction goes on without them
//! and says once per namespace and reason how many were left out, instead
//! of failing over an attribute (or printing a line per file).

use rustix::io::Errno;
use std::collections::BTreeMap;
use std::sync::Mutex;

pub struct RefusedXattrs {
    as_root: bool,
    /// (namespace, reason) → count.
    counts: Mutex<BTreeMap<(String, &'static str), u64>>,
}

impl RefusedXattrs {
    pub fn new(as_root: bool) -> RefusedXattrs {
        RefusedXattrs {
            as_root,
            counts: Mutex::new(BTreeMap::new()),
        }
    }

    /// The outcome of setting the attribute `name` (on a symlink when
    /// `on_symlink`): a refusal by permission or by the file system is
    /// counted and set aside; any other error stays one.
    pub fn check(
        &self,
        name: &[u8],
        on_symlink: bool,
        set: rustix::io::Result<()>,
    ) -> rustix::io::Result<()> {
        let reason = match set {
            Err(Errno::PERM) if on_symlink && name.starts_with(b"user.") => {
                "not allowed on symlinks"
            }
            Err(Errno::PERM) if self.as_root => "not permitted",
            Err(Errno::PERM) => "needs root",
            Err(Errno::NOTSUP) => "not supported by the destination file system",
            Err(Errno::TOOBIG | Errno::NOSPC | Errno::RANGE) => {
                "too large for the destination file system"
            }
            other => return other,
        };
        let end = name.iter().position(|&b| b == b'.').unwrap_or(name.len());
        let namespace = String::from_utf8_lossy(&name[..end]).into_owned();
        *self
            .counts
            .lock()
            .unwrap()
            .entry((namespace, reason))
            .or_default() += 1;
        Ok(())
    }

    /// One line per namespace and reason, e.g. `2 extended attributes
    /// trusted.* (needs root)`.
    pub fn summary(self) -> Vec<String> {
        self.counts
            .into_inner()
            .unwrap()
            .into_iter()
            .map(|((namespace, reason), n)| {
                let noun = if n == 1 { "attribute" } else { "attributes" };
                format!("{n} extended {noun} {namespace}.* ({reason})")
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_counted_per_namespace_and_other_errors_kept() {
        let user = RefusedXattrs::new(false);
        assert!(user.check(b"trusted.a", false, Err(Errno::PERM)).is_ok());
        assert!(user.check(b"trusted.b", true, Err(Errno::PERM)).is_ok());
        assert!(user.check(b"user.x", false, Err(Errno::NOTSUP)).is_ok());
        assert!(user.check(b"user.y", false, Ok(())).is_ok());
        assert!(user.check(b"user.big", false, Err(Errno::NOSPC)).is_ok());
        assert!(user.check(b"user.on-link", true, Err(Errno::PERM)).is_ok());
        assert_eq!(user.check(b"user.z", false, Err(Errno::IO)), Err(Errno::IO));
        assert_eq!(
            user.summary(),
            [
                "2 extended attributes trusted.* (needs root)",
                "1 extended attribute user.* (not allowed on symlinks)",
                "1 extended attribute user.* (not supported by the destination file system)",
                "1 extended attribute user.* (too large for the destination file system)"
            ]
        );
        let root = RefusedXattrs::new(true);
        assert!(root
            .check(b"security.capability", false, Err(Errno::PERM))
            .is_ok());
        assert_eq!(
            root.summary(),
            ["1 extended attribute security.* (not permitted)"]
        );
    }
}
