//! How the access requests API shows a request, an offer and a verdict (JSON). Times
//! are RFC 3339 with milliseconds; durations in whole seconds.

use serde_json::{json, Value};

use crate::access::{AccessRequest, Offer, Verdict};
use crate::clock::rfc3339_millis;

fn time(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |m| Value::from(rfc3339_millis(m)))
}

fn verdict(v: &Verdict) -> Value {
    json!({
        "approver_id": v.approver_id,
        "approver": v.approver_name,
        "comment": v.comment,
        "at": rfc3339_millis(v.at),
    })
}

/// One request.
pub fn request(r: &AccessRequest) -> Value {
    json!({
        "id": r.id,
        "route": r.route,
        "group": r.group,
        "requester_id": r.requester_id,
        "requester": r.requester_name,
        "reason": r.reason,
        "duration_s": r.duration.as_secs(),
        "state": r.state.as_str(),
        "approvals_needed": r.approvals_needed,
        "approvals": r.approvals.iter().map(verdict).collect::<Vec<_>>(),
        "denial": r.denial.as_ref().map(verdict),
        "created_at": rfc3339_millis(r.created_at),
        "starts_at": time(r.starts_at),
        "ends_at": time(r.ends_at),
        "ended_at": time(r.ended_at),
        "ended_by": r.ended_by,
        "end_reason": r.end_reason,
    })
}

/// A list of requests.
pub fn requests(list: &[AccessRequest]) -> Value {
    Value::from(list.iter().map(request).collect::<Vec<_>>())
}

/// One offer.
pub fn offer(o: &Offer) -> Value {
    json!({
        "route": &*o.route,
        "group": &*o.group,
        "max_duration_s": o.max_duration.as_secs(),
        "approvals": o.approvals,
        "reason_required": o.reason_required,
        "approvers": o.approvers.iter().map(|a| &**a).collect::<Vec<_>>(),
    })
}
