//! One global, evenly paced rate limiter shared by all walker threads.
//!
//! Every call reserves the next slot on a single schedule spaced `1/rate`
//! apart and sleeps until that slot. Because the schedule is global, any
//! number of workers together make at most `rate` calls per second, spread
//! evenly rather than in bursts. When callers fall behind (slow file system,
//! the process not scheduled for a while), the schedule may lag the clock by
//! at most `max_lag` (100 ms), so short delays are made up for and the
//! average stays on target, but a long stall is never followed by more than
//! 100 ms worth of calls at once: any window of W seconds holds at most
//! `rate × (W + 0.1) + 1` calls.

use crate::clock::{Clock, SystemClock};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// The longest a sleeping caller waits before checking for a stop request.
const STOP_POLL: Duration = Duration::from_millis(50);

/// The most the schedule may trail the clock; see the module docs. Large
/// enough to absorb the scheduling delays of a loaded machine (a busy
/// 2-core node easily leaves a process off the CPU for tens of
/// milliseconds), small enough to add at most 1% to a 10-second window.
pub const MAX_LAG: Duration = Duration::from_millis(100);

/// The slowest rate: one call in about 17 minutes.
pub const MIN_RATE: f64 = 1e-3;
/// The fastest: one call a nanosecond, the clock's resolution.
pub const MAX_RATE: f64 = 1e9;

/// A rate that is not a number of calls per second from [`MIN_RATE`] to
/// [`MAX_RATE`].
#[derive(Debug, thiserror::Error, PartialEq)]
#[error(
    "invalid rate {}: expected calls per second from {MIN_RATE} to {MAX_RATE:e} (0: no limit)",
    shown(*.0)
)]
pub struct InvalidRate(pub f64);

/// A rate as an error shows it: in scientific notation when plain digits
/// would run long.
fn shown(rate: f64) -> String {
    if rate != 0.0 && !(1e-3..1e9).contains(&rate.abs()) {
        format!("{rate:e}")
    } else {
        rate.to_string()
    }
}

pub struct RateLimiter<C: Clock = SystemClock> {
    clock: C,
    rate: f64,
    interval: Duration,
    max_lag: Duration,
    next: Mutex<Option<Duration>>,
}

impl RateLimiter<SystemClock> {
    /// A limiter allowing `rate` calls per second on the real clock.
    pub fn new(rate: f64) -> Result<Self, InvalidRate> {
        Self::with_clock(rate, SystemClock::new())
    }
}

impl<C: Clock> RateLimiter<C> {
    /// A limiter allowing `rate` calls per second on the given clock.
    pub fn with_clock(rate: f64, clock: C) -> Result<Self, InvalidRate> {
        if !(MIN_RATE..=MAX_RATE).contains(&rate) {
            return Err(InvalidRate(rate));
        }
        let interval = Duration::from_secs_f64(1.0 / rate);
        Ok(RateLimiter {
            clock,
            rate,
            interval,
            max_lag: MAX_LAG,
            next: Mutex::new(None),
        })
    }

    /// The configured rate in calls per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// The spacing between consecutive slots.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The most the schedule may trail the clock.
    pub fn max_lag(&self) -> Duration {
        self.max_lag
    }

    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// Reserve the next slot and return its time; the caller must not make
    /// its call before then. Does not sleep.
    pub fn reserve(&self) -> Duration {
        let now = self.clock.now();
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let slot = match *next {
            None => now,
            Some(scheduled) => scheduled.max(now.saturating_sub(self.max_lag)),
        };
        *next = Some(slot + self.interval);
        slot
    }

    /// Reserve a slot and sleep until it.
    pub fn acquire(&self) {
        let slot = self.reserve();
        self.clock.sleep_until(slot);
    }

    /// Like [`RateLimiter::acquire`], but give up early (returning `false`)
    /// once `stop` is set, checking it at least every 50 ms.
    pub fn acquire_unless(&self, stop: &AtomicBool) -> bool {
        let slot = self.reserve();
        loop {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            let now = self.clock.now();
            if now >= slot {
                return true;
            }
            self.clock.sleep_until(slot.min(now + STOP_POLL));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    use std::sync::Arc;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    /// A small deterministic pseudo-random generator for latency jitter.
    struct Lcg(u64);
    impl Lcg {
        fn next_unit(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// Simulate `workers` threads that each loop "acquire, then spend
    /// `latency(i)` on the call" for `total` simulated time. Returns the sorted
    /// times at which calls were made.
    fn simulate(
        rate: f64,
        workers: usize,
        total: Duration,
        mut latency: impl FnMut(Duration) -> Duration,
    ) -> Vec<Duration> {
        let limiter = RateLimiter::with_clock(rate, ManualClock::new()).unwrap();
        let mut ready: BinaryHeap<Reverse<Duration>> =
            (0..workers).map(|_| Reverse(Duration::ZERO)).collect();
        let mut calls = Vec::new();
        // A limiter that let calls through unpaced would never advance the
        // simulated time: bound the number of calls so such a bug fails.
        let most = (rate * total.as_secs_f64() * 2.0) as usize + 100;
        while let Some(Reverse(at)) = ready.pop() {
            if at >= total || calls.len() > most {
                break;
            }
            limiter.clock().advance_to(at);
            let slot = limiter.reserve();
            let call = slot.max(at);
            calls.push(call);
            ready.push(Reverse(call + latency(call)));
        }
        calls.sort();
        calls
    }

    fn count_in(calls: &[Duration], from: Duration, len: Duration) -> usize {
        let lo = calls.partition_point(|&c| c < from);
        let hi = calls.partition_point(|&c| c < from + len);
        hi - lo
    }

    /// Every `len` window starting at `warmup`, stepping by `step`, must hold
    /// rate*len calls within `tolerance` (relative), and no window may exceed
    /// the upper bound.
    fn assert_windows(
        calls: &[Duration],
        rate: f64,
        warmup: f64,
        end: f64,
        len: f64,
        tolerance: f64,
    ) {
        let expected = rate * len;
        let mut start = warmup;
        while start + len <= end {
            let n = count_in(calls, secs(start), secs(len)) as f64;
            assert!(
                (n - expected).abs() <= expected * tolerance,
                "window [{start:.2}s, +{len}s): {n} calls, expected {expected} ± {:.0}%",
                tolerance * 100.0
            );
            start += 0.25;
        }
    }

    #[test]
    fn rejects_bad_rates() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e300, 2e9, 9e-4, 1e-20] {
            assert!(RateLimiter::new(bad).is_err(), "{bad} accepted");
        }
        for good in [0.5, MIN_RATE, MAX_RATE] {
            assert!(RateLimiter::new(good).is_ok(), "{good} refused");
        }
        assert_eq!(
            InvalidRate(1e308).to_string(),
            "invalid rate 1e308: expected calls per second from 0.001 to 1e9 (0: no limit)"
        );
    }

    #[test]
    fn single_caller_gets_exactly_spaced_slots() {
        let limiter = RateLimiter::with_clock(250.0, ManualClock::new()).unwrap();
        let slots: Vec<_> = (0..1000)
            .map(|_| {
                limiter.acquire();
                limiter.clock().now()
            })
            .collect();
        for (k, s) in slots.iter().enumerate() {
            assert_eq!(*s, limiter.interval() * k as u32);
        }
    }

    #[test]
    fn parallel_workers_with_jitter_stay_within_five_percent_over_ten_seconds() {
        for rate in [50.0, 500.0, 2000.0, 5000.0] {
            let mut rng = Lcg(42);
            // Calls take 0.1..2 ms each: with 8 workers the limit binds.
            let calls = simulate(rate, 8, secs(60.0), |_| {
                secs(0.0001 + 0.0019 * rng.next_unit())
            });
            assert_windows(&calls, rate, 1.0, 60.0, 10.0, 0.05);
            // Even, not bursty: one-second windows are just as tight.
            assert_windows(&calls, rate, 1.0, 60.0, 1.0, 0.05);
        }
    }

    #[test]
    fn calls_are_evenly_spaced_not_bunched() {
        let rate = 1000.0;
        let mut rng = Lcg(7);
        let calls = simulate(rate, 4, secs(20.0), |_| secs(0.002 * rng.next_unit()));
        // With latency below the 4 ms the four workers have per slot, no call
        // is ever early or late: consecutive calls are exactly one interval apart.
        let interval = secs(1.0 / rate);
        for pair in calls.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(
                gap.abs_diff(interval) < Duration::from_micros(1),
                "gap {gap:?} between calls at {:?} and {:?}",
                pair[0],
                pair[1]
            );
        }
    }

    #[test]
    fn a_stall_is_not_followed_by_a_burst() {
        let rate = 1000.0;
        // One worker whose call at about 5 s hangs for 3 s.
        let mut stalled = false;
        let calls = simulate(rate, 1, secs(20.0), |at| {
            if !stalled && at >= secs(5.0) {
                stalled = true;
                secs(3.0)
            } else {
                Duration::ZERO
            }
        });
        let resume = calls.iter().copied().find(|&c| c > secs(7.9)).unwrap();
        // At most 100 ms worth of calls may be made up after the stall.
        let in_first_100ms = count_in(&calls, resume, secs(0.100));
        assert!(
            in_first_100ms <= 100 + 100 + 1,
            "{in_first_100ms} calls in the 100 ms after a stall"
        );
        // No second from the end of the stall on holds more than the limit
        // plus that catch-up.
        let mut start = resume;
        while start + secs(1.0) <= secs(20.0) {
            let n = count_in(&calls, start, secs(1.0)) as f64;
            assert!(
                n <= rate * 1.1 + 1.0,
                "{n} calls in the second from {start:?}"
            );
            start += secs(0.1);
        }
        assert_windows(&calls, rate, 9.0, 20.0, 10.0, 0.05);
    }

    #[test]
    fn scheduling_delays_below_max_lag_do_not_lower_the_rate() {
        // One worker that, about 2.5 times a second, is not scheduled for
        // 60 ms (a loaded machine): the slots it missed are made up.
        let rate = 500.0;
        let mut rng = Lcg(3);
        let calls = simulate(rate, 1, secs(60.0), |_| {
            if rng.next_unit() < 0.005 {
                secs(0.060)
            } else {
                secs(0.0001)
            }
        });
        assert_windows(&calls, rate, 1.0, 60.0, 10.0, 0.05);
    }

    #[test]
    fn slow_callers_do_not_exceed_the_limit() {
        // Two workers whose calls take 10 ms cannot reach 1000/s: the limiter
        // must not make them faster, and must never allow more than the limit.
        let calls = simulate(1000.0, 2, secs(10.0), |_| secs(0.010));
        let n = count_in(&calls, secs(1.0), secs(5.0));
        assert!(
            (990..=1010).contains(&n),
            "{n} calls in 5 s at 200/s capacity"
        );
    }

    #[test]
    fn real_threads_share_one_schedule() {
        let limiter = Arc::new(RateLimiter::with_clock(100.0, ManualClock::new()).unwrap());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let limiter = Arc::clone(&limiter);
                std::thread::spawn(move || {
                    (0..2500)
                        .map(|_| {
                            let slot = limiter.reserve();
                            limiter.clock().sleep_until(slot);
                            slot
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut slots: Vec<Duration> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        slots.sort();
        // 10 000 calls from 4 threads: one slot each, exactly 10 ms apart.
        for (k, s) in slots.iter().enumerate() {
            assert_eq!(*s, limiter.interval() * k as u32, "slot {k}");
        }
    }

    #[test]
    fn acquire_unless_stops_early() {
        let limiter = RateLimiter::with_clock(0.01, ManualClock::new()).unwrap();
        let stop = AtomicBool::new(false);
        assert!(limiter.acquire_unless(&stop));
        stop.store(true, Ordering::Relaxed);
        assert!(!limiter.acquire_unless(&stop));
        // The 100 s slot was not slept through.
        assert!(limiter.clock().now() < secs(1.0));
    }
}
