//! Turning reader errors into errno values for the kernel: every failure
//! to read the image is EIO, and each distinct cause is logged once, so a
//! corrupt image cannot flood the log.

use fuser::Errno;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Mutex;

/// Distinct causes remembered; past this, further new causes are counted
/// in one last message.
const MAX_CAUSES: usize = 1000;

pub(crate) struct ErrorLog {
    image: PathBuf,
    seen: Mutex<HashSet<String>>,
}

impl ErrorLog {
    pub fn new(image: PathBuf) -> ErrorLog {
        ErrorLog {
            image,
            seen: Mutex::new(HashSet::new()),
        }
    }

    /// Logs `err` (met during `op`) if its cause is new, and returns EIO.
    pub fn eio(&self, op: &str, err: &bale_squashfs::Error) -> Errno {
        let cause = err.to_string();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() < MAX_CAUSES && seen.insert(cause.clone()) {
            tracing::error!("{}: {cause} (in {op}); returning EIO", self.image.display());
        } else if seen.len() == MAX_CAUSES && seen.insert(String::new()) {
            tracing::error!(
                "{}: more than {MAX_CAUSES} distinct errors; no longer logging new ones",
                self.image.display()
            );
        }
        Errno::EIO
    }
}
