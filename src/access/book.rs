//! The access requests this replica knows, in memory: every open one (pending or
//! active) and those ended within the last `keep_ended`, by id.

use std::collections::{HashMap, HashSet};

use super::model::{AccessRequest, RequestState};

/// Requests by id.
#[derive(Default)]
pub(super) struct Book {
    by_id: HashMap<String, AccessRequest>,
}

impl Book {
    pub(super) fn get(&self, id: &str) -> Option<&AccessRequest> {
        self.by_id.get(id)
    }

    /// Files `req` unless the one of its id here is further along (two answers of
    /// the store applied out of order: the later state wins); whether it was filed.
    pub(super) fn put(&mut self, req: AccessRequest) -> bool {
        if self
            .by_id
            .get(&req.id)
            .is_some_and(|have| progress(have) > progress(&req))
        {
            return false;
        }
        self.by_id.insert(req.id.clone(), req);
        true
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &AccessRequest> {
        self.by_id.values()
    }

    /// Pending requests, in all and of `user_id`.
    pub(super) fn pending_counts(&self, user_id: &str) -> (usize, usize) {
        let pending = self.iter().filter(|r| r.state == RequestState::Pending);
        pending.fold((0, 0), |(all, mine), r| {
            (all + 1, mine + usize::from(r.requester_id == user_id))
        })
    }

    /// How many requests `user_id` made at or after `since`.
    pub(super) fn made_since(&self, user_id: &str, since: i64) -> usize {
        self.iter()
            .filter(|r| r.requester_id == user_id && r.created_at >= since)
            .count()
    }

    /// Whether `user_id` has an open request for `group` on `route`.
    pub(super) fn has_open(&self, user_id: &str, route: &str, group: &str) -> bool {
        self.iter().any(|r| {
            r.state.is_open()
                && r.requester_id == user_id
                && r.route == route
                && crate::ident::same(&r.group, group)
        })
    }

    /// The earliest end of an active grant not in `done`.
    pub(super) fn next_end(&self, done: &HashSet<String>) -> Option<i64> {
        self.iter()
            .filter(|r| r.state == RequestState::Active && !done.contains(&r.id))
            .filter_map(|r| r.ends_at)
            .min()
    }

    /// The ids of active grants ended at `now`, but those in `done`.
    pub(super) fn due(&self, now: i64, done: &HashSet<String>) -> Vec<String> {
        self.iter()
            .filter(|r| r.state == RequestState::Active && r.ends_at.is_some_and(|e| e <= now))
            .filter(|r| !done.contains(&r.id))
            .map(|r| r.id.clone())
            .collect()
    }

    /// The pending requests, but those in `done`, that must end at `now`: made at or
    /// before `made_by` (waited too long), or no longer `requestable` (the policy no
    /// longer offers their group on their route).
    pub(super) fn stale_pending(
        &self,
        made_by: i64,
        done: &HashMap<String, i64>,
        requestable: impl Fn(&str, &str) -> bool,
    ) -> Vec<(String, PendingEnd)> {
        self.iter()
            .filter(|r| r.state == RequestState::Pending && !done.contains_key(&r.id))
            .filter_map(|r| {
                let why = if r.created_at <= made_by {
                    PendingEnd::TooOld
                } else if !requestable(&r.route, &r.group) {
                    PendingEnd::NoLongerRequestable
                } else {
                    return None;
                };
                Some((r.id.clone(), why))
            })
            .collect()
    }

    /// When the oldest pending request not in `done` was made.
    pub(super) fn oldest_pending(&self, done: &HashMap<String, i64>) -> Option<i64> {
        self.iter()
            .filter(|r| r.state == RequestState::Pending && !done.contains_key(&r.id))
            .map(|r| r.created_at)
            .min()
    }

    /// Whether `id` is an active grant here.
    pub(super) fn is_active(&self, id: &str) -> bool {
        self.get(id)
            .is_some_and(|r| r.state == RequestState::Active)
    }

    /// Forgets requests that ended before `cutoff`.
    pub(super) fn forget_ended_before(&mut self, cutoff: i64) {
        self.by_id
            .retain(|_, r| r.state.is_open() || r.ended_at.is_none_or(|e| e >= cutoff));
    }

    /// (pending, active) counts.
    pub(super) fn open_counts(&self) -> (usize, usize) {
        self.iter().fold((0, 0), |(p, a), r| match r.state {
            RequestState::Pending => (p + 1, a),
            RequestState::Active => (p, a + 1),
            _ => (p, a),
        })
    }
}

/// Why a pending request ends without a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PendingEnd {
    /// It waited longer than `pending_max_age`.
    TooOld,
    /// A policy reload removed its requestable grant.
    NoLongerRequestable,
}

impl PendingEnd {
    /// The end's reason, as stored, shown and audited.
    pub(super) fn reason(self) -> &'static str {
        match self {
            PendingEnd::TooOld => "not approved in time",
            PendingEnd::NoLongerRequestable => "no longer requestable",
        }
    }
}

/// How far a request has gone: states only move forward (pending, then active or an
/// end, then an end), and votes are only added.
fn progress(r: &AccessRequest) -> (u8, usize) {
    let stage = match r.state {
        RequestState::Pending => 0,
        RequestState::Active => 1,
        _ => 2,
    };
    (stage, r.approvals.len())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn req(state: RequestState, votes: usize) -> AccessRequest {
        let vote = crate::record::Verdict {
            approver_id: "lee".into(),
            approver_name: "lee".into(),
            approve: true,
            comment: None,
            at: 1,
        };
        AccessRequest {
            id: "r".into(),
            route: "app".into(),
            group: "oncall".into(),
            requester_id: "ann".into(),
            requester_name: "ann".into(),
            reason: None,
            duration: Duration::from_secs(60),
            approvals_needed: 2,
            state,
            approvals: vec![vote; votes],
            denial: None,
            created_at: 0,
            starts_at: None,
            ends_at: None,
            ended_at: None,
            ended_by: None,
            end_reason: None,
        }
    }

    #[test]
    fn an_older_state_never_replaces_a_later_one() {
        let mut book = Book::default();
        assert!(book.put(req(RequestState::Pending, 1)));
        assert!(book.put(req(RequestState::Revoked, 2)));
        // The approval that started it, applied after the revocation: ignored.
        assert!(!book.put(req(RequestState::Active, 2)));
        assert!(!book.put(req(RequestState::Pending, 1)));
        assert_eq!(book.get("r").map(|r| r.state), Some(RequestState::Revoked));
        let (pending, active) = book.open_counts();
        assert_eq!((pending, active), (0, 0));
    }
}
