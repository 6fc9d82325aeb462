//! Time source for the rate limiter. The limiter only ever asks "what time is
//! it" and "sleep until then", so tests can substitute [`ManualClock`] and
//! check pacing without depending on real timing.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A monotonic clock measured as the time elapsed since the clock's own epoch.
pub trait Clock: Send + Sync {
    /// Time elapsed since the clock's epoch.
    fn now(&self) -> Duration;
    /// Block the calling thread until [`Clock::now`] is at least `deadline`.
    fn sleep_until(&self, deadline: Duration);
}

/// The real monotonic clock; its epoch is the moment it was created.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    epoch: Instant,
}

impl SystemClock {
    pub fn new() -> Self {
        SystemClock {
            epoch: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    fn sleep_until(&self, deadline: Duration) {
        let now = self.now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        }
    }
}

/// A clock that only moves when told to. Sleeping advances it to the deadline
/// at once (time never goes backwards), so a simulation runs instantly.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: Mutex<Duration>,
}

impl ManualClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Move the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.now.lock().unwrap() += by;
    }

    /// Move the clock to `to` if that is later than the current time.
    pub fn advance_to(&self, to: Duration) {
        let mut now = self.now.lock().unwrap();
        *now = (*now).max(to);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        *self.now.lock().unwrap()
    }

    fn sleep_until(&self, deadline: Duration) {
        self.advance_to(deadline);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_forward() {
        let c = ManualClock::new();
        assert_eq!(c.now(), Duration::ZERO);
        c.advance(Duration::from_millis(5));
        c.sleep_until(Duration::from_millis(3));
        assert_eq!(c.now(), Duration::from_millis(5));
        c.sleep_until(Duration::from_millis(9));
        assert_eq!(c.now(), Duration::from_millis(9));
    }

    #[test]
    fn system_clock_sleeps_until_deadline() {
        let c = SystemClock::new();
        let target = c.now() + Duration::from_millis(2);
        c.sleep_until(target);
        assert!(c.now() >= target);
    }
}
