//! Paths inside line-based record files: backslash, tab and newline are
//! escaped so one record is always one line of tab-separated fields.

use std::ffi::OsStr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

/// Escapes `\`, tab and newline (`\\`, `\t`, `\n`).
pub fn escape(value: &OsStr) -> String {
    let mut out = String::new();
    for chunk in value.as_bytes().utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Undoes [`escape`]; `None` for a malformed escape.
pub fn unescape(field: &str) -> Option<PathBuf> {
    let mut out = Vec::new();
    let mut bytes = field.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next()? {
            b'\\' => out.push(b'\\'),
            b't' => out.push(b'\t'),
            b'n' => out.push(b'\n'),
            b'x' => {
                let hex = [bytes.next()?, bytes.next()?];
                out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
            }
            _ => return None,
        }
    }
    Some(PathBuf::from(std::ffi::OsString::from_vec(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for raw in [
            &b"/plain/path"[..],
            b"tab\there",
            b"new\nline\\",
            b"bad\xffutf8",
        ] {
            let value = OsStr::from_bytes(raw);
            let escaped = escape(value);
            assert!(!escaped.contains('\t') && !escaped.contains('\n'));
            assert_eq!(unescape(&escaped).unwrap(), PathBuf::from(value));
        }
        assert_eq!(unescape("trailing\\"), None);
        assert_eq!(unescape("\\q"), None);
    }
}
