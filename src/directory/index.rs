//! A secondary index from a key to several ords (externalId, e-mail), sharded by
//! dashmap. Most keys name one record, so up to two ords are kept inline without a
//! separate allocation.

use dashmap::DashMap;
use foldhash::fast::RandomState;
use smallvec::SmallVec;

type Ords = SmallVec<[u32; 2]>;

/// Key → ords, for keys that several records may share.
#[derive(Default)]
pub(super) struct MultiIndex {
    map: DashMap<Box<str>, Ords, RandomState>,
}

impl MultiIndex {
    pub(super) fn insert(&self, key: &str, ord: u32) {
        let mut v = self.map.entry(key.into()).or_default();
        if !v.contains(&ord) {
            v.push(ord);
        }
    }

    pub(super) fn remove(&self, key: &str, ord: u32) {
        if let Some(mut v) = self.map.get_mut(key) {
            v.retain(|o| *o != ord);
        }
        self.map.remove_if(key, |_, v| v.is_empty());
    }

    pub(super) fn get(&self, key: &str) -> Vec<u32> {
        self.map.get(key).map(|v| v.to_vec()).unwrap_or_default()
    }
}

/// Live ords in creation order, as a sorted vector: a page at any depth is a slice.
/// New ords are the largest so far, so an insert is a push; a delete shifts the tail.
#[derive(Default)]
pub(super) struct Order {
    ords: parking_lot::RwLock<Vec<u32>>,
}

impl Order {
    pub(super) fn insert(&self, ord: u32) {
        let mut v = self.ords.write();
        match v.last() {
            Some(last) if *last >= ord => {
                if let Err(pos) = v.binary_search(&ord) {
                    v.insert(pos, ord);
                }
            }
            _ => v.push(ord),
        }
    }

    pub(super) fn remove(&self, ord: u32) {
        let mut v = self.ords.write();
        if let Ok(pos) = v.binary_search(&ord) {
            v.remove(pos);
        }
    }

    /// The total, and the ords of `skip..skip + take`.
    pub(super) fn page(&self, skip: usize, take: usize) -> (usize, Vec<u32>) {
        let v = self.ords.read();
        let start = skip.min(v.len());
        let end = start.saturating_add(take).min(v.len());
        (v.len(), v[start..end].to_vec())
    }

    pub(super) fn all(&self) -> Vec<u32> {
        self.ords.read().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_pages_at_any_depth_and_keeps_order() {
        let o = Order::default();
        for i in [1, 2, 3, 5, 4] {
            o.insert(i);
        }
        o.insert(3);
        assert_eq!(o.all(), vec![1, 2, 3, 4, 5]);
        o.remove(2);
        assert_eq!(o.page(1, 2), (4, vec![3, 4]));
        assert_eq!(o.page(3, 10), (4, vec![5]));
        assert_eq!(o.page(9, 10), (4, vec![]));
    }
}
