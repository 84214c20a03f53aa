//! The single writer: every directory change goes through here.
//!
//! Requests queue on a channel. The writer takes what has queued, plans each change
//! against the committed state (uniqueness, versions, cycles, the manual-update lock),
//! and writes the whole batch in one store transaction, so concurrent writers share one
//! fsync (group commit). Only after the commit does it apply the batch to the cache and
//! answer the callers: a change a caller sees acknowledged is durable and visible to
//! every later read. Two changes in one batch never touch the same resource or name;
//! the second waits for the next batch and is planned against the first's result.
//!
//! On a store shared by several replicas the plan may be stale: another replica may
//! have committed since this copy last caught up. Each batch is committed stating the
//! sequence it was planned at; if the store refuses it as stale, the writer catches up
//! (applies the newer changes from the store's log, with the same commit hook as its
//! own) and plans the batch's requests again, so uniqueness and member sets are decided
//! on the latest state and nothing is lost. The follower ([`crate::replica`]) pokes the
//! writer to catch up on every notification; only this task changes the directory.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::plan::{plan, Planned, TouchKey};
use super::{CatchUpSignal, Directory, DirectoryError};
use crate::clock::{to_millis, SharedClock};
use crate::record::{Actor, Change, GroupDraft, GroupRecord, MemberChange, UserDraft, UserRecord};
use crate::store::{Store, StoreError};

/// Largest number of changes in one transaction.
const MAX_BATCH: usize = 512;
/// Queued requests before submitters wait.
const QUEUE: usize = 4096;
/// Committed batches between two store maintenance runs (WAL checkpoints).
const MAINTAIN_EVERY: u32 = 256;
/// Times one request is planned again after a stale commit before it is refused.
const MAX_STALE_RETRIES: u32 = 64;
/// Changes read from the shared store's log per round of a catch-up.
const CATCH_UP_PAGE: usize = 1024;

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
    /// Set on a shared store: the follower's pokes to catch up with other replicas.
    pub follow: Option<Arc<CatchUpSignal>>,
}

struct Request {
    actor: Actor,
    cmd: Command,
    reply: oneshot::Sender<Result<Outcome, DirectoryError>>,
    /// Times it was planned again after a stale commit.
    retries: u32,
}

/// Handle to submit changes to the writer task.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Request>,
}

impl Writer {
    /// The handle, and the writer task for the caller to spawn. When `stop` fires the
    /// writer takes no new change, finishes the ones queued, and ends (it also ends
    /// when every handle is dropped).
    pub fn start(
        dir: Arc<Directory>,
        store: Arc<dyn Store>,
        clock: SharedClock,
        settings: WriterSettings,
        stop: CancellationToken,
    ) -> (
        Writer,
        impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (Writer { tx }, run(rx, dir, store, clock, settings, stop))
    }

    /// Submits a change and waits until it is durable and visible (or refused).
    pub async fn submit(&self, actor: Actor, cmd: Command) -> Result<Outcome, DirectoryError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request {
                actor,
                cmd,
                reply,
                retries: 0,
            })
            .await
            .map_err(|_| DirectoryError::ShuttingDown)?;
        rx.await.map_err(|_| DirectoryError::ShuttingDown)?
    }
}

struct Pending {
    planned: Planned,
    req: Request,
}

async fn run(
    mut rx: mpsc::Receiver<Request>,
    dir: Arc<Directory>,
    store: Arc<dyn Store>,
    clock: SharedClock,
    settings: WriterSettings,
    stop: CancellationToken,
) {
    let mut queue: VecDeque<Request> = VecDeque::new();
    let mut since_maintenance: u32 = 0;
    let mut closed = false;
    loop {
        if queue.is_empty() {
            tokio::select! {
                r = rx.recv() => match r {
                    Some(r) => queue.push_back(r),
                    None => return,
                },
                () = stop.cancelled(), if !closed => {
                    // Refuse new changes; what is queued is still received, then None.
                    rx.close();
                    closed = true;
                    continue;
                }
                () = wait_for_poke(&settings.follow) => {
                    catch_up(&dir, &store, &settings).await;
                    continue;
                }
            }
        }
        while queue.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => queue.push_back(r),
                Err(_) => break,
            }
        }
        if let Some(follow) = &settings.follow {
            // On a shared store every batch is planned on the latest state: a change
            // another replica just acknowledged (a create, then a PATCH sent here) is
            // never refused as unknown, and stale commits stay rare.
            follow.take();
            catch_up(&dir, &store, &settings).await;
        }
        let now = to_millis(clock.now());
        let base = dir.seq();
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
                    batch.push(Pending { planned, req });
                }
                Err(e) => {
                    let _ = req.reply.send(Err(e));
                }
            }
        }
        if batch.is_empty() {
            continue;
        }
        let retry = commit_batch(&dir, &store, &settings, base, batch).await;
        if !retry.is_empty() {
            // Another replica wrote first: apply its changes, then plan these again.
            catch_up(&dir, &store, &settings).await;
            for req in retry.into_iter().rev() {
                queue.push_front(req);
            }
            continue;
        }
        since_maintenance += 1;
        if since_maintenance >= MAINTAIN_EVERY {
            since_maintenance = 0;
            let store = store.clone();
            // Not awaited: housekeeping never holds up the next batch. A blocking task
            // (bounded by the store's own timeouts), which the runtime waits for on exit.
            tokio::task::spawn_blocking(move || {
                if let Err(e) = store.maintain() {
                    tracing::warn!(error = %e, "store maintenance failed");
                }
            });
        }
    }
}

/// Waits for the follower's poke (forever on a store with one writer).
async fn wait_for_poke(follow: &Option<Arc<CatchUpSignal>>) {
    match follow {
        Some(f) => f.wait().await,
        None => std::future::pending().await,
    }
}

/// Applies the changes other replicas committed since this copy's sequence, and runs
/// the commit hook on them (sessions end, streams are judged again), as for a local
/// change. Marks the directory fresh when it reached the store's head.
async fn catch_up(dir: &Arc<Directory>, store: &Arc<dyn Store>, settings: &WriterSettings) {
    loop {
        let from = dir.seq();
        let reader = store.clone();
        let read =
            tokio::task::spawn_blocking(move || reader.changes_since(from, CATCH_UP_PAGE)).await;
        let changes = match read {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, seq = from, "cannot catch up with the shared store");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "catch-up task failed");
                return;
            }
        };
        let full = changes.len() >= CATCH_UP_PAGE;
        if !changes.is_empty() {
            for (seq, change) in &changes {
                dir.apply(&change.ops, *seq);
            }
            let changes: Vec<Change> = changes.into_iter().map(|(_, c)| c).collect();
            tracing::debug!(
                count = changes.len(),
                seq = dir.seq(),
                "applied changes from other replicas"
            );
            if let Some(hook) = &settings.hook {
                hook.after_commit(&changes);
            }
        }
        if !full {
            dir.freshness().caught_up();
            return;
        }
    }
}

/// Commits a batch planned at `base`; answers its callers, or returns the requests to
/// plan again when the store refused the batch as stale.
async fn commit_batch(
    dir: &Arc<Directory>,
    store: &Arc<dyn Store>,
    settings: &WriterSettings,
    base: u64,
    batch: Vec<Pending>,
) -> Vec<Request> {
    let changes: Vec<_> = batch.iter().map(|p| p.planned.change.clone()).collect();
    let store = store.clone();
    let result = tokio::task::spawn_blocking(move || {
        let seqs = store.commit_planned_at(base, &changes);
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
                let _ = p.req.reply.send(Ok(p.planned.outcome));
            }
            Vec::new()
        }
        Ok((_, Err(StoreError::Stale { head, base }))) => {
            tracing::debug!(
                head,
                base,
                size = batch.len(),
                "stale plan; catching up and planning again"
            );
            let mut retry = Vec::with_capacity(batch.len());
            for p in batch {
                let mut req = p.req;
                req.retries += 1;
                if req.retries > MAX_STALE_RETRIES {
                    let _ = req.reply.send(Err(StoreError::Stale { head, base }.into()));
                } else {
                    retry.push(req);
                }
            }
            retry
        }
        Ok((_, Err(e))) => {
            tracing::error!(error = %e, size = batch.len(), "directory commit failed");
            let shared = Arc::new(e);
            for p in batch {
                let _ = p.req.reply.send(Err(DirectoryError::Store(shared.clone())));
            }
            Vec::new()
        }
        Err(join) => {
            tracing::error!(error = %join, "directory commit task failed");
            for p in batch {
                let _ = p.req.reply.send(Err(DirectoryError::ShuttingDown));
            }
            Vec::new()
        }
    }
}
