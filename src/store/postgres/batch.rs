//! A commit's writes in a fixed number of round trips, whatever the batch's size: the
//! heads (change log, audit chain) in one statement after the lock, consecutive user
//! upserts as one multi-row statement, and the batch's change-log rows, audit records
//! and notification as one statement. Every statement is prepared once per connection.
//! A commit is then BEGIN, lock, heads, writes, log, COMMIT: the writer's group commit
//! ([`crate::directory::writer`]) pays one round trip per step, not per change.

use std::collections::{HashMap, HashSet};

use postgres::{Statement, Transaction};

use super::directory::write_op;
use super::stmt;
use crate::record::chain::{record_hash, GENESIS_HASH};
use crate::record::{Change, StoreOp, UserRecord};
use crate::store::rows::{user_upsert, user_write_columns, UserValues};
use crate::store::StoreError;

const HEADS: &str = "SELECT (SELECT COALESCE(MAX(seq), 0) FROM change_log)::BIGINT, \
     (SELECT hash FROM audit ORDER BY seq DESC LIMIT 1), \
     (SELECT COALESCE(MAX(seq), 0) FROM audit)::BIGINT";

const PUT_USERS: &str = concat!(
    "INSERT INTO users (",
    user_write_columns!(),
    ")
     SELECT * FROM unnest($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::BOOLEAN[], $7::TEXT[],
                          $8::TEXT[], $9::TEXT[], $10::TEXT[], $11::BIGINT[], $12::BIGINT[], $13::BIGINT[], $14::BOOLEAN[])",
    user_upsert!()
);

const END_SESSIONS: &str = "DELETE FROM sessions WHERE user_id = ANY($1::TEXT[])";

/// The change-log rows and audit records share `at`, `actor` and `action`.
const LOG_AUDIT_NOTIFY: &str = "WITH log AS (
       INSERT INTO change_log (seq, at, actor, action, resource_type, resource_id, ops)
       SELECT * FROM unnest($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::TEXT[])
     ), aud AS (
       INSERT INTO audit (seq, at, actor, action, target, before, after, detail, prev_hash, hash)
       SELECT * FROM unnest($8::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[], $9::TEXT[], $10::TEXT[],
                            $11::TEXT[], $12::TEXT[], $13::TEXT[], $14::TEXT[])
     )
     SELECT pg_notify($15, $16)";

/// The heads read under the write lock.
pub(super) struct Heads {
    pub seq: u64,
    pub audit_seq: u64,
    pub audit_hash: String,
}

pub(super) fn heads(
    stmts: &mut HashMap<&'static str, Statement>,
    tx: &mut Transaction<'_>,
) -> Result<Heads, StoreError> {
    let s = stmt(stmts, tx, HEADS)?;
    let row = tx.query_one(&s, &[])?;
    Ok(Heads {
        seq: row.try_get::<_, i64>(0)? as u64,
        audit_hash: row
            .try_get::<_, Option<String>>(1)?
            .unwrap_or_else(|| GENESIS_HASH.to_owned()),
        audit_seq: row.try_get::<_, i64>(2)? as u64,
    })
}

/// Writes every change's ops in order, consecutive user upserts as one statement.
pub(super) fn write_ops(
    stmts: &mut HashMap<&'static str, Statement>,
    tx: &mut Transaction<'_>,
    batch: &[Change],
) -> Result<(), StoreError> {
    let mut users: Vec<&UserRecord> = Vec::new();
    let mut ords: HashSet<u32> = HashSet::new();
    for op in batch.iter().flat_map(|c| &c.ops) {
        match op {
            StoreOp::PutUser(u) => {
                // One statement may not upsert a row twice.
                if !ords.insert(u.ord) {
                    put_users(stmts, tx, &users)?;
                    users.clear();
                    ords.clear();
                    ords.insert(u.ord);
                }
                users.push(u);
            }
            other => {
                put_users(stmts, tx, &users)?;
                users.clear();
                ords.clear();
                write_op(stmts, tx, other)?;
            }
        }
    }
    put_users(stmts, tx, &users)
}

/// Upserts `users` in one statement; a deactivated user's sessions end with it.
fn put_users(
    stmts: &mut HashMap<&'static str, Statement>,
    tx: &mut Transaction<'_>,
    users: &[&UserRecord],
) -> Result<(), StoreError> {
    if users.is_empty() {
        return Ok(());
    }
    let n = users.len();
    let mut ord = Vec::with_capacity(n);
    let mut id = Vec::with_capacity(n);
    let mut name = Vec::with_capacity(n);
    let mut lower = Vec::with_capacity(n);
    let mut external = Vec::with_capacity(n);
    let mut active = Vec::with_capacity(n);
    let mut emails = Vec::with_capacity(n);
    let mut license = Vec::with_capacity(n);
    let mut user_type = Vec::with_capacity(n);
    let mut body = Vec::with_capacity(n);
    let mut created = Vec::with_capacity(n);
    let mut modified = Vec::with_capacity(n);
    let mut version = Vec::with_capacity(n);
    let mut managed = Vec::with_capacity(n);
    let mut ended: Vec<&str> = Vec::new();
    for u in users {
        let v = UserValues::of(u);
        if !v.active {
            ended.push(v.id);
        }
        ord.push(v.ord);
        id.push(v.id);
        name.push(v.user_name);
        lower.push(v.user_name_lower);
        external.push(v.external_id);
        active.push(v.active);
        emails.push(v.emails);
        license.push(v.license);
        user_type.push(v.user_type);
        body.push(v.body);
        created.push(v.created);
        modified.push(v.modified);
        version.push(v.version);
        managed.push(v.scim_managed);
    }
    let s = stmt(stmts, tx, PUT_USERS)?;
    tx.execute(
        &s,
        &[
            &ord, &id, &name, &lower, &external, &active, &emails, &license, &user_type, &body,
            &created, &modified, &version, &managed,
        ],
    )?;
    if !ended.is_empty() {
        let s = stmt(stmts, tx, END_SESSIONS)?;
        tx.execute(&s, &[&ended])?;
    }
    Ok(())
}

/// Appends the batch's change-log rows (from `heads.seq + 1`) and audit records
/// (chained from the audit head) and notifies followers, in one statement; returns
/// the changes' sequence numbers.
pub(super) fn log_and_audit(
    stmts: &mut HashMap<&'static str, Statement>,
    tx: &mut Transaction<'_>,
    heads: &Heads,
    batch: &[Change],
    channel: &str,
) -> Result<Vec<u64>, StoreError> {
    let n = batch.len();
    let mut seqs = Vec::with_capacity(n);
    let mut seq_col = Vec::with_capacity(n);
    let mut at = Vec::with_capacity(n);
    let mut actor = Vec::with_capacity(n);
    let mut action = Vec::with_capacity(n);
    let mut rtype = Vec::with_capacity(n);
    let mut rid = Vec::with_capacity(n);
    let mut ops = Vec::with_capacity(n);
    let mut audit_seq = Vec::with_capacity(n);
    let mut target = Vec::with_capacity(n);
    let mut before = Vec::with_capacity(n);
    let mut after = Vec::with_capacity(n);
    let mut detail = Vec::with_capacity(n);
    let mut prev = Vec::with_capacity(n);
    let mut hash = Vec::with_capacity(n);
    let mut last = heads.audit_hash.clone();
    for (i, change) in batch.iter().enumerate() {
        let seq = heads.seq + i as u64 + 1;
        seqs.push(seq);
        seq_col.push(seq as i64);
        at.push(change.at);
        actor.push(change.actor.as_str());
        action.push(change.action);
        rtype.push(change.resource_type);
        rid.push(change.resource_id.as_str());
        ops.push(super::oplog::encode(&change.ops));
        let entry = change.audit_entry();
        let h = record_hash(&last, &entry);
        audit_seq.push((heads.audit_seq + i as u64 + 1) as i64);
        target.push(entry.target);
        before.push(entry.before);
        after.push(entry.after);
        detail.push(entry.detail);
        prev.push(std::mem::replace(&mut last, h.clone()));
        hash.push(h);
    }
    let payload = seqs.last().map(u64::to_string).unwrap_or_default();
    let s = stmt(stmts, tx, LOG_AUDIT_NOTIFY)?;
    tx.execute(
        &s,
        &[
            &seq_col, &at, &actor, &action, &rtype, &rid, &ops, &audit_seq, &target, &before,
            &after, &detail, &prev, &hash, &channel, &payload,
        ],
    )?;
    Ok(seqs)
}
