//! Bounds how many bytes of file data the concurrent readers may hold
//! ahead of the dispatcher. Data is accounted per read batch; the batch
//! the dispatcher is waiting on (the head) may always use a reserve of its
//! own, so readers of later batches can never starve it: memory stays
//! bounded without deadlock.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex};

pub struct Budget {
    limit: u64,
    head_reserve: u64,
    state: Mutex<State>,
    freed: Condvar,
}

#[derive(Default)]
struct State {
    used: u64,
    head: u32,
    per_batch: HashMap<u32, u64>,
    closed: bool,
    waiting: usize,
}

impl Budget {
    /// `limit` bytes shared by all batches, plus `head_reserve` bytes the
    /// head batch may always use.
    pub fn new(limit: u64, head_reserve: u64) -> Budget {
        Budget {
            limit: limit.max(1),
            head_reserve: head_reserve.max(1),
            state: Mutex::new(State::default()),
            freed: Condvar::new(),
        }
    }

    /// Waits until `batch` may hold `bytes` more. Returns `false` if the
    /// budget was closed (the pack is stopping).
    pub fn acquire(&self, batch: u32, bytes: u64) -> bool {
        let mut s = self.state.lock().unwrap();
        loop {
            if s.closed {
                return false;
            }
            let mine = s.per_batch.get(&batch).copied().unwrap_or(0);
            if s.used + bytes <= self.limit
                || (s.head == batch && mine + bytes <= self.head_reserve)
            {
                s.used += bytes;
                *s.per_batch.entry(batch).or_insert(0) += bytes;
                return true;
            }
            s.waiting += 1;
            s = self.freed.wait(s).unwrap();
            s.waiting -= 1;
        }
    }

    /// Returns `bytes` of `batch` to the pool.
    pub fn release(&self, batch: u32, bytes: u64) {
        let mut s = self.state.lock().unwrap();
        s.used -= bytes;
        if let Some(n) = s.per_batch.get_mut(&batch) {
            *n -= bytes;
            if *n == 0 {
                s.per_batch.remove(&batch);
            }
        }
        self.wake(s);
    }

    /// Marks `batch` as the one the dispatcher now waits on.
    pub fn set_head(&self, batch: u32) {
        let mut s = self.state.lock().unwrap();
        if s.head != batch {
            s.head = batch;
            self.wake(s);
        }
    }

    /// Wakes every waiter and makes further acquisitions fail.
    pub fn close(&self) {
        let mut s = self.state.lock().unwrap();
        s.closed = true;
        self.wake(s);
    }

    fn wake(&self, s: std::sync::MutexGuard<State>) {
        let waiting = s.waiting > 0;
        drop(s);
        if waiting {
            self.freed.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_may_exceed_the_limit_by_its_reserve_only() {
        let b = Budget::new(200, 100);
        b.set_head(0);
        assert!(b.acquire(5, 100));
        assert!(b.acquire(6, 100));
        // Pool full: the head still gets its reserve.
        assert!(b.acquire(0, 100));
        b.release(5, 100);
        b.release(0, 100);
        assert!(b.acquire(7, 100));
        b.close();
        assert!(!b.acquire(8, 1), "closed budget refuses");
    }

    #[test]
    fn a_waiting_reader_proceeds_once_its_batch_is_the_head() {
        let b = Budget::new(100, 10);
        assert!(b.acquire(0, 100));
        std::thread::scope(|s| {
            let waiter = s.spawn(|| b.acquire(1, 10));
            b.set_head(1);
            assert!(waiter.join().unwrap());
        });
    }
}
