//! A blocking multi-producer, multi-consumer queue on a mutex and two
//! condition variables. Waiting threads sleep in the kernel instead of
//! spinning, which matters with dozens of mostly idle reader threads on a
//! two-core machine. Optionally bounded; closes when its last producer
//! finishes (or on `close`).

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};

pub struct Queue<T> {
    state: Mutex<State<T>>,
    not_empty: Condvar,
    not_full: Condvar,
    capacity: usize,
}

struct State<T> {
    items: VecDeque<T>,
    producers: usize,
    closed: bool,
    /// Threads sleeping in `pop` and in `push`: a notification (a system
    /// call) is only sent when someone waits.
    popping: usize,
    pushing: usize,
}

impl<T> Queue<T> {
    /// A queue fed by `producers` producers, holding at most `capacity` items.
    pub fn new(capacity: usize, producers: usize) -> Queue<T> {
        Queue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                producers,
                closed: producers == 0,
                popping: 0,
                pushing: 0,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            capacity: capacity.max(1),
        }
    }

    /// Adds an item, waiting for room; gives it back if the queue is closed.
    pub fn push(&self, item: T) -> Result<(), T> {
        let mut s = self.state.lock().unwrap();
        while s.items.len() >= self.capacity && !s.closed {
            s.pushing += 1;
            s = self.not_full.wait(s).unwrap();
            s.pushing -= 1;
        }
        if s.closed {
            return Err(item);
        }
        s.items.push_back(item);
        let wake = s.popping > 0;
        drop(s);
        if wake {
            self.not_empty.notify_one();
        }
        Ok(())
    }

    /// Adds several items at once with a single wake-up, ignoring the
    /// capacity (for unbounded queues); gives them back if closed.
    pub fn push_all(&self, items: Vec<T>) -> Result<(), Vec<T>> {
        let mut s = self.state.lock().unwrap();
        if s.closed {
            return Err(items);
        }
        s.items.extend(items);
        let wake = s.popping > 0;
        drop(s);
        if wake {
            self.not_empty.notify_one();
        }
        Ok(())
    }

    /// Takes the oldest item, waiting for one; `None` once closed and empty.
    pub fn pop(&self) -> Option<T> {
        let mut s = self.state.lock().unwrap();
        loop {
            if let Some(item) = s.items.pop_front() {
                let wake = s.pushing > 0;
                drop(s);
                if wake {
                    self.not_full.notify_one();
                }
                return Some(item);
            }
            if s.closed {
                return None;
            }
            s.popping += 1;
            s = self.not_empty.wait(s).unwrap();
            s.popping -= 1;
        }
    }

    /// One producer is done; the last one closes the queue.
    pub fn producer_done(&self) {
        let mut s = self.state.lock().unwrap();
        s.producers = s.producers.saturating_sub(1);
        if s.producers == 0 {
            s.closed = true;
            drop(s);
            self.wake_all();
        }
    }

    /// Closes the queue now: pushes fail, pops drain what is left.
    pub fn close(&self) {
        self.state.lock().unwrap().closed = true;
        self.wake_all();
    }

    fn wake_all(&self) {
        self.not_empty.notify_all();
        self.not_full.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closes_after_the_last_producer_and_drains() {
        let q = Queue::new(2, 2);
        q.push(1).unwrap();
        q.producer_done();
        q.push(2).unwrap();
        q.producer_done();
        assert_eq!(q.push(3), Err(3));
        assert_eq!((q.pop(), q.pop(), q.pop()), (Some(1), Some(2), None));
    }

    #[test]
    fn bounded_push_waits_for_a_consumer() {
        let q = Queue::new(1, 1);
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 0..100 {
                    q.push(i).unwrap();
                }
                q.producer_done();
            });
            let got: Vec<i32> = std::iter::from_fn(|| q.pop()).collect();
            assert_eq!(got, (0..100).collect::<Vec<_>>());
        });
    }
}
