//! One access-request event as the webhook tells it: what happened, to which request,
//! who asked and who decided, and when. Plain data, filled by whoever reports the
//! event (the composition root adapts the access service's events into it).

use serde::Serialize;

/// What happened to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Requested,
    Approved,
    Denied,
    Started,
    Expired,
    Revoked,
    Cancelled,
}

impl EventKind {
    /// The word a receiver matches on (`requested`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Requested => "requested",
            EventKind::Approved => "approved",
            EventKind::Denied => "denied",
            EventKind::Started => "started",
            EventKind::Expired => "expired",
            EventKind::Revoked => "revoked",
            EventKind::Cancelled => "cancelled",
        }
    }
}

/// One event of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub request_id: String,
    /// The route the requested group opens.
    pub route: String,
    /// The requested group.
    pub group: String,
    /// The requester's user name.
    pub requester: String,
    /// Who approved, denied or revoked (for those kinds).
    pub approver: Option<String>,
    /// The approver's comment.
    pub comment: Option<String>,
    /// The requester's reason.
    pub reason: Option<String>,
    /// The duration asked for, in seconds.
    pub duration_seconds: u64,
    /// When the grant ends (Unix ms), once it has started.
    pub ends_at_ms: Option<i64>,
    /// When it happened (Unix ms).
    pub at_ms: i64,
}
