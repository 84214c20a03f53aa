//! The embedded store: SQLite in WAL mode with `synchronous=FULL`, so a commit that
//! returned is on disk. One connection writes (behind a mutex: the directory's writer
//! is its only busy user), another reads (token checks), so reads never wait for a
//! commit's fsync. A commit that deletes or deactivates a user deletes that user's
//! sessions inside the same transaction. Audit searches have a connection of their
//! own, so a long search never holds up token or session lookups.
//!
//! The WAL is bounded: [`Store::maintain`] (run by the directory writer and after audit
//! writes) checkpoints PASSIVE, and once the WAL file is past `wal_max_bytes` it
//! checkpoints TRUNCATE holding the writer (in-process commits wait for it; other
//! processes' readers get a short busy timeout). `journal_size_limit` truncates the
//! WAL to the same size whenever it is reset.

mod access;

use std::path::Path;

use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::rows::{self, GroupValues, UserValues};
use super::{migrations, Store, StoreError};
use crate::config::store::SqliteConfig;
use crate::record::chain::{link_hash, LinkHash, GENESIS_HASH};
use crate::record::checkpoint::{self, Checkpoint, PruneOutcome, PruneRequest};
use crate::record::{
    grant_detail_key, AuditEntry, AuditQuery, AuditRow, Change, EntryView, SessionRow,
    SnapshotSink, StoreOp, TokenRow, GRANT_ACTIONS,
};

/// SQLite-backed [`Store`].
pub struct SqliteStore {
    writer: Mutex<Writer>,
    reader: Mutex<Connection>,
    /// Audit searches, the sinks' tailer and verification.
    audit_reader: Mutex<Connection>,
    /// Runs WAL checkpoints, so that a commit never does (the writer's automatic
    /// checkpoint is off).
    checkpointer: Mutex<Connection>,
    /// The WAL file, and the size past which it is truncated.
    wal_path: std::path::PathBuf,
    wal_max_bytes: u64,
}

struct Writer {
    conn: Connection,
    last_audit_hash: String,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies migrations.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, &SqliteConfig::default())
    }

    /// The connection audit searches run on, held (tests: a search in progress).
    #[cfg(test)]
    pub(crate) fn audit_search_connection(&self) -> parking_lot::MutexGuard<'_, Connection> {
        self.audit_reader.lock()
    }

    /// Runs `f` on every connection the store holds, named by its role (tests: their
    /// settings). The destructuring makes a new connection field a compile error here
    /// until it is listed.
    #[cfg(test)]
    pub(crate) fn each_connection(&self, mut f: impl FnMut(&'static str, &Connection)) {
        let SqliteStore {
            writer,
            reader,
            audit_reader,
            checkpointer,
            wal_path: _,
            wal_max_bytes: _,
        } = self;
        f("writer", &writer.lock().conn);
        f("reader", &reader.lock());
        f("audit reader", &audit_reader.lock());
        f("checkpointer", &checkpointer.lock());
    }

    /// [`SqliteStore::open`] with explicit tuning.
    pub fn open_with(path: &Path, tuning: &SqliteConfig) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let mut conn = Connection::open(path)?;
        configure(&conn)?;
        migrate(&mut conn)?;
        let last_audit_hash = conn
            .query_row(
                "SELECT hash FROM audit ORDER BY seq DESC LIMIT 1",
                [],
                |r| r.get::<_, String>(0),
            )
            .optional()?
            .unwrap_or_else(|| GENESIS_HASH.to_owned());
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let limit = i64::try_from(tuning.wal_max_bytes).unwrap_or(i64::MAX);
        conn.pragma_update(None, "journal_size_limit", limit)?;
        let reader = Connection::open(path)?;
        configure(&reader)?;
        let audit_reader = Connection::open(path)?;
        configure(&audit_reader)?;
        let checkpointer = Connection::open(path)?;
        configure(&checkpointer)?;
        // A TRUNCATE checkpoint holds the writer: wait little for others' readers.
        checkpointer.busy_timeout(std::time::Duration::from_secs(1))?;
        checkpointer.pragma_update(None, "journal_size_limit", limit)?;
        let mut wal_path = path.as_os_str().to_owned();
        wal_path.push("-wal");
        Ok(Self {
            writer: Mutex::new(Writer {
                conn,
                last_audit_hash,
            }),
            reader: Mutex::new(reader),
            audit_reader: Mutex::new(audit_reader),
            checkpointer: Mutex::new(checkpointer),
            wal_path: wal_path.into(),
            wal_max_bytes: tuning.wal_max_bytes,
        })
    }
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )?;
    let current: i64 = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    let known = migrations::SQLITE.last().map(|m| m.0).unwrap_or(0);
    if current > known {
        return Err(StoreError::TooNew {
            found: current,
            known,
        });
    }
    for (version, sql) in migrations::SQLITE.iter().filter(|m| m.0 > current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, strftime('%s','now'))",
            params![version],
        )?;
        tx.commit()?;
    }
    Ok(())
}

/// Appends one record to the chain inside `tx`; returns its hash.
fn append_audit(tx: &Transaction<'_>, prev: &str, e: &AuditEntry) -> Result<String, StoreError> {
    let (head, _) = append_chain(tx, prev, &[e.view()])?;
    Ok(head.map_or_else(|| prev.to_owned(), |h| h.as_str().to_owned()))
}

/// The audit insert for one record.
const INSERT_AUDIT: &str = "INSERT INTO audit (at, actor, action, target, before, after, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

/// Records per multi-row insert: a batch goes in by statements of this many rows (the
/// rest one by one), so a statement's set-up (cursors on the table and its indexes,
/// its end) is paid once per this many records.
const ROWS_PER_INSERT: usize = 16;

/// The insert of [`ROWS_PER_INSERT`] records.
static INSERT_AUDIT_ROWS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let row = "(?, ?, ?, ?, ?, ?, ?, ?, ?)";
    let rows = vec![row; ROWS_PER_INSERT].join(", ");
    format!(
        "INSERT INTO audit (at, actor, action, target, before, after, detail, prev_hash, hash) VALUES {rows}"
    )
});

/// Binds one record's nine columns from `first` on.
fn bind_record(
    stmt: &mut rusqlite::Statement<'_>,
    first: usize,
    e: &EntryView<'_>,
    prev: &str,
    hash: &str,
) -> Result<(), StoreError> {
    stmt.raw_bind_parameter(first, e.at)?;
    stmt.raw_bind_parameter(first + 1, e.actor)?;
    stmt.raw_bind_parameter(first + 2, e.action)?;
    stmt.raw_bind_parameter(first + 3, e.target)?;
    stmt.raw_bind_parameter(first + 4, e.before)?;
    stmt.raw_bind_parameter(first + 5, e.after)?;
    stmt.raw_bind_parameter(first + 6, e.detail)?;
    stmt.raw_bind_parameter(first + 7, prev)?;
    stmt.raw_bind_parameter(first + 8, hash)?;
    Ok(())
}

/// Appends records to the chain after `prev` inside `tx`, with every text bound
/// borrowed, [`ROWS_PER_INSERT`] rows per statement; returns the new head's hash
/// (`None` for no records) and their sequence numbers (consecutive: each row's `seq`
/// is the table's largest plus one).
fn append_chain(
    tx: &Transaction<'_>,
    prev: &str,
    entries: &[EntryView<'_>],
) -> Result<(Option<LinkHash>, Vec<u64>), StoreError> {
    let mut head: Option<LinkHash> = None;
    let mut seqs = Vec::with_capacity(entries.len());
    let mut chunks = entries.chunks_exact(ROWS_PER_INSERT);
    if chunks.len() > 0 {
        let mut insert = tx.prepare_cached(&INSERT_AUDIT_ROWS)?;
        for chunk in chunks.by_ref() {
            let start = head;
            let mut hashes = [None::<LinkHash>; ROWS_PER_INSERT];
            for (i, e) in chunk.iter().enumerate() {
                let before = head.as_ref().map_or(prev, LinkHash::as_str);
                let hash = link_hash(before, e);
                head = Some(hash);
                hashes[i] = Some(hash);
            }
            let mut link = start.as_ref().map_or(prev, LinkHash::as_str);
            for (i, e) in chunk.iter().enumerate() {
                let hash = hashes[i].as_ref().map_or("", LinkHash::as_str);
                bind_record(&mut insert, i * 9 + 1, e, link, hash)?;
                link = hash;
            }
            insert.raw_execute()?;
            let last = tx.last_insert_rowid() as u64;
            seqs.extend((0..ROWS_PER_INSERT as u64).rev().map(|back| last - back));
        }
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut insert = tx.prepare_cached(INSERT_AUDIT)?;
        for e in rest {
            let before = head.as_ref().map_or(prev, LinkHash::as_str);
            let hash = link_hash(before, e);
            bind_record(&mut insert, 1, e, before, hash.as_str())?;
            insert.raw_execute()?;
            seqs.push(tx.last_insert_rowid() as u64);
            head = Some(hash);
        }
    }
    Ok((head, seqs))
}

fn write_op(tx: &Transaction<'_>, op: &StoreOp) -> Result<(), StoreError> {
    match op {
        StoreOp::PutUser(u) => {
            tx.prepare_cached(concat!(
                "INSERT INTO users (",
                rows::user_write_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                rows::user_upsert!()
            ))?
            .execute(UserValues::of(u).sqlite())?;
            if !u.active {
                tx.prepare_cached("DELETE FROM sessions WHERE user_id = ?1")?
                    .execute(params![&*u.id])?;
            }
        }
        StoreOp::DeleteUser { ord } => {
            tx.prepare_cached(
                "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE ord = ?1)",
            )?
            .execute(params![ord])?;
            tx.prepare_cached("DELETE FROM memberships WHERE member_kind = 0 AND member_ord = ?1")?
                .execute(params![ord])?;
            tx.prepare_cached("DELETE FROM users WHERE ord = ?1")?
                .execute(params![ord])?;
        }
        StoreOp::PutGroup(g) => {
            tx.prepare_cached(concat!(
                "INSERT INTO groups (",
                rows::group_write_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                rows::group_upsert!()
            ))?
            .execute(GroupValues::of(g).sqlite())?;
        }
        StoreOp::DeleteGroup { ord } => {
            tx.prepare_cached("DELETE FROM memberships WHERE group_ord = ?1")?
                .execute(params![ord])?;
            tx.prepare_cached("DELETE FROM memberships WHERE member_kind = 1 AND member_ord = ?1")?
                .execute(params![ord])?;
            tx.prepare_cached("DELETE FROM groups WHERE ord = ?1")?
                .execute(params![ord])?;
        }
        StoreOp::Members {
            group,
            replace_all,
            add,
            remove,
        } => {
            if *replace_all {
                tx.prepare_cached("DELETE FROM memberships WHERE group_ord = ?1")?
                    .execute(params![group])?;
            }
            let mut del = tx.prepare_cached(
                "DELETE FROM memberships WHERE group_ord = ?1 AND member_kind = ?2 AND member_ord = ?3",
            )?;
            for m in remove {
                let (k, o) = rows::member_cols(*m);
                del.execute(params![group, k, o])?;
            }
            let mut ins = tx.prepare_cached(
                "INSERT OR IGNORE INTO memberships (group_ord, member_kind, member_ord) VALUES (?1, ?2, ?3)",
            )?;
            for m in add {
                let (k, o) = rows::member_cols(*m);
                ins.execute(params![group, k, o])?;
            }
        }
    }
    Ok(())
}

/// Every row `sql` selects, read by `row`.
/// Runs `sql` and hands each row to `row` as it is read.
fn each(
    conn: &Connection,
    sql: &str,
    mut row: impl FnMut(&rusqlite::Row<'_>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        row(r)?;
    }
    Ok(())
}

/// One row of the SQLite change log (no writes are kept there: one writer never needs
/// to replay them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeLogRow {
    pub seq: u64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub resource_type: String,
    pub resource_id: String,
}

impl SqliteStore {
    /// The whole change log, oldest first (for `scimgate migrate`).
    pub fn change_log(&self) -> Result<Vec<ChangeLogRow>, StoreError> {
        let conn = self.reader.lock();
        let mut stmt = conn.prepare(
            "SELECT seq, at, actor, action, resource_type, resource_id FROM change_log ORDER BY seq",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(ChangeLogRow {
                seq: r.get::<_, i64>(0)? as u64,
                at: r.get(1)?,
                actor: r.get(2)?,
                action: r.get(3)?,
                resource_type: r.get(4)?,
                resource_id: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

impl Store for SqliteStore {
    fn access_insert(&self, req: &crate::record::AccessRequest) -> Result<(), StoreError> {
        self.sq_access_insert(req)
    }
    fn access_update(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut crate::record::AccessRequest) -> bool,
    ) -> Result<Option<crate::record::AccessRequest>, StoreError> {
        self.sq_access_update(id, change)
    }
    fn access_get(&self, id: &str) -> Result<Option<crate::record::AccessRequest>, StoreError> {
        self.sq_access_get(id)
    }
    fn access_load(
        &self,
        ended_since: i64,
    ) -> Result<Vec<crate::record::AccessRequest>, StoreError> {
        self.sq_access_load(ended_since)
    }
    fn load_into(&self, sink: &mut dyn SnapshotSink) -> Result<(), StoreError> {
        let conn = self.reader.lock();
        let next = |sql: &str| -> Result<u32, StoreError> {
            let n: i64 = conn.query_row(sql, [], |r| r.get(0))?;
            rows::to_u32(n, "ord")
        };
        sink.expect(
            next("SELECT COALESCE(MAX(ord) + 1, 0) FROM users")?,
            next("SELECT COALESCE(MAX(ord) + 1, 0) FROM groups")?,
        );
        let users = concat!("SELECT ", rows::user_columns!(), " FROM users ORDER BY ord");
        each(&conn, users, |r| {
            sink.user(rows::user(r)?);
            Ok(())
        })?;
        let groups = concat!(
            "SELECT ",
            rows::group_columns!(),
            " FROM groups ORDER BY ord"
        );
        each(&conn, groups, |r| {
            sink.group(rows::group(r)?);
            Ok(())
        })?;
        // The index by member hands each user's memberships together.
        let members = concat!(
            "SELECT ",
            rows::membership_columns!(),
            " FROM memberships ORDER BY member_kind, member_ord"
        );
        each(&conn, members, |r| {
            let (group, member) = rows::membership(r)?;
            sink.membership(group, member);
            Ok(())
        })?;
        let seq = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM change_log", [], |r| {
            r.get::<_, i64>(0)
        })?;
        sink.last_seq(seq as u64);
        Ok(())
    }

    fn commit(&self, batch: &[Change]) -> Result<Vec<u64>, StoreError> {
        let mut w = self.writer.lock();
        let Writer {
            conn,
            last_audit_hash,
        } = &mut *w;
        let tx = conn.transaction()?;
        let mut seqs = Vec::with_capacity(batch.len());
        let mut hash = last_audit_hash.clone();
        for change in batch {
            for op in &change.ops {
                write_op(&tx, op)?;
            }
            tx.prepare_cached(
                "INSERT INTO change_log (at, actor, action, resource_type, resource_id) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                change.at,
                change.actor,
                change.action,
                change.resource_type,
                change.resource_id
            ])?;
            seqs.push(tx.last_insert_rowid() as u64);
            hash = append_audit(&tx, &hash, &change.audit_entry())?;
        }
        tx.commit()?;
        *last_audit_hash = hash;
        Ok(seqs)
    }

    fn audit_append_views(&self, entries: &[EntryView<'_>]) -> Result<Vec<u64>, StoreError> {
        let mut w = self.writer.lock();
        let Writer {
            conn,
            last_audit_hash,
        } = &mut *w;
        let tx = conn.transaction()?;
        let (head, seqs) = append_chain(&tx, last_audit_hash, entries)?;
        tx.commit()?;
        if let Some(head) = head {
            last_audit_hash.clear();
            last_audit_hash.push_str(head.as_str());
        }
        Ok(seqs)
    }

    fn audit_prune(&self, req: &PruneRequest) -> Result<Option<PruneOutcome>, StoreError> {
        let mut w = self.writer.lock();
        let Writer {
            conn,
            last_audit_hash,
        } = &mut *w;
        let tx = conn.transaction()?;
        let prev = tx
            .query_row(
                "SELECT detail FROM audit WHERE action = 'audit.checkpoint' ORDER BY seq DESC LIMIT 1",
                [],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()?
            .map(|d| {
                Checkpoint::from_detail(d.as_deref())
                    .ok_or_else(|| StoreError::Corrupt("an audit checkpoint is unreadable".into()))
            })
            .transpose()?;
        let after = prev.as_ref().map_or(0, |p| p.through_seq) as i64;
        let rows = tx
            .prepare_cached(concat!(
                "SELECT ",
                rows::prune_columns!(),
                " FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2"
            ))?
            .query_and_then(params![after, req.max_rows as i64], |r| rows::prune_row(r))?
            .collect::<Result<Vec<_>, _>>()?;
        let Some(plan) = checkpoint::plan(prev.as_ref(), &rows, req) else {
            return Ok(None);
        };
        {
            let mut delete = tx.prepare_cached("DELETE FROM audit WHERE seq = ?1")?;
            for seq in &plan.delete {
                delete.execute(params![*seq as i64])?;
            }
        }
        let hash = append_audit(&tx, last_audit_hash, &plan.entry)?;
        tx.commit()?;
        *last_audit_hash = hash;
        Ok(Some(PruneOutcome {
            through_seq: plan.checkpoint.through_seq,
            pruned: plan.checkpoint.pruned,
            kept: plan.checkpoint.kept,
        }))
    }

    fn audit_query(&self, q: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
        let conn = self.audit_reader.lock();
        let mut sql = String::from(concat!(
            "SELECT ",
            rows::audit_columns!(),
            " FROM audit WHERE 1=1"
        ));
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        let mut arg = |sql: &mut String, clause: &str, v: rusqlite::types::Value| {
            args.push(v);
            sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
        };
        if let Some(s) = q.after_seq {
            arg(&mut sql, " AND seq > ?", (s as i64).into());
        }
        if let Some(s) = q.before_seq {
            arg(&mut sql, " AND seq < ?", (s as i64).into());
        }
        if let Some(t) = q.since {
            arg(&mut sql, " AND at >= ?", t.into());
        }
        if let Some(t) = q.until {
            arg(&mut sql, " AND at < ?", t.into());
        }
        if let Some(u) = &q.user {
            let body = format!("\"userName\":{}", serde_json::Value::from(u.as_str()));
            arg(&mut sql, " AND (actor = ?", format!("user:{u}").into());
            arg(&mut sql, " OR target = ?", format!("User/{u}").into());
            arg(&mut sql, " OR instr(before, ?) > 0", body.clone().into());
            arg(&mut sql, " OR instr(after, ?) > 0", body.into());
            for (clause, v) in grant_clauses("requester", u) {
                arg(&mut sql, clause, v.into());
            }
        }
        if let Some(r) = &q.route {
            arg(&mut sql, " AND (target = ?", format!("route:{r}").into());
            for (clause, v) in grant_clauses("route", r) {
                arg(&mut sql, clause, v.into());
            }
        }
        if let Some(a) = &q.action_prefix {
            arg(&mut sql, " AND instr(action, ?) = 1", a.clone().into());
        }
        sql.push_str(if q.newest_first {
            " ORDER BY seq DESC"
        } else {
            " ORDER BY seq"
        });
        if q.limit > 0 {
            sql.push_str(&format!(" LIMIT {}", q.limit));
        }
        let mut stmt = conn.prepare(&sql)?;
        let found =
            stmt.query_and_then(rusqlite::params_from_iter(args), |r| rows::audit_row(r))?;
        found.collect()
    }

    fn token_insert(&self, row: &TokenRow) -> Result<(), StoreError> {
        let w = self.writer.lock();
        let res = w.conn.execute(
            concat!(
                "INSERT INTO tokens (",
                rows::token_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            ),
            params![
                row.name,
                row.token_id,
                row.hash,
                row.scope,
                row.created,
                row.last_used
            ],
        );
        match res {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(StoreError::Conflict(format!("token {:?}", row.name)))
            }
            Err(e) => Err(e.into()),
        }
    }

    fn token_list(&self) -> Result<Vec<TokenRow>, StoreError> {
        let conn = self.reader.lock();
        let mut stmt = conn.prepare(concat!(
            "SELECT ",
            rows::token_columns!(),
            " FROM tokens ORDER BY created, name"
        ))?;
        let found = stmt.query_and_then([], |r| rows::token(r))?;
        found.collect()
    }

    fn token_by_id(&self, token_id: &str) -> Result<Option<TokenRow>, StoreError> {
        let conn = self.reader.lock();
        let mut stmt = conn.prepare_cached(concat!(
            "SELECT ",
            rows::token_columns!(),
            " FROM tokens WHERE token_id = ?1"
        ))?;
        let mut found = stmt.query_and_then(params![token_id], |r| rows::token(r))?;
        found.next().transpose()
    }

    fn token_revoke(&self, name: &str) -> Result<bool, StoreError> {
        let w = self.writer.lock();
        Ok(w.conn
            .execute("DELETE FROM tokens WHERE name = ?1", params![name])?
            > 0)
    }

    fn session_insert(&self, row: &SessionRow) -> Result<(), StoreError> {
        let w = self.writer.lock();
        w.conn
            .prepare_cached(concat!(
                "INSERT INTO sessions (",
                rows::session_columns!(),
                ") VALUES (?1, ?2, ?3, ?4)"
            ))?
            .execute(params![
                row.token_hash,
                row.user_id,
                row.created,
                row.expires
            ])?;
        Ok(())
    }

    fn session_get(&self, token_hash: &[u8], now: i64) -> Result<Option<SessionRow>, StoreError> {
        let conn = self.reader.lock();
        let mut stmt = conn.prepare_cached(concat!(
            "SELECT ",
            rows::session_columns!(),
            " FROM sessions WHERE token_hash = ?1 AND expires > ?2"
        ))?;
        let mut found = stmt.query_and_then(params![token_hash, now], |r| rows::session(r))?;
        found.next().transpose()
    }

    fn session_delete(&self, token_hash: &[u8]) -> Result<bool, StoreError> {
        let w = self.writer.lock();
        let n = w
            .conn
            .prepare_cached("DELETE FROM sessions WHERE token_hash = ?1")?
            .execute(params![token_hash])?;
        Ok(n > 0)
    }

    fn sessions_load(&self, now: i64) -> Result<Vec<SessionRow>, StoreError> {
        let conn = self.reader.lock();
        let mut stmt = conn.prepare(concat!(
            "SELECT ",
            rows::session_columns!(),
            " FROM sessions WHERE expires > ?1"
        ))?;
        let found = stmt.query_and_then(params![now], |r| rows::session(r))?;
        found.collect()
    }

    fn sessions_purge_expired(&self, now: i64) -> Result<usize, StoreError> {
        let w = self.writer.lock();
        Ok(w.conn
            .execute("DELETE FROM sessions WHERE expires <= ?1", params![now])?)
    }

    fn maintain(&self) -> Result<(), StoreError> {
        // PASSIVE: copies what it can without waiting for, or blocking, the writer.
        // Callers (the directory writer, the audit worker) take turns on this mutex.
        let conn = self.checkpointer.lock();
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        let wal_bytes = std::fs::metadata(&self.wal_path).map_or(0, |m| m.len());
        if wal_bytes <= self.wal_max_bytes {
            return Ok(());
        }
        // Past the bound: copy everything back and truncate the file, holding the
        // writer so no in-process commit competes (they wait on the mutex instead).
        let _writer = self.writer.lock();
        let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        if busy != 0 {
            tracing::warn!(
                wal_bytes,
                "the WAL could not be truncated: a reader held it; will retry"
            );
        }
        Ok(())
    }

    fn token_touch(&self, name: &str, at: i64) -> Result<(), StoreError> {
        let w = self.writer.lock();
        w.conn.execute(
            "UPDATE tokens SET last_used = ?2 WHERE name = ?1",
            params![name, at],
        )?;
        Ok(())
    }
}

/// The search clauses (and their values) for `grant.*` records whose detail names `key`
/// as `value` ([`grant_detail_key`]), to follow an `actor`/`target` alternative.
fn grant_clauses(key: &str, value: &str) -> [(&'static str, String); 2] {
    [
        (" OR (instr(action, ?) = 1", GRANT_ACTIONS.to_owned()),
        (" AND instr(detail, ?) > 0))", grant_detail_key(key, value)),
    ]
}
