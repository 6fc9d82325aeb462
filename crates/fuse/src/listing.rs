//! Directory offsets as FUSE sees them. The kernel resumes a listing at
//! the offset of the last entry it kept: 0 is the start, 1 follows ".",
//! 2 follows "..", and `2 + c` follows the entry after which the reader's
//! cookie is `c` (reader cookies are never 0 after an entry).

/// Where a listing resumes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Resume {
    /// At "." (the start).
    Dot,
    /// At "..".
    DotDot,
    /// At the entries, from this reader cookie.
    Entries(u64),
}

pub(crate) fn resume(offset: u64) -> Resume {
    match offset {
        0 => Resume::Dot,
        1 => Resume::DotDot,
        n => Resume::Entries(n - 2),
    }
}

/// The FUSE offset after an entry, given the reader's cookie after it.
pub(crate) fn offset_after(cookie: u64) -> u64 {
    cookie + 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip() {
        assert_eq!(resume(0), Resume::Dot);
        assert_eq!(resume(1), Resume::DotDot);
        assert_eq!(resume(2), Resume::Entries(0));
        for cookie in [1u64, 5, 7 << 16 | 3] {
            assert_eq!(resume(offset_after(cookie)), Resume::Entries(cookie));
        }
    }
}
