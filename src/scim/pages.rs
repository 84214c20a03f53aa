//! The page pool: SCIM work that an index bounds but that still grows with a page or a
//! group (rendering a listing page or a large group, writing its JSON text, parsing a
//! large request body) runs here, on a few threads at the lowest scheduling priority,
//! never on the async workers that serve the proxy. A burst of cheap listings then
//! waits for spare CPU instead of queueing the proxy's requests behind it.
//!
//! The pool has `scim.page_threads` threads, each with at most one job in flight; a job
//! that finds every thread busy waits `scim.scan_queue_wait_ms`, then is refused with
//! 503 and `Retry-After` (counted as a refused scan). The threads are started on first
//! use and end with the server (when the pool is dropped). Scans that walk the
//! directory have their own slots ([`super::scan`]).

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Semaphore;

use super::ScimError;
use crate::config::ScimConfig;
use crate::metrics::Metrics;

type Job = Box<dyn FnOnce() + Send>;

/// The pool of one server.
pub(crate) struct Pages {
    slots: Arc<Semaphore>,
    queue_wait: Duration,
    metrics: Arc<Metrics>,
    threads: usize,
    started: Mutex<usize>,
    tx: mpsc::Sender<Job>,
    rx: Arc<Mutex<mpsc::Receiver<Job>>>,
}

impl Pages {
    pub(crate) fn new(cfg: &ScimConfig, metrics: Arc<Metrics>) -> Self {
        let threads = cfg.page_threads.max(1);
        let (tx, rx) = mpsc::channel();
        Pages {
            slots: Arc::new(Semaphore::new(threads)),
            queue_wait: cfg.scan_queue_wait,
            metrics,
            threads,
            started: Mutex::new(0),
            tx,
            rx: Arc::new(Mutex::new(rx)),
        }
    }

    /// Runs `work` on a pool thread once one is free; `hold` names the work for
    /// [`super::ScanHold`] (a listing's filter).
    pub(crate) async fn run<T, F>(&self, hold: Option<String>, work: F) -> Result<T, ScimError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, ScimError> + Send + 'static,
    {
        let slot =
            match tokio::time::timeout(self.queue_wait, self.slots.clone().acquire_owned()).await {
                Ok(Ok(slot)) => slot,
                _ => {
                    self.metrics.scim_scan("refused");
                    tracing::debug!("SCIM listing refused: every page thread is busy");
                    return Err(ScimError::ScanBusy);
                }
            };
        self.start_thread()?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            super::scan::checkpoint(hold.as_deref());
            let out = work();
            // Free before answering: the caller's next job must find it free.
            drop(slot);
            // The listing may have gone (client closed): nothing to answer then.
            let _ = tx.send(out);
        });
        self.tx
            .send(job)
            .map_err(|_| ScimError::Internal("the page pool has stopped".into()))?;
        rx.await.map_err(|e| ScimError::Internal(Box::new(e)))?
    }

    /// Starts one more thread while there are fewer than the pool's size: with one
    /// job per slot, a job never waits for a thread.
    fn start_thread(&self) -> Result<(), ScimError> {
        let mut started = self.started.lock();
        if *started >= self.threads {
            return Ok(());
        }
        let rx = self.rx.clone();
        // A pool thread, outside the shutdown tree: it ends when the pool (owned by
        // the SCIM state, dropped with the listener's router) is dropped.
        std::thread::Builder::new()
            .name("scim-pages".into())
            .spawn(move || {
                super::scan::lower_priority();
                loop {
                    // Ends when the pool (the only sender) is dropped.
                    let Ok(job) = rx.lock().recv() else { return };
                    // A panicking job loses its answer (the caller sees an internal
                    // error), not the thread.
                    if std::panic::catch_unwind(AssertUnwindSafe(job)).is_err() {
                        tracing::error!("a SCIM page job panicked");
                    }
                }
            })
            .map_err(|e| ScimError::Internal(Box::new(e)))?;
        *started += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_off_the_calling_thread_and_a_panic_is_an_error() {
        let pages = Pages::new(&ScimConfig::default(), Arc::new(Metrics::new()));
        let caller = std::thread::current().id();
        let ran_on = pages
            .run(None, || Ok(std::thread::current().id()))
            .await
            .expect("ran");
        assert_ne!(ran_on, caller);
        let out = pages.run::<(), _>(None, || panic!("boom")).await;
        assert!(matches!(out, Err(ScimError::Internal(_))));
        // The pool still works after a panic.
        assert_eq!(pages.run(None, || Ok(7)).await.expect("ran"), 7);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn jobs_run_on_threads_with_the_idle_scheduling_policy_off_the_first_cpu() {
        use crate::scim::scan::tests::{background_cpus, own_cpus, own_policy, SCHED_IDLE};
        let pages = Pages::new(&ScimConfig::default(), Arc::new(Metrics::new()));
        let (policy, cpus) = pages
            .run(None, || Ok((own_policy(), own_cpus())))
            .await
            .expect("ran");
        assert_eq!(policy, SCHED_IDLE);
        assert_eq!(cpus, background_cpus(&own_cpus()));
    }

    #[tokio::test]
    async fn a_busy_pool_refuses_after_the_queue_wait() {
        let metrics = Arc::new(Metrics::new());
        let cfg = ScimConfig {
            scan_queue_wait: Duration::from_millis(1),
            ..ScimConfig::default()
        };
        let pages = Arc::new(Pages::new(&cfg, metrics.clone()));
        let gate = Arc::new(std::sync::Barrier::new(pages.threads + 1));
        let mut held = Vec::new();
        for _ in 0..pages.threads {
            let (p, g) = (pages.clone(), gate.clone());
            held.push(tokio::spawn(async move {
                p.run(None, move || {
                    g.wait();
                    Ok(())
                })
                .await
            }));
        }
        // Every slot is taken once all jobs are queued: wait for the slots, not a time.
        while pages.slots.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let refused = pages.run(None, || Ok(())).await;
        assert!(matches!(refused, Err(ScimError::ScanBusy)));
        gate.wait();
        for h in held {
            h.await.expect("joined").expect("ran");
        }
        let text = metrics.render().expect("rendered");
        assert!(
            text.contains("scimgate_scim_scans_total{outcome=\"refused\"} 1"),
            "{text}"
        );
    }
}
