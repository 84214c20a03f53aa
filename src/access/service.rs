//! The access service's operations: what may be requested, requesting, voting,
//! revoking and cancelling, and the readings the pages and the API list.
//!
//! Each change is checked here against the live policy and this replica's view, then
//! made in one store transaction that checks the stored state again (another replica
//! may have voted or ended it meanwhile); what the store holds after is applied here.

use std::sync::Arc;
use std::time::Duration;

use super::error::AccessError;
use super::events::{AccessEvent, AccessEventKind};
use super::model::{AccessRequest, Actor, NewRequest, Offer, RequestState, Verdict, MIN_DURATION};
use super::{ms, Access};
use crate::audit::grants::{grant_record, GrantAction};
use crate::policy::requestable::show_duration;
use crate::policy::{DirectorySubject, PolicySet, Requestable, Subject};

impl Access {
    /// The requestable grants `who` may ask for and neither holds nor has asked for
    /// (of groups the directory holds).
    pub fn offers(&self, who: &DirectorySubject) -> Vec<Offer> {
        self.offers_where(who, |_| true)
    }

    /// [`Access::offers`] on the route named `route` (for its 403 page).
    pub fn offers_for_route(&self, who: &DirectorySubject, route: &str) -> Vec<Offer> {
        self.offers_where(who, |q| &*q.route == route)
    }

    fn offers_where(
        &self,
        who: &DirectorySubject,
        keep: impl Fn(&Requestable) -> bool,
    ) -> Vec<Offer> {
        let policy = self.policy.current();
        let book = self.book.read();
        policy
            .routes()
            .iter()
            .flat_map(|r| r.requestable())
            .filter(|q| keep(q) && q.may_request(who) && !who.in_group(&q.group))
            // A group no directory group is named after could not be granted.
            .filter(|q| self.dir.group_by_name(&q.group).is_some())
            .filter(|q| !book.has_open(who.id(), &q.route, &q.group))
            .map(Offer::from)
            .collect()
    }

    /// Asks for `new` as `who`.
    pub async fn request(
        &self,
        who: &DirectorySubject,
        new: NewRequest,
    ) -> Result<AccessRequest, AccessError> {
        let policy = self.policy.current();
        let q = requestable(&policy, &new.route, &new.group)?;
        if !q.may_request(who) {
            return Err(AccessError::NotRequester);
        }
        if new.duration < MIN_DURATION {
            return Err(AccessError::TooShort);
        }
        if new.duration > q.max_duration {
            return Err(AccessError::TooLong {
                max: show_duration(q.max_duration),
            });
        }
        let reason = self.text("reason", new.reason)?;
        if q.reason_required && reason.is_none() {
            return Err(AccessError::ReasonRequired);
        }
        // A group no directory group is named after would give nothing.
        if self.dir.group_by_name(&q.group).is_none() {
            return Err(AccessError::NotRequestable);
        }
        {
            let book = self.book.read();
            if book.has_open(who.id(), &q.route, &q.group) {
                return Err(AccessError::Duplicate);
            }
            let (all, mine) = book.pending_counts(who.id());
            if mine >= self.limits.pending_per_user {
                return Err(AccessError::TooMany {
                    limit: self.limits.pending_per_user,
                    per: "pending for one user",
                });
            }
            if all >= self.limits.pending_total {
                return Err(AccessError::TooMany {
                    limit: self.limits.pending_total,
                    per: "pending in all",
                });
            }
            let hour_ago = self.now() - 3_600_000;
            if book.made_since(who.id(), hour_ago) >= self.limits.per_user_hour {
                return Err(AccessError::TooMany {
                    limit: self.limits.per_user_hour,
                    per: "made by one user in an hour",
                });
            }
        }
        let req = AccessRequest {
            id: uuid::Uuid::new_v4().to_string(),
            route: q.route.to_string(),
            group: q.group.to_string(),
            requester_id: who.id().to_owned(),
            requester_name: who.user_name().to_owned(),
            reason,
            duration: whole_seconds(new.duration),
            approvals_needed: q.approvals,
            state: RequestState::Pending,
            approvals: Vec::new(),
            denial: None,
            created_at: self.now(),
            starts_at: None,
            ends_at: None,
            ended_at: None,
            ended_by: None,
            end_reason: None,
        };
        let store = self.store.clone();
        let row = req.clone();
        tokio::task::spawn_blocking(move || store.access_insert(&row))
            .await
            .map_err(|_| AccessError::Join)??;
        self.apply(req.clone());
        self.record(&user_label(who), GrantAction::Request, &req, None);
        self.notify(AccessEvent::of(
            AccessEventKind::Requested,
            &req,
            None,
            None,
        ));
        tracing::info!(request = %req.id, route = %req.route, group = %req.group, "access requested");
        Ok(req)
    }

    /// `who` approves request `id`: one vote; the last one needed starts the grant.
    pub async fn approve(
        &self,
        who: &DirectorySubject,
        id: &str,
        comment: Option<String>,
    ) -> Result<AccessRequest, AccessError> {
        self.vote(who, id, comment, true).await
    }

    /// `who` denies request `id`: it ends.
    pub async fn deny(
        &self,
        who: &DirectorySubject,
        id: &str,
        comment: Option<String>,
    ) -> Result<AccessRequest, AccessError> {
        self.vote(who, id, comment, false).await
    }

    async fn vote(
        &self,
        who: &DirectorySubject,
        id: &str,
        comment: Option<String>,
        approve: bool,
    ) -> Result<AccessRequest, AccessError> {
        let comment = self.text("comment", comment)?;
        let req = self.get(id).ok_or(AccessError::NotFound)?;
        if req.requester_id == who.id() {
            return Err(AccessError::SelfApproval);
        }
        let policy = self.policy.current();
        let q = requestable(&policy, &req.route, &req.group)?;
        if !q.may_approve(who) {
            return Err(AccessError::NotApprover);
        }
        let (needed, max) = (q.approvals, q.max_duration);
        let now = self.now();
        let verdict = Verdict {
            approver_id: who.id().to_owned(),
            approver_name: who.user_name().to_owned(),
            approve,
            comment: comment.clone(),
            at: now,
        };
        let actor = user_label(who);
        let ended_by = actor.clone();
        let stored = self
            .change(id, move |r| {
                if r.state != RequestState::Pending {
                    return Err(AccessError::NotPending);
                }
                if r.verdicts().any(|v| v.approver_id == verdict.approver_id) {
                    return Err(AccessError::AlreadyVoted);
                }
                if verdict.approve && r.duration > max {
                    return Err(AccessError::TooLong {
                        max: show_duration(max),
                    });
                }
                r.approvals_needed = needed;
                if !verdict.approve {
                    r.denial = Some(verdict.clone());
                    r.state = RequestState::Denied;
                    r.ended_at = Some(now);
                    r.ended_by = Some(ended_by.clone());
                    r.end_reason = verdict.comment.clone();
                    return Ok(());
                }
                r.approvals.push(verdict.clone());
                if r.approvals.len() >= needed as usize {
                    r.state = RequestState::Active;
                    r.starts_at = Some(now);
                    r.ends_at = Some(now.saturating_add(ms(r.duration)));
                }
                Ok(())
            })
            .await?;
        let c = comment.as_deref();
        if approve {
            self.record(&actor, GrantAction::Approve, &stored, c);
            self.notify(AccessEvent::of(
                AccessEventKind::Approved,
                &stored,
                Some(actor.clone()),
                comment.clone(),
            ));
            if stored.state == RequestState::Active {
                self.record(&actor, GrantAction::Start, &stored, None);
                self.notify(AccessEvent::of(
                    AccessEventKind::Started,
                    &stored,
                    Some(actor),
                    None,
                ));
                tracing::info!(request = %stored.id, group = %stored.group, ends_at = ?stored.ends_at, "grant started");
            }
        } else {
            self.record(&actor, GrantAction::Deny, &stored, c);
            self.notify(AccessEvent::of(
                AccessEventKind::Denied,
                &stored,
                Some(actor),
                comment,
            ));
        }
        Ok(stored)
    }

    /// Ends the active grant of request `id` early: by an approver of it (one who
    /// voted for it, or any the live policy names) or an admin.
    pub async fn revoke(
        &self,
        who: Actor<'_>,
        id: &str,
        comment: Option<String>,
    ) -> Result<AccessRequest, AccessError> {
        let comment = self.text("comment", comment)?;
        let req = self.get(id).ok_or(AccessError::NotFound)?;
        let actor = match who {
            Actor::Admin { token } => format!("admin:{token}"),
            Actor::User(who) => {
                let voted = req.approvals.iter().any(|v| v.approver_id == who.id());
                let policy = self.policy.current();
                let approver = policy
                    .requestable(&req.route, &req.group)
                    .is_some_and(|q| q.may_approve(who));
                if !voted && !approver {
                    return Err(AccessError::NotApprover);
                }
                user_label(who)
            }
        };
        let now = self.now();
        let (by, why) = (actor.clone(), comment.clone());
        let stored = self
            .change(id, move |r| {
                if !r.grants_at(now) {
                    return Err(AccessError::NotActive);
                }
                r.state = RequestState::Revoked;
                r.ended_at = Some(now);
                r.ended_by = Some(by.clone());
                r.end_reason = why.clone();
                Ok(())
            })
            .await?;
        self.metrics.grant_ended("revoked");
        self.record(&actor, GrantAction::Revoke, &stored, comment.as_deref());
        self.notify(AccessEvent::of(
            AccessEventKind::Revoked,
            &stored,
            Some(actor),
            comment,
        ));
        tracing::info!(request = %stored.id, "grant revoked");
        Ok(stored)
    }

    /// The requester withdraws their pending request `id`.
    pub async fn cancel(
        &self,
        who: &DirectorySubject,
        id: &str,
    ) -> Result<AccessRequest, AccessError> {
        let req = self.get(id).ok_or(AccessError::NotFound)?;
        if req.requester_id != who.id() {
            return Err(AccessError::NotRequester);
        }
        let now = self.now();
        let actor = user_label(who);
        let by = actor.clone();
        let stored = self
            .change(id, move |r| {
                if r.state != RequestState::Pending {
                    return Err(AccessError::NotPending);
                }
                r.state = RequestState::Cancelled;
                r.ended_at = Some(now);
                r.ended_by = Some(by.clone());
                Ok(())
            })
            .await?;
        self.record(&actor, GrantAction::Cancel, &stored, None);
        self.notify(AccessEvent::of(
            AccessEventKind::Cancelled,
            &stored,
            None,
            None,
        ));
        Ok(stored)
    }

    /// The requests of the user `user_id` this replica lists, newest first.
    pub fn requests_of(&self, user_id: &str) -> Vec<AccessRequest> {
        let mut out: Vec<AccessRequest> = self
            .book
            .read()
            .iter()
            .filter(|r| r.requester_id == user_id)
            .cloned()
            .collect();
        newest_first(&mut out);
        out
    }

    /// Every request this replica lists (open ones and recently ended), newest first.
    pub fn all_requests(&self) -> Vec<AccessRequest> {
        let mut out: Vec<AccessRequest> = self.book.read().iter().cloned().collect();
        newest_first(&mut out);
        out
    }

    /// The pending requests `approver` may vote on: never their own, nor one they
    /// voted on already; oldest first.
    pub fn pending_for(&self, approver: &DirectorySubject) -> Vec<AccessRequest> {
        let policy = self.policy.current();
        let mut out: Vec<AccessRequest> = self
            .book
            .read()
            .iter()
            .filter(|r| r.state == RequestState::Pending && r.requester_id != approver.id())
            .filter(|r| !r.verdicts().any(|v| v.approver_id == approver.id()))
            .filter(|r| {
                policy
                    .requestable(&r.route, &r.group)
                    .is_some_and(|q| q.may_approve(approver))
            })
            .cloned()
            .collect();
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        out
    }

    /// Whether `who` may vote on or revoke `req` under the live policy (never their own).
    pub fn may_approve(&self, who: &DirectorySubject, req: &AccessRequest) -> bool {
        req.requester_id != who.id()
            && self
                .policy
                .current()
                .requestable(&req.route, &req.group)
                .is_some_and(|q| q.may_approve(who))
    }

    /// The request `id`, as this replica knows it.
    pub fn get(&self, id: &str) -> Option<AccessRequest> {
        self.book.read().get(id).cloned()
    }

    /// A reason or comment: trimmed, `None` when empty, refused when too long.
    fn text(&self, what: &'static str, s: Option<String>) -> Result<Option<String>, AccessError> {
        let Some(s) = s else {
            return Ok(None);
        };
        let t = s.trim();
        if t.len() > self.limits.max_text {
            return Err(AccessError::TextTooLong {
                what,
                max: self.limits.max_text,
            });
        }
        Ok((!t.is_empty()).then(|| t.to_owned()))
    }

    /// Changes request `id` in the store with `f` (which refuses with an error, leaving
    /// it as it is) and applies what the store holds after.
    pub(super) async fn change(
        &self,
        id: &str,
        f: impl FnMut(&mut AccessRequest) -> Result<(), AccessError> + Send + 'static,
    ) -> Result<AccessRequest, AccessError> {
        let store = self.store.clone();
        let key = id.to_owned();
        let (stored, refused) = tokio::task::spawn_blocking(move || {
            let mut f = f;
            let mut refused = None;
            let stored = store.access_update(&key, &mut |r| match f(r) {
                Ok(()) => true,
                Err(e) => {
                    refused = Some(e);
                    false
                }
            });
            (stored, refused)
        })
        .await
        .map_err(|_| AccessError::Join)?;
        let stored = stored?.ok_or(AccessError::NotFound)?;
        self.apply(stored.clone());
        match refused {
            Some(e) => Err(e),
            None => Ok(stored),
        }
    }

    /// Queues the audit record of `action` on `req` by `actor`.
    pub(super) fn record(
        &self,
        actor: &str,
        action: GrantAction,
        req: &AccessRequest,
        comment: Option<&str>,
    ) {
        self.audit
            .record(grant_record(self.now(), actor, action, req, comment));
    }
}

/// The requestable grant of `group` on `route` in `policy`.
fn requestable<'p>(
    policy: &'p Arc<PolicySet>,
    route: &str,
    group: &str,
) -> Result<&'p Requestable, AccessError> {
    policy
        .requestable(route, group)
        .ok_or(AccessError::NotRequestable)
}

/// `user:<userName>`, as audit records name a signed-in user.
fn user_label(who: &DirectorySubject) -> String {
    format!("user:{}", who.user_name())
}

/// A duration in whole seconds (what is stored and shown), at least one.
fn whole_seconds(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs().max(1))
}

fn newest_first(list: &mut [AccessRequest]) {
    list.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
}
