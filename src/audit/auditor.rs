//! The [`Auditor`]: records enter a bounded queue without waiting, a worker writes
//! them to the chain in batches, and a tailer ships the chain to the sinks.
//!
//! `record` never blocks the request path: when the queue is full the record is
//! counted as overflow, logged (once per burst), and the worker writes an
//! `audit.overflow` record with the count into the chain at its next batch, so a gap
//! is on record. The worker batches up to `batch_max` records or `batch_interval`,
//! appends them in one store transaction on a blocking thread, then wakes the tailer.
//! [`AuditService::shutdown`] drains the queue, feeds the sinks once more and stops.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::config::AuditConfig;
use super::sink::{SinkCounters, SinkStats};
use super::tailer::Tailer;
use super::{records, AuditEntry};
use crate::clock::{to_millis, SharedClock};
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
    queue: mpsc::Sender<AuditEntry>,
    control: mpsc::UnboundedSender<oneshot::Sender<()>>,
    capacity: usize,
    clock: SharedClock,
    overflowed: AtomicU64,
    /// Overflow not yet written into the chain.
    overflow_unrecorded: AtomicU64,
    appended: AtomicU64,
    append_errors: AtomicU64,
    sinks: parking_lot::Mutex<Vec<(&'static str, Arc<SinkCounters>)>>,
}

/// What the audit pipeline has done (for metrics).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditStats {
    /// Records waiting in the queue.
    pub queue_depth: u64,
    pub queue_capacity: u64,
    /// Records that found the queue full (ever).
    pub overflowed: u64,
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
}

impl Auditor {
    /// Starts the worker; sinks are added after (they need the handle to report their
    /// own drops). See [`super::start`].
    pub(crate) fn start_worker(
        store: Arc<dyn Store>,
        config: &AuditConfig,
        clock: SharedClock,
    ) -> (Auditor, AuditService, WorkerWake) {
        let (queue, rx) = mpsc::channel(config.queue_capacity);
        let (control, control_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            queue,
            control,
            capacity: config.queue_capacity,
            clock,
            overflowed: AtomicU64::new(0),
            overflow_unrecorded: AtomicU64::new(0),
            appended: AtomicU64::new(0),
            append_errors: AtomicU64::new(0),
            sinks: parking_lot::Mutex::new(Vec::new()),
        });
        let worker_stop = CancellationToken::new();
        let wake = WorkerWake::default();
        let worker = Worker {
            shared: shared.clone(),
            store,
            batch_max: config.batch_max,
            batch_interval: config.batch_interval,
            tail: wake.clone(),
        };
        let worker = tokio::spawn(worker.run(rx, control_rx, worker_stop.clone()));
        (
            Auditor { shared },
            AuditService {
                worker_stop,
                stop: CancellationToken::new(),
                worker,
                tasks: Vec::new(),
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
        if self.shared.queue.try_send(entry).is_err() {
            let s = &self.shared;
            let total = s.overflowed.fetch_add(1, Ordering::Relaxed) + 1;
            if s.overflow_unrecorded.fetch_add(1, Ordering::Relaxed) == 0 {
                tracing::warn!(
                    total,
                    capacity = s.capacity,
                    "audit queue full; records are counted and the gap is recorded"
                );
            }
        }
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
        AuditStats {
            queue_depth: (s.capacity - s.queue.capacity()) as u64,
            queue_capacity: s.capacity as u64,
            overflowed: s.overflowed.load(Ordering::Relaxed),
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
        self.tasks.push(tokio::spawn(async move {
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
        self.tasks.push(tokio::spawn(task(self.stop.clone())));
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
    tail: WorkerWake,
}

impl Worker {
    async fn run(
        self,
        mut rx: mpsc::Receiver<AuditEntry>,
        mut control: mpsc::UnboundedReceiver<oneshot::Sender<()>>,
        stop: CancellationToken,
    ) {
        loop {
            let mut batch = Vec::new();
            tokio::select! {
                biased;
                () = stop.cancelled() => {
                    while let Ok(e) = rx.try_recv() {
                        batch.push(e);
                    }
                    self.write(batch).await;
                    return;
                }
                Some(ack) = control.recv() => {
                    while let Ok(e) = rx.try_recv() {
                        batch.push(e);
                    }
                    self.write(batch).await;
                    self.tail.flush().await;
                    let _ = ack.send(());
                }
                Some(first) = rx.recv() => {
                    batch.push(first);
                    let deadline = tokio::time::Instant::now() + self.batch_interval;
                    while batch.len() < self.batch_max {
                        match tokio::time::timeout_at(deadline, rx.recv()).await {
                            Ok(Some(e)) => batch.push(e),
                            _ => break,
                        }
                    }
                    self.write(batch).await;
                }
                () = tokio::time::sleep(self.batch_interval) => self.write(batch).await,
            }
        }
    }

    /// Appends `batch` (plus an overflow record if records were lost) to the chain.
    async fn write(&self, mut batch: Vec<AuditEntry>) {
        let lost = self.shared.overflow_unrecorded.swap(0, Ordering::Relaxed);
        if lost > 0 {
            let total = self.shared.overflowed.load(Ordering::Relaxed);
            batch.push(records::overflow(
                to_millis(self.shared.clock.now()),
                lost,
                total,
            ));
        }
        if batch.is_empty() {
            return;
        }
        let n = batch.len() as u64;
        let batch = Arc::new(batch);
        for attempt in 0..3u32 {
            let store = self.store.clone();
            let entries = batch.clone();
            match tokio::task::spawn_blocking(move || store.audit_append(&entries)).await {
                Ok(Ok(_)) => {
                    self.shared.appended.fetch_add(n, Ordering::Relaxed);
                    self.tail.kick();
                    return;
                }
                Ok(Err(e)) => tracing::warn!(error = %e, attempt, "audit append failed"),
                Err(e) => tracing::warn!(error = %e, attempt, "audit append task failed"),
            }
            tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
        }
        self.shared.append_errors.fetch_add(n, Ordering::Relaxed);
        tracing::error!(
            records = n,
            "audit records could not be stored after retries"
        );
    }
}
