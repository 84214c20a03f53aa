//! SCIM tokens and browser sessions in PostgreSQL, shared by every replica. Ending a
//! session `NOTIFY`s [`super::SESSIONS_CHANNEL`] so that other replicas forget it at
//! once; a session made on another replica is found here on a cache miss.

use super::{is_unique_violation, stmt, PgStore, SESSIONS_CHANNEL};
use crate::record::{SessionRow, TokenRow};
use crate::store::rows::{self, session_columns, token_columns};
use crate::store::StoreError;

impl PgStore {
    pub(super) fn pg_token_insert(&self, row: &TokenRow) -> Result<(), StoreError> {
        self.with_writer(|c| {
            match c.client.execute(
                concat!(
                    "INSERT INTO tokens (",
                    token_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6)"
                ),
                &[
                    &row.name,
                    &row.token_id,
                    &row.hash,
                    &row.scope,
                    &row.created,
                    &row.last_used,
                ],
            ) {
                Ok(_) => Ok(()),
                Err(e) if is_unique_violation(&e) => {
                    Err(StoreError::Conflict(format!("token {:?}", row.name)))
                }
                Err(e) => Err(e.into()),
            }
        })
    }

    pub(super) fn pg_token_list(&self) -> Result<Vec<TokenRow>, StoreError> {
        self.with_reader(|c| {
            c.client
                .query(
                    concat!(
                        "SELECT ",
                        token_columns!(),
                        " FROM tokens ORDER BY created, name"
                    ),
                    &[],
                )?
                .iter()
                .map(rows::token)
                .collect()
        })
    }

    pub(super) fn pg_token_by_id(&self, token_id: &str) -> Result<Option<TokenRow>, StoreError> {
        self.with_reader(|c| {
            // Every SCIM request asks: prepared once per connection.
            let s = stmt(
                &mut c.stmts,
                &mut c.client,
                concat!(
                    "SELECT ",
                    token_columns!(),
                    " FROM tokens WHERE token_id = $1"
                ),
            )?;
            c.client
                .query_opt(&s, &[&token_id])?
                .as_ref()
                .map(rows::token)
                .transpose()
        })
    }

    pub(super) fn pg_token_revoke(&self, name: &str) -> Result<bool, StoreError> {
        self.with_writer(|c| {
            Ok(c.client
                .execute("DELETE FROM tokens WHERE name = $1", &[&name])?
                > 0)
        })
    }

    pub(super) fn pg_token_touch(&self, name: &str, at: i64) -> Result<(), StoreError> {
        self.with_writer(|c| {
            c.client.execute(
                "UPDATE tokens SET last_used = $2 WHERE name = $1",
                &[&name, &at],
            )?;
            Ok(())
        })
    }

    pub(super) fn pg_session_insert(&self, row: &SessionRow) -> Result<(), StoreError> {
        self.with_writer(|c| {
            c.client.execute(
                concat!(
                    "INSERT INTO sessions (",
                    session_columns!(),
                    ") VALUES ($1, $2, $3, $4)"
                ),
                &[&row.token_hash, &row.user_id, &row.created, &row.expires],
            )?;
            Ok(())
        })
    }

    pub(super) fn pg_session_get(
        &self,
        token_hash: &[u8],
        now: i64,
    ) -> Result<Option<SessionRow>, StoreError> {
        self.with_reader(|c| {
            c.client
                .query_opt(
                    concat!(
                        "SELECT ",
                        session_columns!(),
                        " FROM sessions WHERE token_hash = $1 AND expires > $2"
                    ),
                    &[&token_hash, &now],
                )?
                .as_ref()
                .map(rows::session)
                .transpose()
        })
    }

    pub(super) fn pg_session_delete(&self, token_hash: &[u8]) -> Result<bool, StoreError> {
        self.with_writer(|c| {
            let mut tx = c.client.transaction()?;
            let n = tx.execute("DELETE FROM sessions WHERE token_hash = $1", &[&token_hash])?;
            tx.execute(
                "SELECT pg_notify($1, $2)",
                &[&SESSIONS_CHANNEL, &hex::encode(token_hash)],
            )?;
            tx.commit()?;
            Ok(n > 0)
        })
    }

    pub(super) fn pg_sessions_load(&self, now: i64) -> Result<Vec<SessionRow>, StoreError> {
        self.with_reader(|c| {
            c.client
                .query(
                    concat!(
                        "SELECT ",
                        session_columns!(),
                        " FROM sessions WHERE expires > $1"
                    ),
                    &[&now],
                )?
                .iter()
                .map(rows::session)
                .collect()
        })
    }

    pub(super) fn pg_sessions_purge_expired(&self, now: i64) -> Result<usize, StoreError> {
        self.with_writer(|c| {
            Ok(c.client
                .execute("DELETE FROM sessions WHERE expires <= $1", &[&now])?
                as usize)
        })
    }
}
