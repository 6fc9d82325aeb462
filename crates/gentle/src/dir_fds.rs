//! The directory descriptors a walk holds, kept within a budget.
//!
//! A directory's descriptor is needed while it is listed and its names are
//! statted, and again for every subdirectory: to open it, and (`rm`) to
//! remove it once it is empty. Holding every descriptor until a directory
//! is done makes the count grow with the depth of the tree, and a tree
//! deeper than the limit on open files could never be walked. So beyond a
//! budget, directories that none of their own jobs needs any more give their
//! descriptor up, the shallowest first (they are needed again last), and the
//! walker opens them again when one is needed (see `Walk::dir_fd`). Below
//! half the budget, which is every tree that is not pathologically deep,
//! nothing of this costs anything.

use rustix::fd::OwnedFd;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// Where a directory's descriptor is kept while the walk holds it.
#[derive(Default)]
pub(crate) struct FdSlot(Mutex<Option<Arc<OwnedFd>>>);

impl FdSlot {
    fn lock(&self) -> MutexGuard<'_, Option<Arc<OwnedFd>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Which directories may give up their descriptor: by depth, shallowest
/// first, then by slot address (any order).
type IdleKey = (usize, usize);

/// The descriptors held in slots, within a budget.
pub(crate) struct FdBudget {
    budget: usize,
    held: AtomicUsize,
    idle: Mutex<BTreeMap<IdleKey, Weak<FdSlot>>>,
}

fn key(slot: &Arc<FdSlot>, depth: usize) -> IdleKey {
    (depth, Arc::as_ptr(slot) as usize)
}

impl FdBudget {
    /// At most about `budget` descriptors are held in slots (plus those in
    /// use by the workers at the moment).
    pub(crate) fn new(budget: usize) -> Self {
        FdBudget {
            budget: budget.max(1),
            held: AtomicUsize::new(0),
            idle: Mutex::new(BTreeMap::new()),
        }
    }

    fn idle_lock(&self) -> MutexGuard<'_, BTreeMap<IdleKey, Weak<FdSlot>>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The descriptor held in `slot`, if any.
    pub(crate) fn get(&self, slot: &FdSlot) -> Option<Arc<OwnedFd>> {
        slot.lock().clone()
    }

    /// Hold `fd` in `slot` (if another thread held one there first, that
    /// one is returned and `fd` closed). `idle`: no job of the directory's
    /// own needs it (it was opened again). Then, while more than the budget
    /// is held, idle directories give theirs up.
    pub(crate) fn hold(
        &self,
        slot: &Arc<FdSlot>,
        fd: OwnedFd,
        depth: usize,
        idle: bool,
    ) -> Arc<OwnedFd> {
        let fd = {
            let mut held = slot.lock();
            if let Some(first) = &*held {
                return Arc::clone(first);
            }
            let fd = Arc::new(fd);
            *held = Some(Arc::clone(&fd));
            self.held.fetch_add(1, Ordering::Relaxed);
            fd
        };
        if idle {
            self.idle(slot, depth);
        }
        self.enforce();
        fd
    }

    /// No job of the directory's own needs its descriptor any more (its
    /// subdirectories may): it may give it up when over the budget.
    pub(crate) fn idle(&self, slot: &Arc<FdSlot>, depth: usize) {
        if self.held.load(Ordering::Relaxed) * 2 <= self.budget {
            // Never given up: at most half the budget is held this way.
            return;
        }
        self.idle_lock()
            .insert(key(slot, depth), Arc::downgrade(slot));
    }

    /// The directory is done: its descriptor is closed (once the last
    /// worker using it lets go).
    pub(crate) fn release(&self, slot: &Arc<FdSlot>, depth: usize) {
        if self.held.load(Ordering::Relaxed) * 2 > self.budget {
            self.idle_lock().remove(&key(slot, depth));
        }
        self.give_up(slot);
    }

    fn give_up(&self, slot: &FdSlot) {
        if slot.lock().take().is_some() {
            self.held.fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn enforce(&self) {
        while self.held.load(Ordering::Relaxed) > self.budget {
            let Some((_, slot)) = self.idle_lock().pop_first() else {
                return;
            };
            if let Some(slot) = slot.upgrade() {
                self.give_up(&slot);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fd() -> OwnedFd {
        rustix::fs::open(
            ".",
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .unwrap()
    }

    #[test]
    fn the_shallowest_idle_directories_give_up_their_descriptors() {
        let budget = FdBudget::new(4);
        let slots: Vec<Arc<FdSlot>> = (0..8).map(|_| Arc::default()).collect();
        for (depth, slot) in slots.iter().enumerate() {
            budget.hold(slot, fd(), depth, false);
            budget.idle(slot, depth);
        }
        let held: Vec<bool> = slots.iter().map(|s| budget.get(s).is_some()).collect();
        // Directories idle while at most half the budget is held keep
        // theirs (the first two); of the others the shallowest go first.
        assert_eq!(
            held,
            [true, true, false, false, false, false, true, true],
            "{held:?}"
        );
        assert!(budget.held.load(Ordering::Relaxed) <= 4);
        // A slot held first is kept.
        let kept = budget.get(&slots[7]).unwrap();
        assert!(Arc::ptr_eq(&budget.hold(&slots[7], fd(), 7, true), &kept));
        budget.release(&slots[7], 7);
        assert!(budget.get(&slots[7]).is_none());
    }
}
