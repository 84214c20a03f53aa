//! The revocation fan-out, run by the directory writer after each commit, by the
//! server after each policy reload and by the access service when a time-bound grant
//! ends: sessions of deactivated or deleted users end (and their access requests and
//! grants), and every live stream is judged again on the new state; those no longer
//! allowed are cut.

use std::sync::Arc;

use super::Gate;
use crate::access::GrantFanout;
use crate::directory::writer::CommitHook;
use crate::policy::{DirectorySubject, RequestFacts};
use crate::record::{Change, StoreOp};
use crate::revoke::LiveStream;

impl Gate {
    /// Whether a live stream would still be allowed now.
    pub fn still_allowed(&self, s: &LiveStream) -> bool {
        let Some(user) = self.dir.user_by_id(&s.user_id) else {
            return false;
        };
        if !user.active {
            return false;
        }
        let policy = self.policy.current();
        let Some(m) = policy.match_route(&s.host, &s.path) else {
            return false;
        };
        if m.route.name != s.route {
            return false;
        }
        let subject = DirectorySubject::new(&self.dir, user);
        policy
            .decide(
                &m,
                RequestFacts {
                    method: &s.method,
                    path: &s.path,
                },
                &subject,
            )
            .allow
    }

    /// Re-judges every live stream; returns how many were cut.
    pub fn recheck_streams(&self) -> usize {
        if self.registry.is_empty() {
            return 0;
        }
        let cut = self.registry.recheck(|s| self.still_allowed(s));
        self.metrics.streams_cut(cut);
        cut
    }
}

/// The writer's hook: a thin handle on the gate.
pub struct RevocationHook(pub Arc<Gate>);

impl CommitHook for RevocationHook {
    fn after_commit(&self, changes: &[Change]) {
        let gate = &self.0;
        for change in changes {
            if change.resource_type != "User" {
                continue;
            }
            let gone = change.ops.iter().any(|op| match op {
                StoreOp::DeleteUser { .. } => true,
                StoreOp::PutUser(u) => !u.active,
                _ => false,
            });
            if gone {
                gate.access.user_gone(&change.resource_id, &change.actor);
                let ended = gate.sessions.end_user(&change.resource_id);
                gate.metrics.sessions_ended(ended);
                if ended > 0 {
                    tracing::info!(user_id = %change.resource_id, sessions = ended, "sessions ended");
                }
            }
        }
        let cut = gate.recheck_streams();
        if cut > 0 {
            tracing::info!(streams = cut, "live streams cut after a directory change");
        }
    }
}

impl GrantFanout for RevocationHook {
    fn grants_ended(&self) {
        let cut = self.0.recheck_streams();
        if cut > 0 {
            tracing::info!(streams = cut, "live streams cut after a grant ended");
        }
    }
}
