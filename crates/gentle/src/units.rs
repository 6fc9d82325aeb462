//! Printing sizes the way GNU du does: 1024-byte blocks rounded up, or
//! `-h`-style human-readable sizes (powers of 1024, rounded up, one decimal
//! below 10). Hand-written rather than taken from a formatting crate because
//! the output must match du's rounding exactly.

/// How sizes are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Units {
    /// Plain bytes.
    Bytes,
    /// 1024-byte blocks, rounded up (du's default and `-k`).
    #[default]
    Kilobytes,
    /// "4.0K", "12M", like `du -h`.
    Human,
}

impl Units {
    /// The number alone, as du prints it.
    pub fn format(self, bytes: u64) -> String {
        match self {
            Units::Bytes => bytes.to_string(),
            Units::Kilobytes => bytes.div_ceil(1024).to_string(),
            Units::Human => human(bytes),
        }
    }

    /// The number with a unit, for sentences ("12 KiB", "3 bytes", "1.5M").
    pub fn format_with_unit(self, bytes: u64) -> String {
        match self {
            Units::Bytes => format!("{bytes} bytes"),
            Units::Kilobytes => format!("{} KiB", bytes.div_ceil(1024)),
            Units::Human => human(bytes),
        }
    }
}

/// GNU `du -h` formatting: below 1024 the byte count; otherwise the smallest
/// unit in which the value, rounded up, is below 1024, shown with one
/// decimal when below 10.
pub fn human(bytes: u64) -> String {
    const SUFFIXES: [&str; 6] = ["K", "M", "G", "T", "P", "E"];
    if bytes < 1024 {
        return bytes.to_string();
    }
    let bytes = u128::from(bytes);
    let mut unit: u128 = 1;
    for suffix in SUFFIXES {
        unit *= 1024;
        let tenths = (bytes * 10).div_ceil(unit);
        if tenths < 100 {
            return format!("{}.{}{suffix}", tenths / 10, tenths % 10);
        }
        let whole = bytes.div_ceil(unit);
        if whole < 1024 {
            return format!("{whole}{suffix}");
        }
    }
    unreachable!("u64 sizes are below 1024 exbibytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_matches_du_rounding() {
        let cases = [
            (0, "0"),
            (1, "1"),
            (1023, "1023"),
            (1024, "1.0K"),
            (1025, "1.1K"),
            (4096, "4.0K"),
            (10 * 1024 - 1, "10K"),
            (10 * 1024, "10K"),
            (10 * 1024 + 1, "11K"),
            (1023 * 1024 + 1, "1.0M"),
            (1024 * 1024, "1.0M"),
            (5 * 1024 * 1024 * 1024, "5.0G"),
            (u64::MAX, "16E"),
        ];
        for (bytes, text) in cases {
            assert_eq!(human(bytes), text, "{bytes} bytes");
        }
    }

    #[test]
    fn kilobytes_round_up() {
        assert_eq!(Units::Kilobytes.format(0), "0");
        assert_eq!(Units::Kilobytes.format(1), "1");
        assert_eq!(Units::Kilobytes.format(2048), "2");
        assert_eq!(Units::Kilobytes.format(2049), "3");
        assert_eq!(Units::Bytes.format_with_unit(5), "5 bytes");
    }
}
