//! Directory changes as the store commits them, and the snapshot the directory is
//! rebuilt from.

use std::sync::Arc;

use super::{AuditEntry, GroupRecord, Member, UserRecord};

/// One write inside a change.
#[derive(Debug, Clone)]
pub enum StoreOp {
    PutUser(Arc<UserRecord>),
    DeleteUser {
        ord: u32,
    },
    PutGroup(Arc<GroupRecord>),
    DeleteGroup {
        ord: u32,
    },
    Members {
        group: u32,
        replace_all: bool,
        add: Vec<Member>,
        remove: Vec<Member>,
    },
}

/// One directory change: its writes, plus what the change log and audit record say.
#[derive(Debug, Clone)]
pub struct Change {
    /// Unix milliseconds.
    pub at: i64,
    /// Who made it (`scim:<token>`, `admin:<token>`).
    pub actor: String,
    /// What happened, e.g. `user.create`, `group.patch`, `user.delete`.
    pub action: &'static str,
    pub resource_type: &'static str,
    pub resource_id: String,
    /// The resource before and after, as JSON text (absent for create / delete).
    pub before: Option<String>,
    pub after: Option<String>,
    pub ops: Vec<StoreOp>,
}

impl Change {
    /// The audit record of this change (written in the change's transaction).
    pub fn audit_entry(&self) -> AuditEntry {
        AuditEntry {
            at: self.at,
            actor: self.actor.clone(),
            action: self.action.to_owned(),
            target: format!("{}/{}", self.resource_type, self.resource_id),
            before: self.before.clone(),
            after: self.after.clone(),
            detail: None,
        }
    }
}

/// Everything needed to rebuild the directory at start.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub users: Vec<UserRecord>,
    pub groups: Vec<GroupRecord>,
    /// (group ord, member).
    pub memberships: Vec<(u32, Member)>,
    /// The sequence number of the last committed change.
    pub last_seq: u64,
}
