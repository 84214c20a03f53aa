//! Directory state in PostgreSQL: loading a consistent snapshot, committing a batch of
//! changes (serialised by [`super::WRITE_LOCK`], refused as stale when the head moved),
//! and reading the changes after a sequence for followers.

use std::collections::HashMap;
use std::sync::Arc;

use postgres::{IsolationLevel, Statement, Transaction};

use super::{oplog, stmt, to_u32, PgStore, CHANGES_CHANNEL, WRITE_LOCK};
use crate::directory::model::{GroupRecord, Member, UserRecord};
use crate::store::{Change, Snapshot, StoreError, StoreOp};

fn member_cols(m: Member) -> (i16, i64) {
    match m {
        Member::User(o) => (0, i64::from(o)),
        Member::Group(o) => (1, i64::from(o)),
    }
}

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
                "INSERT INTO users (ord, id, user_name, user_name_lower, external_id, active, emails, license, user_type, body, created, modified, version, scim_managed)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                 ON CONFLICT (ord) DO UPDATE SET user_name=excluded.user_name, user_name_lower=excluded.user_name_lower,
                   external_id=excluded.external_id, active=excluded.active, emails=excluded.emails, license=excluded.license,
                   user_type=excluded.user_type, body=excluded.body, modified=excluded.modified, version=excluded.version,
                   scim_managed=excluded.scim_managed",
            )?;
            tx.execute(
                &s,
                &[
                    &i64::from(u.ord),
                    &&*u.id,
                    &&*u.user_name,
                    &crate::directory::name_key(&u.user_name),
                    &u.external_id.as_deref(),
                    &u.active,
                    &u.emails.join("\n"),
                    &u.license.as_deref(),
                    &u.user_type.as_deref(),
                    &&*u.body.text(),
                    &u.created,
                    &u.modified,
                    &(u.version as i64),
                    &u.scim_managed,
                ],
            )?;
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
                "INSERT INTO groups (ord, id, display_name, display_name_lower, external_id, body, created, modified, version, scim_managed)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 ON CONFLICT (ord) DO UPDATE SET display_name=excluded.display_name, display_name_lower=excluded.display_name_lower,
                   external_id=excluded.external_id, body=excluded.body, modified=excluded.modified, version=excluded.version,
                   scim_managed=excluded.scim_managed",
            )?;
            tx.execute(
                &s,
                &[
                    &i64::from(g.ord),
                    &&*g.id,
                    &&*g.display_name,
                    &crate::directory::name_key(&g.display_name),
                    &g.external_id.as_deref(),
                    &&*g.body.text(),
                    &g.created,
                    &g.modified,
                    &(g.version as i64),
                    &g.scim_managed,
                ],
            )?;
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
                    list.iter().map(|m| member_cols(*m)).unzip();
                let s = stmt(stmts, tx, sql)?;
                tx.execute(&s, &[&group, &kinds, &ords])?;
            }
        }
    }
    Ok(())
}

fn opt_box(s: Option<String>) -> Option<Box<str>> {
    s.map(String::into_boxed_str)
}

impl PgStore {
    pub(super) fn pg_load(&self) -> Result<Snapshot, StoreError> {
        self.with_reader(|c| {
            let mut tx = c
                .client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let mut snap = Snapshot::default();
            for r in tx.query(
                "SELECT ord, id, user_name, external_id, active, emails, license, user_type, body, created, modified, version, scim_managed FROM users ORDER BY ord",
                &[],
            )? {
                let emails: String = r.try_get(5)?;
                snap.users.push(UserRecord {
                    ord: to_u32(r.try_get(0)?, "user ord")?,
                    id: Arc::from(r.try_get::<_, String>(1)?),
                    user_name: r.try_get::<_, String>(2)?.into_boxed_str(),
                    external_id: opt_box(r.try_get(3)?),
                    active: r.try_get(4)?,
                    emails: emails
                        .split('\n')
                        .filter(|e| !e.is_empty())
                        .map(Box::from)
                        .collect(),
                    license: opt_box(r.try_get(6)?),
                    user_type: opt_box(r.try_get(7)?),
                    body: r.try_get::<_, String>(8)?.into(),
                    created: r.try_get(9)?,
                    modified: r.try_get(10)?,
                    version: r.try_get::<_, i64>(11)? as u64,
                    scim_managed: r.try_get(12)?,
                });
            }
            for r in tx.query(
                "SELECT ord, id, display_name, external_id, body, created, modified, version, scim_managed FROM groups ORDER BY ord",
                &[],
            )? {
                snap.groups.push(GroupRecord {
                    ord: to_u32(r.try_get(0)?, "group ord")?,
                    id: Arc::from(r.try_get::<_, String>(1)?),
                    display_name: r.try_get::<_, String>(2)?.into_boxed_str(),
                    external_id: opt_box(r.try_get(3)?),
                    body: r.try_get::<_, String>(4)?.into(),
                    created: r.try_get(5)?,
                    modified: r.try_get(6)?,
                    version: r.try_get::<_, i64>(7)? as u64,
                    scim_managed: r.try_get(8)?,
                });
            }
            for r in tx.query(
                "SELECT group_ord, member_kind, member_ord FROM memberships",
                &[],
            )? {
                let group = to_u32(r.try_get(0)?, "membership group")?;
                let ord = to_u32(r.try_get(2)?, "membership member")?;
                let member = match r.try_get::<_, i16>(1)? {
                    0 => Member::User(ord),
                    1 => Member::Group(ord),
                    k => return Err(StoreError::Corrupt(format!("member kind {k}"))),
                };
                snap.memberships.push((group, member));
            }
            let seq: i64 = tx
                .query_one("SELECT COALESCE(MAX(seq), 0)::BIGINT FROM change_log", &[])?
                .try_get(0)?;
            snap.last_seq = seq as u64;
            tx.commit()?;
            Ok(snap)
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
