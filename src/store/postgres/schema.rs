//! Versioned schema migrations for the PostgreSQL store, applied in order at connect
//! under an advisory lock, so replicas starting together migrate once.
//!
//! v1: the directory, the change log (each change's writes kept as JSON for replicas
//! to replay), the audit chain, SCIM tokens and browser sessions (token hashes only).
//! Sequence numbers are assigned by the writer holding [`super::WRITE_LOCK`], one after
//! the other, so a follower reading `seq > last` never skips a change.
//! v2: retention checkpoints are indexed (the pruner finds the last one directly).
//! v3: access requests and their approvers' verdicts (just-in-time grants).

use postgres::Client;

use crate::store::StoreError;

/// Advisory lock key taken while migrating (public so that tests can hold it).
pub const MIGRATE_LOCK: i64 = 0x5c16_a7e0_0001;

/// (version, SQL). Append only: never edit a migration that has shipped.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        r#"
CREATE TABLE users (
    ord BIGINT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    user_name TEXT NOT NULL,
    user_name_lower TEXT NOT NULL UNIQUE,
    external_id TEXT,
    active BOOLEAN NOT NULL,
    emails TEXT NOT NULL,
    license TEXT,
    user_type TEXT,
    body TEXT NOT NULL,
    created BIGINT NOT NULL,
    modified BIGINT NOT NULL,
    version BIGINT NOT NULL,
    scim_managed BOOLEAN NOT NULL
);
CREATE TABLE groups (
    ord BIGINT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    display_name_lower TEXT NOT NULL UNIQUE,
    external_id TEXT,
    body TEXT NOT NULL,
    created BIGINT NOT NULL,
    modified BIGINT NOT NULL,
    version BIGINT NOT NULL,
    scim_managed BOOLEAN NOT NULL
);
CREATE TABLE memberships (
    group_ord BIGINT NOT NULL,
    member_kind SMALLINT NOT NULL,
    member_ord BIGINT NOT NULL,
    PRIMARY KEY (group_ord, member_kind, member_ord)
);
CREATE INDEX memberships_by_member ON memberships (member_kind, member_ord);
CREATE TABLE change_log (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    ops TEXT
);
CREATE TABLE audit (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    before TEXT,
    after TEXT,
    detail TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_by_at ON audit (at);
CREATE INDEX audit_by_actor ON audit (actor);
CREATE INDEX audit_by_target ON audit (target);
CREATE TABLE tokens (
    name TEXT PRIMARY KEY,
    token_id TEXT NOT NULL UNIQUE,
    hash BYTEA NOT NULL,
    scope TEXT NOT NULL,
    created BIGINT NOT NULL,
    last_used BIGINT
);
CREATE TABLE sessions (
    token_hash BYTEA PRIMARY KEY,
    user_id TEXT NOT NULL,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires);
"#,
    ),
    (
        2,
        r#"
CREATE INDEX audit_checkpoints ON audit (seq) WHERE action = 'audit.checkpoint';
"#,
    ),
    (
        3,
        r#"
CREATE TABLE access_requests (
    id TEXT PRIMARY KEY,
    route TEXT NOT NULL,
    grp TEXT NOT NULL,
    requester_id TEXT NOT NULL,
    requester_name TEXT NOT NULL,
    reason TEXT,
    duration_ms BIGINT NOT NULL,
    approvals_needed BIGINT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    starts_at BIGINT,
    ends_at BIGINT,
    ended_at BIGINT,
    ended_by TEXT,
    end_reason TEXT
);
CREATE INDEX access_requests_by_state ON access_requests (state);
CREATE INDEX access_requests_by_ended ON access_requests (ended_at);
CREATE TABLE access_verdicts (
    request_id TEXT NOT NULL,
    approver_id TEXT NOT NULL,
    approver_name TEXT NOT NULL,
    approve BOOLEAN NOT NULL,
    comment TEXT,
    at BIGINT NOT NULL,
    PRIMARY KEY (request_id, approver_id)
);
"#,
    ),
];

/// Brings the schema up to date.
pub(super) fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )?;
    let current: i64 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations",
            &[],
        )?
        .get(0);
    let known = MIGRATIONS.last().map(|m| m.0).unwrap_or(0);
    if current > known {
        return Err(StoreError::TooNew {
            found: current,
            known,
        });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        tx.batch_execute(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, EXTRACT(EPOCH FROM now())::BIGINT)",
            &[version],
        )?;
    }
    tx.commit()?;
    Ok(())
}
