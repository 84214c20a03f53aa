//! Access requests and verdicts in PostgreSQL, shared by every replica. A change reads
//! the request `FOR UPDATE`, so two replicas voting at once are serialised and each
//! sees the other's vote; every write `NOTIFY`s [`super::ACCESS_CHANNEL`] with the
//! request's id, so the other replicas read it again and start or end its grant.

use postgres::GenericClient;

use super::{is_unique_violation, PgStore, ACCESS_CHANNEL};
use crate::record::AccessRequest;
use crate::store::rows::access::{self as rows, access_columns, verdict_columns, RequestValues};
use crate::store::StoreError;

impl PgStore {
    pub(super) fn pg_access_insert(&self, req: &AccessRequest) -> Result<(), StoreError> {
        self.with_writer(|c| {
            let mut tx = c.client.transaction()?;
            let values = RequestValues::of(req);
            match tx.execute(
                concat!(
                    "INSERT INTO access_requests (",
                    access_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
                ),
                &values.postgres(),
            ) {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    return Err(StoreError::Conflict(format!("access request {:?}", req.id)))
                }
                Err(e) => return Err(e.into()),
            }
            tx.execute("SELECT pg_notify($1, $2)", &[&ACCESS_CHANNEL, &req.id])?;
            tx.commit()?;
            Ok(())
        })
    }

    pub(super) fn pg_access_update(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut AccessRequest) -> bool,
    ) -> Result<Option<AccessRequest>, StoreError> {
        self.with_writer(|c| {
            let mut tx = c.client.transaction()?;
            let Some(mut req) = read_one(&mut tx, id, true)? else {
                return Ok(None);
            };
            let stored = req.clone();
            if !change(&mut req) {
                return Ok(Some(stored));
            }
            let v = RequestValues::of(&req);
            tx.execute(
                "UPDATE access_requests SET approvals_needed = $2, state = $3, starts_at = $4, \
                 ends_at = $5, ended_at = $6, ended_by = $7, end_reason = $8 WHERE id = $1",
                &[
                    &v.id,
                    &v.approvals_needed,
                    &v.state,
                    &v.starts_at,
                    &v.ends_at,
                    &v.ended_at,
                    &v.ended_by,
                    &v.end_reason,
                ],
            )?;
            for verdict in req.verdicts() {
                tx.execute(
                    concat!(
                        "INSERT INTO access_verdicts (",
                        verdict_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING"
                    ),
                    &[
                        &req.id,
                        &verdict.approver_id,
                        &verdict.approver_name,
                        &verdict.approve,
                        &verdict.comment,
                        &verdict.at,
                    ],
                )?;
            }
            tx.execute("SELECT pg_notify($1, $2)", &[&ACCESS_CHANNEL, &req.id])?;
            tx.commit()?;
            Ok(Some(req))
        })
    }

    pub(super) fn pg_access_get(&self, id: &str) -> Result<Option<AccessRequest>, StoreError> {
        self.with_reader(|c| read_one(&mut c.client, id, false))
    }

    pub(super) fn pg_access_load(
        &self,
        ended_since: i64,
    ) -> Result<Vec<AccessRequest>, StoreError> {
        self.with_reader(|c| {
            let requests = c
                .client
                .query(
                    concat!(
                        "SELECT ",
                        access_columns!(),
                        " FROM access_requests WHERE state IN ('pending', 'active') \
                         OR ended_at >= $1 ORDER BY created_at, id"
                    ),
                    &[&ended_since],
                )?
                .iter()
                .map(rows::request)
                .collect::<Result<Vec<_>, _>>()?;
            let verdicts = c
                .client
                .query(
                    "SELECT v.request_id, v.approver_id, v.approver_name, v.approve, v.comment, \
                     v.at FROM access_verdicts v JOIN access_requests r ON r.id = v.request_id \
                     WHERE r.state IN ('pending', 'active') OR r.ended_at >= $1",
                    &[&ended_since],
                )?
                .iter()
                .map(rows::verdict)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows::join(requests, verdicts))
        })
    }
}

/// One request with its verdicts; `lock`: held `FOR UPDATE` until the transaction ends.
fn read_one(
    client: &mut impl GenericClient,
    id: &str,
    lock: bool,
) -> Result<Option<AccessRequest>, StoreError> {
    let sql = if lock {
        concat!(
            "SELECT ",
            access_columns!(),
            " FROM access_requests WHERE id = $1 FOR UPDATE"
        )
    } else {
        concat!(
            "SELECT ",
            access_columns!(),
            " FROM access_requests WHERE id = $1"
        )
    };
    let Some(row) = client.query_opt(sql, &[&id])? else {
        return Ok(None);
    };
    let req = rows::request(&row)?;
    let verdicts = client
        .query(
            concat!(
                "SELECT ",
                verdict_columns!(),
                " FROM access_verdicts WHERE request_id = $1"
            ),
            &[&id],
        )?
        .iter()
        .map(rows::verdict)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows::join(vec![req], verdicts).pop())
}
