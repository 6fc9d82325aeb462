//! Every decision goes to syslog (facility authpriv, tag `bale-helper`).

use std::ffi::CString;

pub fn open() {
    // SAFETY: the identifier is a static NUL-terminated string.
    unsafe { libc::openlog(c"bale-helper".as_ptr(), libc::LOG_PID, libc::LOG_AUTHPRIV) };
}

pub fn notice(message: &str) {
    let Ok(message) = CString::new(message.replace('\0', "?")) else {
        return;
    };
    // SAFETY: a constant format string with one string argument.
    unsafe { libc::syslog(libc::LOG_NOTICE, c"%s".as_ptr(), message.as_ptr()) };
}
