//! Errors of the pack engine. Each names the file it concerns so the CLI
//! can print one self-explanatory line.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// A source file or directory could not be read.
    #[error("{}: {source}", path.display())]
    Source {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A source entry changed kind between the scan and the read.
    #[error("{}: {reason}", path.display())]
    Changed { path: PathBuf, reason: &'static str },
    /// The image (or its temporary file) could not be written.
    #[error("{}: {source}", path.display())]
    Output {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: already exists (use --force to overwrite)", .0.display())]
    Exists(PathBuf),
    #[error("{}: {reason}", path.display())]
    BadSource { path: PathBuf, reason: String },
    #[error("{0}")]
    Limit(String),
    #[error("interrupted")]
    Cancelled,
    #[error(transparent)]
    Format(#[from] bale_squashfs::Error),
}

pub type Result<T> = std::result::Result<T, PackError>;

/// Attaches a path to an I/O error from the source tree.
pub fn source_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> PackError {
    let path = path.into();
    move |source| PackError::Source { path, source }
}
