//! Why a request did not happen: a rule refused it, the mount is busy, or
//! something failed. Each prints as one line naming the file.

use bale_policy::Refusal;
use std::fmt;

#[derive(Debug)]
pub enum Failure {
    Refused(Refusal),
    Busy(String),
    Error(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Refused(r) => r.fmt(f),
            Failure::Busy(why) | Failure::Error(why) => f.write_str(why),
        }
    }
}

impl From<Refusal> for Failure {
    fn from(r: Refusal) -> Failure {
        Failure::Refused(r)
    }
}

impl From<bale_registry::Error> for Failure {
    fn from(e: bale_registry::Error) -> Failure {
        match e {
            bale_registry::Error::Parse { .. } => {
                Failure::Error(format!("{e} ({})", bale_registry::node::MALFORMED_REPAIR))
            }
            e => Failure::Error(e.to_string()),
        }
    }
}

/// An I/O error about `path`, as one line.
pub fn io(path: impl AsRef<std::path::Path>, e: impl Into<std::io::Error>) -> Failure {
    Failure::Error(format!("{}: {}", path.as_ref().display(), e.into()))
}
