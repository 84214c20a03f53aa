//! Bounded scans: the SCIM listings that must walk the directory (substring and complex
//! filters, sorts on an attribute without an index, large candidate sets) run here, on
//! blocking threads instead of the async workers that serve the proxy, at most
//! `scim.max_concurrent_scans` at once, each stopped at `scim.scan_timeout_seconds`.
//!
//! Each scan runs on a thread of its own at the lowest scheduling priority (the
//! `SCHED_IDLE` policy on Linux, nice 19 elsewhere, and off the first CPU when there are
//! several: [`lower_priority`]), so that when CPU is short the proxy's workers run first
//! and a scan slows down (and may reach its deadline) instead of the proxy.
//!
//! A listing that finds every slot busy waits `scim.scan_queue_wait_ms` for one, then is
//! refused with 503 and `Retry-After`; a scan past its deadline stops and answers 400
//! `tooMany` (RFC 7644 §3.12: more than the server is willing to process). A scan keeps
//! its slot until it has stopped, even when its client has gone, so the bound holds.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::ScimError;
use crate::config::ScimConfig;
use crate::metrics::Metrics;

/// How often (in items) a scan looks at the clock.
const CHECK_EVERY: u32 = 64;

/// When a scan must stop.
pub(crate) struct Deadline {
    at: Option<Instant>,
    limit: Duration,
    ticks: AtomicU32,
}

impl Deadline {
    /// A deadline `limit` from now.
    pub(crate) fn after(limit: Duration) -> Self {
        Deadline {
            at: Instant::now().checked_add(limit),
            limit,
            ticks: AtomicU32::new(0),
        }
    }

    /// No deadline: for work bounded by an index (a page, a few candidates).
    pub(crate) fn none() -> Self {
        Deadline {
            at: None,
            limit: Duration::ZERO,
            ticks: AtomicU32::new(0),
        }
    }

    /// Called once per item scanned: an error once the deadline has passed.
    pub(crate) fn tick(&self) -> Result<(), ScimError> {
        let Some(at) = self.at else { return Ok(()) };
        if !self
            .ticks
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(CHECK_EVERY)
        {
            return Ok(());
        }
        if Instant::now() >= at {
            return Err(ScimError::ScanTimedOut(self.limit.as_secs().max(1)));
        }
        Ok(())
    }
}

/// The scan slots of one server.
#[derive(Clone)]
pub(crate) struct Scans {
    slots: Arc<Semaphore>,
    queue_wait: Duration,
    timeout: Duration,
    metrics: Arc<Metrics>,
}

impl Scans {
    pub(crate) fn new(cfg: &ScimConfig, metrics: Arc<Metrics>) -> Self {
        Scans {
            slots: Arc::new(Semaphore::new(cfg.max_concurrent_scans.max(1))),
            queue_wait: cfg.scan_queue_wait,
            timeout: cfg.scan_timeout,
            metrics,
        }
    }

    /// Runs `work` on a blocking thread once a slot is free, with a deadline; `hold`
    /// names the work for [`ScanHold`] (the listing's filter).
    pub(crate) async fn run<T, F>(&self, hold: Option<String>, work: F) -> Result<T, ScimError>
    where
        T: Send + 'static,
        F: FnOnce(&Deadline) -> Result<T, ScimError> + Send + 'static,
    {
        let slot =
            match tokio::time::timeout(self.queue_wait, self.slots.clone().acquire_owned()).await {
                Ok(Ok(slot)) => slot,
                _ => {
                    self.metrics.scim_scan("refused");
                    tracing::debug!("SCIM scan refused: every scan slot is busy");
                    return Err(ScimError::ScanBusy);
                }
            };
        self.metrics.scim_scan("run");
        let deadline = Deadline::after(self.timeout);
        let (tx, rx) = tokio::sync::oneshot::channel();
        // Request-scoped: one scan, bounded by `deadline`, awaited below.
        std::thread::Builder::new()
            .name("scim-scan".into())
            .spawn(move || {
                lower_priority();
                hold::checkpoint(hold.as_deref());
                let out = work(&deadline);
                // Free before answering: the caller's next scan must find it free.
                drop(slot);
                // The listing may have gone (client closed): nothing to answer then.
                let _ = tx.send(out);
            })
            .map_err(|e| ScimError::Internal(Box::new(e)))?;
        let outcome = rx.await.map_err(|e| ScimError::Internal(Box::new(e)))?;
        if let Err(ScimError::ScanTimedOut(_)) = &outcome {
            self.metrics.scim_scan("timed_out");
            tracing::warn!("SCIM scan stopped at its deadline");
        }
        outcome
    }
}

/// Gives the calling thread the lowest scheduling priority. On Linux that is the
/// `SCHED_IDLE` policy: a proxy worker that wakes up preempts an idle-policy thread at
/// once, where a nice-19 thread would keep the core for the rest of its time slice
/// (about a millisecond more of proxy latency under EEVDF). Elsewhere, or if Linux
/// refuses, nice 19 (per thread on Linux). Best effort: a scan runs anyway if the
/// system refuses both.
pub(super) fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        leave_first_cpu();
        use thread_priority::unix::{
            set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
            ThreadSchedulePolicy,
        };
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        match set_thread_priority_and_policy(
            thread_native_id(),
            thread_priority::ThreadPriority::Min,
            idle,
        ) {
            Ok(()) => return,
            Err(e) => tracing::debug!(error = ?e, "no idle scheduling policy for the scan thread"),
        }
    }
    #[cfg(unix)]
    if let Err(e) = rustix::process::setpriority_process(None, 19) {
        tracing::debug!(error = %e, "could not lower the scan thread's priority");
    }
}

/// Keeps the calling thread off the first CPU it may run on, when it may run on two or
/// more: the SCIM pools then share the other CPUs, and one CPU never runs SCIM work at
/// all. Even at the idle policy, a scan or page thread on every CPU costs the proxy a
/// preemption (and the cache the scan has just filled) at each of its wake-ups; measured
/// with `bench/hostile scim`, leaving one CPU to the proxy roughly halves its p99 under
/// SCIM load on two cores. Best effort, like the priority.
#[cfg(target_os = "linux")]
fn leave_first_cpu() {
    use rustix::thread::{sched_getaffinity, sched_setaffinity};
    let Ok(mut cpus) = sched_getaffinity(None) else {
        return;
    };
    if cpus.count() < 2 {
        return;
    }
    if let Some(first) = (0..rustix::thread::CpuSet::MAX_CPU).find(|c| cpus.is_set(*c)) {
        cpus.unset(first);
        if let Err(e) = sched_setaffinity(None, &cpus) {
            tracing::debug!(error = %e, "could not move the SCIM thread off the first CPU");
        }
    }
}

pub(super) use hold::checkpoint;
pub use hold::ScanHold;

/// A test hook: holds scans (and listings on the page pool) whose filter contains a
/// marker in flight until released, so that tests can saturate the scan slots and the
/// page threads without depending on timing. Inert (one
/// atomic load per scan) unless a test registers a marker.
mod hold {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use parking_lot::{Condvar, Mutex};

    static ACTIVE: AtomicUsize = AtomicUsize::new(0);
    static HOLDS: Mutex<Vec<Arc<Shared>>> = Mutex::new(Vec::new());

    struct Shared {
        marker: String,
        released: Mutex<bool>,
        wake: Condvar,
        entered: tokio::sync::watch::Sender<usize>,
    }

    /// Holds every scan whose filter contains `marker` until dropped or released.
    #[doc(hidden)]
    pub struct ScanHold {
        shared: Arc<Shared>,
        entered: tokio::sync::watch::Receiver<usize>,
    }

    impl ScanHold {
        pub fn new(marker: &str) -> Self {
            let (tx, rx) = tokio::sync::watch::channel(0);
            let shared = Arc::new(Shared {
                marker: marker.to_owned(),
                released: Mutex::new(false),
                wake: Condvar::new(),
                entered: tx,
            });
            HOLDS.lock().push(shared.clone());
            ACTIVE.fetch_add(1, Ordering::SeqCst);
            ScanHold {
                shared,
                entered: rx,
            }
        }

        /// Waits until `n` scans are held.
        pub async fn held(&mut self, n: usize) {
            let _ = self.entered.wait_for(|c| *c >= n).await;
        }

        /// Lets every held scan (and later ones) go on.
        pub fn release(&self) {
            *self.shared.released.lock() = true;
            self.shared.wake.notify_all();
        }
    }

    impl Drop for ScanHold {
        fn drop(&mut self) {
            self.release();
            HOLDS.lock().retain(|h| !Arc::ptr_eq(h, &self.shared));
            ACTIVE.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Blocks while a hold whose marker `filter` contains is in place.
    pub(in crate::scim) fn checkpoint(filter: Option<&str>) {
        if ACTIVE.load(Ordering::SeqCst) == 0 {
            return;
        }
        let Some(filter) = filter else { return };
        let found = HOLDS
            .lock()
            .iter()
            .find(|h| filter.contains(h.marker.as_str()))
            .cloned();
        let Some(h) = found else { return };
        h.entered.send_modify(|c| *c += 1);
        let mut released = h.released.lock();
        while !*released {
            h.wake.wait(&mut released);
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    #[test]
    fn a_passed_deadline_stops_the_scan_at_its_next_check() {
        let d = Deadline::after(Duration::ZERO);
        assert!(matches!(d.tick(), Err(ScimError::ScanTimedOut(1))));
        let d = Deadline::after(Duration::from_secs(3600));
        for _ in 0..1000 {
            assert!(d.tick().is_ok());
        }
        let none = Deadline::none();
        assert!((0..1000).all(|_| none.tick().is_ok()));
    }

    #[tokio::test]
    async fn a_timed_out_scan_is_counted_and_answered_too_many() {
        let metrics = Arc::new(Metrics::new());
        let cfg = ScimConfig {
            scan_timeout: Duration::ZERO,
            ..ScimConfig::default()
        };
        let scans = Scans::new(&cfg, metrics.clone());
        let out = scans
            .run(None, |deadline| {
                for _ in 0..10 {
                    deadline.tick()?;
                }
                Ok(())
            })
            .await;
        let err = out.expect_err("past its deadline");
        assert_eq!(err.status(), axum::http::StatusCode::BAD_REQUEST);
        assert_eq!(
            err.scim_type(),
            Some(super::super::scim_type::ScimType::TooMany)
        );
        let text = metrics.render().unwrap();
        assert!(
            text.contains("scimgate_scim_scans_total{outcome=\"timed_out\"} 1"),
            "{text}"
        );
    }

    /// The calling thread's scheduling policy, from `/proc/thread-self/stat` (field 41).
    pub(in crate::scim) fn own_policy() -> u32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        // The name (field 2) may hold spaces: count from the `)` that closes it.
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        after_name.split(' ').nth(41 - 3).unwrap().parse().unwrap()
    }

    /// `SCHED_IDLE` in Linux's numbering.
    pub(in crate::scim) const SCHED_IDLE: u32 = 5;

    /// The CPUs the calling thread may run on.
    #[cfg(target_os = "linux")]
    pub(in crate::scim) fn own_cpus() -> Vec<usize> {
        let set = rustix::thread::sched_getaffinity(None).unwrap();
        (0..rustix::thread::CpuSet::MAX_CPU)
            .filter(|c| set.is_set(*c))
            .collect()
    }

    /// The CPUs a SCIM pool thread started by a caller on `caller` may use: all but the
    /// first, when there are two or more.
    #[cfg(target_os = "linux")]
    pub(in crate::scim) fn background_cpus(caller: &[usize]) -> Vec<usize> {
        match caller {
            [_, rest @ ..] if !rest.is_empty() => rest.to_vec(),
            all => all.to_vec(),
        }
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn scans_run_on_threads_with_the_idle_scheduling_policy_off_the_first_cpu() {
        let scans = Scans::new(&ScimConfig::default(), Arc::new(Metrics::new()));
        let (policy, cpus) = scans
            .run(None, |_| Ok((own_policy(), own_cpus())))
            .await
            .unwrap();
        assert_eq!(policy, SCHED_IDLE);
        assert_ne!(own_policy(), SCHED_IDLE, "the caller keeps its own policy");
        let caller = own_cpus();
        assert_eq!(
            cpus,
            background_cpus(&caller),
            "the caller may use {caller:?}"
        );
        if caller.len() >= 2 {
            assert!(!cpus.contains(&caller[0]));
        }
    }
}
