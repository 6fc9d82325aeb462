//! Syslog, where bale's decisions and failures go: the helper's (facility
//! authpriv, tag `bale-helper`) and those of `bale module-hook`, which must
//! not fail a module load but must leave a trace.

use std::ffi::{CStr, CString};

/// Opens the log under `ident` with `facility` (`libc::LOG_*`).
pub fn open(ident: &'static CStr, facility: libc::c_int) {
    // SAFETY: the identifier is a static NUL-terminated string, which
    // openlog may keep.
    unsafe { libc::openlog(ident.as_ptr(), libc::LOG_PID, facility) };
}

pub fn notice(message: &str) {
    let Ok(message) = CString::new(message.replace('\0', "?")) else {
        return;
    };
    // SAFETY: a constant format string with one string argument.
    unsafe { libc::syslog(libc::LOG_NOTICE, c"%s".as_ptr(), message.as_ptr()) };
}

/// Closes the connection to syslog (before the helper becomes another program).
pub fn close() {
    // SAFETY: closelog takes no arguments and may be called at any time.
    unsafe { libc::closelog() };
}
