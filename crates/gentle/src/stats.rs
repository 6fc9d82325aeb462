//! Counting metadata calls and reporting their rates, in the style of the
//! Lustre tools: `[timestamp] stat: N calls over T seconds (R calls/sec)`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The kinds of metadata call that are counted (and may be limited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Stat,
    Unlink,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Stat => "stat",
            Op::Unlink => "unlink",
        }
    }
}

/// Thread-safe call counters with the time the walk started.
#[derive(Debug)]
pub struct CallStats {
    start: Instant,
    stat: AtomicU64,
    unlink: AtomicU64,
    entries: AtomicU64,
}

impl Default for CallStats {
    fn default() -> Self {
        Self::new()
    }
}

impl CallStats {
    pub fn new() -> Self {
        CallStats {
            start: Instant::now(),
            stat: AtomicU64::new(0),
            unlink: AtomicU64::new(0),
            entries: AtomicU64::new(0),
        }
    }

    fn counter(&self, op: Op) -> &AtomicU64 {
        match op {
            Op::Stat => &self.stat,
            Op::Unlink => &self.unlink,
        }
    }

    /// Count one call of kind `op`.
    pub fn record(&self, op: Op) {
        self.counter(op).fetch_add(1, Ordering::Relaxed);
    }

    /// Count one directory entry seen.
    pub fn record_entry(&self) {
        self.entries.fetch_add(1, Ordering::Relaxed);
    }

    pub fn calls(&self, op: Op) -> u64 {
        self.counter(op).load(Ordering::Relaxed)
    }

    pub fn entries(&self) -> u64 {
        self.entries.load(Ordering::Relaxed)
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// The report line for `op` as of now, with the current local time.
    pub fn report_line(&self, op: Op) -> String {
        rate_line(&local_timestamp(), op, self.calls(op), self.elapsed())
    }
}

/// Calls per second, zero for an empty interval.
pub fn rate(calls: u64, over: Duration) -> f64 {
    let secs = over.as_secs_f64();
    if secs > 0.0 {
        calls as f64 / secs
    } else {
        0.0
    }
}

/// Format one report line, e.g.
/// `[2024-05-01 12:00:00] stat: 1000 calls over 2.000 seconds (500.0 calls/sec)`.
pub fn rate_line(timestamp: &str, op: Op, calls: u64, over: Duration) -> String {
    format!(
        "[{timestamp}] {}: {calls} calls over {:.3} seconds ({:.1} calls/sec)",
        op.name(),
        over.as_secs_f64(),
        rate(calls, over)
    )
}

/// The current local time as `YYYY-MM-DD HH:MM:SS`.
pub fn local_timestamp() -> String {
    let now: libc::time_t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as libc::time_t)
        .unwrap_or(0);
    // SAFETY: localtime_r only writes into the zeroed `tm` we own; a null
    // return (out-of-range time) is handled below.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    if unsafe { libc::localtime_r(&now, &mut tm) }.is_null() {
        return now.to_string();
    }
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_a_rate_line() {
        assert_eq!(
            rate_line("T", Op::Stat, 1000, Duration::from_secs(2)),
            "[T] stat: 1000 calls over 2.000 seconds (500.0 calls/sec)"
        );
        assert_eq!(
            rate_line("T", Op::Unlink, 0, Duration::ZERO),
            "[T] unlink: 0 calls over 0.000 seconds (0.0 calls/sec)"
        );
    }

    #[test]
    fn counts_calls_per_kind() {
        let s = CallStats::new();
        s.record(Op::Stat);
        s.record(Op::Stat);
        s.record(Op::Unlink);
        assert_eq!(s.calls(Op::Stat), 2);
        assert_eq!(s.calls(Op::Unlink), 1);
        assert!(s.report_line(Op::Stat).contains("] stat: 2 calls over "));
    }

    #[test]
    fn timestamp_has_date_and_time() {
        let t = local_timestamp();
        assert_eq!(t.len(), 19, "{t}");
        assert_eq!(&t[4..5], "-");
        assert_eq!(&t[13..14], ":");
    }
}
