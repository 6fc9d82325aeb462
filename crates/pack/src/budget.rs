//! Bounds how much file data the concurrent readers may hold ahead of the
//! dispatcher, counted in blocks. The file the dispatcher is waiting on
//! (the head) may always use a small reserve of its own, so readers of
//! later files can never starve it: memory stays bounded without deadlock.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

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
    per_file: HashMap<u32, u64>,
    closed: bool,
}

impl Budget {
    pub fn new(limit_blocks: u64, head_reserve: u64) -> Budget {
        Budget {
            limit: limit_blocks.max(1),
            head_reserve: head_reserve.max(1),
            state: Mutex::new(State::default()),
            freed: Condvar::new(),
        }
    }

    /// Waits until file `ordinal` may hold one more block. Returns `false`
    /// if the budget was closed (the pack is stopping).
    pub fn acquire(&self, ordinal: u32) -> bool {
        let mut s = self.state.lock().unwrap();
        loop {
            if s.closed {
                return false;
            }
            let mine = s.per_file.get(&ordinal).copied().unwrap_or(0);
            if s.used < self.limit || (s.head == ordinal && mine < self.head_reserve) {
                s.used += 1;
                *s.per_file.entry(ordinal).or_insert(0) += 1;
                return true;
            }
            s = self
                .freed
                .wait_timeout(s, Duration::from_millis(200))
                .unwrap()
                .0;
        }
    }

    /// Returns one block of file `ordinal` to the pool.
    pub fn release(&self, ordinal: u32) {
        let mut s = self.state.lock().unwrap();
        s.used -= 1;
        if let Some(n) = s.per_file.get_mut(&ordinal) {
            *n -= 1;
            if *n == 0 {
                s.per_file.remove(&ordinal);
            }
        }
        drop(s);
        self.freed.notify_all();
    }

    /// Marks `ordinal` as the file the dispatcher now waits on.
    pub fn set_head(&self, ordinal: u32) {
        self.state.lock().unwrap().head = ordinal;
        self.freed.notify_all();
    }

    /// Wakes every waiter and makes further acquisitions fail.
    pub fn close(&self) {
        self.state.lock().unwrap().closed = true;
        self.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_may_exceed_the_limit_by_its_reserve_only() {
        let b = Budget::new(2, 1);
        b.set_head(0);
        assert!(b.acquire(5));
        assert!(b.acquire(6));
        // Pool full: the head still gets its reserve.
        assert!(b.acquire(0));
        b.release(5);
        assert!(b.acquire(7));
        b.close();
        assert!(!b.acquire(8), "closed budget refuses");
    }
}
