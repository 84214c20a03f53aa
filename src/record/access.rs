//! Access requests as stored: who asked for which extra group on which route, for how
//! long and why, the approvers' verdicts, and how the time-bound grant it became
//! started and ended. Times are Unix milliseconds, as everywhere in the store.

use std::time::Duration;

/// What happened to an access request, as the access service announces it and a
/// notifier (the webhook) tells it: `requested`, `approved` (each vote), `denied`,
/// `started`, `expired`, `revoked`, `cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessEventKind {
    Requested,
    /// One approval (each vote); a grant that starts with it also sends `Started`.
    Approved,
    Denied,
    Started,
    Expired,
    Revoked,
    Cancelled,
}

impl AccessEventKind {
    /// The word a receiver matches on (`requested`, `approved`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            AccessEventKind::Requested => "requested",
            AccessEventKind::Approved => "approved",
            AccessEventKind::Denied => "denied",
            AccessEventKind::Started => "started",
            AccessEventKind::Expired => "expired",
            AccessEventKind::Revoked => "revoked",
            AccessEventKind::Cancelled => "cancelled",
        }
    }
}

/// Where an access request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestState {
    /// Waiting for approvals.
    Pending,
    /// Approved: the grant holds until `ends_at`.
    Active,
    /// An approver said no.
    Denied,
    /// The grant reached its end.
    Expired,
    /// The grant was ended early (an approver, an admin, or the user's deprovisioning).
    Revoked,
    /// Withdrawn by the requester (or ended by deprovisioning) before any decision.
    Cancelled,
}

impl RequestState {
    /// Every state, in order.
    pub const ALL: [RequestState; 6] = [
        RequestState::Pending,
        RequestState::Active,
        RequestState::Denied,
        RequestState::Expired,
        RequestState::Revoked,
        RequestState::Cancelled,
    ];

    /// The stored and shown name: `pending`, `active`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Active => "active",
            RequestState::Denied => "denied",
            RequestState::Expired => "expired",
            RequestState::Revoked => "revoked",
            RequestState::Cancelled => "cancelled",
        }
    }

    /// The state named `s` ([`RequestState::as_str`]).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether the request can still change (pending or active).
    pub fn is_open(self) -> bool {
        matches!(self, RequestState::Pending | RequestState::Active)
    }
}

/// One approver's approval or denial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The approver's SCIM id.
    pub approver_id: String,
    /// Their userName when they decided.
    pub approver_name: String,
    /// `true`: approved; `false`: denied.
    pub approve: bool,
    pub comment: Option<String>,
    /// Unix milliseconds.
    pub at: i64,
}

/// One access request and the grant it may have become.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequest {
    /// Unique, random.
    pub id: String,
    /// The route whose requestable grant it asks for.
    pub route: String,
    /// The extra group it asks for (as the policy writes it).
    pub group: String,
    pub requester_id: String,
    /// The requester's userName when they asked.
    pub requester_name: String,
    pub reason: Option<String>,
    /// How long the grant lasts once approved.
    pub duration: Duration,
    /// Distinct approvals it takes (the live policy's, as of the last vote).
    pub approvals_needed: u32,
    pub state: RequestState,
    /// The approvals so far, oldest first.
    pub approvals: Vec<Verdict>,
    /// The denial that ended it, if one did.
    pub denial: Option<Verdict>,
    pub created_at: i64,
    /// When the grant started (the last approval).
    pub starts_at: Option<i64>,
    /// When the grant ends (or ended, if on time).
    pub ends_at: Option<i64>,
    /// When it left the open states.
    pub ended_at: Option<i64>,
    /// Who ended it: `user:<userName>`, `admin:<token>`, `scim:<token>`, `system`.
    pub ended_by: Option<String>,
    /// Why it ended (a comment, `expired`, `user deactivated`).
    pub end_reason: Option<String>,
}

impl AccessRequest {
    /// Every verdict, approvals first.
    pub fn verdicts(&self) -> impl Iterator<Item = &Verdict> {
        self.approvals.iter().chain(self.denial.iter())
    }

    /// Whether the grant holds at `now` (Unix milliseconds).
    pub fn grants_at(&self, now: i64) -> bool {
        self.state == RequestState::Active && self.ends_at.is_some_and(|e| e > now)
    }
}
