//! Errors of the read engine: a corrupt or unreadable image, or a failed
//! operation on a named local path. Names are quoted as a shell would
//! need them when they must be, so a newline in one cannot break the line.

use os_display::Quotable;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Image(#[from] bale_squashfs::Error),
    #[error("{}: {source}", path.maybe_quote())]
    InImage {
        path: String,
        source: bale_squashfs::Error,
    },
    #[error("{}: {source}", path.maybe_quote())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {reason}", path.maybe_quote())]
    Refused { path: PathBuf, reason: String },
}

pub type Result<T> = std::result::Result<T, Error>;

/// Attaches a path to an I/O error (`rustix` or `std`).
pub(crate) fn at_path<E: Into<std::io::Error>>(
    path: impl Into<PathBuf>,
) -> impl FnOnce(E) -> Error {
    let path = path.into();
    move |e| Error::Io {
        path,
        source: e.into(),
    }
}
