//! A key index that keeps no keys: each entry is the key's 32-bit hash and an ord
//! (8 bytes), in sharded hash tables. A lookup returns the ords filed under the key's
//! hash, which the directory checks against the records themselves (the key is a
//! field of the record), so a hash collision never answers a wrong record. For a
//! million users this replaces a copy of every key, a hash-map entry and a small
//! vector per key with 8 bytes and the table's slack.

use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use hashbrown::HashTable;
use parking_lot::RwLock;
use smallvec::SmallVec;

const SHARD_BITS: u32 = 4;
const SHARDS: usize = 1 << SHARD_BITS;

/// The ords a lookup returns; nearly always one.
pub(super) type Candidates = SmallVec<[u32; 4]>;

#[derive(Clone, Copy)]
struct Slot {
    hash: u32,
    ord: u32,
}

/// The table hash of a stored 32-bit hash. The shard is chosen by the top bits of the
/// 32, and the multiplication spreads the rest over all 64 (hashbrown places by the low
/// bits and tags by the top seven).
fn spread(h: u32) -> u64 {
    u64::from(h).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Key → ords, by hash; the caller confirms each ord against its record.
pub(super) struct KeyIndex {
    state: RandomState,
    shards: Box<[RwLock<HashTable<Slot>>]>,
}

impl Default for KeyIndex {
    fn default() -> Self {
        KeyIndex {
            state: RandomState::default(),
            shards: (0..SHARDS).map(|_| RwLock::new(HashTable::new())).collect(),
        }
    }
}

impl KeyIndex {
    fn hash(&self, key: &str) -> u32 {
        (self.state.hash_one(key) >> 32) as u32
    }

    fn shard(&self, h: u32) -> &RwLock<HashTable<Slot>> {
        &self.shards[(h >> (32 - SHARD_BITS)) as usize]
    }

    /// Room for `n` entries without rehashing.
    pub(super) fn reserve(&self, n: usize) {
        let per = n.div_ceil(SHARDS);
        for s in self.shards.iter() {
            s.write().reserve(per, |s| spread(s.hash));
        }
    }

    /// Files `ord` under `key` (once, however often it is inserted).
    pub(super) fn insert(&self, key: &str, ord: u32) {
        let h = self.hash(key);
        let mut t = self.shard(h).write();
        if t.find(spread(h), |s| s.hash == h && s.ord == ord).is_none() {
            t.insert_unique(spread(h), Slot { hash: h, ord }, |s| spread(s.hash));
        }
    }

    pub(super) fn remove(&self, key: &str, ord: u32) {
        let h = self.hash(key);
        let mut t = self.shard(h).write();
        if let Ok(e) = t.find_entry(spread(h), |s| s.hash == h && s.ord == ord) {
            e.remove();
        }
    }

    /// Every ord filed under `key`, and perhaps a few filed under another key with the
    /// same hash: check each against its record.
    pub(super) fn candidates(&self, key: &str) -> Candidates {
        let h = self.hash(key);
        let t = self.shard(h).read();
        t.iter_hash(spread(h))
            .filter(|s| s.hash == h)
            .map(|s| s.ord)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_index_files_ords_once_and_removes_them() {
        let k = KeyIndex::default();
        k.reserve(100);
        for i in 0..1000u32 {
            k.insert(&format!("key-{i}"), i);
        }
        k.insert("key-7", 7);
        k.insert("key-7", 2000);
        let mut seven = k.candidates("key-7");
        seven.sort_unstable();
        assert_eq!(seven.as_slice(), &[7, 2000]);
        k.remove("key-7", 7);
        assert_eq!(k.candidates("key-7").as_slice(), &[2000]);
        assert!(k.candidates("key-1").contains(&1));
        assert!(k.candidates("absent").is_empty());
    }
}
