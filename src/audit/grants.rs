//! The records of just-in-time access: `grant.request`, `grant.approve`,
//! `grant.deny`, `grant.start`, `grant.expire`, `grant.revoke`, `grant.cancel` and
//! `grant.end` (ended by the user's deprovisioning). Each names who acted, the request
//! (`access_request:<id>`), and in its detail the route, group, requester, reason,
//! duration and, once started, the end; a vote or revocation carries its comment.

use serde_json::{json, Value};

use crate::record::{AccessRequest, AuditEntry};

/// The prefix of every action here (`scimgate audit search --action grant.`).
pub const PREFIX: &str = "grant.";

/// What happened, as the record's action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantAction {
    Request,
    Approve,
    Deny,
    Start,
    Expire,
    Revoke,
    Cancel,
    /// Ended because the requester was deactivated or deleted.
    End,
}

impl GrantAction {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantAction::Request => "grant.request",
            GrantAction::Approve => "grant.approve",
            GrantAction::Deny => "grant.deny",
            GrantAction::Start => "grant.start",
            GrantAction::Expire => "grant.expire",
            GrantAction::Revoke => "grant.revoke",
            GrantAction::Cancel => "grant.cancel",
            GrantAction::End => "grant.end",
        }
    }
}

/// The record of `action` on `req` by `actor` at `at`, with a comment or why.
pub fn grant_record(
    at: i64,
    actor: &str,
    action: GrantAction,
    req: &AccessRequest,
    comment: Option<&str>,
) -> AuditEntry {
    let mut detail = json!({
        "route": req.route,
        "group": req.group,
        "requester": req.requester_name,
        "requester_id": req.requester_id,
        "duration_s": req.duration.as_secs(),
        "state": req.state.as_str(),
        "approvals": req.approvals.len(),
        "approvals_needed": req.approvals_needed,
    });
    if let Value::Object(map) = &mut detail {
        if let Some(r) = &req.reason {
            map.insert("reason".into(), Value::from(r.as_str()));
        }
        if let Some(c) = comment {
            map.insert("comment".into(), Value::from(c));
        }
        if let Some(s) = req.starts_at {
            map.insert("starts_at".into(), Value::from(s));
        }
        if let Some(e) = req.ends_at {
            map.insert("ends_at".into(), Value::from(e));
        }
    }
    AuditEntry {
        at,
        actor: actor.to_owned(),
        action: action.as_str().to_owned(),
        target: format!("access_request:{}", req.id),
        before: None,
        after: None,
        detail: Some(detail.to_string()),
    }
}
