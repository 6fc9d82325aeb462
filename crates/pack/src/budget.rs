//! Bounds how many bytes of file data the concurrent readers may hold
//! ahead of the dispatcher. Data is accounted per read batch; the batch
//! the dispatcher is waiting on (the head) may always use a reserve of its
//! own, so readers of later batches can never starve it: memory stays
//! bounded without deadlock.
//!
//! Wake-ups are targeted and chunky: the head's reader sleeps on its own
//! condition variable; the other readers are woken one at a time, and only
//! once an eighth of the budget is free again. When the source is faster
//! than compression the budget is always nearly full, and waking a reader
//! for every small file released cost a context switch per file.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex};

pub struct Budget {
    limit: u64,
    head_reserve: u64,
    state: Mutex<State>,
    /// Where the head batch's reader waits.
    head_freed: Condvar,
    /// Where every other reader waits.
    pool_freed: Condvar,
}

#[derive(Default)]
struct State {
    used: u64,
    head: u32,
    per_batch: HashMap<u32, u64>,
    closed: bool,
    head_waiting: usize,
    /// How many readers sleep in the pool, by batch.
    pool_waiting: HashMap<u32, usize>,
}

impl Budget {
    /// `limit` bytes shared by all batches, plus `head_reserve` bytes the
    /// head batch may always use.
    pub fn new(limit: u64, head_reserve: u64) -> Budget {
        Budget {
            limit: limit.max(1),
            head_reserve: head_reserve.max(1),
            state: Mutex::new(State::default()),
            head_freed: Condvar::new(),
            pool_freed: Condvar::new(),
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
            let in_pool = s.used + bytes <= self.limit;
            if in_pool || (s.head == batch && mine + bytes <= self.head_reserve) {
                s.used += bytes;
                *s.per_batch.entry(batch).or_insert(0) += bytes;
                // Room left: pass the wake-up on to another waiting reader.
                if in_pool && self.worth_waking(&s) {
                    self.pool_freed.notify_one();
                }
                return true;
            }
            if s.head == batch {
                s.head_waiting += 1;
                s = self.head_freed.wait(s).unwrap();
                s.head_waiting -= 1;
            } else {
                *s.pool_waiting.entry(batch).or_insert(0) += 1;
                s = self.pool_freed.wait(s).unwrap();
                decrease(&mut s.pool_waiting, batch, 1);
            }
        }
    }

    /// Returns `bytes` of `batch` to the pool.
    pub fn release(&self, batch: u32, bytes: u64) {
        let mut s = self.state.lock().unwrap();
        s.used -= bytes;
        decrease(&mut s.per_batch, batch, bytes);
        if s.head == batch && s.head_waiting > 0 {
            self.head_freed.notify_all();
        }
        if self.worth_waking(&s) {
            self.pool_freed.notify_one();
        }
    }

    /// True when a reader sleeps in the pool and enough room is free for
    /// it to read a good run before it has to wait again.
    fn worth_waking(&self, s: &State) -> bool {
        !s.pool_waiting.is_empty() && self.limit.saturating_sub(s.used) >= self.limit.div_ceil(8)
    }

    /// Marks `batch` as the one the dispatcher now waits on. If its reader
    /// is asleep among the others, they all look again; usually it has
    /// finished the batch already and nobody is woken.
    pub fn set_head(&self, batch: u32) {
        let mut s = self.state.lock().unwrap();
        if s.head != batch {
            s.head = batch;
            if s.pool_waiting.contains_key(&batch) {
                drop(s);
                self.pool_freed.notify_all();
            }
        }
    }

    /// Wakes every waiter and makes further acquisitions fail.
    pub fn close(&self) {
        self.state.lock().unwrap().closed = true;
        self.head_freed.notify_all();
        self.pool_freed.notify_all();
    }
}

/// Takes `by` from `batch`'s count, dropping the entry at zero.
fn decrease<N>(counts: &mut HashMap<u32, N>, batch: u32, by: N)
where
    N: Copy + PartialEq + Default + std::ops::SubAssign,
{
    if let Some(n) = counts.get_mut(&batch) {
        *n -= by;
        if *n == N::default() {
            counts.remove(&batch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

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

    /// Many readers, a tiny budget and a consumer taking batches strictly in
    /// order, as the pipeline does: everything must get through.
    #[test]
    fn in_order_consumption_never_deadlocks_under_pressure() {
        const BATCHES: u32 = 64;
        const BLOCKS: u32 = 6;
        let b = Budget::new(10, 4);
        let (done_tx, done_rx) = mpsc::channel();
        let queues: Vec<_> = (0..BATCHES).map(|_| mpsc::channel::<u64>()).collect();
        let (senders, receivers): (Vec<_>, Vec<_>) = queues.into_iter().unzip();
        let next = std::sync::atomic::AtomicU32::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                let (b, senders, next) = (&b, &senders, &next);
                s.spawn(move || loop {
                    let batch = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if batch >= BATCHES {
                        return;
                    }
                    for _ in 0..BLOCKS {
                        if !b.acquire(batch, 3) {
                            return;
                        }
                        senders[batch as usize].send(3).unwrap();
                    }
                });
            }
            let b = &b;
            s.spawn(move || {
                for (batch, rx) in receivers.into_iter().enumerate() {
                    b.set_head(batch as u32);
                    for _ in 0..BLOCKS {
                        // A stuck budget starves this consumer: give up.
                        let Ok(bytes) = rx.recv_timeout(Duration::from_secs(10)) else {
                            return;
                        };
                        b.release(batch as u32, bytes);
                    }
                }
                done_tx.send(()).unwrap();
            });
            let finished = done_rx.recv_timeout(Duration::from_secs(15));
            if finished.is_err() {
                b.close();
            }
            assert!(finished.is_ok(), "budget deadlocked");
        });
    }
}
