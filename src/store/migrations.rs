//! Versioned schema migrations for the SQLite store, applied in order at open.
//!
//! v1: the directory, change log, audit chain and SCIM tokens. v2: browser sessions
//! (only the SHA-256 of each session token is stored). v3: audit records carry a
//! `detail` object (decisions) and are indexed for search by time, actor and target.
//! v4: retention checkpoints are indexed (the pruner finds the last one directly).
//! v5: access requests and their approvers' verdicts (just-in-time grants).

/// (version, SQL). Append only: never edit a migration that has shipped.
pub(super) const SQLITE: &[(i64, &str)] = &[
    (
        1,
        r#"
CREATE TABLE users (
    ord INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    user_name TEXT NOT NULL,
    user_name_lower TEXT NOT NULL UNIQUE,
    external_id TEXT,
    active INTEGER NOT NULL,
    emails TEXT NOT NULL,
    license TEXT,
    user_type TEXT,
    body TEXT NOT NULL,
    created INTEGER NOT NULL,
    modified INTEGER NOT NULL,
    version INTEGER NOT NULL,
    scim_managed INTEGER NOT NULL
);
CREATE TABLE groups (
    ord INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    display_name_lower TEXT NOT NULL UNIQUE,
    external_id TEXT,
    body TEXT NOT NULL,
    created INTEGER NOT NULL,
    modified INTEGER NOT NULL,
    version INTEGER NOT NULL,
    scim_managed INTEGER NOT NULL
);
CREATE TABLE memberships (
    group_ord INTEGER NOT NULL,
    member_kind INTEGER NOT NULL,
    member_ord INTEGER NOT NULL,
    PRIMARY KEY (group_ord, member_kind, member_ord)
) WITHOUT ROWID;
CREATE INDEX memberships_by_member ON memberships (member_kind, member_ord);
CREATE TABLE change_log (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL
);
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    before TEXT,
    after TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE tokens (
    name TEXT PRIMARY KEY,
    token_id TEXT NOT NULL UNIQUE,
    hash BLOB NOT NULL,
    scope TEXT NOT NULL,
    created INTEGER NOT NULL,
    last_used INTEGER
);
"#,
    ),
    (
        2,
        r#"
CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY,
    user_id TEXT NOT NULL,
    created INTEGER NOT NULL,
    expires INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires);
"#,
    ),
    (
        3,
        r#"
ALTER TABLE audit ADD COLUMN detail TEXT;
CREATE INDEX audit_by_at ON audit (at);
CREATE INDEX audit_by_actor ON audit (actor);
CREATE INDEX audit_by_target ON audit (target);
"#,
    ),
    (
        4,
        r#"
CREATE INDEX audit_checkpoints ON audit (seq) WHERE action = 'audit.checkpoint';
"#,
    ),
    (
        5,
        r#"
CREATE TABLE access_requests (
    id TEXT PRIMARY KEY,
    route TEXT NOT NULL,
    grp TEXT NOT NULL,
    requester_id TEXT NOT NULL,
    requester_name TEXT NOT NULL,
    reason TEXT,
    duration_ms INTEGER NOT NULL,
    approvals_needed INTEGER NOT NULL,
    state TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    starts_at INTEGER,
    ends_at INTEGER,
    ended_at INTEGER,
    ended_by TEXT,
    end_reason TEXT
);
CREATE INDEX access_requests_by_state ON access_requests (state);
CREATE INDEX access_requests_by_ended ON access_requests (ended_at);
CREATE TABLE access_verdicts (
    request_id TEXT NOT NULL,
    approver_id TEXT NOT NULL,
    approver_name TEXT NOT NULL,
    approve INTEGER NOT NULL,
    comment TEXT,
    at INTEGER NOT NULL,
    PRIMARY KEY (request_id, approver_id)
) WITHOUT ROWID;
"#,
    ),
];
