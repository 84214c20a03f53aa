//! The subject of a policy decision as the live directory sees them.
//!
//! Groups come from the directory (effective groups, through nesting, and the
//! time-bound memberships of approved access requests: `Directory::decision_groups`),
//! never from token claims. The user's effective groups are taken once, as a sorted shared
//! slice; `in_group` resolves the rule's group name (already a caseless key) through the
//! directory's displayName index and binary-searches that slice, without allocating.
//! A policy set resolves its group names once per directory state instead
//! (`super::groups`), using the state the groups were read on.

use std::sync::Arc;

use super::model::{DirectoryGroups, Subject};
use crate::directory::Directory;
use crate::record::UserRecord;

/// A directory user, presented to the policy rules.
pub struct DirectorySubject {
    directory: Arc<Directory>,
    user: Arc<UserRecord>,
    /// Decision group ords (effective and granted), sorted.
    groups: Arc<[u32]>,
    /// The directory's change epoch `groups` were read at, if no change was being
    /// applied meanwhile.
    epoch: Option<u64>,
}

impl DirectorySubject {
    /// The user as the directory holds them now.
    pub fn new(dir: &Arc<Directory>, user: Arc<UserRecord>) -> Self {
        let before = dir.epoch();
        let groups = dir.decision_groups(user.ord);
        let epoch = dir.epoch_after(before).then_some(before);
        DirectorySubject {
            directory: dir.clone(),
            user,
            groups,
            epoch,
        }
    }

    /// `user` in no group, without reading the directory: the stand-in caller of the
    /// benchmark ladder's lowest rungs (`gate::ladder`).
    pub fn without_groups(dir: &Arc<Directory>, user: Arc<UserRecord>) -> Self {
        DirectorySubject {
            directory: dir.clone(),
            user,
            groups: no_groups(),
            epoch: None,
        }
    }

    /// The user's record.
    pub fn record(&self) -> &Arc<UserRecord> {
        &self.user
    }

    /// displayNames of the user's effective groups, sorted (for explain and pages).
    pub fn group_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .groups
            .iter()
            .filter_map(|g| self.directory.group(*g))
            .map(|g| g.display_name.to_string())
            .collect();
        names.sort_by_cached_key(|n| crate::ident::caseless_key(n));
        names
    }
}

impl std::fmt::Debug for DirectorySubject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectorySubject")
            .field("user", &self.user.user_name)
            .field("groups", &self.groups)
            .finish()
    }
}

impl Subject for DirectorySubject {
    fn id(&self) -> &str {
        &self.user.id
    }

    fn user_name(&self) -> &str {
        &self.user.user_name
    }

    fn emails(&self) -> &[Box<str>] {
        &self.user.emails
    }

    fn license(&self) -> Option<&str> {
        self.user.license.as_deref()
    }

    fn user_type(&self) -> Option<&str> {
        self.user.user_type.as_deref()
    }

    fn external_id(&self) -> Option<&str> {
        self.user.external_id.as_deref()
    }

    fn in_group(&self, display_name: &str) -> bool {
        let ord = if crate::ident::is_key(display_name) {
            self.directory.group_ord_by_lower_name(display_name)
        } else {
            self.directory
                .group_ord_by_lower_name(&crate::record::name_key(display_name))
        };
        ord.is_some_and(|o| self.groups.binary_search(&o).is_ok())
    }

    fn directory_groups(&self) -> Option<DirectoryGroups<'_>> {
        Some(DirectoryGroups {
            directory: &self.directory,
            epoch: self.epoch?,
            ords: &self.groups,
        })
    }
}

/// The empty group list, shared (an `Arc` of nothing still allocates its counts).
fn no_groups() -> Arc<[u32]> {
    static EMPTY: std::sync::OnceLock<Arc<[u32]>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(|| Arc::from([])).clone()
}
