//! Errors of the pack engine. Each names the file it concerns so the CLI
//! can print one self-explanatory line.

use os_display::Quotable;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// A source file or directory could not be read.
    #[error("{}: {source}", path.maybe_quote())]
    Source {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A source entry changed kind between the scan and the read.
    #[error("{}: {reason}", path.maybe_quote())]
    Changed { path: PathBuf, reason: &'static str },
    /// The image (or its temporary file) could not be written.
    #[error("{}: {source}", path.maybe_quote())]
    Output {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: already exists (use --force to overwrite)", .0.maybe_quote())]
    Exists(PathBuf),
    /// `reason` shows any name in it with [`printable`].
    #[error("{}: {reason}", path.maybe_quote())]
    BadSource { path: PathBuf, reason: String },
    #[error("{0}")]
    Limit(String),
    #[error("interrupted")]
    Cancelled,
    #[error(transparent)]
    Format(#[from] bale_squashfs::Error),
}

pub type Result<T> = std::result::Result<T, PackError>;

impl PackError {
    /// The system would not give us the threads of a stage (a limit on
    /// processes, as login nodes often set, or on memory).
    pub fn no_threads(stage: &str, e: impl std::fmt::Display) -> PackError {
        PackError::Limit(format!(
            "cannot start {stage} threads: {e} (a limit on processes or on memory, \
             ulimit -u or -v? try fewer --threads or --readers)"
        ))
    }
}

/// A name from a source as an error line shows it: quoted and escaped as
/// a shell would need it when it has to be (a newline in it can neither
/// break the one-line error nor fake a second line), else as it is.
pub fn printable(name: &[u8]) -> String {
    OsStr::from_bytes(name).maybe_quote().to_string()
}

/// Attaches a path to an I/O error from the source tree.
pub fn source_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> PackError {
    let path = path.into();
    move |source| {
        match source.raw_os_error() {
        // Not the file's fault: say which limit, and what to do.
        Some(libc::EMFILE) => PackError::Limit(format!(
            "{}: too many open files (the limit, ulimit -n, is {}): raise it, or use fewer --readers",
            path.maybe_quote(),
            bale_os::limits::open_files().map_or("unlimited".into(), |n| n.to_string())
        )),
        _ => PackError::Source { path, source },
    }
    }
}
