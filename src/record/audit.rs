//! Audit records: one entry before it is chained, one row as stored, and the filters
//! of a search.
//!
//! Every directory change, access decision, token event, policy reload and admin
//! action becomes an [`AuditEntry`]. The store appends entries to one hash chain (each
//! record carries the SHA-256 of the previous one, see [`super::chain`]); the audit log
//! (`crate::audit`) says what each kind of record holds and ships the rows onwards.

/// One audit record before it is chained: what happened, by whom, to what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Unix milliseconds.
    pub at: i64,
    /// Who acted: `scim:<token name>`, `admin:<name>`, `user:<userName>`, `system`.
    pub actor: String,
    /// What happened, e.g. `user.create`, `access.allow`, `token.revoke`, `policy.reload`.
    pub action: String,
    /// What it happened to: `User/<id>`, `Group/<id>`, `route:<name>`, `token:<name>`.
    pub target: String,
    /// The resource before the change, as JSON text.
    pub before: Option<String>,
    /// The resource after the change, as JSON text.
    pub after: Option<String>,
    /// Anything else, as a JSON object (a decision's method, path, rule, directory seq).
    pub detail: Option<String>,
}

impl AuditEntry {
    /// The entry borrowed, as the chain hashes it and the store writes it.
    pub fn view(&self) -> EntryView<'_> {
        EntryView {
            at: self.at,
            actor: &self.actor,
            action: &self.action,
            target: &self.target,
            before: self.before.as_deref(),
            after: self.after.as_deref(),
            detail: self.detail.as_deref(),
        }
    }
}

/// An [`AuditEntry`]'s fields borrowed from wherever they are held (an entry, or a
/// decision packed into one buffer on the request path): what
/// [`super::chain::link_hash`] hashes and the store inserts, with no copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryView<'a> {
    pub at: i64,
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub before: Option<&'a str>,
    pub after: Option<&'a str>,
    pub detail: Option<&'a str>,
}

impl EntryView<'_> {
    /// The entry as owned strings.
    pub fn to_entry(&self) -> AuditEntry {
        AuditEntry {
            at: self.at,
            actor: self.actor.to_owned(),
            action: self.action.to_owned(),
            target: self.target.to_owned(),
            before: self.before.map(str::to_owned),
            after: self.after.map(str::to_owned),
            detail: self.detail.map(str::to_owned),
        }
    }
}

/// One record as stored: its place in the chain and its hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub seq: u64,
    pub entry: AuditEntry,
    /// Hex SHA-256 of the previous record ([`super::chain::GENESIS_HASH`] for the first).
    pub prev_hash: String,
    /// Hex SHA-256 of this record, see [`super::chain::record_hash`].
    pub hash: String,
}

/// Which stored records to read. Every filter present must hold.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only records with a sequence number greater than this.
    pub after_seq: Option<u64>,
    /// Only records with a sequence number less than this.
    pub before_seq: Option<u64>,
    /// Only records at or after this time (Unix milliseconds).
    pub since: Option<i64>,
    /// Only records before this time (Unix milliseconds).
    pub until: Option<i64>,
    /// Records by or about this user: actor `user:<name>`, target `User/<name>`, a
    /// before/after body whose `userName` is this name, or a `grant.*` record whose
    /// requester this user is ([`grant_detail_key`]).
    pub user: Option<String>,
    /// Only records on this route: decisions (target `route:<name>`) and `grant.*`
    /// records of requests on it.
    pub route: Option<String>,
    /// Only actions starting with this (e.g. `access.`, `user.`).
    pub action_prefix: Option<String>,
    /// Newest first (for timelines) instead of chain order.
    pub newest_first: bool,
    /// At most this many records (0: no limit).
    pub limit: usize,
}

/// The action prefix of access-request records (`grant.request`, `grant.expire`, …).
pub const GRANT_ACTIONS: &str = "grant.";

/// `"<key>":<value as JSON>`: how a `grant.*` record's detail names its requester
/// (`requester`) and route (`route`), for a search to find it by substring. A value is
/// always followed by `,` or `}` and its quotes inside are escaped, so `app` never
/// matches `app2` nor text inside a reason.
pub fn grant_detail_key(key: &str, value: &str) -> String {
    format!("\"{key}\":{}", serde_json::Value::from(value))
}
