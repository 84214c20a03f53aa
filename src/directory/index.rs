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
