//! System reasons as people read them: Rust's `io::Error` adds
//! " (os error N)" to the system's message; the one-line errors of bale's
//! tools leave it out.

/// `line` without any " (os error N)".
pub fn without_error_numbers(line: &str) -> String {
    const MARK: &str = " (os error ";
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find(MARK) {
        let tail = &rest[at + MARK.len()..];
        let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
        let numbered = digits > 0 && tail[digits..].starts_with(')');
        let skip = if numbered {
            MARK.len() + digits + 1
        } else {
            MARK.len()
        };
        out.push_str(&rest[..at]);
        if !numbered {
            out.push_str(MARK);
        }
        rest = &rest[at + skip..];
    }
    out.push_str(rest);
    out
}

/// The reason an I/O error gives, without its number: "Permission denied".
pub fn of(err: &std::io::Error) -> String {
    without_error_numbers(&err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_numbers_are_left_out_and_other_parentheses_kept() {
        let err = std::io::Error::from_raw_os_error(libc::EISDIR);
        assert_eq!(
            without_error_numbers(&format!("img.sqfs (os error x): {err}")),
            "img.sqfs (os error x): Is a directory"
        );
        assert_eq!(of(&err), "Is a directory");
    }
}
