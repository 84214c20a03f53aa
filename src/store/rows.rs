//! What the SQLite and PostgreSQL stores share about their tables: the column lists,
//! and the one mapping between a row and a record each way.
//!
//! Reading: a query selects one of the `*_columns!` lists and the row is read by
//! position through [`Columns`], which both drivers' rows implement. Writing: the
//! values of a user or group row are computed once ([`UserValues`], [`GroupValues`])
//! and handed to either driver in the order of the `*_write_columns!` lists. A new
//! field of a record is therefore added to a list and to the functions beside it
//! here, not to each store.

pub(super) mod access;

use std::borrow::Cow;
use std::sync::Arc;

use super::StoreError;
use crate::record::checkpoint::PruneRow;
use crate::record::{
    name_key, AuditEntry, AuditRow, GroupRecord, Member, SessionRow, TokenRow, UserRecord,
};

/// The columns [`user`] reads, in its order.
macro_rules! user_columns {
    () => {
        "ord, id, user_name, external_id, active, emails, license, user_type, body, created, modified, version, scim_managed"
    };
}

/// The columns [`UserValues`] writes, in its order (with the caseless name key).
macro_rules! user_write_columns {
    () => {
        "ord, id, user_name, user_name_lower, external_id, active, emails, license, user_type, body, created, modified, version, scim_managed"
    };
}

/// What an upsert of a user row changes when the ord exists.
macro_rules! user_upsert {
    () => {
        " ON CONFLICT (ord) DO UPDATE SET user_name=excluded.user_name, user_name_lower=excluded.user_name_lower,
           external_id=excluded.external_id, active=excluded.active, emails=excluded.emails, license=excluded.license,
           user_type=excluded.user_type, body=excluded.body, modified=excluded.modified, version=excluded.version,
           scim_managed=excluded.scim_managed"
    };
}

/// The columns [`group`] reads, in its order.
macro_rules! group_columns {
    () => {
        "ord, id, display_name, external_id, body, created, modified, version, scim_managed"
    };
}

/// The columns [`GroupValues`] writes, in its order (with the caseless name key).
macro_rules! group_write_columns {
    () => {
        "ord, id, display_name, display_name_lower, external_id, body, created, modified, version, scim_managed"
    };
}

/// What an upsert of a group row changes when the ord exists.
macro_rules! group_upsert {
    () => {
        " ON CONFLICT (ord) DO UPDATE SET display_name=excluded.display_name, display_name_lower=excluded.display_name_lower,
           external_id=excluded.external_id, body=excluded.body, modified=excluded.modified, version=excluded.version,
           scim_managed=excluded.scim_managed"
    };
}

/// The columns [`membership`] reads, in its order.
macro_rules! membership_columns {
    () => {
        "group_ord, member_kind, member_ord"
    };
}

/// The columns [`audit_row`] reads, in its order.
macro_rules! audit_columns {
    () => {
        "seq, at, actor, action, target, before, after, detail, prev_hash, hash"
    };
}

/// The columns [`prune_row`] reads, in its order.
macro_rules! prune_columns {
    () => {
        "seq, at, action, hash"
    };
}

/// The columns of a token row, read by [`token`] and written in this order.
macro_rules! token_columns {
    () => {
        "name, token_id, hash, scope, created, last_used"
    };
}

/// The columns of a session row, read by [`session`] and written in this order.
macro_rules! session_columns {
    () => {
        "token_hash, user_id, created, expires"
    };
}

pub(super) use audit_columns;
pub(super) use group_columns;
pub(super) use group_upsert;
pub(super) use group_write_columns;
pub(super) use membership_columns;
pub(super) use prune_columns;
pub(super) use session_columns;
pub(super) use token_columns;
pub(super) use user_columns;
pub(super) use user_upsert;
pub(super) use user_write_columns;

/// A result row of either database, read by column position.
pub(super) trait Columns {
    fn int(&self, i: usize) -> Result<i64, StoreError>;
    /// A `SMALLINT` in PostgreSQL, an `INTEGER` in SQLite.
    fn small_int(&self, i: usize) -> Result<i64, StoreError>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError>;
    fn text(&self, i: usize) -> Result<String, StoreError>;
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError>;
    fn flag(&self, i: usize) -> Result<bool, StoreError>;
    fn bytes(&self, i: usize) -> Result<Vec<u8>, StoreError>;
}

impl Columns for rusqlite::Row<'_> {
    fn int(&self, i: usize) -> Result<i64, StoreError> {
        Ok(self.get(i)?)
    }
    fn small_int(&self, i: usize) -> Result<i64, StoreError> {
        Ok(self.get(i)?)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.get(i)?)
    }
    fn text(&self, i: usize) -> Result<String, StoreError> {
        Ok(self.get(i)?)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        Ok(self.get(i)?)
    }
    fn flag(&self, i: usize) -> Result<bool, StoreError> {
        Ok(self.get(i)?)
    }
    fn bytes(&self, i: usize) -> Result<Vec<u8>, StoreError> {
        Ok(self.get(i)?)
    }
}

impl Columns for postgres::Row {
    fn int(&self, i: usize) -> Result<i64, StoreError> {
        Ok(self.try_get(i)?)
    }
    fn small_int(&self, i: usize) -> Result<i64, StoreError> {
        Ok(i64::from(self.try_get::<_, i16>(i)?))
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.try_get(i)?)
    }
    fn text(&self, i: usize) -> Result<String, StoreError> {
        Ok(self.try_get(i)?)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        Ok(self.try_get(i)?)
    }
    fn flag(&self, i: usize) -> Result<bool, StoreError> {
        Ok(self.try_get(i)?)
    }
    fn bytes(&self, i: usize) -> Result<Vec<u8>, StoreError> {
        Ok(self.try_get(i)?)
    }
}

/// A stored integer that must fit an ord.
pub(super) fn to_u32(v: i64, what: &str) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} {v} out of range")))
}

fn opt_box(s: Option<String>) -> Option<Box<str>> {
    s.map(String::into_boxed_str)
}

/// A user from the columns of [`user_columns`].
pub(super) fn user(r: &impl Columns) -> Result<UserRecord, StoreError> {
    let emails = r.text(5)?;
    Ok(UserRecord {
        ord: to_u32(r.int(0)?, "user ord")?,
        id: Arc::from(r.text(1)?),
        user_name: r.text(2)?.into_boxed_str(),
        external_id: opt_box(r.opt_text(3)?),
        active: r.flag(4)?,
        emails: emails
            .split('\n')
            .filter(|e| !e.is_empty())
            .map(Box::from)
            .collect(),
        license: opt_box(r.opt_text(6)?),
        user_type: opt_box(r.opt_text(7)?),
        body: r.text(8)?.into(),
        created: r.int(9)?,
        modified: r.int(10)?,
        version: r.int(11)? as u64,
        scim_managed: r.flag(12)?,
    })
}

/// A group from the columns of [`group_columns`].
pub(super) fn group(r: &impl Columns) -> Result<GroupRecord, StoreError> {
    Ok(GroupRecord {
        ord: to_u32(r.int(0)?, "group ord")?,
        id: Arc::from(r.text(1)?),
        display_name: r.text(2)?.into_boxed_str(),
        external_id: opt_box(r.opt_text(3)?),
        body: r.text(4)?.into(),
        created: r.int(5)?,
        modified: r.int(6)?,
        version: r.int(7)? as u64,
        scim_managed: r.flag(8)?,
    })
}

/// The `(member_kind, member_ord)` columns of a membership.
pub(super) fn member_cols(m: Member) -> (i16, i64) {
    match m {
        Member::User(o) => (0, i64::from(o)),
        Member::Group(o) => (1, i64::from(o)),
    }
}

/// A membership, `(group ord, member)`, from the columns of [`membership_columns`].
pub(super) fn membership(r: &impl Columns) -> Result<(u32, Member), StoreError> {
    let group = to_u32(r.int(0)?, "membership group")?;
    let ord = to_u32(r.int(2)?, "membership member")?;
    let member = match r.small_int(1)? {
        0 => Member::User(ord),
        1 => Member::Group(ord),
        k => return Err(StoreError::Corrupt(format!("member kind {k}"))),
    };
    Ok((group, member))
}

/// A stored audit record from the columns of [`audit_columns`].
pub(super) fn audit_row(r: &impl Columns) -> Result<AuditRow, StoreError> {
    Ok(AuditRow {
        seq: r.int(0)? as u64,
        entry: AuditEntry {
            at: r.int(1)?,
            actor: r.text(2)?,
            action: r.text(3)?,
            target: r.text(4)?,
            before: r.opt_text(5)?,
            after: r.opt_text(6)?,
            detail: r.opt_text(7)?,
        },
        prev_hash: r.text(8)?,
        hash: r.text(9)?,
    })
}

/// A record as the pruner reads it, from the columns of [`prune_columns`].
pub(super) fn prune_row(r: &impl Columns) -> Result<PruneRow, StoreError> {
    Ok(PruneRow {
        seq: r.int(0)? as u64,
        at: r.int(1)?,
        action: r.text(2)?,
        hash: r.text(3)?,
    })
}

/// A token from the columns of [`token_columns`].
pub(super) fn token(r: &impl Columns) -> Result<TokenRow, StoreError> {
    Ok(TokenRow {
        name: r.text(0)?,
        token_id: r.text(1)?,
        hash: r.bytes(2)?,
        scope: r.text(3)?,
        created: r.int(4)?,
        last_used: r.opt_int(5)?,
    })
}

/// A session from the columns of [`session_columns`].
pub(super) fn session(r: &impl Columns) -> Result<SessionRow, StoreError> {
    Ok(SessionRow {
        token_hash: r.bytes(0)?,
        user_id: r.text(1)?,
        created: r.int(2)?,
        expires: r.int(3)?,
    })
}

/// The values of a user row as an array of references, in the order of
/// [`user_write_columns`]: one list for both drivers' parameter types.
macro_rules! user_values {
    ($v:expr) => {
        [
            &$v.ord,
            &$v.id,
            &$v.user_name,
            &$v.user_name_lower,
            &$v.external_id,
            &$v.active,
            &$v.emails,
            &$v.license,
            &$v.user_type,
            &$v.body,
            &$v.created,
            &$v.modified,
            &$v.version,
            &$v.scim_managed,
        ]
    };
}

/// The values of a user row, in the order of [`user_write_columns`].
pub(super) struct UserValues<'a> {
    pub ord: i64,
    pub id: &'a str,
    pub user_name: &'a str,
    pub user_name_lower: String,
    pub external_id: Option<&'a str>,
    pub active: bool,
    /// One address a line.
    pub emails: String,
    pub license: Option<&'a str>,
    pub user_type: Option<&'a str>,
    pub body: Cow<'a, str>,
    pub created: i64,
    pub modified: i64,
    pub version: i64,
    pub scim_managed: bool,
}

impl<'a> UserValues<'a> {
    pub fn of(u: &'a UserRecord) -> Self {
        UserValues {
            ord: i64::from(u.ord),
            id: &u.id,
            user_name: &u.user_name,
            user_name_lower: name_key(&u.user_name),
            external_id: u.external_id.as_deref(),
            active: u.active,
            emails: u.emails.join("\n"),
            license: u.license.as_deref(),
            user_type: u.user_type.as_deref(),
            body: u.body.text(),
            created: u.created,
            modified: u.modified,
            version: u.version as i64,
            scim_managed: u.scim_managed,
        }
    }

    /// The values as SQLite parameters `?1`..`?14`.
    pub fn sqlite(&self) -> [&dyn rusqlite::ToSql; 14] {
        user_values!(self)
    }

    /// The values as PostgreSQL parameters `$1`..`$14`.
    pub fn postgres(&self) -> [&(dyn postgres::types::ToSql + Sync); 14] {
        user_values!(self)
    }
}

/// The values of a group row as an array of references, in the order of
/// [`group_write_columns`]: one list for both drivers' parameter types.
macro_rules! group_values {
    ($v:expr) => {
        [
            &$v.ord,
            &$v.id,
            &$v.display_name,
            &$v.display_name_lower,
            &$v.external_id,
            &$v.body,
            &$v.created,
            &$v.modified,
            &$v.version,
            &$v.scim_managed,
        ]
    };
}

/// The values of a group row, in the order of [`group_write_columns`].
pub(super) struct GroupValues<'a> {
    pub ord: i64,
    pub id: &'a str,
    pub display_name: &'a str,
    pub display_name_lower: String,
    pub external_id: Option<&'a str>,
    pub body: Cow<'a, str>,
    pub created: i64,
    pub modified: i64,
    pub version: i64,
    pub scim_managed: bool,
}

impl<'a> GroupValues<'a> {
    pub fn of(g: &'a GroupRecord) -> Self {
        GroupValues {
            ord: i64::from(g.ord),
            id: &g.id,
            display_name: &g.display_name,
            display_name_lower: name_key(&g.display_name),
            external_id: g.external_id.as_deref(),
            body: g.body.text(),
            created: g.created,
            modified: g.modified,
            version: g.version as i64,
            scim_managed: g.scim_managed,
        }
    }

    /// The values as SQLite parameters `?1`..`?10`.
    pub fn sqlite(&self) -> [&dyn rusqlite::ToSql; 10] {
        group_values!(self)
    }

    /// The values as PostgreSQL parameters `$1`..`$10`.
    pub fn postgres(&self) -> [&(dyn postgres::types::ToSql + Sync); 10] {
        group_values!(self)
    }
}
