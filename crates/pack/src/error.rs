//! Errors of the pack engine. Each names the file it concerns so the CLI
//! can print one self-explanatory line.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// A source file or directory could not be read.
    #[error("{}: {source}", shown(path))]
    Source {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A source entry changed kind between the scan and the read.
    #[error("{}: {reason}", shown(path))]
    Changed { path: PathBuf, reason: &'static str },
    /// The image (or its temporary file) could not be written.
    #[error("{}: {source}", shown(path))]
    Output {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: already exists (use --force to overwrite)", shown(.0))]
    Exists(PathBuf),
    /// `reason` shows any name it quotes with [`printable`].
    #[error("{}: {reason}", shown(path))]
    BadSource { path: PathBuf, reason: String },
    #[error("{0}")]
    Limit(String),
    #[error("interrupted")]
    Cancelled,
    #[error(transparent)]
    Format(#[from] bale_squashfs::Error),
}

pub type Result<T> = std::result::Result<T, PackError>;

/// A name as an error line shows it: lossy UTF-8, control characters
/// escaped (`\n`, `\t`, `\u{1b}`), so a name holding a newline cannot
/// break the one-line error or fake a second one.
pub fn printable(name: &[u8]) -> String {
    let text = String::from_utf8_lossy(name);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c.is_control() {
            true => out.extend(c.escape_default()),
            false => out.push(c),
        }
    }
    out
}

fn shown(path: &Path) -> String {
    printable(path.as_os_str().as_bytes())
}

/// Attaches a path to an I/O error from the source tree.
pub fn source_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> PackError {
    let path = path.into();
    move |source| PackError::Source { path, source }
}
