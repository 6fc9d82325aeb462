//! Standard output for the commands. A failed write — a full disk behind
//! `> file`, a closed pipe — is an error like any other instead of
//! `println!`'s panic, and it is reported as the output's fault whatever
//! the command was doing: "bale: standard output: No space left on device".

use std::fmt;
use std::io::{self, Write};

/// bale's standard output: `writeln!(output::stdout(), …)?`.
pub fn stdout() -> Stdout {
    Stdout(io::stdout())
}

pub struct Stdout(io::Stdout);

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(failed)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().map_err(failed)
    }
}

/// A failed write to standard output; its kind stays the system's, so a
/// closed pipe is still recognised as one.
#[derive(Debug)]
pub struct OutputError(io::Error);

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "standard output: {}", bale_os::reason::of(&self.0))
    }
}

impl std::error::Error for OutputError {}

fn failed(err: io::Error) -> io::Error {
    io::Error::new(err.kind(), OutputError(err))
}

/// The failed write to standard output behind `err`, if that is what
/// failed.
pub fn failure(err: &anyhow::Error) -> Option<&OutputError> {
    err.chain()
        .filter_map(|cause| cause.downcast_ref::<io::Error>())
        .find_map(|e| e.get_ref()?.downcast_ref::<OutputError>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_is_found_behind_any_context() {
        let err = failed(io::Error::from_raw_os_error(libc::ENOSPC));
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        let err = anyhow::Error::from(err).context("img.sqfs: path");
        assert_eq!(
            failure(&err).unwrap().to_string(),
            "standard output: No space left on device"
        );
        let other = anyhow::Error::from(io::Error::from_raw_os_error(libc::ENOSPC));
        assert!(failure(&other).is_none());
    }
}
