//! Handle tables: objects addressed across the C ABI by `u32` handles, so that a stale, closed
//! or made-up handle is an error code, never undefined behaviour.
//!
//! A handle is a 32-bit sequence number and its low bits are its slot: the table issues
//! handles in increasing order (skipping 0 and values whose slot is taken), so a handle value
//! comes back only after the counter wrapped, 2^32 handles later, however often one slot is
//! reused. (With the old 16-bit slot / 16-bit generation split, 65,536 reopens of one slot made a
//! stale handle valid again.) A lookup takes only its own slot's read lock, never a lock of the
//! whole table, and clones the value (an `Arc`); a slot's write lock is taken only by insert and
//! remove.

use std::sync::{Mutex, RwLock};

use crate::sync::{LockExt, RwLockExt};

struct Slot<T> {
    handle: u32,
    value: Option<T>,
}

/// A table of at most `N` live objects (`N` a power of two), each a cheap-to-clone `T` (an
/// `Arc` or a type around one).
pub struct HandleTable<T, const N: usize> {
    slots: [RwLock<Slot<T>>; N],
    /// The next handle to issue (if its slot is free; 0 is skipped, and keeps the table all
    /// zeros, so a static one costs no space in the library file).
    next: Mutex<u32>,
}

impl<T: Clone, const N: usize> HandleTable<T, N> {
    const MASK: u32 = {
        assert!(N.is_power_of_two() && N <= 1 << 31);
        (N - 1) as u32
    };

    pub const fn new() -> Self {
        Self::starting_at(0)
    }

    /// A table whose first handle is `first` (tests of the wrap-around).
    const fn starting_at(first: u32) -> Self {
        Self {
            slots: [const {
                RwLock::new(Slot {
                    handle: 0,
                    value: None,
                })
            }; N],
            next: Mutex::new(first),
        }
    }

    fn slot(&self, h: u32) -> &RwLock<Slot<T>> {
        &self.slots[(h & Self::MASK) as usize]
    }

    /// Stores `value` and returns its handle (never 0), or `None` when all `N` slots are taken.
    pub fn insert(&self, value: T) -> Option<u32> {
        let mut next = self.next.lock_or_recover();
        let mut h = *next;
        // N + 1 candidates cover every slot even when one of them is the skipped 0.
        for _ in 0..=N {
            if h != 0 {
                let mut slot = self.slot(h).write_or_recover();
                if slot.value.is_none() {
                    slot.handle = h;
                    slot.value = Some(value);
                    *next = h.wrapping_add(1);
                    return Some(h);
                }
            }
            h = h.wrapping_add(1);
        }
        None
    }

    /// The object of a live handle.
    #[inline]
    pub fn get(&self, h: u32) -> Option<T> {
        let slot = self.slot(h).read_or_recover();
        match &slot.value {
            Some(v) if slot.handle == h => Some(v.clone()),
            _ => None,
        }
    }

    /// Removes a live handle's object; `None` if the handle is stale (a second close).
    pub fn remove(&self, h: u32) -> Option<T> {
        let mut slot = self.slot(h).write_or_recover();
        if slot.handle != h {
            return None;
        }
        slot.value.take()
    }
}

impl<T: Clone, const N: usize> HandleTable<T, N> {
    /// Removes every live object (process exit); returns them.
    pub fn take_all(&self) -> Vec<T> {
        self.slots
            .iter()
            .filter_map(|s| s.write_or_recover().value.take())
            .collect()
    }
}

impl<T: Clone, const N: usize> Default for HandleTable<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn stale_and_double_removed_handles_are_refused() {
        let t: HandleTable<Arc<u32>, 4> = HandleTable::new();
        let a = t.insert(Arc::new(1)).unwrap();
        assert_eq!(t.get(a).as_deref(), Some(&1));
        assert_eq!(t.remove(a).as_deref(), Some(&1));
        assert!(t.remove(a).is_none(), "double close");
        let b = t.insert(Arc::new(2)).unwrap();
        assert_ne!(a, b);
        assert!(t.get(a).is_none(), "stale handle");
        assert!(t.get(0xDEAD_BEEF).is_none());
        assert!(t.get(0).is_none());
    }

    #[test]
    fn a_stale_handle_never_aliases_a_live_one_after_many_reopens() {
        let t: HandleTable<Arc<u32>, 4> = HandleTable::new();
        let held: Vec<u32> = (0..3).map(|i| t.insert(Arc::new(i)).unwrap()).collect();
        // One free slot, reopened far more often than a 16-bit generation allows.
        let first = t.insert(Arc::new(9)).unwrap();
        t.remove(first);
        for _ in 0..200_000 {
            let h = t.insert(Arc::new(7)).unwrap();
            assert_ne!(h, first);
            assert!(t.get(first).is_none());
            t.remove(h);
        }
        for (i, h) in held.iter().enumerate() {
            assert_eq!(t.get(*h).as_deref(), Some(&(i as u32)));
        }
    }

    #[test]
    fn a_full_table_refuses_and_handles_wrap_around_without_0() {
        let t: HandleTable<Arc<u32>, 2> = HandleTable::starting_at(u32::MAX);
        let a = t.insert(Arc::new(1)).unwrap();
        let b = t.insert(Arc::new(2)).unwrap();
        assert_eq!(
            (a, b),
            (u32::MAX, 2),
            "0 is never a handle; 1 is in a's slot"
        );
        assert!(t.insert(Arc::new(3)).is_none(), "full");
        t.remove(a);
        assert_eq!(t.insert(Arc::new(4)), Some(3));
    }
}
