//! What the access service speaks in: offers, new requests, who acts, and the bounds.

use std::sync::Arc;
use std::time::Duration;

use crate::policy::{DirectorySubject, Requestable};

pub use crate::record::{AccessRequest, RequestState, Verdict};

/// A requestable grant someone may ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// The route it belongs to.
    pub route: Arc<str>,
    /// The extra group it gives.
    pub group: Arc<str>,
    /// The longest it may last.
    pub max_duration: Duration,
    /// Distinct approvals it takes.
    pub approvals: u32,
    /// Whether the request must say why.
    pub reason_required: bool,
    /// Groups whose members may approve.
    pub approvers: Box<[Arc<str>]>,
}

impl From<&Requestable> for Offer {
    fn from(q: &Requestable) -> Self {
        Offer {
            route: q.route.clone(),
            group: q.group.clone(),
            max_duration: q.max_duration,
            approvals: q.approvals,
            reason_required: q.reason_required,
            approvers: q.approvers.clone(),
        }
    }
}

/// What a requester asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRequest {
    /// The route's name.
    pub route: String,
    /// The requestable group, as the policy names it (caseless).
    pub group: String,
    /// How long the grant should last once approved.
    pub duration: Duration,
    pub reason: Option<String>,
}

/// Who revokes a grant: a signed-in user (an approver of it), or an admin token.
pub enum Actor<'a> {
    User(&'a DirectorySubject),
    Admin { token: String },
}

/// Bounds on what requesters can make the service keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessLimits {
    /// Pending requests one user may have at once.
    pub pending_per_user: usize,
    /// Pending requests in all.
    pub pending_total: usize,
    /// Requests one user may make in an hour (cancelled ones count: asking and
    /// withdrawing in a loop is bounded too).
    pub per_user_hour: usize,
    /// Bytes of a reason or a comment.
    pub max_text: usize,
    /// How long ended requests stay listed (for `/me` and the API).
    pub keep_ended: Duration,
    /// How long a request may wait for its approvals; then it expires.
    pub pending_max_age: Duration,
}

impl Default for AccessLimits {
    fn default() -> Self {
        AccessLimits {
            pending_per_user: 20,
            pending_total: 10_000,
            per_user_hour: 30,
            max_text: 1024,
            keep_ended: Duration::from_secs(30 * 24 * 3600),
            pending_max_age: DEFAULT_PENDING_MAX_AGE,
        }
    }
}

pub use crate::config::access_requests::DEFAULT_PENDING_MAX_AGE;

/// The shortest grant (so that tests can watch one end).
pub const MIN_DURATION: Duration = Duration::from_secs(1);
