//! The group names a policy set's rules mention, interned once per set, and their
//! directory group ords, resolved once per directory state.
//!
//! Without this, every group condition of every rule that applies to a request looks
//! the name up in the directory's displayName index (a hash and a shard lock per
//! name: a 200-rule route costs hundreds of lookups per request). With it, a decision
//! resolves nothing: each rule group is an index into a table of ords, and membership
//! is a binary search over the user's sorted effective groups. The table is used only
//! when it was built on exactly the directory state the user's groups were read from
//! (the directory's change epoch, see [`crate::directory::Directory::epoch`]); any
//! other time, checks go by name as before, so a SCIM change is never judged on a
//! stale table.
//!
//! With the table, a decision first works out which of the set's names the user is in
//! ([`Held`]: one merge of the user's sorted ords with the table's resolved names sorted
//! by ord, kept as bits by name id); every group condition is then one bit test, and a
//! rule whose groups the user is in none of is skipped before its method and paths are
//! looked at ([`super::rule::Rule::matches`]).

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use smallvec::SmallVec;

use super::model::{DirectoryGroups, Subject};

/// Interned lower-cased group names and the last resolution of them.
#[derive(Default)]
pub(crate) struct GroupTable {
    /// By id.
    names: Vec<Box<str>>,
    ids: HashMap<Box<str>, u32>,
    resolved: ArcSwapOption<Resolved>,
}

/// The names' group ords on one directory state.
pub(crate) struct Resolved {
    epoch: u64,
    /// `(ord, name id)` of every name a group has, sorted.
    by_ord: Box<[(u32, u32)]>,
    /// How many names the table had (the bits of a [`Held`]).
    names: usize,
}

impl Resolved {
    /// Which names a user whose sorted effective group ords are `user` is in.
    fn held(&self, user: &[u32]) -> Held {
        let mut bits: SmallVec<[u64; 16]> = SmallVec::from_elem(0, self.names.div_ceil(64));
        let (mut i, mut j) = (0, 0);
        while let (Some(&ord), Some(&(named, id))) = (user.get(i), self.by_ord.get(j)) {
            match ord.cmp(&named) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    if let Some(word) = bits.get_mut(id as usize / 64) {
                        *word |= 1 << (id % 64);
                    }
                    // Another name may resolve to the same ord.
                    j += 1;
                }
            }
        }
        Held(bits)
    }
}

/// The names of a [`GroupTable`] one user is in, as bits by name id (on the stack for
/// up to 1,024 names).
pub(crate) struct Held(SmallVec<[u64; 16]>);

impl Held {
    #[inline]
    fn contains(&self, id: u32) -> bool {
        self.0
            .get(id as usize / 64)
            .is_some_and(|word| word & (1 << (id % 64)) != 0)
    }
}

impl std::fmt::Debug for GroupTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupTable")
            .field("names", &self.names.len())
            .finish()
    }
}

impl GroupTable {
    /// The id of a lower-cased group name, added if new.
    pub(crate) fn intern(&mut self, lower: &str) -> u32 {
        if let Some(id) = self.ids.get(lower) {
            return *id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(lower.into());
        self.ids.insert(lower.into(), id);
        id
    }

    /// How `who`'s group memberships are checked for one decision.
    pub(crate) fn membership<'a>(&self, who: &'a dyn Subject) -> Membership<'a> {
        let by_name = Membership::ByName(who);
        if self.names.is_empty() {
            return by_name;
        }
        let Some(groups) = who.directory_groups() else {
            return by_name;
        };
        {
            let current = self.resolved.load();
            if let Some(r) = current.as_deref().filter(|r| r.epoch == groups.epoch) {
                return Membership::Resolved(r.held(groups.ords));
            }
        }
        match self.resolve(&groups) {
            Some(table) => Membership::Resolved(table.held(groups.ords)),
            None => by_name,
        }
    }

    /// Resolves every name on the directory state `groups` was read from, if the
    /// directory is still in that state (and stays in it while resolving).
    fn resolve(&self, groups: &DirectoryGroups<'_>) -> Option<Arc<Resolved>> {
        let dir = groups.directory;
        let before = dir.epoch();
        if before != groups.epoch {
            return None;
        }
        let mut by_ord: Vec<(u32, u32)> = self
            .names
            .iter()
            .zip(0u32..)
            .filter_map(|(n, id)| Some((dir.group_ord_by_lower_name(n)?, id)))
            .collect();
        if !dir.epoch_after(before) {
            return None;
        }
        by_ord.sort_unstable();
        let table = Arc::new(Resolved {
            epoch: before,
            by_ord: by_ord.into(),
            names: self.names.len(),
        });
        self.resolved.store(Some(table.clone()));
        Some(table)
    }
}

/// Membership checks for one decision.
pub(crate) enum Membership<'a> {
    /// Through the resolved table: the names the user is in.
    Resolved(Held),
    /// By name, through [`Subject::in_group`].
    ByName(&'a dyn Subject),
}

impl Membership<'_> {
    /// Whether the user is in the group with interned id `id`, whose lower-cased
    /// name is `lower`.
    pub(crate) fn contains(&self, id: u32, lower: &str) -> bool {
        match self {
            Membership::Resolved(held) => held.contains(id),
            Membership::ByName(who) => who.in_group(lower),
        }
    }

    /// Whether the user may be in one of the groups with interned ids `ids`: `false`
    /// only when the table says they are in none of them.
    #[inline]
    pub(crate) fn may_hold_any(&self, ids: &[u32]) -> bool {
        match self {
            Membership::Resolved(held) => ids.iter().any(|id| held.contains(*id)),
            Membership::ByName(_) => true,
        }
    }
}
