//! The read engine: restore an image as a directory tree ([`extract`]) and
//! check an image, alone or against a source tree ([`verify`],
//! [`verify_against`]). Both walk the image with the reader's walker
//! ([`bale_squashfs::reader::Visitor`]), which detects directory loops.

mod diff;
mod error;
mod extract;
mod refused_xattrs;
mod verify;

pub use diff::{Difference, Ignore};
pub use error::{Error, Result};
pub use extract::{extract, ExtractOptions, ExtractReport};
pub use verify::{verify, verify_against, Summary};
