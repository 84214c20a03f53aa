//! Access requests and verdicts in SQLite: written on the writer connection (one
//! transaction per change, so a vote and the state it moves to land together), read
//! on the reader.

use rusqlite::{params, Connection};

use super::SqliteStore;
use crate::record::AccessRequest;
use crate::store::rows::access::{self as rows, access_columns, verdict_columns, RequestValues};
use crate::store::StoreError;

impl SqliteStore {
    pub(super) fn sq_access_insert(&self, req: &AccessRequest) -> Result<(), StoreError> {
        let w = self.writer.lock();
        let values = RequestValues::of(req);
        let res = w
            .conn
            .prepare_cached(concat!(
                "INSERT INTO access_requests (",
                access_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
            ))?
            .execute(&values.sqlite()[..]);
        match res {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(StoreError::Conflict(format!("access request {:?}", req.id)))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub(super) fn sq_access_update(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut AccessRequest) -> bool,
    ) -> Result<Option<AccessRequest>, StoreError> {
        let mut w = self.writer.lock();
        let tx = w.conn.transaction()?;
        let Some(mut req) = read_one(&tx, id)? else {
            return Ok(None);
        };
        let stored = req.clone();
        if !change(&mut req) {
            return Ok(Some(stored));
        }
        let v = RequestValues::of(&req);
        tx.prepare_cached(
            "UPDATE access_requests SET approvals_needed = ?2, state = ?3, starts_at = ?4, \
             ends_at = ?5, ended_at = ?6, ended_by = ?7, end_reason = ?8 WHERE id = ?1",
        )?
        .execute(params![
            v.id,
            v.approvals_needed,
            v.state,
            v.starts_at,
            v.ends_at,
            v.ended_at,
            v.ended_by,
            v.end_reason
        ])?;
        for verdict in req.verdicts() {
            tx.prepare_cached(concat!(
                "INSERT INTO access_verdicts (",
                verdict_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING"
            ))?
            .execute(params![
                req.id,
                verdict.approver_id,
                verdict.approver_name,
                verdict.approve,
                verdict.comment,
                verdict.at
            ])?;
        }
        tx.commit()?;
        Ok(Some(req))
    }

    pub(super) fn sq_access_get(&self, id: &str) -> Result<Option<AccessRequest>, StoreError> {
        read_one(&self.reader.lock(), id)
    }

    pub(super) fn sq_access_load(
        &self,
        ended_since: i64,
    ) -> Result<Vec<AccessRequest>, StoreError> {
        let conn = self.reader.lock();
        let requests = conn
            .prepare(concat!(
                "SELECT ",
                access_columns!(),
                " FROM access_requests WHERE state IN ('pending', 'active') OR ended_at >= ?1 \
                 ORDER BY created_at, id"
            ))?
            .query_and_then(params![ended_since], |r| rows::request(r))?
            .collect::<Result<Vec<_>, _>>()?;
        let verdicts = conn
            .prepare(
                "SELECT v.request_id, v.approver_id, v.approver_name, v.approve, v.comment, v.at \
                 FROM access_verdicts v JOIN access_requests r ON r.id = v.request_id \
                 WHERE r.state IN ('pending', 'active') OR r.ended_at >= ?1",
            )?
            .query_and_then(params![ended_since], |r| rows::verdict(r))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows::join(requests, verdicts))
    }
}

/// One request with its verdicts, on `conn` (in a transaction or not).
fn read_one(conn: &Connection, id: &str) -> Result<Option<AccessRequest>, StoreError> {
    let Some(req) = conn
        .prepare_cached(concat!(
            "SELECT ",
            access_columns!(),
            " FROM access_requests WHERE id = ?1"
        ))?
        .query_and_then(params![id], |r| rows::request(r))?
        .next()
        .transpose()?
    else {
        return Ok(None);
    };
    let verdicts = conn
        .prepare_cached(concat!(
            "SELECT ",
            verdict_columns!(),
            " FROM access_verdicts WHERE request_id = ?1"
        ))?
        .query_and_then(params![id], |r| rows::verdict(r))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows::join(vec![req], verdicts).pop())
}
