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

/// Logs one line. Control characters (a newline in a user's path, say)
/// are escaped, so a caller cannot split an entry or forge another one,
/// whatever the syslog daemon does with them.
pub fn notice(message: &str) {
    let Ok(message) = CString::new(one_line(message)) else {
        return;
    };
    // SAFETY: a constant format string with one string argument.
    unsafe { libc::syslog(libc::LOG_NOTICE, c"%s".as_ptr(), message.as_ptr()) };
}

fn one_line(message: &str) -> String {
    let mut line = String::with_capacity(message.len());
    for c in message.chars() {
        match c.is_control() {
            true => line.extend(c.escape_default()),
            false => line.push(c),
        }
    }
    line
}

/// Closes the connection to syslog (before the helper becomes another program).
pub fn close() {
    // SAFETY: closelog takes no arguments and may be called at any time.
    unsafe { libc::closelog() };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_stays_one_line_whatever_a_path_holds() {
        let forged = "refused: /home/u/x\nbale-helper[1]: mounted /etc\0\u{1b}[2J";
        let line = one_line(forged);
        assert_eq!(
            line,
            "refused: /home/u/x\\nbale-helper[1]: mounted /etc\\u{0}\\u{1b}[2J"
        );
        assert!(!line.chars().any(char::is_control));
        assert!(CString::new(line).is_ok());
    }
}
