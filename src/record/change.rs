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

/// Where a store streams the directory's rows as it reads them (so the directory is
/// built without first holding every row as a record in a list). A store calls
/// [`SnapshotSink::expect`] first, then every user in ord order, every group in ord
/// order, every membership (fastest for the directory when each user's memberships
/// come together), and the last sequence number.
pub trait SnapshotSink {
    /// One past the highest user and group ords, before the rows (a size hint).
    fn expect(&mut self, user_ords: u32, group_ords: u32) {
        let _ = (user_ords, group_ords);
    }
    fn user(&mut self, user: UserRecord);
    fn group(&mut self, group: GroupRecord);
    /// `member` is in `group`.
    fn membership(&mut self, group: u32, member: Member);
    /// The sequence number of the last committed change.
    fn last_seq(&mut self, seq: u64);
}

/// A snapshot collects the rows as they come.
impl SnapshotSink for Snapshot {
    fn user(&mut self, user: UserRecord) {
        self.users.push(user);
    }
    fn group(&mut self, group: GroupRecord) {
        self.groups.push(group);
    }
    fn membership(&mut self, group: u32, member: Member) {
        self.memberships.push((group, member));
    }
    fn last_seq(&mut self, seq: u64) {
        self.last_seq = seq;
    }
}

impl Snapshot {
    /// Hands every row to `sink`, in the order a store would.
    pub fn replay(self, sink: &mut dyn SnapshotSink) {
        let ords = |n: Option<u32>| n.map_or(0, |o| o.saturating_add(1));
        sink.expect(
            ords(self.users.iter().map(|u| u.ord).max()),
            ords(self.groups.iter().map(|g| g.ord).max()),
        );
        for u in self.users {
            sink.user(u);
        }
        for g in self.groups {
            sink.group(g);
        }
        for (g, m) in self.memberships {
            sink.membership(g, m);
        }
        sink.last_seq(self.last_seq);
    }
}
