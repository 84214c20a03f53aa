//! The single writer: every directory change goes through here.
//!
//! Requests queue on a channel. The writer takes what has queued, plans each change
//! against the committed state (uniqueness, versions, cycles, the manual-update lock),
//! and writes the whole batch in one store transaction, so concurrent writers share one
//! fsync (group commit). Only after the commit does it apply the batch to the cache and
//! answer the callers: a change a caller sees acknowledged is durable and visible to
//! every later read. Two changes in one batch never touch the same resource or name;
//! the second waits for the next batch and is planned against the first's result.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::plan::{plan, Planned, TouchKey};
use super::{
    Actor, Directory, DirectoryError, GroupDraft, GroupRecord, MemberChange, UserDraft, UserRecord,
};
use crate::clock::{to_millis, SharedClock};
use crate::store::{Change, Store};

/// Largest number of changes in one transaction.
const MAX_BATCH: usize = 512;
/// Queued requests before submitters wait.
const QUEUE: usize = 4096;
/// Committed batches between two store maintenance runs (WAL checkpoints).
const MAINTAIN_EVERY: u32 = 256;

/// A change to a user, computed from its current state; may be called more than once.
pub type UserMutation = Arc<dyn Fn(&UserRecord) -> Result<UserDraft, DirectoryError> + Send + Sync>;
/// A change to a group and its members, computed from its current state.
pub type GroupMutation =
    Arc<dyn Fn(&GroupRecord) -> Result<(GroupDraft, MemberChange), DirectoryError> + Send + Sync>;

/// A requested directory change.
#[derive(Clone)]
pub enum Command {
    CreateUser {
        draft: UserDraft,
    },
    UpdateUser {
        id: String,
        if_match: Option<String>,
        mutate: UserMutation,
        /// Label of the change for the audit log (`replace`, `patch`).
        action: &'static str,
    },
    DeleteUser {
        id: String,
        if_match: Option<String>,
    },
    CreateGroup {
        draft: GroupDraft,
        members: Vec<String>,
    },
    UpdateGroup {
        id: String,
        if_match: Option<String>,
        mutate: GroupMutation,
        action: &'static str,
    },
    DeleteGroup {
        id: String,
        if_match: Option<String>,
    },
}

/// What a change produced.
#[derive(Debug, Clone)]
pub enum Outcome {
    User(Arc<UserRecord>),
    Group(Arc<GroupRecord>),
    Deleted,
}

/// Runs after a batch is committed and applied to the cache, before its callers are
/// answered: the revocation fan-out (sessions end, live streams are re-judged) happens
/// here, so a caller that sees its change acknowledged knows access already follows it.
pub trait CommitHook: Send + Sync {
    fn after_commit(&self, changes: &[Change]);
}

/// Settings the writer enforces.
#[derive(Clone, Default)]
pub struct WriterSettings {
    pub allow_manual_updates: bool,
    /// Called after every committed batch.
    pub hook: Option<Arc<dyn CommitHook>>,
}

struct Request {
    actor: Actor,
    cmd: Command,
    reply: oneshot::Sender<Result<Outcome, DirectoryError>>,
}

/// Handle to submit changes to the writer task.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Request>,
}

impl Writer {
    /// Starts the writer task on the current runtime.
    pub fn start(
        dir: Arc<Directory>,
        store: Arc<dyn Store>,
        clock: SharedClock,
        settings: WriterSettings,
    ) -> (Writer, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(run(rx, dir, store, clock, settings));
        (Writer { tx }, task)
    }

    /// Submits a change and waits until it is durable and visible (or refused).
    pub async fn submit(&self, actor: Actor, cmd: Command) -> Result<Outcome, DirectoryError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request { actor, cmd, reply })
            .await
            .map_err(|_| DirectoryError::ShuttingDown)?;
        rx.await.map_err(|_| DirectoryError::ShuttingDown)?
    }
}

struct Pending {
    planned: Planned,
    reply: oneshot::Sender<Result<Outcome, DirectoryError>>,
}

async fn run(
    mut rx: mpsc::Receiver<Request>,
    dir: Arc<Directory>,
    store: Arc<dyn Store>,
    clock: SharedClock,
    settings: WriterSettings,
) {
    let mut queue: VecDeque<Request> = VecDeque::new();
    let mut since_maintenance: u32 = 0;
    loop {
        if queue.is_empty() {
            match rx.recv().await {
                Some(r) => queue.push_back(r),
                None => return,
            }
        }
        while queue.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => queue.push_back(r),
                Err(_) => break,
            }
        }
        let now = to_millis(clock.now());
        let mut batch: Vec<Pending> = Vec::new();
        let mut keys: HashSet<TouchKey> = HashSet::new();
        while batch.len() < MAX_BATCH {
            let Some(req) = queue.pop_front() else { break };
            match plan(
                &dir,
                &req.actor,
                &req.cmd,
                now,
                settings.allow_manual_updates,
            ) {
                Ok(planned) => {
                    if planned.keys.iter().any(|k| keys.contains(k)) {
                        // Touches what this batch already changes: plan it again after commit.
                        queue.push_front(req);
                        break;
                    }
                    keys.extend(planned.keys.iter().cloned());
                    batch.push(Pending {
                        planned,
                        reply: req.reply,
                    });
                }
                Err(e) => {
                    let _ = req.reply.send(Err(e));
                }
            }
        }
        if batch.is_empty() {
            continue;
        }
        commit_batch(&dir, &store, &settings, batch).await;
        since_maintenance += 1;
        if since_maintenance >= MAINTAIN_EVERY {
            since_maintenance = 0;
            let store = store.clone();
            tokio::task::spawn_blocking(move || {
                if let Err(e) = store.maintain() {
                    tracing::warn!(error = %e, "store maintenance failed");
                }
            });
        }
    }
}

async fn commit_batch(
    dir: &Arc<Directory>,
    store: &Arc<dyn Store>,
    settings: &WriterSettings,
    batch: Vec<Pending>,
) {
    let changes: Vec<_> = batch.iter().map(|p| p.planned.change.clone()).collect();
    let store = store.clone();
    let result = tokio::task::spawn_blocking(move || {
        let seqs = store.commit(&changes);
        (changes, seqs)
    })
    .await;
    match result {
        Ok((changes, Ok(seqs))) => {
            for (change, seq) in changes.iter().zip(seqs) {
                dir.apply(&change.ops, seq);
            }
            if let Some(hook) = &settings.hook {
                hook.after_commit(&changes);
            }
            for p in batch {
                let _ = p.reply.send(Ok(p.planned.outcome));
            }
        }
        Ok((_, Err(e))) => {
            tracing::error!(error = %e, size = batch.len(), "directory commit failed");
            let shared = Arc::new(e);
            for p in batch {
                let _ = p.reply.send(Err(DirectoryError::Store(shared.clone())));
            }
        }
        Err(join) => {
            tracing::error!(error = %join, "directory commit task failed");
            for p in batch {
                let _ = p.reply.send(Err(DirectoryError::ShuttingDown));
            }
        }
    }
}
