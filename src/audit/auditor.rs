//! The [`Auditor`]: records enter a bounded queue without waiting, a worker writes
//! them to the chain in batches, and a tailer ships the chain to the sinks.
//!
//! `record` never blocks the request path: when the queue is full the record is
//! counted as overflow, logged (once per burst), and the worker writes an
//! `audit.overflow` record with the count into the chain at its next batch, so a gap
//! is on record. The worker batches up to `batch_max` records or `batch_interval`,
//! appends them in one store transaction on a blocking thread, then wakes the tailer.
//! The queue ([`super::queue`]) wakes the worker once per batch (when it begins and
//! when it is full), not once per record, and a decision is queued packed in one
//! allocation ([`super::packed`]), hashed and stored from borrowed views.
//! [`AuditService::shutdown`] drains the queue, feeds the sinks once more and stops.
//!
//! Refusals with no authenticated caller take another way ([`Auditor::record_refusal`]):
//! the [`RefusalWindow`] admits a few per (route, reason) and window to be recorded
//! one by one through their own, smaller queue and counts the rest into aggregate
//! records, so a flood of them neither grows the chain without bound nor takes room
//! from signed-in users' decisions (the worker also takes those first). After each
//! write the worker asks the store for housekeeping (a WAL checkpoint), so a long
//! write load does not grow the SQLite WAL.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::allows::{AllowAdmit, AllowWindow};
use super::packed::Queued;
use super::queue::{BatchQueue, Lane};
use super::records;
use super::records::{DecisionRecord, DenyReason, RefusalSample, RequestOrigin};
use super::refusals::{Admit, RefusalWindow};
use super::retention::{self, PruneTotals};
use super::sink::{SinkCounters, SinkStats};
use super::tailer::Tailer;
use super::tally::{Tally, TallyKey};
use crate::clock::{to_millis, SharedClock};
use crate::config::audit::{AuditConfig, RetentionConfig};
use crate::record::{AuditEntry, EntryView};
use crate::store::Store;

/// A cheap handle for recording audit events.
#[derive(Clone)]
pub struct Auditor {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Auditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auditor")
            .field("stats", &self.stats())
            .finish()
    }
}

struct Shared {
    /// Decisions and, in their own room, anonymous refusals recorded one by one.
    queue: BatchQueue,
    anonymous_capacity: usize,
    refusals: RefusalWindow,
    /// Allows counted instead of recorded (`audit.decisions: sampled | deny`).
    allows: AllowWindow,
    /// Allows counted into `access.allow_aggregate` records (ever).
    allows_counted: AtomicU64,
    /// Signed-in callers' counted events (rate limits, shadow differences).
    tally: Tally,
    max_path_bytes: usize,
    /// Anonymous refusals counted into aggregate records (ever).
    aggregated: AtomicU64,
    control: mpsc::UnboundedSender<oneshot::Sender<()>>,
    capacity: usize,
    clock: SharedClock,
    overflowed: AtomicU64,
    /// Overflow not yet written into the chain.
    overflow_unrecorded: AtomicU64,
    appended: AtomicU64,
    append_errors: AtomicU64,
    sinks: parking_lot::Mutex<Vec<(&'static str, Arc<SinkCounters>)>>,
    store: Arc<dyn Store>,
    retention: RetentionConfig,
    /// Decision records pruned by retention (ever, by this process).
    pruned: AtomicU64,
}

/// What the audit pipeline has done (for metrics).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditStats {
    /// Records waiting in the queues (decisions and anonymous refusals).
    pub queue_depth: u64,
    pub queue_capacity: u64,
    /// Anonymous refusals waiting in their own queue (part of `queue_depth`).
    pub anonymous_queue_depth: u64,
    pub anonymous_queue_capacity: u64,
    /// Records that found their queue full (ever; both queues).
    pub overflowed: u64,
    /// Anonymous refusals counted into `access.deny_aggregate` records (ever).
    pub aggregated: u64,
    /// Allows counted into `access.allow_aggregate` records (ever).
    pub allows_counted: u64,
    /// Decision records pruned by retention (ever, by this process).
    pub pruned: u64,
    /// Records the worker appended to the chain.
    pub appended: u64,
    /// Records the store refused after retries (logged; the chain lacks them).
    pub append_errors: u64,
    pub sinks: Vec<SinkStats>,
}

/// The running tasks behind an [`Auditor`].
pub struct AuditService {
    /// Stops the worker (first, so its last batch is stored before the sinks stop).
    worker_stop: CancellationToken,
    /// Stops the tailer and the sink tasks.
    stop: CancellationToken,
    worker: JoinHandle<()>,
    tasks: Vec<JoinHandle<()>>,
    /// Where the worker, the tailer and the sink tasks run (the application's tracker).
    tracker: TaskTracker,
}

impl Auditor {
    /// Starts the worker on `tracker`; sinks are added after (they need the handle to
    /// report their own drops). The worker and the sinks stop on children of `stop`
    /// (in order: [`AuditService::shutdown`]). The composition root wires this up.
    pub(crate) fn start_worker(
        store: Arc<dyn Store>,
        config: &AuditConfig,
        clock: SharedClock,
        tracker: &TaskTracker,
        stop: &CancellationToken,
    ) -> (Auditor, AuditService, WorkerWake) {
        let anonymous_capacity = config.anonymous.queue_capacity.max(1);
        let (control, control_rx) = mpsc::unbounded_channel();
        let now = to_millis(clock.now());
        let shared = Arc::new(Shared {
            queue: BatchQueue::new(config.queue_capacity, anonymous_capacity, config.batch_max),
            anonymous_capacity,
            refusals: RefusalWindow::new(config.anonymous.clone(), now),
            allows: AllowWindow::new(config.allows.clone(), now),
            allows_counted: AtomicU64::new(0),
            tally: Tally::new(config.anonymous.max_keys, now),
            max_path_bytes: config.max_path_bytes,
            aggregated: AtomicU64::new(0),
            control,
            capacity: config.queue_capacity,
            clock,
            overflowed: AtomicU64::new(0),
            overflow_unrecorded: AtomicU64::new(0),
            appended: AtomicU64::new(0),
            append_errors: AtomicU64::new(0),
            sinks: parking_lot::Mutex::new(Vec::new()),
            store: store.clone(),
            retention: config.retention.clone(),
            pruned: AtomicU64::new(0),
        });
        let worker_stop = stop.child_token();
        let wake = WorkerWake::default();
        let worker = Worker {
            shared: shared.clone(),
            store,
            batch_max: config.batch_max,
            batch_interval: config.batch_interval,
            window: config.anonymous.window,
            allow_window: config.allows.window,
            tail: wake.clone(),
            last_maintain: parking_lot::Mutex::new(std::time::Instant::now()),
        };
        let worker = tracker.spawn(worker.run(control_rx, worker_stop.clone()));
        (
            Auditor { shared },
            AuditService {
                worker_stop,
                stop: stop.child_token(),
                worker,
                tasks: Vec::new(),
                tracker: tracker.clone(),
            },
            wake,
        )
    }

    /// The current time in Unix milliseconds (the auditor's clock).
    pub fn now_ms(&self) -> i64 {
        to_millis(self.shared.clock.now())
    }

    /// Queues a record without waiting; a full queue counts it as overflow.
    pub fn record(&self, entry: AuditEntry) {
        self.queue(entry.into());
    }

    fn queue(&self, record: Queued) {
        if self.shared.queue.push(Lane::Decisions, record).is_err() {
            self.overflowed(self.shared.capacity);
        }
    }

    fn overflowed(&self, capacity: usize) {
        let s = &self.shared;
        let total = s.overflowed.fetch_add(1, Ordering::Relaxed) + 1;
        if s.overflow_unrecorded.fetch_add(1, Ordering::Relaxed) == 0 {
            tracing::warn!(
                total,
                capacity,
                "audit queue full; records are counted and the gap is recorded"
            );
        }
    }

    /// Records a policy decision on an authenticated caller, client text clipped to
    /// the configured bounds.
    /// An allow is recorded on its own or counted into its window's aggregate, as
    /// `audit.decisions` says; a deny always on its own.
    pub fn record_decision(&self, r: &DecisionRecord<'_>) {
        if r.allow {
            let admit = self
                .shared
                .allows
                .admit(r.route, r.user_id, r.user_name, r.at);
            if self.shared.allows.counts() {
                self.shared.allows_counted.fetch_add(1, Ordering::Relaxed);
            }
            if admit == AllowAdmit::Counted {
                return;
            }
        }
        self.queue(Queued::Packed(records::decision_packed(
            r,
            self.shared.max_path_bytes,
        )));
    }

    /// Records a refusal made before a caller was known: one by one while its
    /// (route, reason) has room in the current window, else counted into the
    /// window's aggregate record. Never takes room from decisions.
    pub fn record_refusal(
        &self,
        reason: DenyReason,
        route: Option<&str>,
        method: &str,
        path: &str,
        origin: &RequestOrigin,
    ) {
        let s = &self.shared;
        let max = s.max_path_bytes;
        match s.refusals.admit(reason, route, || {
            RefusalSample::new(method, path, origin, max)
        }) {
            Admit::Counted => {
                s.aggregated.fetch_add(1, Ordering::Relaxed);
            }
            Admit::Individually => {
                let entry = records::refusal_bounded(
                    self.now_ms(),
                    reason,
                    None,
                    route,
                    method,
                    path,
                    origin,
                    max,
                );
                if s.queue.push(Lane::Anonymous, entry.into()).is_err() {
                    self.overflowed(s.anonymous_capacity);
                }
            }
        }
    }

    /// Counts an event of a signed-in caller into the window's aggregate records
    /// (one record per key and window, see [`super::tally`]).
    pub fn tally(&self, key: TallyKey) {
        self.shared.tally.count(key);
    }

    /// Runs retention now (see [`retention`]): prunes decisions older than
    /// `audit.retention.decisions_max_age`, never past what every sink has taken.
    pub async fn prune_now(&self) -> Result<PruneTotals, crate::store::StoreError> {
        let s = self.shared.clone();
        let not_after = s
            .sinks
            .lock()
            .iter()
            .map(|(_, c)| c.cursor.load(Ordering::Relaxed))
            .min()
            .unwrap_or(u64::MAX);
        let now = self.now_ms();
        let totals = tokio::task::spawn_blocking(move || {
            retention::prune(s.store.as_ref(), &s.retention, now, not_after)
        })
        .await
        .map_err(|e| crate::store::StoreError::Corrupt(format!("retention task failed: {e}")))??;
        self.shared
            .pruned
            .fetch_add(totals.pruned, Ordering::Relaxed);
        Ok(totals)
    }

    /// Waits until everything recorded so far is in the chain and has been offered to
    /// the sinks.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.shared.control.send(tx).is_ok() {
            let _ = rx.await;
        }
    }

    /// Counters for metrics.
    pub fn stats(&self) -> AuditStats {
        let s = &self.shared;
        let (decisions_depth, anonymous_depth) = s.queue.depth();
        let anonymous_depth = anonymous_depth as u64;
        AuditStats {
            queue_depth: decisions_depth as u64 + anonymous_depth,
            queue_capacity: s.capacity as u64,
            anonymous_queue_depth: anonymous_depth,
            anonymous_queue_capacity: s.anonymous_capacity as u64,
            overflowed: s.overflowed.load(Ordering::Relaxed),
            aggregated: s.aggregated.load(Ordering::Relaxed),
            allows_counted: s.allows_counted.load(Ordering::Relaxed),
            pruned: s.pruned.load(Ordering::Relaxed),
            appended: s.appended.load(Ordering::Relaxed),
            append_errors: s.append_errors.load(Ordering::Relaxed),
            sinks: s
                .sinks
                .lock()
                .iter()
                .map(|(name, c)| c.snapshot(name))
                .collect(),
        }
    }
}

/// Wakes (and flushes) the tailer; held by the worker.
#[derive(Clone, Default)]
pub(crate) struct WorkerWake {
    tail: Arc<parking_lot::Mutex<Option<TailControl>>>,
}

#[derive(Clone)]
struct TailControl {
    kick: Arc<Notify>,
    flush: mpsc::UnboundedSender<oneshot::Sender<()>>,
}

impl WorkerWake {
    fn kick(&self) {
        if let Some(t) = &*self.tail.lock() {
            t.kick.notify_one();
        }
    }

    async fn flush(&self) {
        let flush = self.tail.lock().as_ref().map(|t| t.flush.clone());
        if let Some(flush) = flush {
            let (tx, rx) = oneshot::channel();
            if flush.send(tx).is_ok() {
                let _ = rx.await;
            }
        }
    }
}

impl AuditService {
    /// Runs `tailer` on an interval and after each append, until shutdown.
    pub(crate) fn start_tailer(&mut self, wake: &WorkerWake, mut tailer: Tailer, every: Duration) {
        if tailer.is_empty() {
            return;
        }
        let kick = Arc::new(Notify::new());
        let (flush, mut flush_rx) = mpsc::unbounded_channel::<oneshot::Sender<()>>();
        *wake.tail.lock() = Some(TailControl {
            kick: kick.clone(),
            flush,
        });
        let stop = self.stop.clone();
        self.tasks.push(self.tracker.spawn(async move {
            loop {
                let mut acks = Vec::new();
                let stopping = tokio::select! {
                    () = kick.notified() => false,
                    () = tokio::time::sleep(every) => false,
                    Some(ack) = flush_rx.recv() => { acks.push(ack); false }
                    () = stop.cancelled() => true,
                };
                while let Ok(ack) = flush_rx.try_recv() {
                    acks.push(ack);
                }
                tailer = match tokio::task::spawn_blocking(move || {
                    tailer.pass();
                    tailer
                })
                .await
                {
                    Ok(t) => t,
                    Err(e) => {
                        tracing::error!(error = %e, "audit tailer failed");
                        return;
                    }
                };
                for ack in acks {
                    let _ = ack.send(());
                }
                if stopping {
                    return;
                }
            }
        }));
    }

    /// Registers a sink's counters for [`Auditor::stats`].
    pub(crate) fn register_sink(
        auditor: &Auditor,
        name: &'static str,
        counters: Arc<SinkCounters>,
    ) {
        auditor.shared.sinks.lock().push((name, counters));
    }

    /// Adds a background task that stops with the service (e.g. an HTTP sender).
    pub fn spawn<F>(&mut self, task: impl FnOnce(CancellationToken) -> F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.tasks.push(self.tracker.spawn(task(self.stop.clone())));
    }

    /// Writes what is queued, feeds the sinks once more, and stops.
    pub async fn shutdown(self) {
        self.worker_stop.cancel();
        let _ = self.worker.await;
        self.stop.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

struct Worker {
    shared: Arc<Shared>,
    store: Arc<dyn Store>,
    batch_max: usize,
    batch_interval: Duration,
    /// How often the anonymous refusal window is closed.
    window: Duration,
    /// How often the window of counted allows is closed.
    allow_window: Duration,
    tail: WorkerWake,
    last_maintain: parking_lot::Mutex<std::time::Instant>,
}

/// The least time between two housekeeping calls after writes.
const MAINTAIN_EVERY: Duration = Duration::from_millis(200);

impl Worker {
    async fn run(
        self,
        mut control: mpsc::UnboundedReceiver<oneshot::Sender<()>>,
        stop: CancellationToken,
    ) {
        let mut window =
            tokio::time::interval_at(tokio::time::Instant::now() + self.window, self.window);
        window.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut allow_window = tokio::time::interval_at(
            tokio::time::Instant::now() + self.allow_window,
            self.allow_window,
        );
        allow_window.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let q = &self.shared.queue;
        let mut batch: Vec<Queued> = Vec::new();
        loop {
            if q.len() > 0 {
                // A batch has begun (or records were left past the last full one):
                // wait until it is full or `batch_interval` has passed, then write.
                self.fill(&stop).await;
                q.take(&mut batch, self.batch_max);
                batch = self.write(batch, false).await;
                if !stop.is_cancelled() {
                    continue;
                }
            }
            tokio::select! {
                biased;
                () = stop.cancelled() => {
                    q.take(&mut batch, 0);
                    self.close_window(&mut batch);
                    self.close_allows(&mut batch);
                    self.write(batch, true).await;
                    return;
                }
                Some(ack) = control.recv() => {
                    q.take(&mut batch, 0);
                    self.close_window(&mut batch);
                    self.close_allows(&mut batch);
                    batch = self.write(batch, true).await;
                    self.tail.flush().await;
                    let _ = ack.send(());
                }
                () = q.ready() => {}
                _ = window.tick() => {
                    self.close_window(&mut batch);
                    batch = self.write(batch, false).await;
                }
                _ = allow_window.tick() => {
                    self.close_allows(&mut batch);
                    batch = self.write(batch, false).await;
                }
                () = tokio::time::sleep(self.batch_interval) => {
                    batch = self.write(batch, false).await;
                }
            }
        }
    }

    /// Waits until the queued records fill a batch or `batch_interval` has passed; at
    /// `stop` at once (shutdown writes what is queued without waiting out the batch).
    /// Woken once when the batch fills, not once per record.
    async fn fill(&self, stop: &CancellationToken) {
        let q = &self.shared.queue;
        let deadline = tokio::time::Instant::now() + self.batch_interval;
        let sleep = tokio::time::sleep_until(deadline);
        tokio::pin!(sleep);
        while !q.batch_full() {
            tokio::select! {
                biased;
                () = stop.cancelled() => return,
                () = &mut sleep => return,
                () = q.ready() => {}
            }
        }
    }

    /// Adds the aggregate records of the anonymous refusal window and starts a new one.
    fn close_window(&self, batch: &mut Vec<Queued>) {
        let (aggregates, _) = self
            .shared
            .refusals
            .close(to_millis(self.shared.clock.now()));
        batch.extend(aggregates.into_iter().map(Queued::from));
        batch.extend(
            self.shared
                .tally
                .close(to_millis(self.shared.clock.now()))
                .into_iter()
                .map(Queued::from),
        );
    }

    /// Closes the window of counted allows into `batch` (nothing with
    /// `audit.decisions: all`).
    fn close_allows(&self, batch: &mut Vec<Queued>) {
        let (aggregates, _) = self.shared.allows.close(to_millis(self.shared.clock.now()));
        batch.extend(aggregates.into_iter().map(Queued::from));
    }

    /// Store housekeeping after writes (at most every [`MAINTAIN_EVERY`] unless
    /// `force`), on a blocking thread, waited for so it never runs twice at once.
    async fn maintain(&self, force: bool) {
        {
            let mut last = self.last_maintain.lock();
            if !force && last.elapsed() < MAINTAIN_EVERY {
                return;
            }
            *last = std::time::Instant::now();
        }
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || store.maintain()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "store maintenance after audit writes failed"),
            Err(e) => tracing::warn!(error = %e, "store maintenance task failed"),
        }
    }

    /// Appends `batch` (plus an overflow record if records were lost) to the chain;
    /// hands the emptied buffer back.
    async fn write(&self, mut batch: Vec<Queued>, force_maintain: bool) -> Vec<Queued> {
        let lost = self.shared.overflow_unrecorded.swap(0, Ordering::Relaxed);
        if lost > 0 {
            let total = self.shared.overflowed.load(Ordering::Relaxed);
            batch.push(records::overflow(to_millis(self.shared.clock.now()), lost, total).into());
        }
        if batch.is_empty() {
            if force_maintain {
                self.maintain(true).await;
            }
            return batch;
        }
        let n = batch.len() as u64;
        for attempt in 0..3u32 {
            let store = self.store.clone();
            let appended = tokio::task::spawn_blocking(move || {
                let views: Vec<EntryView<'_>> = batch.iter().map(Queued::view).collect();
                let appended = store.audit_append_views(&views).map(|_| ());
                drop(views);
                (batch, appended)
            })
            .await;
            match appended {
                Ok((written, Ok(()))) => {
                    self.shared.appended.fetch_add(n, Ordering::Relaxed);
                    self.tail.kick();
                    self.maintain(force_maintain).await;
                    return self.recycled(written);
                }
                Ok((unwritten, Err(e))) => {
                    batch = unwritten;
                    tracing::warn!(error = %e, attempt, "audit append failed");
                }
                Err(e) => {
                    // The batch went with the task.
                    tracing::error!(error = %e, records = n, "audit append task failed");
                    self.shared.append_errors.fetch_add(n, Ordering::Relaxed);
                    return Vec::new();
                }
            }
            tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
        }
        self.shared.append_errors.fetch_add(n, Ordering::Relaxed);
        tracing::error!(
            records = n,
            "audit records could not be stored after retries"
        );
        self.recycled(batch)
    }

    /// The written batch's buffer, emptied, for the next batch.
    fn recycled(&self, mut batch: Vec<Queued>) -> Vec<Queued> {
        batch.clear();
        batch
    }
}
