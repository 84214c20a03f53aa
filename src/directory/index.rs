//! The directory's orders: live ords in creation order ([`Order`]), and ords ordered by
//! a caseless name key ([`NameOrder`]) for sorted listings and prefix filters.

/// Live ords in creation order, as a sorted vector: a page at any depth is a slice.
/// New ords are the largest so far, so an insert is a push; a delete shifts the tail.
#[derive(Default)]
pub(super) struct Order {
    ords: parking_lot::RwLock<Vec<u32>>,
}

impl Order {
    pub(super) fn reserve(&self, n: usize) {
        let mut v = self.ords.write();
        let more = n.saturating_sub(v.len());
        v.reserve_exact(more);
    }

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

    /// Up to `take` live ords greater than `after` (from the first with `None`), in
    /// creation order: a scan walks the directory so, a chunk at a time, without
    /// copying it whole; changes made meanwhile never make it skip or repeat an ord.
    pub(super) fn after(&self, after: Option<u32>, take: usize) -> Vec<u32> {
        let v = self.ords.read();
        let start = after.map_or(0, |a| v.partition_point(|o| *o <= a));
        v[start..start.saturating_add(take).min(v.len())].to_vec()
    }
}

/// One entry of a [`NameOrder`]: the caseless key, then the ord (the tie-break).
type Entry = (Box<str>, u32);

/// Largest chunk before it is split in two.
const CHUNK_MAX: usize = 2048;

/// Ords ordered by a caseless name key, ties by ord: the index behind `sortBy=userName`
/// (or a group's displayName) and `sw` filters. It is kept as consecutive sorted chunks
/// (one level of a B-tree), so an insert or delete moves at most one chunk, a key is
/// found by two binary searches and a page at any depth by summing chunk lengths; a
/// read copies only the ords it returns.
#[derive(Default)]
pub(super) struct NameOrder {
    chunks: parking_lot::RwLock<Vec<Vec<Entry>>>,
}

fn entry_lt(e: &Entry, key: &str, ord: u32) -> bool {
    (&*e.0, e.1) < (key, ord)
}

/// The chunk an entry `(key, ord)` belongs in, and its place there.
fn locate(chunks: &[Vec<Entry>], key: &str, ord: u32) -> Option<(usize, Result<usize, usize>)> {
    if chunks.is_empty() {
        return None;
    }
    let c = chunks
        .partition_point(|ch| ch.last().is_some_and(|e| entry_lt(e, key, ord)))
        .min(chunks.len() - 1);
    let pos = chunks[c].binary_search_by(|e| (&*e.0, e.1).cmp(&(key, ord)));
    Some((c, pos))
}

/// The rank of the first entry for which `before` is false (`before` holds for a
/// prefix of the order).
fn rank_where(chunks: &[Vec<Entry>], before: impl Fn(&Entry) -> bool) -> usize {
    let c = chunks.partition_point(|ch| ch.last().is_some_and(&before));
    let full: usize = chunks[..c].iter().map(Vec::len).sum();
    full + chunks.get(c).map_or(0, |ch| ch.partition_point(&before))
}

/// The ords at ranks `from..to`, in that order or reversed.
fn ords_between(chunks: &[Vec<Entry>], from: usize, to: usize, descending: bool) -> Vec<u32> {
    let mut out = Vec::with_capacity(to.saturating_sub(from));
    let mut start = 0;
    for ch in chunks {
        let end = start + ch.len();
        if end > from && start < to {
            let lo = from.saturating_sub(start);
            let hi = (to - start).min(ch.len());
            out.extend(ch[lo..hi].iter().map(|e| e.1));
        }
        if end >= to {
            break;
        }
        start = end;
    }
    if descending {
        out.reverse();
    }
    out
}

impl NameOrder {
    /// The order of `entries`, which are sorted and distinct, in half-full chunks.
    pub(super) fn from_sorted(entries: Vec<Entry>) -> Self {
        let mut chunks: Vec<Vec<Entry>> = Vec::with_capacity(entries.len().div_ceil(CHUNK_MAX / 2));
        let mut chunk: Vec<Entry> = Vec::new();
        for e in entries {
            if chunk.len() == CHUNK_MAX / 2 {
                chunks.push(std::mem::take(&mut chunk));
            }
            if chunk.is_empty() {
                chunk.reserve_exact(CHUNK_MAX / 2);
            }
            chunk.push(e);
        }
        if !chunk.is_empty() {
            chunks.push(chunk);
        }
        NameOrder {
            chunks: parking_lot::RwLock::new(chunks),
        }
    }

    pub(super) fn insert(&self, key: &str, ord: u32) {
        let mut chunks = self.chunks.write();
        match locate(&chunks, key, ord) {
            None => chunks.push(vec![(key.into(), ord)]),
            Some((_, Ok(_))) => {}
            Some((c, Err(pos))) => {
                let ch = &mut chunks[c];
                ch.insert(pos, (key.into(), ord));
                if ch.len() > CHUNK_MAX {
                    let tail = ch.split_off(ch.len() / 2);
                    chunks.insert(c + 1, tail);
                }
            }
        }
    }

    pub(super) fn remove(&self, key: &str, ord: u32) {
        let mut chunks = self.chunks.write();
        if let Some((c, Ok(pos))) = locate(&chunks, key, ord) {
            chunks[c].remove(pos);
            if chunks[c].is_empty() {
                chunks.remove(c);
            }
        }
    }

    /// The entries whose key starts with `prefix` (all of them for an empty prefix):
    /// how many, and the ords of `skip..skip + take` of them in key order (or reversed).
    pub(super) fn page(
        &self,
        prefix: &str,
        skip: usize,
        take: usize,
        descending: bool,
    ) -> (usize, Vec<u32>) {
        let chunks = self.chunks.read();
        let (from, to) = prefix_ranks(&chunks, prefix);
        let total = to - from;
        let skip = skip.min(total);
        let n = take.min(total - skip);
        let ords = if descending {
            ords_between(&chunks, to - skip - n, to - skip, true)
        } else {
            ords_between(&chunks, from + skip, from + skip + n, false)
        };
        (total, ords)
    }

    /// The ords of every entry whose key starts with `prefix`, in key order.
    pub(super) fn with_prefix(&self, prefix: &str) -> Vec<u32> {
        let chunks = self.chunks.read();
        let (from, to) = prefix_ranks(&chunks, prefix);
        ords_between(&chunks, from, to, false)
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.chunks.read().iter().map(Vec::len).sum()
    }
}

/// The ranks `from..to` of the keys that start with `prefix` (contiguous: every such
/// key is at least `prefix`, and any key between two of them shares the prefix).
fn prefix_ranks(chunks: &[Vec<Entry>], prefix: &str) -> (usize, usize) {
    let from = rank_where(chunks, |e| &*e.0 < prefix);
    let to = rank_where(chunks, |e| &*e.0 < prefix || e.0.starts_with(prefix));
    (from, to)
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
        assert_eq!(o.after(None, 2), vec![1, 3]);
        assert_eq!(o.after(Some(3), 10), vec![4, 5]);
        assert_eq!(o.after(Some(2), 1), vec![3]);
        assert_eq!(o.after(Some(9), 1), Vec::<u32>::new());
    }

    #[test]
    fn name_order_built_from_sorted_entries_pages_and_changes_like_inserted() {
        let count = (CHUNK_MAX * 2 + 5) as u32;
        let entries: Vec<Entry> = (0..count).map(|i| (format!("k{i:06}").into(), i)).collect();
        let built = NameOrder::from_sorted(entries.clone());
        let inserted = NameOrder::default();
        for (k, o) in entries.iter().rev() {
            inserted.insert(k, *o);
        }
        for (prefix, skip, take, desc) in [
            ("", 0, 5, false),
            ("", 4000, 9, true),
            ("k0012", 3, 20, false),
        ] {
            assert_eq!(
                built.page(prefix, skip, take, desc),
                inserted.page(prefix, skip, take, desc)
            );
        }
        built.insert("a", count);
        built.remove("k000000", 0);
        assert_eq!(keys(&built, "", 0, 2, false), vec![count, 1]);
        assert_eq!(built.len(), count as usize);
        assert_eq!(
            NameOrder::from_sorted(Vec::new()).page("", 0, 5, false),
            (0, vec![])
        );
    }

    fn keys(n: &NameOrder, prefix: &str, skip: usize, take: usize, desc: bool) -> Vec<u32> {
        n.page(prefix, skip, take, desc).1
    }

    #[test]
    fn name_order_pages_ranges_and_ties_across_chunks() {
        let n = NameOrder::default();
        // More than one chunk, inserted out of order.
        let count = (CHUNK_MAX * 3) as u32;
        for i in (0..count).rev() {
            n.insert(&format!("u{:05}", i), i);
        }
        assert_eq!(n.len(), count as usize);
        assert_eq!(keys(&n, "", 0, 3, false), vec![0, 1, 2]);
        assert_eq!(
            keys(&n, "", 0, 3, true),
            vec![count - 1, count - 2, count - 3]
        );
        let deep = CHUNK_MAX as u32 + 7;
        assert_eq!(keys(&n, "", deep as usize, 2, false), vec![deep, deep + 1]);
        assert_eq!(
            keys(&n, "", deep as usize, 2, true),
            vec![count - 1 - deep, count - 2 - deep]
        );
        // A prefix range: u0100x is 10 keys.
        assert_eq!(n.page("u0100", 0, 100, false).0, 10);
        assert_eq!(keys(&n, "u0100", 8, 5, false), vec![1008, 1009]);
        assert_eq!(keys(&n, "u0100", 8, 5, true), vec![1001, 1000]);
        assert_eq!(n.with_prefix("u0100").len(), 10);
        assert_eq!(n.page("v", 0, 10, false), (0, vec![]));
        assert_eq!(
            n.page("u", count as usize + 5, 10, true),
            (count as usize, vec![])
        );
        // Ties on the key order by ord; removal of one leaves the other.
        n.insert("same", 9_000_001);
        n.insert("same", 9_000_000);
        assert_eq!(keys(&n, "same", 0, 5, false), vec![9_000_000, 9_000_001]);
        n.remove("same", 9_000_000);
        assert_eq!(keys(&n, "same", 0, 5, false), vec![9_000_001]);
        // Removing everything empties every chunk.
        for i in 0..count {
            n.remove(&format!("u{:05}", i), i);
        }
        n.remove("same", 9_000_001);
        assert_eq!(n.len(), 0);
        assert_eq!(n.page("", 0, 10, false), (0, vec![]));
    }
}
