//! Moving an embedded SQLite store to PostgreSQL (`scimgate migrate`): everything is
//! read from SQLite, written to an empty PostgreSQL database in one transaction, and
//! then counted back, so a partial move is never left behind.

use std::path::Path;
use std::time::Duration;

use super::postgres::Export;
use super::{PgStore, SqliteStore, Store, StoreError};
use crate::record::AuditQuery;

/// What was moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moved {
    pub users: usize,
    pub groups: usize,
    pub memberships: usize,
    pub changes: usize,
    pub audit_records: usize,
    pub tokens: usize,
    pub sessions: usize,
    pub access_requests: usize,
}

/// Copies the SQLite store at `sqlite_path` into the PostgreSQL database at `url`.
pub fn sqlite_to_postgres(
    sqlite_path: &Path,
    url: &str,
    timeout: Duration,
) -> Result<Moved, StoreError> {
    if !sqlite_path.exists() {
        return Err(StoreError::Io {
            path: sqlite_path.display().to_string(),
            source: std::io::ErrorKind::NotFound.into(),
        });
    }
    let from = SqliteStore::open(sqlite_path)?;
    let data = Export {
        snapshot: from.load()?,
        change_log: from.change_log()?,
        audit: from.audit_query(&AuditQuery::default())?,
        tokens: from.token_list()?,
        // Every stored session, expired ones too (they are purged as usual).
        sessions: from.sessions_load(i64::MIN)?,
        // Every access request: open ones and every ended one.
        access: from.access_load(i64::MIN)?,
    };
    let moved = Moved {
        users: data.snapshot.users.len(),
        groups: data.snapshot.groups.len(),
        memberships: data.snapshot.memberships.len(),
        changes: data.change_log.len(),
        audit_records: data.audit.len(),
        tokens: data.tokens.len(),
        sessions: data.sessions.len(),
        access_requests: data.access.len(),
    };
    let to = PgStore::open_url(url, timeout)?;
    to.import(&data)?;
    let back = to.load()?;
    if back.users.len() != moved.users
        || back.groups.len() != moved.groups
        || back.memberships.len() != moved.memberships
        || back.last_seq != data.snapshot.last_seq
    {
        return Err(StoreError::Corrupt(
            "the moved directory does not match its source".into(),
        ));
    }
    Ok(moved)
}
