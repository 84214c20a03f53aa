//! Filling an empty PostgreSQL store from another store in one transaction (for
//! `scimgate migrate`): directory rows, the change log (sequence numbers kept), the
//! audit chain exactly as stored (hashes kept, so it verifies), tokens, sessions, and
//! access requests with their verdicts.

use std::collections::HashMap;

use super::directory::write_op;
use super::{PgStore, WRITE_LOCK};
use crate::record::{AccessRequest, AuditRow, Member, SessionRow, Snapshot, StoreOp, TokenRow};
use crate::store::rows::access::{access_columns, verdict_columns, RequestValues};
use crate::store::rows::{session_columns, token_columns};
use crate::store::sqlite::ChangeLogRow;
use crate::store::StoreError;

/// Everything a store holds, read out for a move.
pub struct Export {
    pub snapshot: Snapshot,
    pub change_log: Vec<ChangeLogRow>,
    pub audit: Vec<AuditRow>,
    pub tokens: Vec<TokenRow>,
    pub sessions: Vec<SessionRow>,
    /// Every access request, ended ones too, with its verdicts.
    pub access: Vec<AccessRequest>,
}

impl PgStore {
    /// Imports `data` into this store, which must hold no directory, audit or token
    /// rows (`Conflict` otherwise).
    pub fn import(&self, data: &Export) -> Result<(), StoreError> {
        self.with_writer(|c| {
            let mut tx = c.client.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
            let used: i64 = tx
                .query_one(
                    "SELECT (SELECT COUNT(*) FROM users) + (SELECT COUNT(*) FROM groups) + (SELECT COUNT(*) FROM audit) + (SELECT COUNT(*) FROM tokens) + (SELECT COUNT(*) FROM change_log)",
                    &[],
                )?
                .try_get(0)?;
            if used > 0 {
                return Err(StoreError::Conflict(
                    "the target database already holds scimgate data".into(),
                ));
            }
            let mut stmts = HashMap::new();
            let snap = &data.snapshot;
            for u in &snap.users {
                write_op(&mut stmts, &mut tx, &StoreOp::PutUser(u.clone().into()))?;
            }
            for g in &snap.groups {
                write_op(&mut stmts, &mut tx, &StoreOp::PutGroup(g.clone().into()))?;
            }
            let mut by_group: HashMap<u32, Vec<Member>> = HashMap::new();
            for (g, m) in &snap.memberships {
                by_group.entry(*g).or_default().push(*m);
            }
            for (group, add) in by_group {
                let op = StoreOp::Members {
                    group,
                    replace_all: false,
                    add,
                    remove: Vec::new(),
                };
                write_op(&mut stmts, &mut tx, &op)?;
            }
            for r in &data.change_log {
                tx.execute(
                    "INSERT INTO change_log (seq, at, actor, action, resource_type, resource_id, ops) VALUES ($1, $2, $3, $4, $5, $6, NULL)",
                    &[&(r.seq as i64), &r.at, &r.actor, &r.action, &r.resource_type, &r.resource_id],
                )?;
            }
            for a in &data.audit {
                let e = &a.entry;
                tx.execute(
                    "INSERT INTO audit (seq, at, actor, action, target, before, after, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    &[&(a.seq as i64), &e.at, &e.actor, &e.action, &e.target, &e.before, &e.after, &e.detail, &a.prev_hash, &a.hash],
                )?;
            }
            for t in &data.tokens {
                tx.execute(
                    concat!("INSERT INTO tokens (", token_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6)"),
                    &[&t.name, &t.token_id, &t.hash, &t.scope, &t.created, &t.last_used],
                )?;
            }
            for s in &data.sessions {
                tx.execute(
                    concat!("INSERT INTO sessions (", session_columns!(), ") VALUES ($1, $2, $3, $4)"),
                    &[&s.token_hash, &s.user_id, &s.created, &s.expires],
                )?;
            }
            for r in &data.access {
                tx.execute(
                    concat!(
                        "INSERT INTO access_requests (",
                        access_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
                    ),
                    &RequestValues::of(r).postgres(),
                )?;
                for v in r.verdicts() {
                    tx.execute(
                        concat!("INSERT INTO access_verdicts (", verdict_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6)"),
                        &[&r.id, &v.approver_id, &v.approver_name, &v.approve, &v.comment, &v.at],
                    )?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }
}
