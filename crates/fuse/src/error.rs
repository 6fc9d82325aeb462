//! The error type of the driver's front-end operations (mount, unmount,
//! start-up): one line naming the path concerned and the reason.

use std::path::{Path, PathBuf};

/// A failed mount, unmount or start-up step.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Printed as `PATH: reason`.
    #[error("{}: {reason}", path.display())]
    At { path: PathBuf, reason: String },
    /// A message relayed from the detached server, which names its path.
    #[error("{0}")]
    Relayed(String),
    /// An unmount refused because files are open in the mount (exit
    /// status 4, as the helper's busy unmounts).
    #[error("{}: mount is busy (files are open); --lazy detaches it anyway", .0.display())]
    Busy(PathBuf),
}

impl Error {
    pub fn new(path: &Path, reason: impl std::fmt::Display) -> Error {
        Error::At {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        }
    }
}
