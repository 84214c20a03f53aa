//! The access request and verdict rows, shared by both stores: column lists, the
//! mapping from a row, and the values of a row in column order.

use std::time::Duration;

use super::Columns;
use crate::record::{AccessRequest, RequestState, Verdict};
use crate::store::StoreError;

/// The columns [`request`] reads, in its order (also the insert's).
macro_rules! access_columns {
    () => {
        "id, route, grp, requester_id, requester_name, reason, duration_ms, approvals_needed, \
         state, created_at, starts_at, ends_at, ended_at, ended_by, end_reason"
    };
}
pub(in crate::store) use access_columns;

/// The columns [`verdict`] reads, in its order (also the insert's).
macro_rules! verdict_columns {
    () => {
        "request_id, approver_id, approver_name, approve, comment, at"
    };
}
pub(in crate::store) use verdict_columns;

/// The values of an access request row as references, in [`access_columns`] order.
macro_rules! request_values {
    ($v:expr) => {
        [
            &$v.id,
            &$v.route,
            &$v.group,
            &$v.requester_id,
            &$v.requester_name,
            &$v.reason,
            &$v.duration_ms,
            &$v.approvals_needed,
            &$v.state,
            &$v.created_at,
            &$v.starts_at,
            &$v.ends_at,
            &$v.ended_at,
            &$v.ended_by,
            &$v.end_reason,
        ]
    };
}

/// The values of a request row, in the order of [`access_columns`].
pub(in crate::store) struct RequestValues<'a> {
    pub id: &'a str,
    pub route: &'a str,
    pub group: &'a str,
    pub requester_id: &'a str,
    pub requester_name: &'a str,
    pub reason: Option<&'a str>,
    pub duration_ms: i64,
    pub approvals_needed: i64,
    pub state: &'static str,
    pub created_at: i64,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub ended_by: Option<&'a str>,
    pub end_reason: Option<&'a str>,
}

impl<'a> RequestValues<'a> {
    pub fn of(r: &'a AccessRequest) -> Self {
        RequestValues {
            id: &r.id,
            route: &r.route,
            group: &r.group,
            requester_id: &r.requester_id,
            requester_name: &r.requester_name,
            reason: r.reason.as_deref(),
            duration_ms: i64::try_from(r.duration.as_millis()).unwrap_or(i64::MAX),
            approvals_needed: i64::from(r.approvals_needed),
            state: r.state.as_str(),
            created_at: r.created_at,
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            ended_at: r.ended_at,
            ended_by: r.ended_by.as_deref(),
            end_reason: r.end_reason.as_deref(),
        }
    }

    /// The values as SQLite parameters `?1`..`?15`.
    pub fn sqlite(&self) -> [&dyn rusqlite::ToSql; 15] {
        request_values!(self)
    }

    /// The values as PostgreSQL parameters `$1`..`$15`.
    pub fn postgres(&self) -> [&(dyn postgres::types::ToSql + Sync); 15] {
        request_values!(self)
    }
}

/// A request row (its verdicts are read apart and added with [`add_verdict`]).
pub(in crate::store) fn request(r: &impl Columns) -> Result<AccessRequest, StoreError> {
    let state = r.text(8)?;
    Ok(AccessRequest {
        id: r.text(0)?,
        route: r.text(1)?,
        group: r.text(2)?,
        requester_id: r.text(3)?,
        requester_name: r.text(4)?,
        reason: r.opt_text(5)?,
        duration: Duration::from_millis(u64::try_from(r.int(6)?).unwrap_or(0)),
        approvals_needed: u32::try_from(r.int(7)?).unwrap_or(u32::MAX),
        state: RequestState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("access request state {state:?}")))?,
        approvals: Vec::new(),
        denial: None,
        created_at: r.int(9)?,
        starts_at: r.opt_int(10)?,
        ends_at: r.opt_int(11)?,
        ended_at: r.opt_int(12)?,
        ended_by: r.opt_text(13)?,
        end_reason: r.opt_text(14)?,
    })
}

/// A verdict row: the request id it belongs to and the verdict.
pub(in crate::store) fn verdict(r: &impl Columns) -> Result<(String, Verdict), StoreError> {
    Ok((
        r.text(0)?,
        Verdict {
            approver_id: r.text(1)?,
            approver_name: r.text(2)?,
            approve: r.flag(3)?,
            comment: r.opt_text(4)?,
            at: r.int(5)?,
        },
    ))
}

/// Files a verdict under its request: approvals in order, a denial apart.
pub(in crate::store) fn add_verdict(req: &mut AccessRequest, v: Verdict) {
    if v.approve {
        req.approvals.push(v);
        req.approvals.sort_by_key(|v| v.at);
    } else {
        req.denial = Some(v);
    }
}

/// Joins verdicts to their requests (by id).
pub(in crate::store) fn join(
    mut requests: Vec<AccessRequest>,
    verdicts: Vec<(String, Verdict)>,
) -> Vec<AccessRequest> {
    let at: std::collections::HashMap<String, usize> = requests
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.clone(), i))
        .collect();
    for (id, v) in verdicts {
        if let Some(i) = at.get(&id) {
            add_verdict(&mut requests[*i], v);
        }
    }
    requests
}
