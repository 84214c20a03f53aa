//! One access-request event as the webhook tells it: what happened, to which request,
//! who asked and who decided, and when. Plain data, filled by whoever reports the
//! event (the composition root adapts the access service's events into it).

/// What happened to a request (the record's kind, as the access service reports it).
pub use crate::record::access::AccessEventKind as EventKind;

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
