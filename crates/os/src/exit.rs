//! The exit status of a process ended by a signal, as shells report it.

/// 128 + the signal's number (130 for SIGINT, 143 for SIGTERM); an
/// impossible number gives 130.
pub fn by_signal(signal: i32) -> u8 {
    u8::try_from(signal)
        .ok()
        .filter(|&n| (1..=127).contains(&n))
        .map_or(130, |n| 128 + n)
}

#[cfg(test)]
mod tests {
    #[test]
    fn is_128_plus_the_signal() {
        assert_eq!(super::by_signal(2), 130);
        assert_eq!(super::by_signal(15), 143);
        assert_eq!(super::by_signal(-1), 130);
        assert_eq!(super::by_signal(300), 130);
    }
}
