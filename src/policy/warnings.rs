//! What is wrong with a valid policy set given the directory: groups the policies name
//! that do not exist or have no members. Such a set loads (the group may be provisioned
//! later), but a typo there quietly locks everyone out, so `policy check`, start-up, each
//! live reload (WARN) and the admin Policy page say so.

use std::sync::Arc;

use super::set::PolicySet;
use crate::directory::Directory;

/// One group a policy names that lets nobody in today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupWarning {
    /// The group as the policy spells it.
    pub group: Arc<str>,
    /// Where the policy names it first (`file:line:column`).
    pub location: Arc<str>,
    /// Whether the group is missing, or present without members.
    pub missing: bool,
}

impl std::fmt::Display for GroupWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.missing {
            "does not exist in the directory"
        } else {
            "has no members"
        };
        write!(f, "group `{}` ({}) {what}", self.group, self.location)
    }
}

/// The groups of `set` that do not exist in `directory` or have no members.
pub fn group_warnings(set: &PolicySet, directory: &Directory) -> Vec<GroupWarning> {
    set.group_references()
        .into_iter()
        .filter_map(|(group, location)| {
            let missing = match directory.group_by_name(&group) {
                None => true,
                Some(g) if directory.member_count(g.ord) == 0 => false,
                Some(_) => return None,
            };
            Some(GroupWarning {
                group,
                location,
                missing,
            })
        })
        .collect()
}

/// Logs each warning at WARN.
pub fn log(warnings: &[GroupWarning]) {
    for w in warnings {
        tracing::warn!(
            group = %w.group,
            location = %w.location,
            missing = w.missing,
            "policy warning: {w}"
        );
    }
}
