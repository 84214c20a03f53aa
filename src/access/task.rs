//! The access service's task: ends grants on time, ends the grants of deprovisioned
//! users, and applies what other replicas changed.
//!
//! It sleeps until the earliest end of an active grant (woken early when a grant
//! starts). At an end it removes the membership and runs the fan-out, so open streams
//! are cut at once, and hands the end to a second loop of the same task, which records
//! it in the store (so a slow write never delays the next end); on a shared store only
//! one replica's write finds the grant still active, and only that one writes the
//! audit record and the event (the others apply the same end to their own directory
//! and streams). A change a replica hears of (`replica::GrantChanges`) is read from
//! the store and applied. Ended requests are forgotten after `keep_ended`.
//!
//! Pending requests end too: one not approved within `pending_max_age` expires, and one
//! whose requestable grant a policy reload removed is cancelled (the task wakes on each
//! reload), each recorded and announced like any other end.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::book::PendingEnd;
use super::error::AccessError;
use super::events::{AccessEvent, AccessEventKind};
use super::model::RequestState;
use super::{ms, Access};
use crate::audit::grants::GrantAction;

/// The longest the task sleeps (housekeeping runs at least this often).
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// The wait after a store failure before ending grants is tried again.
const RETRY: Duration = Duration::from_secs(1);

/// Work handed to the task.
pub(super) enum Job {
    /// Another replica changed request `id`: read it again.
    Changed(String),
    /// The follower is listening again: read every open request again.
    Resync,
    /// SCIM deactivated or deleted the user.
    UserGone { user_id: String, actor: String },
    /// Pending request `id` ends without a verdict.
    EndPending(String, PendingEnd),
}

impl Access {
    /// The task, for the caller to spawn on the shutdown tree; it ends when `stop` fires.
    /// Two loops share it: one ends grants in this replica's directory at their end
    /// (cut first, never waiting for the store), the other records those ends and does
    /// the jobs, which read and write the store.
    pub fn run(self: Arc<Self>, stop: CancellationToken) -> BoxFuture<'static, ()> {
        let inbox = self.inbox.lock().take();
        Box::pin(async move {
            let Some(inbox) = inbox else {
                tracing::warn!("the access task runs once");
                return;
            };
            let (ended_tx, ended_rx) = mpsc::unbounded_channel();
            tokio::join!(
                self.cut_on_time(ended_tx, stop.clone()),
                self.record_and_work(ended_rx, inbox, stop),
            );
        })
    }

    /// Sleeps until the next end of a grant, ends it here (membership removed, streams
    /// judged again) and hands it to be recorded; housekeeping at least every
    /// [`MAX_SLEEP`].
    async fn cut_on_time(&self, ended: mpsc::UnboundedSender<String>, stop: CancellationToken) {
        // Ended here, not yet recorded as ended in the book.
        let mut cut: HashSet<String> = HashSet::new();
        // Pending requests handed to be ended, not yet ended in the book, and when (one
        // whose end failed is handed again after [`MAX_SLEEP`]).
        let mut ending: HashMap<String, i64> = HashMap::new();
        // `None` once the policy handle is gone (then the sleep alone paces the loop).
        let mut reloads = Some(self.policy.subscribe());
        loop {
            let now = self.now();
            let due = {
                let book = self.book.read();
                cut.retain(|id| book.is_active(id));
                book.due(now, &cut)
            };
            let stale = {
                let policy = self.policy.current();
                let book = self.book.read();
                let again = now - ms(MAX_SLEEP);
                ending.retain(|id, at| {
                    *at > again
                        && book
                            .get(id)
                            .is_some_and(|r| r.state == RequestState::Pending)
                });
                let made_by = now - ms(self.limits.pending_max_age);
                book.stale_pending(made_by, &ending, |route, group| {
                    policy.requestable(route, group).is_some()
                })
            };
            for (id, why) in stale {
                ending.insert(id.clone(), now);
                let _ = self.jobs.send(Job::EndPending(id, why));
            }
            if !due.is_empty() {
                let mut any = false;
                for id in &due {
                    any |= self.dir.grant_end(id);
                }
                if any {
                    self.fan_out();
                }
                for id in due {
                    cut.insert(id.clone());
                    let _ = ended.send(id);
                }
            }
            let cutoff = now - ms(self.limits.keep_ended);
            self.book.write().forget_ended_before(cutoff);
            let wait = self
                .until_next_end(&cut)
                .min(self.until_next_stale(&ending));
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.wake.notified() => {}
                // A reload may have removed a requestable grant.
                changed = async {
                    match reloads.as_mut() {
                        Some(r) => r.changed().await,
                        None => std::future::pending().await,
                    }
                } => if changed.is_err() {
                    reloads = None;
                },
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Records each ended grant in the store (retried while the store fails) and does
    /// the jobs.
    async fn record_and_work(
        &self,
        mut ended: mpsc::UnboundedReceiver<String>,
        mut inbox: mpsc::UnboundedReceiver<Job>,
        stop: CancellationToken,
    ) {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                id = ended.recv() => match id {
                    Some(id) => {
                        while !self.record_end(&id).await {
                            tokio::select! {
                                () = stop.cancelled() => return,
                                () = tokio::time::sleep(RETRY) => {}
                            }
                        }
                    }
                    None => return,
                },
                job = inbox.recv() => match job {
                    Some(job) => self.handle(job).await,
                    None => return,
                },
            }
        }
    }

    /// How long until the next grant not in `cut` ends (at most [`MAX_SLEEP`]).
    fn until_next_end(&self, cut: &HashSet<String>) -> Duration {
        let next = self.book.read().next_end(cut);
        match next {
            Some(end) => {
                let left = end.saturating_sub(self.now()).max(0);
                Duration::from_millis(u64::try_from(left).unwrap_or(0)).min(MAX_SLEEP)
            }
            None => MAX_SLEEP,
        }
    }

    /// How long until the oldest pending request not in `ending` has waited too long.
    fn until_next_stale(&self, ending: &HashMap<String, i64>) -> Duration {
        let oldest = self.book.read().oldest_pending(ending);
        match oldest {
            Some(made) => {
                let at = made + ms(self.limits.pending_max_age);
                let left = at.saturating_sub(self.now()).max(0);
                // One millisecond past the deadline, so the next round finds it due.
                Duration::from_millis(u64::try_from(left).unwrap_or(0) + 1).min(MAX_SLEEP)
            }
            None => MAX_SLEEP,
        }
    }

    /// Ends pending request `id` without a verdict: expired (waited too long) or
    /// cancelled (no longer requestable).
    async fn end_pending(&self, id: &str, why: PendingEnd) {
        let now = self.now();
        let result = self
            .change(id, move |r| {
                if r.state != RequestState::Pending {
                    return Err(AccessError::NotPending);
                }
                r.state = match why {
                    PendingEnd::TooOld => RequestState::Expired,
                    PendingEnd::NoLongerRequestable => RequestState::Cancelled,
                };
                r.ended_at = Some(now);
                r.ended_by = Some("system".into());
                r.end_reason = Some(why.reason().into());
                Ok(())
            })
            .await;
        match result {
            Ok(stored) => {
                let (action, kind) = match why {
                    PendingEnd::TooOld => (GrantAction::Expire, AccessEventKind::Expired),
                    PendingEnd::NoLongerRequestable => {
                        (GrantAction::Cancel, AccessEventKind::Cancelled)
                    }
                };
                self.record("system", action, &stored, Some(why.reason()));
                self.notify(AccessEvent::of(
                    kind,
                    &stored,
                    Some("system".into()),
                    Some(why.reason().into()),
                ));
                tracing::info!(request = %stored.id, group = %stored.group, reason = why.reason(), "pending access request ended");
            }
            // Voted on, withdrawn or ended by another replica first.
            Err(AccessError::NotPending) | Err(AccessError::NotFound) => {}
            Err(e) => {
                tracing::warn!(request = %id, error = %e, "cannot end a pending access request; trying again within a minute")
            }
        }
    }

    /// Records that grant `id` expired; `false` when the store failed (tried again).
    async fn record_end(&self, id: &str) -> bool {
        let now = self.now();
        let result = self
            .change(id, move |r| {
                if r.state != RequestState::Active || r.ends_at.is_none_or(|e| e > now) {
                    return Err(AccessError::NotActive);
                }
                r.state = RequestState::Expired;
                r.ended_at = r.ends_at;
                r.ended_by = Some("system".into());
                r.end_reason = Some("expired".into());
                Ok(())
            })
            .await;
        match result {
            Ok(stored) => {
                self.metrics.grant_ended("expired");
                self.record("system", GrantAction::Expire, &stored, None);
                self.notify(AccessEvent::of(
                    AccessEventKind::Expired,
                    &stored,
                    None,
                    None,
                ));
                tracing::info!(request = %stored.id, group = %stored.group, "grant expired");
                true
            }
            // Another replica ended it first.
            Err(AccessError::NotActive) | Err(AccessError::NotFound) => true,
            Err(e) => {
                tracing::warn!(request = %id, error = %e, "cannot record a grant's end; trying again");
                false
            }
        }
    }

    async fn handle(&self, job: Job) {
        match job {
            Job::Changed(id) => self.reread(&id).await,
            Job::Resync => {
                let ids: Vec<String> = self
                    .book
                    .read()
                    .iter()
                    .filter(|r| r.state.is_open())
                    .map(|r| r.id.clone())
                    .collect();
                let store = self.store.clone();
                let since = self.now() - ms(self.limits.keep_ended);
                match tokio::task::spawn_blocking(move || store.access_load(since)).await {
                    Ok(Ok(rows)) => {
                        for row in rows {
                            self.apply(row);
                        }
                        // Open here, not open in the store's answer: read one by one.
                        for id in ids {
                            if self.get(&id).is_some_and(|r| r.state.is_open()) {
                                self.reread(&id).await;
                            }
                        }
                    }
                    Ok(Err(e)) => tracing::warn!(error = %e, "cannot read access requests again"),
                    Err(_) => {}
                }
            }
            Job::UserGone { user_id, actor } => self.end_user(&user_id, &actor).await,
            Job::EndPending(id, why) => self.end_pending(&id, why).await,
        }
    }

    /// Reads request `id` from the store and applies it.
    async fn reread(&self, id: &str) {
        let store = self.store.clone();
        let key = id.to_owned();
        match tokio::task::spawn_blocking(move || store.access_get(&key)).await {
            Ok(Ok(Some(row))) => self.apply(row),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => {
                tracing::warn!(request = %id, error = %e, "cannot read an access request")
            }
            Err(_) => {}
        }
    }

    /// Cancels the pending requests of a deprovisioned user and ends their grants.
    async fn end_user(&self, user_id: &str, actor: &str) {
        let open: Vec<String> = self
            .book
            .read()
            .iter()
            .filter(|r| r.requester_id == user_id && r.state.is_open())
            .map(|r| r.id.clone())
            .collect();
        for id in open {
            let now = self.now();
            let by = actor.to_owned();
            let result = self
                .change(&id, move |r| {
                    r.state = match r.state {
                        RequestState::Pending => RequestState::Cancelled,
                        RequestState::Active => RequestState::Revoked,
                        _ => return Err(AccessError::NotPending),
                    };
                    r.ended_at = Some(now);
                    r.ended_by = Some(by.clone());
                    r.end_reason = Some("user deactivated or deleted".into());
                    Ok(())
                })
                .await;
            match result {
                Ok(stored) => {
                    let kind = if stored.state == RequestState::Revoked {
                        self.metrics.grant_ended("deprovisioned");
                        AccessEventKind::Revoked
                    } else {
                        AccessEventKind::Cancelled
                    };
                    let why = stored.end_reason.clone();
                    self.record(actor, GrantAction::End, &stored, why.as_deref());
                    self.notify(AccessEvent::of(kind, &stored, Some(actor.to_owned()), why));
                }
                Err(AccessError::NotPending) | Err(AccessError::NotFound) => {}
                Err(e) => {
                    tracing::warn!(request = %id, error = %e, "cannot end the grant of a deprovisioned user")
                }
            }
        }
    }
}

impl crate::replica::GrantChanges for Access {
    fn changed(&self, id: &str) {
        let _ = self.jobs.send(Job::Changed(id.to_owned()));
    }

    fn resync(&self) {
        let _ = self.jobs.send(Job::Resync);
    }
}
