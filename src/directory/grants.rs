//! Time-bound memberships: the groups approved access requests add to a user for a
//! while, beside (never inside) the SCIM memberships.
//!
//! A grant names its group by caseless displayName and its end in Unix milliseconds.
//! It is read only for decisions ([`super::Directory::decision_groups`]): SCIM reads
//! and writes, and a group's members, never see it. A grant is judged against its end
//! at read time, so the request right after the end is judged without it even before
//! the grant is removed; starting and removing a grant bump the directory's epoch and
//! the grants' generation, so cached readings made before are not reused.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use super::Map;

/// One time-bound membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TempGrant {
    /// The access request it comes from.
    pub id: Arc<str>,
    /// The group, by its caseless key ([`crate::record::name_key`]).
    pub group: Box<str>,
    /// Unix milliseconds; the grant holds before it.
    pub ends_at: i64,
}

/// Every user's time-bound memberships.
#[derive(Default)]
pub(super) struct Grants {
    by_user: Map<u32, Arc<[TempGrant]>>,
    /// Users with at least one grant: zero lets decisions skip the lookup.
    users: AtomicUsize,
    generation: AtomicU64,
}

impl Grants {
    /// Whether no user holds a grant (decisions then skip the clock and the lookup).
    pub(super) fn is_empty(&self) -> bool {
        self.users.load(Ordering::Acquire) == 0
    }

    /// The user's grants that hold at `now`, if any.
    pub(super) fn live(&self, user: u32, now: i64) -> Option<Vec<TempGrant>> {
        if self.users.load(Ordering::Acquire) == 0 {
            return None;
        }
        let list = self.by_user.get(&user)?.clone();
        let live: Vec<TempGrant> = list.iter().filter(|g| g.ends_at > now).cloned().collect();
        (!live.is_empty()).then_some(live)
    }

    /// Adds (or replaces, by id) a grant of `user`.
    pub(super) fn insert(&self, user: u32, grant: TempGrant) {
        let mut entry = self.by_user.entry(user).or_insert_with(|| {
            self.users.fetch_add(1, Ordering::AcqRel);
            Arc::from(Vec::new())
        });
        let mut next: Vec<TempGrant> = entry.iter().filter(|g| g.id != grant.id).cloned().collect();
        next.push(grant);
        *entry = Arc::from(next);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Whether the grant `id` is held (by anyone).
    pub(super) fn holds(&self, id: &str) -> bool {
        self.users.load(Ordering::Acquire) > 0
            && self.by_user.iter().any(|e| e.iter().any(|g| &*g.id == id))
    }

    /// Removes the grant `id`; whether there was one.
    pub(super) fn remove(&self, id: &str) -> bool {
        let owner = self
            .by_user
            .iter()
            .find(|e| e.iter().any(|g| &*g.id == id))
            .map(|e| *e.key());
        let Some(user) = owner else {
            return false;
        };
        let mut removed = false;
        let mut empty = false;
        if let Some(mut entry) = self.by_user.get_mut(&user) {
            let next: Vec<TempGrant> = entry.iter().filter(|g| &*g.id != id).cloned().collect();
            removed = next.len() != entry.len();
            empty = next.is_empty();
            *entry = Arc::from(next);
        }
        if empty && self.by_user.remove_if(&user, |_, l| l.is_empty()).is_some() {
            self.users.fetch_sub(1, Ordering::AcqRel);
        }
        if removed {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        removed
    }

    /// Changes with every grant started or removed.
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// How many grants are held.
    pub(super) fn count(&self) -> usize {
        self.by_user.iter().map(|e| e.len()).sum()
    }
}
