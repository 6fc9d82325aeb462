//! `/etc/fuse.conf` set for a test and restored afterwards. The file is
//! machine-wide, so it is changed only while the test site's lock is held
//! ([`frame::Site`]); the original is kept in a backup file until the guard
//! is dropped (also on panic), and a backup left by a killed run is put
//! back before anything else.

use super::frame::Site;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const CONF: &str = "/etc/fuse.conf";
const BACKUP: &str = "/etc/fuse.conf.bale-test-original";
/// Stands in the backup for "there was no /etc/fuse.conf".
const ABSENT: &str = "# bale test suite: /etc/fuse.conf did not exist\n";

/// `/etc/fuse.conf` as the test wants it, until dropped.
pub struct FuseConf;

impl FuseConf {
    /// Writes `/etc/fuse.conf` with or without `user_allow_other`.
    pub fn set(_site: &Site, user_allow_other: bool) -> FuseConf {
        restore().unwrap();
        let original = std::fs::read_to_string(CONF).unwrap_or_else(|_| ABSENT.to_string());
        write(BACKUP, &original).unwrap();
        let text = if user_allow_other {
            "# written by bale's test suite\nuser_allow_other\n"
        } else {
            "# written by bale's test suite\n"
        };
        write(CONF, text).unwrap();
        FuseConf
    }
}

impl Drop for FuseConf {
    fn drop(&mut self) {
        if let Err(e) = restore() {
            eprintln!("cannot restore {CONF} from {BACKUP}: {e}");
        }
    }
}

/// Puts the backed-up original back, if there is a backup.
fn restore() -> std::io::Result<()> {
    let original = match std::fs::read_to_string(BACKUP) {
        Ok(original) => original,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if original == ABSENT {
        match std::fs::remove_file(CONF) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    } else {
        write(CONF, &original)?;
    }
    std::fs::remove_file(BACKUP)
}

/// Replaces `path` atomically with `text`, readable by everyone (fusermount3
/// reads it as the user).
fn write(path: &str, text: &str) -> std::io::Result<()> {
    let temp = format!("{path}.new");
    std::fs::write(&temp, text)?;
    std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o644))?;
    std::fs::rename(&temp, Path::new(path))
}
