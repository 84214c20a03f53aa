//! Just-in-time access: access requests, their approvals and the time-bound grants
//! they become.
//!
//! A signed-in user asks for a requestable grant of the live policy (`policy::
//! requestable`) for a while and says why; approvers vote; the last approval needed
//! starts a time-bound membership of the group in the directory
//! (`Directory::grant_start`), which every decision then reads until it ends. It ends
//! at its end (the task in [`task`]), early by an approver or an admin, or when SCIM
//! deactivates or deletes the user; each end removes the membership and runs the
//! revocation fan-out ([`GrantFanout`], the gate's), so open streams that relied on
//! it are cut. Requests and verdicts are durable (`Store::access_*`); every change is
//! one store transaction that re-checks the stored state, so replicas on a shared
//! store agree, and each replica learns of the others' changes from the store's
//! notification (`replica::GrantChanges`). Each step is an audit record
//! (`audit::grants`) and an [`events::AccessEvent`] for notifiers.
//!
//! Layers: above `policy`, `directory`, `store`, `audit` and `metrics`; below `gate`,
//! `scim`, `admin` and `server`, which wires it (`server::compose`).

mod book;
pub mod error;
pub mod events;
pub mod model;
mod service;
mod task;

use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use tokio::sync::mpsc;

pub use error::AccessError;
pub use events::{AccessEvent, AccessEventKind, AccessNotifier, NoNotifier};
pub use model::{
    AccessLimits, AccessRequest, Actor, NewRequest, Offer, RequestState, Verdict,
    DEFAULT_PENDING_MAX_AGE, MIN_DURATION,
};

use crate::audit::Auditor;
use crate::clock::SharedClock;
use crate::directory::Directory;
use crate::metrics::Metrics;
use crate::policy::reload::PolicyHandle;
use crate::store::{Store, StoreError};
use book::Book;
use task::Job;

/// What runs the revocation fan-out when a grant ends (the gate implements it).
pub trait GrantFanout: Send + Sync + 'static {
    /// A time-bound grant ended: judge every live stream again and cut those no
    /// longer allowed.
    fn grants_ended(&self);
}

/// What [`Access::load`] is built from.
pub struct AccessParts {
    pub dir: Arc<Directory>,
    pub policy: Arc<PolicyHandle>,
    pub store: Arc<dyn Store>,
    pub clock: SharedClock,
    pub audit: Auditor,
    pub metrics: Arc<Metrics>,
    pub limits: AccessLimits,
}

/// The access service: shared (`Arc`) by the gate, the pages and the API.
pub struct Access {
    dir: Arc<Directory>,
    policy: Arc<PolicyHandle>,
    store: Arc<dyn Store>,
    clock: SharedClock,
    audit: Auditor,
    metrics: Arc<Metrics>,
    limits: AccessLimits,
    book: RwLock<Book>,
    notifier: RwLock<Arc<dyn AccessNotifier>>,
    fanout: RwLock<Option<Arc<dyn GrantFanout>>>,
    jobs: mpsc::UnboundedSender<Job>,
    /// Taken by [`Access::run`].
    inbox: Mutex<Option<mpsc::UnboundedReceiver<Job>>>,
    /// Wakes the task when a grant starts (its end may be the next one).
    wake: tokio::sync::Notify,
}

impl Access {
    /// Reads the open requests (and those ended recently) from the store and starts
    /// the grants still active (blocking: call on a blocking thread). Grants whose end
    /// passed while nothing ran are ended by the task's first round ([`Access::run`]).
    pub fn load(parts: AccessParts) -> Result<Arc<Access>, StoreError> {
        let (jobs, inbox) = mpsc::unbounded_channel();
        let access = Arc::new(Access {
            dir: parts.dir,
            policy: parts.policy,
            store: parts.store,
            clock: parts.clock,
            audit: parts.audit,
            metrics: parts.metrics,
            limits: parts.limits,
            book: RwLock::new(Book::default()),
            notifier: RwLock::new(Arc::new(NoNotifier)),
            fanout: RwLock::new(None),
            jobs,
            inbox: Mutex::new(Some(inbox)),
            wake: tokio::sync::Notify::new(),
        });
        let since = access.now() - ms(access.limits.keep_ended);
        let rows = access.store.access_load(since)?;
        let n = rows.len();
        for row in rows {
            access.apply(row);
        }
        let (pending, active) = access.book.read().open_counts();
        tracing::info!(requests = n, pending, active, "access requests loaded");
        Ok(access)
    }

    /// Announces events through `notifier` from now on (the default announces none).
    pub fn set_notifier(&self, notifier: Arc<dyn AccessNotifier>) {
        *self.notifier.write() = notifier;
    }

    /// Runs `fanout` whenever a grant ends.
    pub fn set_fanout(&self, fanout: Arc<dyn GrantFanout>) {
        *self.fanout.write() = Some(fanout);
    }

    /// The user `user_id` was deactivated or deleted (by `actor`): their pending
    /// requests are cancelled and their grants end (by the task, soon after).
    pub fn user_gone(&self, user_id: &str, actor: &str) {
        let _ = self.jobs.send(Job::UserGone {
            user_id: user_id.to_owned(),
            actor: actor.to_owned(),
        });
    }

    /// The limits in force.
    pub fn limits(&self) -> AccessLimits {
        self.limits
    }

    fn now(&self) -> i64 {
        crate::clock::to_millis(self.clock.now())
    }

    fn notify(&self, event: AccessEvent) {
        let notifier = self.notifier.read().clone();
        notifier.notify(event);
    }

    fn fan_out(&self) {
        let fanout = self.fanout.read().clone();
        if let Some(f) = fanout {
            f.grants_ended();
        }
    }

    /// Files `req` as stored and brings the directory in line: a grant active in it
    /// starts (or keeps), one no longer active ends, with the fan-out. A state older
    /// than the one filed (answers applied out of order) changes nothing.
    fn apply(&self, req: AccessRequest) {
        let ended = {
            let mut book = self.book.write();
            let (id, active) = (req.id.clone(), req.state == RequestState::Active);
            let user = active
                .then(|| self.dir.user_by_id(&req.requester_id))
                .flatten();
            let (group, end) = (req.group.clone(), req.ends_at);
            let pending = req.state == RequestState::Pending;
            if !book.put(req) {
                return;
            }
            if pending {
                // Its deadline (`pending_max_age`) may be the task's next.
                self.wake.notify_one();
            }
            if !active {
                self.dir.grant_end(&id)
            } else {
                match (user, end) {
                    (Some(user), Some(end)) => {
                        self.dir.grant_start(user.ord, &id, &group, end);
                        self.wake.notify_one();
                    }
                    _ => tracing::warn!(request = %id, "an active grant names no directory user"),
                }
                false
            }
        };
        if ended {
            self.fan_out();
        }
        self.count_open();
    }

    fn count_open(&self) {
        let (pending, active) = self.book.read().open_counts();
        self.metrics.access_open(pending, active);
    }
}

/// Milliseconds of a duration, saturating.
fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
