//! What the access service announces, for notifiers (a webhook, a chat message).
//!
//! [`AccessNotifier::notify`] is called after the change is durable and must not block:
//! a notifier queues and delivers on its own, never holding up a request or a vote.
//! The default is [`NoNotifier`].

use std::time::Duration;

use super::model::AccessRequest;

pub use crate::record::access::AccessEventKind;

/// One announcement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessEvent {
    pub kind: AccessEventKind,
    pub request_id: String,
    pub route: String,
    pub group: String,
    pub requester_id: String,
    pub requester_name: String,
    /// Who acted, when not the requester: `user:<userName>` of an approver,
    /// `admin:<token>`, `scim:<token>`, `system`.
    pub approver: Option<String>,
    /// The approver's or revoker's comment, or why it ended.
    pub comment: Option<String>,
    /// The requester's reason.
    pub reason: Option<String>,
    pub duration: Duration,
    /// Unix milliseconds, once the grant has started.
    pub ends_at: Option<i64>,
    /// Approvals so far and needed.
    pub approvals: (u32, u32),
}

impl AccessEvent {
    /// The event `kind` of `req`, by `approver` with `comment`.
    pub fn of(
        kind: AccessEventKind,
        req: &AccessRequest,
        approver: Option<String>,
        comment: Option<String>,
    ) -> Self {
        AccessEvent {
            kind,
            request_id: req.id.clone(),
            route: req.route.clone(),
            group: req.group.clone(),
            requester_id: req.requester_id.clone(),
            requester_name: req.requester_name.clone(),
            approver,
            comment,
            reason: req.reason.clone(),
            duration: req.duration,
            ends_at: req.ends_at,
            approvals: (
                u32::try_from(req.approvals.len()).unwrap_or(u32::MAX),
                req.approvals_needed,
            ),
        }
    }
}

/// Receives every access event (on this replica: a change made on another replica is
/// announced there).
pub trait AccessNotifier: Send + Sync + 'static {
    /// Queues `event` for delivery; never blocks.
    fn notify(&self, event: AccessEvent);
}

/// Announces nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoNotifier;

impl AccessNotifier for NoNotifier {
    fn notify(&self, _event: AccessEvent) {}
}
