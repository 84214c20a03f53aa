//! Durability: the [`Store`] trait and what goes through it.
//!
//! A store keeps users, groups, memberships, the change log (one row per change, with
//! a sequence number), the hash-chained audit record of each change, SCIM tokens,
//! browser sessions, and just-in-time access requests with their verdicts
//! (`Store::access_*`). [`Store::commit`] writes a batch of changes in one transaction:
//! either all of the batch is durable when it returns `Ok`, or none of it is. A change
//! that deletes or deactivates a user also deletes that user's sessions in the same
//! transaction, so a deprovisioning ends sessions durably with the change. Only this
//! module speaks SQL. The calls block; async callers run them on a blocking thread.

mod migrations;
pub mod postgres;
mod rows;
pub mod sqlite;
#[cfg(test)]
mod tests;
pub mod transfer;

use crate::record::checkpoint::{PruneOutcome, PruneRequest};
use crate::record::{
    AccessRequest, AuditEntry, AuditQuery, AuditRow, Change, EntryView, SessionRow, Snapshot,
    SnapshotSink, TokenRow,
};

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// A failure of the durable store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the PostgreSQL store is unavailable")]
    Postgres(#[from] ::postgres::Error),
    /// TLS to PostgreSQL could not be set up, or the server's certificate (or lack of
    /// TLS) was refused.
    /// (Not a `source`: the detail is in this error's own words, said once.)
    #[error("TLS to PostgreSQL: {0}")]
    PgTls(postgres::tls::PgTlsError),
    /// A shared store's change log moved past the sequence a batch was planned at:
    /// another replica wrote first. The writer catches up and plans again.
    #[error("the directory changed since the change was planned (head {head}, planned at {base})")]
    Stale { head: u64, base: u64 },
    #[error("cannot prepare the data directory {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} already exists")]
    Conflict(String),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    #[error("the database schema is version {found}, newer than this build knows ({known})")]
    TooNew { found: i64, known: i64 },
}

impl From<postgres::tls::PgTlsError> for StoreError {
    fn from(e: postgres::tls::PgTlsError) -> Self {
        StoreError::PgTls(e)
    }
}

/// A durable home for the directory.
pub trait Store: Send + Sync + 'static {
    /// Reads the whole directory, handing each row to `sink` as it is read (users and
    /// groups in ord order, then memberships grouped by member, then the last sequence
    /// number; see [`SnapshotSink`]).
    fn load_into(&self, sink: &mut dyn SnapshotSink) -> Result<(), StoreError>;
    /// Reads the whole directory into a [`Snapshot`].
    fn load(&self) -> Result<Snapshot, StoreError> {
        let mut snap = Snapshot::default();
        self.load_into(&mut snap)?;
        Ok(snap)
    }
    /// Makes a batch of changes durable in one transaction; returns their sequence numbers.
    fn commit(&self, batch: &[Change]) -> Result<Vec<u64>, StoreError>;
    /// Like [`Store::commit`], stating the change-log sequence the batch was planned
    /// at. A store shared by several writers refuses with [`StoreError::Stale`] when its
    /// head has moved past `base` (optimistic concurrency); a store with one writer
    /// never goes stale.
    fn commit_planned_at(&self, base: u64, batch: &[Change]) -> Result<Vec<u64>, StoreError> {
        let _ = base;
        self.commit(batch)
    }
    /// Changes committed after `seq`, oldest first, at most `limit`, so that a replica
    /// can apply other writers' changes. A store with one writer has none to offer.
    fn changes_since(&self, seq: u64, limit: usize) -> Result<Vec<(u64, Change)>, StoreError> {
        let _ = (seq, limit);
        Ok(Vec::new())
    }
    /// Whether several processes share this store (then sessions made elsewhere are
    /// looked up in it, and the change log is followed).
    fn is_shared(&self) -> bool {
        false
    }
    /// Appends records to the audit chain in one transaction (decisions, token and
    /// policy events, admin actions); returns their sequence numbers.
    fn audit_append(&self, entries: &[AuditEntry]) -> Result<Vec<u64>, StoreError> {
        let views: Vec<EntryView<'_>> = entries.iter().map(AuditEntry::view).collect();
        self.audit_append_views(&views)
    }
    /// [`Store::audit_append`] over borrowed fields (the audit worker's batches).
    fn audit_append_views(&self, entries: &[EntryView<'_>]) -> Result<Vec<u64>, StoreError>;
    /// Reads stored audit records (on a connection of its own, so a long search never
    /// holds up token and session lookups).
    fn audit_query(&self, query: &AuditQuery) -> Result<Vec<AuditRow>, StoreError>;
    /// One retention pass in one transaction: deletes the decision records of the next
    /// range older than the cutoff and appends the checkpoint that keeps the chain
    /// verifiable ([`crate::record::checkpoint`]); `None` when there is nothing to do.
    fn audit_prune(&self, req: &PruneRequest) -> Result<Option<PruneOutcome>, StoreError>;
    /// Adds a token; `Conflict` if the name is taken.
    fn token_insert(&self, row: &TokenRow) -> Result<(), StoreError>;
    fn token_list(&self) -> Result<Vec<TokenRow>, StoreError>;
    fn token_by_id(&self, token_id: &str) -> Result<Option<TokenRow>, StoreError>;
    /// Deletes a token by name; `false` if there was none.
    fn token_revoke(&self, name: &str) -> Result<bool, StoreError>;
    fn token_touch(&self, name: &str, at: i64) -> Result<(), StoreError>;
    /// Adds a session.
    fn session_insert(&self, row: &SessionRow) -> Result<(), StoreError>;
    /// A session by its token hash, if stored and not expired at `now`.
    fn session_get(&self, token_hash: &[u8], now: i64) -> Result<Option<SessionRow>, StoreError>;
    /// Deletes a session by its token hash; `false` if there was none.
    fn session_delete(&self, token_hash: &[u8]) -> Result<bool, StoreError>;
    /// The sessions that have not expired at `now` (Unix milliseconds).
    fn sessions_load(&self, now: i64) -> Result<Vec<SessionRow>, StoreError>;
    /// Deletes the sessions expired at `now`; returns how many.
    fn sessions_purge_expired(&self, now: i64) -> Result<usize, StoreError>;
    /// Adds a new access request (pending, without verdicts); `Conflict` if its id is
    /// taken. On a shared store, other replicas are told (`NOTIFY`).
    fn access_insert(&self, req: &AccessRequest) -> Result<(), StoreError>;
    /// Changes one access request in one transaction, holding it against concurrent
    /// changes (other replicas included): reads it with its verdicts, hands it to
    /// `change`, and when `change` returns `true` writes its state, times and any new
    /// verdict (verdicts are only ever added). Returns the request as stored after, or
    /// `None` when there is no such request. On a shared store a write is announced.
    fn access_update(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut AccessRequest) -> bool,
    ) -> Result<Option<AccessRequest>, StoreError>;
    /// One access request with its verdicts.
    fn access_get(&self, id: &str) -> Result<Option<AccessRequest>, StoreError>;
    /// The access requests still open (pending or active) and those that ended at or
    /// after `ended_since` (Unix milliseconds), with their verdicts.
    fn access_load(&self, ended_since: i64) -> Result<Vec<AccessRequest>, StoreError>;
    /// Housekeeping the writer asks for between batches (SQLite: a WAL checkpoint on
    /// its own connection, so commits never pay for it). Must not block commits.
    fn maintain(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
