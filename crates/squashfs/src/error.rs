//! The error type of the format library: I/O failures, images that are not
//! squashfs 4.0, and corrupt structures found while decoding.

/// Anything that can go wrong while encoding or decoding an image.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("not a squashfs image (bad magic number)")]
    BadMagic,
    #[error("unsupported squashfs version {0}.{1} (only 4.0 is supported)")]
    Version(u16, u16),
    #[error("unsupported compression: {0}")]
    Unsupported(String),
    #[error("corrupt image: {0}")]
    Corrupt(String),
    #[error("compression failed: {0}")]
    Compress(String),
}

impl Error {
    /// Recovers a format error that travelled through `std::io::Read`
    /// (see [`Error::into_io`]), or wraps a plain I/O error.
    pub fn from_io(e: std::io::Error) -> Error {
        if !e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            return Error::Io(e);
        }
        match e.into_inner().map(|inner| inner.downcast::<Error>()) {
            Some(Ok(ours)) => *ours,
            _ => corrupt("unreadable error"),
        }
    }

    /// Wraps this error so it can be returned from `std::io::Read`.
    pub fn into_io(self) -> std::io::Error {
        match self {
            Error::Io(e) => e,
            other => std::io::Error::other(other),
        }
    }
}

/// Result with the format library's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// A path or name of an image as an error shows it: quoted and escaped as
/// a shell needs it when it must be (control characters, bytes that are
/// not UTF-8), so a crafted name can neither break the line nor send
/// escape sequences to a terminal.
pub fn shown(path: &[u8]) -> String {
    use os_display::Quotable;
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(path).maybe_quote().to_string()
}

/// Shorthand for an [`Error::Corrupt`] with a formatted reason.
pub fn corrupt(reason: impl Into<String>) -> Error {
    Error::Corrupt(reason.into())
}

#[cfg(test)]
mod tests {
    /// A crafted name in an error cannot break its line or reach a
    /// terminal as an escape sequence.
    #[test]
    fn names_in_errors_are_quoted_when_they_must_be() {
        assert_eq!(super::shown(b"a/b.txt"), "a/b.txt");
        assert_eq!(super::shown(b"a\nb"), "$'a\\nb'");
        assert_eq!(super::shown(b"\x1b]0;x\x07"), "$'\\x1B]0;x\\x07'");
    }
}
