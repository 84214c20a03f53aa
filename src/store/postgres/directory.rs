//! Directory state in PostgreSQL: loading a consistent snapshot, committing a batch of
//! changes (serialised by [`super::WRITE_LOCK`], refused as stale when the head moved),
//! and reading the changes after a sequence for followers.

use std::collections::HashMap;

use postgres::fallible_iterator::FallibleIterator;
use postgres::{IsolationLevel, Statement, Transaction};

use super::{oplog, stmt, PgStore, CHANGES_CHANNEL, WRITE_LOCK};
use crate::record::{Change, SnapshotSink, StoreOp};
use crate::store::rows::{self, GroupValues, UserValues};
use crate::store::StoreError;

pub(super) fn write_op(
    stmts: &mut HashMap<&'static str, Statement>,
    tx: &mut Transaction<'_>,
    op: &StoreOp,
) -> Result<(), StoreError> {
    match op {
        StoreOp::PutUser(u) => {
            let s = stmt(
                stmts,
                tx,
                concat!(
                    "INSERT INTO users (",
                    rows::user_write_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                    rows::user_upsert!()
                ),
            )?;
            tx.execute(&s, &UserValues::of(u).postgres())?;
            if !u.active {
                let s = stmt(stmts, tx, "DELETE FROM sessions WHERE user_id = $1")?;
                tx.execute(&s, &[&&*u.id])?;
            }
        }
        StoreOp::DeleteUser { ord } => {
            let ord = i64::from(*ord);
            let s = stmt(
                stmts,
                tx,
                "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE ord = $1)",
            )?;
            tx.execute(&s, &[&ord])?;
            let s = stmt(
                stmts,
                tx,
                "DELETE FROM memberships WHERE member_kind = 0 AND member_ord = $1",
            )?;
            tx.execute(&s, &[&ord])?;
            let s = stmt(stmts, tx, "DELETE FROM users WHERE ord = $1")?;
            tx.execute(&s, &[&ord])?;
        }
        StoreOp::PutGroup(g) => {
            let s = stmt(
                stmts,
                tx,
                concat!(
                    "INSERT INTO groups (",
                    rows::group_write_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    rows::group_upsert!()
                ),
            )?;
            tx.execute(&s, &GroupValues::of(g).postgres())?;
        }
        StoreOp::DeleteGroup { ord } => {
            let ord = i64::from(*ord);
            let s = stmt(stmts, tx, "DELETE FROM memberships WHERE group_ord = $1")?;
            tx.execute(&s, &[&ord])?;
            let s = stmt(
                stmts,
                tx,
                "DELETE FROM memberships WHERE member_kind = 1 AND member_ord = $1",
            )?;
            tx.execute(&s, &[&ord])?;
            let s = stmt(stmts, tx, "DELETE FROM groups WHERE ord = $1")?;
            tx.execute(&s, &[&ord])?;
        }
        StoreOp::Members {
            group,
            replace_all,
            add,
            remove,
        } => {
            let group = i64::from(*group);
            if *replace_all {
                let s = stmt(stmts, tx, "DELETE FROM memberships WHERE group_ord = $1")?;
                tx.execute(&s, &[&group])?;
            }
            // Set changes in one statement each, however many members they name.
            for (list, sql) in [
                (remove, "DELETE FROM memberships m USING unnest($2::SMALLINT[], $3::BIGINT[]) AS x(k, o)
                          WHERE m.group_ord = $1 AND m.member_kind = x.k AND m.member_ord = x.o"),
                (add, "INSERT INTO memberships (group_ord, member_kind, member_ord)
                       SELECT $1, k, o FROM unnest($2::SMALLINT[], $3::BIGINT[]) AS x(k, o)
                       ON CONFLICT DO NOTHING"),
            ] {
                if list.is_empty() {
                    continue;
                }
                let (kinds, ords): (Vec<i16>, Vec<i64>) =
                    list.iter().map(|m| rows::member_cols(*m)).unzip();
                let s = stmt(stmts, tx, sql)?;
                tx.execute(&s, &[&group, &kinds, &ords])?;
            }
        }
    }
    Ok(())
}

impl PgStore {
    /// Streams the directory to `sink` from one consistent read (rows are read as they
    /// arrive, never collected).
    pub(super) fn pg_load(&self, sink: &mut dyn SnapshotSink) -> Result<(), StoreError> {
        self.with_reader(|c| {
            let mut tx = c
                .client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let next = |tx: &mut Transaction<'_>, sql: &str| -> Result<u32, StoreError> {
                rows::to_u32(tx.query_one(sql, &[])?.try_get(0)?, "ord")
            };
            let users = next(
                &mut tx,
                "SELECT COALESCE(MAX(ord) + 1, 0)::BIGINT FROM users",
            )?;
            let groups = next(
                &mut tx,
                "SELECT COALESCE(MAX(ord) + 1, 0)::BIGINT FROM groups",
            )?;
            sink.expect(users, groups);
            let users = concat!("SELECT ", rows::user_columns!(), " FROM users ORDER BY ord");
            each(&mut tx, users, |r| {
                sink.user(rows::user(r)?);
                Ok(())
            })?;
            let groups = concat!(
                "SELECT ",
                rows::group_columns!(),
                " FROM groups ORDER BY ord"
            );
            each(&mut tx, groups, |r| {
                sink.group(rows::group(r)?);
                Ok(())
            })?;
            let members = concat!(
                "SELECT ",
                rows::membership_columns!(),
                " FROM memberships ORDER BY member_kind, member_ord"
            );
            each(&mut tx, members, |r| {
                let (group, member) = rows::membership(r)?;
                sink.membership(group, member);
                Ok(())
            })?;
            let seq: i64 = tx
                .query_one("SELECT COALESCE(MAX(seq), 0)::BIGINT FROM change_log", &[])?
                .try_get(0)?;
            sink.last_seq(seq as u64);
            tx.commit()?;
            Ok(())
        })
    }

    /// Commits `batch`; with `base`, refuses as stale if the head is not `base`.
    /// The round trips do not grow with the batch ([`super::batch`]).
    pub(super) fn pg_commit(
        &self,
        base: Option<u64>,
        batch: &[Change],
    ) -> Result<Vec<u64>, StoreError> {
        self.with_writer(|c| {
            let mut tx = c.client.transaction()?;
            let lock = stmt(&mut c.stmts, &mut tx, "SELECT pg_advisory_xact_lock($1)")?;
            tx.execute(&lock, &[&WRITE_LOCK])?;
            let heads = super::batch::heads(&mut c.stmts, &mut tx)?;
            if let Some(base) = base.filter(|b| *b != heads.seq) {
                return Err(StoreError::Stale {
                    head: heads.seq,
                    base,
                });
            }
            if batch.is_empty() {
                tx.commit()?;
                return Ok(Vec::new());
            }
            super::batch::write_ops(&mut c.stmts, &mut tx, batch).map_err(unique_to_conflict)?;
            let seqs =
                super::batch::log_and_audit(&mut c.stmts, &mut tx, &heads, batch, CHANGES_CHANNEL)?;
            tx.commit()?;
            Ok(seqs)
        })
    }

    pub(super) fn pg_changes_since(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Change)>, StoreError> {
        self.with_reader(|c| {
            let s = stmt(
                &mut c.stmts,
                &mut c.client,
                "SELECT seq, at, actor, action, resource_type, resource_id, ops FROM change_log WHERE seq > $1 ORDER BY seq LIMIT $2",
            )?;
            let rows = c
                .client
                .query(&s, &[&(after as i64), &(limit.min(i64::MAX as usize) as i64)])?;
            rows.iter()
                .map(|r| {
                    let ops: Option<String> = r.try_get(6)?;
                    let change = oplog::replayed(
                        r.try_get(1)?,
                        r.try_get(2)?,
                        r.try_get::<_, &str>(3)?,
                        r.try_get::<_, &str>(4)?,
                        r.try_get(5)?,
                        ops.as_deref().unwrap_or("[]"),
                    )?;
                    Ok((r.try_get::<_, i64>(0)? as u64, change))
                })
                .collect()
        })
    }
}

/// Every row `sql` selects, read by `row`.
/// Runs `sql` and hands each row to `row` as it arrives.
fn each(
    tx: &mut Transaction<'_>,
    sql: &str,
    mut row: impl FnMut(&postgres::Row) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut rows = tx.query_raw(
        sql,
        std::iter::empty::<&(dyn postgres::types::ToSql + Sync)>(),
    )?;
    while let Some(r) = rows.next()? {
        row(&r)?;
    }
    Ok(())
}

/// A unique constraint that fires in a commit: the database's backstop for names the
/// writer's plan should already have refused.
fn unique_to_conflict(e: StoreError) -> StoreError {
    match e {
        StoreError::Postgres(pg) if super::is_unique_violation(&pg) => {
            StoreError::Conflict("a user or group with that name".into())
        }
        other => other,
    }
}
