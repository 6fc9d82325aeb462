//! The registry's error: every variant names the file it concerns.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: line {line}: {reason}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{}: still locked after {seconds} s by {holder}{advice}", path.display())]
    Busy {
        path: PathBuf,
        seconds: u64,
        holder: String,
        /// What to do about it, from a leading space or "".
        advice: String,
    },
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: impl Into<std::io::Error>) -> Error {
        Error::Io {
            path: path.into(),
            source: source.into(),
        }
    }
}
