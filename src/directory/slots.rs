//! Values kept by ord in vectors instead of hash maps: ords are dense (creation
//! order), so a slot is the ord's position, with no hashing and no table slack. The
//! ords are spread over a few shards, each behind its own lock, so that readers on
//! different ords rarely meet, and growing one shard copies only its part.

use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::RwLock;

const SHARD_BITS: u32 = 4;
const SHARDS: usize = 1 << SHARD_BITS;
const MASK: u32 = (SHARDS as u32) - 1;

/// Ord → value, for dense ords.
pub(super) struct Slots<T> {
    shards: Box<[RwLock<Vec<Option<T>>>]>,
    len: AtomicUsize,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Slots {
            shards: (0..SHARDS).map(|_| RwLock::new(Vec::new())).collect(),
            len: AtomicUsize::new(0),
        }
    }
}

fn place(ord: u32) -> (usize, usize) {
    ((ord & MASK) as usize, (ord >> SHARD_BITS) as usize)
}

impl<T: Clone> Slots<T> {
    /// Room for ords below `n` without growing.
    pub(super) fn reserve(&self, n: u32) {
        let per = (n as usize).div_ceil(SHARDS);
        for s in self.shards.iter() {
            let mut v = s.write();
            let more = per.saturating_sub(v.len());
            v.reserve_exact(more);
        }
    }

    pub(super) fn get(&self, ord: u32) -> Option<T> {
        let (s, i) = place(ord);
        self.shards[s].read().get(i).and_then(Clone::clone)
    }

    /// Reads a value in place (no clone).
    pub(super) fn with<R>(&self, ord: u32, f: impl FnOnce(&T) -> R) -> Option<R> {
        let (s, i) = place(ord);
        self.shards[s].read().get(i).and_then(Option::as_ref).map(f)
    }

    pub(super) fn contains(&self, ord: u32) -> bool {
        self.with(ord, |_| ()).is_some()
    }

    /// Sets the value of `ord`; returns the one it replaces.
    pub(super) fn insert(&self, ord: u32, value: T) -> Option<T> {
        let (s, i) = place(ord);
        let mut v = self.shards[s].write();
        if v.len() <= i {
            v.resize_with(i + 1, || None);
        }
        let old = v[i].replace(value);
        if old.is_none() {
            self.len.fetch_add(1, Ordering::Relaxed);
        }
        old
    }

    /// Changes the value of `ord` in place, if there is one.
    pub(super) fn update(&self, ord: u32, f: impl FnOnce(&mut T)) {
        let (s, i) = place(ord);
        if let Some(Some(t)) = self.shards[s].write().get_mut(i) {
            f(t);
        }
    }

    pub(super) fn remove(&self, ord: u32) -> Option<T> {
        let (s, i) = place(ord);
        let old = self.shards[s].write().get_mut(i).and_then(Option::take);
        if old.is_some() {
            self.len.fetch_sub(1, Ordering::Relaxed);
        }
        old
    }

    /// How many ords hold a value.
    pub(super) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_insert_replace_remove_and_count() {
        let s: Slots<u64> = Slots::default();
        s.reserve(10);
        assert_eq!(s.insert(3, 30), None);
        assert_eq!(s.insert(1000, 1), None);
        assert_eq!(s.insert(3, 31), Some(30));
        assert_eq!(s.len(), 2);
        assert_eq!(s.get(3), Some(31));
        assert_eq!(s.get(4), None);
        assert_eq!(s.get(u32::MAX), None);
        s.update(1000, |v| *v += 1);
        assert_eq!(s.with(1000, |v| *v), Some(2));
        assert!(s.contains(1000));
        assert_eq!(s.remove(1000), Some(2));
        assert_eq!(s.remove(1000), None);
        assert!(!s.contains(1000));
        assert_eq!(s.len(), 1);
    }
}
