//! The shared store: PostgreSQL, for several replicas on one database.
//!
//! Same semantics as the SQLite store (state, change log and audit record in one
//! transaction; a deprovisioning deletes the user's sessions in it), plus what sharing
//! needs: every commit and audit append takes [`WRITE_LOCK`] (a transaction-scoped
//! advisory lock), so writers across replicas are serialised, sequence numbers have no
//! gaps and the audit chain stays one chain. A commit states the sequence its plan was
//! based on; if another replica moved the head since, it fails with
//! [`StoreError::Stale`] and the writer catches up and plans again. Each change's writes
//! are kept in the change log (as JSON) and every commit `NOTIFY`s
//! [`CHANGES_CHANNEL`], so other replicas can replay it ([`crate::replica`]).
//!
//! Calls block (the sync `postgres` client); callers run them on blocking threads.
//! Connecting and every statement are bounded by the configured timeout, so a write
//! while the database is down fails promptly instead of hanging. A connection found
//! broken is replaced on next use. Connections use TLS as libpq's `sslmode` says
//! ([`tls`]).

mod access;
mod audit;
mod auth;
mod batch;
mod directory;
mod import;
mod oplog;
mod schema;
pub mod tls;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use postgres::{Client, Statement};

use self::tls::{PgTls, TlsOptions};
use super::StoreError;
use crate::config::store::PostgresConfig;
use crate::record::checkpoint::{PruneOutcome, PruneRequest};
use crate::record::{AuditQuery, AuditRow, Change, EntryView, SessionRow, SnapshotSink, TokenRow};

pub use import::Export;
pub use schema::MIGRATE_LOCK;

/// Advisory lock serialising directory commits and audit appends across replicas.
pub(crate) const WRITE_LOCK: i64 = 0x5c16_a7e0_0002;
/// `NOTIFY` channel of committed changes; the payload is the last sequence number.
pub const CHANGES_CHANNEL: &str = "scimgate_changes";
/// `NOTIFY` channel of ended sessions; the payload is the token hash, hex.
pub const SESSIONS_CHANNEL: &str = "scimgate_sessions";
/// `NOTIFY` channel of access requests written (requested, voted on, started, ended);
/// the payload is the request's id.
pub const ACCESS_CHANNEL: &str = "scimgate_access";
/// What a follower sends to hear every channel (the only SQL outside this module's
/// connections, kept here so that only `store/` speaks SQL).
pub const LISTEN_ALL: &str =
    "LISTEN scimgate_changes; LISTEN scimgate_sessions; LISTEN scimgate_access";
/// A connection idle longer than this is checked before use (it may have died with a
/// database restart).
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(1);

/// One connection and the statements prepared on it.
struct Conn {
    client: Client,
    stmts: HashMap<&'static str, Statement>,
    last_used: Instant,
}

/// A lazily (re)connected connection slot.
struct Slot {
    conn: Mutex<Option<Conn>>,
}

/// PostgreSQL-backed [`super::Store`].
pub struct PgStore {
    config: postgres::Config,
    tls: PgTls,
    /// The first host, for telling a host name mismatch.
    host: String,
    timeout: Duration,
    /// Directory commits, audit appends, token and session writes.
    writer: Slot,
    /// Loads, follower reads, token and session lookups.
    reader: Slot,
    /// Audit searches, the sinks' tailer and verification (never in the way of
    /// token and session lookups).
    audit_reader: Slot,
}

impl PgStore {
    /// Connects, applies migrations, and returns the store.
    pub fn open(cfg: &PostgresConfig) -> Result<Self, StoreError> {
        Self::open_with(&cfg.url, &cfg.tls, cfg.timeout)
    }

    /// Connects to `url` (TLS options in its query, as libpq's) with `timeout` for
    /// connecting and for each statement.
    pub fn open_url(url: &str, timeout: Duration) -> Result<Self, StoreError> {
        Self::open_with(url, &TlsOptions::default(), timeout)
    }

    /// As [`PgStore::open_url`], with TLS options from the configuration too.
    pub fn open_with(
        url: &str,
        tls_options: &TlsOptions,
        timeout: Duration,
    ) -> Result<Self, StoreError> {
        let (url, tls) = tls::resolve(url, tls_options)?;
        let mut config: postgres::Config = url
            .parse()
            .map_err(|_| StoreError::Corrupt("the PostgreSQL URL is not valid".into()))?;
        config.ssl_mode(tls.client_mode());
        let host = match config.get_hosts().first() {
            Some(postgres::config::Host::Tcp(h)) => h.clone(),
            _ => String::new(),
        };
        let ms = timeout.as_millis().max(1);
        let options = format!(
            "-c statement_timeout={ms} -c lock_timeout={ms} -c idle_in_transaction_session_timeout={}",
            ms * 4
        );
        config
            .connect_timeout(timeout)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(10))
            .options(&options)
            .application_name("scimgate");
        let store = Self {
            config,
            tls,
            host,
            timeout,
            writer: Slot {
                conn: Mutex::new(None),
            },
            reader: Slot {
                conn: Mutex::new(None),
            },
            audit_reader: Slot {
                conn: Mutex::new(None),
            },
        };
        store.with_writer(|c| schema::migrate(&mut c.client))?;
        Ok(store)
    }

    /// The parsed connection settings (the follower opens its own connection).
    pub fn connect_config(&self) -> &postgres::Config {
        &self.config
    }

    fn connect(&self) -> Result<Conn, StoreError> {
        Ok(Conn {
            client: self
                .config
                .connect(self.tls.connector.clone())
                .map_err(|e| match self.tls.classify(&e, &self.host) {
                    Some(t) => StoreError::PgTls(t),
                    None => StoreError::Postgres(e),
                })?,
            stmts: HashMap::new(),
            last_used: Instant::now(),
        })
    }

    /// Runs `f` on a live connection of `slot`, connecting first if needed.
    fn with<T>(
        &self,
        slot: &Slot,
        f: impl FnOnce(&mut Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut guard = slot.conn.lock();
        let stale = match guard.as_mut() {
            None => true,
            Some(c) if c.client.is_closed() => true,
            Some(c) if c.last_used.elapsed() > CHECK_AFTER_IDLE => {
                c.client.is_valid(self.timeout).is_err()
            }
            Some(_) => false,
        };
        if stale {
            *guard = None;
            *guard = Some(self.connect()?);
        }
        let Some(conn) = guard.as_mut() else {
            return Err(StoreError::Corrupt("no connection".into()));
        };
        let out = f(conn);
        conn.last_used = Instant::now();
        if out.is_err() && conn.client.is_closed() {
            *guard = None;
        }
        out
    }

    fn with_writer<T>(
        &self,
        f: impl FnOnce(&mut Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with(&self.writer, f)
    }

    fn with_reader<T>(
        &self,
        f: impl FnOnce(&mut Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with(&self.reader, f)
    }

    fn with_audit_reader<T>(
        &self,
        f: impl FnOnce(&mut Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with(&self.audit_reader, f)
    }
}

impl Drop for PgStore {
    /// Closing a sync client blocks on its own runtime, which panics on an async
    /// worker thread (a server's last handle may drop there): close on a thread of
    /// its own.
    fn drop(&mut self) {
        let conns: Vec<Conn> = [
            self.writer.conn.lock().take(),
            self.reader.conn.lock().take(),
            self.audit_reader.conn.lock().take(),
        ]
        .into_iter()
        .flatten()
        .collect();
        if conns.is_empty() {
            return;
        }
        if tokio::runtime::Handle::try_current().is_ok() {
            // Not a task: a thread that only closes these connections (blocking calls
            // a runtime thread must not make) and ends.
            let _ = std::thread::Builder::new()
                .name("pg-close".into())
                .spawn(move || drop(conns));
        } else {
            drop(conns);
        }
    }
}

/// A statement prepared once per connection.
fn stmt(
    stmts: &mut HashMap<&'static str, Statement>,
    tx: &mut impl postgres::GenericClient,
    sql: &'static str,
) -> Result<Statement, StoreError> {
    if let Some(s) = stmts.get(sql) {
        return Ok(s.clone());
    }
    let s = tx.prepare(sql)?;
    stmts.insert(sql, s.clone());
    Ok(s)
}

/// Whether a database error is a unique-constraint violation.
fn is_unique_violation(e: &postgres::Error) -> bool {
    e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION)
}

impl super::Store for PgStore {
    fn access_insert(&self, req: &crate::record::AccessRequest) -> Result<(), StoreError> {
        self.pg_access_insert(req)
    }
    fn access_update(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut crate::record::AccessRequest) -> bool,
    ) -> Result<Option<crate::record::AccessRequest>, StoreError> {
        self.pg_access_update(id, change)
    }
    fn access_get(&self, id: &str) -> Result<Option<crate::record::AccessRequest>, StoreError> {
        self.pg_access_get(id)
    }
    fn access_load(
        &self,
        ended_since: i64,
    ) -> Result<Vec<crate::record::AccessRequest>, StoreError> {
        self.pg_access_load(ended_since)
    }
    fn load_into(&self, sink: &mut dyn SnapshotSink) -> Result<(), StoreError> {
        self.pg_load(sink)
    }
    fn commit(&self, batch: &[Change]) -> Result<Vec<u64>, StoreError> {
        self.pg_commit(None, batch)
    }
    fn commit_planned_at(&self, base: u64, batch: &[Change]) -> Result<Vec<u64>, StoreError> {
        self.pg_commit(Some(base), batch)
    }
    fn changes_since(&self, seq: u64, limit: usize) -> Result<Vec<(u64, Change)>, StoreError> {
        self.pg_changes_since(seq, limit)
    }
    fn is_shared(&self) -> bool {
        true
    }
    fn audit_append_views(&self, entries: &[EntryView<'_>]) -> Result<Vec<u64>, StoreError> {
        self.pg_audit_append(entries)
    }
    fn audit_query(&self, query: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
        self.pg_audit_query(query)
    }
    fn audit_prune(&self, req: &PruneRequest) -> Result<Option<PruneOutcome>, StoreError> {
        self.pg_audit_prune(req)
    }
    fn token_insert(&self, row: &TokenRow) -> Result<(), StoreError> {
        self.pg_token_insert(row)
    }
    fn token_list(&self) -> Result<Vec<TokenRow>, StoreError> {
        self.pg_token_list()
    }
    fn token_by_id(&self, token_id: &str) -> Result<Option<TokenRow>, StoreError> {
        self.pg_token_by_id(token_id)
    }
    fn token_revoke(&self, name: &str) -> Result<bool, StoreError> {
        self.pg_token_revoke(name)
    }
    fn token_touch(&self, name: &str, at: i64) -> Result<(), StoreError> {
        self.pg_token_touch(name, at)
    }
    fn session_insert(&self, row: &SessionRow) -> Result<(), StoreError> {
        self.pg_session_insert(row)
    }
    fn session_get(&self, token_hash: &[u8], now: i64) -> Result<Option<SessionRow>, StoreError> {
        self.pg_session_get(token_hash, now)
    }
    fn session_delete(&self, token_hash: &[u8]) -> Result<bool, StoreError> {
        self.pg_session_delete(token_hash)
    }
    fn sessions_load(&self, now: i64) -> Result<Vec<SessionRow>, StoreError> {
        self.pg_sessions_load(now)
    }
    fn sessions_purge_expired(&self, now: i64) -> Result<usize, StoreError> {
        self.pg_sessions_purge_expired(now)
    }
}
