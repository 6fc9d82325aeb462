//! Fragment block locations, published by the emitter as it writes them
//! and awaited by the dispatcher when tail dedup must read one back.

use crate::error::{PackError, Result};
use bale_squashfs::tables::FragmentEntry;
use std::sync::{Condvar, Mutex};

#[derive(Default)]
pub struct FragmentTable {
    state: Mutex<(Vec<FragmentEntry>, bool)>,
    published: Condvar,
}

impl FragmentTable {
    /// Records fragment block `index` (they are written in order).
    pub fn publish(&self, index: u32, entry: FragmentEntry) {
        let mut s = self.state.lock().unwrap();
        debug_assert_eq!(s.0.len(), index as usize);
        s.0.push(entry);
        drop(s);
        self.published.notify_all();
    }

    /// Waits until fragment block `index` is on disk.
    pub fn wait_for(&self, index: u32) -> Result<FragmentEntry> {
        let mut s = self.state.lock().unwrap();
        loop {
            if let Some(e) = s.0.get(index as usize) {
                return Ok(*e);
            }
            if s.1 {
                return Err(PackError::Cancelled);
            }
            s = self.published.wait(s).unwrap();
        }
    }

    /// Wakes waiters for good: the writer stopped.
    pub fn abort(&self) {
        self.state.lock().unwrap().1 = true;
        self.published.notify_all();
    }

    pub fn into_entries(self) -> Vec<FragmentEntry> {
        self.state.into_inner().unwrap().0
    }
}
