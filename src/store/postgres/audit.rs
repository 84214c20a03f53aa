//! The audit chain in PostgreSQL: appends under [`super::WRITE_LOCK`] (the chain's head
//! is read inside the lock, so records from every replica form one chain) and queries
//! with the same filters as the SQLite store (on a connection of their own). Retention
//! passes prune under the same lock ([`crate::record::checkpoint`]).

use std::collections::HashMap;

use postgres::types::ToSql;
use postgres::{Statement, Transaction};

use super::{stmt, PgStore, WRITE_LOCK};
use crate::record::chain::{link_hash, record_hash, LinkHash, GENESIS_HASH};
use crate::record::checkpoint::{self, Checkpoint, PruneOutcome, PruneRequest};
use crate::record::{grant_detail_key, AuditEntry, AuditQuery, AuditRow, EntryView, GRANT_ACTIONS};
use crate::store::rows;
use crate::store::StoreError;

/// The hash of the last record (the genesis hash for an empty chain).
pub(super) fn last_hash(tx: &mut Transaction<'_>) -> Result<String, StoreError> {
    Ok(tx
        .query_opt("SELECT hash FROM audit ORDER BY seq DESC LIMIT 1", &[])?
        .map(|r| r.try_get::<_, String>(0))
        .transpose()?
        .unwrap_or_else(|| GENESIS_HASH.to_owned()))
}

/// The sequence number of the last record.
pub(super) fn head(tx: &mut Transaction<'_>) -> Result<u64, StoreError> {
    let seq: i64 = tx
        .query_one("SELECT COALESCE(MAX(seq), 0)::BIGINT FROM audit", &[])?
        .try_get(0)?;
    Ok(seq as u64)
}

/// A batch of records in one statement: one array per column.
const APPEND_MANY: &str =
    "INSERT INTO audit (seq, at, actor, action, target, before, after, detail, prev_hash, hash)
     SELECT * FROM unnest($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[], $5::TEXT[],
                          $6::TEXT[], $7::TEXT[], $8::TEXT[], $9::TEXT[], $10::TEXT[])";

/// Appends one record as `seq` after `prev`; returns its hash.
pub(super) fn append(
    stmts: &mut HashMap<&'static str, Statement>,
    tx: &mut Transaction<'_>,
    seq: u64,
    prev: &str,
    e: &AuditEntry,
) -> Result<String, StoreError> {
    let hash = record_hash(prev, e);
    let s = stmt(
        stmts,
        tx,
        "INSERT INTO audit (seq, at, actor, action, target, before, after, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )?;
    tx.execute(
        &s,
        &[
            &(seq as i64),
            &e.at,
            &e.actor,
            &e.action,
            &e.target,
            &e.before,
            &e.after,
            &e.detail,
            &prev,
            &hash,
        ],
    )?;
    Ok(hash)
}

impl PgStore {
    /// Appends `entries` after the chain's head in one statement (one round trip per
    /// batch, not per record).
    pub(super) fn pg_audit_append(
        &self,
        entries: &[EntryView<'_>],
    ) -> Result<Vec<u64>, StoreError> {
        self.with_writer(|c| {
            let mut tx = c.client.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
            let head_hash = last_hash(&mut tx)?;
            let head_seq = head(&mut tx)?;
            let n = entries.len();
            let mut seqs = Vec::with_capacity(n);
            let mut seq_col = Vec::with_capacity(n);
            let mut at = Vec::with_capacity(n);
            let mut actor = Vec::with_capacity(n);
            let mut action = Vec::with_capacity(n);
            let mut target = Vec::with_capacity(n);
            let mut before = Vec::with_capacity(n);
            let mut after = Vec::with_capacity(n);
            let mut detail = Vec::with_capacity(n);
            let mut hashes: Vec<LinkHash> = Vec::with_capacity(n);
            for (i, e) in entries.iter().enumerate() {
                let seq = head_seq + i as u64 + 1;
                let prev = hashes.last().map_or(head_hash.as_str(), LinkHash::as_str);
                let hash = link_hash(prev, e);
                hashes.push(hash);
                seqs.push(seq);
                seq_col.push(seq as i64);
                at.push(e.at);
                actor.push(e.actor);
                action.push(e.action);
                target.push(e.target);
                before.push(e.before);
                after.push(e.after);
                detail.push(e.detail);
            }
            let hash: Vec<&str> = hashes.iter().map(LinkHash::as_str).collect();
            let prev: Vec<&str> = std::iter::once(head_hash.as_str())
                .chain(hash.iter().copied())
                .take(n)
                .collect();
            let s = stmt(&mut c.stmts, &mut tx, APPEND_MANY)?;
            tx.execute(
                &s,
                &[
                    &seq_col, &at, &actor, &action, &target, &before, &after, &detail, &prev, &hash,
                ],
            )?;
            tx.commit()?;
            Ok(seqs)
        })
    }

    pub(super) fn pg_audit_prune(
        &self,
        req: &PruneRequest,
    ) -> Result<Option<PruneOutcome>, StoreError> {
        self.with_writer(|c| {
            let mut tx = c.client.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
            let prev = tx
                .query_opt(
                    "SELECT detail FROM audit WHERE action = 'audit.checkpoint' ORDER BY seq DESC LIMIT 1",
                    &[],
                )?
                .map(|r| r.try_get::<_, Option<String>>(0))
                .transpose()?
                .map(|d| {
                    Checkpoint::from_detail(d.as_deref()).ok_or_else(|| {
                        StoreError::Corrupt("an audit checkpoint is unreadable".into())
                    })
                })
                .transpose()?;
            let after = prev.as_ref().map_or(0, |p| p.through_seq) as i64;
            let rows = tx
                .query(
                    concat!(
                        "SELECT ",
                        rows::prune_columns!(),
                        " FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2"
                    ),
                    &[&after, &(req.max_rows as i64)],
                )?
                .iter()
                .map(rows::prune_row)
                .collect::<Result<Vec<_>, StoreError>>()?;
            let Some(plan) = checkpoint::plan(prev.as_ref(), &rows, req) else {
                return Ok(None);
            };
            let doomed: Vec<i64> = plan.delete.iter().map(|s| *s as i64).collect();
            tx.execute("DELETE FROM audit WHERE seq = ANY($1)", &[&doomed])?;
            let hash = last_hash(&mut tx)?;
            let seq = head(&mut tx)? + 1;
            append(&mut c.stmts, &mut tx, seq, &hash, &plan.entry)?;
            tx.commit()?;
            Ok(Some(PruneOutcome {
                through_seq: plan.checkpoint.through_seq,
                pruned: plan.checkpoint.pruned,
                kept: plan.checkpoint.kept,
            }))
        })
    }

    pub(super) fn pg_audit_query(&self, q: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
        let mut sql = String::from(concat!(
            "SELECT ",
            rows::audit_columns!(),
            " FROM audit WHERE TRUE"
        ));
        let mut args: Vec<Box<dyn ToSql + Sync>> = Vec::new();
        let mut arg = |sql: &mut String, clause: &str, v: Box<dyn ToSql + Sync>| {
            args.push(v);
            sql.push_str(&clause.replace('?', &format!("${}", args.len())));
        };
        if let Some(s) = q.after_seq {
            arg(&mut sql, " AND seq > ?", Box::new(s as i64));
        }
        if let Some(s) = q.before_seq {
            arg(&mut sql, " AND seq < ?", Box::new(s as i64));
        }
        if let Some(t) = q.since {
            arg(&mut sql, " AND at >= ?", Box::new(t));
        }
        if let Some(t) = q.until {
            arg(&mut sql, " AND at < ?", Box::new(t));
        }
        if let Some(u) = &q.user {
            let body = format!("\"userName\":{}", serde_json::Value::from(u.as_str()));
            arg(&mut sql, " AND (actor = ?", Box::new(format!("user:{u}")));
            arg(&mut sql, " OR target = ?", Box::new(format!("User/{u}")));
            arg(
                &mut sql,
                " OR strpos(before, ?) > 0",
                Box::new(body.clone()),
            );
            arg(&mut sql, " OR strpos(after, ?) > 0", Box::new(body));
            for (clause, v) in grant_clauses("requester", u) {
                arg(&mut sql, clause, Box::new(v));
            }
        }
        if let Some(r) = &q.route {
            arg(&mut sql, " AND (target = ?", Box::new(format!("route:{r}")));
            for (clause, v) in grant_clauses("route", r) {
                arg(&mut sql, clause, Box::new(v));
            }
        }
        if let Some(a) = &q.action_prefix {
            arg(&mut sql, " AND strpos(action, ?) = 1", Box::new(a.clone()));
        }
        sql.push_str(if q.newest_first {
            " ORDER BY seq DESC"
        } else {
            " ORDER BY seq"
        });
        if q.limit > 0 {
            sql.push_str(&format!(" LIMIT {}", q.limit));
        }
        let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref()).collect();
        self.with_audit_reader(|c| {
            c.client
                .query(&sql, &params)?
                .iter()
                .map(rows::audit_row)
                .collect()
        })
    }
}

/// The search clauses (and their values) for `grant.*` records whose detail names `key`
/// as `value` ([`grant_detail_key`]), to follow an `actor`/`target` alternative.
fn grant_clauses(key: &str, value: &str) -> [(&'static str, String); 2] {
    [
        (" OR (strpos(action, ?) = 1", GRANT_ACTIONS.to_owned()),
        (" AND strpos(detail, ?) > 0))", grant_detail_key(key, value)),
    ]
}
