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

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwapOption;

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
    /// By name id; `None`: no group has that name.
    ords: Box<[Option<u32>]>,
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
        if let Some(r) = self.resolved.load_full() {
            if r.epoch == groups.epoch {
                return Membership::Resolved {
                    table: r,
                    user: groups.ords,
                };
            }
        }
        match self.resolve(&groups) {
            Some(table) => Membership::Resolved {
                table,
                user: groups.ords,
            },
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
        let ords: Box<[Option<u32>]> = self
            .names
            .iter()
            .map(|n| dir.group_ord_by_lower_name(n))
            .collect();
        if !dir.epoch_after(before) {
            return None;
        }
        let table = Arc::new(Resolved {
            epoch: before,
            ords,
        });
        self.resolved.store(Some(table.clone()));
        Some(table)
    }
}

/// Membership checks for one decision.
pub(crate) enum Membership<'a> {
    /// Through the resolved table and the user's sorted group ords.
    Resolved {
        table: Arc<Resolved>,
        user: &'a [u32],
    },
    /// By name, through [`Subject::in_group`].
    ByName(&'a dyn Subject),
}

impl Membership<'_> {
    /// Whether the user is in the group with interned id `id`, whose lower-cased
    /// name is `lower`.
    pub(crate) fn contains(&self, id: u32, lower: &str) -> bool {
        match self {
            Membership::Resolved { table, user } => table
                .ords
                .get(id as usize)
                .copied()
                .flatten()
                .is_some_and(|ord| user.binary_search(&ord).is_ok()),
            Membership::ByName(who) => who.in_group(lower),
        }
    }
}
